//! Readiness for the SMS/voice retirement, as `doctor` rows (and the report's telephony view):
//! the SMS and Voice method policies — state, targets, `policyMigrationState`, the telecom
//! provider and the days left before 2027-02-01 — the passkey auto-enablement opt-out and the
//! registration campaign, the Temporary Access Pass policy, and the FIDO2 (passkey) policy.
//!
//! The rows are computed by pure functions over the policy read once (beta
//! `GET /policies/authenticationMethodsPolicy`, which expands every method configuration and
//! carries `optOutSettings` and `telecomProviderSettings`), so each outcome is unit-testable
//! and the Graph read is one call. Sources: ../shared/graph-spec/PASSKEY-ERA.md §1–§2.

use autoenroll_core::coverage::{Provider, RETIREMENT, RETIREMENT_LATE, Telephony};
use autoenroll_graph::model::methods_policy::{
    AuthenticationMethodsPolicy, MethodConfiguration, MethodConfigurationId, PolicyMigrationState,
};
use autoenroll_graph::{ApiVersion, GraphClient};
use time::Date;

use crate::doctor::{Check, Status};
use autoenroll_core::policy::Policy;

pub mod bootstrap;
pub mod registration_report;
pub mod secure_score;

fn check(name: &str, status: Status, detail: impl Into<String>) -> Check {
    Check {
        check: name.to_owned(),
        status,
        detail: detail.into(),
    }
}

/// The methods policy (beta: with the opt-out and the provider settings), or a row saying why
/// it could not be read.
pub async fn read_policy(graph: &GraphClient) -> Result<AuthenticationMethodsPolicy, Check> {
    graph
        .methods_policy()
        .get(ApiVersion::Beta)
        .await
        .map_err(|e| {
            let what = if e.is_forbidden() {
                "grant Policy.Read.AuthenticationMethod (read-only) so doctor and report can check \
                 SMS/voice, TAP and passkey readiness"
                    .to_owned()
            } else {
                format!("could not be read: {}", crate::coverage::read::summary(&e))
            };
            check("authentication methods policy", Status::Warn, what)
        })
}

/// All readiness rows for `today`.
pub async fn checks(graph: &GraphClient, today: Date) -> Vec<Check> {
    match read_policy(graph).await {
        Ok(policy) => policy_checks(&policy, today),
        Err(row) => vec![row],
    }
}

/// What `doctor` shows: the rows above plus the TAP, passkey and registration-CA rows judged
/// against autoenroll's policy (its scope and bootstrap setting), from the same one read.
pub async fn checks_for(graph: &GraphClient, policy: &Policy, today: Date) -> Vec<Check> {
    let mut rows = match read_policy(graph).await {
        Ok(methods) => {
            let mut rows = policy_checks(&methods, today);
            rows.extend(bootstrap::method_checks(&methods, policy));
            rows
        }
        Err(row) => vec![row],
    };
    rows.push(bootstrap::bootstrap_row(policy));
    rows.push(bootstrap::registration(graph).await);
    rows.push(secure_score::secure_score(graph).await);
    rows.push(registration_report::registration_report(graph).await);
    rows
}

/// The rows for a policy already read.
pub fn policy_checks(policy: &AuthenticationMethodsPolicy, today: Date) -> Vec<Check> {
    let mut rows = telephony_checks(policy, today);
    rows.push(passkey_migration_check(policy));
    rows.push(campaign_check(policy));
    rows
}

/// The provider of one channel, as the report counts it.
fn provider_of(config: Option<&MethodConfiguration>) -> Provider {
    match config.and_then(|c| c.telecom_provider()) {
        None => Provider::None,
        Some(p) if p.is_in_production() => Provider::Production,
        Some(p) if p.is_evaluation_mode_enabled || p.url.is_empty() => Provider::Evaluation,
        Some(_) => Provider::Partial,
    }
}

/// What the report needs: is SMS or Voice on, and the weaker of the two channels' providers
/// (a phone user may get either; a channel without a provider breaks on the date).
pub fn telephony_view(policy: &AuthenticationMethodsPolicy) -> Telephony {
    let sms = policy.configuration(MethodConfigurationId::Sms);
    let voice = policy.configuration(MethodConfigurationId::Voice);
    let enabled = |c: Option<&MethodConfiguration>| c.is_some_and(MethodConfiguration::is_enabled);
    let legacy = policy.policy_migration_state != Some(PolicyMigrationState::MigrationComplete);
    let sms_on = enabled(sms);
    let voice_on = enabled(voice);
    let rank = |p: Provider| match p {
        Provider::Production => 3,
        Provider::Partial => 2,
        Provider::Evaluation => 1,
        Provider::None | Provider::Unknown => 0,
    };
    let provider = match (sms_on, voice_on) {
        (true, true) => {
            let (a, b) = (provider_of(sms), provider_of(voice));
            if rank(a) <= rank(b) { a } else { b }
        }
        (true, false) => provider_of(sms),
        (false, true) => provider_of(voice),
        (false, false) => Provider::None,
    };
    Telephony {
        // Legacy MFA settings may still enable phones before the migration completes: not
        // knowing them, the report does not claim phones are off.
        sms_or_voice_enabled: if legacy {
            None
        } else {
            Some(sms_on || voice_on)
        },
        provider,
    }
}

