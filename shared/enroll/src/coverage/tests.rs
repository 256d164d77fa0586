//! The coverage decision, case by case.

use time::macros::date;

use super::*;
use crate::policy::Exclusion;

fn region() -> Option<RegionCode> {
    "NL".parse().ok()
}

struct Case {
    name: &'static str,
    methods: Vec<MethodKind>,
    excluded: Option<SkipReason>,
    global_admin: bool,
    guest: bool,
    external: bool,
    enabled: Option<bool>,
    mobile: Option<&'static str>,
    telephony: Telephony,
    today: Date,
    state: State,
    reason: Option<&'static str>,
    breaks_on: Option<Date>,
}

fn base(name: &'static str) -> Case {
    Case {
        name,
        methods: vec![],
        excluded: None,
        global_admin: false,
        guest: false,
        external: false,
        enabled: Some(true),
        mobile: Some("06 12345678"),
        telephony: Telephony::default(),
        today: date!(2026 - 12 - 06),
        state: State::Stuck,
        reason: Some("notEnrolled"),
        breaks_on: None,
    }
}

fn prod() -> Telephony {
    Telephony {
        sms_or_voice_enabled: Some(true),
        provider: Provider::Production,
    }
}

fn with_provider(provider: Provider) -> Telephony {
    Telephony {
        sms_or_voice_enabled: Some(true),
        provider,
    }
}

