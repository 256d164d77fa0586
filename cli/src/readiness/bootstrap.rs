//! Readiness for the TAP bootstrap and passkeys, as `doctor` rows: the Temporary Access Pass
//! method policy (state, targets against autoenroll's scope, lifetime limits, one-time use), the
//! FIDO2 (passkey) method policy, and the Conditional Access policy that protects "register
//! security information" — whose grant a TAP must be able to satisfy, or a bootstrapped user
//! cannot register anything (PASSKEY-ERA.md §2, §3, §7).
//!
//! Pure functions over what Graph returned, so every outcome is table-tested; the async part
//! only reads.

use autoenroll_core::policy::{BootstrapEffect, BootstrapOff, Policy};
use autoenroll_graph::GraphClient;
use autoenroll_graph::model::methods_policy::{
    AuthenticationMethodsPolicy, MethodConfiguration, MethodConfigurationId,
};
use autoenroll_graph::model::{
    AuthenticationStrengthPolicy, ConditionalAccessPolicy, ConditionalAccessPolicyState,
};

use super::{check, targets};
use crate::doctor::{Check, Status};

/// The shortest default TAP lifetime we call enough for onboarding: the pass goes to a manager
/// by e-mail (or to the mobile by SMS) and must still be valid when the new user sits down with
/// it. Microsoft's own default is 60 minutes; anything shorter routinely expires in the inbox.
pub const ONBOARDING_WINDOW_MINUTES: u32 = 60;

/// Microsoft's documented defaults when the configuration omits a value (PASSKEY-ERA.md §2).
const DEFAULT_LIFETIME: u32 = 60;
const DEFAULT_MINIMUM: u32 = 60;
const DEFAULT_MAXIMUM: u32 = 480;

/// Whether a method configuration's targets reach everyone autoenroll handles: `all_users`, or
/// every scope group when the policy has a scope. `None` when they do; else what is missing.
fn uncovered_scope(config: &MethodConfiguration, policy: &Policy) -> Option<String> {
    let include: Vec<&str> = config
        .include_targets
        .iter()
        .flatten()
        .map(|t| t.id.as_str())
        .collect();
    if include.contains(&"all_users") {
        return None;
    }
    if policy.scope_groups.is_empty() {
        return Some(
            "autoenroll handles all users but the policy does not target all_users".into(),
        );
    }
    let missing: Vec<&str> = policy
        .scope_groups
        .iter()
        .map(String::as_str)
        .filter(|g| !include.contains(g))
        .collect();
    (!missing.is_empty()).then(|| format!("scope group(s) not targeted: {}", missing.join(", ")))
}

/// Excluded groups that are not autoenroll's own exclusions: users there are in autoenroll's
/// scope but cannot use the method (exclude wins over include).
fn foreign_exclusions(config: &MethodConfiguration, policy: &Policy) -> Vec<String> {
    config
        .exclude_targets
        .iter()
        .flatten()
        .filter(|t| !policy.excluded_groups.contains(&t.id))
        .map(|t| t.id.clone())
        .collect()
}

fn targeting_problem(config: &MethodConfiguration, policy: &Policy) -> Option<String> {
    if let Some(gap) = uncovered_scope(config, policy) {
        return Some(gap);
    }
    let foreign = foreign_exclusions(config, policy);
    (!foreign.is_empty()).then(|| {
        format!(
            "excludes group(s) {} that autoenroll does not exclude: their members cannot use it",
            foreign.join(", ")
        )
    })
}

/// Whether autoenroll's own TAP bootstrap is on, and why not when it is off
/// ([`Policy::bootstrap_effect`]): on is OK; off is a WARN only when it was not asked to be
/// off, since from the retirement date new users without a usable phone get nothing.
pub fn bootstrap_row(policy: &Policy) -> Check {
    const ROW: &str = "TAP bootstrap";
    match policy.bootstrap_effect() {
        BootstrapEffect::On { mode, delivery } => check(
            ROW,
            Status::Ok,
            format!("on: {mode}, the pass goes by {delivery}"),
        ),
        BootstrapEffect::Off(why @ BootstrapOff::SetOff) => {
            check(ROW, Status::Ok, format!("off: {why}"))
        }
        BootstrapEffect::Off(why) => check(
            ROW,
            Status::Warn,
            format!("off: {why}. New users without a usable method get no Temporary Access Pass"),
        ),
    }
}

