use super::super::{ENV_VARS, Policy, PolicyError};
use super::*;
use std::collections::HashMap;

fn from_vars(vars: &[(&str, &str)]) -> Result<Policy, PolicyError> {
    let map: HashMap<String, String> = vars
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    Policy::from_lookup(|name| map.get(name).cloned())
}

fn err_key(e: PolicyError) -> String {
    match e {
        PolicyError::Invalid { key, .. } => key,
        PolicyError::File(m) => m,
    }
}

const FROM: &str = "Contoso IT <it@contoso.com>";

#[test]
fn every_bootstrap_variable_is_in_the_policy_list() {
    for name in [
        ENV_BOOTSTRAP,
        ENV_BOOTSTRAP_DELIVERY,
        ENV_BOOTSTRAP_EMAIL_FROM,
        ENV_BOOTSTRAP_SES_CONFIGURATION_SET,
        ENV_BOOTSTRAP_SMS_SENDER_ID,
        ENV_BOOTSTRAP_SMS_ORIGINATION_NUMBER,
    ] {
        assert!(ENV_VARS.contains(&name), "{name}");
    }
}

#[test]
fn nothing_configured_means_off_for_want_of_a_channel() {
    let p = from_vars(&[]).unwrap();
    assert_eq!(p.bootstrap, BootstrapPolicy::default());
    assert_eq!(
        p.bootstrap_effect(),
        BootstrapEffect::Off(BootstrapOff::NoDeliveryChannel)
    );
    assert!(!p.bootstrap_effect().is_on());
}

#[test]
fn a_channel_alone_turns_on_when_no_usable_method() {
    let p = from_vars(&[(ENV_BOOTSTRAP_DELIVERY, "mobile-sms")]).unwrap();
    assert_eq!(
        p.bootstrap_effect(),
        BootstrapEffect::On {
            mode: BootstrapMode::WhenNoUsableMethod,
            delivery: BootstrapDelivery::MobileSms
        }
    );
    let p = from_vars(&[
        (ENV_BOOTSTRAP_DELIVERY, "manager-email-then-sms"),
        (ENV_BOOTSTRAP_EMAIL_FROM, FROM),
    ])
    .unwrap();
    assert_eq!(
        p.bootstrap_effect(),
        BootstrapEffect::On {
            mode: BootstrapMode::WhenNoUsableMethod,
            delivery: BootstrapDelivery::ManagerEmailThenSms
        }
    );
}

#[test]
fn explicit_off_wins_over_a_configured_channel() {
    let p = from_vars(&[
        (ENV_BOOTSTRAP, "off"),
        (ENV_BOOTSTRAP_DELIVERY, "manager-email"),
        (ENV_BOOTSTRAP_EMAIL_FROM, "it@contoso.com"),
    ])
    .unwrap();
    assert_eq!(
        p.bootstrap_effect(),
        BootstrapEffect::Off(BootstrapOff::SetOff)
    );
}

#[test]
fn explicit_mode_is_kept() {
    let p = from_vars(&[
        (ENV_BOOTSTRAP, "always-for-new-users"),
        (ENV_BOOTSTRAP_DELIVERY, "mobile-sms"),
        (ENV_BOOTSTRAP_SMS_SENDER_ID, "ContosoIT"),
        (ENV_BOOTSTRAP_SMS_ORIGINATION_NUMBER, "+15555550100"),
    ])
    .unwrap();
    assert_eq!(
        p.bootstrap_effect(),
        BootstrapEffect::On {
            mode: BootstrapMode::AlwaysForNewUsers,
            delivery: BootstrapDelivery::MobileSms
        }
    );
    assert_eq!(p.bootstrap.sms_sender_id.as_deref(), Some("ContosoIT"));
}

#[test]
fn bootstrap_asked_for_without_a_channel_is_an_error_naming_bootstrap() {
    let err = from_vars(&[(ENV_BOOTSTRAP, "when-no-usable-method")]).unwrap_err();
    assert!(err.to_string().contains(ENV_BOOTSTRAP_DELIVERY), "{err}");
    assert_eq!(err_key(err), ENV_BOOTSTRAP);
}

#[test]
fn email_without_a_sender_is_an_error_naming_the_delivery_key() {
    for d in ["manager-email", "manager-email-then-sms"] {
        let err = from_vars(&[(ENV_BOOTSTRAP_DELIVERY, d)]).unwrap_err();
        assert!(err.to_string().contains(ENV_BOOTSTRAP_EMAIL_FROM), "{err}");
        assert_eq!(err_key(err), ENV_BOOTSTRAP_DELIVERY);
    }
}