#[test]
fn table() {
    use MethodKind::*;
    let tap = |usable| TemporaryAccessPass { usable };
    let cases = vec![
        Case {
            methods: vec![Passkey, Phone],
            state: State::PhishingResistant,
            reason: None,
            ..base("passkey wins over phone")
        },
        Case {
            methods: vec![WindowsHello],
            state: State::PhishingResistant,
            reason: None,
            ..base("windows hello")
        },
        Case {
            methods: vec![PlatformCredential, NotMfa],
            state: State::PhishingResistant,
            reason: None,
            ..base("macOS platform credential")
        },
        Case {
            methods: vec![Authenticator, Phone],
            state: State::OtherMfa,
            reason: None,
            ..base("authenticator")
        },
        Case {
            methods: vec![SoftwareOath],
            state: State::OtherMfa,
            reason: None,
            ..base("software OATH")
        },
        Case {
            methods: vec![HardwareOath],
            state: State::OtherMfa,
            reason: None,
            ..base("hardware OATH")
        },
        Case {
            methods: vec![Passkey],
            excluded: Some(SkipReason::Excluded(Exclusion::Upn)),
            state: State::Excluded,
            reason: Some("excluded:upn"),
            ..base("excluded wins over everything")
        },
        Case {
            methods: vec![],
            excluded: Some(SkipReason::OutOfScope),
            state: State::Excluded,
            reason: Some("outOfScope"),
            ..base("out of scope")
        },
        Case {
            methods: vec![tap(true), Phone],
            state: State::BootstrapPending,
            reason: None,
            ..base("usable TAP: bootstrap pending")
        },
        Case {
            methods: vec![tap(true), Authenticator],
            state: State::OtherMfa,
            reason: None,
            ..base("TAP next to a lasting method: protected")
        },
        Case {
            methods: vec![Phone],
            state: State::SmsVoiceOnly,
            reason: None,
            breaks_on: Some(RETIREMENT),
            ..base("phone only, member: February")
        },
        Case {
            methods: vec![Phone, NotMfa],
            global_admin: true,
            state: State::SmsVoiceOnly,
            reason: None,
            breaks_on: Some(RETIREMENT_LATE),
            ..base("phone only, Global Administrator: July")
        },
        Case {
            methods: vec![Phone],
            guest: true,
            external: true,
            state: State::SmsVoiceOnly,
            reason: None,
            breaks_on: Some(RETIREMENT_LATE),
            ..base("phone only, external guest: July")
        },
        Case {
            methods: vec![Phone],
            guest: true,
            external: false,
            state: State::SmsVoiceOnly,
            reason: None,
            breaks_on: Some(RETIREMENT),
            ..base("phone only, internal guest: February")
        },
        Case {
            methods: vec![Phone],
            telephony: prod(),
            state: State::SmsVoiceOnly,
            reason: None,
            breaks_on: None,
            ..base("phone only, production provider: no date")
        },
        Case {
            methods: vec![Phone],
            telephony: prod(),
            today: date!(2027 - 03 - 01),
            state: State::SmsVoiceOnly,
            reason: None,
            breaks_on: None,
            ..base("production provider after the date: still works")
        },
        Case {
            methods: vec![Phone],
            telephony: with_provider(Provider::Evaluation),
            today: date!(2027 - 02 - 01),
            state: State::Stuck,
            reason: Some("phoneNotDelivered"),
            ..base("evaluation mode on the date: broken")
        },
        Case {
            methods: vec![Phone],
            telephony: with_provider(Provider::Partial),
            today: date!(2027 - 03 - 01),
            state: State::Stuck,
            reason: Some("phoneNotDelivered"),
            ..base("partial rollout after the date: counted broken")
        },
        Case {
            methods: vec![Phone],
            telephony: with_provider(Provider::None),
            today: date!(2027 - 01 - 31),
            state: State::SmsVoiceOnly,
            reason: None,
            breaks_on: Some(RETIREMENT),
            ..base("the day before: still SMS only")
        },
        Case {
            methods: vec![Phone],
            global_admin: true,
            today: date!(2027 - 03 - 01),
            state: State::SmsVoiceOnly,
            reason: None,
            breaks_on: Some(RETIREMENT_LATE),
            ..base("GA between the dates: still works")
        },
        Case {
            methods: vec![Phone],
            global_admin: true,
            today: date!(2027 - 07 - 01),
            state: State::Stuck,
            reason: Some("phoneNotDelivered"),
            ..base("GA on the late date: broken")
        },
        Case {
            methods: vec![Phone],
            telephony: Telephony {
                sms_or_voice_enabled: Some(false),
                provider: Provider::None,
            },
            state: State::Stuck,
            reason: Some("phoneMethodDisabled"),
            ..base("SMS and voice disabled by policy")
        },
        Case {
            methods: vec![],
            state: State::Stuck,
            reason: Some("notEnrolled"),
            ..base("no method, valid mobile: autoenroll can enroll")
        },
        Case {
            methods: vec![NotMfa],
            mobile: Some(""),
            state: State::Stuck,
            reason: Some("noNumber"),
            ..base("email only, no number")
        },
        Case {
            methods: vec![],
            mobile: Some("n/a"),
            state: State::Stuck,
            reason: Some("invalidNumber:placeholder"),
            ..base("placeholder number")
        },
        Case {
            methods: vec![],
            mobile: Some("020 555 0101"),
            state: State::Stuck,
            reason: Some("notAMobileNumber"),
            ..base("landline")
        },
        Case {
            methods: vec![],
            mobile: None,
            state: State::Stuck,
            reason: Some("noMethod"),
            ..base("number not read")
        },
        Case {
            methods: vec![],
            enabled: Some(false),
            state: State::Stuck,
            reason: Some("disabled"),
            ..base("disabled")
        },
        Case {
            methods: vec![],
            guest: true,
            external: true,
            state: State::Stuck,
            reason: Some("guest"),
            ..base("guest without method")
        },
        Case {
            methods: vec![tap(false)],
            state: State::Stuck,
            reason: Some("bootstrapExpired"),
            ..base("expired TAP, nothing else")
        },
        Case {
            methods: vec![Unknown("qrCodePin".into())],
            state: State::Stuck,
            reason: Some("notEnrolled"),
            ..base("unknown type is not protection")
        },
    ];
    for case in cases {
        let input = CoverageInput {
            excluded: case.excluded.clone(),
            methods: &case.methods,
            is_global_admin: case.global_admin,
            is_guest: case.guest,
            is_external: case.external,
            account_enabled: case.enabled,
            mobile_phone: case.mobile,
            default_region: region(),
            telephony: case.telephony,
            today: case.today,
        };
        let got = classify(&input);
        assert_eq!(got.state, case.state, "{}: {got:?}", case.name);
        assert_eq!(got.reason.as_deref(), case.reason, "{}: {got:?}", case.name);
        assert_eq!(got.breaks_on, case.breaks_on, "{}: {got:?}", case.name);
        assert!(!got.next_step.is_empty(), "{}", case.name);
    }
}