/// The TAP and FIDO2 rows for a methods policy already read.
pub fn method_checks(methods: &AuthenticationMethodsPolicy, policy: &Policy) -> Vec<Check> {
    let bootstrap_on = matches!(policy.bootstrap_effect(), BootstrapEffect::On { .. });
    vec![
        tap_check(
            methods.configuration(MethodConfigurationId::TemporaryAccessPass),
            policy,
            bootstrap_on,
        ),
        passkey_check(methods.configuration(MethodConfigurationId::Fido2), policy),
    ]
}

const TAP: &str = "Temporary Access Pass policy";
const FIDO2: &str = "passkey (FIDO2) policy";

/// Without bootstrap configured, a TAP gap is only a WARN: nothing autoenroll does fails, but
/// the users SMS leaves behind on the retirement date have no other way in.
fn tap_check(config: Option<&MethodConfiguration>, policy: &Policy, bootstrap_on: bool) -> Check {
    let gap = if bootstrap_on {
        Status::Fail
    } else {
        Status::Warn
    };
    let Some(config) = config.filter(|c| c.is_enabled()) else {
        return check(
            TAP,
            gap,
            "disabled: a pass can be created but nobody can sign in with it, so new users \
             without a usable phone have no way to register a passkey or Authenticator; enable \
             it (Authentication methods > Temporary Access Pass)",
        );
    };
    let scope = targets(config);
    if let Some(problem) = targeting_problem(config, policy) {
        return check(
            TAP,
            gap,
            format!(
                "enabled, {scope}; {problem}: passes issued to those users do not work. Target \
                 all_users or the scope groups"
            ),
        );
    }
    let default = config
        .default_lifetime_in_minutes
        .unwrap_or(DEFAULT_LIFETIME);
    let min = config
        .minimum_lifetime_in_minutes
        .unwrap_or(DEFAULT_MINIMUM);
    let max = config
        .maximum_lifetime_in_minutes
        .unwrap_or(DEFAULT_MAXIMUM);
    let limits = format!("default {default} min (allowed {min}–{max})");
    // autoenroll creates passes without a lifetime, so Graph applies the default: outside the
    // limits, every create is rejected.
    if default < min || default > max {
        return check(
            TAP,
            Status::Fail,
            format!(
                "enabled, {scope}; {limits}: the default lifetime is outside the limits, so a \
                 pass created with it is rejected. Set defaultLifetimeInMinutes between them"
            ),
        );
    }
    if default < ONBOARDING_WINDOW_MINUTES {
        return check(
            TAP,
            Status::Warn,
            format!(
                "enabled, {scope}; {limits}: shorter than {ONBOARDING_WINDOW_MINUTES} minutes, a \
                 pass sent to a manager may expire before the new user uses it. Raise \
                 defaultLifetimeInMinutes"
            ),
        );
    }
    match config.is_usable_once {
        Some(true) => check(
            TAP,
            Status::Ok,
            format!("enabled, {scope}; {limits}; one-time use only"),
        ),
        _ => check(
            TAP,
            Status::Warn,
            format!(
                "enabled, {scope}; {limits}; isUsableOnce is false: passes may be multi-use, so \
                 one read from a forwarded e-mail keeps working for its whole lifetime. Set \
                 isUsableOnce to true (one-time passes suffice to register a method)"
            ),
        ),
    }
}

fn passkey_check(config: Option<&MethodConfiguration>, policy: &Policy) -> Check {
    let Some(config) = config.filter(|c| c.is_enabled()) else {
        return check(
            FIDO2,
            Status::Warn,
            "disabled: users cannot register a passkey, the phishing-resistant replacement for \
             SMS; enable it (Authentication methods > Passkey (FIDO2))",
        );
    };
    let scope = targets(config);
    match targeting_problem(config, policy) {
        Some(problem) => check(
            FIDO2,
            Status::Warn,
            format!(
                "enabled, {scope}; {problem}: those users cannot register a passkey. Target \
                 all_users or the scope groups"
            ),
        ),
        None => check(
            FIDO2,
            Status::Ok,
            format!("enabled, {scope}: everyone autoenroll handles can register a passkey"),
        ),
    }
}

const CA: &str = "security info registration (CA)";

/// What a policy's grant allows a TAP holder to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Grant {
    /// Plain MFA or a strength with a TAP mode: a TAP satisfies it.
    TapSatisfies,
    /// A strength without a TAP mode (phishing-resistant, passwordless, a custom one).
    TapBlocked,
    /// No MFA requirement (block, compliant device, …): not our concern here.
    Other,
}

