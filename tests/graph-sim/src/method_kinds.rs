//! Methods a user registers outside the admin APIs — Authenticator, passkeys (FIDO2), OATH,
//! Windows Hello for Business, macOS platform credentials — with the properties Graph returns
//! for each in `GET …/authentication/methods`.
//!
//! Sources: PASSKEY-ERA.md §4 (learn resources/authenticationmethod and each type's page:
//! microsoftauthenticatorauthenticationmethod, fido2authenticationmethod,
//! softwareoathauthenticationmethod, windowshelloforbusinessauthenticationmethod,
//! platformcredentialauthenticationmethod). A passkey's kind is not a type of its own: it is a
//! `fido2AuthenticationMethod` told apart by `aaGuid` and `model`.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use crate::state::OtherMethod;

/// The kinds, as the seed and the admin API name them (= the `@odata.type` stem).
pub const KINDS: &[&str] = &[
    "microsoftAuthenticator",
    "fido2",
    "softwareOath",
    "windowsHelloForBusiness",
    "platformCredential",
];

/// The properties each kind carries besides `id` (all settable from a seed).
fn properties(kind: &str) -> &'static [&'static str] {
    match kind {
        "microsoftAuthenticator" => &[
            "displayName",
            "deviceTag",
            "phoneAppVersion",
            "createdDateTime",
        ],
        "fido2" => &[
            "displayName",
            "aaGuid",
            "model",
            "attestationCertificates",
            "attestationLevel",
            "createdDateTime",
        ],
        "softwareOath" => &["secretKey"],
        "windowsHelloForBusiness" => &["displayName", "keyStrength", "createdDateTime"],
        "platformCredential" => &["displayName", "keyStrength", "platform", "createdDateTime"],
        _ => &[],
    }
}

/// Passkey flavours a seed (`"passkey": …`) or a simulated registration can ask for.
/// AAGUIDs: YubiKey 5 NFC (PASSKEY-ERA.md §4 example), Microsoft Authenticator for iOS, iCloud
/// Keychain (the passkey provider AAGUID lists Entra's docs point to).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum PasskeyFlavour {
    SecurityKey,
    Authenticator,
    Synced,
}

impl PasskeyFlavour {
    fn defaults(self) -> Value {
        match self {
            Self::SecurityKey => json!({
                "displayName": "Security key", "aaGuid": "2fc0579f-8113-47ea-b116-555a8db9202a",
                "model": "YubiKey 5 NFC", "attestationLevel": "attested"}),
            Self::Authenticator => json!({
                "displayName": "Passkey in Microsoft Authenticator",
                "aaGuid": "90a3ccdf-635c-4729-a248-9b709135078f",
                "model": "Microsoft Authenticator - iOS", "attestationLevel": "attested"}),
            Self::Synced => json!({
                "displayName": "iCloud Keychain", "aaGuid": "fbfc3007-154e-4ecc-8c0b-6e020557d7bd",
                "model": "iCloud Keychain", "attestationLevel": "notAttested"}),
        }
    }
}

/// A seed's `otherMethods` entry: a kind, or an object with `kind`, an optional `passkey`
/// flavour (fido2 only) and any of the kind's properties.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum OtherMethodSeed {
    Kind(String),
    Detailed(Map<String, Value>),
}

/// Defaults Graph would show for a freshly registered method of `kind`.
fn defaults(kind: &str, passkey: Option<PasskeyFlavour>, created: &str) -> Map<String, Value> {
    let v = match kind {
        "microsoftAuthenticator" => json!({
            "displayName": "iPhone 15", "deviceTag": "SoftwareTokenActivated",
            "phoneAppVersion": "6.8.12"}),
        "fido2" => passkey.unwrap_or(PasskeyFlavour::SecurityKey).defaults(),
        "softwareOath" => json!({"secretKey": null}),
        "windowsHelloForBusiness" => {
            json!({"displayName": "DESKTOP-7GQ2K1P", "keyStrength": "normal"})
        }
        "platformCredential" => {
            json!({"displayName": "MacBook Pro", "keyStrength": "normal", "platform": "macOS"})
        }
        _ => json!({}),
    };
    let mut m = v.as_object().cloned().unwrap_or_default();
    if properties(kind).contains(&"createdDateTime") {
        m.insert("createdDateTime".into(), json!(created));
    }
    if kind == "fido2" {
        m.insert("attestationCertificates".into(), json!([]));
    }
    m
}

/// Builds a method from a kind, an optional passkey flavour and property overrides.
pub fn build(
    id: String,
    kind: &str,
    passkey: Option<PasskeyFlavour>,
    overrides: &Map<String, Value>,
    created: &str,
) -> Result<OtherMethod, String> {
    if !KINDS.contains(&kind) {
        return Err(format!(
            "unknown method kind {kind}; expected one of {}",
            KINDS.join(", ")
        ));
    }
    if passkey.is_some() && kind != "fido2" {
        return Err("passkey applies to fido2 methods only".into());
    }
    let mut details = defaults(kind, passkey, created);
    for (k, v) in overrides {
        if !properties(kind).contains(&k.as_str()) {
            return Err(format!("{kind} methods have no property {k}"));
        }
        details.insert(k.clone(), v.clone());
    }
    Ok(OtherMethod {
        id,
        kind: kind.to_string(),
        details,
    })
}

/// A seed entry as a method; `id` is the entry's `id` or `fallback_id`.
pub fn from_seed(
    entry: &OtherMethodSeed,
    fallback_id: impl FnOnce(&str) -> String,
    created: &str,
) -> Result<OtherMethod, String> {
    match entry {
        OtherMethodSeed::Kind(kind) => build(fallback_id(kind), kind, None, &Map::new(), created),
        OtherMethodSeed::Detailed(map) => {
            let mut rest = map.clone();
            let kind = match rest.remove("kind") {
                Some(Value::String(k)) => k,
                _ => return Err("an otherMethods object needs a \"kind\"".into()),
            };
            let passkey = match rest.remove("passkey") {
                None => None,
                Some(v) => Some(
                    serde_json::from_value(v)
                        .map_err(|_| "passkey must be securityKey, authenticator or synced")?,
                ),
            };
            let id = match rest.remove("id") {
                Some(Value::String(id)) => id,
                None => fallback_id(&kind),
                Some(_) => return Err("id must be a string".into()),
            };
            build(id, &kind, passkey, &rest, created)
        }
    }
}

/// The method as `GET …/authentication/methods` lists it.
pub fn to_json(method: &OtherMethod) -> Value {
    let mut m = Map::new();
    m.insert("@odata.type".into(), json!(method.odata_type()));
    m.insert("id".into(), json!(method.id));
    for (k, v) in &method.details {
        m.insert(k.clone(), v.clone());
    }
    Value::Object(m)
}
