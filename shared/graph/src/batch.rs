//! JSON batching (`POST /$batch`): up to 20 requests per call, each answered — and throttled —
//! on its own. MGDC concepts/json-batching.md.
//!
//! [`GraphClient::batch`] takes any number of requests, packs them into batches of at most 20
//! (keeping requests linked by `dependsOn` in the same batch, as Graph requires), and sends
//! again only the items that were throttled or hit a transient error — plus the items that failed
//! with 424 because something they depend on did.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::time::Duration;

use backon::BackoffBuilder;
use http::{HeaderMap, HeaderName, HeaderValue, Method};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::client::{ApiVersion, GraphClient};
use crate::error::GraphError;
use crate::limits::BATCH_MAX_REQUESTS;
use crate::pacer::BudgetClass;
use crate::retry::{RetrySafety, next_delay};

/// One request inside a batch. `url` is relative to the version root, e.g.
/// `/users/{id}?$select=id,mobilePhone`.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct BatchRequest {
    pub id: String,
    pub method: String,
    pub url: String,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub headers: BTreeMap<String, String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub body: Option<Value>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub depends_on: Vec<String>,
}

impl BatchRequest {
    pub fn new(id: impl Into<String>, method: Method, url: impl Into<String>) -> Self {
        Self {
            id: id.into(),
            method: method.as_str().to_owned(),
            url: url.into(),
            headers: BTreeMap::new(),
            body: None,
            depends_on: Vec::new(),
        }
    }

    pub fn get(id: impl Into<String>, url: impl Into<String>) -> Self {
        Self::new(id, Method::GET, url)
    }

    pub fn delete(id: impl Into<String>, url: impl Into<String>) -> Self {
        Self::new(id, Method::DELETE, url)
    }

    pub fn post(id: impl Into<String>, url: impl Into<String>, body: Value) -> Self {
        Self::new(id, Method::POST, url).with_body(body)
    }

    pub fn patch(id: impl Into<String>, url: impl Into<String>, body: Value) -> Self {
        Self::new(id, Method::PATCH, url).with_body(body)
    }

    /// A JSON body; Graph rejects a batch item with a body but no `Content-Type`.
    pub fn with_body(mut self, body: Value) -> Self {
        self.body = Some(body);
        self.headers
            .entry("Content-Type".to_owned())
            .or_insert_with(|| "application/json".to_owned());
        self
    }

    pub fn depends_on(mut self, id: impl Into<String>) -> Self {
        self.depends_on.push(id.into());
        self
    }

    fn is_read(&self) -> bool {
        self.method.eq_ignore_ascii_case("GET")
    }

    /// May this item be sent again after a 5xx? Not a POST: it may have landed.
    fn is_idempotent(&self) -> bool {
        !self.method.eq_ignore_ascii_case("POST")
    }
}

/// Graph's answer to one item.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct BatchResponse {
    pub id: String,
    pub status: u16,
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    #[serde(default)]
    pub body: Option<Value>,
}

impl BatchResponse {
    pub fn is_success(&self) -> bool {
        (200..300).contains(&self.status)
    }

    /// The item's failure as a [`GraphError`] (with its code, request-id, Retry-After…), or
    /// `None` for a success.
    pub fn error(&self) -> Option<GraphError> {
        if self.is_success() {
            return None;
        }
        let mut headers = HeaderMap::new();
        for (name, value) in &self.headers {
            if let (Ok(name), Ok(value)) = (
                HeaderName::from_bytes(name.to_ascii_lowercase().as_bytes()),
                HeaderValue::from_str(value),
            ) {
                headers.insert(name, value);
            }
        }
        let body = self
            .body
            .as_ref()
            .and_then(|b| serde_json::to_vec(b).ok())
            .unwrap_or_default();
        Some(GraphError::from_response(self.status, &headers, &body))
    }

