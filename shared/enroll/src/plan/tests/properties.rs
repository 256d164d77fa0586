//! Invariants of `plan`, checked over many generated users and policies. The generator is a
//! seeded xorshift so every run checks the same cases and a failure prints its seed.

use super::*;

/// Deterministic pseudo-random choices.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        // xorshift64*
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn pick<T: Clone>(&mut self, items: &[T]) -> T {
        items[(self.next() % items.len() as u64) as usize].clone()
    }
    fn chance(&mut self, one_in: u64) -> bool {
        self.next().is_multiple_of(one_in)
    }
}

const RAW_MOBILES: &[Option<&str>] = &[
    None,
    Some(""),
    Some("n/a"),
    Some("call reception"),
    Some("06-12345678"),
    Some("0031 6 1234 5678"),
    Some("+31 6 87654321"),
    Some("020-1234567"),
    Some("+1 (206) 555-0100 ext. 12"),
    Some("+1 206 555 0100"),
    Some("+44 7400 123456"),
];
const EXISTING_NUMBERS: &[&str] = &[A, B, "+31 0612345678", FIXED, "+1 2065550100"];

fn generate(rng: &mut Rng) -> (Policy, UserView) {
    let mut policy = Policy {
        default_region: rng.pick(&[Some("NL".parse().unwrap()), None]),
        mfa_mode: rng.pick(&[
            MfaMode::PerUserEnabled,
            MfaMode::PerUserEnforced,
            MfaMode::Group(G_MFA.into()),
            MfaMode::None,
        ]),
        set_sms_default: true,
        excluded_upns: ["breakglass@contoso.com".to_owned()].into(),
        excluded_groups: if rng.chance(2) {
            [G_EXCLUDED.to_owned()].into()
        } else {
            Default::default()
        },
        scope_groups: if rng.chance(4) {
            [G_SCOPE.to_owned()].into()
        } else {
            Default::default()
        },
        include_guests: rng.chance(3),
        on_number_change: rng.pick(&[
            NumberChangePolicy::UpdateManaged,
            NumberChangePolicy::ReportOnly,
        ]),
        office_fallback: rng.chance(2),
        telephony: Default::default(),
        bootstrap: Default::default(),
        sms_default_always: false,
    };
    policy.set_sms_default_mode(rng.pick(&[
        SmsDefault::WhenEffective,
        SmsDefault::WhenEffective,
        SmsDefault::Always,
        SmsDefault::Never,
    ]));
    let mut u = user(rng.pick(RAW_MOBILES));
    u.user_principal_name = Some(
        rng.pick(&[
            "anna@contoso.com",
            "anna@contoso.com",
            "anna@contoso.com",
            "BreakGlass@contoso.com",
            "bob_fabrikam.com#EXT#@contoso.onmicrosoft.com",
        ])
        .to_owned(),
    );
    u.user_type = rng.pick(&[Some("Member".to_owned()), Some("Guest".to_owned()), None]);
    u.account_enabled = rng.pick(&[Some(true), Some(true), Some(false), None]);
    if rng.chance(20) {
        u.removed = Some(Removed {
            reason: "changed".into(),
        });
    }
    u.business_phones = rng.pick(&[
        None,
        Some(vec![]),
        Some(vec!["020-1234567".to_owned()]),
        Some(vec!["n/a".to_owned(), "020-1234567".to_owned()]),
        Some(vec!["06-87654321".to_owned()]),
    ]);
    let mut v = view(u);
    if rng.chance(2) {
        v.methods
            .push(phone_method(PhoneType::Mobile, rng.pick(EXISTING_NUMBERS)));
    }
    if rng.chance(4) {
        v.methods.push(phone_method(
            PhoneType::Office,
            rng.pick(&[FIXED, "+31 101234567"]),
        ));
    }
    match rng.next() % 5 {
        0 => v.methods.push(authenticator()),
        1 => v.methods.push(tap()),
        2 => v.methods.push(email()),
        _ => {}
    }
    // Our memory: nothing, a confirmed phone, or a write-ahead `pending` entry whose outcome
    // we never saw — alone (the first write) or over a confirmed phone (an update).
    v.managed = match rng.next() % 6 {
        0 => Some(ours(PhoneType::Mobile, rng.pick(&[A, B, FIXED]))),
        1 => Some(ours(PhoneType::Office, FIXED)),
        2 => Some(pending_only(
            rng.pick(&[PhoneType::Mobile, PhoneType::Mobile, PhoneType::Office]),
            rng.pick(&[A, B, FIXED]),
        )),
        3 => {
            let confirmed = rng.pick(&[A, B]);
            let pending = pending_only(PhoneType::Mobile, rng.pick(&[A, B])).pending;
            Some(ManagedPhone {
                pending,
                ..ours(PhoneType::Mobile, confirmed)
            })
        }
        _ => None,
    };
    v.mfa_state = rng.pick(&[
        None,
        Some(PerUserMfaState::Disabled),
        Some(PerUserMfaState::Disabled),
        Some(PerUserMfaState::Enabled),
        Some(PerUserMfaState::Enforced),
        Some(PerUserMfaState::UnknownFutureValue),
    ]);
    v.sign_in_preferences = rng.pick(&[
        None,
        Some(SignInPreferences::default()),
        Some(prefs("sms")),
        Some(prefs("push")),
        Some(prefs("none")),
    ]);
    if let Some(p) = &mut v.sign_in_preferences {
        p.is_system_preferred_authentication_method_enabled =
            rng.pick(&[None, Some(true), Some(true), Some(false)]);
    }
    for g in [G_MFA, G_EXCLUDED, G_SCOPE] {
        if rng.chance(4) {
            v.group_membership.push(g.to_owned());
        }
    }
    v.phone_delivery = rng.pick(&[
        PhoneDelivery::ALL,
        PhoneDelivery::ALL,
        PhoneDelivery::NONE,
        PhoneDelivery::NONE,
        PhoneDelivery {
            sms: false,
            voice: true,
        },
    ]);
    match rng.next() % 6 {
        0 => v.methods.push(passkey()),
        1 => v.methods.push(expired_tap()),
        _ => {}
    }
    if rng.chance(2) {
        policy.bootstrap = bootstrap_on(rng.pick(&[
            crate::policy::BootstrapMode::WhenNoUsableMethod,
            crate::policy::BootstrapMode::WhenNoUsableMethod,
            crate::policy::BootstrapMode::AlwaysForNewUsers,
        ]));
        v.user.created_date_time = rng.pick(&[None, Some("2026-12-01T09:00:00Z".to_owned())]);
        v.bootstrap = Some(BootstrapView {
            tap_policy: rng.pick(&[Some(tap_policy()), Some(tap_policy()), None]),
            manager_mail: rng.pick(&[
                None,
                Some(None),
                Some(Some("petra@contoso.com".to_owned())),
                Some(Some("petra@contoso.com".to_owned())),
            ]),
            hire_date: rng.pick(&[None, Some(NOW + time::Duration::days(3))]),
            issued: rng.pick(&[0, 0, 1, 5]),
        });
    }
    (policy, v)
}

