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

fn is_b64url(c: u8) -> bool {
    c.is_ascii_alphanumeric() || c == b'-' || c == b'_'
}

/// `eyJ<header>.<payload>[.<signature>]`, byte ranges.
fn jwts(line: &str) -> Vec<(usize, usize)> {
    let bytes = line.as_bytes();
    let mut found = Vec::new();
    let mut from = 0;
    while let Some(offset) = line[from..].find("eyJ") {
        let start = from + offset;
        let mut end = start;
        while end < bytes.len() && (is_b64url(bytes[end]) || bytes[end] == b'.') {
            end += 1;
        }
        let token = &line[start..end];
        let parts: Vec<&str> = token.split('.').collect();
        if parts.len() >= 2 && parts[0].len() >= 10 && parts[1].len() >= 4 {
            found.push((start, end));
        }
        from = end.max(start + 3);
    }
    found
}

/// `Bearer ` and 16+ token characters (RFC 6750's b64token alphabet).
fn bearer_tokens(line: &str) -> Vec<(usize, usize)> {
    let lower = line.to_ascii_lowercase();
    let bytes = line.as_bytes();
    let mut found = Vec::new();
    for (at, _) in lower.match_indices("bearer ") {
        let start = at + "bearer ".len();
        let mut end = start;
        while end < bytes.len()
            && (bytes[end].is_ascii_alphanumeric() || b"-._~+/=".contains(&bytes[end]))
        {
            end += 1;
        }
        if end - start >= 16 {
            found.push((start, end));
        }
    }
    found
}

fn is_separator(c: u8) -> bool {
    matches!(c, b' ' | b'-' | b'.' | b'(' | b')' | b'/')
}

/// Labels whose value is a time, as `Debug` writes `SystemTime` / `Duration` (the AWS SDK logs
/// `SystemTime { tv_sec: 1795610404, tv_nsec: 928993883 }` at DEBUG).
const TIME_LABELS: &[&str] = &["tv_sec: ", "tv_nsec: ", "secs: ", "nanos: "];

/// Replaces GUIDs, RFC 3339 date-times, ISO dates and the values of [`TIME_LABELS`] by `_` of
/// the same length, so their digits are not read as numbers (byte offsets stay valid).
fn blank_ids_and_times(s: &str) -> String {
    let mut bytes = s.as_bytes().to_vec();
    for label in TIME_LABELS {
        for (at, _) in s.match_indices(label) {
            let mut end = at + label.len();
            while end < bytes.len() && bytes[end].is_ascii_digit() {
                bytes[end] = b'_';
                end += 1;
            }
        }
    }
    let pattern_at = |b: &[u8], at: usize, pattern: &str| -> bool {
        let p = pattern.as_bytes();
        at + p.len() <= b.len()
            && p.iter()
                .zip(&b[at..at + p.len()])
                .all(|(want, got)| match want {
                    b'h' => got.is_ascii_hexdigit(),
                    b'd' => got.is_ascii_digit(),
                    other => other == got,
                })
    };
    const GUID: &str = "hhhhhhhh-hhhh-hhhh-hhhh-hhhhhhhhhhhh";
    const DATE: &str = "dddd-dd-dd";
    let mut i = 0;
    while i < bytes.len() {
        if pattern_at(&bytes, i, GUID) {
            bytes[i..i + GUID.len()].fill(b'_');
            i += GUID.len();
        } else if pattern_at(&bytes, i, DATE) {
            let mut end = i + DATE.len();
            // The time part: Thh:mm:ss[.fraction][Z|±hh:mm]
            if pattern_at(&bytes, end, "Tdd:dd") || pattern_at(&bytes, end, " dd:dd") {
                end += 6;
                if pattern_at(&bytes, end, ":dd") {
                    end += 3;
                }
                if bytes.get(end) == Some(&b'.') {
                    end += 1;
                    while bytes.get(end).is_some_and(u8::is_ascii_digit) {
                        end += 1;
                    }
                }
                if bytes.get(end) == Some(&b'Z') {
                    end += 1;
                } else if pattern_at(&bytes, end, "+dd:dd") || pattern_at(&bytes, end, "-dd:dd") {
                    end += 6;
                }
            }
            bytes[i..end].fill(b'_');
            i = end;
        } else {
            i += 1;
        }
    }
    String::from_utf8(bytes).unwrap_or_else(|_| s.to_owned())
}