    /// The item's body as `T`, or its error.
    pub fn json<T: DeserializeOwned>(&self) -> Result<T, GraphError> {
        if let Some(e) = self.error() {
            return Err(e);
        }
        serde_json::from_value(self.body.clone().unwrap_or(Value::Null))
            .map_err(|e| GraphError::decode(format!("unexpected batch item body: {e}"), None))
    }

    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

#[derive(Serialize)]
struct Envelope<'a> {
    requests: Vec<&'a BatchRequest>,
}

#[derive(Deserialize)]
struct EnvelopeAnswer {
    #[serde(default)]
    responses: Vec<BatchResponse>,
}

/// Checks ids and `dependsOn`, and splits the requests into batches of at most 20, keeping each
/// group of requests linked by `dependsOn` whole. Returns indices into `requests`, in order.
pub fn pack(requests: &[BatchRequest]) -> Result<Vec<Vec<usize>>, GraphError> {
    let mut index = HashMap::new();
    for (i, r) in requests.iter().enumerate() {
        if r.id.is_empty() {
            return Err(GraphError::config("a batch request needs an id"));
        }
        if index.insert(r.id.as_str(), i).is_some() {
            return Err(GraphError::config(format!(
                "batch request id {:?} is used twice",
                r.id
            )));
        }
    }
    // Union-find over dependsOn links.
    let mut parent: Vec<usize> = (0..requests.len()).collect();
    fn root(parent: &mut [usize], mut i: usize) -> usize {
        while parent[i] != i {
            parent[i] = parent[parent[i]];
            i = parent[i];
        }
        i
    }
    for (i, r) in requests.iter().enumerate() {
        for dep in &r.depends_on {
            let j = *index.get(dep.as_str()).ok_or_else(|| {
                GraphError::config(format!(
                    "batch request {:?} depends on unknown id {dep:?}",
                    r.id
                ))
            })?;
            let (a, b) = (root(&mut parent, i), root(&mut parent, j));
            parent[a] = b;
        }
    }
    // Groups in order of their first member.
    let mut groups: Vec<Vec<usize>> = Vec::new();
    let mut group_of_root: HashMap<usize, usize> = HashMap::new();
    for i in 0..requests.len() {
        let r = root(&mut parent, i);
        let g = *group_of_root.entry(r).or_insert_with(|| {
            groups.push(Vec::new());
            groups.len() - 1
        });
        groups[g].push(i);
    }
    let mut batches: Vec<Vec<usize>> = Vec::new();
    for group in groups {
        if group.len() > BATCH_MAX_REQUESTS {
            return Err(GraphError::config(format!(
                "{} batch requests are linked by dependsOn; a batch holds at most {BATCH_MAX_REQUESTS}",
                group.len()
            )));
        }
        match batches.last_mut() {
            Some(last) if last.len() + group.len() <= BATCH_MAX_REQUESTS => last.extend(group),
            _ => batches.push(group),
        }
    }
    for batch in &mut batches {
        batch.sort_unstable();
    }
    Ok(batches)
}

/// Which of the answered items to send again: throttled ones, transient failures of idempotent
/// ones, and the 424s whose dependency is being sent again.
fn to_resubmit(requests: &[BatchRequest], answers: &HashMap<String, BatchResponse>) -> Vec<usize> {
    let mut again: HashSet<&str> = HashSet::new();
    for r in requests {
        if let Some(a) = answers.get(&r.id) {
            let transient = matches!(a.status, 502..=504) && r.is_idempotent();
            if a.status == 429 || transient {
                again.insert(r.id.as_str());
            }
        }
    }
    // Dependents of a resubmitted item failed with 424; they go again with it (to a fixpoint,
    // for chains).
    loop {
        let before = again.len();
        for r in requests {
            let failed_dependency = answers.get(&r.id).is_some_and(|a| a.status == 424);
            if failed_dependency && r.depends_on.iter().any(|d| again.contains(d.as_str())) {
                again.insert(r.id.as_str());
            }
        }
        if again.len() == before {
            break;
        }
    }
    requests
        .iter()
        .enumerate()
        .filter(|(_, r)| again.contains(r.id.as_str()))
        .map(|(i, _)| i)
        .collect()
}

