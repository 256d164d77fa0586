use super::*;
use crate::phone::GraphNumber;
use crate::policy::{Exclusion, SmsDefault};
use crate::ports::PendingPhone;
use autoenroll_graph::model::{Removed, method_ids};
use serde_json::json;

mod passkey_era;
mod properties;

pub(super) const TENANT: &str = "84bd8158-6d4d-4958-8b9f-9d6445542f95";
pub(super) const G_MFA: &str = "aaaaaaaa-0000-4000-8000-000000000001";
pub(super) const G_EXCLUDED: &str = "bbbbbbbb-0000-4000-8000-000000000002";
pub(super) const G_SCOPE: &str = "cccccccc-0000-4000-8000-000000000003";
/// Graph forms of the numbers used below.
pub(super) const A: &str = "+31 612345678";
pub(super) const B: &str = "+31 687654321";
pub(super) const FIXED: &str = "+31 201234567";
/// Before the SMS/voice retirement.
pub(super) const NOW: OffsetDateTime = time::macros::datetime!(2026-12-05 12:00 UTC);

pub(super) fn policy() -> Policy {
    Policy {
        default_region: Some("NL".parse().unwrap()),
        excluded_upns: ["breakglass@contoso.com".to_owned()].into(),
        excluded_groups: [G_EXCLUDED.to_owned()].into(),
        ..Policy::default()
    }
}

pub(super) fn user(mobile: Option<&str>) -> User {
    User {
        id: "6e7b768e-07e2-4810-8459-485f84f8f204".into(),
        user_principal_name: Some("anna@contoso.com".into()),
        mobile_phone: mobile.map(str::to_owned),
        business_phones: Some(vec![]),
        account_enabled: Some(true),
        user_type: Some("Member".into()),
        ..User::default()
    }
}

pub(super) fn method(odata_type: &str, id: &str) -> AuthenticationMethod {
    AuthenticationMethod {
        odata_type: odata_type.into(),
        id: id.into(),
        properties: Default::default(),
    }
}

pub(super) fn password() -> AuthenticationMethod {
    method(
        "#microsoft.graph.passwordAuthenticationMethod",
        "28c10230-6103-485e-b985-444c60001490",
    )
}

pub(super) fn authenticator() -> AuthenticationMethod {
    method(
        "#microsoft.graph.microsoftAuthenticatorAuthenticationMethod",
        "1a2b3c4d-0000-4000-8000-00000000aaaa",
    )
}

/// Our open bootstrap record for [`tap`], delivered by `channel` at `issued_at` (8 hours).
pub(super) fn delivered_record(
    v: &UserView,
    issued_at: OffsetDateTime,
    channel: crate::delivery::Channel,
) -> crate::bootstrap::OpenBootstrap {
    crate::bootstrap::OpenBootstrap {
        tenant_id: v.tenant_id.clone(),
        user_id: v.user.id.clone(),
        tap_method_id: tap().id,
        issued_at,
        valid_from: issued_at,
        valid_until: issued_at + time::Duration::hours(8),
        issue_count: 1,
        channel,
        delivered: true,
    }
}

pub(super) fn tap() -> AuthenticationMethod {
    method(TAP_METHOD_TYPE, "1a2b3c4d-0000-4000-8000-00000000bbbb")
}

pub(super) fn passkey() -> AuthenticationMethod {
    method(
        "#microsoft.graph.fido2AuthenticationMethod",
        "-2_GRUg2-HYz6_1YG4YRAQ2",
    )
}

/// A pass that can no longer be used.
pub(super) fn expired_tap() -> AuthenticationMethod {
    let mut m = method(TAP_METHOD_TYPE, "1a2b3c4d-0000-4000-8000-00000000cccc");
    m.properties.insert("isUsable".into(), json!(false));
    m.properties
        .insert("methodUsabilityReason".into(), json!("Expired"));
    m
}

