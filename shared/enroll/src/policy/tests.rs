use super::*;
use std::collections::HashMap;

const GROUP_A: &str = "5c0f8f6e-2d43-4c2e-9a9f-1b2d3e4f5a6b";
const GROUP_B: &str = "11111111-2222-4333-8444-555555555555";

fn from_vars(vars: &[(&str, &str)]) -> Result<Policy, PolicyError> {
    let map: HashMap<String, String> = vars
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    Policy::from_lookup(|name| map.get(name).cloned())
}

fn key_of(e: PolicyError) -> String {
    match e {
        PolicyError::Invalid { key, .. } => key,
        PolicyError::File(m) => m,
    }
}

#[test]
fn nothing_set_gives_the_safe_defaults() {
    let p = from_vars(&[]).unwrap();
    assert_eq!(p, Policy::default());
    assert_eq!(p.default_region, None);
    assert_eq!(p.mfa_mode, MfaMode::PerUserEnabled);
    assert!(p.set_sms_default);
    assert_eq!(p.sms_default(), SmsDefault::WhenEffective);
    assert!(!p.include_guests);
    assert!(!p.office_fallback);
    assert_eq!(p.on_number_change, NumberChangePolicy::UpdateManaged);
}

#[test]
fn every_environment_variable_is_read() {
    let p = from_vars(&[
        (ENV_DEFAULT_REGION, "nl"),
        (ENV_MFA_MODE, &format!("group:{}", GROUP_B.to_uppercase())),
        (ENV_SET_SMS_DEFAULT, "FALSE"),
        (
            ENV_EXCLUDED_UPNS,
            " BreakGlass@Contoso.com , sa@contoso.com,",
        ),
        (ENV_EXCLUDED_GROUPS, GROUP_A),
        (ENV_SCOPE_GROUPS, &format!("{GROUP_A},{GROUP_B}")),
        (ENV_INCLUDE_GUESTS, "true"),
        (ENV_ON_NUMBER_CHANGE, "report-only"),
        (ENV_OFFICE_FALLBACK, "true"),
    ])
    .unwrap();
    assert_eq!(p.default_region.map(|r| r.as_str()), Some("NL".to_owned()));
    assert_eq!(p.mfa_mode, MfaMode::Group(GROUP_B.to_owned()));
    assert!(!p.set_sms_default);
    assert_eq!(
        p.excluded_upns.iter().cloned().collect::<Vec<_>>(),
        vec!["breakglass@contoso.com", "sa@contoso.com"]
    );
    assert!(p.excluded_groups.contains(GROUP_A));
    assert_eq!(p.scope_groups.len(), 2);
    assert!(p.include_guests);
    assert_eq!(p.on_number_change, NumberChangePolicy::ReportOnly);
    assert!(p.office_fallback);
}

#[test]
fn env_var_list_is_exactly_the_architecture_table() {
    let mut names = ENV_VARS.to_vec();
    names.sort_unstable();
    names.dedup();
    assert_eq!(names.len(), ENV_VARS.len(), "no name twice");
    assert!(names.iter().all(|n| n.starts_with("AUTOENROLL_POLICY_")));
    let architecture = include_str!("../../../../ARCHITECTURE.md");
    let table: Vec<&str> = architecture
        .lines()
        .filter_map(|l| l.strip_prefix("| `AUTOENROLL_POLICY_"))
        .filter_map(|l| l.split('`').next())
        .collect();
    let mut documented: Vec<String> = table
        .iter()
        .map(|n| format!("AUTOENROLL_POLICY_{n}"))
        .collect();
    documented.sort_unstable();
    assert_eq!(names, documented);
}

#[test]
fn empty_variables_take_the_default() {
    let p = from_vars(&[(ENV_MFA_MODE, ""), (ENV_SET_SMS_DEFAULT, "  ")]).unwrap();
    assert_eq!(p, Policy::default());
}

