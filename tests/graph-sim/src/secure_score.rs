//! `GET /security/secureScores`: Microsoft Secure Score, one object per day, newest first
//! (learn securescores-list; permission SecurityEvents.Read.All, see permissions.rs). Seeded
//! with the `secureScores` key in Graph's shape; a tenant without it has no score yet (an
//! empty collection — what a brand-new tenant returns).
//!
//! Docs are silent on paging for this collection: the simulator honours `$top` and answers
//! the rest in one page, and rejects query options it does not implement.

use axum::Router;
use axum::extract::{Extension, State};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde_json::{Map, Value};

use crate::AppState;
use crate::error::{GraphResult, SimError};
use crate::odata::{self, ODataQuery};
use crate::pipeline::RequestInfo;

/// Scores checked at seeding: each needs `id`, numeric `currentScore` and `maxScore`, and
/// `createdDateTime`, which orders them (newest first, as Graph lists them).
pub(crate) fn from_seed(
    scores: &[Map<String, Value>],
) -> Result<Vec<Map<String, Value>>, SimError> {
    for s in scores {
        let ok = s.get("id").is_some_and(Value::is_string)
            && s.get("createdDateTime").is_some_and(Value::is_string)
            && s.get("currentScore").is_some_and(Value::is_number)
            && s.get("maxScore").is_some_and(Value::is_number);
        if !ok {
            return Err(SimError::InvalidSeed(
                "a secureScores entry needs id, createdDateTime, currentScore and maxScore".into(),
            ));
        }
    }
    let mut sorted = scores.to_vec();
    let created = |s: &Map<String, Value>| {
        s.get("createdDateTime")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned()
    };
    sorted.sort_by_key(|s| std::cmp::Reverse(created(s)));
    Ok(sorted)
}

pub(crate) fn routes() -> Router<AppState> {
    Router::new().route("/security/secureScores", get(list))
}

async fn list(
    State(state): State<AppState>,
    Extension(info): Extension<RequestInfo>,
    query: ODataQuery,
) -> GraphResult<Response> {
    query.reject_unsupported(&[])?;
    let top = query.top(999)?;
    let items: Vec<Value> = state.tenant.with(|t| {
        t.secure_scores
            .iter()
            .take(top)
            .cloned()
            .map(Value::Object)
            .collect()
    });
    let context = odata::context(&state.base_url, &info, "security/secureScores");
    Ok(axum::Json(odata::collection(context, items, None)).into_response())
}
