//! Entra tokens through azure_identity, sent over the same reqwest client as the Graph calls.

use std::sync::Arc;

use async_trait::async_trait;
use azure_core::cloud::CustomConfiguration;
use azure_core::credentials::TokenCredential;
use azure_core::http::{
    ClientMethodOptions, ClientOptions, ExponentialRetryOptions, RetryOptions, Transport,
};
use azure_identity::{
    ClientAssertion, ClientAssertionCredential, ClientAssertionCredentialOptions,
    ClientSecretCredential, ClientSecretCredentialOptions,
};
use base64::Engine;

use crate::config::{ClientAssertionProvider, Credential, GraphConfig};
use crate::error::GraphError;

/// Builds the azure_identity credential for `config`, wired to `http` so token requests trust
/// the same roots (the simulator's CA) and reuse the same connection pool as Graph calls.
pub(crate) fn build_credential(
    config: &GraphConfig,
    http: reqwest::Client,
) -> Result<Arc<dyn TokenCredential>, GraphError> {
    let mut cloud = CustomConfiguration::default();
    cloud.authority_host = config.authority_host.clone();
    let client_options = ClientOptions {
        transport: Some(Transport::new(Arc::new(http))),
        cloud: Some(Arc::new(cloud.into())),
        // Token requests are rare (the credential caches the token and refreshes it five minutes
        // before expiry); a few quick retries cover a blip without holding a Lambda for a minute.
        retry: RetryOptions::exponential(ExponentialRetryOptions {
            initial_delay: azure_core::time::Duration::milliseconds(200),
            max_retries: 3,
            max_total_elapsed: azure_core::time::Duration::seconds(20),
            max_delay: azure_core::time::Duration::seconds(5),
        }),
        ..ClientOptions::default()
    };
    let credential: Arc<dyn TokenCredential> = match &config.credential {
        Credential::ClientSecret(secret) => ClientSecretCredential::new(
            &config.tenant_id,
            config.client_id.clone(),
            azure_core::credentials::Secret::new(secret.expose().to_owned()),
            Some(ClientSecretCredentialOptions { client_options }),
        )
        .map_err(|e| GraphError::config(format!("client secret credential: {e}")))?,
        Credential::ClientAssertion(provider) => ClientAssertionCredential::new(
            config.tenant_id.clone(),
            config.client_id.clone(),
            AssertionAdapter(provider.clone()),
            Some(ClientAssertionCredentialOptions { client_options }),
        )
        .map_err(|e| GraphError::config(format!("client assertion credential: {e}")))?,
    };
    Ok(credential)
}

/// Lets our [`ClientAssertionProvider`] serve azure_identity's [`ClientAssertion`].
#[derive(Debug)]
struct AssertionAdapter(Arc<dyn ClientAssertionProvider>);

#[async_trait]
impl ClientAssertion for AssertionAdapter {
    async fn secret(
        &self,
        _options: Option<ClientMethodOptions<'_>>,
    ) -> azure_core::Result<String> {
        self.0
            .assertion()
            .await
            .map(|s| s.expose().to_owned())
            .map_err(|e| {
                azure_core::Error::with_message(
                    azure_core::error::ErrorKind::Credential,
                    e.to_string(),
                )
            })
    }
}

/// The application roles (`roles` claim) of an access token, read without verifying it: for
/// `doctor` to say which permissions are granted. Empty when the token is not a readable JWT.
pub fn token_roles(access_token: &str) -> Vec<String> {
    #[derive(serde::Deserialize)]
    struct Claims {
        #[serde(default)]
        roles: Vec<String>,
    }
    access_token
        .split('.')
        .nth(1)
        .and_then(|payload| {
            base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(payload.trim_end_matches('='))
                .ok()
        })
        .and_then(|json| serde_json::from_slice::<Claims>(&json).ok())
        .map(|c| c.roles)
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_are_read_from_the_token_payload() {
        let payload = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .encode(br#"{"aud":"https://graph.microsoft.com","roles":["User.Read.All","UserAuthMethod-Phone.ReadWrite.All"]}"#);
        let token = format!("eyJhbGciOiJub25lIn0.{payload}.sig");
        assert_eq!(
            token_roles(&token),
            vec![
                "User.Read.All".to_string(),
                "UserAuthMethod-Phone.ReadWrite.All".to_string()
            ]
        );
        assert!(token_roles("not-a-jwt").is_empty());
    }
}