/// What Graph and our memory look like after `actions` succeeded (a model of `apply`).
fn apply_to_model(view: &UserView, actions: &[Action]) -> UserView {
    let mut v = view.clone();
    let mut version = v.managed.as_ref().map_or(0, |m| m.version);
    let mut remember = |v: &mut UserView, t: PhoneType, n: &GraphNumber| {
        version += 1;
        v.managed = Some(ManagedPhone {
            version,
            pending: None,
            ..ours(t, n.expose())
        });
    };
    for action in actions {
        match action {
            Action::AddMobile { number } => {
                v.methods
                    .push(phone_method(PhoneType::Mobile, number.expose()));
                remember(&mut v, PhoneType::Mobile, number);
            }
            Action::UpdateManagedMobile { number } => {
                for m in &mut v.methods {
                    if m.id == method_ids::MOBILE {
                        m.properties
                            .insert("phoneNumber".into(), json!(number.expose()));
                    }
                }
                remember(&mut v, PhoneType::Mobile, number);
            }
            Action::AddOffice { number } => {
                v.methods
                    .push(phone_method(PhoneType::Office, number.expose()));
                remember(&mut v, PhoneType::Office, number);
            }
            Action::SetSmsPreferred => {
                // The PATCH writes only the preference; system-preferred MFA stays as it was.
                let p = v.sign_in_preferences.get_or_insert_with(Default::default);
                p.user_preferred_method_for_secondary_authentication = Some("sms".into());
            }
            Action::SetPerUserMfa { state } => v.mfa_state = Some(*state),
            Action::AddToGroup { group_id } => v.group_membership.push(group_id.clone()),
            Action::IssueTap { channel, .. } => {
                // apply: create (replacing any pass), record ahead, deliver, mark delivered.
                v.methods
                    .retain(|m| !m.odata_type.eq_ignore_ascii_case(TAP_METHOD_TYPE));
                v.methods.push(tap());
                v.open_bootstrap = Some(delivered_record(&v, v.now, *channel));
            }
        }
    }
    v
}

