//! The registration report as the report's method source: `GET /reports/authenticationMethods/
//! userRegistrationDetails` (one call per page of 999 users instead of one method read per user)
//! when the tenant is Entra ID P1/P2 and the app holds AuditLog.Read.All.
//!
//! What the registration report cannot tell, and how the report makes up for it:
//! - Disabled users are not listed (learn authenticationmethodsroot-list-userregistrationdetails:
//!   "doesn't work for disabled users"), and Entra's report lags "up to a few hours", so a user
//!   created since is missing too: the report streams `/users` as before (it needs
//!   `mobilePhone`, `accountEnabled` and the UPN for exclusions anyway) and reads the method list
//!   of every user the registration report does not list.
//! - A Temporary Access Pass is listed whether it is still usable or expired/used: where a TAP
//!   decides the state (nothing stronger registered), that one user's method list is read.
//! - It names method kinds, never numbers: which phone is registered (autoenroll's or the user's
//!   own) is not in it. The number column then shows the directory mobile, masked, and with
//!   `--table` autoenroll's memory says whether the phone is the one autoenroll registered.
//!
//! Memory: the `/users` stream and this report are not in the same order (neither API promises
//! one), so the report is read first into a compact index — 16 bytes of object id and a 4-byte
//! method set per user (about 2 MB for 100,000 users) — and the users are then streamed as before.

use std::collections::HashMap;

use autoenroll_core::coverage::MethodKind;
use autoenroll_graph::model::UserRegistrationDetails;
use autoenroll_graph::{GraphClient, GraphError};
use futures::TryStreamExt;
use serde::Serialize;

use crate::backfill::StopFlag;

/// The fixed kinds, one bit each; bits from [`FIRST_UNKNOWN_BIT`] up stand for interned names
/// of kinds this version does not know.
const FIXED: [MethodKind; 9] = [
    MethodKind::Passkey,
    MethodKind::WindowsHello,
    MethodKind::PlatformCredential,
    MethodKind::Authenticator,
    MethodKind::SoftwareOath,
    MethodKind::HardwareOath,
    MethodKind::Phone,
    MethodKind::TemporaryAccessPass { usable: true },
    MethodKind::NotMfa,
];
const FIRST_UNKNOWN_BIT: u32 = FIXED.len() as u32;
/// Unknown names past the last bit share it, shown under this label.
const OVERFLOW_NAME: &str = "other (unknown method)";

/// Why the registration report was not used.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum Fallback {
    /// 403 `Authentication_RequestFromNonPremiumTenantOrB2CTenant`.
    NotPremium,
    /// Any other 403: the app lacks AuditLog.Read.All.
    NoPermission,
    /// `--source per-user`.
    Asked,
}

impl Fallback {
    pub fn describe(self) -> &'static str {
        match self {
            Fallback::NotPremium => {
                "the tenant has no Entra ID P1/P2 licence, which the registration report needs"
            }
            Fallback::NoPermission => {
                "the app lacks AuditLog.Read.All, which the registration report needs (optional: \
                 grant it to read methods one page at a time)"
            }
            Fallback::Asked => "asked for with --source per-user",
        }
    }
}

/// Every listed user's registered method kinds.
#[derive(Debug, Default)]
pub struct RegistrationIndex {
    /// Sorted by id once loaded.
    by_guid: Vec<([u8; 16], u32)>,
    /// Ids that are not GUIDs (none in Entra; kept so nothing is silently dropped).
    other: HashMap<String, u32>,
    unknown_names: Vec<String>,
    /// Pages read (one Graph call each).
    pub pages: usize,
}

