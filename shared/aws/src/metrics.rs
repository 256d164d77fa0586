//! CloudWatch metrics as embedded-metric-format (EMF) log lines: one JSON object per line on
//! stdout, which Lambda ships to CloudWatch Logs and CloudWatch turns into metrics — no API
//! call, no extra latency, no PutMetricData bill
//! (<https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/CloudWatch_Embedded_Metric_Format_Specification.html>).
//!
//! Namespace `autoenroll`; metrics `Enrolled`, `Skipped` (per `Reason`, and in total),
//! `Failed` (per `Disposition` — `retry`, `systemic`, `permanent` — and in total; alarm on
//! `systemic`), `GraphThrottled` (429s), `LatencyMs`, `SubscriptionLifecycle` (per `Event`),
//! `Bootstrap` (per `Stage`: `issued`, `delivered`, `deliveryFailed`, `reissued`, `expired`,
//! `closed` — the Temporary Access Pass bootstrap).
//! Dimension values are reason or event names only: never a user, a number or anything else
//! with unbounded cardinality or personal data.

use std::io::Write;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use autoenroll_core::failure::Disposition;
use serde_json::{Value, json};

pub const NAMESPACE: &str = "autoenroll";

/// One observation.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Metric<'a> {
    /// A user was brought to the protected state (phone registered and/or MFA enabled).
    Enrolled,
    /// A user was deliberately left alone; `reason` is the skip reason's name
    /// (e.g. `NoMobileNumber`), a small fixed set.
    Skipped { reason: &'a str },
    /// Processing a user failed; `disposition` says what happens next.
    Failed { disposition: Disposition },
    /// Graph answered 429 this many times.
    GraphThrottled(u64),
    /// Time to handle one user (or one request), in milliseconds.
    LatencyMs(f64),
    /// The webhook refused this many notifications (or whole requests) for `reason`
    /// (e.g. `ClientStateMismatch`), a small fixed set.
    WebhookRejected { reason: &'a str, count: u64 },
    /// The subscriptions function handled a Graph lifecycle event; `event` is Graph's name for
    /// it (`reauthorizationRequired`, `subscriptionRemoved`, `missed`).
    SubscriptionLifecycle { event: &'a str },
    /// A Temporary Access Pass bootstrap reached `stage` (one of [`BOOTSTRAP_STAGES`]).
    Bootstrap { stage: &'a str },
}

/// The `Stage` dimension values of [`Metric::Bootstrap`] (the dashboard plots each).
pub const BOOTSTRAP_STAGES: &[&str] = &[
    "issued",
    "delivered",
    "deliveryFailed",
    "reissued",
    "expired",
    "closed",
];

impl Metric<'_> {
    fn name(&self) -> &'static str {
        match self {
            Metric::Enrolled => "Enrolled",
            Metric::Skipped { .. } => "Skipped",
            Metric::Failed { .. } => "Failed",
            Metric::GraphThrottled(_) => "GraphThrottled",
            Metric::LatencyMs(_) => "LatencyMs",
            Metric::WebhookRejected { .. } => "WebhookRejected",
            Metric::SubscriptionLifecycle { .. } => "SubscriptionLifecycle",
            Metric::Bootstrap { .. } => "Bootstrap",
        }
    }

    fn unit(&self) -> &'static str {
        match self {
            Metric::LatencyMs(_) => "Milliseconds",
            _ => "Count",
        }
    }

    fn value(&self) -> Value {
        match self {
            Metric::LatencyMs(ms) => json!(ms),
            Metric::GraphThrottled(n) => json!(n),
            Metric::WebhookRejected { count, .. } => json!(count),
            _ => json!(1),
        }
    }
}

