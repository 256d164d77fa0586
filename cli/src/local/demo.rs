//! A generated, realistic demo tenant for `autoenroll local`: the mess an administrator finds
//! in a real directory. Deterministic (same `--users N`, same tenant), so runs compare.
//!
//! What it holds, roughly per hundred users: mobile numbers from nine countries written every
//! way AD allows (national `06-…`, `+31 (0)6 …`, `0031 …`, spaced, dashed, bracketed), users
//! without a number, placeholders (`n/a`, `-`, `TBD`), unreadable values, landlines and
//! switchboard extensions in the mobile field, guests, disabled accounts, users who registered
//! their own phone (some with another number than AD's), Authenticator users, directory
//! administrators, and two break-glass accounts that the demo policy excludes by UPN and group.

use graph_sim::Seed;
use serde_json::{Value, json};

mod people;

pub use people::{DemoRng, mobile_number};
use people::{FIRST, LAST, own_phone};

/// The demo tenant's id and domain.
pub const TENANT_ID: &str = "b7d4e1a2-5c3f-4e6d-8a9b-0c1d2e3f4a5b";
pub const DOMAIN: &str = "contoso-demo.com";
/// The demo's autoenroll app (least privilege for the demo policy).
pub const APP_CLIENT_ID: &str = "c1a2b3d4-e5f6-4a7b-8c9d-0e1f2a3b4c5d";
pub const APP_SECRET: &str = "demo-secret-autoenroll-local~1";
/// The "Emergency access accounts" group.
pub const BREAK_GLASS_GROUP: &str = "e0e0e0e0-0000-4000-8000-00000000b6a5";
pub const BREAK_GLASS_UPNS: [&str; 2] = [
    "breakglass01@contoso-demo.onmicrosoft.com",
    "breakglass02@contoso-demo.onmicrosoft.com",
];

/// The policy `autoenroll local` runs with unless `--config` / `./autoenroll.toml` says
/// otherwise: national numbers are Dutch, the break-glass accounts are excluded twice over.
pub fn policy_toml() -> String {
    format!(
        "default_region = \"NL\"\nmfa_mode = \"per-user-enabled\"\nset_sms_default = \"when-effective\"\n\
         excluded_upns = [\"{}\", \"{}\"]\nexcluded_groups = [\"{BREAK_GLASS_GROUP}\"]\n",
        BREAK_GLASS_UPNS[0], BREAK_GLASS_UPNS[1]
    )
}

/// The demo policy for `local --date`: the same, with the TAP bootstrap on — the pass to the
/// manager by e-mail, or by SMS to the directory mobile when there is no manager.
pub fn passkey_era_policy_toml() -> String {
    format!(
        "{}bootstrap_delivery = \"manager-email-then-sms\"\nbootstrap_email_from = \"autoenroll@{DOMAIN}\"\n",
        policy_toml()
    )
}

/// What kind of directory entry a generated user is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Persona {
    Mobile,
    NoNumber,
    Placeholder,
    Unreadable,
    Landline,
    Extension,
    Guest,
    Disabled,
    OwnPhoneDiffers,
    OwnPhoneSame,
    Authenticator,
    /// Enrolled years ago by the MSOnline script: phone, SMS default, MFA enforced.
    AlreadyProtected,
}

fn persona(rng: &mut DemoRng) -> Persona {
    match rng.below(100) {
        0..52 => Persona::Mobile,
        52..59 => Persona::NoNumber,
        59..64 => Persona::Placeholder,
        64..68 => Persona::Unreadable,
        68..73 => Persona::Landline,
        73..75 => Persona::Extension,
        75..80 => Persona::Guest,
        80..84 => Persona::Disabled,
        84..92 => Persona::OwnPhoneDiffers,
        92..95 => Persona::OwnPhoneSame,
        95..97 => Persona::AlreadyProtected,
        _ => Persona::Authenticator,
    }
}

