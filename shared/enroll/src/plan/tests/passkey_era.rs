//! The plan in the passkey era: telephony per user and date, and the TAP bootstrap — one named
//! situation per row (issue 15's table).

use super::*;
use crate::delivery::Channel;
use crate::policy::BootstrapMode;
use crate::telephony::{TelephonySetting, TenantMethods, UserFacts};
use autoenroll_graph::model::methods_policy::{
    AuthenticationMethodsPolicy, MethodConfiguration, MethodState, MethodTarget,
    PolicyMigrationState, TelecomProviderSettings,
};
use time::macros::datetime;

const AFTER: OffsetDateTime = datetime!(2027-03-01 09:00 UTC);
const MANAGER: &str = "petra.bakker@contoso.com";

/// SMS and voice for everyone, with `provider` on both; `sms_targets` the Sms include targets.
fn tenant(provider: Option<(bool, u8)>, sms_targets: &[&str]) -> TenantMethods {
    let config = |id: &str, targets: &[&str]| MethodConfiguration {
        id: id.into(),
        state: Some(MethodState::Enabled),
        include_targets: Some(targets.iter().map(|t| MethodTarget::group(t)).collect()),
        telecom_provider_settings: Some(provider.map(|(evaluation, percentage)| {
            TelecomProviderSettings {
                url: "https://router.example/api".into(),
                app_id: "8c1f4e2a-6b3d-4f7a-9e21-0d5c7b3a4e66".into(),
                is_evaluation_mode_enabled: evaluation,
                migration_percentage: percentage,
            }
        })),
        ..MethodConfiguration::default()
    };
    TenantMethods::from_policy(
        &AuthenticationMethodsPolicy {
            policy_migration_state: Some(PolicyMigrationState::MigrationComplete),
            authentication_method_configurations: vec![
                config("Sms", sms_targets),
                config("Voice", sms_targets),
            ],
            ..AuthenticationMethodsPolicy::default()
        },
        None,
    )
}

/// A new user with the Dutch mobile, bootstrap on (manager e-mail, then SMS), the TAP policy
/// targeting them, a manager with mail; telephony as `tenant` says at `now`.
fn new_hire(t: &TenantMethods, now: OffsetDateTime) -> UserView {
    let mut v = view(user(Some("06-12345678")));
    v.now = now;
    v.phone_delivery = t.phone_delivery(
        TelephonySetting::Auto,
        &UserFacts {
            user_id: &v.user.id,
            member_of: &v.group_membership,
            user_principal_name: v.user.user_principal_name.as_deref(),
        },
        now,
    );
    v.bootstrap = Some(BootstrapView {
        tap_policy: Some(tap_policy()),
        manager_mail: Some(Some(MANAGER.into())),
        hire_date: None,
        issued: 0,
    });
    v
}

fn bootstrap_policy(mode: BootstrapMode) -> Policy {
    with(policy(), |p| p.bootstrap = bootstrap_on(mode))
}

fn issue_tap(channel: Channel, starts_at: Option<&str>) -> Action {
    Action::IssueTap {
        channel,
        starts_at: starts_at.map(str::to_owned),
        lifetime_minutes: 480,
        usable_once: true,
    }
}