fn existing(view: &UserView, t: PhoneType) -> Option<String> {
    view.methods
        .iter()
        .find(|m| m.odata_type == PHONE_METHOD_TYPE && m.id == t.method_id().unwrap())
        .and_then(|m| m.properties.get("phoneNumber"))
        .and_then(|n| n.as_str())
        .map(str::to_owned)
}

/// A lasting method, or a phone Entra delivers to (any phone by voice, a mobile by SMS).
fn usable_before(view: &UserView) -> bool {
    let d = view.phone_delivery;
    has_lasting_method(&view.methods)
        || view.methods.iter().any(|m| {
            m.odata_type == PHONE_METHOD_TYPE && (d.voice || (d.sms && m.id == method_ids::MOBILE))
        })
}

fn check(policy: &Policy, view: &UserView) -> Result<(), String> {
    let got = plan(policy, view);
    let actions = got.actions();

    // Excluded users yield no action, ever.
    if let Some(e) = policy.exclusion(
        view.user.user_principal_name.as_deref(),
        &view.group_membership,
    ) && got != Plan::Skip(SkipReason::Excluded(e))
    {
        return Err(format!("excluded user planned {got:?}"));
    }
    // MFA only with a usable method (before, or a delivered phone added by this very plan), or
    // a pass that is (or by then will be) in the right hands — never on an undeliverable phone.
    let adds_delivered_phone =
        actions.iter().any(Action::is_phone_write) && view.phone_delivery.any();
    let issues_tap = actions.iter().any(|a| matches!(a, Action::IssueTap { .. }));
    if actions.iter().any(Action::enables_mfa)
        && !usable_before(view)
        && !adds_delivered_phone
        && !issues_tap
        && !has_pending_tap(view)
    {
        return Err(format!("MFA without a usable method: {got:?}"));
    }
    // Never a pass for a user with a lasting method, or for one whose phone works (unless the
    // policy hands one to every new user), or while a pass is pending; never two.
    if issues_tap {
        if has_lasting_method(&view.methods) {
            return Err(format!("TAP for a user with a lasting method: {got:?}"));
        }
        if has_pending_tap(view) {
            return Err(format!("second TAP while one is pending: {got:?}"));
        }
        let always = matches!(
            policy.bootstrap_effect(),
            crate::policy::BootstrapEffect::On {
                mode: crate::policy::BootstrapMode::AlwaysForNewUsers,
                ..
            }
        );
        if usable_before(view) && !always {
            return Err(format!("TAP for a user whose phone works: {got:?}"));
        }
        let taps = actions
            .iter()
            .filter(|a| matches!(a, Action::IssueTap { .. }))
            .count();
        if taps > 1 {
            return Err(format!("{taps} passes in one plan: {got:?}"));
        }
    }
    // A phone the user registered is never changed; nothing is ever added over a phone.
    let mobile = existing(view, PhoneType::Mobile);
    for a in actions {
        match a {
            Action::AddMobile { .. } if mobile.is_some() => {
                return Err(format!("added a mobile over an existing one: {got:?}"));
            }
            Action::AddOffice { .. } if existing(view, PhoneType::Office).is_some() => {
                return Err(format!(
                    "added an office phone over an existing one: {got:?}"
                ));
            }
            Action::UpdateManagedMobile { .. } => {
                // Ours: registered by us, or the number of a write of ours still pending.
                let ours = mobile
                    .as_deref()
                    .and_then(phone::canonical)
                    .is_some_and(|n| {
                        view.managed.as_ref().is_some_and(|m| {
                            m.claims(PhoneType::Mobile, &phone::fingerprint(TENANT, &n))
                        })
                    });
                if !ours {
                    return Err(format!("updated a phone that is not ours: {got:?}"));
                }
                if policy.on_number_change == NumberChangePolicy::ReportOnly {
                    return Err(format!("updated under report-only: {got:?}"));
                }
            }
            _ => {}
        }
        // Only SMS-capable numbers become `mobile`.
        if let Action::AddMobile { number } | Action::UpdateManagedMobile { number } = a {
            let n = phone::normalize(number.expose(), None).map_err(|e| e.to_string())?;
            if !n.is_sms_capable() {
                return Err(format!("non-SMS number as mobile: {got:?}"));
            }
        }
        // Per-user MFA only goes up.
        if let Action::SetPerUserMfa { state } = a
            && matches!(
                (view.mfa_state, state),
                (Some(PerUserMfaState::Enforced), _)
                    | (Some(PerUserMfaState::Enabled), PerUserMfaState::Enabled)
                    | (Some(PerUserMfaState::UnknownFutureValue), _)
            )
        {
            return Err(format!("MFA state not raised: {got:?}"));
        }
    }
    // The SMS preference is written only where it takes effect, unless the policy says always.
    let sets_sms = actions.contains(&Action::SetSmsPreferred);
    let system_preferred = view
        .sign_in_preferences
        .as_ref()
        .and_then(|p| p.is_system_preferred_authentication_method_enabled);
    match policy.sms_default() {
        SmsDefault::Never if sets_sms => {
            return Err(format!("SMS preference under never: {got:?}"));
        }
        SmsDefault::WhenEffective if sets_sms && system_preferred == Some(true) => {
            return Err(format!(
                "SMS preference written where system-preferred MFA ignores it: {got:?}"
            ));
        }
        _ => {}
    }
    // System-preferred MFA changes nothing but that one write: under `always` nothing at all;
    // under `when-effective` the plan with it on is the plan with it off minus the preference.
    let with_system_preferred = |on: bool| {
        let mut v = view.clone();
        v.sign_in_preferences
            .get_or_insert_with(Default::default)
            .is_system_preferred_authentication_method_enabled = Some(on);
        plan(policy, &v)
    };
    let (on, off) = (with_system_preferred(true), with_system_preferred(false));
    let off_without_sms: Vec<Action> = off
        .actions()
        .iter()
        .filter(|a| policy.sms_default() == SmsDefault::Always || **a != Action::SetSmsPreferred)
        .cloned()
        .collect();
    if on.actions() != off_without_sms.as_slice() || on.reasons() != off.reasons() {
        return Err(format!(
            "system-preferred MFA changed more than the preference: on {on:?}, off {off:?}"
        ));
    }
    // Phone writes come before the preference, which comes before MFA.
    let rank = |a: &Action| match a {
        Action::AddMobile { .. }
        | Action::UpdateManagedMobile { .. }
        | Action::AddOffice { .. } => 0,
        Action::IssueTap { .. } => 1,
        Action::SetSmsPreferred => 2,
        Action::SetPerUserMfa { .. } | Action::AddToGroup { .. } => 3,
    };
    if actions.windows(2).any(|w| rank(&w[0]) > rank(&w[1])) {
        return Err(format!("unsafe order: {got:?}"));
    }
    // A write-ahead entry whose phone never reached Graph is as if we had written nothing: it
    // claims no phone, and is no ground for "someone removed our phone, leave it".
    if let Some(m) = &view.managed
        && m.number_hash.is_empty()
        && let Some(p) = &m.pending
        && existing(view, p.phone_type).is_none()
    {
        let mut forgotten = view.clone();
        forgotten.managed = None;
        let without = plan(policy, &forgotten);
        if without != got {
            return Err(format!(
                "an unlanded pending write changed the plan: {got:?} vs {without:?}"
            ));
        }
    }
    // Re-planning on the state the plan produced yields no action.
    let after = apply_to_model(view, actions);
    let again = plan(policy, &after);
    if !again.actions().is_empty() {
        return Err(format!("not idempotent: first {got:?}, then {again:?}"));
    }
    // Deterministic.
    if plan(policy, view) != got {
        return Err("not deterministic".into());
    }
    Ok(())
}