/// One generated user as seed JSON (`index` makes the UPN unique).
pub fn user(rng: &mut DemoRng, index: usize) -> Value {
    let first = *rng.pick(FIRST);
    let last = *rng.pick(LAST);
    let local: String = format!("{first}.{last}")
        .to_lowercase()
        .chars()
        .map(|c| match c {
            ' ' => '-',
            'ü' => 'u',
            other => other,
        })
        .collect();
    let upn = format!("{local}{index}@{DOMAIN}");
    let persona = persona(rng);
    let (number, region) = mobile_number(rng);
    let synced = rng.below(3) > 0;
    let mut user = json!({
        "userPrincipalName": upn,
        "displayName": format!("{first} {last}"),
        "givenName": first,
        "surname": last,
        "mail": upn,
        "usageLocation": region,
        "accountEnabled": true,
        "userType": "Member",
        "onPremisesSyncEnabled": synced,
        "mobilePhone": number,
    });
    let set = |user: &mut Value, key: &str, value: Value| {
        if let Some(map) = user.as_object_mut() {
            map.insert(key.to_owned(), value);
        }
    };
    match persona {
        Persona::Mobile => {}
        Persona::NoNumber => set(
            &mut user,
            "mobilePhone",
            if rng.below(2) == 0 {
                Value::Null
            } else {
                json!("")
            },
        ),
        Persona::Placeholder => set(
            &mut user,
            "mobilePhone",
            json!(rng.pick(&["n/a", "-", "none", "TBD", "geen", "."])),
        ),
        Persona::Unreadable => set(
            &mut user,
            "mobilePhone",
            json!(rng.pick(&[
                "+31 6 1234",
                "12345",
                "ask reception",
                "+999 1234567",
                "06-123"
            ])),
        ),
        Persona::Landline => set(
            &mut user,
            "mobilePhone",
            json!(format!(
                "{}{}",
                rng.pick(&["020-", "+31 20 ", "010 ", "+49 89 "]),
                rng.digits(7)
            )),
        ),
        Persona::Extension => set(
            &mut user,
            "mobilePhone",
            json!(format!(
                "+1 (206) 555-01{} x{}",
                rng.digits(2),
                rng.digits(3)
            )),
        ),
        Persona::Guest => {
            let guest = format!("{local}_fabrikam.com#EXT#@contoso-demo.onmicrosoft.com");
            set(&mut user, "userPrincipalName", json!(guest));
            set(&mut user, "userType", json!("Guest"));
            set(&mut user, "onPremisesSyncEnabled", json!(false));
            set(&mut user, "mail", json!(format!("{local}@fabrikam.com")));
        }
        Persona::Disabled => set(&mut user, "accountEnabled", json!(false)),
        Persona::OwnPhoneDiffers => set(
            &mut user,
            "authentication",
            json!({"phoneMethods": [{"phoneType": "mobile", "phoneNumber": own_phone(rng)}]}),
        ),
        Persona::OwnPhoneSame | Persona::AlreadyProtected => {
            // The same number as AD's, registered before autoenroll (by the user, or by the
            // old MSOnline script, which also switched MFA on).
            let graph = autoenroll_core::phone::normalize(&number, "NL".parse().ok())
                .map(|n| n.graph)
                .unwrap_or_else(|_| own_phone(rng));
            let mut auth = json!({"phoneMethods": [{"phoneType": "mobile", "phoneNumber": graph}],
                                  "preferredSecondaryMethod": "sms"});
            if persona == Persona::AlreadyProtected {
                set(&mut auth, "perUserMfaState", json!("enforced"));
            }
            set(&mut user, "authentication", auth);
        }
        Persona::Authenticator => set(
            &mut user,
            "authentication",
            json!({"otherMethods": ["microsoftAuthenticator"], "preferredSecondaryMethod": "push"}),
        ),
    }
    user
}

