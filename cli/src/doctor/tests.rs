//! Role needs and the missing / excessive / readiness role rows.

use super::*;

fn roles(r: &[&str]) -> Vec<String> {
    r.iter().map(|s| (*s).to_owned()).collect()
}

#[test]
fn default_policy_needs_exactly_the_three_documented_roles() {
    let needs = required_roles(&Policy::default());
    let (missing, excessive) = compare_roles(
        &needs,
        &roles(&[
            "User.Read.All",
            "UserAuthenticationMethod.ReadWrite.All",
            "Policy.ReadWrite.AuthenticationMethod",
        ]),
    );
    assert!(missing.is_empty(), "{missing:?}");
    assert!(excessive.is_empty(), "{excessive:?}");
}

#[test]
fn phone_only_app_misses_methods_and_mfa_roles() {
    let needs = required_roles(&Policy::default());
    let (missing, _) = compare_roles(
        &needs,
        &roles(&["User.Read.All", "UserAuthMethod-Phone.ReadWrite.All"]),
    );
    assert_eq!(missing.len(), 3, "{missing:?}");
    assert!(
        missing
            .iter()
            .any(|m| m.starts_with("Policy.ReadWrite.AuthenticationMethod"))
    );
}

fn row<'a>(rows: &'a [Check], name: &str) -> &'a Check {
    rows.iter().find(|c| c.check == name).expect(name)
}

#[test]
fn readiness_roles_are_optional_and_never_excessive() {
    let base = [
        "User.Read.All",
        "UserAuthenticationMethod.ReadWrite.All",
        "Policy.ReadWrite.AuthenticationMethod",
    ];
    // Without Policy.Read.All: the functions lack nothing, doctor's CA read does.
    let rows = role_checks(&Policy::default(), &roles(&base));
    assert_eq!(row(&rows, "missing roles").status, Status::Ok);
    let readiness = row(&rows, "readiness roles");
    assert_eq!(readiness.status, Status::Warn, "{rows:?}");
    assert!(
        readiness.detail.contains("Policy.Read.All"),
        "{readiness:?}"
    );
    assert!(
        !readiness
            .detail
            .contains("Policy.Read.AuthenticationMethod"),
        "Policy.ReadWrite.AuthenticationMethod already reads the methods policy: {readiness:?}"
    );
    // With it: nothing missing, and it is not called excessive.
    let mut with = base.to_vec();
    with.push("Policy.Read.All");
    let rows = role_checks(&Policy::default(), &roles(&with));
    assert_eq!(row(&rows, "readiness roles").status, Status::Ok, "{rows:?}");
    assert_eq!(row(&rows, "excessive roles").status, Status::Ok, "{rows:?}");
    // A narrow methods-policy read beside Policy.Read.All is redundant.
    with.push("Policy.Read.AuthenticationMethod");
    let rows = role_checks(&Policy::default(), &roles(&with));
    let excessive = row(&rows, "excessive roles");
    assert!(
        excessive
            .detail
            .contains("Policy.Read.AuthenticationMethod"),
        "{excessive:?}"
    );
    // The Secure Score read is optional both ways: never missing, never excessive.
    assert!(
        !row(&rows, "readiness roles")
            .detail
            .contains("SecurityEvents")
    );
    let mut with_score = base.to_vec();
    with_score.extend(["Policy.Read.All", "SecurityEvents.Read.All"]);
    let rows = role_checks(&Policy::default(), &roles(&with_score));
    assert_eq!(row(&rows, "excessive roles").status, Status::Ok, "{rows:?}");
}

#[test]
fn the_registration_report_role_is_never_missing_and_never_excessive() {
    let base = [
        "User.Read.All",
        "UserAuthenticationMethod.ReadWrite.All",
        "Policy.ReadWrite.AuthenticationMethod",
        "Policy.Read.All",
    ];
    let rows = role_checks(&Policy::default(), &roles(&base));
    for name in ["missing roles", "readiness roles", "excessive roles"] {
        assert_eq!(row(&rows, name).status, Status::Ok, "{rows:?}");
        assert!(!row(&rows, name).detail.contains("AuditLog"), "{rows:?}");
    }
    let mut with = base.to_vec();
    with.push("AuditLog.Read.All");
    let rows = role_checks(&Policy::default(), &roles(&with));
    assert_eq!(row(&rows, "excessive roles").status, Status::Ok, "{rows:?}");
    // Without the allowance it would be called excessive: the test above is not vacuous.
    let (_, excessive) = compare_roles(&required_roles(&Policy::default()), &roles(&with));
    assert!(excessive.contains(&"AuditLog.Read.All".to_owned()));
}

#[test]
fn broad_roles_covered_by_narrow_ones_are_excessive() {
    let policy = Policy {
        set_sms_default: false,
        ..Policy::default()
    };
    let (missing, excessive) = compare_roles(
        &required_roles(&policy),
        &roles(&[
            "User.Read.All",
            "Directory.ReadWrite.All",
            "UserAuthMethod-Phone.ReadWrite.All",
            "UserAuthenticationMethod.Read.All",
            "UserAuthenticationMethod.ReadWrite.All",
            "Policy.ReadWrite.AuthenticationMethod",
        ]),
    );
    assert!(missing.is_empty());
    assert_eq!(
        excessive,
        [
            "Directory.ReadWrite.All",
            "UserAuthenticationMethod.ReadWrite.All"
        ]
    );
}

#[test]
fn bootstrap_needs_the_tap_write_and_the_methods_policy_read() {
    let mut policy = Policy {
        mfa_mode: MfaMode::Group("c0a80101-5e1f-4c3a-8d2b-000000000001".into()),
        set_sms_default: false,
        ..Policy::default()
    };
    policy.bootstrap.delivery = Some(autoenroll_core::policy::BootstrapDelivery::MobileSms);
    let needs = required_roles(&policy);
    let base = roles(&[
        "User.Read.All",
        "UserAuthenticationMethod.ReadWrite.All",
        "GroupMember.ReadWrite.All",
    ]);
    let (missing, _) = compare_roles(&needs, &base);
    assert_eq!(missing.len(), 1, "{missing:?}");
    assert!(
        missing[0].contains("Policy.Read.AuthenticationMethod"),
        "{missing:?}"
    );
    let mut narrow = roles(&[
        "User.Read.All",
        "UserAuthenticationMethod.Read.All",
        "UserAuthMethod-Phone.ReadWrite.All",
        "GroupMember.ReadWrite.All",
        "Policy.Read.AuthenticationMethod",
    ]);
    let (missing, _) = compare_roles(&needs, &narrow);
    assert!(
        missing.len() == 1 && missing[0].contains("UserAuthMethod-TAP.ReadWrite.All"),
        "{missing:?}"
    );
    narrow.push("UserAuthMethod-TAP.ReadWrite.All".into());
    let (missing, excessive) = compare_roles(&needs, &narrow);
    assert!(
        missing.is_empty() && excessive.is_empty(),
        "{missing:?} {excessive:?}"
    );
    // Off: neither is needed.
    policy.bootstrap.delivery = None;
    let (_, excessive) = compare_roles(&required_roles(&policy), &narrow);
    assert!(
        excessive
            .iter()
            .any(|r| r.contains("UserAuthMethod-TAP.ReadWrite.All")),
        "{excessive:?}"
    );
}