fn cases() -> Vec<(&'static str, Policy, UserView, Plan)> {
    let p = bootstrap_policy(BootstrapMode::WhenNoUsableMethod);
    let none = tenant(None, &["all_users"]);
    let retired = new_hire(&none, AFTER);
    let tap_by_mail = issue_tap(Channel::ManagerEmail, None);
    vec![
        (
            "telephony available: the phone is the usable method, no pass",
            p.clone(),
            new_hire(&none, NOW),
            enroll(vec![add_mobile(A), SMS, mfa(ENABLED)], vec![]),
        ),
        (
            "telephony retired: a pass to the manager, MFA once it is delivered, no SMS preference",
            p.clone(),
            retired.clone(),
            enroll(
                vec![add_mobile(A), tap_by_mail.clone(), mfa(ENABLED)],
                vec![],
            ),
        ),
        (
            "telephony retired and bootstrap off: no MFA on an undeliverable phone",
            policy(),
            retired.clone(),
            Plan::Skip(SkipReason::PhoneNotDelivered),
        ),
        (
            "telecom provider in production after the retirement: the phone works",
            p.clone(),
            new_hire(&tenant(Some((false, 100)), &["all_users"]), AFTER),
            enroll(vec![add_mobile(A), SMS, mfa(ENABLED)], vec![]),
        ),
        (
            "telecom provider in evaluation after the retirement: retired",
            p.clone(),
            new_hire(&tenant(Some((true, 100)), &["all_users"]), AFTER),
            enroll(
                vec![add_mobile(A), tap_by_mail.clone(), mfa(ENABLED)],
                vec![],
            ),
        ),
        (
            "telecom provider at 50 % after the retirement: counted as retired",
            p.clone(),
            new_hire(&tenant(Some((false, 50)), &["all_users"]), AFTER),
            enroll(
                vec![add_mobile(A), tap_by_mail.clone(), mfa(ENABLED)],
                vec![],
            ),
        ),
        (
            "user not targeted by the SMS/voice policy: a pass even before the retirement",
            p.clone(),
            new_hire(&tenant(None, &[G_SCOPE]), NOW),
            enroll(
                vec![add_mobile(A), tap_by_mail.clone(), mfa(ENABLED)],
                vec![],
            ),
        ),
        (
            "lasting method (passkey): no pass, MFA raised",
            p.clone(),
            with(retired.clone(), |v| v.methods.push(passkey())),
            enroll(vec![add_mobile(A), mfa(ENABLED)], vec![]),
        ),
        (
            "pass pending (ours, delivered): no second pass, MFA raised on it",
            p.clone(),
            with(retired.clone(), |v| {
                v.methods.push(tap());
                v.open_bootstrap = Some(delivered_record(v, AFTER, Channel::ManagerEmail));
            }),
            enroll(vec![add_mobile(A), mfa(ENABLED)], vec![]),
        ),
        (
            "live pass nobody recorded (a worker lost after the create): replaced, MFA after",
            p.clone(),
            with(retired.clone(), |v| v.methods.push(tap())),
            enroll(
                vec![add_mobile(A), tap_by_mail.clone(), mfa(ENABLED)],
                vec![],
            ),
        ),
        (
            "pass expired unused: a new pass",
            p.clone(),
            with(retired.clone(), |v| v.methods.push(expired_tap())),
            enroll(
                vec![add_mobile(A), tap_by_mail.clone(), mfa(ENABLED)],
                vec![],
            ),
        ),
        (
            "passes expired as often as the policy re-issues: bootstrapExpired, no MFA",
            p.clone(),
            with(retired.clone(), |v| {
                v.methods.push(expired_tap());
                v.bootstrap.as_mut().unwrap().issued = 3;
            }),
            Plan::Skip(SkipReason::BootstrapExpired),
        ),
        (
            "excluded user: nothing, not even a pass",
            p.clone(),
            with(retired.clone(), |v| {
                v.user.user_principal_name = Some("breakglass@contoso.com".into())
            }),
            Plan::Skip(SkipReason::Excluded(Exclusion::Upn)),
        ),
        (
            "out of scope: nothing, not even a pass",
            with(p.clone(), |p| p.scope_groups = [G_SCOPE.to_owned()].into()),
            retired.clone(),
            Plan::Skip(SkipReason::OutOfScope),
        ),
        (
            "no manager: the pass goes by SMS to the directory mobile",
            p.clone(),
            with(retired.clone(), |v| {
                v.bootstrap.as_mut().unwrap().manager_mail = None
            }),
            enroll(
                vec![
                    add_mobile(A),
                    issue_tap(Channel::MobileSms, None),
                    mfa(ENABLED),
                ],
                vec![],
            ),
        ),
        (
            "no manager and no mobile: reported skip naming the manager",
            p.clone(),
            with(retired.clone(), |v| {
                v.user.mobile_phone = None;
                v.bootstrap.as_mut().unwrap().manager_mail = None;
            }),
            Plan::Skip(SkipReason::NoPassRecipient("noManager")),
        ),
        (
            "TAP policy does not target the user: tapNotAllowedByPolicy",
            p.clone(),
            with(retired.clone(), |v| {
                v.bootstrap.as_mut().unwrap().tap_policy = None
            }),
            Plan::Skip(SkipReason::TapNotAllowedByPolicy),
        ),
        (
            "start date in the future: the pass starts on the hire date",
            p.clone(),
            with(retired.clone(), |v| {
                v.bootstrap.as_mut().unwrap().hire_date = Some(datetime!(2027-03-08 08:00 UTC))
            }),
            enroll(
                vec![
                    add_mobile(A),
                    issue_tap(Channel::ManagerEmail, Some("2027-03-08T08:00:00Z")),
                    mfa(ENABLED),
                ],
                vec![],
            ),
        ),
        (
            "start date more than 30 days ahead: capped at Graph's 30 days",
            p.clone(),
            with(retired.clone(), |v| {
                v.bootstrap.as_mut().unwrap().hire_date = Some(datetime!(2027-06-01 08:00 UTC))
            }),
            enroll(
                vec![
                    add_mobile(A),
                    issue_tap(Channel::ManagerEmail, Some("2027-03-31T09:00:00Z")),
                    mfa(ENABLED),
                ],
                vec![],
            ),
        ),
        (
            "always-for-new-users: a pass even where the phone still works",
            bootstrap_policy(BootstrapMode::AlwaysForNewUsers),
            with(new_hire(&none, NOW), |v| {
                v.user.created_date_time = Some("2026-12-05T11:59:00Z".into())
            }),
            enroll(
                vec![add_mobile(A), tap_by_mail.clone(), SMS, mfa(ENABLED)],
                vec![],
            ),
        ),
        (
            "always-for-new-users: an old account with a working phone gets none",
            bootstrap_policy(BootstrapMode::AlwaysForNewUsers),
            with(new_hire(&none, NOW), |v| {
                v.user.created_date_time = Some("2024-01-05T11:59:00Z".into())
            }),
            enroll(vec![add_mobile(A), SMS, mfa(ENABLED)], vec![]),
        ),
        (
            "group mode: the CA group add waits for the delivered pass",
            with(p.clone(), |p| p.mfa_mode = MfaMode::Group(G_MFA.into())),
            retired.clone(),
            enroll(
                vec![
                    add_mobile(A),
                    tap_by_mail.clone(),
                    Action::AddToGroup {
                        group_id: G_MFA.into(),
                    },
                ],
                vec![],
            ),
        ),
    ]
}

