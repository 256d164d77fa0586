//! The permission table doctor judges the app's roles by: what each need accepts (least
//! privileged first, from learn.microsoft.com's "Permissions" tables), which routes those sets
//! stand for (checked against graph-sim's copy by cli/tests/permission_table.rs), and the
//! missing / excessive comparison.

use std::collections::BTreeSet;

use autoenroll_core::policy::{MfaMode, Policy};

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
/// Creating and deleting a Temporary Access Pass (learn
/// temporaryaccesspassauthenticationmethod-post / -delete).
const TAP_WRITE: &[&str] = &[
    "UserAuthMethod-TAP.ReadWrite.All",
    "UserAuthenticationMethod.ReadWrite.All",
];
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
pub(super) const SECURE_SCORES_READ: &[&str] =
    &["SecurityEvents.Read.All", "SecurityEvents.ReadWrite.All"];
/// The registration report (learn authenticationmethodsroot-list-userregistrationdetails: no
/// alternative): optional, `autoenroll report` falls back to per-user method reads without it.
pub(super) const REGISTRATION_REPORT_READ: &[&str] = &["AuditLog.Read.All"];
/// Only `autoenroll apply --only-admins` lists directory-role members.
pub(super) const ROLES_READ: &[&str] = &[
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
    (
        "POST",
        "/users/{user}/authentication/temporaryAccessPassMethods",
        TAP_WRITE,
    ),
    (
        "DELETE",
        "/users/{user}/authentication/temporaryAccessPassMethods/{method}",
        TAP_WRITE,
    ),
    ("GET", "/users/{user}/manager", USERS_READ),
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
    (
        "GET",
        "/reports/authenticationMethods/userRegistrationDetails",
        REGISTRATION_REPORT_READ,
    ),
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
    // The TAP bootstrap: passes are created (and deleted when a delivery fails), and the TAP
    // policy's targets decide who may get one — unread, nobody would (the manager's mail is a
    // user read).
    if policy.bootstrap_effect().is_on() {
        needs.push(Requirement {
            purpose: "create and delete Temporary Access Passes (bootstrap)",
            any_of: TAP_WRITE,
        });
        needs.push(Requirement {
            purpose: "read the TAP, SMS and voice method policies (bootstrap)",
            any_of: METHODS_POLICY_READ,
        });
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
