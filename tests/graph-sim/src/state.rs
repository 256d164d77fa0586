//! The simulated tenant: directory objects, authentication methods, the simulated clock and the
//! change log other parts (notifications, delta) are fed from.
//!
//! Everything lives behind one `parking_lot::Mutex`; handlers lock, change, unlock — never across
//! an `.await`.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use parking_lot::Mutex;
use serde::Serialize;
use serde_json::{Map, Value};
use time::OffsetDateTime;
use tokio::sync::broadcast;

use crate::error::SimError;
use crate::seed::{self, AppSeed, Seed};

mod records;

pub use records::{
    AuthState, DirectoryRole, Group, OtherMethod, PerUserMfaState, PhoneRecord, PhoneType,
    TapRecord, UserRecord, method_ids,
};

/// What happened to a user, as the change log records it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum ChangeKind {
    Created,
    Updated,
    Deleted,
    /// Authentication methods or MFA settings changed. Not a `user` property change: Microsoft
    /// does not document a `/users` notification for it, so the simulator sends none (the
    /// stricter choice); it is logged for tests and for delta bookkeeping only.
    AuthenticationChanged,
}

/// One entry of the change log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ChangeEvent {
    pub seq: u64,
    pub user_id: String,
    pub kind: ChangeKind,
    #[serde(with = "time::serde::rfc3339")]
    pub at: OffsetDateTime,
}

/// The tenant.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Tenant {
    pub id: String,
    pub display_name: String,
    pub default_domain: String,
    /// Keyed by object id; the order is the paging order.
    pub users: BTreeMap<String, UserRecord>,
    /// Soft-deleted users (Graph keeps them 30 days in deletedItems).
    pub deleted_users: BTreeMap<String, UserRecord>,
    #[serde(skip)]
    pub upn_index: HashMap<String, String>,
    pub groups: BTreeMap<String, Group>,
    pub directory_roles: BTreeMap<String, DirectoryRole>,
    #[serde(skip)]
    pub apps: Vec<AppSeed>,
    pub changes: Vec<ChangeEvent>,
    pub subscriptions: crate::subscriptions::SubscriptionStore,
    pub delta: crate::delta::DeltaStore,
    pub methods_policy: crate::policy::MethodsPolicy,
    /// Organizational contacts (`orgContact`) by object id: Graph properties.
    pub org_contacts: BTreeMap<String, Map<String, Value>>,
    /// A user's manager (user or org contact id), by user id.
    pub managers: BTreeMap<String, String>,
    pub licence: crate::reports::Licence,
    pub conditional_access: crate::conditional_access::ConditionalAccess,
    /// Secure Score objects, newest first (secure_score.rs).
    pub secure_scores: Vec<Map<String, Value>>,
}

impl Tenant {
    pub fn from_seed(
        seed: &Seed,
        synthetic_users: usize,
        now: OffsetDateTime,
    ) -> Result<Self, SimError> {
        let domain = seed
            .tenant
            .default_domain
            .clone()
            .unwrap_or_else(|| "sim.onmicrosoft.com".into());
        let mut tenant = Tenant {
            id: seed.tenant.id.clone(),
            display_name: seed
                .tenant
                .display_name
                .clone()
                .unwrap_or_else(|| "Simulated tenant".into()),
            default_domain: domain.clone(),
            users: BTreeMap::new(),
            deleted_users: BTreeMap::new(),
            upn_index: HashMap::new(),
            groups: BTreeMap::new(),
            directory_roles: BTreeMap::new(),
            apps: seed.apps.clone(),
            changes: Vec::new(),
            subscriptions: Default::default(),
            delta: Default::default(),
            methods_policy: Default::default(),
            org_contacts: BTreeMap::new(),
            managers: BTreeMap::new(),
            licence: seed.tenant.licence,
            conditional_access: crate::conditional_access::ConditionalAccess::from_seed(
                &seed.conditional_access_policies,
                &seed.authentication_strength_policies,
                seed.tenant.licence.is_premium(),
                &crate::clock::format_rfc3339(now),
            )?,
            secure_scores: crate::secure_score::from_seed(&seed.secure_scores)?,
        };
        for user in &seed.users {
            let record = crate::users::user_from_seed(user, now)?;
            tenant.insert_user(record)?;
        }
        for n in 0..synthetic_users {
            tenant.insert_user(crate::users::synthetic_user(n, &domain, now))?;
        }
        for g in &seed.groups {
            let id =
                g.id.clone()
                    .unwrap_or_else(|| seed::derived_id("group", &g.display_name));
            let members = g
                .members
                .iter()
                .map(|m| {
                    tenant.resolve_user_id(m).ok_or_else(|| {
                        SimError::InvalidSeed(format!(
                            "group {}: unknown member {m}",
                            g.display_name
                        ))
                    })
                })
                .collect::<Result<Vec<_>, _>>()?;
            tenant.groups.insert(
                id.clone(),
                Group {
                    id,
                    display_name: g.display_name.clone(),
                    description: g.description.clone(),
                    security_enabled: g.security_enabled,
                    is_assignable_to_role: g.is_assignable_to_role,
                    members,
                },
            );
        }
        for r in &seed.directory_roles {
            let id =
                r.id.clone()
                    .unwrap_or_else(|| seed::derived_id("directoryRole", &r.role_template_id));
            let members = r
                .members
                .iter()
                .map(|m| {
                    tenant.resolve_user_id(m).ok_or_else(|| {
                        SimError::InvalidSeed(format!(
                            "role {}: unknown member {m}",
                            r.display_name
                        ))
                    })
                })
                .collect::<Result<Vec<_>, _>>()?;
            tenant.directory_roles.insert(
                id.clone(),
                DirectoryRole {
                    id,
                    display_name: r.display_name.clone(),
                    role_template_id: r.role_template_id.clone(),
                    description: r.description.clone(),
                    members,
                },
            );
        }
        tenant.methods_policy = crate::policy::MethodsPolicy::from_seed(
            seed.authentication_methods_policy.as_ref(),
            &tenant,
        )?;
        crate::manager::seed_into(&mut tenant, seed)?;
        Ok(tenant)
    }

