//! `GET /users/delta`, v1.0 and beta.
//!
//! Sources: microsoft-graph-docs-contrib api-reference/v1.0/api/user-delta.md (query options
//! only on the first call, encoded in the links; `$select` with `id` always returned;
//! `$filter=id eq '…'` for up to 50 objects; `@odata.nextLink` until an `@odata.deltaLink`);
//! concepts/delta-query-overview.md (`$deltatoken=latest`; `@removed` with reason `changed` for
//! a soft-deleted, restorable object and `deleted` for a permanent deletion); devblogs "duration
//! of change tracking tokens for identity resources" — 7 days, then 400 `syncStateNotFound`.
//!
//! Tokens are opaque ids of state kept here (a client cannot forge or edit one). A round starts
//! with a snapshot of all users at the change log's current sequence number; a delta link
//! remembers that number, and the next round returns every user changed after it (its current
//! state, or `@removed`). Changes to authentication methods are not user changes and are not
//! returned (Graph's user delta tracks user properties).

use std::collections::HashMap;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Extension, Json, Router};
use serde::Serialize;
use serde_json::{Value, json};
use time::{Duration, OffsetDateTime};

use crate::AppState;
use crate::auth::Caller;
use crate::error::{GraphError, GraphResult};
use crate::odata::ODataQuery;
use crate::pipeline::RequestInfo;
use crate::state::{ChangeKind, Tenant};

/// Identity delta tokens are valid for 7 days.
pub const TOKEN_LIFETIME: Duration = Duration::days(7);
/// Docs silent on the page size of user delta; chosen 100 (`$top` 1–999 honoured).
const DEFAULT_PAGE: usize = 100;
/// `$filter=id eq …` takes at most 50 ids (user-delta.md).
const MAX_FILTER_IDS: usize = 50;

#[derive(Debug, Clone)]
enum Round {
    /// Returning `ids[offset..]`; the round's delta link will start at `next_seq`.
    Page {
        ids: Vec<String>,
        offset: usize,
        next_seq: u64,
        /// true: a change round (missing users are `@removed`); false: the initial snapshot.
        changes: bool,
    },
    /// A delta link: the changes after `seq` are next.
    Link { seq: u64 },
}

#[derive(Debug, Clone)]
struct TokenState {
    round: Round,
    select: Option<Vec<String>>,
    filter: Option<Vec<String>>,
    top: usize,
    issued: OffsetDateTime,
}

/// Delta tokens handed out (the dump shows how many).
#[derive(Debug, Default)]
pub struct DeltaStore {
    tokens: HashMap<String, TokenState>,
}

impl Serialize for DeltaStore {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        json!({ "tokens": self.tokens.len() }).serialize(s)
    }
}

impl DeltaStore {
    fn issue(&mut self, state: TokenState) -> String {
        // Keep memory bounded in long local runs: tokens past their life are useless anyway.
        let now = state.issued;
        self.tokens
            .retain(|_, t| now - t.issued <= TOKEN_LIFETIME + Duration::days(1));
        let id = uuid::Uuid::new_v4().simple().to_string();
        self.tokens.insert(id.clone(), state);
        id
    }
}

fn sync_state_not_found() -> GraphError {
    // Docs give the code only; the message is the simulator's.
    GraphError::new(
        StatusCode::BAD_REQUEST,
        "syncStateNotFound",
        "The sync state generation is not found. The delta token is expired or invalid; start a new delta round without a token.",
    )
}

/// `id eq 'a' or id eq 'b'` → the ids.
fn parse_filter(raw: &str) -> GraphResult<Vec<String>> {
    let unsupported = || {
        GraphError::new(
            StatusCode::BAD_REQUEST,
            "Request_UnsupportedQuery",
            "Unsupported filter for delta: only \"id eq '{id}'\" clauses joined by 'or' are supported.",
        )
    };
    let mut ids = Vec::new();
    for clause in raw.split(" or ") {
        let clause = clause.trim();
        let rest = clause
            .strip_prefix("id eq ")
            .or_else(|| clause.strip_prefix("id eq"))
            .ok_or_else(unsupported)?
            .trim();
        let id = rest
            .strip_prefix('\'')
            .and_then(|r| r.strip_suffix('\''))
            .ok_or_else(unsupported)?;
        ids.push(id.to_string());
    }
    if ids.len() > MAX_FILTER_IDS {
        return Err(GraphError::bad_request(format!(
            "Too many ids in the filter: at most {MAX_FILTER_IDS}."
        )));
    }
    Ok(ids)
}

