//! `autoenroll doctor`: checks an installation the way an experienced administrator would before
//! trusting it — the policy, a token, the app's permissions against what the policy needs
//! (missing *and* excessive), the change-notification subscription, the MFA mode, and that
//! every break-glass exclusion names something that exists.

use std::collections::BTreeSet;

use autoenroll_core::policy::{MfaMode, Policy};
use autoenroll_graph::{GraphClient, GraphError};
use serde::Serialize;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::table::Table;

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

/// A permission need: any one of `any_of` (least privileged first) will do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Requirement {
    pub purpose: &'static str,
    pub any_of: &'static [&'static str],
}

// The accepted roles per call, least privileged first (each API's "Permissions" table on
// learn.microsoft.com; the same table as tests/graph-sim/src/permissions.rs, kept equal by
// cli/tests/permission_table.rs through `ROUTE_ROLES`).
const USERS_READ: &[&str] = &[
    "User.Read.All",
    "User.ReadWrite.All",
    "Directory.Read.All",
    "Directory.ReadWrite.All",
];
const METHODS_READ: &[&str] = &[
    "UserAuthenticationMethod.Read.All",
    "UserAuthenticationMethod.ReadWrite.All",
];
const PHONE_WRITE: &[&str] = &[
    "UserAuthMethod-Phone.ReadWrite.All",
    "UserAuthenticationMethod.ReadWrite.All",
];
const PREFERENCES_WRITE: &[&str] = &["UserAuthenticationMethod.ReadWrite.All"];
const PER_USER_MFA: &[&str] = &["Policy.ReadWrite.AuthenticationMethod"];
const GROUP_MEMBERS_WRITE: &[&str] = &[
    "GroupMember.ReadWrite.All",
    "Group.ReadWrite.All",
    "Directory.ReadWrite.All",
];
const GROUP_MEMBERS_READ: &[&str] = &[
    "GroupMember.Read.All",
    "GroupMember.ReadWrite.All",
    "Group.Read.All",
    "Group.ReadWrite.All",
    "Directory.Read.All",
    "Directory.ReadWrite.All",
];
/// Readiness reads (doctor and report only, never the functions): the methods policy
/// (learn authenticationmethodspolicy-get), Conditional Access policies
/// (learn conditionalaccessroot-list-policies: Policy.Read.All, no lower) and authentication
/// strengths (learn authenticationstrengthroot-list-policies).
const METHODS_POLICY_READ: &[&str] = &[
    "Policy.Read.AuthenticationMethod",
    "Policy.ReadWrite.AuthenticationMethod",
    "Policy.Read.All",
];
const CA_POLICIES_READ: &[&str] = &["Policy.Read.All", "Policy.ReadWrite.ConditionalAccess"];
const STRENGTHS_READ: &[&str] = &[
    "Policy.Read.All",
    "Policy.ReadWrite.ConditionalAccess",
    "Policy.ReadWrite.AuthenticationMethod",
];
/// Secure Score (learn securescores-list): optional, only for doctor's MFA-controls row.
const SECURE_SCORES_READ: &[&str] = &["SecurityEvents.Read.All", "SecurityEvents.ReadWrite.All"];
/// Only `autoenroll apply --only-admins` lists directory-role members.
const ROLES_READ: &[&str] = &[
    "RoleManagement.Read.Directory",
    "RoleManagement.ReadWrite.Directory",
    "Directory.Read.All",
    "Directory.ReadWrite.All",
];

/// The Graph calls each role set above stands for, as (method, route template without the
/// version). cli/tests/permission_table.rs checks every row against graph-sim's table
/// (`graph_sim::route_permissions`), so the two copies cannot drift apart unnoticed.
pub const ROUTE_ROLES: &[(&str, &str, &[&str])] = &[
    ("GET", "/users", USERS_READ),
    ("GET", "/users/{user}", USERS_READ),
    ("GET", "/users/delta", USERS_READ),
    ("GET", "/users/{user}/authentication/methods", METHODS_READ),
    (
        "POST",
        "/users/{user}/authentication/phoneMethods",
        PHONE_WRITE,
    ),
    (
        "PATCH",
        "/users/{user}/authentication/signInPreferences",
        PREFERENCES_WRITE,
    ),
    (
        "PATCH",
        "/users/{user}/authentication/requirements",
        PER_USER_MFA,
    ),
    ("POST", "/groups/{group}/members/$ref", GROUP_MEMBERS_WRITE),
    ("PATCH", "/groups/{group}", GROUP_MEMBERS_WRITE),
    ("GET", "/groups/{group}", GROUP_MEMBERS_READ),
    (
        "POST",
        "/users/{user}/checkMemberGroups",
        GROUP_MEMBERS_READ,
    ),
    ("GET", "/directoryRoles/{role}/members", ROLES_READ),
    (
        "GET",
        "/policies/authenticationMethodsPolicy",
        METHODS_POLICY_READ,
    ),
    (
        "GET",
        "/identity/conditionalAccess/policies",
        CA_POLICIES_READ,
    ),
    (
        "GET",
        "/policies/authenticationStrengthPolicies",
        STRENGTHS_READ,
    ),
    ("GET", "/security/secureScores", SECURE_SCORES_READ),
];

