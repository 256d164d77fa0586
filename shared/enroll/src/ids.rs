//! Entra object ids (users, groups, tenants, subscriptions) are GUIDs in the hyphenated
//! 8-4-4-4-12 form on the wire. We compare them case-insensitively and store them lowercased.

/// True when `s` is a hyphenated GUID (`xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx`, any hex case).
/// Braced, URN and hyphen-less forms are rejected: Graph never sends them.
pub fn is_guid(s: &str) -> bool {
    let bytes = s.as_bytes();
    bytes.len() == 36
        && bytes.iter().enumerate().all(|(i, b)| match i {
            8 | 13 | 18 | 23 => *b == b'-',
            _ => b.is_ascii_hexdigit(),
        })
}

/// The canonical (lowercase) form of a GUID, or `None` when `s` is not one.
pub fn canonical_guid(s: &str) -> Option<String> {
    is_guid(s).then(|| s.to_ascii_lowercase())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hyphenated_guid_in_any_case_is_accepted_and_lowercased() {
        assert_eq!(
            canonical_guid("9A1B2C3D-0000-4ABC-8DEF-0123456789AB").as_deref(),
            Some("9a1b2c3d-0000-4abc-8def-0123456789ab")
        );
    }

    #[test]
    fn braced_short_or_non_hex_ids_are_rejected() {
        for bad in [
            "",
            "{9a1b2c3d-0000-4abc-8def-0123456789ab}",
            "9a1b2c3d00004abc8def0123456789ab",
            "9a1b2c3d-0000-4abc-8def-0123456789a",
            "9a1b2c3d-0000-4abc-8def-0123456789ag",
            "9a1b2c3d_0000-4abc-8def-0123456789ab",
            "<user-id>",
        ] {
            assert!(!is_guid(bad), "{bad} should not be a guid");
        }
    }
}
