//! Regions a national number can be read in: the ones rlibphonenumber has metadata for.

use std::fmt;
use std::str::FromStr;

use rlibphonenumber::enums::Region;
use serde::{Deserialize, Serialize};

/// An ISO 3166-1 alpha-2 region libphonenumber has metadata for (e.g. `NL`, `US`, `GB`).
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct RegionCode(pub(super) Region);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{0}` is not a supported ISO 3166-1 alpha-2 region (e.g. NL, US, GB)")]
pub struct UnknownRegion(pub String);

impl RegionCode {
    pub fn as_str(&self) -> String {
        self.0.as_region_str().as_str().to_owned()
    }
}

impl FromStr for RegionCode {
    type Err = UnknownRegion;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let trimmed = s.trim();
        // `Region::from_code` accepts any two letters (and "001", the non-geographic
        // pseudo-region); only regions with metadata can parse national numbers.
        let region = Region::from_code(trimmed).map_err(|_| UnknownRegion(s.to_owned()))?;
        let code = region.as_region_str().as_str().to_owned();
        if region == Region::World || SUPPORTED_REGIONS.binary_search(&code.as_str()).is_err() {
            return Err(UnknownRegion(s.to_owned()));
        }
        Ok(RegionCode(region))
    }
}

/// The regions rlibphonenumber has metadata for (its `get_supported_regions()`, sorted), as a
/// constant: checking a policy's region against the metadata itself decodes the whole numbering
/// plan in every function's cold start, though only enroll parses numbers (BENCHMARKS.md,
/// scenario 3). The test
/// `supported_regions_are_the_metadatas` keeps it in step with the crate.
pub(crate) const SUPPORTED_REGIONS: &[&str] = &[
    "AC", "AD", "AE", "AF", "AG", "AI", "AL", "AM", "AO", "AR", "AS", "AT", "AU", "AW", "AX", "AZ",
    "BA", "BB", "BD", "BE", "BF", "BG", "BH", "BI", "BJ", "BL", "BM", "BN", "BO", "BQ", "BR", "BS",
    "BT", "BW", "BY", "BZ", "CA", "CC", "CD", "CF", "CG", "CH", "CI", "CK", "CL", "CM", "CN", "CO",
    "CR", "CU", "CV", "CW", "CX", "CY", "CZ", "DE", "DJ", "DK", "DM", "DO", "DZ", "EC", "EE", "EG",
    "EH", "ER", "ES", "ET", "FI", "FJ", "FK", "FM", "FO", "FR", "GA", "GB", "GD", "GE", "GF", "GG",
    "GH", "GI", "GL", "GM", "GN", "GP", "GQ", "GR", "GT", "GU", "GW", "GY", "HK", "HN", "HR", "HT",
    "HU", "ID", "IE", "IL", "IM", "IN", "IO", "IQ", "IR", "IS", "IT", "JE", "JM", "JO", "JP", "KE",
    "KG", "KH", "KI", "KM", "KN", "KP", "KR", "KW", "KY", "KZ", "LA", "LB", "LC", "LI", "LK", "LR",
    "LS", "LT", "LU", "LV", "LY", "MA", "MC", "MD", "ME", "MF", "MG", "MH", "MK", "ML", "MM", "MN",
    "MO", "MP", "MQ", "MR", "MS", "MT", "MU", "MV", "MW", "MX", "MY", "MZ", "NA", "NC", "NE", "NF",
    "NG", "NI", "NL", "NO", "NP", "NR", "NU", "NZ", "OM", "PA", "PE", "PF", "PG", "PH", "PK", "PL",
    "PM", "PR", "PS", "PT", "PW", "PY", "QA", "RE", "RO", "RS", "RU", "RW", "SA", "SB", "SC", "SD",
    "SE", "SG", "SH", "SI", "SJ", "SK", "SL", "SM", "SN", "SO", "SR", "SS", "ST", "SV", "SX", "SY",
    "SZ", "TA", "TC", "TD", "TG", "TH", "TJ", "TK", "TL", "TM", "TN", "TO", "TR", "TT", "TV", "TW",
    "TZ", "UA", "UG", "US", "UY", "UZ", "VA", "VC", "VE", "VG", "VI", "VN", "VU", "WF", "WS", "XK",
    "YE", "YT", "ZA", "ZM", "ZW",
];

impl fmt::Debug for RegionCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "RegionCode({})", self.as_str())
    }
}

impl fmt::Display for RegionCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.as_str())
    }
}

impl Serialize for RegionCode {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.as_str())
    }
}

impl<'de> Deserialize<'de> for RegionCode {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}
