//! Conditional Access, read only: `GET /identity/conditionalAccess/policies[/{id}]` (seeded) and
//! `GET /policies/authenticationStrengthPolicies[/{id}]` (the three built-in strengths plus seeded
//! custom ones) — enough to tell whether registering security info requires MFA (or a strength
//! that a Temporary Access Pass satisfies).
//!
//! Sources: PASSKEY-ERA.md §7 — learn conditionalaccessroot-list-policies, MGDC
//! v1.0/resources/conditionalaccessapplications.md (`includeUserActions`), MGDC
//! v1.0/api/authenticationstrengthroot-list-policies.md @4283e712 (built-in ids, names and
//! `allowedCombinations`), STRENGTH (`builtInControls` and `authenticationStrength` are not
//! combined in one policy), learn resources/authenticationmethodmodes (the modes).
//!
//! Choices where the docs are silent (README): a seed that combines `mfa` with a strength, names
//! an unknown strength or user action, or has CA policies in a tenant without P1/P2 is refused;
//! a policy's `grantControls.authenticationStrength` is returned expanded (the whole strength
//! object, as Graph returns it); unsupported query options are 400.

use axum::Router;
use axum::extract::{Extension, Path, State};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use crate::AppState;
use crate::error::{GraphError, GraphResult, SimError};
use crate::odata::{self, ODataQuery};
use crate::pipeline::RequestInfo;

/// The user action of "register security information" (and the only other one).
pub const REGISTER_SECURITY_INFO: &str = "urn:user:registersecurityinfo";
const USER_ACTIONS: &[&str] = &[REGISTER_SECURITY_INFO, "urn:user:registerdevice"];
const STATES: &[&str] = &["enabled", "disabled", "enabledForReportingButNotEnforced"];

/// `authenticationMethodModes` (learn resources/authenticationmethodmodes).
const MODES: &[&str] = &[
    "password",
    "voice",
    "hardwareOath",
    "softwareOath",
    "sms",
    "fido2",
    "windowsHelloForBusiness",
    "microsoftAuthenticatorPush",
    "deviceBasedPush",
    "temporaryAccessPassOneTime",
    "temporaryAccessPassMultiUse",
    "email",
    "x509CertificateSingleFactor",
    "x509CertificateMultiFactor",
    "federatedSingleFactor",
    "federatedMultiFactor",
    "qrCodePin",
];

const BUILT_IN_CREATED: &str = "2021-12-01T00:00:00Z";

/// The built-in strengths, verbatim from the MGDC list example (@4283e712). Only
/// `…0002` allows a TAP.
fn built_ins() -> Vec<Map<String, Value>> {
    let strength = |id: &str, name: &str, description: &str, combos: &[&str]| {
        json!({
            "id": id,
            "createdDateTime": BUILT_IN_CREATED,
            "modifiedDateTime": BUILT_IN_CREATED,
            "displayName": name,
            "description": description,
            "policyType": "builtIn",
            "requirementsSatisfied": "mfa",
            "allowedCombinations": combos,
            "combinationConfigurations": [],
        })
        .as_object()
        .cloned()
        .unwrap_or_default()
    };
    vec![
        strength(
            "00000000-0000-0000-0000-000000000002",
            "Multifactor authentication",
            "Combinations of methods that satisfy strong authentication, such as a password + SMS",
            &[
                "windowsHelloForBusiness",
                "fido2",
                "x509CertificateMultiFactor",
                "deviceBasedPush",
                "temporaryAccessPassOneTime",
                "temporaryAccessPassMultiUse",
                "password,microsoftAuthenticatorPush",
                "password,softwareOath",
                "password,hardwareOath",
                "password,x509CertificateSingleFactor",
                "password,x509CertificateMultiFactor",
                "password,sms",
                "password,voice",
                "federatedMultiFactor",
                "microsoftAuthenticatorPush,federatedSingleFactor",
                "softwareOath,federatedSingleFactor",
                "hardwareOath,federatedSingleFactor",
                "sms,federatedSingleFactor",
                "voice,federatedSingleFactor",
            ],
        ),
        strength(
            "00000000-0000-0000-0000-000000000003",
            "Passwordless MFA",
            "Passwordless methods that satisfy strong authentication, such as Passwordless sign-in with the Microsoft Authenticator",
            &[
                "windowsHelloForBusiness",
                "fido2",
                "x509CertificateMultiFactor",
                "deviceBasedPush",
            ],
        ),
        strength(
            "00000000-0000-0000-0000-000000000004",
            "Phishing resistant MFA",
            "Phishing resistant, Passwordless methods for the strongest authentication, such as a FIDO2 security key",
            &[
                "windowsHelloForBusiness",
                "fido2",
                "x509CertificateMultiFactor",
            ],
        ),
    ]
}

