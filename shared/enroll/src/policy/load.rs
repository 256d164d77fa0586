//! Loading the policy: the TOML file's shape, the values as read from either source, and
//! their validation (errors name the key the operator wrote).

use std::collections::BTreeSet;

use serde::Deserialize;

use super::bootstrap::{BootstrapKeys, RawBootstrap};
use super::*;
use crate::telephony::TelephonySetting;

/// The policy file. Keys are the environment variables' names without the
/// `AUTOENROLL_POLICY_` prefix, in lowercase.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct PolicyFile {
    pub(super) default_region: Option<String>,
    pub(super) mfa_mode: Option<String>,
    /// `when-effective` | `always` | `never`, or the old `true` / `false`.
    pub(super) set_sms_default: Option<BoolOrString>,
    pub(super) excluded_upns: Option<Vec<String>>,
    pub(super) excluded_groups: Option<Vec<String>>,
    pub(super) scope_groups: Option<Vec<String>>,
    pub(super) include_guests: Option<bool>,
    pub(super) on_number_change: Option<String>,
    pub(super) office_fallback: Option<bool>,
    pub(super) telephony: Option<String>,
    pub(super) bootstrap: Option<String>,
    pub(super) bootstrap_delivery: Option<String>,
    pub(super) bootstrap_email_from: Option<String>,
    pub(super) bootstrap_ses_configuration_set: Option<String>,
    pub(super) bootstrap_sms_sender_id: Option<String>,
    pub(super) bootstrap_sms_origination_number: Option<String>,
    pub(super) bootstrap_tap_lifetime_minutes: Option<u32>,
    pub(super) bootstrap_tap_one_time: Option<bool>,
    pub(super) bootstrap_tap_reissues: Option<u32>,
}

/// A key that was a boolean and became a word (the boolean stays accepted).
#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub(super) enum BoolOrString {
    Bool(bool),
    String(String),
}

/// Values as read, before validation (shared by the environment and the file).
pub(super) struct RawPolicy {
    pub(super) default_region: Option<String>,
    pub(super) mfa_mode: Option<String>,
    pub(super) set_sms_default: Option<String>,
    pub(super) excluded_upns: Vec<String>,
    pub(super) excluded_groups: Vec<String>,
    pub(super) scope_groups: Vec<String>,
    pub(super) include_guests: Option<bool>,
    pub(super) on_number_change: Option<String>,
    pub(super) office_fallback: Option<bool>,
    pub(super) telephony: Option<String>,
    pub(super) bootstrap: RawBootstrap,
}

/// How each setting is called where it came from, so errors name the key the operator wrote.
pub(super) struct KeyNames {
    pub(super) default_region: &'static str,
    pub(super) mfa_mode: &'static str,
    pub(super) set_sms_default: &'static str,
    pub(super) excluded_upns: &'static str,
    pub(super) excluded_groups: &'static str,
    pub(super) scope_groups: &'static str,
    pub(super) on_number_change: &'static str,
    pub(super) telephony: &'static str,
    pub(super) bootstrap: BootstrapKeys,
}

impl KeyNames {
    pub(super) const ENV: KeyNames = KeyNames {
        default_region: ENV_DEFAULT_REGION,
        mfa_mode: ENV_MFA_MODE,
        set_sms_default: ENV_SET_SMS_DEFAULT,
        excluded_upns: ENV_EXCLUDED_UPNS,
        excluded_groups: ENV_EXCLUDED_GROUPS,
        scope_groups: ENV_SCOPE_GROUPS,
        on_number_change: ENV_ON_NUMBER_CHANGE,
        telephony: ENV_TELEPHONY,
        bootstrap: BootstrapKeys::ENV,
    };
    pub(super) const TOML: KeyNames = KeyNames {
        default_region: "default_region",
        mfa_mode: "mfa_mode",
        set_sms_default: "set_sms_default",
        excluded_upns: "excluded_upns",
        excluded_groups: "excluded_groups",
        scope_groups: "scope_groups",
        on_number_change: "on_number_change",
        telephony: "telephony",
        bootstrap: BootstrapKeys::TOML,
    };
}

pub(super) fn invalid(key: &str, message: impl Into<String>) -> PolicyError {
    PolicyError::Invalid {
        key: key.to_owned(),
        message: message.into(),
    }
}

fn group_set(key: &str, values: Vec<String>) -> Result<BTreeSet<String>, PolicyError> {
    values
        .into_iter()
        .map(|v| {
            ids::canonical_guid(v.trim())
                .ok_or_else(|| invalid(key, format!("`{v}` is not a group object id (a GUID)")))
        })
        .collect()
}

impl RawPolicy {
    pub(super) fn validate(self, keys: &KeyNames) -> Result<Policy, PolicyError> {
        let defaults = Policy::default();
        let default_region = self
            .default_region
            .map(|r| r.parse::<RegionCode>())
            .transpose()
            .map_err(|e| invalid(keys.default_region, e.to_string()))?;
        let sms_default = match self.set_sms_default {
            Some(m) => m
                .parse::<SmsDefault>()
                .map_err(|e| invalid(keys.set_sms_default, e))?,
            None => defaults.sms_default(),
        };
        let mfa_mode = match self.mfa_mode {
            Some(m) => m
                .parse::<MfaMode>()
                .map_err(|e| invalid(keys.mfa_mode, e))?,
            None => defaults.mfa_mode,
        };
        let on_number_change = match self.on_number_change {
            Some(m) => m
                .parse::<NumberChangePolicy>()
                .map_err(|e| invalid(keys.on_number_change, e))?,
            None => defaults.on_number_change,
        };
        let telephony = self
            .telephony
            .map(|t| t.parse::<TelephonySetting>())
            .transpose()
            .map_err(|e| invalid(keys.telephony, e))?
            .unwrap_or_default();
        let excluded_upns = self
            .excluded_upns
            .into_iter()
            .map(|u| {
                let u = u.trim().to_lowercase();
                let well_formed = u.split_once('@').is_some_and(|(local, domain)| {
                    !local.is_empty() && !domain.is_empty() && !domain.contains('@')
                }) && !u.chars().any(char::is_whitespace);
                if well_formed {
                    Ok(u)
                } else {
                    Err(invalid(
                        keys.excluded_upns,
                        format!("`{u}` is not a user principal name (name@domain)"),
                    ))
                }
            })
            .collect::<Result<BTreeSet<_>, _>>()?;
        let excluded_groups = group_set(keys.excluded_groups, self.excluded_groups)?;
        let scope_groups = group_set(keys.scope_groups, self.scope_groups)?;
        if let MfaMode::Group(id) = &mfa_mode
            && excluded_groups.contains(id)
        {
            // Adding users to a group whose members we must never touch contradicts itself.
            return Err(invalid(
                keys.mfa_mode,
                format!("the MFA group {id} is also an excluded group"),
            ));
        }
        let mut policy = Policy {
            default_region,
            mfa_mode,
            set_sms_default: false,
            sms_default_always: false,
            excluded_upns,
            excluded_groups,
            scope_groups,
            include_guests: self.include_guests.unwrap_or(defaults.include_guests),
            on_number_change,
            office_fallback: self.office_fallback.unwrap_or(defaults.office_fallback),
            telephony,
            bootstrap: self.bootstrap.validate(&keys.bootstrap)?,
        };
        policy.set_sms_default_mode(sms_default);
        Ok(policy)
    }
}
