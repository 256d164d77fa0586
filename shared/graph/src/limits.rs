//! Numbers from Microsoft's documentation that this client is built around, each with its source.

use std::time::Duration;

/// Public-cloud Graph endpoint.
pub const DEFAULT_GRAPH_BASE_URL: &str = "https://graph.microsoft.com";

/// Public-cloud Entra authority host.
pub const DEFAULT_AUTHORITY_HOST: &str = "https://login.microsoftonline.com/";

/// Application permissions are requested through the resource's `.default` scope.
/// https://learn.microsoft.com/entra/identity-platform/v2-oauth2-client-creds-grant-flow
pub const GRAPH_DEFAULT_SCOPE: &str = "https://graph.microsoft.com/.default";

/// Identity and access writes: 3,000 per 2 min 30 s per app + tenant.
/// MGDC concepts/throttling-limits.md, "Identity and access service limits".
pub const WRITES_PER_WINDOW: u32 = 3_000;
pub const WRITE_WINDOW: Duration = Duration::from_secs(150);

/// Identity and access resource units per 10 s per app + tenant, by tenant size.
/// MGDC concepts/throttling-limits.md: S (< 50 users) 3,500; M (50–500) 5,000; L (> 500) 8,000.
pub const RESOURCE_UNITS_SMALL: u32 = 3_500;
pub const RESOURCE_UNITS_MEDIUM: u32 = 5_000;
pub const RESOURCE_UNITS_LARGE: u32 = 8_000;
pub const RESOURCE_UNIT_WINDOW: Duration = Duration::from_secs(10);

/// A `$batch` carries at most 20 requests. MGDC concepts/json-batching.md.
pub const BATCH_MAX_REQUESTS: usize = 20;

/// Longest lifetime of a subscription on `/users` (41,760 minutes, just under 29 days).
/// MGDC concepts/includes/change-notifications-subscription-lifetime.md.
pub const USER_SUBSCRIPTION_MAX_MINUTES: u32 = 41_760;

/// `checkMemberGroups` accepts at most 20 group ids per call.
/// https://learn.microsoft.com/graph/api/directoryobject-checkmembergroups
pub const CHECK_MEMBER_GROUPS_MAX_IDS: usize = 20;
