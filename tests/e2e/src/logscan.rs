//! Secrets and personal data in logs (issue 9, item 4): capture what a run logs, then assert
//! that none of it is a phone number, an access token, the client secret or the clientState.
//!
//! ```no_run
//! # async fn run() {
//! use autoenroll_e2e::logscan::{LogCapture, assert_no_secrets};
//! let logs = LogCapture::new();
//! let _guard = logs.install_thread("debug"); // or LogCapture::global("debug") for all threads
//! // ... run the flow ...
//! assert_no_secrets(&logs.text(), &["the-client-secret", "the-client-state"]);
//! # }
//! ```
//!
//! What counts as a leak ([`find_leaks`]):
//! - **phone number**: a `+` followed by 8 or more digits, separators (space, `-`, `.`, `(`,
//!   `)`, `/`) allowed between them — `+31612345678`, `+31 6 1234 5678`; and, in any string
//!   (a JSON line's string values and keys, or a plain-text line), a run of 8 or more digits
//!   joined by those separators that stands as a word of its own — `0612345678`,
//!   `06-1234 5678`, `06.12.34.56.78`, `national_number: 612345678`. Not counted: GUIDs,
//!   RFC 3339 date-times and dates, a plain decimal (`12.345678ms`), digits glued to letters
//!   (hex digests, ids), `Debug` of a `SystemTime` or `Duration` (`tv_sec: …`), and JSON
//!   numbers (counters, timestamps: they are not strings, and nothing of ours writes a phone
//!   number as one). A masked number (`+31 6******78`) is fine.
//! - **JWT**: `eyJ…` then `.` then a payload (then `.` and a signature): an access token.
//! - **bearer token**: `Bearer ` followed by 16 or more token characters.
//! - **known secret**: each value given (client secret, clientState, …), as written, JSON-
//!   escaped, Rust-`Debug`-escaped or form-URL-encoded.
//!
//! A failure names the kind, the line and a redacted excerpt — never the value itself, so the
//! test output does not repeat the leak.

use std::fmt;
use std::io::Write;
use std::sync::{Arc, Mutex, OnceLock};

use serde_json::Value;
use tracing_subscriber::Layer;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::registry::LookupSpan;

mod detect;
#[cfg(test)]
mod tests;

use detect::{bearer_tokens, blank_ids_and_times, digit_runs, international_numbers, jwts};

/// A buffer that a tracing layer writes JSON log lines into (one object per line, with the
/// current span and the span list, so span fields are scanned too). Clones share the buffer.
#[derive(Clone, Default)]
pub struct LogCapture {
    buffer: Arc<Mutex<Vec<u8>>>,
}

impl fmt::Debug for LogCapture {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LogCapture")
            .field("bytes", &self.lock().len())
            .finish()
    }
}

impl LogCapture {
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<u8>> {
        // A test that panicked while logging must not hide the logs from the next check.
        self.buffer.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The layer, to stack with others on any subscriber.
    pub fn layer<S>(&self) -> impl Layer<S> + Send + Sync + 'static
    where
        S: tracing::Subscriber + for<'a> LookupSpan<'a>,
    {
        tracing_subscriber::fmt::layer()
            .json()
            .with_current_span(true)
            .with_span_list(true)
            .with_target(true)
            .with_writer(self.clone())
    }

    fn subscriber(&self, filter: &str) -> impl tracing::Subscriber + Send + Sync + 'static {
        tracing_subscriber::registry()
            .with(self.layer())
            .with(tracing_subscriber::EnvFilter::new(filter))
    }

    /// Captures what the current thread logs (an `EnvFilter` directive, e.g. `"debug"`) until
    /// the guard is dropped. Enough for `#[tokio::test]` (one thread); tasks on other
    /// threads are not seen — use [`LogCapture::global`] for those.
    pub fn install_thread(&self, filter: &str) -> tracing::subscriber::DefaultGuard {
        tracing::subscriber::set_default(self.subscriber(filter))
    }

    /// The process-wide capture, installed as the global default subscriber on first call
    /// (with that call's filter); every thread's events land in it. Later calls return the
    /// same capture. Panics if another global subscriber was set first.
    pub fn global(filter: &str) -> &'static LogCapture {
        static GLOBAL: OnceLock<LogCapture> = OnceLock::new();
        GLOBAL.get_or_init(|| {
            let capture = LogCapture::new();
            tracing::subscriber::set_global_default(capture.subscriber(filter))
                .expect("no other global tracing subscriber is set");
            capture
        })
    }

    /// Everything captured so far.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.lock()).into_owned()
    }

    /// The captured lines that are JSON objects.
    pub fn lines(&self) -> Vec<Value> {
        self.text()
            .lines()
            .filter_map(|line| serde_json::from_str(line).ok())
            .collect()
    }

    /// Forget what was captured.
    pub fn clear(&self) {
        self.lock().clear();
    }
}

impl Write for LogCapture {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.lock().extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for LogCapture {
    type Writer = LogCapture;