fn last_seq(t: &Tenant) -> u64 {
    t.changes.last().map_or(0, |c| c.seq)
}

/// Users changed after `seq`, each once, in the order of their last change.
fn changed_since(t: &Tenant, seq: u64) -> Vec<String> {
    let mut ids: Vec<String> = Vec::new();
    for c in t.changes_since(seq) {
        if c.kind == ChangeKind::AuthenticationChanged {
            continue;
        }
        ids.retain(|id| *id != c.user_id);
        ids.push(c.user_id);
    }
    ids
}

async fn delta(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Extension(info): Extension<RequestInfo>,
    query: ODataQuery,
) -> GraphResult<Response> {
    // The pipeline checks /users/delta; the alias with the namespace is checked here.
    caller.require_any(&[
        "User.Read.All",
        "User.ReadWrite.All",
        "Directory.Read.All",
        "Directory.ReadWrite.All",
    ])?;
    // `Prefer: return=minimal` is not simulated: full (selected) objects are always returned,
    // which user-delta.md documents as the default behaviour.
    query.reject_unsupported(&["filter"])?;
    let now = state.now();

    // The token, if any, carries every other option (user-delta.md: options given on later
    // calls are not needed; the simulator ignores them, the token's win).
    let token = match (query.get("deltatoken"), query.get("skiptoken")) {
        (Some(_), Some(_)) => {
            return Err(GraphError::bad_request(
                "Use either $deltatoken or $skiptoken, not both.",
            ));
        }
        (Some(t), None) | (None, Some(t)) => Some(t.to_string()),
        (None, None) => None,
    };

    let (round, select, filter, top) = match token.as_deref() {
        Some("latest") if query.get("deltatoken").is_some() => {
            // Start from now: nothing to return, only a delta link.
            let select = query.select();
            validate_select(select.as_deref(), &info.version)?;
            let filter = query.get("filter").map(parse_filter).transpose()?;
            let top = query.top(DEFAULT_PAGE)?;
            let seq = state.tenant.with(|t| last_seq(t));
            (Round::Link { seq }, select, filter, top)
        }
        Some(t) => {
            let found = state
                .tenant
                .with(|tenant| tenant.delta.tokens.get(t).cloned());
            let Some(found) = found else {
                return Err(sync_state_not_found());
            };
            if now - found.issued > TOKEN_LIFETIME {
                state.tenant.with(|tenant| tenant.delta.tokens.remove(t));
                return Err(sync_state_not_found());
            }
            match found.round {
                // Following a delta link starts a change round.
                Round::Link { seq } => {
                    let (ids, next_seq) = state
                        .tenant
                        .with(|tenant| (changed_since(tenant, seq), last_seq(tenant)));
                    (
                        Round::Page {
                            ids,
                            offset: 0,
                            next_seq,
                            changes: true,
                        },
                        found.select,
                        found.filter,
                        found.top,
                    )
                }
                page @ Round::Page { .. } => (page, found.select, found.filter, found.top),
            }
        }
        None => {
            let select = query.select();
            validate_select(select.as_deref(), &info.version)?;
            let filter = query.get("filter").map(parse_filter).transpose()?;
            let top = query.top(DEFAULT_PAGE)?;
            let (ids, next_seq) = state
                .tenant
                .with(|t| (t.users.keys().cloned().collect::<Vec<_>>(), last_seq(t)));
            (
                Round::Page {
                    ids,
                    offset: 0,
                    next_seq,
                    changes: false,
                },
                select,
                filter,
                top,
            )
        }
    };

    // Render one page and issue the next token.
    let (items, next) = match round {
        Round::Link { seq } => (Vec::new(), Round::Link { seq }),
        Round::Page {
            ids,
            offset,
            next_seq,
            changes,
        } => {
            let mut items = Vec::new();
            let mut pos = offset;
            let rendered = state.tenant.with(|t| -> GraphResult<()> {
                while pos < ids.len() && items.len() < top {
                    let id = &ids[pos];
                    pos += 1;
                    if filter
                        .as_ref()
                        .is_some_and(|f| !f.iter().any(|x| x.eq_ignore_ascii_case(id)))
                    {
                        continue;
                    }
                    if let Some(user) = t.users.get(id) {
                        let mut obj = crate::users::render(user, select.as_deref(), &info.version)?;
                        // "The id property is always returned."
                        obj.insert("id".into(), Value::String(id.clone()));
                        items.push(Value::Object(obj));
                    } else if changes {
                        // Soft-deleted users are restorable: reason `changed`; gone for good:
                        // `deleted` (delta-query-overview.md).
                        let reason = if t.deleted_users.contains_key(id) {
                            "changed"
                        } else {
                            "deleted"
                        };
                        items.push(json!({"id": id, "@removed": {"reason": reason}}));
                    }
                    // In the snapshot, a user deleted since it was taken is skipped: the
                    // deletion is in the change log and comes in the next round.
                }
                Ok(())
            });
            rendered?;
            if pos < ids.len() {
                (
                    items,
                    Round::Page {
                        ids,
                        offset: pos,
                        next_seq,
                        changes,
                    },
                )
            } else {
                (items, Round::Link { seq: next_seq })
            }
        }
    };
    let is_link = matches!(next, Round::Link { .. });
    let token = state.tenant.with(|t| {
        t.delta.issue(TokenState {
            round: next,
            select: select.clone(),
            filter,
            top,
            issued: now,
        })
    });
    let (link_name, param) = if is_link {
        ("@odata.deltaLink", "$deltatoken")
    } else {
        ("@odata.nextLink", "$skiptoken")
    };
    let link = format!(
        "{}/{}/users/delta?{param}={token}",
        state.base_url, info.version
    );
    let fragment = match &select {
        Some(s) if !s.is_empty() => format!("users({})", s.join(",")),
        _ => "users".into(),
    };
    let body = json!({
        "@odata.context": crate::odata::context(&state.base_url, &info, &fragment),
        link_name: link,
        "value": items,
    });
    Ok(Json(body).into_response())
}