/// A TAP method policy that targets the user: 60–480 minutes, multi-use allowed.
pub(super) fn tap_policy() -> crate::telephony::TapConfig {
    crate::telephony::TapConfig {
        targets: crate::telephony::Targets {
            enabled: true,
            include: vec!["all_users".into()],
            exclude: vec![],
        },
        default_lifetime_minutes: 60,
        minimum_lifetime_minutes: 60,
        maximum_lifetime_minutes: 480,
        usable_once: false,
    }
}

/// Bootstrap on in `mode`, e-mail to the manager first, then SMS.
pub(super) fn bootstrap_on(mode: crate::policy::BootstrapMode) -> crate::policy::BootstrapPolicy {
    crate::policy::BootstrapPolicy {
        mode: Some(mode),
        delivery: Some(crate::policy::BootstrapDelivery::ManagerEmailThenSms),
        email_from: Some("it@contoso.com".into()),
        ..Default::default()
    }
}

pub(super) fn email() -> AuthenticationMethod {
    method(
        "#microsoft.graph.emailAuthenticationMethod",
        "3ddfcfc8-9383-446f-83cc-3ab9be4be18f",
    )
}

pub(super) fn phone_method(phone_type: PhoneType, number: &str) -> AuthenticationMethod {
    let mut m = method(PHONE_METHOD_TYPE, phone_type.method_id().unwrap());
    m.properties.insert("phoneNumber".into(), json!(number));
    m.properties
        .insert("phoneType".into(), json!(phone_type.as_str()));
    m.properties
        .insert("smsSignInState".into(), json!("notEnabled"));
    m
}

pub(super) fn ours(phone_type: PhoneType, number: &str) -> ManagedPhone {
    ManagedPhone {
        user_id: "6e7b768e-07e2-4810-8459-485f84f8f204".into(),
        number_hash: phone::fingerprint(TENANT, number),
        last_two: phone::last_two(number),
        phone_type,
        registered_at: "2026-01-01T00:00:00Z".into(),
        version: 1,
        pending: None,
    }
}

/// A record holding only a write of ours to `number` whose outcome we never saw.
fn pending_only(phone_type: PhoneType, number: &str) -> ManagedPhone {
    ManagedPhone {
        number_hash: String::new(),
        last_two: String::new(),
        pending: Some(PendingPhone {
            number_hash: phone::fingerprint(TENANT, number),
            last_two: phone::last_two(number),
            phone_type,
            since: "2026-01-01T00:00:00Z".into(),
        }),
        ..ours(phone_type, number)
    }
}

pub(super) fn view(user: User) -> UserView {
    UserView {
        tenant_id: TENANT.into(),
        user,
        methods: vec![password()],
        mfa_state: Some(PerUserMfaState::Disabled),
        sign_in_preferences: Some(SignInPreferences::default()),
        group_membership: vec![],
        managed: None,
        now: NOW,
        phone_delivery: PhoneDelivery::ALL,
        bootstrap: None,
        open_bootstrap: None,
    }
}

/// A user who already went through enrollment with number `A`.
fn enrolled() -> UserView {
    let mut v = view(user(Some("06-12345678")));
    v.methods.push(phone_method(PhoneType::Mobile, A));
    v.managed = Some(ours(PhoneType::Mobile, A));
    v.mfa_state = Some(PerUserMfaState::Enabled);
    v.sign_in_preferences = Some(prefs("sms"));
    v
}

fn prefs(method: &str) -> SignInPreferences {
    SignInPreferences {
        user_preferred_method_for_secondary_authentication: Some(method.into()),
        ..SignInPreferences::default()
    }
}

fn system_preferred(enabled: bool, method: Option<&str>) -> SignInPreferences {
    SignInPreferences {
        is_system_preferred_authentication_method_enabled: Some(enabled),
        user_preferred_method_for_secondary_authentication: method.map(str::to_owned),
        ..SignInPreferences::default()
    }
}

fn add_mobile(n: &str) -> Action {
    Action::AddMobile {
        number: GraphNumber::new(n),
    }
}
fn update_mobile(n: &str) -> Action {
    Action::UpdateManagedMobile {
        number: GraphNumber::new(n),
    }
}
fn add_office(n: &str) -> Action {
    Action::AddOffice {
        number: GraphNumber::new(n),
    }
}
fn mfa(state: PerUserMfaState) -> Action {
    Action::SetPerUserMfa { state }
}
const SMS: Action = Action::SetSmsPreferred;
const ENABLED: PerUserMfaState = PerUserMfaState::Enabled;
const ENFORCED: PerUserMfaState = PerUserMfaState::Enforced;

