//! Phone numbers: free text from AD / HR provisioning in, Graph's `+{cc} {national}[x{ext}]` out.
//!
//! Port choice: `rlibphonenumber` 2.x over `phonenumber` 0.3. Both agree with Google's
//! libphonenumber on our AD-style values, but the first parse (decoding the metadata) costs
//! several times less with `rlibphonenumber` (BENCHMARKS.md, "Figures behind design choices"),
//! and that first parse happens in the enroll Lambda's cold start. It also ships newer metadata.
//! The metadata sits behind the crate's `LazyLock` (`PHONE_NUMBER_UTIL`): it is decoded once per
//! process, on first use; [`warm_up`] lets a function pay that during its init phase instead of
//! on its first message.
//!
//! Graph's format: https://learn.microsoft.com/graph/api/resources/phoneauthenticationmethod —
//! `+{country code} {number}x{extension}`; "numbers are rejected when creating or updating if
//! they do not match the required format", and the space matters.

use std::fmt;

use rlibphonenumber::{
    PHONE_NUMBER_UTIL, ParseError, PhoneNumber, PhoneNumberType, ValidationError, enums::Region,
};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

mod region;

#[cfg(test)]
use region::SUPPORTED_REGIONS;
pub use region::{RegionCode, UnknownRegion};

/// What kind of line a number is, as far as the numbering plan tells.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum PhoneKind {
    Mobile,
    FixedLine,
    /// The numbering plan does not distinguish (NANP: US, CA, and the other +1 regions).
    FixedLineOrMobile,
    /// Toll-free, premium, shared-cost, VoIP, personal, pager, UAN, voicemail, unknown.
    Other,
}

impl PhoneKind {
    /// Whether an SMS can be expected to arrive. `FixedLineOrMobile` counts: in NANP regions
    /// mobile and fixed numbers share the same ranges, so libphonenumber can never say
    /// "mobile" for a US/CA number; refusing them would refuse every North American user.
    /// The residual risk (a US landline in `mobilePhone`) is the one the MSOnline recipe had too.
    pub fn is_sms_capable(self) -> bool {
        matches!(self, PhoneKind::Mobile | PhoneKind::FixedLineOrMobile)
    }

    /// Whether a voice call can be expected to reach a person (office phone fallback).
    pub fn is_voice_capable(self) -> bool {
        !matches!(self, PhoneKind::Other)
    }
}

/// A valid number in Graph's format. Debug shows it masked.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NormalizedPhone {
    /// `+{cc} {national significant number}` plus `x{ext}` when there is an extension.
    pub graph: String,
    pub kind: PhoneKind,
    /// Region the number belongs to (`NL`), when the numbering plan tells.
    pub region: Option<String>,
    pub extension: Option<String>,
}

impl NormalizedPhone {
    /// Safe to register as `mobile` (SMS + voice): an SMS-capable line without an extension
    /// (an extension means a switchboard, and SMS cannot reach an extension).
    pub fn is_sms_capable(&self) -> bool {
        self.kind.is_sms_capable() && self.extension.is_none()
    }

    pub fn masked(&self) -> String {
        mask(&self.graph)
    }

    pub fn to_graph_number(&self) -> GraphNumber {
        GraphNumber(self.graph.clone())
    }
}

impl fmt::Debug for NormalizedPhone {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NormalizedPhone")
            .field("graph", &self.masked())
            .field("kind", &self.kind)
            .field("region", &self.region)
            .field("extension", &self.extension.as_ref().map(|_| "<ext>"))
            .finish()
    }
}

/// A number in Graph's format, on its way to Graph. Debug and Display show it masked, so an
/// action or plan can be logged; [`GraphNumber::expose`] is for the request body only.
#[derive(Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct GraphNumber(String);

impl GraphNumber {
    /// Wrap a number already in Graph's format (from [`NormalizedPhone::graph`]).
    pub fn new(graph_formatted: impl Into<String>) -> Self {
        GraphNumber(graph_formatted.into())
    }