    fn make_writer(&'a self) -> Self::Writer {
        self.clone()
    }
}

/// What kind of thing leaked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LeakKind {
    /// `+` and 8 or more digits.
    InternationalNumber,
    /// 8 or more digits standing as a number of their own.
    DigitRun,
    Jwt,
    BearerToken,
    /// One of the values passed in (by index).
    KnownSecret(usize),
}

/// One leak: where it is, with the value itself cut out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Leak {
    pub kind: LeakKind,
    /// 1-based line of the scanned text.
    pub line: usize,
    /// Up to 24 characters either side, the leaked value replaced by `<…>`.
    pub excerpt: String,
}

impl fmt::Display for Leak {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let what = match self.kind {
            LeakKind::InternationalNumber => "a phone number (+ and 8+ digits)".to_owned(),
            LeakKind::DigitRun => "a run of 8+ digits (a national phone number?)".to_owned(),
            LeakKind::Jwt => "a JWT (access token)".to_owned(),
            LeakKind::BearerToken => "a bearer token".to_owned(),
            LeakKind::KnownSecret(i) => format!("known secret #{i}"),
        };
        write!(f, "line {}: {what}: {}", self.line, self.excerpt)
    }
}

/// Fails the test with every leak in `logs` (see the module docs for what counts).
/// `known_secrets`: the client secret, clientState values, and any other value that must
/// never be logged (empty strings are ignored).
#[track_caller]
pub fn assert_no_secrets(logs: &str, known_secrets: &[&str]) {
    let leaks = find_leaks(logs, known_secrets);
    if !leaks.is_empty() {
        let shown: Vec<String> = leaks.iter().take(20).map(Leak::to_string).collect();
        panic!(
            "{} leak(s) in {} log line(s):\n  {}",
            leaks.len(),
            logs.lines().count(),
            shown.join("\n  ")
        );
    }
}

/// Every leak in `logs`, in line order.
pub fn find_leaks(logs: &str, known_secrets: &[&str]) -> Vec<Leak> {
    let forms: Vec<(usize, Vec<String>)> = known_secrets
        .iter()
        .enumerate()
        .filter(|(_, s)| !s.is_empty())
        .map(|(i, s)| (i, secret_forms(s)))
        .collect();
    let mut leaks = Vec::new();
    for (index, line) in logs.lines().enumerate() {
        let line_no = index + 1;
        let mut push = |kind: LeakKind, text: &str, start: usize, end: usize| {
            let leak = Leak {
                kind,
                line: line_no,
                excerpt: excerpt(text, start, end),
            };
            if !leaks.contains(&leak) {
                leaks.push(leak);
            }
        };
        // Known secrets and tokens: anywhere in the raw line.
        for (i, variants) in &forms {
            for form in variants {
                if let Some(at) = line.find(form.as_str()) {
                    push(LeakKind::KnownSecret(*i), line, at, at + form.len());
                    break;
                }
            }
        }
        for (start, end) in jwts(line) {
            push(LeakKind::Jwt, line, start, end);
        }
        for (start, end) in bearer_tokens(line) {
            push(LeakKind::BearerToken, line, start, end);
        }
        // Numbers: in the strings of a JSON line (JSON numbers are counters and times), or
        // in the whole line when it is not JSON.
        let strings = match serde_json::from_str::<Value>(line) {
            Ok(value) => {
                let mut strings = Vec::new();
                collect_strings(&value, &mut strings);
                strings
            }
            Err(_) => vec![line.to_owned()],
        };
        for s in &strings {
            let blanked = blank_ids_and_times(s);
            let international = international_numbers(&blanked);
            for &(start, end) in &international {
                push(LeakKind::InternationalNumber, s, start, end);
            }
            for (start, end) in digit_runs(&blanked) {
                // The digits of a `+` number found above are the same leak.
                if !international.iter().any(|&(a, b)| start < b && a < end) {
                    push(LeakKind::DigitRun, s, start, end);
                }
            }
        }
    }
    leaks
}

/// The ways a secret can appear in a log line.
fn secret_forms(secret: &str) -> Vec<String> {
    let mut forms = vec![secret.to_owned()];
    let json = serde_json::to_string(secret).unwrap_or_default();
    forms.push(json[1..json.len() - 1].to_owned());
    let debug = format!("{secret:?}");
    forms.push(debug[1..debug.len() - 1].to_owned());
    forms.push(form_urlencode(secret));
    forms.sort();
    forms.dedup();
    forms
}

fn form_urlencode(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'*' => {
                out.push(char::from(b))
            }
            b' ' => out.push('+'),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

fn collect_strings(value: &Value, out: &mut Vec<String>) {
    match value {
        Value::String(s) => out.push(s.clone()),
        Value::Array(items) => items.iter().for_each(|v| collect_strings(v, out)),
        Value::Object(map) => {
            for (k, v) in map {
                out.push(k.clone());
                collect_strings(v, out);
            }
        }
        _ => {}
    }
}

fn excerpt(text: &str, start: usize, end: usize) -> String {
    let before: String = text[..start]
        .chars()
        .rev()
        .take(24)
        .collect::<Vec<_>>()
        .into_iter()
        .rev()
        .collect();
    let after: String = text[end..].chars().take(24).collect();
    format!("…{before}<…>{after}…")
}