fn enroll(actions: Vec<Action>, notes: Vec<SkipReason>) -> Plan {
    Plan::Enroll { actions, notes }
}

struct Case {
    situation: &'static str,
    policy: Policy,
    view: UserView,
    want: Plan,
}

fn with<T>(mut t: T, f: impl FnOnce(&mut T)) -> T {
    f(&mut t);
    t
}

fn cases() -> Vec<Case> {
    let p = policy();
    let new_user = view(user(Some("06-12345678")));
    let dutch_mobile_actions = vec![add_mobile(A), SMS, mfa(ENABLED)];
    vec![
        Case {
            situation: "new member with a Dutch mobile gets phone, SMS default and per-user MFA",
            policy: p.clone(),
            view: new_user.clone(),
            want: enroll(dutch_mobile_actions.clone(), vec![]),
        },
        Case {
            situation: "enforced mode sets per-user MFA to enforced",
            policy: with(p.clone(), |p| p.mfa_mode = MfaMode::PerUserEnforced),
            view: new_user.clone(),
            want: enroll(vec![add_mobile(A), SMS, mfa(ENFORCED)], vec![]),
        },
        Case {
            situation: "group mode adds the user to the Conditional Access group",
            policy: with(p.clone(), |p| p.mfa_mode = MfaMode::Group(G_MFA.into())),
            view: new_user.clone(),
            want: enroll(
                vec![
                    add_mobile(A),
                    SMS,
                    Action::AddToGroup {
                        group_id: G_MFA.into(),
                    },
                ],
                vec![],
            ),
        },
        Case {
            situation: "group mode with the user already in the group (any case) adds nothing",
            policy: with(p.clone(), |p| p.mfa_mode = MfaMode::Group(G_MFA.into())),
            view: with(new_user.clone(), |v| {
                v.group_membership = vec![G_MFA.to_uppercase()]
            }),
            want: enroll(vec![add_mobile(A), SMS], vec![]),
        },
        Case {
            situation: "mode none only prepopulates the phone and preference",
            policy: with(p.clone(), |p| p.mfa_mode = MfaMode::None),
            view: new_user.clone(),
            want: enroll(vec![add_mobile(A), SMS], vec![]),
        },
        Case {
            situation: "SMS default switched off leaves the preference alone",
            policy: with(p.clone(), |p| p.set_sms_default = false),
            view: new_user.clone(),
            want: enroll(vec![add_mobile(A), mfa(ENABLED)], vec![]),
        },
        Case {
            situation: "system-preferred MFA on: the preference Entra would ignore is not written",
            policy: p.clone(),
            view: with(new_user.clone(), |v| {
                v.sign_in_preferences = Some(system_preferred(true, None))
            }),
            want: enroll(vec![add_mobile(A), mfa(ENABLED)], vec![]),
        },
        Case {
            situation: "system-preferred MFA off: the preference takes effect and is written",
            policy: p.clone(),
            view: with(new_user.clone(), |v| {
                v.sign_in_preferences = Some(system_preferred(false, Some("none")))
            }),
            want: enroll(dutch_mobile_actions.clone(), vec![]),
        },
        Case {
            situation: "set_sms_default = always writes it under system-preferred MFA (NPS / AD FS)",
            policy: with(p.clone(), |p| p.set_sms_default_mode(SmsDefault::Always)),
            view: with(new_user.clone(), |v| {
                v.sign_in_preferences = Some(system_preferred(true, None))
            }),
            want: enroll(dutch_mobile_actions.clone(), vec![]),
        },
        Case {
            situation: "set_sms_default = always still keeps the user's own choice",
            policy: with(p.clone(), |p| p.set_sms_default_mode(SmsDefault::Always)),
            view: with(new_user.clone(), |v| {
                v.methods.push(authenticator());
                v.sign_in_preferences = Some(system_preferred(true, Some("push")));
            }),
            want: enroll(vec![add_mobile(A), mfa(ENABLED)], vec![]),
        },
        Case {
            situation: "set_sms_default = never writes no preference with system-preferred MFA off",
            policy: with(p.clone(), |p| p.set_sms_default_mode(SmsDefault::Never)),
            view: with(new_user.clone(), |v| {
                v.sign_in_preferences = Some(system_preferred(false, None))
            }),
            want: enroll(vec![add_mobile(A), mfa(ENABLED)], vec![]),
        },
        Case {
            situation: "system-preferred state absent from the read counts as off (write)",
            policy: p.clone(),
            view: with(new_user.clone(), |v| {
                v.sign_in_preferences = Some(prefs("none"))
            }),
            want: enroll(dutch_mobile_actions.clone(), vec![]),
        },
        Case {
            situation: "fully enrolled user needs nothing",
            policy: p.clone(),
            view: enrolled(),
            want: enroll(vec![], vec![]),
        },
        Case {
            situation: "enforced per-user MFA is never lowered to enabled",
            policy: p.clone(),
            view: with(enrolled(), |v| v.mfa_state = Some(ENFORCED)),
            want: enroll(vec![], vec![]),
        },
        Case {
            situation: "enabled per-user MFA is raised under the enforced policy",
            policy: with(p.clone(), |p| p.mfa_mode = MfaMode::PerUserEnforced),
            view: enrolled(),
            want: enroll(vec![mfa(ENFORCED)], vec![]),
        },
        Case {
            situation: "unknown future per-user MFA state is left alone",
            policy: p.clone(),
            view: with(enrolled(), |v| {
                v.mfa_state = Some(PerUserMfaState::UnknownFutureValue)
            }),
            want: enroll(vec![], vec![SkipReason::MfaStateUnknown]),
        },
        Case {
            situation: "per-user MFA state not read is treated as disabled",
            policy: p.clone(),
            view: with(new_user.clone(), |v| v.mfa_state = None),
            want: enroll(dutch_mobile_actions.clone(), vec![]),
        },
        Case {
            situation: "sign-in preferences not read are treated as unset",
            policy: p.clone(),
            view: with(new_user.clone(), |v| v.sign_in_preferences = None),
            want: enroll(dutch_mobile_actions.clone(), vec![]),
        },
        Case {
            situation: "break-glass account by UPN is never touched",
            policy: p.clone(),
            view: with(new_user.clone(), |v| {
                v.user.user_principal_name = Some("BreakGlass@Contoso.com".into())
            }),
            want: Plan::Skip(SkipReason::Excluded(Exclusion::Upn)),
        },
        Case {
            situation: "member of an excluded group is never touched",
            policy: p.clone(),
            view: with(new_user.clone(), |v| {
                v.group_membership = vec![G_EXCLUDED.into()]
            }),
            want: Plan::Skip(SkipReason::Excluded(Exclusion::Group(G_EXCLUDED.into()))),
        },
        Case {
            situation: "excluded account that is also a disabled guest is reported as excluded",
            policy: p.clone(),
            view: with(new_user.clone(), |v| {
                v.user.user_principal_name = Some("breakglass@contoso.com".into());
                v.user.user_type = Some("Guest".into());
                v.user.account_enabled = Some(false);
            }),
            want: Plan::Skip(SkipReason::Excluded(Exclusion::Upn)),
        },
        Case {
            situation: "guest by userType is skipped",
            policy: p.clone(),
            view: with(new_user.clone(), |v| {
                v.user.user_type = Some("Guest".into())
            }),
            want: Plan::Skip(SkipReason::Guest),
        },
        Case {
            situation: "guest recognised by its #EXT# UPN when userType was not selected",
            policy: p.clone(),
            view: with(new_user.clone(), |v| {
                v.user.user_type = None;
                v.user.user_principal_name =
                    Some("bob_fabrikam.com#EXT#@contoso.onmicrosoft.com".into());
            }),
            want: Plan::Skip(SkipReason::Guest),
        },
        Case {
            situation: "guest is enrolled when the policy includes guests",
            policy: with(p.clone(), |p| p.include_guests = true),
            view: with(new_user.clone(), |v| {
                v.user.user_type = Some("Guest".into())
            }),
            want: enroll(dutch_mobile_actions.clone(), vec![]),
        },
        Case {
            situation: "disabled account is skipped",
            policy: p.clone(),
            view: with(new_user.clone(), |v| v.user.account_enabled = Some(false)),
            want: Plan::Skip(SkipReason::Disabled),
        },
        Case {
            situation: "accountEnabled not selected does not skip the user",
            policy: p.clone(),
            view: with(new_user.clone(), |v| v.user.account_enabled = None),
            want: enroll(dutch_mobile_actions.clone(), vec![]),
        },
        Case {
            situation: "user outside the scope groups is skipped",
            policy: with(p.clone(), |p| p.scope_groups = [G_SCOPE.to_owned()].into()),
            view: new_user.clone(),
            want: Plan::Skip(SkipReason::OutOfScope),
        },
        Case {
            situation: "user inside a scope group is enrolled",
            policy: with(p.clone(), |p| p.scope_groups = [G_SCOPE.to_owned()].into()),
            view: with(new_user.clone(), |v| {
                v.group_membership = vec![G_SCOPE.into()]
            }),
            want: enroll(dutch_mobile_actions.clone(), vec![]),
        },
        Case {
            situation: "soft-deleted user from delta is skipped",
            policy: p.clone(),
            view: with(new_user.clone(), |v| {
                v.user.removed = Some(Removed {
                    reason: "changed".into(),
                })
            }),
            want: Plan::Skip(SkipReason::Deleted),
        },
        Case {
            situation: "user without mobile number and without methods is skipped, never enabled",
            policy: p.clone(),
            view: view(user(None)),
            want: Plan::Skip(SkipReason::NoNumber),
        },
        Case {
            situation: "placeholder n/a in mobilePhone is an invalid number",
            policy: p.clone(),
            view: view(user(Some("n/a"))),
            want: Plan::Skip(SkipReason::InvalidNumber(PhoneRejection::Placeholder(
                "n/a".into(),
            ))),
        },
        Case {
            situation: "free text in mobilePhone is not a number",
            policy: p.clone(),
            view: view(user(Some("call reception"))),
            want: Plan::Skip(SkipReason::InvalidNumber(PhoneRejection::NotANumber)),
        },
        Case {
            situation: "fixed line in mobilePhone is never registered as mobile",
            policy: p.clone(),
            view: view(user(Some("020-1234567"))),
            want: Plan::Skip(SkipReason::NotAMobileNumber),
        },
        Case {
            situation: "US number with an extension is not an SMS number",
            policy: p.clone(),
            view: view(user(Some("+1 (206) 555-0100 ext. 12"))),
            want: Plan::Skip(SkipReason::NotAMobileNumber),
        },
        Case {
            situation: "US number without extension counts as mobile",
            policy: p.clone(),
            view: view(user(Some("+1 (206) 555-0100"))),
            want: enroll(vec![add_mobile("+1 2065550100"), SMS, mfa(ENABLED)], vec![]),
        },
        Case {
            situation: "national number without a default region is rejected",
            policy: with(p.clone(), |p| p.default_region = None),
            view: new_user.clone(),
            want: Plan::Skip(SkipReason::InvalidNumber(PhoneRejection::NoCountryCode)),
        },
        Case {
            situation: "international number needs no default region",
            policy: with(p.clone(), |p| p.default_region = None),
            view: view(user(Some("+31 6 1234 5678"))),
            want: enroll(dutch_mobile_actions.clone(), vec![]),
        },
        Case {
            situation: "no number but an authenticator app: MFA is enabled, number reported",
            policy: p.clone(),
            view: with(view(user(None)), |v| v.methods.push(authenticator())),
            want: enroll(vec![mfa(ENABLED)], vec![SkipReason::NoNumber]),
        },
        Case {
            situation: "no number and only a live Temporary Access Pass we did not deliver: skipped \
                        (nobody may hold it)",
            policy: p.clone(),
            view: with(view(user(None)), |v| v.methods.push(tap())),
            want: Plan::Skip(SkipReason::NoNumber),
        },
        Case {
            situation: "no number and only the live pass our record says we delivered: MFA \
                        raised on the pass",
            policy: p.clone(),
            view: with(view(user(None)), |v| {
                v.methods.push(tap());
                v.open_bootstrap = Some(delivered_record(
                    v,
                    OffsetDateTime::UNIX_EPOCH,
                    crate::delivery::Channel::ManagerEmail,
                ));
            }),
            want: enroll(vec![mfa(ENABLED)], vec![SkipReason::NoNumber]),
        },
        Case {
            situation: "no number and only an expired Temporary Access Pass is skipped",
            policy: p.clone(),
            view: with(view(user(None)), |v| v.methods.push(expired_tap())),
            want: Plan::Skip(SkipReason::NoNumber),
        },
        Case {
            situation: "no number and only an SSPR email is skipped",
            policy: p.clone(),
            view: with(view(user(Some(""))), |v| v.methods.push(email())),
            want: Plan::Skip(SkipReason::NoNumber),
        },
        Case {
            situation: "self-registered mobile with another number is left alone, MFA still enabled",
            policy: p.clone(),
            view: with(new_user.clone(), |v| {
                v.methods.push(phone_method(PhoneType::Mobile, B))
            }),
            want: enroll(
                vec![SMS, mfa(ENABLED)],
                vec![SkipReason::SelfRegisteredPhoneDiffers],
            ),
        },
        Case {
            situation: "self-registered mobile with the directory's number needs no phone write",
            policy: p.clone(),
            view: with(new_user.clone(), |v| {
                v.methods.push(phone_method(PhoneType::Mobile, A))
            }),
            want: enroll(vec![SMS, mfa(ENABLED)], vec![]),
        },
        Case {
            situation: "self-registered mobile typed with a trunk zero matches the directory",
            policy: p.clone(),
            view: with(new_user.clone(), |v| {
                v.methods
                    .push(phone_method(PhoneType::Mobile, "+31 0612345678"))
            }),
            want: enroll(vec![SMS, mfa(ENABLED)], vec![]),
        },
        Case {
            situation: "self-registered mobile is kept even under report-only with no memory",
            policy: with(p.clone(), |p| {
                p.on_number_change = NumberChangePolicy::ReportOnly
            }),
            view: with(enrolled(), |v| {
                v.managed = None;
                v.user.mobile_phone = Some("06-87654321".into());
            }),
            want: enroll(vec![], vec![SkipReason::SelfRegisteredPhoneDiffers]),
        },
        Case {
            situation: "changed number updates the phone we registered",
            policy: p.clone(),
            view: with(enrolled(), |v| {
                v.user.mobile_phone = Some("06-87654321".into())
            }),
            want: enroll(vec![update_mobile(B)], vec![]),
        },
        Case {
            situation: "changed number is only reported under report-only",
            policy: with(p.clone(), |p| {
                p.on_number_change = NumberChangePolicy::ReportOnly
            }),
            view: with(enrolled(), |v| {
                v.user.mobile_phone = Some("06-87654321".into())
            }),
            want: enroll(vec![], vec![SkipReason::NumberChangedReportOnly]),
        },
        Case {
            situation: "changed number that is a fixed line does not replace our mobile",
            policy: p.clone(),
            view: with(enrolled(), |v| {
                v.user.mobile_phone = Some("020-1234567".into())
            }),
            want: enroll(vec![], vec![SkipReason::NotAMobileNumber]),
        },
        Case {
            situation: "our phone that the user changed themselves is theirs now",
            policy: p.clone(),
            view: with(enrolled(), |v| {
                v.methods.retain(|m| m.odata_type != PHONE_METHOD_TYPE);
                v.methods.push(phone_method(PhoneType::Mobile, B));
                v.user.mobile_phone = Some("06-11122233".into());
            }),
            want: enroll(vec![], vec![SkipReason::SelfRegisteredPhoneDiffers]),
        },
        Case {
            situation: "our phone removed by an admin is not put back while the number is the same",
            policy: p.clone(),
            view: with(enrolled(), |v| v.methods = vec![password()]),
            want: Plan::Skip(SkipReason::ManagedPhoneRemoved),
        },
        Case {
            situation: "a phone from an unconfirmed write of ours is ours: a changed number updates it",
            policy: p.clone(),
            view: with(enrolled(), |v| {
                v.managed = Some(pending_only(PhoneType::Mobile, A));
                v.user.mobile_phone = Some("06-87654321".into());
            }),
            want: enroll(vec![update_mobile(B)], vec![]),
        },
        Case {
            situation: "an unconfirmed write of ours that never landed is tried again, not taken for a removal",
            policy: p.clone(),
            view: with(enrolled(), |v| {
                v.methods = vec![password()];
                v.managed = Some(pending_only(PhoneType::Mobile, A));
            }),
            want: enroll(vec![add_mobile(A)], vec![]),
        },
        Case {
            situation: "another number than the one we were writing is the user's own",
            policy: p.clone(),
            view: with(enrolled(), |v| {
                v.methods = vec![password(), phone_method(PhoneType::Mobile, B)];
                v.managed = Some(pending_only(PhoneType::Mobile, A));
                v.user.mobile_phone = Some("06-11122233".into());
            }),
            want: enroll(vec![], vec![SkipReason::SelfRegisteredPhoneDiffers]),
        },
        Case {
            situation: "our phone removed and the directory number changed since: new number added",
            policy: p.clone(),
            view: with(enrolled(), |v| {
                v.methods = vec![password()];
                v.user.mobile_phone = Some("06-87654321".into());
            }),
            want: enroll(vec![add_mobile(B)], vec![]),
        },
        Case {
            situation: "mobile cleared in the directory never deletes our phone",
            policy: p.clone(),
            view: with(enrolled(), |v| v.user.mobile_phone = None),
            want: enroll(vec![], vec![]),
        },
        Case {
            situation: "mobile turned to junk in the directory is reported, phone kept",
            policy: p.clone(),
            view: with(enrolled(), |v| v.user.mobile_phone = Some("n/a".into())),
            want: enroll(
                vec![],
                vec![SkipReason::InvalidNumber(PhoneRejection::Placeholder(
                    "n/a".into(),
                ))],
            ),
        },
        Case {
            situation: "office fallback registers the business phone for voice",
            policy: with(p.clone(), |p| p.office_fallback = true),
            view: with(view(user(None)), |v| {
                v.user.business_phones = Some(vec!["020-1234567".into()])
            }),
            want: enroll(
                vec![add_office(FIXED), mfa(ENABLED)],
                vec![SkipReason::NoNumber],
            ),
        },
        Case {
            situation: "office fallback is off by default",
            policy: p.clone(),
            view: with(view(user(None)), |v| {
                v.user.business_phones = Some(vec!["020-1234567".into()])
            }),
            want: Plan::Skip(SkipReason::NoNumber),
        },
        Case {
            situation: "office fallback with a fixed line in mobilePhone uses the business phone",
            policy: with(p.clone(), |p| p.office_fallback = true),
            view: with(view(user(Some("010 123 4567"))), |v| {
                v.user.business_phones = Some(vec!["020-1234567".into()])
            }),
            want: enroll(
                vec![add_office(FIXED), mfa(ENABLED)],
                vec![SkipReason::NotAMobileNumber],
            ),
        },
        Case {
            situation: "office fallback with an invalid business phone still skips the user",
            policy: with(p.clone(), |p| p.office_fallback = true),
            view: with(view(user(None)), |v| {
                v.user.business_phones = Some(vec!["n/a".into()])
            }),
            want: Plan::Skip(SkipReason::NoNumber),
        },
        Case {
            situation: "office fallback leaves an existing office phone alone",
            policy: with(p.clone(), |p| p.office_fallback = true),
            view: with(view(user(None)), |v| {
                v.user.business_phones = Some(vec!["020-1234567".into()]);
                v.methods
                    .push(phone_method(PhoneType::Office, "+31 101234567"));
            }),
            want: enroll(vec![mfa(ENABLED)], vec![SkipReason::NoNumber]),
        },
        Case {
            situation: "office fallback is not used when a mobile is being added",
            policy: with(p.clone(), |p| p.office_fallback = true),
            view: with(new_user.clone(), |v| {
                v.user.business_phones = Some(vec!["020-1234567".into()])
            }),
            want: enroll(dutch_mobile_actions.clone(), vec![]),
        },
        Case {
            situation: "a preference the user chose themselves is kept",
            policy: p.clone(),
            view: with(new_user.clone(), |v| {
                v.methods.push(authenticator());
                v.sign_in_preferences = Some(prefs("push"));
            }),
            want: enroll(vec![add_mobile(A), mfa(ENABLED)], vec![]),
        },
        Case {
            situation: "preference none is replaced by SMS",
            policy: p.clone(),
            view: with(new_user.clone(), |v| {
                v.sign_in_preferences = Some(prefs("none"))
            }),
            want: enroll(dutch_mobile_actions.clone(), vec![]),
        },
        Case {
            situation: "a fixed line someone registered as mobile gets no SMS preference",
            policy: p.clone(),
            view: with(view(user(None)), |v| {
                v.methods.push(phone_method(PhoneType::Mobile, FIXED))
            }),
            want: enroll(vec![mfa(ENABLED)], vec![]),
        },
    ]
}