    pub fn expose(&self) -> &str {
        &self.0
    }

    pub fn masked(&self) -> String {
        mask(&self.0)
    }
}

impl fmt::Debug for GraphNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "GraphNumber({})", self.masked())
    }
}

impl fmt::Display for GraphNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.masked())
    }
}

/// Why a raw value is not a usable number. Never carries the digits.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize, thiserror::Error)]
#[serde(tag = "reason", content = "detail", rename_all = "camelCase")]
pub enum PhoneRejection {
    #[error("empty")]
    Empty,
    /// A stand-in such as "n/a", "none", "-" (the normalised text, which holds no digits).
    #[error("placeholder `{0}`")]
    Placeholder(String),
    #[error("not a phone number")]
    NotANumber,
    /// A national number, and no default region is configured to read it with.
    #[error("no country code and no default region")]
    NoCountryCode,
    #[error("unknown country code")]
    InvalidCountryCode,
    #[error("too short")]
    TooShort,
    #[error("too long")]
    TooLong,
    /// Right length, but not a range the numbering plan assigns.
    #[error("not a valid number")]
    Invalid,
}

impl PhoneRejection {
    /// Stable code for audit records and metrics.
    pub fn code(&self) -> &'static str {
        match self {
            PhoneRejection::Empty => "empty",
            PhoneRejection::Placeholder(_) => "placeholder",
            PhoneRejection::NotANumber => "notANumber",
            PhoneRejection::NoCountryCode => "noCountryCode",
            PhoneRejection::InvalidCountryCode => "invalidCountryCode",
            PhoneRejection::TooShort => "tooShort",
            PhoneRejection::TooLong => "tooLong",
            PhoneRejection::Invalid => "invalid",
        }
    }
}

/// Values AD and HR systems put in a phone field to mean "none". Compared after lowercasing
/// and trimming; only values without any digit get here.
const PLACEHOLDERS: &[&str] = &[
    "n/a",
    "na",
    "n.a.",
    "n.v.t.",
    "nvt",
    "none",
    "null",
    "nil",
    "-",
    "--",
    "---",
    ".",
    "?",
    "x",
    "unknown",
    "tbd",
    "tba",
    "not available",
    "not applicable",
    "geen",
    "keine",
    "aucun",
    "ninguno",
];

/// Longest extension kept (see [`normalize`]).
pub const MAX_EXTENSION_DIGITS: usize = 9;

/// Decode the numbering-plan metadata and compile the patterns a number of `default_region`
/// goes through (parse, validity, type, formatting) now — in the Lambda init phase, on a side
/// thread — rather than on the first message: both are lazy in rlibphonenumber, and together
/// they were the largest share of the enroll function's first-message CPU time.
pub fn warm_up(default_region: Option<RegionCode>) {
    let region = default_region.map_or(Region::NL, |r| r.0);
    let example =
        PHONE_NUMBER_UTIL.get_example_number_for_type_and_region(region, PhoneNumberType::Mobile);
    if let Ok(example) = example {
        let national = example.national_number.to_string();
        let _ = normalize(
            &format!("+{} {national}", example.country_code),
            default_region,
        );
        let _ = normalize(&national, default_region);
    }
}