/// `+` then 8+ digits with separators between them.
fn international_numbers(s: &str) -> Vec<(usize, usize)> {
    let bytes = s.as_bytes();
    let mut found = Vec::new();
    for (at, _) in s.match_indices('+') {
        let mut end = at + 1;
        let mut digits = 0;
        let mut last_digit_end = end;
        while end < bytes.len() && (bytes[end].is_ascii_digit() || is_separator(bytes[end])) {
            if bytes[end].is_ascii_digit() {
                digits += 1;
                last_digit_end = end + 1;
            }
            end += 1;
        }
        if digits >= 8 {
            found.push((at, last_digit_end));
        }
    }
    found
}

/// Runs of 8+ digits joined by single separators, standing as a word of their own, that are
/// not a plain decimal.
fn digit_runs(s: &str) -> Vec<(usize, usize)> {
    let bytes = s.as_bytes();
    let word = |c: u8| c.is_ascii_alphanumeric() || c == b'_';
    let mut found = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        if !bytes[i].is_ascii_digit() {
            i += 1;
            continue;
        }
        // Start of a run; `(` just before belongs to it ("(020) 1234567").
        let start = if i > 0 && bytes[i - 1] == b'(' {
            i - 1
        } else {
            i
        };
        let mut end = i;
        let mut digits = 0;
        let mut separators: Vec<u8> = Vec::new();
        loop {
            while end < bytes.len() && bytes[end].is_ascii_digit() {
                digits += 1;
                end += 1;
            }
            // One or two separators ("06 - 1234", ") ") followed by a digit continue the run.
            let mut next = end;
            let mut seps = Vec::new();
            while next < bytes.len() && is_separator(bytes[next]) && seps.len() < 2 {
                seps.push(bytes[next]);
                next += 1;
            }
            if !seps.is_empty() && next < bytes.len() && bytes[next].is_ascii_digit() {
                separators.extend(seps);
                end = next;
            } else {
                break;
            }
        }
        let glued_before = start > 0 && word(bytes[start - 1]);
        let glued_after = end < bytes.len() && word(bytes[end]);
        let decimal = separators == [b'.'];
        if digits >= 8 && !glued_before && !glued_after && !decimal {
            found.push((start, end));
        }
        i = end.max(i + 1);
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kinds(text: &str, secrets: &[&str]) -> Vec<LeakKind> {
        find_leaks(text, secrets)
            .into_iter()
            .map(|l| l.kind)
            .collect()
    }

    #[test]
    fn international_numbers_are_caught_in_any_layout() {
        for text in [
            "registered +31612345678",
            r#"{"fields":{"number":"+31 612345678"}}"#,
            "number=+31 6 1234 5678 done",
            "+1 (206) 555-0100",
            "+44-7400-123456",
        ] {
            assert!(
                kinds(text, &[]).contains(&LeakKind::InternationalNumber),
                "{text}"
            );
        }
    }

    #[test]
    fn national_numbers_and_debug_dumps_are_caught() {
        for text in [
            "mobilePhone 0612345678",
            r#"{"message":"user mobile 06-1234 5678"}"#,
            r#"{"fields":{"raw":"06.12.34.56.78"}}"#,
            r#"{"fields":{"error":"PhoneNumber { country_code: 31, national_number: 612345678 }"}}"#,
            "(020) 123 4567 8",
            "tel:0612345678",
        ] {
            assert!(kinds(text, &[]).contains(&LeakKind::DigitRun), "{text}");
        }
    }

    #[test]
    fn masked_numbers_ids_times_and_counters_are_not_leaks() {
        for text in [
            r#"{"fields":{"number":"+31 6******78","last_two":"78"}}"#,
            r#"{"fields":{"user":"12345678-1234-4234-8234-123456789012"}}"#,
            r#"{"timestamp":"2026-05-24T22:24:31.306290123Z","fields":{"expiry":"2026-05-24T23:21:19.3554403+00:00"}}"#,
            r#"{"fields":{"elapsed":"12.345678ms","elapsed_us":123456789012}}"#,
            r#"{"_aws":{"Timestamp":1764612345678},"Enrolled":1}"#,
            r#"{"fields":{"fingerprint":"a3f1234567890b12cd4e5f67890123456789abcdef0123456789abcdef012345"}}"#,
            "request-id 4a1e6c2b-0f3d-4e8a-9b7c-1d2e3f4a5b01 status 503 attempt 2 of 4",
            "date 2026-05-24 ok",
            r#"{"fields":{"now":"SystemTime { tv_sec: 1795610404, tv_nsec: 928993883 }","left":"Duration { secs: 1795610404, nanos: 12345678 }"}}"#,
            "eyJust a word that starts like a token",
            "Authorization: Bearer <redacted>",
        ] {
            assert_eq!(kinds(text, &[]), vec![], "{text}");
        }
    }

    #[test]
    fn jwts_and_bearer_tokens_are_caught() {
        let jwt =
            "eyJhbGciOiJSUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJhYmMiLCJ0aWQiOiJ4In0.c2lnbmF0dXJl";
        assert!(
            kinds(&format!(r#"{{"fields":{{"token":"{jwt}"}}}}"#), &[]).contains(&LeakKind::Jwt)
        );
        assert!(
            kinds("unsigned eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0.", &[]).contains(&LeakKind::Jwt)
        );
        assert!(
            kinds("header Authorization: Bearer abcDEF0123456789-_.~+/=", &[])
                .contains(&LeakKind::BearerToken)
        );
    }

    #[test]
    fn known_secrets_are_caught_raw_escaped_and_url_encoded() {
        let secret = "sim-secret-autoenroll-Q8w~xV3pL9";
        let state = "cs \"quoted\" state";
        for text in [
            format!("client_secret={secret}"),
            "grant_type=client_credentials&client_secret=sim-secret-autoenroll-Q8w%7ExV3pL9"
                .to_owned(),
            serde_json::json!({ "fields": { "state": state } }).to_string(),
            format!("{:?}", state),
            format!("form client_state={}", form_urlencode(state)),
        ] {
            let found = kinds(&text, &[secret, state]);
            assert!(
                found.contains(&LeakKind::KnownSecret(0))
                    || found.contains(&LeakKind::KnownSecret(1)),
                "{text}"
            );
        }
        assert_eq!(kinds("nothing here", &[secret, state, ""]), vec![]);
    }

    #[test]
    fn a_failure_names_the_kind_and_line_but_not_the_value() {
        let logs = "fine\nsent to +31612345678 ok\n";
        let leaks = find_leaks(logs, &[]);
        assert_eq!(leaks.len(), 1);
        assert_eq!(leaks[0].line, 2);
        assert!(
            !leaks[0].excerpt.contains("612345678"),
            "{}",
            leaks[0].excerpt
        );
        let panic = std::panic::catch_unwind(|| assert_no_secrets(logs, &[])).unwrap_err();
        let message = panic.downcast_ref::<String>().unwrap();
        assert!(
            message.contains("line 2") && !message.contains("612345678"),
            "{message}"
        );
    }

    #[test]
    fn the_capture_layer_sees_events_and_span_fields_at_debug() {
        let logs = LogCapture::new();
        {
            let _guard = logs.install_thread("debug");
            let span = tracing::info_span!("enroll", number = "+31 612345678");
            let _entered = span.enter();
            tracing::debug!(state = "the-client-state-value", "debug event");
            tracing::trace!(token = "not captured at debug", "trace event");
        }
        tracing::info!("after the guard: not captured");
        let text = logs.text();
        assert_eq!(logs.lines().len(), 1, "{text}");
        let found = kinds(&text, &["the-client-state-value"]);
        assert!(found.contains(&LeakKind::InternationalNumber), "{text}");
        assert!(found.contains(&LeakKind::KnownSecret(0)), "{text}");
        assert!(!text.contains("not captured"));
    }
}