fn targets(config: &MethodConfiguration) -> String {
    let list = |t: &Option<Vec<autoenroll_graph::model::methods_policy::MethodTarget>>| {
        t.as_ref()
            .map(|v| {
                v.iter()
                    .map(|t| {
                        if t.id == "all_users" {
                            "all users".to_owned()
                        } else {
                            format!("group {}", t.id)
                        }
                    })
                    .collect::<Vec<_>>()
                    .join(", ")
            })
            .filter(|s| !s.is_empty())
            .unwrap_or_else(|| "nobody".into())
    };
    let exclude = list(&config.exclude_targets);
    if exclude == "nobody" {
        format!("targets {}", list(&config.include_targets))
    } else {
        format!("targets {} except {exclude}", list(&config.include_targets))
    }
}

fn telephony_checks(policy: &AuthenticationMethodsPolicy, today: Date) -> Vec<Check> {
    let mut rows = Vec::new();
    let legacy = policy.policy_migration_state != Some(PolicyMigrationState::MigrationComplete);
    rows.push(if legacy {
        check(
            "methods policy migration",
            Status::Warn,
            "policyMigrationState is not migrationComplete: the legacy MFA and SSPR settings \
             still apply and may enable SMS/voice for users this policy does not target (Graph \
             cannot read them). Finish the migration in Entra (Authentication methods > \
             Manage migration) so this check is complete.",
        )
    } else {
        check(
            "methods policy migration",
            Status::Ok,
            "migrationComplete: the methods policy alone decides",
        )
    });
    let days = (RETIREMENT - today).whole_days();
    for (name, id) in [
        ("SMS", MethodConfigurationId::Sms),
        ("Voice", MethodConfigurationId::Voice),
    ] {
        let label = format!("{name} method policy");
        let Some(config) = policy.configuration(id) else {
            rows.push(check(
                &label,
                Status::Warn,
                "not in the policy (Microsoft's default applies)",
            ));
            continue;
        };
        if !config.is_enabled() {
            rows.push(check(
                &label,
                Status::Ok,
                format!("disabled: no user relies on {name} through this policy"),
            ));
            continue;
        }
        let scope = targets(config);
        let provider = provider_of(Some(config));
        let row = match provider {
            Provider::Production => check(
                &label,
                Status::Ok,
                format!(
                    "enabled, {scope}; telecom provider in production (100 %): {name} keeps working after {RETIREMENT}"
                ),
            ),
            _ if today >= RETIREMENT_LATE => check(
                &label,
                Status::Fail,
                format!(
                    "enabled, {scope}; Microsoft-provided {name} retired on {RETIREMENT} ({RETIREMENT_LATE} for Global Administrators and external users) and no telecom provider is in production: {name} no longer delivers codes. Users relying on it need a passkey or Authenticator (Temporary Access Pass), or a provider in production"
                ),
            ),
            _ if today >= RETIREMENT => check(
                &label,
                Status::Fail,
                format!(
                    "enabled, {scope}; Microsoft-provided {name} retired on {RETIREMENT} and no telecom provider is in production: it no longer works for anyone but Global Administrators and external users, and stops for them on {RETIREMENT_LATE}. Run `autoenroll report` to see who is stuck"
                ),
            ),
            other => {
                let how = match other {
                    Provider::Evaluation => {
                        "a telecom provider is configured in evaluation mode (non-enforcing: messages still come from Microsoft until then)"
                    }
                    Provider::Partial => {
                        "a telecom provider is in production for part of the traffic only (raise migrationPercentage to 100)"
                    }
                    _ => "no telecom provider is configured",
                };
                check(
                    &label,
                    Status::Warn,
                    format!(
                        "enabled, {scope}; {how}. {days} day(s) until {RETIREMENT}: Microsoft-provided {name} stops then ({RETIREMENT_LATE} for Global Administrators and external users) and users whose only method it is meet a blocking passkey prompt. Run `autoenroll report` to see who"
                    ),
                )
            }
        };
        rows.push(row);
    }
    rows
}

fn passkey_migration_check(policy: &AuthenticationMethodsPolicy) -> Check {
    if policy.opted_out_of_passkey_migration() {
        check(
            "passkey auto-enablement",
            Status::Warn,
            format!(
                "optOutSettings.passkeyDynamicMigration is true: the tenant opted out of Microsoft enabling passkeys for SMS/voice users; the opt-out ends on {RETIREMENT} and does not delay the retirement — enable passkeys (FIDO2) yourself"
            ),
        )
    } else {
        check(
            "passkey auto-enablement",
            Status::Ok,
            "not opted out: SMS/voice users are enabled for passkeys and nudged to register one",
        )
    }
}

fn campaign_check(policy: &AuthenticationMethodsPolicy) -> Check {
    let campaign = policy
        .registration_enforcement
        .as_ref()
        .and_then(|r| r.authentication_methods_registration_campaign.as_ref());
    let Some(campaign) = campaign else {
        return check(
            "registration campaign",
            Status::Warn,
            "not in the policy: users are not nudged to register a stronger method",
        );
    };
    let methods: Vec<String> = campaign
        .include_targets
        .iter()
        .filter_map(|t| {
            t.get("targetedAuthenticationMethod")
                .and_then(|v| v.as_str())
                .map(str::to_owned)
        })
        .collect();
    match campaign.state.as_deref() {
        Some("disabled") => check(
            "registration campaign",
            Status::Warn,
            "disabled: SMS/voice-only users are not nudged to register a passkey or Authenticator before the retirement; enable it (Authentication methods > Registration campaign)",
        ),
        state => check(
            "registration campaign",
            Status::Ok,
            format!(
                "{} ({}), nudging to {}",
                state.unwrap_or("default"),
                if state == Some("enabled") {
                    "enabled"
                } else {
                    "Microsoft managed"
                },
                if methods.is_empty() {
                    "(no targets)".to_owned()
                } else {
                    methods.join(", ")
                }
            ),
        ),
    }
}

#[cfg(test)]
#[path = "readiness/tests.rs"]
mod tests;