#[test]
fn at_risk_is_stuck_dated_phone_or_a_pending_bootstrap() {
    let c = |state, breaks_on| Coverage {
        state,
        reason: None,
        breaks_on,
        next_step: String::new(),
    };
    assert!(c(State::Stuck, None).is_at_risk());
    assert!(c(State::SmsVoiceOnly, Some(RETIREMENT)).is_at_risk());
    assert!(!c(State::SmsVoiceOnly, None).is_at_risk());
    assert!(c(State::BootstrapPending, None).is_at_risk());
    assert!(!c(State::Excluded, None).is_at_risk());
}

#[test]
fn method_kinds_from_both_sources() {
    let none = serde_json::Map::new();
    let of = |t: &str| MethodKind::from_odata_type(t, &none);
    assert_eq!(
        of("#microsoft.graph.fido2AuthenticationMethod"),
        MethodKind::Passkey
    );
    assert_eq!(
        of("#microsoft.graph.windowsHelloForBusinessAuthenticationMethod"),
        MethodKind::WindowsHello
    );
    assert_eq!(
        of("#microsoft.graph.platformCredentialAuthenticationMethod"),
        MethodKind::PlatformCredential
    );
    assert_eq!(
        of("#microsoft.graph.microsoftAuthenticatorAuthenticationMethod"),
        MethodKind::Authenticator
    );
    assert_eq!(
        of("#microsoft.graph.softwareOathAuthenticationMethod"),
        MethodKind::SoftwareOath
    );
    assert_eq!(
        of("#microsoft.graph.phoneAuthenticationMethod"),
        MethodKind::Phone
    );
    assert_eq!(
        of("#microsoft.graph.emailAuthenticationMethod"),
        MethodKind::NotMfa
    );
    assert_eq!(
        of("#microsoft.graph.passwordAuthenticationMethod"),
        MethodKind::NotMfa
    );
    assert_eq!(
        of("#microsoft.graph.qrCodePinAuthenticationMethod"),
        MethodKind::Unknown("qrCodePin".into())
    );
    let tap = |props: serde_json::Value| {
        MethodKind::from_odata_type(
            "#microsoft.graph.temporaryAccessPassAuthenticationMethod",
            props.as_object().unwrap(),
        )
    };
    assert_eq!(
        tap(serde_json::json!({"isUsable": false, "methodUsabilityReason": "NotYetValid"})),
        MethodKind::TemporaryAccessPass { usable: true }
    );
    assert_eq!(
        tap(serde_json::json!({"isUsable": false, "methodUsabilityReason": "Expired"})),
        MethodKind::TemporaryAccessPass { usable: false }
    );
    assert_eq!(
        tap(serde_json::json!({"isUsable": true})),
        MethodKind::TemporaryAccessPass { usable: true }
    );
    let reg = MethodKind::from_registration;
    assert_eq!(reg("passKeySynced"), MethodKind::Passkey);
    assert_eq!(reg("macOsSecureEnclaveKey"), MethodKind::PlatformCredential);
    assert_eq!(reg("microsoftAuthenticatorPush"), MethodKind::Authenticator);
    assert_eq!(reg("mobilePhone"), MethodKind::Phone);
    assert_eq!(reg("officePhone"), MethodKind::Phone);
    assert_eq!(reg("securityQuestion"), MethodKind::NotMfa);
    assert_eq!(
        reg("somethingNew"),
        MethodKind::Unknown("somethingNew".into())
    );
}