#[test]
fn passkey_era_table() {
    let cases = cases();
    let names: std::collections::BTreeSet<_> = cases.iter().map(|c| c.0).collect();
    assert_eq!(names.len(), cases.len(), "distinct names");
    let failures: Vec<String> = cases
        .iter()
        .filter_map(|(name, policy, view, want)| {
            let got = plan(policy, view);
            (got != *want).then(|| format!("{name}:\n    want {want:?}\n    got  {got:?}"))
        })
        .collect();
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn a_pass_our_record_says_was_never_delivered_is_replaced_not_waited_on() {
    let p = bootstrap_policy(BootstrapMode::WhenNoUsableMethod);
    let mut v = new_hire(&tenant(None, &["all_users"]), AFTER);
    let live = tap();
    v.methods.push(live.clone());
    v.open_bootstrap = Some(crate::bootstrap::OpenBootstrap {
        tenant_id: TENANT.into(),
        user_id: v.user.id.clone(),
        tap_method_id: live.id.clone(),
        issued_at: AFTER,
        valid_from: AFTER,
        valid_until: AFTER + time::Duration::hours(8),
        issue_count: 1,
        channel: Channel::ManagerEmail,
        delivered: false,
    });
    assert!(
        plan(&p, &v)
            .actions()
            .contains(&issue_tap(Channel::ManagerEmail, None))
    );
    v.open_bootstrap.as_mut().unwrap().delivered = true;
    assert!(
        !plan(&p, &v)
            .actions()
            .iter()
            .any(|a| matches!(a, Action::IssueTap { .. }))
    );
}

#[test]
fn tap_labels_and_reasons_hold_no_recipient() {
    let p = bootstrap_policy(BootstrapMode::WhenNoUsableMethod);
    let got = plan(&p, &new_hire(&tenant(None, &["all_users"]), AFTER));
    let text = format!(
        "{got:?} {:?}",
        got.actions().iter().map(Action::label).collect::<Vec<_>>()
    );
    assert!(
        !text.contains("petra") && !text.contains("612345678"),
        "{text}"
    );
    assert_eq!(
        SkipReason::NoPassRecipient("noManager").code(),
        "noPassRecipient:noManager"
    );
    assert_eq!(
        SkipReason::TapNotAllowedByPolicy.code(),
        "tapNotAllowedByPolicy"
    );
}