fn grant_of(policy: &ConditionalAccessPolicy, strengths: &[AuthenticationStrengthPolicy]) -> Grant {
    let Some(grant) = &policy.grant_controls else {
        return Grant::Other;
    };
    if let Some(strength) = &grant.authentication_strength {
        // The policy embeds the strength's id (and sometimes its combinations): the listed
        // strength is authoritative, the embedded copy a fallback.
        let full = strengths
            .iter()
            .find(|s| s.id == strength.id)
            .unwrap_or(strength);
        return if full.allows_temporary_access_pass() {
            Grant::TapSatisfies
        } else {
            Grant::TapBlocked
        };
    }
    if grant.built_in_controls.iter().any(|c| c == "mfa") {
        Grant::TapSatisfies
    } else {
        Grant::Other
    }
}

fn name_of(policy: &ConditionalAccessPolicy) -> String {
    match &policy.display_name {
        Some(n) => format!("'{n}'"),
        None => policy.id.clone(),
    }
}

/// The registration row for the enforced CA policies and the tenant's strengths.
pub fn registration_check(
    policies: &[ConditionalAccessPolicy],
    strengths: &[AuthenticationStrengthPolicy],
) -> Check {
    let enforced: Vec<&ConditionalAccessPolicy> = policies
        .iter()
        .filter(|p| p.state == ConditionalAccessPolicyState::Enabled)
        .filter(|p| p.targets_security_info_registration())
        .collect();
    // A blocking strength wins: Conditional Access applies every matching policy, so one
    // phishing-resistant requirement locks TAP holders out whatever the others allow.
    let blocking: Vec<String> = enforced
        .iter()
        .filter(|p| grant_of(p, strengths) == Grant::TapBlocked)
        .map(|p| name_of(p))
        .collect();
    if !blocking.is_empty() {
        return check(
            CA,
            Status::Fail,
            format!(
                "{} require(s) an authentication strength a Temporary Access Pass cannot satisfy \
                 for registering security info: TAP-bootstrapped users cannot register a \
                 passkey or Authenticator and are locked out. Use the built-in 'Multifactor \
                 authentication' strength (…0002) or require MFA there",
                blocking.join(", ")
            ),
        );
    }
    let satisfied: Vec<String> = enforced
        .iter()
        .filter(|p| grant_of(p, strengths) == Grant::TapSatisfies)
        .map(|p| name_of(p))
        .collect();
    if satisfied.is_empty() {
        let report_only = policies.iter().any(|p| {
            p.state == ConditionalAccessPolicyState::EnabledForReportingButNotEnforced
                && p.targets_security_info_registration()
        });
        return check(
            CA,
            Status::Warn,
            format!(
                "no enforced Conditional Access policy requires MFA to register security info{}: \
                 whoever holds a new user's password can register their own phone or passkey. \
                 Create one from Microsoft's template 'Securing security info registration' \
                 with grant 'Multifactor authentication' (a TAP satisfies it)",
                if report_only {
                    " (one is report-only, which does not enforce)"
                } else {
                    ""
                }
            ),
        );
    }
    check(
        CA,
        Status::Ok,
        format!(
            "{} require(s) MFA to register security info, and a Temporary Access Pass satisfies it",
            satisfied.join(", ")
        ),
    )
}

/// Reads the CA policies and strengths (Policy.Read.All) and evaluates them; a missing
/// permission or a failed read is a WARN row saying what to do, never a doctor failure.
pub async fn registration(graph: &GraphClient) -> Check {
    let unreadable = |e: autoenroll_graph::GraphError| {
        let what = if e.is_forbidden() {
            "grant Policy.Read.All (read-only) so doctor can check that the Conditional Access \
             policy protecting security info registration accepts a Temporary Access Pass"
                .to_owned()
        } else {
            format!(
                "Conditional Access could not be read: {}",
                crate::coverage::read::summary(&e)
            )
        };
        check(CA, Status::Warn, what)
    };
    let policies = match graph.conditional_access().policies().await {
        Ok(p) => p,
        Err(e) => return unreadable(e),
    };
    let strengths = match graph.authentication_strengths().list().await {
        Ok(s) => s,
        Err(e) => return unreadable(e),
    };
    registration_check(&policies, &strengths)
}

#[cfg(test)]
mod tests;