impl GraphClient {
    /// Sends `requests` as JSON batches against `api` and returns one answer per request, in the
    /// same order. Items that were throttled or failed transiently are sent again (only they),
    /// within the client's retry limits; what still fails is returned as the item's answer.
    pub async fn batch(
        &self,
        api: ApiVersion,
        requests: Vec<BatchRequest>,
    ) -> Result<Vec<BatchResponse>, GraphError> {
        pack(&requests)?;
        let config = self.retry_config().clone();
        let mut backoff = config.backoff().build();
        let mut slept = Duration::ZERO;
        let mut answers: HashMap<String, BatchResponse> = HashMap::new();
        let mut pending: Vec<BatchRequest> = requests.clone();
        for round in 1.. {
            for batch in pack(&pending)? {
                let items: Vec<&BatchRequest> = batch.iter().map(|&i| &pending[i]).collect();
                for answer in self.send_batch(api, &items).await? {
                    answers.insert(answer.id.clone(), answer);
                }
            }
            let again = to_resubmit(&pending, &answers);
            if again.is_empty() || round >= config.max_attempts {
                break;
            }
            // Wait as long as the longest Retry-After among them asks, else back off.
            let reason = again
                .iter()
                .filter_map(|&i| answers.get(&pending[i].id).and_then(BatchResponse::error))
                .max_by_key(|e| e.retry_after.unwrap_or_default());
            let Some(reason) = reason else { break };
            let Some(delay) = next_delay(
                &reason,
                backoff.next(),
                slept,
                &config,
                rand::random::<f64>(),
            ) else {
                break;
            };
            tracing::warn!(
                items = again.len(),
                status = reason.status,
                delay_ms = delay.as_millis() as u64,
                "batch items throttled or failed transiently; sending them again"
            );
            tokio::time::sleep(delay).await;
            slept += delay;
            let ids: HashSet<String> = again.iter().map(|&i| pending[i].id.clone()).collect();
            pending = again
                .into_iter()
                .map(|i| {
                    let mut r = pending[i].clone();
                    // Dependencies that already succeeded are not in this round.
                    r.depends_on.retain(|d| ids.contains(d));
                    r
                })
                .collect();
        }
        requests
            .iter()
            .map(|r| {
                answers.remove(&r.id).ok_or_else(|| {
                    GraphError::decode(format!("the batch answer has no item {:?}", r.id), None)
                })
            })
            .collect()
    }

