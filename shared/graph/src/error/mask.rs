//! Masking phone-number-like text in error messages.

/// Masks anything in free text that looks like a phone number (a run of digits, spaces and
/// `+-().` holding at least 7 digits, not glued to a letter, so GUIDs and timestamps survive):
/// `+31 612345678` becomes `+31 6******78`. Graph error messages sometimes quote the number sent.
pub fn mask_phone_like(text: &str) -> String {
    let chars: Vec<char> = text.chars().collect();
    let is_run_char =
        |c: char| c.is_ascii_digit() || matches!(c, '+' | ' ' | '-' | '(' | ')' | '.');
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    while i < chars.len() {
        if !(chars[i].is_ascii_digit() || chars[i] == '+') {
            out.push(chars[i]);
            i += 1;
            continue;
        }
        let start = i;
        let mut end = i;
        while end < chars.len() && is_run_char(chars[end]) {
            end += 1;
        }
        // Trailing separators belong to the surrounding text, not the number.
        let mut last = end;
        while last > start && !chars[last - 1].is_ascii_digit() {
            last -= 1;
        }
        let digits = chars[start..last]
            .iter()
            .filter(|c| c.is_ascii_digit())
            .count();
        let glued_before = start > 0 && chars[start - 1].is_alphanumeric();
        let glued_after = last < chars.len() && chars[last].is_alphanumeric();
        if digits >= 7 && !glued_before && !glued_after {
            let mut seen = 0;
            for &c in &chars[start..last] {
                if c.is_ascii_digit() {
                    seen += 1;
                    // Keep the first three digits (country code and a leading digit) and the
                    // last two, like phone::mask does for audit records.
                    if seen <= 3 || seen > digits - 2 {
                        out.push(c);
                    } else {
                        out.push('*');
                    }
                } else {
                    out.push(c);
                }
            }
            i = last;
        } else {
            out.extend(&chars[start..end.max(start + 1)]);
            i = end.max(start + 1);
        }
    }
    out
}