#[test]
fn bad_environment_values_name_the_variable() {
    let cases = [
        (ENV_DEFAULT_REGION, "Netherlands"),
        (ENV_DEFAULT_REGION, "ZZ"),
        (ENV_MFA_MODE, "enabled"),
        (ENV_MFA_MODE, "group:ca-mfa-users"),
        (ENV_SET_SMS_DEFAULT, "yes"),
        (ENV_EXCLUDED_UPNS, "breakglass"),
        (ENV_EXCLUDED_GROUPS, "Break Glass"),
        (ENV_SCOPE_GROUPS, "{5c0f8f6e-2d43-4c2e-9a9f-1b2d3e4f5a6b}"),
        (ENV_INCLUDE_GUESTS, "1"),
        (ENV_ON_NUMBER_CHANGE, "update"),
        (ENV_OFFICE_FALLBACK, "on"),
    ];
    for (key, value) in cases {
        let err = from_vars(&[(key, value)]).unwrap_err();
        assert_eq!(key_of(err), key, "{key}={value}");
    }
}

#[test]
fn mfa_group_that_is_also_excluded_is_refused() {
    let err = from_vars(&[
        (ENV_MFA_MODE, &format!("group:{GROUP_A}")),
        (ENV_EXCLUDED_GROUPS, GROUP_A),
    ])
    .unwrap_err();
    assert_eq!(key_of(err), ENV_MFA_MODE);
}

#[test]
fn example_file_shipped_with_the_crate_parses() {
    let text = include_str!("../../autoenroll.example.toml");
    let p = Policy::from_toml_str(text).unwrap();
    assert_eq!(p.default_region.map(|r| r.as_str()), Some("NL".to_owned()));
    assert_eq!(p.excluded_upns.len(), 2);
    assert_eq!(p.excluded_groups.len(), 1);
}

#[test]
fn unknown_key_in_file_is_an_error_naming_it() {
    let err = Policy::from_toml_str("mfa_mod = \"none\"\n").unwrap_err();
    assert!(
        matches!(&err, PolicyError::File(m) if m.contains("mfa_mod")),
        "{err}"
    );
}

#[test]
fn wrongly_typed_file_value_is_an_error_naming_the_key() {
    let err = Policy::from_toml_str("include_guests = \"yes\"\n").unwrap_err();
    assert!(
        matches!(&err, PolicyError::File(m) if m.contains("include_guests")),
        "{err}"
    );
    // set_sms_default takes a word or the old boolean; anything else names the key.
    let err = Policy::from_toml_str("set_sms_default = \"yes\"\n").unwrap_err();
    assert!(
        matches!(&err, PolicyError::Invalid { key, .. } if key == "set_sms_default"),
        "{err}"
    );
    let err = Policy::from_toml_str("set_sms_default = 1\n").unwrap_err();
    assert!(
        matches!(&err, PolicyError::File(m) if m.contains("set_sms_default")),
        "{err}"
    );
}

#[test]
fn set_sms_default_takes_three_words_and_the_old_booleans() {
    let cases = [
        (
            "\"when-effective\"",
            "when-effective",
            SmsDefault::WhenEffective,
        ),
        ("\"always\"", "Always", SmsDefault::Always),
        ("\"never\"", "never", SmsDefault::Never),
        // The old boolean: `true` asked for SMS as the default, which a preference Entra
        // ignores never delivered, so it means when-effective; `false` is never.
        ("true", "TRUE", SmsDefault::WhenEffective),
        ("false", "false", SmsDefault::Never),
    ];
    for (toml_value, env_value, want) in cases {
        let from_file =
            Policy::from_toml_str(&format!("set_sms_default = {toml_value}\n")).unwrap();
        assert_eq!(from_file.sms_default(), want, "toml {toml_value}");
        let from_env = from_vars(&[(ENV_SET_SMS_DEFAULT, env_value)]).unwrap();
        assert_eq!(from_env.sms_default(), want, "env {env_value}");
        assert_eq!(from_env, from_file);
        assert_eq!(want.to_string().parse::<SmsDefault>(), Ok(want));
    }
    let never = from_vars(&[(ENV_SET_SMS_DEFAULT, "never")]).unwrap();
    assert!(!never.set_sms_default && !never.sms_default_always);
    let always = from_vars(&[(ENV_SET_SMS_DEFAULT, "always")]).unwrap();
    assert!(always.set_sms_default && always.sms_default_always);
}

#[test]
fn bad_file_values_name_the_toml_key() {
    let cases = [
        ("default_region = \"XX\"", "default_region"),
        ("mfa_mode = \"always\"", "mfa_mode"),
        ("excluded_upns = [\"a b@c.d\"]", "excluded_upns"),
        ("excluded_groups = [\"x\"]", "excluded_groups"),
        ("scope_groups = [\"\"]", "scope_groups"),
        ("on_number_change = \"sometimes\"", "on_number_change"),
    ];
    for (text, key) in cases {
        assert_eq!(
            key_of(Policy::from_toml_str(text).unwrap_err()),
            key,
            "{text}"
        );
    }
}