impl RegistrationIndex {
    pub fn len(&self) -> usize {
        self.by_guid.len() + self.other.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Heap bytes the index holds (the id/method pairs; the rare non-GUID ids and unknown
    /// method names aside).
    pub fn heap_bytes(&self) -> usize {
        self.by_guid.capacity() * std::mem::size_of::<([u8; 16], u32)>()
    }

    fn bits(&mut self, row: &UserRegistrationDetails) -> u32 {
        let mut bits = 0u32;
        for name in &row.methods_registered {
            let kind = MethodKind::from_registration(name);
            bits |= match FIXED.iter().position(|k| *k == kind) {
                Some(i) => 1 << i,
                None => 1 << self.unknown_bit(name),
            };
        }
        bits
    }

    fn unknown_bit(&mut self, name: &str) -> u32 {
        let last = u32::BITS - 1;
        let i = match self.unknown_names.iter().position(|n| n == name) {
            Some(i) => i,
            None if FIRST_UNKNOWN_BIT + (self.unknown_names.len() as u32) < last => {
                self.unknown_names.push(name.to_owned());
                self.unknown_names.len() - 1
            }
            None => return last,
        };
        FIRST_UNKNOWN_BIT + i as u32
    }

    pub fn insert(&mut self, row: &UserRegistrationDetails) {
        let bits = self.bits(row);
        match guid_bytes(&row.id) {
            Some(key) => self.by_guid.push((key, bits)),
            None => {
                self.other.insert(row.id.to_ascii_lowercase(), bits);
            }
        }
    }

    fn seal(&mut self) {
        self.by_guid.sort_unstable_by_key(|(k, _)| *k);
        self.by_guid.dedup_by_key(|(k, _)| *k);
        self.by_guid.shrink_to_fit();
    }

    /// The user's method kinds, or `None` when the report does not list the user.
    pub fn methods(&self, user_id: &str) -> Option<Vec<MethodKind>> {
        let bits = match guid_bytes(user_id) {
            Some(key) => {
                let i = self.by_guid.binary_search_by_key(&key, |(k, _)| *k).ok()?;
                self.by_guid[i].1
            }
            None => *self.other.get(&user_id.to_ascii_lowercase())?,
        };
        let mut out = Vec::new();
        for bit in 0..u32::BITS {
            if bits & (1 << bit) == 0 {
                continue;
            }
            let b = bit as usize;
            out.push(match FIXED.get(b) {
                Some(kind) => kind.clone(),
                None => MethodKind::Unknown(
                    self.unknown_names
                        .get(b - FIXED.len())
                        .cloned()
                        .unwrap_or_else(|| OVERFLOW_NAME.to_owned()),
                ),
            });
        }
        Some(out)
    }
}

/// Whether a listed user's own method list must still be read: a TAP decides the state only
/// when nothing stronger is registered, and only the method list says whether it is usable.
pub fn needs_method_read(kinds: &[MethodKind]) -> bool {
    let tap = kinds
        .iter()
        .any(|k| matches!(k, MethodKind::TemporaryAccessPass { .. }));
    let stronger = kinds.iter().any(|k| {
        k.is_phishing_resistant()
            || matches!(
                k,
                MethodKind::Authenticator | MethodKind::SoftwareOath | MethodKind::HardwareOath
            )
    });
    tap && !stronger
}

/// An Entra object id as 16 bytes (`xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx`, any case).
fn guid_bytes(id: &str) -> Option<[u8; 16]> {
    let hex: Vec<u8> = id.bytes().filter(|b| *b != b'-').collect();
    if hex.len() != 32 || id.len() != 36 {
        return None;
    }
    let mut out = [0u8; 16];
    for (i, pair) in hex.chunks(2).enumerate() {
        let digit = |c: u8| (c as char).to_digit(16);
        out[i] = (digit(pair[0])? * 16 + digit(pair[1])?) as u8;
    }
    Some(out)
}

/// Graph's page size for the report (its maximum `$top`).
const PAGE_SIZE: u16 = 999;

/// Reads the whole registration report into an index, or says why it cannot be used. Decided
/// on the error's status and Graph code (typed), never its text: 403
/// `Authentication_RequestFromNonPremiumTenantOrB2CTenant` is a tenant without P1/P2, any other
/// 403 a missing AuditLog.Read.All. Anything else (a 5xx after the client's retries, a refused
/// token) is an error for the caller.
pub async fn load(
    graph: &GraphClient,
    stop: &StopFlag,
    mut on_page: impl FnMut(usize),
) -> Result<Result<RegistrationIndex, Fallback>, GraphError> {
    let mut index = RegistrationIndex::default();
    let pages = graph
        .reports()
        .user_registration_details(&[], Some(PAGE_SIZE));
    futures::pin_mut!(pages);
    loop {
        if stop.is_stopped() {
            break;
        }
        let page = match pages.try_next().await {
            Ok(Some(page)) => page,
            Ok(None) => break,
            Err(e) if index.pages == 0 && e.is_premium_licence_required() => {
                return Ok(Err(Fallback::NotPremium));
            }
            Err(e) if index.pages == 0 && e.is_forbidden() => {
                return Ok(Err(Fallback::NoPermission));
            }
            Err(e) => return Err(e),
        };
        index.pages += 1;
        on_page(page.value.len());
        for row in &page.value {
            index.insert(row);
        }
    }
    index.seal();
    Ok(Ok(index))
}

#[cfg(test)]
mod tests {
    use super::*;
    use autoenroll_graph::model::RegistrationUserType;

    fn row(id: &str, methods: &[&str]) -> UserRegistrationDetails {
        serde_json::from_value(serde_json::json!({
            "id": id, "userType": "member",
            "methodsRegistered": methods,
        }))
        .expect("row")
    }

    #[test]
    fn index_round_trips_kinds_and_unknown_names() {
        let mut index = RegistrationIndex::default();
        let a = "0A1B2C3D-0000-4000-8000-00000000000A";
        index.insert(&row(
            a,
            &["mobilePhone", "passKeySynced", "email", "brandNewMethod"],
        ));
        index.insert(&row("not-a-guid", &["temporaryAccessPass"]));
        index.insert(&row("00000000-0000-4000-8000-000000000001", &[]));
        index.seal();
        assert_eq!(index.len(), 3);
        let got = index.methods(&a.to_lowercase()).expect("listed");
        assert_eq!(
            got,
            vec![
                MethodKind::Passkey,
                MethodKind::Phone,
                MethodKind::NotMfa,
                MethodKind::Unknown("brandNewMethod".into())
            ]
        );
        assert_eq!(
            index.methods("not-a-guid"),
            Some(vec![MethodKind::TemporaryAccessPass { usable: true }])
        );
        assert_eq!(
            index.methods("00000000-0000-4000-8000-000000000001"),
            Some(vec![])
        );
        assert_eq!(index.methods("00000000-0000-4000-8000-000000000002"), None);
        assert_eq!(row(a, &[]).user_type, RegistrationUserType::Member);
    }

    #[test]
    fn unknown_names_beyond_the_bits_share_the_last_one() {
        let mut index = RegistrationIndex::default();
        let names: Vec<String> = (0..40).map(|i| format!("m{i}")).collect();
        let refs: Vec<&str> = names.iter().map(String::as_str).collect();
        let id = "00000000-0000-4000-8000-000000000003";
        index.insert(&row(id, &refs));
        index.seal();
        let got = index.methods(id).unwrap();
        assert_eq!(got.len(), (u32::BITS - FIRST_UNKNOWN_BIT) as usize);
        assert_eq!(got.last(), Some(&MethodKind::Unknown(OVERFLOW_NAME.into())));
    }

    #[test]
    fn a_tap_needs_the_method_list_only_when_nothing_stronger_is_registered() {
        let tap = MethodKind::TemporaryAccessPass { usable: true };
        assert!(needs_method_read(std::slice::from_ref(&tap)));
        assert!(needs_method_read(&[tap.clone(), MethodKind::Phone]));
        assert!(!needs_method_read(&[
            tap.clone(),
            MethodKind::Authenticator
        ]));
        assert!(!needs_method_read(&[tap, MethodKind::Passkey]));
        assert!(!needs_method_read(&[MethodKind::Phone]));
    }

    #[test]
    fn a_hundred_thousand_users_take_about_two_megabytes() {
        let mut index = RegistrationIndex::default();
        for i in 0..100_000u32 {
            index.insert(&row(
                &format!("00000000-0000-4000-8000-{i:012x}"),
                &["mobilePhone", "microsoftAuthenticatorPush"],
            ));
        }
        index.seal();
        assert_eq!(index.len(), 100_000);
        assert_eq!(index.heap_bytes(), 100_000 * 20);
        assert_eq!(
            index.methods("00000000-0000-4000-8000-00000001869f"),
            Some(vec![MethodKind::Authenticator, MethodKind::Phone])
        );
    }

    #[test]
    fn guids_parse_in_any_case_and_nothing_else_does() {
        assert_eq!(
            guid_bytes("ffffffff-ffff-ffff-ffff-ffffffffffff"),
            Some([0xff; 16])
        );
        assert_eq!(
            guid_bytes("FFFFFFFF-FFFF-FFFF-FFFF-FFFFFFFFFFFF"),
            Some([0xff; 16])
        );
        assert_eq!(guid_bytes("ffffffffffffffffffffffffffffffff"), None);
        assert_eq!(guid_bytes("gfffffff-ffff-ffff-ffff-ffffffffffff"), None);
        assert_eq!(guid_bytes(""), None);
    }
}
