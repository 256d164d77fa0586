//! The same user changes made "from outside" (AD sync, HR provisioning) through the admin API.

use serde_json::{Map, Value};

use crate::AppState;
use crate::seed::UserSeed;

use super::*;

/// Admin create: any known property (including on-premises ones) and an optional
/// `authentication` block as in a seed.
pub(crate) fn admin_create(state: &AppState, body: Value) -> Result<String, String> {
    let seed: UserSeed = serde_json::from_value(body).map_err(|e| e.to_string())?;
    let now = state.now();
    let mut record = user_from_seed(&seed, now).map_err(|e| e.to_string())?;
    if seed.properties.get("id").is_none() {
        record
            .properties
            .insert("id".into(), Value::String(uuid::Uuid::new_v4().to_string()));
    }
    let id = record.id().to_string();
    let event = state.tenant.with(|t| {
        if t.users.contains_key(&id) {
            return Err(format!("a user with id {id} exists"));
        }
        t.create_user(record, now)
    })?;
    state.tenant.publish([event]);
    Ok(id)
}

/// Admin update: any known property except `id`; `null` clears.
pub(crate) fn admin_update(state: &AppState, user: &str, body: Value) -> Result<(), String> {
    let Value::Object(props) = body else {
        return Err("expected a JSON object".into());
    };
    let mut changes = Map::new();
    for (k, v) in props {
        let name = canonical(&k).ok_or_else(|| format!("unknown user property {k}"))?;
        if name == "id" {
            return Err("id cannot change".into());
        }
        changes.insert(name.to_string(), v);
    }
    check_types(&changes)?;
    let now = state.now();
    let event = state.tenant.with(|t| {
        let id = t
            .resolve_user_id(user)
            .ok_or_else(|| format!("no user {user}"))?;
        if let Some(new_upn) = changes.get("userPrincipalName").and_then(Value::as_str)
            && t.upn_index
                .get(&new_upn.to_ascii_lowercase())
                .is_some_and(|other| *other != id)
        {
            return Err(format!("userPrincipalName {new_upn} is taken"));
        }
        let record = t
            .users
            .get_mut(&id)
            .ok_or_else(|| format!("no user {user}"))?;
        let old_upn = record.upn().to_string();
        for (k, v) in changes {
            record.properties.insert(k, v);
        }
        t.reindex_upn(&id, &old_upn);
        Ok(t.log(id, crate::state::ChangeKind::Updated, now))
    })?;
    state.tenant.publish([event]);
    Ok(())
}

pub(crate) fn admin_delete(state: &AppState, user: &str) -> Result<(), String> {
    let now = state.now();
    let event = state
        .tenant
        .with(|t| {
            let id = t.resolve_user_id(user)?;
            t.delete_user(&id, now)
        })
        .ok_or_else(|| format!("no user {user}"))?;
    state.tenant.publish([event]);
    Ok(())
}