/// The EMF document for one metric at `timestamp_ms`.
pub fn emf_document(metric: &Metric<'_>, timestamp_ms: u64) -> Value {
    // `[]` is the dimensionless set: Skipped is published per reason and as a total.
    let dimensions = match metric {
        Metric::Skipped { .. } | Metric::WebhookRejected { .. } => json!([["Reason"], []]),
        Metric::SubscriptionLifecycle { .. } => json!([["Event"]]),
        Metric::Bootstrap { .. } => json!([["Stage"], []]),
        Metric::Failed { .. } => json!([["Disposition"], []]),
        _ => json!([[]]),
    };
    let mut document = json!({
        "_aws": {
            "Timestamp": timestamp_ms,
            "CloudWatchMetrics": [{
                "Namespace": NAMESPACE,
                "Dimensions": dimensions,
                "Metrics": [{ "Name": metric.name(), "Unit": metric.unit() }],
            }],
        },
    });
    if let Value::Object(root) = &mut document {
        root.insert(metric.name().to_owned(), metric.value());
        if let Metric::Skipped { reason } | Metric::WebhookRejected { reason, .. } = metric {
            root.insert("Reason".to_owned(), json!(reason));
        }
        if let Metric::Bootstrap { stage } = metric {
            root.insert("Stage".to_owned(), json!(stage));
        }
        if let Metric::SubscriptionLifecycle { event } = metric {
            root.insert("Event".to_owned(), json!(event));
        }
        if let Metric::Failed { disposition } = metric {
            root.insert("Disposition".to_owned(), json!(disposition.as_str()));
        }
    }
    document
}

type SharedWriter = Arc<parking_lot::Mutex<Box<dyn Write + Send>>>;

/// Writes EMF lines. Cheap to clone; clones share the writer. Writing never fails the caller:
/// a metric that cannot be written is logged and dropped.
#[derive(Clone)]
pub struct EmfMetrics {
    writer: SharedWriter,
}

impl std::fmt::Debug for EmfMetrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EmfMetrics").finish_non_exhaustive()
    }
}

impl EmfMetrics {
    /// Lines to stdout (what Lambda ships to CloudWatch Logs).
    pub fn stdout() -> Self {
        Self::with_writer(std::io::stdout())
    }

    pub fn with_writer(writer: impl Write + Send + 'static) -> Self {
        Self {
            writer: Arc::new(parking_lot::Mutex::new(Box::new(writer))),
        }
    }

    /// Metrics written to memory, and a handle to read them back (tests, `autoenroll local`).
    pub fn capture() -> (Self, CapturedMetrics) {
        let captured = CapturedMetrics::default();
        (Self::with_writer(captured.clone()), captured)
    }

    pub fn emit(&self, metric: Metric<'_>) {
        let timestamp_ms = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_millis() as u64)
            .unwrap_or_default();
        let mut line = emf_document(&metric, timestamp_ms).to_string();
        line.push('\n');
        // One write per line, under the lock, so lines never interleave with each other.
        let mut writer = self.writer.lock();
        if let Err(e) = writer
            .write_all(line.as_bytes())
            .and_then(|()| writer.flush())
        {
            tracing::warn!(error = %e, metric = metric.name(), "could not write a metric line");
        }
    }

    pub fn enrolled(&self) {
        self.emit(Metric::Enrolled);
    }

    pub fn skipped(&self, reason: &str) {
        self.emit(Metric::Skipped { reason });
    }

    pub fn failed(&self, disposition: Disposition) {
        self.emit(Metric::Failed { disposition });
    }

    /// A TAP bootstrap reached `stage` (one of [`BOOTSTRAP_STAGES`]).
    pub fn bootstrap(&self, stage: &str) {
        self.emit(Metric::Bootstrap { stage });
    }

    pub fn graph_throttled(&self, count: u64) {
        if count > 0 {
            self.emit(Metric::GraphThrottled(count));
        }
    }

    /// `count` notifications or requests the webhook refused for `reason` (nothing when 0).
    pub fn webhook_rejected(&self, reason: &str, count: u64) {
        if count > 0 {
            self.emit(Metric::WebhookRejected { reason, count });
        }
    }

    pub fn latency_ms(&self, ms: f64) {
        self.emit(Metric::LatencyMs(ms));
    }
}

/// An in-memory writer that keeps what [`EmfMetrics`] wrote.
#[derive(Debug, Clone, Default)]
pub struct CapturedMetrics {
    bytes: Arc<parking_lot::Mutex<Vec<u8>>>,
}

impl CapturedMetrics {
    /// Every line written so far, parsed.
    pub fn documents(&self) -> Vec<Value> {
        let bytes = self.bytes.lock();
        String::from_utf8_lossy(&bytes)
            .lines()
            .filter_map(|line| serde_json::from_str(line).ok())
            .collect()
    }

    /// The sum of metric `name` over every line (optionally only those with `Reason` = reason).
    pub fn total(&self, name: &str, reason: Option<&str>) -> f64 {
        self.documents()
            .iter()
            .filter(|d| reason.is_none_or(|r| d.get("Reason").and_then(Value::as_str) == Some(r)))
            .filter_map(|d| d.get(name).and_then(Value::as_f64))
            .sum()
    }
}