/// Unknown property names are a 400 on the first call, as on `GET /users`.
fn validate_select(select: Option<&[String]>, version: &str) -> GraphResult<()> {
    if let Some(select) = select
        && !select.is_empty()
    {
        let probe = crate::state::UserRecord {
            properties: serde_json::Map::new(),
            authentication: Default::default(),
        };
        crate::users::render(&probe, Some(select), version)?;
    }
    Ok(())
}

/// Graph routes, nested under both `/v1.0` and `/beta`. `delta()` is the function-call form
/// the links use; `microsoft.graph.delta()` is the OpenAPI path.
pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/users/delta", get(delta))
        .route("/users/delta()", get(delta))
        .route("/users/microsoft.graph.delta()", get(delta))
}

/// Test-control routes, nested under `/_sim` (none needed: the clock is the only knob).
pub(crate) fn admin_routes() -> Router<AppState> {
    Router::new()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filter_takes_id_clauses_joined_by_or() {
        assert_eq!(
            parse_filter("id eq 'a' or id eq 'b'").unwrap(),
            ["a".to_string(), "b".to_string()]
        );
        assert!(parse_filter("displayName eq 'x'").is_err());
        let many = (0..51)
            .map(|i| format!("id eq '{i}'"))
            .collect::<Vec<_>>()
            .join(" or ");
        assert!(parse_filter(&many).is_err());
    }
}