/// A custom authentication strength in a seed (`authenticationStrengthPolicies`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AuthenticationStrengthSeed {
    #[serde(default)]
    pub id: Option<String>,
    pub display_name: String,
    #[serde(default)]
    pub description: Option<String>,
    /// Each a mode or a comma-separated combination of modes (`password,sms`).
    pub allowed_combinations: Vec<String>,
}

/// The tenant's Conditional Access policies and authentication strengths.
#[derive(Debug, Clone, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ConditionalAccess {
    pub policies: Vec<Map<String, Value>>,
    pub strengths: Vec<Map<String, Value>>,
}

fn seed_error(message: String) -> SimError {
    SimError::InvalidSeed(message)
}

impl ConditionalAccess {
    pub fn from_seed(
        policies: &[Map<String, Value>],
        strengths: &[AuthenticationStrengthSeed],
        premium: bool,
        now: &str,
    ) -> Result<Self, SimError> {
        let mut all = built_ins();
        for s in strengths {
            for combo in &s.allowed_combinations {
                if let Some(bad) = combo.split(',').map(str::trim).find(|m| !MODES.contains(m)) {
                    return Err(seed_error(format!(
                        "authentication strength {}: unknown mode '{bad}'",
                        s.display_name
                    )));
                }
            }
            let id =
                s.id.clone()
                    .unwrap_or_else(|| crate::seed::derived_id("authStrength", &s.display_name));
            let v = json!({
                "id": id, "createdDateTime": now, "modifiedDateTime": now,
                "displayName": s.display_name, "description": s.description,
                "policyType": "custom", "requirementsSatisfied": "mfa",
                "allowedCombinations": s.allowed_combinations, "combinationConfigurations": [],
            });
            all.push(v.as_object().cloned().unwrap_or_default());
        }
        if !policies.is_empty() && !premium {
            return Err(seed_error(
                "Conditional Access policies need an Entra ID P1 or P2 tenant (tenant.licence)"
                    .into(),
            ));
        }
        let mut out = Vec::new();
        for p in policies {
            out.push(policy_from_seed(p, &all, now)?);
        }
        Ok(Self {
            policies: out,
            strengths: all,
        })
    }

    pub fn strength(&self, id: &str) -> Option<&Map<String, Value>> {
        self.strengths
            .iter()
            .find(|s| s.get("id").and_then(Value::as_str) == Some(id))
    }

    /// A policy as Graph returns it: the referenced strength expanded.
    fn expanded(&self, p: &Map<String, Value>) -> Map<String, Value> {
        let mut p = p.clone();
        if let Some(Value::Object(grant)) = p.get_mut("grantControls")
            && let Some(id) = grant
                .get("authenticationStrength")
                .and_then(|s| s.get("id"))
                .and_then(Value::as_str)
            && let Some(s) = self.strength(id)
        {
            let s = s.clone();
            grant.insert("authenticationStrength".into(), Value::Object(s));
        }
        p
    }
}

fn policy_from_seed(
    p: &Map<String, Value>,
    strengths: &[Map<String, Value>],
    now: &str,
) -> Result<Map<String, Value>, SimError> {
    let name = p
        .get("displayName")
        .and_then(Value::as_str)
        .ok_or_else(|| seed_error("conditional access policy without displayName".into()))?;
    let err = |m: &str| seed_error(format!("conditional access policy {name}: {m}"));
    let whole = Value::Object(p.clone());
    let state = p.get("state").and_then(Value::as_str).unwrap_or("enabled");
    if !STATES.contains(&state) {
        return Err(err(&format!("unknown state '{state}'")));
    }
    let actions = whole
        .pointer("/conditions/applications/includeUserActions")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    if let Some(bad) = actions
        .iter()
        .find(|a| !a.as_str().is_some_and(|a| USER_ACTIONS.contains(&a)))
    {
        return Err(err(&format!("unknown user action {bad}")));
    }
    let built_in = whole
        .pointer("/grantControls/builtInControls")
        .and_then(Value::as_array)
        .is_some_and(|a| !a.is_empty());
    let strength = whole.pointer("/grantControls/authenticationStrength");
    if let Some(s) = strength.filter(|s| !s.is_null()) {
        if built_in {
            return Err(err(
                "builtInControls and authenticationStrength cannot be combined",
            ));
        }
        let id = s.get("id").and_then(Value::as_str).unwrap_or_default();
        if !strengths
            .iter()
            .any(|x| x.get("id").and_then(Value::as_str) == Some(id))
        {
            return Err(err(&format!("unknown authentication strength '{id}'")));
        }
    }
    let mut out = json!({
        "id": crate::seed::derived_id("conditionalAccessPolicy", name),
        "templateId": null,
        "displayName": name,
        "createdDateTime": now,
        "modifiedDateTime": null,
        "state": state,
        "sessionControls": null,
        "conditions": {
            "userRiskLevels": [], "signInRiskLevels": [], "clientAppTypes": ["all"],
            "platforms": null, "locations": null, "devices": null,
            "applications": { "includeApplications": [], "excludeApplications": [],
                               "includeUserActions": [], "includeAuthenticationContextClassReferences": [] },
            "users": { "includeUsers": [], "excludeUsers": [], "includeGroups": [],
                        "excludeGroups": [], "includeRoles": [], "excludeRoles": [] },
        },
        "grantControls": null,
    })
    .as_object()
    .cloned()
    .unwrap_or_default();
    merge(&mut out, p);
    Ok(out)
}

