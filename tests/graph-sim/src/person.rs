//! A simulated person: the user signs in with the Temporary Access Pass they were given and
//! registers a method (a passkey, Microsoft Authenticator, or their own phone) — what lets an
//! end-to-end test show that a delivered pass really closes the loop. Admin API
//! (`POST /_sim/users/{id}/tapSignIn`) and [`Control::sign_in_with_tap`].
//!
//! Rules (TAPHOW): only users the TAP policy includes can sign in with a pass; a one-time pass is
//! consumed by the sign-in; an expired or not-yet-valid pass does not work. Registering a
//! passkey needs the Fido2 configuration to include the user and allow self-service
//! registration; Authenticator needs its configuration to include the user.

use axum::Router;
use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::{Json, routing::post};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::AppState;
use crate::clock::format_rfc3339;
use crate::control::Control;
use crate::method_kinds::PasskeyFlavour;
use crate::policy::MethodId;

/// What the user registers after signing in with their pass.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase", tag = "kind", deny_unknown_fields)]
pub enum Registration {
    /// A passkey (a `fido2AuthenticationMethod`).
    #[serde(rename = "fido2")]
    Passkey {
        #[serde(default = "authenticator_passkey")]
        passkey: PasskeyFlavour,
    },
    MicrosoftAuthenticator,
    /// Their own phone, in Graph's format (`+31 612345678`).
    #[serde(rename_all = "camelCase")]
    Phone {
        phone_type: String,
        phone_number: String,
    },
}

fn authenticator_passkey() -> PasskeyFlavour {
    PasskeyFlavour::Authenticator
}

/// Why a sign-in with a pass, or the registration after it, failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignInError {
    #[error("no user {0}")]
    NoSuchUser(String),
    #[error("the user has no Temporary Access Pass")]
    NoPass,
    #[error("the pass entered is not the user's pass")]
    WrongPass,
    #[error("the pass has expired")]
    Expired,
    #[error("the pass is not valid yet")]
    NotYetValid,
    #[error("the one-time pass was already used")]
    AlreadyUsed,
    #[error("the Temporary Access Pass policy does not include the user")]
    DisabledByPolicy,
    #[error("the authentication methods policy does not let the user register {0}")]
    MethodNotAllowed(&'static str),
    #[error("registration refused: {0}")]
    Registration(String),
}

impl SignInError {
    /// A stable name for the admin API's JSON.
    pub fn reason(&self) -> &'static str {
        match self {
            Self::NoSuchUser(_) => "noSuchUser",
            Self::NoPass => "noPass",
            Self::WrongPass => "wrongPass",
            Self::Expired => "expired",
            Self::NotYetValid => "notYetValid",
            Self::AlreadyUsed => "alreadyUsed",
            Self::DisabledByPolicy => "disabledByPolicy",
            Self::MethodNotAllowed(_) => "methodNotAllowed",
            Self::Registration(_) => "registration",
        }
    }
}

pub(crate) fn admin_routes() -> Router<AppState> {
    Router::new().route("/users/{user}/tapSignIn", post(tap_sign_in))
}

impl Control {
    /// The user signs in with `pass` and registers `registration`. Returns the new method's id
    /// (for a phone: its fixed id). A one-time pass is consumed even if the registration then
    /// fails — the sign-in happened.
    pub fn sign_in_with_tap(
        &self,
        id_or_upn: &str,
        pass: &str,
        registration: Registration,
    ) -> Result<String, SignInError> {
        sign_in(self.app_state(), id_or_upn, pass, registration)
    }
}

