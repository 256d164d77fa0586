//! What the report reads from Graph, per tenant (administrators) and per user (exclusion,
//! group membership when the policy needs it, the method list) — and the row it makes of it.
//!
//! An account excluded by UPN is not read beyond the user object, one excluded by group beyond
//! its memberships (as in enrollment: `autoenroll_core::read`).

use std::collections::HashSet;

use autoenroll_core::coverage::{self, CoverageInput, MethodKind, Telephony};
use autoenroll_core::failure::{Cause, Disposition};
use autoenroll_core::phone;
use autoenroll_core::plan::{self, SkipReason};
use autoenroll_core::policy::Policy;
use autoenroll_graph::model::{AuthenticationMethod, USER_SELECT, User};
use autoenroll_graph::{GraphClient, GraphError, UserQuery};
use time::Date;

use super::own::{OwnRecord, OwnRecords};
use super::registration::{self, RegistrationIndex};
use super::{CoverageRow, MethodSource, NOT_READ};
use crate::backfill::masked_mobile;

/// Global Administrator's role template id (the same in every tenant).
pub const GLOBAL_ADMIN_TEMPLATE: &str = "62e90394-69f5-4237-9190-012177145e10";

/// The users holding a directory role; Global Administrators apart (their SMS/voice retire
/// later).
#[derive(Debug, Default, Clone)]
pub struct Admins {
    pub any_role: HashSet<String>,
    pub global: HashSet<String>,
}

/// Every activated directory role's members (a handful of calls per tenant).
pub async fn admins(graph: &GraphClient) -> Result<Admins, GraphError> {
    let mut admins = Admins::default();
    for role in graph.directory_roles().list().await? {
        let is_global = role
            .role_template_id
            .as_deref()
            .is_some_and(|t| t.eq_ignore_ascii_case(GLOBAL_ADMIN_TEMPLATE));
        for member in graph.directory_roles().members(&role.id).await? {
            let is_user = member
                .odata_type
                .as_deref()
                .is_none_or(|t| t.eq_ignore_ascii_case("#microsoft.graph.user"));
            if !is_user {
                continue;
            }
            if is_global {
                admins.global.insert(member.id.clone());
            }
            admins.any_role.insert(member.id);
        }
    }
    Ok(admins)
}

/// `GET /users` with what classification needs, `top` users a page.
pub fn user_query(top: u32) -> UserQuery {
    UserQuery::select(USER_SELECT).with_top(top)
}

/// Status and Graph error code, never Graph's message (it may quote directory data).
pub fn summary(e: &GraphError) -> String {
    match (e.status, e.code.as_deref()) {
        (Some(s), Some(c)) => format!("{s} {c}"),
        (Some(s), None) => s.to_string(),
        (None, _) => format!("{:?}", e.kind),
    }
}

/// A read that failed systemically (a permission missing, the credential refused): the rest
/// of the tenant would fail the same way — no point going on. The one disposition rule of
/// `autoenroll_core::failure` decides, never the summary text.
pub fn is_systemic(e: &GraphError) -> bool {
    Cause::from(e).disposition() == Disposition::Systemic
}

/// Per-user reading with the tenant-wide facts it needs.
pub struct Reader<'a> {
    pub graph: &'a GraphClient,
    pub policy: &'a Policy,
    pub admins: &'a Admins,
    pub telephony: Telephony,
    pub today: Date,
    /// The registration report, when it is the source (registration.rs).
    pub index: Option<&'a RegistrationIndex>,
    /// autoenroll's own records (`--table`), when given.
    pub own: Option<&'a dyn OwnRecords>,
}

/// What classification works from: the kinds, the registered numbers (masked; the
/// registration report has none) and where they came from.
struct Methods {
    kinds: Vec<MethodKind>,
    masked_numbers: Vec<String>,
    source: MethodSource,
}

impl Methods {
    fn none() -> Self {
        Methods {
            kinds: vec![],
            masked_numbers: vec![],
            source: MethodSource::None,
        }
    }

    fn from_list(methods: &[AuthenticationMethod]) -> Self {
        Methods {
            kinds: methods
                .iter()
                .map(|m| MethodKind::from_odata_type(&m.odata_type, &m.properties))
                .collect(),
            masked_numbers: methods
                .iter()
                .filter_map(|m| m.properties.get("phoneNumber").and_then(|v| v.as_str()))
                .map(phone::mask)
                .collect(),
            source: MethodSource::MethodList,
        }
    }
}