#[test]
fn table_of_situations() {
    let cases = cases();
    assert!(cases.len() >= 40, "{} cases", cases.len());
    let mut failures = Vec::new();
    for c in &cases {
        let got = plan(&c.policy, &c.view);
        if got != c.want {
            failures.push(format!(
                "{}:\n    want {:?}\n    got  {:?}",
                c.situation, c.want, got
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} situations wrong:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
}

#[test]
fn situations_have_distinct_names() {
    let cases = cases();
    let names: std::collections::BTreeSet<_> = cases.iter().map(|c| c.situation).collect();
    assert_eq!(names.len(), cases.len());
}

#[test]
fn exclusion_check_needs_only_upn_and_groups() {
    let p = policy();
    assert_eq!(
        excluded(&p, Some("breakglass@contoso.com"), &[]),
        Some(SkipReason::Excluded(Exclusion::Upn))
    );
    assert_eq!(
        excluded(&p, Some("anna@contoso.com"), &[G_EXCLUDED.to_owned()]),
        Some(SkipReason::Excluded(Exclusion::Group(G_EXCLUDED.into())))
    );
    assert_eq!(excluded(&p, Some("anna@contoso.com"), &[]), None);
}

#[test]
fn phone_method_without_phone_type_is_recognised_by_its_fixed_id() {
    let mut m = phone_method(PhoneType::Mobile, B);
    m.properties.remove("phoneType");
    assert_eq!(m.id, method_ids::MOBILE);
    let v = with(view(user(Some("06-12345678"))), |v| v.methods.push(m));
    assert_eq!(
        plan(&policy(), &v),
        enroll(
            vec![SMS, mfa(ENABLED)],
            vec![SkipReason::SelfRegisteredPhoneDiffers]
        )
    );
}

#[test]
fn plans_and_actions_never_show_numbers_in_clear() {
    let got = plan(&policy(), &view(user(Some("06-12345678"))));
    let text = format!("{got:?}");
    assert!(!text.contains("612345678"), "{text}");
    let labels: Vec<_> = got.actions().iter().map(Action::label).collect();
    assert_eq!(
        labels,
        vec!["addMobile", "setSmsPreferred", "setPerUserMfa:enabled"]
    );
}

#[test]
fn reason_codes_are_stable() {
    assert_eq!(
        SkipReason::InvalidNumber(PhoneRejection::TooShort).code(),
        "invalidNumber:tooShort"
    );
    assert_eq!(
        SkipReason::Excluded(Exclusion::Group(G_EXCLUDED.into())).code(),
        format!("excluded:group:{G_EXCLUDED}")
    );
}