/// Deep-merges `from` into `into` (objects merged key by key, anything else replaced).
fn merge(into: &mut Map<String, Value>, from: &Map<String, Value>) {
    for (k, v) in from {
        match (into.get_mut(k), v) {
            (Some(Value::Object(a)), Value::Object(b)) => merge(a, b),
            _ => {
                into.insert(k.clone(), v.clone());
            }
        }
    }
}

pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/identity/conditionalAccess/policies", get(list_policies))
        .route(
            "/identity/conditionalAccess/policies/{policy}",
            get(get_policy),
        )
        .route(
            "/policies/authenticationStrengthPolicies",
            get(list_strengths),
        )
        .route(
            "/policies/authenticationStrengthPolicies/{strength}",
            get(get_strength),
        )
}

fn select(
    items: Vec<Map<String, Value>>,
    query: &ODataQuery,
    type_name: &str,
) -> GraphResult<Vec<Value>> {
    let Some(fields) = query.select().filter(|s| !s.is_empty()) else {
        return Ok(items.into_iter().map(Value::Object).collect());
    };
    items
        .iter()
        .map(|i| {
            let known: Vec<&str> = i.keys().map(String::as_str).collect();
            odata::project(i, &fields, &known, type_name).map(Value::Object)
        })
        .collect()
}

async fn list_policies(
    State(state): State<AppState>,
    Extension(info): Extension<RequestInfo>,
    query: ODataQuery,
) -> GraphResult<Response> {
    query.reject_unsupported(&[])?;
    let items = state.tenant.with(|t| {
        let ca = &t.conditional_access;
        ca.policies.iter().map(|p| ca.expanded(p)).collect()
    });
    let items = select(items, &query, "microsoft.graph.conditionalAccessPolicy")?;
    let context = odata::context(
        &state.base_url,
        &info,
        "identity/conditionalAccess/policies",
    );
    Ok(axum::Json(odata::collection(context, items, None)).into_response())
}

async fn get_policy(
    State(state): State<AppState>,
    Extension(info): Extension<RequestInfo>,
    Path(id): Path<String>,
    query: ODataQuery,
) -> GraphResult<Response> {
    query.reject_unsupported(&[])?;
    let item = state.tenant.with(|t| {
        let ca = &t.conditional_access;
        ca.policies
            .iter()
            .find(|p| p.get("id").and_then(Value::as_str) == Some(id.as_str()))
            .map(|p| ca.expanded(p))
    });
    let item = item.ok_or_else(|| GraphError::not_found(&id))?;
    entity(
        &state,
        &info,
        &query,
        item,
        "microsoft.graph.conditionalAccessPolicy",
        "identity/conditionalAccess/policies/$entity",
    )
}

async fn list_strengths(
    State(state): State<AppState>,
    Extension(info): Extension<RequestInfo>,
    query: ODataQuery,
) -> GraphResult<Response> {
    query.reject_unsupported(&[])?;
    let items = state
        .tenant
        .with(|t| t.conditional_access.strengths.clone());
    let items = select(
        items,
        &query,
        "microsoft.graph.authenticationStrengthPolicy",
    )?;
    let context = odata::context(
        &state.base_url,
        &info,
        "policies/authenticationStrengthPolicies",
    );
    Ok(axum::Json(odata::collection(context, items, None)).into_response())
}

async fn get_strength(
    State(state): State<AppState>,
    Extension(info): Extension<RequestInfo>,
    Path(id): Path<String>,
    query: ODataQuery,
) -> GraphResult<Response> {
    query.reject_unsupported(&[])?;
    let item = state
        .tenant
        .with(|t| t.conditional_access.strength(&id).cloned())
        .ok_or_else(|| GraphError::not_found(&id))?;
    entity(
        &state,
        &info,
        &query,
        item,
        "microsoft.graph.authenticationStrengthPolicy",
        "policies/authenticationStrengthPolicies/$entity",
    )
}

/// One entity as Graph answers a GET by id: `$select` applied, `@odata.context` set.
fn entity(
    state: &AppState,
    info: &RequestInfo,
    query: &ODataQuery,
    item: Map<String, Value>,
    odata_type: &str,
    context_path: &str,
) -> GraphResult<Response> {
    let mut item = select(vec![item], query, odata_type)?
        .pop()
        .unwrap_or(Value::Null);
    if let Value::Object(m) = &mut item {
        m.insert(
            "@odata.context".into(),
            Value::String(odata::context(&state.base_url, info, context_path)),
        );
    }
    Ok(axum::Json(item).into_response())
}
