//! A user's authentication methods: the list of all of them, phone methods, Temporary Access Pass.

use http::Method;
use serde::Serialize;

use crate::client::{ApiVersion, GraphClient};
use crate::error::GraphError;
use crate::model::{
    AuthenticationMethod, PhoneMethod, PhoneType, TemporaryAccessPass, TemporaryAccessPassRequest,
};
use crate::retry::RetrySafety;

/// `graph.auth_methods(user)`.
#[derive(Debug, Clone)]
pub struct AuthMethods<'a> {
    client: &'a GraphClient,
    user: String,
}

/// `graph.phone_methods(user)`.
#[derive(Debug, Clone)]
pub struct PhoneMethods<'a> {
    client: &'a GraphClient,
    user: String,
}

/// `graph.tap(user)`.
#[derive(Debug, Clone)]
pub struct TemporaryAccessPasses<'a> {
    client: &'a GraphClient,
    user: String,
}

impl GraphClient {
    pub fn auth_methods(&self, user: &str) -> AuthMethods<'_> {
        AuthMethods {
            client: self,
            user: user.to_owned(),
        }
    }

    pub fn phone_methods(&self, user: &str) -> PhoneMethods<'_> {
        PhoneMethods {
            client: self,
            user: user.to_owned(),
        }
    }

    pub fn tap(&self, user: &str) -> TemporaryAccessPasses<'_> {
        TemporaryAccessPasses {
            client: self,
            user: user.to_owned(),
        }
    }
}

impl AuthMethods<'_> {
    /// `GET /v1.0/users/{id}/authentication/methods`: every registered method (password
    /// included), told apart by `@odata.type`.
    pub async fn list(&self) -> Result<Vec<AuthenticationMethod>, GraphError> {
        let req = self.client.request(
            Method::GET,
            ApiVersion::V1,
            "/users/{id}/authentication/methods",
            &["users", &self.user, "authentication", "methods"],
        );
        self.client.collect_all(req).await
    }
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct PhoneBody<'b> {
    phone_number: &'b str,
    phone_type: PhoneType,
}

fn method_id(phone_type: PhoneType) -> Result<&'static str, GraphError> {
    phone_type
        .method_id()
        .ok_or_else(|| GraphError::config("phone type has no known method id"))
}

/// Graph may re-space a number it stores; compare what identifies it: digits and extension.
fn same_number(a: &str, b: &str) -> bool {
    let key = |s: &str| {
        s.chars()
            .filter(|c| c.is_ascii_digit() || *c == 'x' || *c == 'X')
            .map(|c| c.to_ascii_lowercase())
            .collect::<String>()
    };
    key(a) == key(b)
}