    /// One `POST /$batch` of at most 20 items. The envelope draws each item's cost from the
    /// pacer; Graph throttles each item on its own, and each item's 429 feeds the pacer.
    async fn send_batch(
        &self,
        api: ApiVersion,
        items: &[&BatchRequest],
    ) -> Result<Vec<BatchResponse>, GraphError> {
        let reads = items.iter().filter(|r| r.is_read()).count() as u32;
        let writes = items.len() as u32 - reads;
        let mut req = self
            .request(Method::POST, api, "/$batch", &["$batch"])
            .safety(RetrySafety::OnlyIfNotProcessed)
            .json(&Envelope {
                requests: items.to_vec(),
            })?;
        req.reads = reads;
        req.writes = writes;
        let answer: EnvelopeAnswer = self.send_json(&req).await?;
        let by_id: HashMap<&str, &BatchRequest> =
            items.iter().map(|r| (r.id.as_str(), *r)).collect();
        for a in &answer.responses {
            let class = match by_id.get(a.id.as_str()) {
                Some(r) if r.is_read() => BudgetClass::Read,
                _ => BudgetClass::Write,
            };
            if a.status == 429 {
                let retry_after = a
                    .header("Retry-After")
                    .and_then(|v| crate::retry::parse_retry_after(v, std::time::SystemTime::now()));
                let class = crate::client::throttled_budget(
                    a.header("x-ms-throttle-scope"),
                    a.header("x-ms-throttle-information"),
                    class,
                );
                self.pacer().on_throttled(class, retry_after);
            } else if a.is_success() {
                self.pacer().on_success(class);
            }
        }
        Ok(answer.responses)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn get(id: &str) -> BatchRequest {
        BatchRequest::get(id, format!("/users/{id}"))
    }

    fn answer(id: &str, status: u16) -> BatchResponse {
        BatchResponse {
            id: id.to_owned(),
            status,
            headers: BTreeMap::new(),
            body: None,
        }
    }

    #[test]
    fn forty_five_requests_pack_into_batches_of_twenty() {
        let requests: Vec<_> = (0..45).map(|i| get(&i.to_string())).collect();
        let batches = pack(&requests).unwrap();
        assert_eq!(
            batches.iter().map(Vec::len).collect::<Vec<_>>(),
            vec![20, 20, 5]
        );
        assert_eq!(batches[2], vec![40, 41, 42, 43, 44]);
    }

    #[test]
    fn dependent_requests_stay_in_one_batch() {
        let mut requests: Vec<_> = (0..19).map(|i| get(&i.to_string())).collect();
        requests.push(BatchRequest::post(
            "add",
            "/users/u/authentication/phoneMethods",
            serde_json::json!({}),
        ));
        requests.push(
            BatchRequest::patch(
                "pref",
                "/users/u/authentication/signInPreferences",
                serde_json::json!({}),
            )
            .depends_on("add"),
        );
        let batches = pack(&requests).unwrap();
        let with_add = batches.iter().find(|b| b.contains(&19)).unwrap();
        assert!(with_add.contains(&20));
        assert!(batches.iter().all(|b| b.len() <= 20));
    }

    #[test]
    fn bad_batches_are_refused_before_sending() {
        assert!(pack(&[get("a"), get("a")]).is_err());
        assert!(pack(&[get("a").depends_on("missing")]).is_err());
        let mut chain = vec![get("0")];
        for i in 1..21 {
            chain.push(get(&i.to_string()).depends_on((i - 1).to_string()));
        }
        assert!(pack(&chain).is_err());
    }

    #[test]
    fn body_brings_its_content_type() {
        let r = BatchRequest::patch("1", "/x", serde_json::json!({"a": 1}));
        let json = serde_json::to_value(&r).unwrap();
        assert_eq!(json["headers"]["Content-Type"], "application/json");
        assert_eq!(json["method"], "PATCH");
        assert!(json.get("dependsOn").is_none());
    }

    #[test]
    fn only_throttled_transient_and_their_dependents_are_resubmitted() {
        let requests = vec![
            get("ok"),
            get("throttled"),
            get("unavailable"),
            BatchRequest::post("post-unavailable", "/x", serde_json::json!({})),
            get("after-throttled").depends_on("throttled"),
            get("missing"),
        ];
        let answers: HashMap<String, BatchResponse> = [
            answer("ok", 200),
            answer("throttled", 429),
            answer("unavailable", 503),
            answer("post-unavailable", 503),
            answer("after-throttled", 424),
            answer("missing", 404),
        ]
        .into_iter()
        .map(|a| (a.id.clone(), a))
        .collect();
        assert_eq!(to_resubmit(&requests, &answers), vec![1, 2, 4]);
    }

    #[test]
    fn item_error_carries_code_and_retry_after() {
        let mut a = answer("1", 429);
        a.headers.insert("Retry-After".into(), "3".into());
        a.body =
            Some(serde_json::json!({"error": {"code": "TooManyRequests", "message": "slow down"}}));
        let e = a.error().unwrap();
        assert!(e.is_throttled());
        assert_eq!(e.retry_after, Some(Duration::from_secs(3)));
        assert_eq!(e.code.as_deref(), Some("TooManyRequests"));
        assert!(answer("2", 204).error().is_none());
    }
}