/// Read a free-text number: with `default_region` for national numbers, require a valid number,
/// and format it the way Graph wants.
pub fn normalize(
    raw: &str,
    default_region: Option<RegionCode>,
) -> Result<NormalizedPhone, PhoneRejection> {
    let trimmed = raw.trim();
    if trimmed.is_empty() {
        return Err(PhoneRejection::Empty);
    }
    if !trimmed.chars().any(|c| c.is_numeric()) {
        let lowered = trimmed.to_lowercase();
        if PLACEHOLDERS.contains(&lowered.as_str()) {
            return Err(PhoneRejection::Placeholder(lowered));
        }
        return Err(PhoneRejection::NotANumber);
    }
    if misordered_rfc3966(trimmed) {
        return Err(PhoneRejection::NotANumber);
    }
    let international = trimmed.starts_with('+') || trimmed.starts_with('\u{FF0B}');
    let number = PhoneNumber::parse(trimmed, default_region.map(|r| r.0)).map_err(|e| match e {
        ParseError::InvalidCountryCode if !international && default_region.is_none() => {
            PhoneRejection::NoCountryCode
        }
        ParseError::InvalidCountryCode => PhoneRejection::InvalidCountryCode,
        ParseError::NotANumber(_) => PhoneRejection::NotANumber,
        ParseError::TooShortAfterIdd | ParseError::TooShortNsn => PhoneRejection::TooShort,
        ParseError::TooLongNsn => PhoneRejection::TooLong,
    })?;
    if !number.is_valid() {
        return Err(match number.is_possible_with_reason() {
            Err(ValidationError::TooShort) => PhoneRejection::TooShort,
            Err(ValidationError::TooLong) => PhoneRejection::TooLong,
            Err(ValidationError::InvalidCountryCode) => PhoneRejection::InvalidCountryCode,
            Err(ValidationError::InvalidLength) | Ok(_) => PhoneRejection::Invalid,
        });
    }
    let kind = match number.get_type() {
        PhoneNumberType::Mobile => PhoneKind::Mobile,
        PhoneNumberType::FixedLine => PhoneKind::FixedLine,
        PhoneNumberType::FixedLineOrMobile => PhoneKind::FixedLineOrMobile,
        _ => PhoneKind::Other,
    };
    let extension = number
        .extension
        .as_deref()
        // The parser keeps an extension's digits as typed (fullwidth "１２", Arabic-Indic…);
        // Graph's form is ASCII.
        .map(|e| PHONE_NUMBER_UTIL.normalize_digits_only(e))
        .filter(|e| !e.is_empty());
    // Graph's form writes the extension after an `x`, and libphonenumber reads at most 9 digits
    // after an `x`: a longer extension (accepted after "ext") would give a Graph number that
    // neither we nor `canonical` can read back.
    if extension
        .as_ref()
        .is_some_and(|e| e.len() > MAX_EXTENSION_DIGITS)
    {
        return Err(PhoneRejection::TooLong);
    }
    // The national significant number keeps Italy's leading zero (+39 02…), unlike the raw
    // `national_number` field.
    let mut graph = format!(
        "+{} {}",
        number.country_code,
        number.get_national_significant_number()
    );
    if let Some(ext) = &extension {
        graph.push('x');
        graph.push_str(ext);
    }
    // What we write must read back as the same number: reconcile and the managed-phone memory
    // compare Graph's value by normalizing it again. The parser can accept a national number
    // it cannot read back from `+cc nsn` — e.g. letters read as keypad digits ("~e. -76t…")
    // giving a Japanese 00-prefixed NSN whose leading 0 is then taken for the trunk prefix — so
    // such a value is refused rather than registered (found by the phone_normalize fuzz target).
    if !reads_back(&graph, &number, extension.as_deref()) {
        return Err(PhoneRejection::Invalid);
    }
    Ok(NormalizedPhone {
        graph,
        kind,
        region: number
            .get_region_code()
            .map(|r| r.as_region_str().as_str().to_owned()),
        extension,
    })
}

/// Whether `graph` parses (without a region) to a valid number with the same country code,
/// national significant number and extension as `number`.
fn reads_back(graph: &str, number: &PhoneNumber, extension: Option<&str>) -> bool {
    let Ok(again) = PhoneNumber::parse(graph, None) else {
        return false;
    };
    let again_ext = again
        .extension
        .as_deref()
        .map(|e| PHONE_NUMBER_UTIL.normalize_digits_only(e))
        .filter(|e| !e.is_empty());
    again.is_valid()
        && again.country_code == number.country_code
        && again.get_national_significant_number() == number.get_national_significant_number()
        && again_ext.as_deref() == extension
}