impl PhoneMethods<'_> {
    /// `GET /v1.0/users/{id}/authentication/phoneMethods`.
    pub async fn list(&self) -> Result<Vec<PhoneMethod>, GraphError> {
        let req = self.client.request(
            Method::GET,
            ApiVersion::V1,
            "/users/{id}/authentication/phoneMethods",
            &["users", &self.user, "authentication", "phoneMethods"],
        );
        self.client.collect_all(req).await
    }

    /// `GET …/phoneMethods/{id}` for the fixed id of `phone_type`; `None` when the user has none.
    pub async fn get(&self, phone_type: PhoneType) -> Result<Option<PhoneMethod>, GraphError> {
        let req = self.client.request(
            Method::GET,
            ApiVersion::V1,
            "/users/{id}/authentication/phoneMethods/{methodId}",
            &[
                "users",
                &self.user,
                "authentication",
                "phoneMethods",
                method_id(phone_type)?,
            ],
        );
        match self.client.send_json(&req).await {
            Ok(method) => Ok(Some(method)),
            Err(e) if e.is_not_found() => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// `POST /v1.0/users/{id}/authentication/phoneMethods` `{phoneNumber, phoneType}` → 201.
    ///
    /// The number must already be in Graph's format, `+{cc} {number}[x{ext}]`. If an attempt
    /// fails in a way that may have landed (a 5xx, a timeout), the next attempt first re-reads
    /// the user's phone methods and returns the method if it is there with this number, so a
    /// retry never fails with "already exists" because of our own first attempt.
    pub async fn add(
        &self,
        phone_number: &str,
        phone_type: PhoneType,
    ) -> Result<PhoneMethod, GraphError> {
        method_id(phone_type)?;
        let req = self
            .client
            .request(
                Method::POST,
                ApiVersion::V1,
                "/users/{id}/authentication/phoneMethods",
                &["users", &self.user, "authentication", "phoneMethods"],
            )
            .safety(RetrySafety::Idempotent)
            .json(&PhoneBody {
                phone_number,
                phone_type,
            })?;
        self.client
            .run(&req, |attempt| {
                let req = &req;
                async move {
                    if attempt > 1 {
                        let landed = self.list().await?.into_iter().find(|m| {
                            m.phone_type == phone_type && same_number(&m.phone_number, phone_number)
                        });
                        if let Some(method) = landed {
                            tracing::info!(
                                attempt,
                                "phone method from an earlier attempt had landed"
                            );
                            return Ok(method);
                        }
                    }
                    self.client
                        .attempt_unconditional(req, attempt)
                        .await?
                        .json()
                }
            })
            .await
    }

    /// `PATCH …/phoneMethods/{id}` `{phoneNumber, phoneType}` → 204. The type cannot change
    /// (add the new type, delete the old one).
    pub async fn update(
        &self,
        phone_type: PhoneType,
        phone_number: &str,
    ) -> Result<(), GraphError> {
        let req = self
            .client
            .request(
                Method::PATCH,
                ApiVersion::V1,
                "/users/{id}/authentication/phoneMethods/{methodId}",
                &[
                    "users",
                    &self.user,
                    "authentication",
                    "phoneMethods",
                    method_id(phone_type)?,
                ],
            )
            .json(&PhoneBody {
                phone_number,
                phone_type,
            })?;
        self.client.send(&req).await.map(drop)
    }

    /// `DELETE …/phoneMethods/{id}` → 204. Graph refuses to delete a `mobile` while an
    /// `alternateMobile` exists, and the user's default method.
    pub async fn delete(&self, phone_type: PhoneType) -> Result<(), GraphError> {
        let req = self.client.request(
            Method::DELETE,
            ApiVersion::V1,
            "/users/{id}/authentication/phoneMethods/{methodId}",
            &[
                "users",
                &self.user,
                "authentication",
                "phoneMethods",
                method_id(phone_type)?,
            ],
        );
        self.client.send(&req).await.map(drop)
    }
}

impl TemporaryAccessPasses<'_> {
    /// `POST /v1.0/users/{id}/authentication/temporaryAccessPassMethods` → 201. The pass itself
    /// is in the response only (held as a [`crate::Secret`]); a user has at most one. Not
    /// repeated after a 5xx: a second pass would replace the first one the caller never saw.
    pub async fn create(
        &self,
        request: &TemporaryAccessPassRequest,
    ) -> Result<TemporaryAccessPass, GraphError> {
        let req = self
            .client
            .request(
                Method::POST,
                ApiVersion::V1,
                "/users/{id}/authentication/temporaryAccessPassMethods",
                &[
                    "users",
                    &self.user,
                    "authentication",
                    "temporaryAccessPassMethods",
                ],
            )
            .json(request)?;
        self.client.send_json(&req).await
    }

    /// `GET …/temporaryAccessPassMethods`: at most one pass; the value itself is `None`.
    pub async fn list(&self) -> Result<Vec<TemporaryAccessPass>, GraphError> {
        let req = self.client.request(
            Method::GET,
            ApiVersion::V1,
            "/users/{id}/authentication/temporaryAccessPassMethods",
            &[
                "users",
                &self.user,
                "authentication",
                "temporaryAccessPassMethods",
            ],
        );
        self.client.collect_all(req).await
    }

    /// `GET …/temporaryAccessPassMethods/{id}`; `None` when it is gone (deleted or replaced).
    pub async fn get(&self, id: &str) -> Result<Option<TemporaryAccessPass>, GraphError> {
        let req = self.client.request(
            Method::GET,
            ApiVersion::V1,
            "/users/{id}/authentication/temporaryAccessPassMethods/{methodId}",
            &[
                "users",
                &self.user,
                "authentication",
                "temporaryAccessPassMethods",
                id,
            ],
        );
        match self.client.send_json(&req).await {
            Ok(tap) => Ok(Some(tap)),
            Err(e) if e.is_not_found() => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// `DELETE …/temporaryAccessPassMethods/{id}` → 204.
    pub async fn delete(&self, id: &str) -> Result<(), GraphError> {
        let req = self.client.request(
            Method::DELETE,
            ApiVersion::V1,
            "/users/{id}/authentication/temporaryAccessPassMethods/{methodId}",
            &[
                "users",
                &self.user,
                "authentication",
                "temporaryAccessPassMethods",
                id,
            ],
        );
        self.client.send(&req).await.map(drop)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_match_whatever_the_spacing() {
        assert!(same_number("+31 612345678", "+31 6 12345678"));
        assert!(same_number("+1 2065550100x12", "+1 206 555 0100 X12"));
        assert!(!same_number("+31 612345678", "+31 612345679"));
        assert!(!same_number("+1 2065550100x12", "+1 2065550100"));
    }

    #[test]
    fn phone_body_is_what_graph_expects() {
        let body = serde_json::to_value(PhoneBody {
            phone_number: "+31 612345678",
            phone_type: PhoneType::AlternateMobile,
        })
        .unwrap();
        assert_eq!(
            body,
            serde_json::json!({"phoneNumber": "+31 612345678", "phoneType": "alternateMobile"})
        );
    }
}
