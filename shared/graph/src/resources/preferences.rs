//! Beta-only settings of a user's authentication: sign-in preferences and per-user MFA state.
//! MGDC api-reference/beta/api/authentication-update.md; there is no v1.0 equivalent.

use http::Method;

use crate::client::{ApiVersion, GraphClient, GraphRequest};
use crate::error::GraphError;
use crate::model::{PerUserMfaState, SignInPreferences, StrongAuthenticationRequirements};

/// `graph.sign_in_preferences(user)`.
#[derive(Debug, Clone)]
pub struct SignInPreferencesApi<'a> {
    client: &'a GraphClient,
    user: String,
}

/// `graph.mfa_requirements(user)`.
#[derive(Debug, Clone)]
pub struct MfaRequirements<'a> {
    client: &'a GraphClient,
    user: String,
}

impl GraphClient {
    pub fn sign_in_preferences(&self, user: &str) -> SignInPreferencesApi<'_> {
        SignInPreferencesApi {
            client: self,
            user: user.to_owned(),
        }
    }

    pub fn mfa_requirements(&self, user: &str) -> MfaRequirements<'_> {
        MfaRequirements {
            client: self,
            user: user.to_owned(),
        }
    }
}

const SIGN_IN_PREFERENCES: &str = "/users/{id}/authentication/signInPreferences";
const REQUIREMENTS: &str = "/users/{id}/authentication/requirements";

impl SignInPreferencesApi<'_> {
    /// `GET /beta/users/{id}/authentication/signInPreferences`.
    pub async fn get(&self) -> Result<SignInPreferences, GraphError> {
        let req = self.client.request(
            Method::GET,
            ApiVersion::Beta,
            SIGN_IN_PREFERENCES,
            &["users", &self.user, "authentication", "signInPreferences"],
        );
        self.client.send_json(&req).await
    }

    /// `PATCH /beta/users/{id}/authentication/signInPreferences` → 204, with only the fields
    /// that are `Some`.
    pub async fn set(&self, preferences: &SignInPreferences) -> Result<(), GraphError> {
        let req = self
            .client
            .request(
                Method::PATCH,
                ApiVersion::Beta,
                SIGN_IN_PREFERENCES,
                &["users", &self.user, "authentication", "signInPreferences"],
            )
            .json(preferences)?;
        self.client.send(&req).await.map(drop)
    }

    /// As [`SignInPreferencesApi::set_sms_default`], but if the call has to wait (budget or a
    /// retry) the preference is read again first and the write is withheld unless
    /// `still_wanted(current preference)` — someone may have chosen a method meanwhile.
    /// `Ok(false)`: withheld.
    pub async fn set_sms_default_unless_changed(
        &self,
        still_wanted: impl Fn(Option<&str>) -> bool,
    ) -> Result<bool, GraphError> {
        let req = self
            .client
            .request(
                Method::PATCH,
                ApiVersion::Beta,
                SIGN_IN_PREFERENCES,
                &["users", &self.user, "authentication", "signInPreferences"],
            )
            .json(&SignInPreferences {
                user_preferred_method_for_secondary_authentication: Some("sms".to_owned()),
                ..SignInPreferences::default()
            })?;
        let still_wanted = &still_wanted;
        let recheck = move || async move {
            let now = self.get().await?;
            Ok(still_wanted(
                now.user_preferred_method_for_secondary_authentication
                    .as_deref(),
            ))
        };
        Ok(self
            .client
            .send_unless_changed(&req, recheck)
            .await?
            .is_some())
    }

    /// Makes SMS the user's preferred second factor
    /// (`userPreferredMethodForSecondaryAuthentication: "sms"`). Graph ignores the preference
    /// while system-preferred MFA is on.
    pub async fn set_sms_default(&self) -> Result<(), GraphError> {
        self.set(&SignInPreferences {
            user_preferred_method_for_secondary_authentication: Some("sms".to_owned()),
            ..SignInPreferences::default()
        })
        .await
    }
}

impl MfaRequirements<'_> {
    /// `GET /beta/users/{id}/authentication/requirements`.
    pub async fn get(&self) -> Result<StrongAuthenticationRequirements, GraphError> {
        let req = self.client.request(
            Method::GET,
            ApiVersion::Beta,
            REQUIREMENTS,
            &["users", &self.user, "authentication", "requirements"],
        );
        self.client.send_json(&req).await
    }

    /// `PATCH /beta/users/{id}/authentication/requirements` `{perUserMfaState}` → 204. Graph
    /// turns `enabled` into `enforced` for a user who already has a strong method.
    pub async fn set(&self, state: PerUserMfaState) -> Result<(), GraphError> {
        let req = self.set_request(state)?;
        self.client.send(&req).await.map(drop)
    }

    /// As [`MfaRequirements::set`], but if the call has to wait (budget or a retry) the state
    /// is read again first and the write is withheld unless `still_wanted(current state)` — an
    /// administrator may have raised it meanwhile, and this write would lower it. `Ok(false)`:
    /// withheld.
    pub async fn set_unless_changed(
        &self,
        state: PerUserMfaState,
        still_wanted: impl Fn(PerUserMfaState) -> bool,
    ) -> Result<bool, GraphError> {
        let req = self.set_request(state)?;
        let still_wanted = &still_wanted;
        let recheck = move || async move { Ok(still_wanted(self.get().await?.per_user_mfa_state)) };
        Ok(self
            .client
            .send_unless_changed(&req, recheck)
            .await?
            .is_some())
    }

    fn set_request(&self, state: PerUserMfaState) -> Result<GraphRequest, GraphError> {
        if state == PerUserMfaState::UnknownFutureValue {
            return Err(GraphError::config(
                "cannot set perUserMfaState to unknownFutureValue",
            ));
        }
        self.client
            .request(
                Method::PATCH,
                ApiVersion::Beta,
                REQUIREMENTS,
                &["users", &self.user, "authentication", "requirements"],
            )
            .json(&StrongAuthenticationRequirements {
                per_user_mfa_state: state,
            })
    }
}