impl Reader<'_> {
    /// The row for `user` (from a `/users` page with [`user_query`]'s fields).
    /// The row, and whether its read failed systemically (see [`is_systemic`]).
    pub async fn row(&self, user: User) -> (CoverageRow, bool) {
        let (mut row, systemic) = match self.read(&user).await {
            Ok((excluded, methods)) => (self.classified(&user, excluded, methods), false),
            Err(e) => (self.not_read(&user, &e), is_systemic(&e)),
        };
        if let Some(own) = self.own {
            row.autoenroll = Some(match own.user(&user.id).await {
                Ok(record) => record,
                Err(e) => OwnRecord {
                    read_error: Some(Cause::from(&e).to_string()),
                    ..OwnRecord::default()
                },
            });
        }
        (row, systemic)
    }

    /// The exclusion (if any) and, for users not excluded, their methods.
    async fn read(&self, user: &User) -> Result<(Option<SkipReason>, Methods), GraphError> {
        let upn = user.user_principal_name.as_deref();
        if let Some(reason) = plan::excluded(self.policy, upn, &[]) {
            return Ok((Some(reason), Methods::none()));
        }
        // Exclusion and scope groups only (the MFA group says nothing about coverage). A GET,
        // as in enrollment: a POST would cost a write.
        if !self.policy.excluded_groups.is_empty() || !self.policy.scope_groups.is_empty() {
            let member_of = self.graph.users().member_of_ids(&user.id).await?;
            if let Some(reason) = plan::excluded(self.policy, upn, &member_of) {
                return Ok((Some(reason), Methods::none()));
            }
            if !self.policy.in_scope(&member_of) {
                return Ok((Some(SkipReason::OutOfScope), Methods::none()));
            }
        }
        // From the registration report where it lists the user and its answer is enough
        // (registration.rs says when it is not); the user's own method list otherwise.
        if let Some(kinds) = self.index.and_then(|i| i.methods(&user.id))
            && !registration::needs_method_read(&kinds)
        {
            let methods = Methods {
                kinds,
                masked_numbers: vec![],
                source: MethodSource::RegistrationReport,
            };
            return Ok((None, methods));
        }
        let methods = self.graph.auth_methods(&user.id).list().await?;
        Ok((None, Methods::from_list(&methods)))
    }

    fn classified(
        &self,
        user: &User,
        excluded: Option<SkipReason>,
        methods: Methods,
    ) -> CoverageRow {
        let kinds = &methods.kinds;
        let upn = user.user_principal_name.as_deref().unwrap_or_default();
        let is_global_admin = self.admins.global.contains(&user.id);
        let verdict = coverage::classify(&CoverageInput {
            excluded,
            methods: kinds,
            is_global_admin,
            is_guest: plan::is_guest(user),
            is_external: upn.to_ascii_uppercase().contains("#EXT#"),
            account_enabled: user.account_enabled,
            mobile_phone: Some(user.mobile_phone.as_deref().unwrap_or_default()),
            default_region: self.policy.default_region,
            telephony: self.telephony,
            today: self.today,
        });
        let mut labels: Vec<String> = kinds.iter().map(MethodKind::label).collect();
        labels.sort();
        labels.dedup();
        CoverageRow {
            state: verdict.state.code().to_owned(),
            reason: verdict.reason,
            breaks_on: verdict.breaks_on.map(|d| d.to_string()),
            next_step: verdict.next_step,
            methods: labels,
            masked_number: if methods.masked_numbers.is_empty() {
                masked_mobile(user, self.policy)
            } else {
                methods.masked_numbers.join("; ")
            },
            method_source: methods.source,
            ..self.base(user, is_global_admin)
        }
    }

    fn not_read(&self, user: &User, e: &GraphError) -> CoverageRow {
        CoverageRow {
            state: NOT_READ.to_owned(),
            next_step:
                "run the report again; if it persists, check the app with `autoenroll doctor`"
                    .to_owned(),
            error: Some(summary(e)),
            ..self.base(user, self.admins.global.contains(&user.id))
        }
    }

    fn base(&self, user: &User, is_global_admin: bool) -> CoverageRow {
        CoverageRow {
            user_principal_name: user.user_principal_name.clone().unwrap_or_default(),
            display_name: user.display_name.clone().unwrap_or_default(),
            user_id: user.id.clone(),
            user_type: if plan::is_guest(user) {
                "guest"
            } else {
                "member"
            }
            .to_owned(),
            is_admin: self.admins.any_role.contains(&user.id),
            is_global_admin,
            state: String::new(),
            reason: None,
            methods: vec![],
            masked_number: String::new(),
            breaks_on: None,
            next_step: String::new(),
            method_source: MethodSource::None,
            autoenroll: None,
            error: None,
        }
    }
}