#[test]
fn mfa_mode_round_trips_through_its_text_form() {
    for text in [
        "per-user-enabled",
        "per-user-enforced",
        "none",
        &format!("group:{GROUP_A}"),
    ] {
        assert_eq!(text.parse::<MfaMode>().unwrap().to_string(), text);
    }
}

#[test]
fn exclusion_by_upn_is_case_insensitive_and_needs_no_groups() {
    let p = from_vars(&[(ENV_EXCLUDED_UPNS, "BreakGlass@contoso.com")]).unwrap();
    assert_eq!(
        p.exclusion(Some("breakglass@CONTOSO.com"), &[]),
        Some(Exclusion::Upn)
    );
    assert_eq!(p.exclusion(Some("anna@contoso.com"), &[]), None);
    assert_eq!(p.exclusion(None, &[]), None);
}

#[test]
fn exclusion_by_group_names_the_group() {
    let p = from_vars(&[(ENV_EXCLUDED_GROUPS, GROUP_A)]).unwrap();
    let groups = vec![GROUP_B.to_owned(), GROUP_A.to_uppercase()];
    assert_eq!(
        p.exclusion(Some("anna@contoso.com"), &groups),
        Some(Exclusion::Group(GROUP_A.to_owned()))
    );
    assert!(p.needs_group_membership());
}

#[test]
fn scope_is_everyone_without_scope_groups() {
    let p = Policy::default();
    assert!(p.in_scope(&[]));
    assert!(!p.needs_group_membership());
    let scoped = from_vars(&[(ENV_SCOPE_GROUPS, GROUP_B)]).unwrap();
    assert!(!scoped.in_scope(&[GROUP_A.to_owned()]));
    assert!(scoped.in_scope(&[GROUP_B.to_uppercase()]));
}

#[test]
fn telephony_and_pass_settings_from_env_and_file_with_errors_naming_the_key() {
    let p = from_vars(&[
        (ENV_TELEPHONY, "unavailable"),
        (ENV_BOOTSTRAP_TAP_LIFETIME_MINUTES, "120"),
        (ENV_BOOTSTRAP_TAP_ONE_TIME, "false"),
        (ENV_BOOTSTRAP_TAP_REISSUES, "0"),
    ])
    .unwrap();
    assert_eq!(p.telephony, crate::telephony::TelephonySetting::Unavailable);
    assert_eq!(
        p.bootstrap.tap,
        TapSettings {
            lifetime_minutes: 120,
            one_time: false,
            reissues: 0
        }
    );
    let d = Policy::default();
    assert_eq!(d.telephony, crate::telephony::TelephonySetting::Auto);
    assert_eq!(
        d.bootstrap.tap.lifetime_minutes,
        DEFAULT_TAP_LIFETIME_MINUTES
    );
    assert!(d.bootstrap.tap.one_time);
    for (key, value) in [
        (ENV_TELEPHONY, "sometimes"),
        (ENV_BOOTSTRAP_TAP_LIFETIME_MINUTES, "5"),
        (ENV_BOOTSTRAP_TAP_LIFETIME_MINUTES, "50000"),
        (ENV_BOOTSTRAP_TAP_ONE_TIME, "yes"),
        (ENV_BOOTSTRAP_TAP_REISSUES, "11"),
    ] {
        match from_vars(&[(key, value)]) {
            Err(PolicyError::Invalid { key: k, .. }) => assert_eq!(k, key),
            other => panic!("{key}={value}: {other:?}"),
        }
    }
    let file = Policy::from_toml_str(
        "telephony = \"available\"\nbootstrap_tap_lifetime_minutes = 60\nbootstrap_tap_one_time = true\nbootstrap_tap_reissues = 3\n",
    )
    .unwrap();
    assert_eq!(
        file.telephony,
        crate::telephony::TelephonySetting::Available
    );
    assert_eq!(file.bootstrap.tap.reissues, 3);
    match Policy::from_toml_str("bootstrap_tap_reissues = 99\n") {
        Err(PolicyError::Invalid { key, .. }) => assert_eq!(key, "bootstrap_tap_reissues"),
        other => panic!("{other:?}"),
    }
}