/// The demo tenant with `users` people (at least the fixed accounts: two break-glass, four
/// administrators).
pub fn tenant(users: usize) -> Seed {
    let mut rng = DemoRng::new(0x00A0_7E17_0C01 ^ users as u64);
    let mut list = Vec::with_capacity(users + 6);
    for upn in BREAK_GLASS_UPNS {
        list.push(json!({
            "userPrincipalName": upn,
            "displayName": "Emergency access",
            "accountEnabled": true,
            "userType": "Member",
            "authentication": {"otherMethods": ["fido2"]},
        }));
    }
    let admins = [
        ("it.admin", "IT Admin", "Global Administrator"),
        (
            "helpdesk.lead",
            "Helpdesk Lead",
            "Authentication Administrator",
        ),
        ("user.admin", "User Admin", "User Administrator"),
        (
            "security.officer",
            "Security Officer",
            "Security Administrator",
        ),
    ];
    for (name, display, _) in admins {
        let (number, _) = mobile_number(&mut rng);
        list.push(json!({
            "userPrincipalName": format!("{name}@{DOMAIN}"),
            "displayName": display,
            "accountEnabled": true,
            "userType": "Member",
            "mobilePhone": number,
        }));
    }
    let fixed = list.len();
    for i in fixed..users.max(fixed) {
        list.push(user(&mut rng, i));
    }
    add_passkeys_and_managers(&mut list, fixed);
    let role = |name: &str, template: &str, members: Vec<String>| json!({"displayName": name, "roleTemplateId": template, "members": members});
    let seed = json!({
        "tenant": {"id": TENANT_ID, "displayName": "Contoso Demo", "defaultDomain": "contoso-demo.onmicrosoft.com"},
        "apps": [{
            "clientId": APP_CLIENT_ID,
            "displayName": "autoenroll",
            "secrets": [APP_SECRET],
            "roles": ["User.Read.All", "UserAuthenticationMethod.ReadWrite.All",
                      "Policy.ReadWrite.AuthenticationMethod", "GroupMember.Read.All"],
        }],
        "users": list,
        "authenticationMethodsPolicy": methods_policy(),
        "groups": [{
            "id": BREAK_GLASS_GROUP,
            "displayName": "Emergency access accounts",
            "members": BREAK_GLASS_UPNS,
        }],
        "directoryRoles": [
            role("Global Administrator", "62e90394-69f5-4237-9190-012177145e10",
                 vec![BREAK_GLASS_UPNS[0].to_owned(), BREAK_GLASS_UPNS[1].to_owned(), format!("it.admin@{DOMAIN}")]),
            role("Authentication Administrator", "c4e39bd9-1100-46d3-8c65-fb160da0071f",
                 vec![format!("helpdesk.lead@{DOMAIN}")]),
            role("User Administrator", "fe930be7-5e62-47db-91af-98c3a49a38b1",
                 vec![format!("user.admin@{DOMAIN}")]),
            role("Security Administrator", "194ae4cb-b126-40b2-bd5b-6091b380977d",
                 vec![format!("security.officer@{DOMAIN}")]),
        ],
    });
    serde_json::from_value(seed).unwrap_or_default()
}

/// The demo's authentication methods policy: migrated, SMS and voice for everyone but the
/// break-glass accounts, TAP (one-time) and passkeys enabled.
fn methods_policy() -> Value {
    let all = json!([{"id": "all_users", "targetType": "group"}]);
    let break_glass = json!([{"id": BREAK_GLASS_GROUP, "targetType": "group"}]);
    json!({
        "policyMigrationState": "migrationComplete",
        "authenticationMethodConfigurations": [
            {"id": "Sms", "state": "enabled", "includeTargets": all, "excludeTargets": break_glass},
            {"id": "Voice", "state": "enabled", "includeTargets": all, "excludeTargets": break_glass},
            {"id": "TemporaryAccessPass", "state": "enabled", "includeTargets": all,
             "isUsableOnce": true, "defaultLifetimeInMinutes": 480, "maximumLifetimeInMinutes": 1440},
            {"id": "Fido2", "state": "enabled", "includeTargets": all,
             "isSelfServiceRegistrationAllowed": true},
            {"id": "MicrosoftAuthenticator", "state": "enabled", "includeTargets": all},
        ],
    })
}

/// Every second Authenticator user also has a passkey in Authenticator (they already have a
/// strong method, so nothing autoenroll decides changes); members report to a team lead (the
/// first member of each block of eight), team leads to the IT admin; guests have no manager.
/// No random draws: the rest of the demo stays what it was.
fn add_passkeys_and_managers(list: &mut [Value], fixed: usize) {
    let is_member = |u: &Value| u["userType"] == "Member";
    let mut authenticator_users = 0;
    let upns: Vec<String> = list
        .iter()
        .map(|u| {
            u["userPrincipalName"]
                .as_str()
                .unwrap_or_default()
                .to_owned()
        })
        .collect();
    for i in fixed..list.len() {
        let lead = fixed + (i - fixed) / 8 * 8;
        let manager = if i == lead {
            format!("it.admin@{DOMAIN}")
        } else if is_member(&list[lead]) {
            upns[lead].clone()
        } else {
            format!("helpdesk.lead@{DOMAIN}")
        };
        let user = &mut list[i];
        let has_authenticator = user["authentication"]["otherMethods"]
            .as_array()
            .is_some_and(|m| m.iter().any(|k| k == "microsoftAuthenticator"));
        if has_authenticator {
            authenticator_users += 1;
            if authenticator_users % 2 == 1
                && let Some(methods) = user["authentication"]["otherMethods"].as_array_mut()
            {
                methods.push(json!({"kind": "fido2", "passkey": "authenticator"}));
            }
        }
        if is_member(user)
            && let Some(map) = user.as_object_mut()
        {
            map.insert("manager".into(), json!(manager));
        }
    }
}

