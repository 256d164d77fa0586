//! The policy the CLI runs with: `autoenroll.toml` (`--config FILE`; else `./autoenroll.toml`
//! when present; else the safe defaults), then command-line flags on top. The file format is
//! `shared/enroll/autoenroll.example.toml`, parsed by `Policy::from_toml_str` — the same rules
//! as the Lambda functions' `AUTOENROLL_POLICY_*` variables. Every error names the key (or the
//! flag) that is wrong.

use std::path::{Path, PathBuf};

use autoenroll_core::policy::{Policy, PolicyError};
use clap::Args;

/// The file looked for in the working directory when `--config` is not given.
pub const DEFAULT_CONFIG_FILE: &str = "autoenroll.toml";

/// Policy flags: each overrides (or, for the lists, adds to) the key of the same name in the
/// policy file.
#[derive(Debug, Clone, Default, Args)]
#[command(next_help_heading = "Policy (each flag overrides the policy file's key)")]
pub struct PolicyFlags {
    /// Policy file (TOML; see shared/enroll/autoenroll.example.toml). Default: ./autoenroll.toml
    /// if it exists, else the built-in safe defaults.
    #[arg(long, visible_alias = "policy", value_name = "FILE", global = true)]
    pub config: Option<PathBuf>,
    /// Region for numbers written without a country code, e.g. NL (key `default_region`).
    #[arg(long, value_name = "XX", global = true)]
    pub default_region: Option<String>,
    /// per-user-enabled | per-user-enforced | group:<object-id> | none (key `mfa_mode`).
    #[arg(long, value_name = "MODE", global = true)]
    pub mfa_mode: Option<String>,
    /// Make SMS the preferred second factor: when-effective (only where system-preferred MFA
    /// is off for the user) | always (NPS extension / AD FS adapter users) | never; true and
    /// false still mean when-effective and never (key `set_sms_default`).
    #[arg(long, value_name = "WHEN", global = true)]
    pub set_sms_default: Option<String>,
    /// Never touch this account (break-glass); repeatable; added to `excluded_upns`.
    #[arg(long = "exclude-upn", value_name = "UPN", global = true)]
    pub exclude_upns: Vec<String>,
    /// Never touch members of this group (object id); repeatable; added to `excluded_groups`.
    #[arg(long = "exclude-group", value_name = "GROUP_ID", global = true)]
    pub exclude_groups: Vec<String>,
    /// Only enroll members of this group (object id); repeatable; added to `scope_groups`.
    #[arg(long = "scope-group", value_name = "GROUP_ID", global = true)]
    pub scope_groups: Vec<String>,
    /// Enroll guest (B2B) users too: true | false (key `include_guests`).
    #[arg(long, value_name = "BOOL", global = true)]
    pub include_guests: Option<bool>,
    /// update-managed | report-only (key `on_number_change`).
    #[arg(long, value_name = "WHAT", global = true)]
    pub on_number_change: Option<String>,
    /// Register the business phone as a voice-only office phone when there is no usable
    /// mobile: true | false (key `office_fallback`).
    #[arg(long, value_name = "BOOL", global = true)]
    pub office_fallback: Option<bool>,
}

/// Where the policy came from, for the report header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PolicySource {
    File(PathBuf),
    Defaults,
    /// A policy built into a command (`local`'s demo policy).
    Builtin(String),
    /// The file (or defaults), then command-line flags.
    WithFlags(Box<PolicySource>),
}

impl std::fmt::Display for PolicySource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            PolicySource::File(p) => write!(f, "{}", p.display()),
            PolicySource::Defaults => f.write_str("built-in defaults"),
            PolicySource::Builtin(name) => f.write_str(name),
            PolicySource::WithFlags(base) => write!(f, "{base} + command-line flags"),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("reading the policy file {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("{path}: {error}")]
    File { path: String, error: PolicyError },
    /// A flag's value is invalid: names the flag and the key it sets.
    #[error("{flag} (policy key `{key}`): {message}")]
    Flag {
        flag: String,
        key: String,
        message: String,
    },
}

/// The flag that sets a policy key.
fn flag_of(key: &str) -> String {
    match key {
        "excluded_upns" => "--exclude-upn".into(),
        "excluded_groups" => "--exclude-group".into(),
        "scope_groups" => "--scope-group".into(),
        other => format!("--{}", other.replace('_', "-")),
    }
}

impl PolicyFlags {
    /// The policy file to read: `--config`, else `./autoenroll.toml` if it exists.
    pub fn config_path(&self) -> Option<PathBuf> {
        self.config.clone().or_else(|| {
            let default = PathBuf::from(DEFAULT_CONFIG_FILE);
            default.is_file().then_some(default)
        })
    }

    fn is_empty(&self) -> bool {
        self.default_region.is_none()
            && self.mfa_mode.is_none()
            && self.set_sms_default.is_none()
            && self.exclude_upns.is_empty()
            && self.exclude_groups.is_empty()
            && self.scope_groups.is_empty()
            && self.include_guests.is_none()
            && self.on_number_change.is_none()
            && self.office_fallback.is_none()
    }

    /// The policy: the file (if any), then the flags.
    pub fn load(&self) -> Result<(Policy, PolicySource), ConfigError> {
        self.load_or(None)
    }

