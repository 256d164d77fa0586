use super::*;
use autoenroll_graph::model::methods_policy::{MethodState, TelecomProviderSettings};
use time::macros::datetime;

const USER: &str = "6e7b768e-07e2-4810-8459-485f84f8f204";
const GROUP: &str = "aaaaaaaa-0000-4000-8000-000000000001";
const GA_ROLE: &str = "dddddddd-0000-4000-8000-000000000004";

const BEFORE: OffsetDateTime = datetime!(2027-01-31 23:59 UTC);
const AFTER: OffsetDateTime = datetime!(2027-02-01 00:00 UTC);
const AFTER_LATE: OffsetDateTime = datetime!(2027-07-01 00:00 UTC);

fn config(id: &str, include: &[&str], exclude: &[&str]) -> MethodConfiguration {
    MethodConfiguration {
        id: id.into(),
        state: Some(MethodState::Enabled),
        include_targets: Some(include.iter().map(|i| MethodTarget::group(i)).collect()),
        exclude_targets: Some(exclude.iter().map(|i| MethodTarget::group(i)).collect()),
        ..MethodConfiguration::default()
    }
}

fn provider(evaluation: bool, percentage: u8) -> Option<Option<TelecomProviderSettings>> {
    Some(Some(TelecomProviderSettings {
        url: "https://router.example/api".into(),
        app_id: "8c1f4e2a-6b3d-4f7a-9e21-0d5c7b3a4e66".into(),
        is_evaluation_mode_enabled: evaluation,
        migration_percentage: percentage,
    }))
}

/// A migrated tenant with SMS and voice for everyone and the given provider on both.
fn tenant(sms: MethodConfiguration, voice: MethodConfiguration) -> TenantMethods {
    let policy = AuthenticationMethodsPolicy {
        policy_migration_state: Some(PolicyMigrationState::MigrationComplete),
        authentication_method_configurations: vec![
            sms,
            voice,
            config("TemporaryAccessPass", &[GROUP], &[]),
        ],
        ..AuthenticationMethodsPolicy::default()
    };
    TenantMethods::from_policy(&policy, Some(GA_ROLE.to_uppercase()))
}

fn with_provider(p: Option<Option<TelecomProviderSettings>>) -> TenantMethods {
    let mut sms = config("Sms", &["all_users"], &[]);
    sms.telecom_provider_settings = p.clone();
    let mut voice = config("Voice", &["all_users"], &[]);
    voice.telecom_provider_settings = p;
    tenant(sms, voice)
}

fn facts<'a>(member_of: &'a [String], upn: &'a str) -> UserFacts<'a> {
    UserFacts {
        user_id: USER,
        member_of,
        user_principal_name: Some(upn),
    }
}

#[test]
fn delivery_by_provider_and_date() {
    let none: Vec<String> = vec![];
    let ga = vec![GA_ROLE.to_owned()];
    let member = "anna@contoso.com";
    let external = "guest_fabrikam.com#EXT#@contoso.onmicrosoft.com";
    /// (situation, tenant, memberships, UPN, when, delivered)
    type Case<'a> = (
        &'a str,
        TenantMethods,
        &'a [String],
        &'a str,
        OffsetDateTime,
        bool,
    );
    let cases: &[Case] = &[
        (
            "no provider, before",
            with_provider(None),
            &none,
            member,
            BEFORE,
            true,
        ),
        (
            "no provider, after (retired)",
            with_provider(None),
            &none,
            member,
            AFTER,
            false,
        ),
        (
            "production provider, after",
            with_provider(provider(false, 100)),
            &none,
            member,
            AFTER,
            true,
        ),
        (
            "provider in evaluation, before",
            with_provider(provider(true, 100)),
            &none,
            member,
            BEFORE,
            true,
        ),
        (
            "provider in evaluation, after",
            with_provider(provider(true, 100)),
            &none,
            member,
            AFTER,
            false,
        ),
        (
            "provider at 50 %, after",
            with_provider(provider(false, 50)),
            &none,
            member,
            AFTER,
            false,
        ),
        (
            "Global Administrator, after February",
            with_provider(None),
            &ga,
            member,
            AFTER,
            true,
        ),
        (
            "Global Administrator, after July",
            with_provider(None),
            &ga,
            member,
            AFTER_LATE,
            false,
        ),
        (
            "external user, after February",
            with_provider(None),
            &none,
            external,
            AFTER,
            true,
        ),
        (
            "external user, after July",
            with_provider(None),
            &none,
            external,
            AFTER_LATE,
            false,
        ),
    ];
    for (name, t, member_of, upn, now, delivered) in cases {
        let got = t.phone_delivery(TelephonySetting::Auto, &facts(member_of, upn), *now);
        assert_eq!(got.sms, *delivered, "{name}: sms");
        assert_eq!(got.voice, *delivered, "{name}: voice");
    }
}