#[test]
fn invariants_hold_for_generated_users_and_policies() {
    let mut covered_actions = std::collections::BTreeSet::new();
    let mut covered_reasons = std::collections::BTreeSet::new();
    let mut pending_claims_updated = 0;
    for seed in 1..=6_000u64 {
        let mut rng = Rng(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15));
        let (policy, view) = generate(&mut rng);
        if let Err(e) = check(&policy, &view) {
            panic!("seed {seed}: {e}\npolicy {policy:?}\nview {view:?}");
        }
        let p = plan(&policy, &view);
        if view
            .managed
            .as_ref()
            .is_some_and(|m| m.number_hash.is_empty() && m.pending.is_some())
            && p.actions()
                .iter()
                .any(|a| matches!(a, Action::UpdateManagedMobile { .. }))
        {
            pending_claims_updated += 1;
        }
        for a in p.actions() {
            covered_actions.insert(a.label().split(':').next().unwrap_or_default().to_owned());
        }
        for r in p.reasons() {
            covered_reasons.insert(r.code().split(':').next().unwrap_or_default().to_owned());
        }
    }
    // The generator must reach every kind of action and most reasons, or it proves little.
    assert_eq!(covered_actions.len(), 7, "{covered_actions:?}");
    assert!(covered_reasons.len() >= 11, "{covered_reasons:?}");
    // …and a phone that only a pending write of ours claims, updated as ours.
    assert!(
        pending_claims_updated > 0,
        "no pending-only record led to an update"
    );
}