    /// Adds a user without logging a change (seeding).
    fn insert_user(&mut self, record: UserRecord) -> Result<(), SimError> {
        let id = record.id().to_string();
        let upn = record.upn().to_ascii_lowercase();
        if upn.is_empty() {
            return Err(SimError::InvalidSeed(format!(
                "user {id} has no userPrincipalName"
            )));
        }
        if self.users.contains_key(&id) || self.upn_index.contains_key(&upn) {
            return Err(SimError::InvalidSeed(format!("duplicate user {upn}")));
        }
        self.upn_index.insert(upn, id.clone());
        self.users.insert(id, record);
        Ok(())
    }

    /// Graph addresses users by object id or by UPN (case-insensitive).
    pub fn resolve_user_id(&self, id_or_upn: &str) -> Option<String> {
        if self.users.contains_key(id_or_upn) {
            return Some(id_or_upn.to_string());
        }
        self.upn_index.get(&id_or_upn.to_ascii_lowercase()).cloned()
    }

    pub fn user(&self, id_or_upn: &str) -> Option<&UserRecord> {
        self.resolve_user_id(id_or_upn)
            .and_then(|id| self.users.get(&id))
    }

    /// Adds a user and logs `Created`. The caller has validated it.
    pub fn create_user(
        &mut self,
        record: UserRecord,
        at: OffsetDateTime,
    ) -> Result<ChangeEvent, String> {
        let upn = record.upn().to_ascii_lowercase();
        if self.upn_index.contains_key(&upn) {
            return Err(
                "Another object with the same value for property userPrincipalName already exists."
                    .into(),
            );
        }
        let id = record.id().to_string();
        self.upn_index.insert(upn, id.clone());
        self.users.insert(id.clone(), record);
        Ok(self.log(id, ChangeKind::Created, at))
    }

    /// Keeps the UPN index in step after a property change.
    pub fn reindex_upn(&mut self, id: &str, old_upn: &str) {
        let Some(user) = self.users.get(id) else {
            return;
        };
        let new_upn = user.upn().to_ascii_lowercase();
        if new_upn != old_upn.to_ascii_lowercase() {
            self.upn_index.remove(&old_upn.to_ascii_lowercase());
            self.upn_index.insert(new_upn, id.to_string());
        }
    }

    /// Soft-deletes a user: gone from `/users`, kept in `deleted_users`, removed from groups
    /// and roles. Logs `Deleted`.
    pub fn delete_user(&mut self, id: &str, at: OffsetDateTime) -> Option<ChangeEvent> {
        let mut record = self.users.remove(id)?;
        self.upn_index.remove(&record.upn().to_ascii_lowercase());
        for g in self.groups.values_mut() {
            g.members.retain(|m| m != id);
        }
        for r in self.directory_roles.values_mut() {
            r.members.retain(|m| m != id);
        }
        record.properties.insert(
            "deletedDateTime".into(),
            Value::String(crate::clock::format_rfc3339(at)),
        );
        self.deleted_users.insert(id.to_string(), record);
        Some(self.log(id.to_string(), ChangeKind::Deleted, at))
    }

    /// Appends to the change log; the caller publishes the event after unlocking.
    pub fn log(&mut self, user_id: String, kind: ChangeKind, at: OffsetDateTime) -> ChangeEvent {
        let seq = self.changes.last().map_or(1, |c| c.seq + 1);
        let event = ChangeEvent {
            seq,
            user_id,
            kind,
            at,
        };
        self.changes.push(event.clone());
        event
    }

    pub fn changes_since(&self, seq: u64) -> Vec<ChangeEvent> {
        let start = self.changes.partition_point(|c| c.seq <= seq);
        self.changes[start..].to_vec()
    }

    pub fn app(&self, client_id: &str) -> Option<&AppSeed> {
        self.apps
            .iter()
            .find(|a| a.client_id.eq_ignore_ascii_case(client_id))
    }

    pub fn is_member(&self, group_id: &str, object_id: &str) -> bool {
        self.groups
            .get(group_id)
            .is_some_and(|g| g.members.iter().any(|m| m == object_id))
    }
}

/// Shared tenant state plus the change feed.
#[derive(Debug, Clone)]
pub struct TenantHandle {
    tenant: Arc<Mutex<Tenant>>,
    changes: broadcast::Sender<ChangeEvent>,
}

impl TenantHandle {
    pub fn new(tenant: Tenant) -> Self {
        let (changes, _) = broadcast::channel(4096);
        Self {
            tenant: Arc::new(Mutex::new(tenant)),
            changes,
        }
    }

    /// Runs `f` with the tenant locked. Never hold the lock across an await.
    pub fn with<R>(&self, f: impl FnOnce(&mut Tenant) -> R) -> R {
        let mut guard = self.tenant.lock();
        f(&mut guard)
    }

    /// Publishes change events (after the lock is released). A lagging receiver can catch up
    /// from `Tenant::changes_since`.
    pub fn publish(&self, events: impl IntoIterator<Item = ChangeEvent>) {
        for event in events {
            // No receiver is fine: nobody is listening yet.
            let _ = self.changes.send(event);
        }
    }

    /// A receiver of every change logged from now on.
    pub fn subscribe_changes(&self) -> broadcast::Receiver<ChangeEvent> {
        self.changes.subscribe()
    }
}