    /// Like [`PolicyFlags::load`], with `default` (TOML text and its name) instead of the
    /// built-in defaults when there is no policy file.
    pub fn load_or(
        &self,
        default: Option<(&str, &str)>,
    ) -> Result<(Policy, PolicySource), ConfigError> {
        let (text, source) = match self.config_path() {
            Some(path) => {
                let text = std::fs::read_to_string(&path).map_err(|source| ConfigError::Read {
                    path: path.display().to_string(),
                    source,
                })?;
                (text, PolicySource::File(path))
            }
            None => match default {
                Some((text, name)) => (text.to_owned(), PolicySource::Builtin(name.to_owned())),
                None => (String::new(), PolicySource::Defaults),
            },
        };
        let policy = policy_with_flags(&text, &source, self)?;
        if self.is_empty() {
            Ok((policy, source))
        } else {
            Ok((policy, PolicySource::WithFlags(Box::new(source))))
        }
    }
}

/// Validates the file on its own first (so its errors point at its own lines), then again with
/// the flags merged in (so a flag's error names the flag).
fn policy_with_flags(
    text: &str,
    source: &PolicySource,
    flags: &PolicyFlags,
) -> Result<Policy, ConfigError> {
    let path = source.to_string();
    let from_file = Policy::from_toml_str(text).map_err(|error| ConfigError::File {
        path: path.clone(),
        error,
    })?;
    if flags.is_empty() {
        return Ok(from_file);
    }
    // The file parsed, so it is a table.
    let mut table: toml::Table = toml::from_str(text).unwrap_or_default();
    let mut set = |key: &str, value: toml::Value| {
        table.insert(key.to_owned(), value);
    };
    if let Some(v) = &flags.default_region {
        set("default_region", toml::Value::String(v.clone()));
    }
    if let Some(v) = &flags.mfa_mode {
        set("mfa_mode", toml::Value::String(v.clone()));
    }
    if let Some(v) = &flags.set_sms_default {
        set("set_sms_default", toml::Value::String(v.clone()));
    }
    if let Some(v) = flags.include_guests {
        set("include_guests", toml::Value::Boolean(v));
    }
    if let Some(v) = &flags.on_number_change {
        set("on_number_change", toml::Value::String(v.clone()));
    }
    if let Some(v) = flags.office_fallback {
        set("office_fallback", toml::Value::Boolean(v));
    }
    for (key, extra) in [
        ("excluded_upns", &flags.exclude_upns),
        ("excluded_groups", &flags.exclude_groups),
        ("scope_groups", &flags.scope_groups),
    ] {
        if extra.is_empty() {
            continue;
        }
        let mut list = match table.remove(key) {
            Some(toml::Value::Array(a)) => a,
            _ => Vec::new(),
        };
        list.extend(extra.iter().cloned().map(toml::Value::String));
        table.insert(key.to_owned(), toml::Value::Array(list));
    }
    let merged = toml::to_string(&table).map_err(|e| ConfigError::File {
        path: path.clone(),
        error: PolicyError::File(e.to_string()),
    })?;
    Policy::from_toml_str(&merged).map_err(|error| match error {
        PolicyError::Invalid { key, message } => ConfigError::Flag {
            flag: flag_of(&key),
            key,
            message,
        },
        other => ConfigError::File { path, error: other },
    })
}

/// A one-line description of a policy, for report headers (no secrets in a policy).
pub fn describe(policy: &Policy) -> String {
    format!(
        "mfa_mode={}, default_region={}, set_sms_default={}, excluded_upns={}, excluded_groups={}, scope_groups={}, include_guests={}, on_number_change={}, office_fallback={}",
        policy.mfa_mode,
        policy
            .default_region
            .map_or_else(|| "none".to_owned(), |r| r.to_string()),
        policy.sms_default(),
        policy.excluded_upns.len(),
        policy.excluded_groups.len(),
        policy.scope_groups.len(),
        policy.include_guests,
        policy.on_number_change,
        policy.office_fallback,
    )
}

/// Reads a file's policy alone (tests, `local`).
pub fn policy_from_file(path: &Path) -> Result<Policy, ConfigError> {
    PolicyFlags {
        config: Some(path.to_owned()),
        ..PolicyFlags::default()
    }
    .load()
    .map(|(p, _)| p)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn flags() -> PolicyFlags {
        PolicyFlags::default()
    }

    #[test]
    fn flags_override_file_values_and_add_to_lists() {
        let text = "default_region = \"NL\"\nexcluded_upns = [\"bg1@contoso.com\"]\n";
        let f = PolicyFlags {
            default_region: Some("DE".into()),
            exclude_upns: vec!["bg2@contoso.com".into()],
            ..flags()
        };
        let policy = policy_with_flags(text, &PolicySource::Defaults, &f).unwrap();
        assert_eq!(policy.default_region.unwrap().to_string(), "DE");
        assert_eq!(policy.excluded_upns.len(), 2);
    }

    #[test]
    fn bad_flag_value_names_the_flag_and_the_key() {
        let f = PolicyFlags {
            mfa_mode: Some("always".into()),
            ..flags()
        };
        let e = policy_with_flags("", &PolicySource::Defaults, &f).unwrap_err();
        let text = e.to_string();
        assert!(
            text.starts_with("--mfa-mode (policy key `mfa_mode`)"),
            "{text}"
        );
    }

    #[test]
    fn bad_file_value_names_the_file_and_the_key() {
        let e = policy_with_flags(
            "mfa_mode = \"always\"\n",
            &PolicySource::File("p.toml".into()),
            &flags(),
        )
        .unwrap_err();
        assert!(e.to_string().starts_with("p.toml: mfa_mode:"), "{e}");
    }

    #[test]
    fn unknown_file_key_is_named() {
        let e = policy_with_flags(
            "mfa_mod = \"none\"\n",
            &PolicySource::File("p.toml".into()),
            &flags(),
        )
        .unwrap_err();
        assert!(e.to_string().contains("mfa_mod"), "{e}");
    }
}
