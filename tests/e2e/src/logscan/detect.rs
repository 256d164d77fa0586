//! The detectors [`find_leaks`](super::find_leaks) runs on each line: JWTs, bearer tokens, phone
//! numbers (international and plain digit runs), and the blanking of ids and times before them.

fn is_b64url(c: u8) -> bool {
    c.is_ascii_alphanumeric() || c == b'-' || c == b'_'
}

/// `eyJ<header>.<payload>[.<signature>]`, byte ranges.
pub(super) fn jwts(line: &str) -> Vec<(usize, usize)> {
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
pub(super) fn bearer_tokens(line: &str) -> Vec<(usize, usize)> {
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
pub(super) fn blank_ids_and_times(s: &str) -> String {
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
pub(super) fn international_numbers(s: &str) -> Vec<(usize, usize)> {
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
pub(super) fn digit_runs(s: &str) -> Vec<(usize, usize)> {
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
