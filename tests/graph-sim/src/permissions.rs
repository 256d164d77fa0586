//! Application permissions each route accepts (any one of the list suffices), from the
//! "Permissions" table of each API's reference page on learn.microsoft.com (least privileged
//! first, then the higher ones Graph also accepts). The same table is in README.md.

use axum::http::Method;

const USERS_READ: &[&str] = &[
    "User.Read.All",
    "User.ReadWrite.All",
    "Directory.Read.All",
    "Directory.ReadWrite.All",
];
const USERS_WRITE: &[&str] = &["User.ReadWrite.All", "Directory.ReadWrite.All"];
const METHODS_READ: &[&str] = &[
    "UserAuthenticationMethod.Read.All",
    "UserAuthenticationMethod.ReadWrite.All",
];
const PHONE_READ: &[&str] = &[
    "UserAuthMethod-Phone.Read.All",
    "UserAuthMethod-Phone.ReadWrite.All",
    "UserAuthenticationMethod.Read.All",
    "UserAuthenticationMethod.ReadWrite.All",
];
const PHONE_WRITE: &[&str] = &[
    "UserAuthMethod-Phone.ReadWrite.All",
    "UserAuthenticationMethod.ReadWrite.All",
];
const EMAIL_READ: &[&str] = &[
    "UserAuthMethod-Email.Read.All",
    "UserAuthMethod-Email.ReadWrite.All",
    "UserAuthenticationMethod.Read.All",
    "UserAuthenticationMethod.ReadWrite.All",
];
const EMAIL_WRITE: &[&str] = &[
    "UserAuthMethod-Email.ReadWrite.All",
    "UserAuthenticationMethod.ReadWrite.All",
];
const TAP_READ: &[&str] = &[
    "UserAuthMethod-TAP.Read.All",
    "UserAuthMethod-TAP.ReadWrite.All",
    "UserAuthenticationMethod.Read.All",
    "UserAuthenticationMethod.ReadWrite.All",
];
const TAP_WRITE: &[&str] = &[
    "UserAuthMethod-TAP.ReadWrite.All",
    "UserAuthenticationMethod.ReadWrite.All",
];
const METHODS_WRITE: &[&str] = &["UserAuthenticationMethod.ReadWrite.All"];
const REQUIREMENTS_READ: &[&str] = &[
    "Policy.ReadWrite.AuthenticationMethod",
    "UserAuthenticationMethod.Read.All",
    "UserAuthenticationMethod.ReadWrite.All",
];
const REQUIREMENTS_WRITE: &[&str] = &["Policy.ReadWrite.AuthenticationMethod"];
/// learn authenticationmethodspolicy-get / smsauthenticationmethodconfiguration-get.
const METHODS_POLICY_READ: &[&str] = &[
    "Policy.Read.AuthenticationMethod",
    "Policy.ReadWrite.AuthenticationMethod",
    "Policy.Read.All",
];
/// learn authenticationmethodspolicy-update / smsauthenticationmethodconfiguration-update.
const METHODS_POLICY_WRITE: &[&str] = &["Policy.ReadWrite.AuthenticationMethod"];
const GROUPS_READ: &[&str] = &[
    "GroupMember.Read.All",
    "GroupMember.ReadWrite.All",
    "Group.Read.All",
    "Group.ReadWrite.All",
    "Directory.Read.All",
    "Directory.ReadWrite.All",
];
const MEMBERS_WRITE: &[&str] = &[
    "GroupMember.ReadWrite.All",
    "Group.ReadWrite.All",
    "Directory.ReadWrite.All",
];
/// learn authenticationmethodsroot-list-userregistrationdetails: no alternative.
const REGISTRATION_REPORT: &[&str] = &["AuditLog.Read.All"];
/// learn conditionalaccessroot-list-policies (least), then the write permission.
const CA_POLICIES_READ: &[&str] = &["Policy.Read.All", "Policy.ReadWrite.ConditionalAccess"];
/// learn authenticationstrengthroot-list-policies (least), then the write permissions.
const STRENGTHS_READ: &[&str] = &[
    "Policy.Read.All",
    "Policy.ReadWrite.ConditionalAccess",
    "Policy.ReadWrite.AuthenticationMethod",
];
/// learn securescores-list: SecurityEvents.Read.All least.
const SECURE_SCORES_READ: &[&str] = &["SecurityEvents.Read.All", "SecurityEvents.ReadWrite.All"];
const ROLES_READ: &[&str] = &[
    "RoleManagement.Read.Directory",
    "RoleManagement.ReadWrite.Directory",
    "Directory.Read.All",
    "Directory.ReadWrite.All",
];

