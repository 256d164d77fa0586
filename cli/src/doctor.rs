//! `autoenroll doctor`: checks an installation the way an experienced administrator would before
//! trusting it — the policy, a token, the app's permissions against what the policy needs
//! (missing *and* excessive), the change-notification subscription, the MFA mode, and that
//! every break-glass exclusion names something that exists.

use autoenroll_core::policy::{MfaMode, Policy};
use autoenroll_graph::{GraphClient, GraphError};
use serde::Serialize;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::table::Table;

mod roles;

/// How a check came out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum Status {
    Ok,
    /// Works, but worth a look (excessive permission, no subscription yet, …).
    Warn,
    /// Enrollment will fail or do harm: fix before deploying.
    Fail,
}

impl Status {
    fn label(self) -> &'static str {
        match self {
            Status::Ok => "ok",
            Status::Warn => "WARN",
            Status::Fail => "FAIL",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Check {
    pub check: String,
    pub status: Status,
    pub detail: String,
}

impl Check {
    fn new(check: &str, status: Status, detail: impl Into<String>) -> Self {
        Self {
            check: check.to_owned(),
            status,
            detail: detail.into(),
        }
    }
}

use roles::{REGISTRATION_REPORT_READ, ROLES_READ, SECURE_SCORES_READ};
pub use roles::{ROUTE_ROLES, Requirement, compare_roles, readiness_roles, required_roles};

/// Runs every check against the tenant.
pub async fn run(
    graph: &GraphClient,
    policy: &Policy,
    notification_url: Option<&str>,
) -> Vec<Check> {
    let mut checks = policy_checks(policy);
    let granted = match graph.granted_roles().await {
        Ok(roles) => {
            checks.push(Check::new(
                "token",
                Status::Ok,
                "obtained an app-only token for Microsoft Graph",
            ));
            roles
        }
        Err(e) => {
            checks.push(Check::new("token", Status::Fail, format!("no token: {e}")));
            return checks;
        }
    };
    checks.extend(role_checks(policy, &granted));
    checks.push(subscription_check(graph, notification_url).await);
    checks.extend(mfa_mode_checks(graph, policy).await);
    checks.extend(exclusion_checks(graph, policy).await);
    // SMS/voice retirement readiness (readiness.rs), for today.
    checks.extend(
        crate::readiness::checks_for(graph, policy, OffsetDateTime::now_utc().date()).await,
    );
    checks
}

fn policy_checks(policy: &Policy) -> Vec<Check> {
    let mut checks = Vec::new();
    match policy.default_region {
        Some(region) => checks.push(Check::new(
            "default region",
            Status::Ok,
            format!("{region}: numbers without a country code are read as {region} numbers"),
        )),
        None => checks.push(Check::new(
            "default region",
            Status::Warn,
            "not set: numbers without a country code (\"06-12345678\") are rejected; set \
             default_region if AD holds national numbers (check with `autoenroll phone`)",
        )),
    }
    if policy.excluded_upns.is_empty() && policy.excluded_groups.is_empty() {
        checks.push(Check::new(
            "break-glass exclusions",
            Status::Warn,
            "none configured: emergency-access accounts would be enrolled like anyone else; \
             list them in excluded_upns or excluded_groups",
        ));
    }
    checks
}

fn role_checks(policy: &Policy, granted: &[String]) -> Vec<Check> {
    let needs = required_roles(policy);
    let (missing, _) = compare_roles(&needs, granted);
    // Excessive is judged against everything doctor can use, so a read-only readiness role
    // is kept; the readiness gaps get their own WARN row below.
    let mut all = needs.clone();
    all.extend(readiness_roles());
    // The Secure Score read is a skip without its role, so it is neither missing nor, when
    // held, excessive.
    all.push(Requirement {
        purpose: "read Secure Score's MFA controls (optional)",
        any_of: SECURE_SCORES_READ,
    });
    // Likewise the registration report: `report` falls back to per-user method reads.
    all.push(Requirement {
        purpose: "read the registration report for `autoenroll report` (optional)",
        any_of: REGISTRATION_REPORT_READ,
    });
    let (_, mut excessive) = compare_roles(&all, granted);
    let (readiness_missing, _) = compare_roles(&readiness_roles(), granted);
    let optional: Vec<String> = excessive
        .iter()
        .filter(|r| ROLES_READ.first() == Some(&r.as_str()))
        .cloned()
        .collect();
    excessive.retain(|r| !optional.contains(r));
    let mut checks = vec![Check::new(
        "granted roles",
        Status::Ok,
        if granted.is_empty() {
            "none".to_owned()
        } else {
            granted.join(", ")
        },
    )];
    checks.push(if missing.is_empty() {
        Check::new(
            "missing roles",
            Status::Ok,
            "none: the policy's needs are covered",
        )
    } else {
        Check::new(
            "missing roles",
            Status::Fail,
            format!("grant (with admin consent): {}", missing.join("; ")),
        )
    });
    checks.push(if excessive.is_empty() {
        Check::new("excessive roles", Status::Ok, "none")
    } else {
        Check::new(
            "excessive roles",
            Status::Warn,
            format!(
                "not needed by this policy, remove: {}",
                excessive.join(", ")
            ),
        )
    });
    checks.push(if readiness_missing.is_empty() {
        Check::new(
            "readiness roles",
            Status::Ok,
            "the readiness checks can read what they need",
        )
    } else {
        Check::new(
            "readiness roles",
            Status::Warn,
            format!(
                "optional, read-only, for doctor and report (the functions do not need them): {}",
                readiness_missing.join("; ")
            ),
        )
    });
    if !optional.is_empty() {
        checks.push(Check::new(
            "optional roles",
            Status::Ok,
            format!(
                "{}: only used by `autoenroll apply --only-admins`",
                optional.join(", ")
            ),
        ));
    }
    checks
}

async fn subscription_check(graph: &GraphClient, notification_url: Option<&str>) -> Check {
    let subscriptions = match graph.subscriptions().list().await {
        Ok(s) => s,
        Err(e) => {
            return Check::new(
                "subscription",
                Status::Fail,
                format!("listing: {}", brief(&e)),
            );
        }
    };
    let on_users: Vec<_> = subscriptions
        .iter()
        .filter(|s| {
            s.resource
                .as_deref()
                .is_some_and(|r| r.trim_start_matches('/').eq_ignore_ascii_case("users"))
        })
        .collect();
    let Some(sub) = on_users.first() else {
        return Check::new(
            "subscription",
            if notification_url.is_some() {
                Status::Fail
            } else {
                Status::Warn
            },
            "no /users subscription: new users are found by the reconcile sweep only (run the \
             subscriptions function: `sam remote invoke SubscriptionsFunction`)",
        );
    };
    if let Some(url) = notification_url
        && !on_users
            .iter()
            .any(|s| s.notification_url.as_deref() == Some(url))
    {
        return Check::new(
            "subscription",
            Status::Fail,
            "no /users subscription points at the given --notification-url",
        );
    }
    let expiry = sub.expiration_date_time.clone().unwrap_or_default();
    let left = OffsetDateTime::parse(&expiry, &Rfc3339)
        .ok()
        .map(|at| at - OffsetDateTime::now_utc());
    let extra = if on_users.len() > 1 {
        format!(
            " ({} /users subscriptions: notifications arrive more than once)",
            on_users.len()
        )
    } else {
        String::new()
    };
    match left {
        Some(left) if left < time::Duration::hours(24) => Check::new(
            "subscription",
            Status::Warn,
            format!(
                "expires {expiry} (in {} h): the subscriptions function renews it every 6 h; check that it runs{extra}",
                left.whole_hours()
            ),
        ),
        Some(left) => Check::new(
            "subscription",
            if on_users.len() > 1 {
                Status::Warn
            } else {
                Status::Ok
            },
            format!(
                "present, expires {expiry} (in {} days){extra}",
                left.whole_days()
            ),
        ),
        None => Check::new(
            "subscription",
            Status::Warn,
            format!("present, unreadable expiry `{expiry}`{extra}"),
        ),
    }
}

async fn mfa_mode_checks(graph: &GraphClient, policy: &Policy) -> Vec<Check> {
    match &policy.mfa_mode {
        MfaMode::PerUserEnabled | MfaMode::PerUserEnforced => vec![Check::new(
            "MFA mode",
            Status::Ok,
            format!(
                "{}: per-user MFA (legacy; it also applies where Conditional Access does not). \
                 Make sure no Conditional Access policy and security defaults fight it",
                policy.mfa_mode
            ),
        )],
        MfaMode::Group(id) => match graph.groups(id).get().await {
            Ok(group) => vec![Check::new(
                "MFA mode",
                Status::Ok,
                format!(
                    "group:{id} (\"{}\") exists; it must be targeted by a Conditional Access \
                     policy that requires MFA and excludes the break-glass accounts (not \
                     checked: that needs Policy.Read.All)",
                    group.display_name.unwrap_or_default()
                ),
            )],
            Err(e) if e.is_not_found() => vec![Check::new(
                "MFA mode",
                Status::Fail,
                format!("group:{id} does not exist: nobody would get MFA"),
            )],
            Err(e) => vec![Check::new(
                "MFA mode",
                Status::Warn,
                format!("group:{id} could not be read: {}", brief(&e)),
            )],
        },
        MfaMode::None => vec![Check::new(
            "MFA mode",
            Status::Warn,
            "none: autoenroll only registers phones; MFA must be required elsewhere (Conditional \
             Access or security defaults)",
        )],
    }
}

async fn exclusion_checks(graph: &GraphClient, policy: &Policy) -> Vec<Check> {
    let mut checks = Vec::new();
    for upn in &policy.excluded_upns {
        checks.push(match graph.users().get(upn, &["id", "userPrincipalName"]).await {
            Ok(_) => Check::new("excluded UPN", Status::Ok, format!("{upn} exists")),
            Err(e) if e.is_not_found() => Check::new(
                "excluded UPN",
                Status::Fail,
                format!("{upn} does not exist: a typo leaves the real break-glass account unprotected from enrollment"),
            ),
            Err(e) => Check::new("excluded UPN", Status::Warn, format!("{upn} could not be read: {}", brief(&e))),
        });
    }
    for (label, groups) in [
        ("excluded group", &policy.excluded_groups),
        ("scope group", &policy.scope_groups),
    ] {
        for id in groups {
            checks.push(match graph.groups(id).get().await {
                Ok(g) => Check::new(
                    label,
                    Status::Ok,
                    format!("{id} (\"{}\") exists", g.display_name.unwrap_or_default()),
                ),
                Err(e) if e.is_not_found() => {
                    Check::new(label, Status::Fail, format!("{id} does not exist"))
                }
                Err(e) => Check::new(
                    label,
                    Status::Warn,
                    format!("{id} could not be read: {}", brief(&e)),
                ),
            });
        }
    }
    checks
}

/// Status and code only (Graph's message may echo input).
fn brief(e: &GraphError) -> String {
    match (e.status, e.code.as_deref()) {
        (Some(s), Some(c)) => format!("{s} {c}"),
        (Some(s), None) => s.to_string(),
        (None, _) => format!("{:?}", e.kind),
    }
}

pub fn render(checks: &[Check]) -> String {
    let mut table = Table::new(["STATUS", "CHECK", "DETAIL"]);
    for c in checks {
        table.row([
            c.status.label().to_owned(),
            c.check.clone(),
            c.detail.clone(),
        ]);
    }
    table.render()
}

#[cfg(test)]
mod tests;