/// What doctor's (and report's) readiness rows read. Optional: the functions never need them,
/// so a gap is a WARN naming the role rather than a FAIL — but a role held for them is not
/// excessive.
pub fn readiness_roles() -> Vec<Requirement> {
    vec![
        Requirement {
            purpose: "read the SMS/voice, TAP and passkey method policies (readiness)",
            any_of: METHODS_POLICY_READ,
        },
        Requirement {
            purpose: "read the Conditional Access policy protecting security info registration \
                      (readiness)",
            any_of: CA_POLICIES_READ,
        },
        Requirement {
            purpose: "read the authentication strength that policy requires (readiness)",
            any_of: STRENGTHS_READ,
        },
    ]
}

/// What the policy needs the app to hold.
pub fn required_roles(policy: &Policy) -> Vec<Requirement> {
    let mut needs = vec![
        Requirement {
            purpose: "read users, /users/delta, the /users subscription",
            any_of: USERS_READ,
        },
        Requirement {
            purpose: "list a user's methods (never overwrite their own)",
            any_of: METHODS_READ,
        },
        Requirement {
            purpose: "register the mobile phone method",
            any_of: PHONE_WRITE,
        },
    ];
    if policy.set_sms_default {
        needs.push(Requirement {
            purpose: "make SMS the default method (set_sms_default)",
            any_of: PREFERENCES_WRITE,
        });
    }
    match &policy.mfa_mode {
        MfaMode::PerUserEnabled | MfaMode::PerUserEnforced => needs.push(Requirement {
            purpose: "set per-user MFA state (mfa_mode)",
            any_of: PER_USER_MFA,
        }),
        MfaMode::Group(_) => needs.push(Requirement {
            purpose: "add users to the MFA group (mfa_mode)",
            any_of: GROUP_MEMBERS_WRITE,
        }),
        MfaMode::None => {}
    }
    if !matches!(policy.mfa_mode, MfaMode::Group(_))
        && (!policy.excluded_groups.is_empty() || !policy.scope_groups.is_empty())
    {
        needs.push(Requirement {
            purpose: "read group membership (excluded_groups / scope_groups)",
            any_of: GROUP_MEMBERS_READ,
        });
    }
    needs
}

/// The roles the app lacks (one line per unmet need) and the ones it holds beyond the need.
pub fn compare_roles(needs: &[Requirement], granted: &[String]) -> (Vec<String>, Vec<String>) {
    let granted: BTreeSet<&str> = granted.iter().map(String::as_str).collect();
    let missing = needs
        .iter()
        .filter(|n| !n.any_of.iter().any(|r| granted.contains(r)))
        .map(|n| format!("{} (to {})", n.any_of[0], n.purpose))
        .collect();
    // Drop roles the needs can do without, broadest first, so a narrow role is kept over a
    // broad one that also covers it.
    let mut kept: BTreeSet<&str> = granted.clone();
    let mut by_breadth: Vec<&str> = granted.iter().copied().collect();
    by_breadth.sort_by_key(|r| std::cmp::Reverse(breadth(r)));
    let mut excessive = Vec::new();
    for role in by_breadth {
        kept.remove(role);
        let still_met = needs
            .iter()
            .filter(|n| n.any_of.contains(&role))
            .all(|n| n.any_of.iter().any(|r| kept.contains(r)));
        if still_met {
            excessive.push(role.to_owned());
        } else {
            kept.insert(role);
        }
    }
    excessive.sort();
    (missing, excessive)
}

/// A rough order of how much a role allows (Directory.* > *.ReadWrite.All > *.Read.All).
fn breadth(role: &str) -> u8 {
    let mut b = 0;
    if role.starts_with("Directory.") {
        b += 4;
    }
    if role.contains("ReadWrite") {
        b += 2;
    }
    if role.starts_with("UserAuthenticationMethod.") || role.starts_with("Group.") {
        b += 1;
    }
    b
}

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
mod tests {
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
}