fn sign_in(
    state: &AppState,
    user: &str,
    pass: &str,
    registration: Registration,
) -> Result<String, SignInError> {
    let now = state.now();
    let (result, event) = state.tenant.with(|t| {
        let id = t
            .resolve_user_id(user)
            .ok_or_else(|| SignInError::NoSuchUser(user.to_string()))?;
        let allowed = crate::tap::policy_allows(t, &id);
        let policy = &t.methods_policy;
        let method_allowed = match &registration {
            Registration::Passkey { .. } => {
                policy.targets_user(t, MethodId::Fido2, &id)
                    && policy
                        .config(MethodId::Fido2)
                        .settings
                        .get("isSelfServiceRegistrationAllowed")
                        != Some(&Value::Bool(false))
            }
            Registration::MicrosoftAuthenticator => {
                policy.targets_user(t, MethodId::MicrosoftAuthenticator, &id)
            }
            // Phone registration is governed by Sms/Voice (and, before migration, the legacy
            // settings); the simulator lets a user add a phone whatever the policy, as the
            // admin API does, since "enabled" only decides whether it is used.
            Registration::Phone { .. } => true,
        };
        let Some(record) = t.users.get_mut(&id) else {
            return Err(SignInError::NoSuchUser(user.to_string()));
        };
        let auth = &mut record.authentication;
        let tap = auth.tap.as_mut().ok_or(SignInError::NoPass)?;
        if tap.pass != pass {
            return Err(SignInError::WrongPass);
        }
        match crate::tap::usability(tap, now, allowed) {
            "EnabledByPolicy" => {}
            "OneTimeUsed" => return Err(SignInError::AlreadyUsed),
            "Expired" => return Err(SignInError::Expired),
            "NotYetValid" => return Err(SignInError::NotYetValid),
            _ => return Err(SignInError::DisabledByPolicy),
        }
        if tap.is_usable_once {
            tap.used_at = Some(now);
        }
        let result = register(auth, registration, method_allowed, now);
        let event = t.log(id, crate::state::ChangeKind::AuthenticationChanged, now);
        Ok((result, event))
    })?;
    state.tenant.publish([event]);
    result
}

fn register(
    auth: &mut crate::state::AuthState,
    registration: Registration,
    allowed: bool,
    now: time::OffsetDateTime,
) -> Result<String, SignInError> {
    let created = format_rfc3339(now);
    let id = match registration {
        Registration::Passkey { passkey } => {
            if !allowed {
                return Err(SignInError::MethodNotAllowed("a passkey"));
            }
            let id = uuid::Uuid::new_v4().to_string();
            let method = crate::method_kinds::build(
                id.clone(),
                "fido2",
                Some(passkey),
                &Default::default(),
                &created,
            )
            .map_err(SignInError::Registration)?;
            auth.other.push(method);
            id
        }
        Registration::MicrosoftAuthenticator => {
            if !allowed {
                return Err(SignInError::MethodNotAllowed("Microsoft Authenticator"));
            }
            let id = uuid::Uuid::new_v4().to_string();
            let method = crate::method_kinds::build(
                id.clone(),
                "microsoftAuthenticator",
                None,
                &Default::default(),
                &created,
            )
            .map_err(SignInError::Registration)?;
            auth.other.push(method);
            id
        }
        Registration::Phone {
            phone_type,
            phone_number,
        } => {
            let body = json!({"phoneType": phone_type, "phoneNumber": phone_number});
            let phone = crate::methods::self_register_phone(auth, &body)
                .map_err(SignInError::Registration)?;
            phone.method_id().to_string()
        }
    };
    crate::methods::promote(auth);
    Ok(id)
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct SignInBody {
    temporary_access_pass: String,
    register: Registration,
}

async fn tap_sign_in(
    State(state): State<AppState>,
    Path(user): Path<String>,
    body: Result<Json<SignInBody>, JsonRejection>,
) -> Response {
    let body = match body {
        Ok(Json(b)) => b,
        Err(e) => {
            return (
                StatusCode::BAD_REQUEST,
                Json(json!({"error": e.body_text()})),
            )
                .into_response();
        }
    };
    match sign_in(&state, &user, &body.temporary_access_pass, body.register) {
        Ok(id) => (StatusCode::CREATED, Json(json!({"methodId": id}))).into_response(),
        Err(e) => {
            let status = match e {
                SignInError::NoSuchUser(_) => StatusCode::NOT_FOUND,
                _ => StatusCode::BAD_REQUEST,
            };
            (
                status,
                Json(json!({"error": e.to_string(), "reason": e.reason()})),
            )
                .into_response()
        }
    }
}
