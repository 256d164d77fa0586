//! `GET /v1.0/security/secureScores?$top=1`: the tenant's latest Microsoft Secure Score and its
//! per-control breakdown (learn securescores-list). Needs SecurityEvents.Read.All (least) or
//! SecurityEvents.ReadWrite.All. Read only, for doctor's MFA-controls row — the figure
//! administrators quote when they justify enrolling everyone.

use http::Method;
use serde::{Deserialize, Serialize};

use crate::client::{ApiVersion, GraphClient, Page};
use crate::error::GraphError;

/// Controls that MFA for admins and for all users earn (Secure Score's control names).
pub const MFA_CONTROLS: &[&str] = &["AdminMFAV2", "MFARegistrationV2"];

/// One `controlScores` item. Graph documents only `controlCategory`, `controlName`,
/// `description` and `score` as typed properties; `scoreInPercentage` and
/// `implementationStatus` are open properties every observed payload carries, so optional.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ControlScore {
    pub control_name: String,
    #[serde(default)]
    pub control_category: Option<String>,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub score: Option<f64>,
    /// 0–100: the share of the control's points earned.
    #[serde(default)]
    pub score_in_percentage: Option<f64>,
    #[serde(default)]
    pub implementation_status: Option<String>,
}

impl ControlScore {
    /// Points the control would still add when fully implemented, derived from the earned
    /// points and their percentage. `None` when it cannot be derived (nothing earned yet: the
    /// control's maximum is only in `secureScoreControlProfiles`).
    pub fn remaining_points(&self) -> Option<f64> {
        let score = self.score?;
        let pct = self.score_in_percentage?;
        if pct >= 100.0 {
            return Some(0.0);
        }
        (pct > 0.0).then(|| score * (100.0 - pct) / pct)
    }
}

/// `microsoft.graph.secureScore`, trimmed to what doctor reads.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SecureScore {
    pub id: String,
    #[serde(default)]
    pub created_date_time: Option<String>,
    pub current_score: f64,
    pub max_score: f64,
    #[serde(default)]
    pub control_scores: Vec<ControlScore>,
}

impl SecureScore {
    pub fn control(&self, name: &str) -> Option<&ControlScore> {
        self.control_scores.iter().find(|c| c.control_name == name)
    }
}

/// `graph.secure_scores()`.
#[derive(Debug, Clone, Copy)]
pub struct SecureScores<'a> {
    client: &'a GraphClient,
}

impl GraphClient {
    pub fn secure_scores(&self) -> SecureScores<'_> {
        SecureScores { client: self }
    }
}

impl SecureScores<'_> {
    /// The latest score (Graph lists newest first, one per day); `None` for a tenant with no
    /// score yet.
    pub async fn latest(&self) -> Result<Option<SecureScore>, GraphError> {
        let mut req = self.client.request(
            Method::GET,
            ApiVersion::V1,
            "/security/secureScores",
            &["security", "secureScores"],
        );
        req.url.query_pairs_mut().append_pair("$top", "1");
        let page: Page<SecureScore> = self.client.send_json(&req).await?;
        Ok(page.value.into_iter().next())
    }
}