/// RFC 3966 text with `tel:` after `;phone-context=` (e.g. `1;phone-context=x;tel:2`): not a
/// number, and rlibphonenumber 2.2 panics on it (it slices from after `tel:` up to the
/// phone-context, begin > end), which would abort the enroll Lambda (`panic = "abort"`).
/// Found by fuzz/phone_normalize.
fn misordered_rfc3966(text: &str) -> bool {
    const PHONE_CONTEXT: &str = ";phone-context=";
    const TEL: &str = "tel:";
    match (text.find(PHONE_CONTEXT), text.find(TEL)) {
        (Some(context), Some(tel)) => tel + TEL.len() > context,
        _ => false,
    }
}

/// The canonical Graph form of a number Graph returned (users type numbers like
/// "+31 0612345678" in My Sign-Ins), for comparisons. `None` when it cannot be read.
pub fn canonical(graph_number: &str) -> Option<String> {
    normalize(graph_number, None).ok().map(|n| n.graph)
}

/// Whether two Graph-format numbers are the same line (canonical forms equal, or the same text
/// when either cannot be read).
pub fn same_number(a: &str, b: &str) -> bool {
    match (canonical(a), canonical(b)) {
        (Some(x), Some(y)) => x == y,
        _ => a.trim() == b.trim(),
    }
}

/// `+31 612345678` → `+31 6******78`: country code, first national digit and last two digits
/// stay; an extension is masked whole. Anything not in Graph's format keeps only its last two
/// digits. Safe to log.
pub fn mask(number: &str) -> String {
    let (main, ext) = match number.split_once(['x', 'X']) {
        Some((m, e)) => (m, Some(e)),
        None => (number, None),
    };
    let mut out = match main
        .trim()
        .strip_prefix('+')
        .and_then(|r| r.split_once(' '))
    {
        Some((cc, national))
            // Country codes have 1 to 3 digits (E.164); a longer "code" is part of the number.
            if (1..=3).contains(&cc.len())
                && cc.bytes().all(|b| b.is_ascii_digit())
                && !national.is_empty()
                && national.bytes().all(|b| b.is_ascii_digit()) =>
        {
            let n = national.len();
            let masked: String = national
                .chars()
                .enumerate()
                .map(|(i, c)| {
                    if (i == 0 && n > 4) || i + 2 >= n {
                        c
                    } else {
                        '*'
                    }
                })
                .collect();
            format!("+{cc} {masked}")
        }
        _ => mask_all_but_last_two(main),
    };
    if let Some(ext) = ext {
        out.push('x');
        out.extend(ext.chars().map(|c| if c.is_numeric() { '*' } else { c }));
    }
    out
}

fn mask_all_but_last_two(s: &str) -> String {
    let digits = s.chars().filter(|c| c.is_numeric()).count();
    let mut seen = 0;
    s.chars()
        .map(|c| {
            if c.is_numeric() {
                seen += 1;
                if seen + 2 > digits { c } else { '*' }
            } else {
                c
            }
        })
        .collect()
}

/// The last two digits of the number (extension ignored), for humans reading the audit trail.
pub fn last_two(number: &str) -> String {
    let main = number.split(['x', 'X']).next().unwrap_or_default();
    let digits: Vec<char> = main.chars().filter(|c| c.is_ascii_digit()).collect();
    digits[digits.len().saturating_sub(2)..].iter().collect()
}

/// Hex SHA-256 of a Graph-formatted number, keyed by tenant so the same number hashes
/// differently in every tenant (and a leaked table cannot be joined across tenants). Pass the
/// canonical form (`NormalizedPhone::graph` or [`canonical`]) so formatting never changes it.
pub fn fingerprint(tenant: &str, number: &str) -> String {
    let mut hasher = Sha256::new();
    hasher.update(b"autoenroll/phone/v1\0");
    hasher.update(tenant.trim().to_ascii_lowercase().as_bytes());
    hasher.update(b"\0");
    hasher.update(number.trim().as_bytes());
    hex::encode(hasher.finalize())
}

#[cfg(test)]
mod tests;