impl Write for CapturedMetrics {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.bytes.lock().extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn directive(document: &Value) -> &Value {
        &document["_aws"]["CloudWatchMetrics"][0]
    }

    #[test]
    fn skipped_line_carries_reason_dimension_and_total() {
        let (metrics, captured) = EmfMetrics::capture();
        metrics.skipped("NoMobileNumber");
        let documents = captured.documents();
        assert_eq!(documents.len(), 1);
        let document = &documents[0];
        assert_eq!(directive(document)["Namespace"], "autoenroll");
        assert_eq!(directive(document)["Dimensions"], json!([["Reason"], []]));
        assert_eq!(
            directive(document)["Metrics"],
            json!([{ "Name": "Skipped", "Unit": "Count" }])
        );
        assert_eq!(document["Reason"], "NoMobileNumber");
        assert_eq!(document["Skipped"], 1);
        assert!(document["_aws"]["Timestamp"].as_u64().unwrap() > 0);
    }

    #[test]
    fn every_metric_names_its_member_on_the_root() {
        let (metrics, captured) = EmfMetrics::capture();
        metrics.enrolled();
        metrics.graph_throttled(3);
        metrics.latency_ms(12.5);
        let documents = captured.documents();
        assert_eq!(documents.len(), 3);
        for document in &documents {
            // The spec: every metric a directive names must be a member of the root.
            let name = directive(document)["Metrics"][0]["Name"].as_str().unwrap();
            assert!(
                document.get(name).is_some(),
                "{name} missing from {document}"
            );
            assert_eq!(directive(document)["Dimensions"], json!([[]]));
        }
        assert_eq!(captured.total("GraphThrottled", None), 3.0);
        assert_eq!(
            documents[2]["_aws"]["CloudWatchMetrics"][0]["Metrics"][0]["Unit"],
            "Milliseconds"
        );
        assert_eq!(captured.total("LatencyMs", None), 12.5);
    }

    #[test]
    fn failures_carry_their_disposition() {
        let (metrics, captured) = EmfMetrics::capture();
        metrics.failed(Disposition::Systemic);
        metrics.failed(Disposition::Retry);
        let documents = captured.documents();
        assert_eq!(
            directive(&documents[0])["Dimensions"],
            json!([["Disposition"], []])
        );
        assert_eq!(documents[0]["Disposition"], "systemic");
        assert_eq!(documents[0]["Failed"], 1);
        assert_eq!(captured.total("Failed", None), 2.0);
    }

    #[test]
    fn no_throttle_line_when_nothing_was_throttled() {
        let (metrics, captured) = EmfMetrics::capture();
        metrics.graph_throttled(0);
        assert!(captured.documents().is_empty());
    }

    #[test]
    fn webhook_rejections_carry_reason_and_count() {
        let (metrics, captured) = EmfMetrics::capture();
        metrics.webhook_rejected("ClientStateMismatch", 3);
        metrics.webhook_rejected("WrongTenant", 0);
        let documents = captured.documents();
        assert_eq!(documents.len(), 1);
        assert_eq!(
            directive(&documents[0])["Dimensions"],
            json!([["Reason"], []])
        );
        assert_eq!(documents[0]["Reason"], "ClientStateMismatch");
        assert_eq!(
            captured.total("WebhookRejected", Some("ClientStateMismatch")),
            3.0
        );
    }

    #[test]
    fn totals_filter_by_reason() {
        let (metrics, captured) = EmfMetrics::capture();
        metrics.skipped("NoMobileNumber");
        metrics.skipped("NoMobileNumber");
        metrics.skipped("Excluded");
        assert_eq!(captured.total("Skipped", Some("NoMobileNumber")), 2.0);
        assert_eq!(captured.total("Skipped", None), 3.0);
    }

    #[test]
    fn each_metric_is_exactly_one_line() {
        let (metrics, captured) = EmfMetrics::capture();
        let clone = metrics.clone();
        metrics.enrolled();
        clone.enrolled();
        let text = String::from_utf8(captured.bytes.lock().clone()).unwrap();
        assert_eq!(text.lines().count(), 2);
        assert!(text.ends_with('\n'));
    }
}