/// The roles a route accepts, by method and template (version stripped). `None`: the route
/// needs none from this table (`$batch`, whose items are checked one by one) or checks in its
/// handler (subscriptions: the permission depends on the subscribed resource).
pub fn required(method: &Method, template: &str) -> Option<&'static [&'static str]> {
    let read = *method == Method::GET;
    // No route here takes PUT (or anything else): let the router answer 405 as Graph does.
    if !read && !matches!(*method, Method::POST | Method::PATCH | Method::DELETE) {
        return None;
    }
    let roles = match template {
        "/users" | "/users/{user}" | "/users/delta" | "/users/delta()" => {
            if read {
                USERS_READ
            } else {
                USERS_WRITE
            }
        }
        "/users/{user}/memberOf" | "/users/{user}/transitiveMemberOf" => USERS_READ,
        // learn user-list-manager: User.Read.All least.
        "/users/{user}/manager" if read => USERS_READ,
        "/policies/authenticationMethodsPolicy"
        | "/policies/authenticationMethodsPolicy/authenticationMethodConfigurations/{config}" => {
            if read {
                METHODS_POLICY_READ
            } else {
                METHODS_POLICY_WRITE
            }
        }
        "/users/{user}/checkMemberGroups" => GROUPS_READ,
        "/users/{user}/authentication/methods"
        | "/users/{user}/authentication/methods/{method}" => METHODS_READ,
        "/users/{user}/authentication/phoneMethods"
        | "/users/{user}/authentication/phoneMethods/{method}" => {
            if read {
                PHONE_READ
            } else {
                PHONE_WRITE
            }
        }
        "/users/{user}/authentication/emailMethods"
        | "/users/{user}/authentication/emailMethods/{method}" => {
            if read {
                EMAIL_READ
            } else {
                EMAIL_WRITE
            }
        }
        "/users/{user}/authentication/temporaryAccessPassMethods"
        | "/users/{user}/authentication/temporaryAccessPassMethods/{method}" => {
            if read {
                TAP_READ
            } else {
                TAP_WRITE
            }
        }
        "/users/{user}/authentication/signInPreferences" => {
            if read {
                METHODS_READ
            } else {
                METHODS_WRITE
            }
        }
        "/users/{user}/authentication/requirements" => {
            if read {
                REQUIREMENTS_READ
            } else {
                REQUIREMENTS_WRITE
            }
        }
        // PATCH only adds members (`members@odata.bind`, group_bind.rs): learn group-post-members.
        "/groups/{group}" if *method == Method::PATCH => MEMBERS_WRITE,
        "/groups" | "/groups/{group}" | "/groups/{group}/members" if read => GROUPS_READ,
        "/reports/authenticationMethods/userRegistrationDetails"
        | "/reports/authenticationMethods/userRegistrationDetails/{user}"
            if read =>
        {
            REGISTRATION_REPORT
        }
        "/identity/conditionalAccess/policies"
        | "/identity/conditionalAccess/policies/{policy}"
            if read =>
        {
            CA_POLICIES_READ
        }
        "/policies/authenticationStrengthPolicies"
        | "/policies/authenticationStrengthPolicies/{strength}"
            if read =>
        {
            STRENGTHS_READ
        }
        "/security/secureScores" if read => SECURE_SCORES_READ,
        "/groups/{group}/members/$ref" | "/groups/{group}/members/{member}/$ref" => MEMBERS_WRITE,
        "/directoryRoles" | "/directoryRoles/{role}" | "/directoryRoles/{role}/members" => {
            ROLES_READ
        }
        _ => return None,
    };
    Some(roles)
}

/// [`required`] by method name (`"GET"`, `"PATCH"`, …) and route template (version stripped,
/// e.g. `/users/{user}/authentication/phoneMethods`): the table other crates check their own
/// copies against (`autoenroll doctor`'s, in cli/tests/permission_table.rs).
pub fn route_permissions(method: &str, template: &str) -> Option<&'static [&'static str]> {
    let method = Method::from_bytes(method.as_bytes()).ok()?;
    required(&method, template)
}

/// The read permission a subscription on `resource` needs (for the subscriptions module).
pub fn read_roles_for_resource(resource: &str) -> Option<&'static [&'static str]> {
    let r = resource.trim_start_matches('/').to_ascii_lowercase();
    if r == "users" || r.starts_with("users/") || r.starts_with("users?") {
        Some(USERS_READ)
    } else if r == "groups" || r.starts_with("groups/") {
        Some(GROUPS_READ)
    } else {
        None
    }
}