/// A new hire as HR provisioning creates them (`index` keeps UPNs unique).
pub fn new_hire(rng: &mut DemoRng, index: usize) -> Value {
    let first = *rng.pick(FIRST);
    let last = *rng.pick(LAST);
    let local = format!("{first}.{last}")
        .to_lowercase()
        .replace(' ', "-")
        .replace('ü', "u");
    let upn = format!("{local}.new{index}@{DOMAIN}");
    let (number, region) = mobile_number(rng);
    json!({
        "userPrincipalName": upn,
        "displayName": format!("{first} {last}"),
        "mail": upn,
        "usageLocation": region,
        "accountEnabled": true,
        "userType": "Member",
        "mobilePhone": number,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use autoenroll_core::phone;

    #[test]
    fn every_generated_mobile_number_is_sms_capable_under_the_demo_policy() {
        let region = "NL".parse().ok();
        let mut rng = DemoRng::new(7);
        let mut distinct = std::collections::HashSet::new();
        let mut countries = std::collections::HashSet::new();
        for _ in 0..2_000 {
            let (raw, country) = mobile_number(&mut rng);
            let n = phone::normalize(&raw, region).unwrap_or_else(|e| panic!("{raw}: {e}"));
            assert!(n.is_sms_capable(), "{raw} is {:?}", n.kind);
            distinct.insert(n.graph);
            countries.insert(country);
        }
        // The fallback number is the exception, not the rule.
        assert!(
            distinct.len() > 1_900,
            "{} distinct numbers",
            distinct.len()
        );
        assert_eq!(countries.len(), 9);
    }

    #[test]
    fn demo_tenant_has_the_size_asked_and_the_fixed_accounts() {
        let seed = tenant(300);
        assert_eq!(seed.users.len(), 300);
        assert_eq!(seed.apps[0].client_id, APP_CLIENT_ID);
        let upns: Vec<&str> = seed
            .users
            .iter()
            .filter_map(|u| {
                u.properties
                    .get("userPrincipalName")
                    .and_then(Value::as_str)
            })
            .collect();
        assert!(upns.contains(&BREAK_GLASS_UPNS[0]));
        let mut unique = upns.clone();
        unique.sort_unstable();
        unique.dedup();
        assert_eq!(unique.len(), upns.len(), "UPNs are unique");
        assert!(upns.iter().any(|u| u.contains("#EXT#")), "there are guests");
        let managed = seed.users.iter().filter(|u| u.manager.is_some()).count();
        assert!(managed > 200, "{managed} users with a manager");
        let passkeys = seed
            .users
            .iter()
            .filter(|u| {
                u.authentication
                    .other_methods
                    .iter()
                    .any(|m| matches!(m, graph_sim::OtherMethodSeed::Detailed(d) if d["kind"] == "fido2"))
            })
            .count();
        assert!(passkeys > 0, "some users have a passkey");
        assert!(seed.authentication_methods_policy.is_some());
    }

    #[test]
    fn demo_policy_parses() {
        let policy = autoenroll_core::policy::Policy::from_toml_str(&policy_toml()).unwrap();
        assert_eq!(policy.excluded_upns.len(), 2);
        assert!(
            !policy.bootstrap_effect().is_on(),
            "today's run: no bootstrap"
        );
        let era =
            autoenroll_core::policy::Policy::from_toml_str(&passkey_era_policy_toml()).unwrap();
        assert!(
            era.bootstrap_effect().is_on(),
            "{:?}",
            era.bootstrap_effect()
        );
        assert_eq!(era.excluded_upns, policy.excluded_upns);
    }
}