#[test]
fn bad_values_name_their_key() {
    let cases = [
        (ENV_BOOTSTRAP, "on"),
        (ENV_BOOTSTRAP_DELIVERY, "email"),
        (ENV_BOOTSTRAP_EMAIL_FROM, "it"),
        (ENV_BOOTSTRAP_EMAIL_FROM, "it@contoso"),
        (ENV_BOOTSTRAP_EMAIL_FROM, "it@contoso.com, hr@contoso.com"),
        (ENV_BOOTSTRAP_EMAIL_FROM, "Contoso <it@contoso.com"),
        (ENV_BOOTSTRAP_EMAIL_FROM, "it@bücher.de"),
        (ENV_BOOTSTRAP_SES_CONFIGURATION_SET, "has space"),
        (ENV_BOOTSTRAP_SMS_SENDER_ID, "Contoso IT"),
        (ENV_BOOTSTRAP_SMS_SENDER_ID, "ContosoITDept"),
        (ENV_BOOTSTRAP_SMS_SENDER_ID, "12345"),
        (ENV_BOOTSTRAP_SMS_ORIGINATION_NUMBER, "0612345678"),
        (ENV_BOOTSTRAP_SMS_ORIGINATION_NUMBER, "+31 6 1234 5678"),
    ];
    for (key, value) in cases {
        let err = from_vars(&[(ENV_BOOTSTRAP_DELIVERY, "mobile-sms"), (key, value)]).unwrap_err();
        assert_eq!(err_key(err), key, "{key}={value}");
    }
}

#[test]
fn an_origination_number_error_does_not_repeat_the_number() {
    let err = from_vars(&[(ENV_BOOTSTRAP_SMS_ORIGINATION_NUMBER, "0612345678")]).unwrap_err();
    assert!(!err.to_string().contains("12345678"), "{err}");
}

#[test]
fn toml_keys_are_read_and_errors_name_them() {
    let p = Policy::from_toml_str(
        "bootstrap = \"when-no-usable-method\"\n\
         bootstrap_delivery = \"manager-email\"\n\
         bootstrap_email_from = \"it@contoso.com\"\n\
         bootstrap_ses_configuration_set = \"autoenroll-events\"\n",
    )
    .unwrap();
    assert_eq!(p.bootstrap.email_from.as_deref(), Some("it@contoso.com"));
    assert_eq!(
        p.bootstrap.ses_configuration_set.as_deref(),
        Some("autoenroll-events")
    );
    assert!(p.bootstrap_effect().is_on());
    let err = Policy::from_toml_str("bootstrap_delivery = \"fax\"\n").unwrap_err();
    assert_eq!(err_key(err), "bootstrap_delivery");
}

#[test]
fn the_example_file_with_its_bootstrap_lines_uncommented_parses() {
    let text = include_str!("../../../autoenroll.example.toml");
    let uncommented: String = text
        .lines()
        .map(|l| {
            l.strip_prefix("# ")
                .filter(|r| r.starts_with("bootstrap"))
                .unwrap_or(l)
        })
        .collect::<Vec<_>>()
        .join("\n");
    assert_ne!(uncommented, text);
    let p = Policy::from_toml_str(&uncommented).unwrap();
    assert_eq!(
        p.bootstrap.delivery,
        Some(BootstrapDelivery::ManagerEmailThenSms)
    );
    assert_eq!(
        p.bootstrap.sms_origination_number.as_deref(),
        Some("+15555550100")
    );
    assert!(p.bootstrap_effect().is_on());
}

#[test]
fn a_hand_built_policy_missing_the_sender_is_off_not_on() {
    let p = Policy {
        bootstrap: BootstrapPolicy {
            delivery: Some(BootstrapDelivery::ManagerEmail),
            ..BootstrapPolicy::default()
        },
        ..Policy::default()
    };
    assert_eq!(
        p.bootstrap_effect(),
        BootstrapEffect::Off(BootstrapOff::NoEmailSender)
    );
}

#[test]
fn modes_and_deliveries_round_trip_through_their_text() {
    for m in [
        BootstrapMode::Off,
        BootstrapMode::WhenNoUsableMethod,
        BootstrapMode::AlwaysForNewUsers,
    ] {
        assert_eq!(m.to_string().parse::<BootstrapMode>(), Ok(m));
    }
    for d in [
        BootstrapDelivery::ManagerEmail,
        BootstrapDelivery::MobileSms,
        BootstrapDelivery::ManagerEmailThenSms,
    ] {
        assert_eq!(d.to_string().parse::<BootstrapDelivery>(), Ok(d));
    }
}