#[test]
fn a_user_the_method_policy_does_not_target_gets_nothing_once_migrated() {
    let t = tenant(
        config("Sms", &[GROUP], &[]),
        config("Voice", &["all_users"], &[GROUP]),
    );
    let outside: Vec<String> = vec![];
    let inside = vec![GROUP.to_owned()];
    let got = t.phone_delivery(TelephonySetting::Auto, &facts(&outside, "a@c.com"), BEFORE);
    assert_eq!(
        got,
        PhoneDelivery {
            sms: false,
            voice: true
        }
    );
    let got = t.phone_delivery(TelephonySetting::Auto, &facts(&inside, "a@c.com"), BEFORE);
    assert_eq!(
        got,
        PhoneDelivery {
            sms: true,
            voice: false
        },
        "exclude wins"
    );
    let mut disabled = config("Sms", &["all_users"], &[]);
    disabled.state = Some(MethodState::Disabled);
    let t = tenant(disabled, config("Voice", &["all_users"], &[]));
    assert!(
        !t.phone_delivery(TelephonySetting::Auto, &facts(&outside, "a@c.com"), BEFORE)
            .sms
    );
}

#[test]
fn before_migration_the_legacy_settings_may_enable_an_untargeted_user() {
    let policy = AuthenticationMethodsPolicy {
        policy_migration_state: Some(PolicyMigrationState::PreMigration),
        authentication_method_configurations: vec![config("Sms", &[GROUP], &[])],
        ..AuthenticationMethodsPolicy::default()
    };
    let t = TenantMethods::from_policy(&policy, None);
    let none: Vec<String> = vec![];
    assert_eq!(
        t.phone_delivery(TelephonySetting::Auto, &facts(&none, "a@c.com"), BEFORE),
        PhoneDelivery::ALL
    );
    assert_eq!(
        t.phone_delivery(TelephonySetting::Auto, &facts(&none, "a@c.com"), AFTER),
        PhoneDelivery::NONE
    );
}

#[test]
fn an_unread_policy_leaves_the_dates_and_the_setting_overrides_everything() {
    let none: Vec<String> = vec![];
    let t = TenantMethods::unread();
    let f = facts(&none, "a@c.com");
    assert_eq!(
        t.phone_delivery(TelephonySetting::Auto, &f, BEFORE),
        PhoneDelivery::ALL
    );
    assert_eq!(
        t.phone_delivery(TelephonySetting::Auto, &f, AFTER),
        PhoneDelivery::NONE
    );
    assert_eq!(
        t.phone_delivery(TelephonySetting::Available, &f, AFTER),
        PhoneDelivery::ALL
    );
    let retired = with_provider(provider(false, 100));
    assert_eq!(
        retired.phone_delivery(TelephonySetting::Unavailable, &f, BEFORE),
        PhoneDelivery::NONE
    );
    assert!(t.tap_for(&f).is_none(), "no TAP policy read, no pass");
}

#[test]
fn tap_targets_membership_ids_and_lifetime_bounds() {
    let t = with_provider(None);
    let none: Vec<String> = vec![];
    let inside = vec![GROUP.to_owned()];
    assert!(t.tap_for(&facts(&none, "a@c.com")).is_none());
    let tap = t.tap_for(&facts(&inside, "a@c.com")).expect("targeted");
    assert_eq!(
        (tap.lifetime(30), tap.lifetime(240), tap.lifetime(9999)),
        (60, 240, 480)
    );
    assert_eq!(
        t.membership_ids(),
        vec![GROUP.to_owned(), GA_ROLE.to_owned()]
    );
    assert_eq!("unavailable".parse(), Ok(TelephonySetting::Unavailable));
    assert!("maybe".parse::<TelephonySetting>().is_err());
}
