//! autoenroll-subscriptions

/// Every environment variable this function reads (ARCHITECTURE.md, "Environment variables");
/// infra/template.yaml sets exactly these (tests/e2e/tests/template_consistency.rs).
pub const ENV_VARS: &[&str] = &[
    "AUTOENROLL_TENANT_ID",
    "AUTOENROLL_CLIENT_ID",
    "AUTOENROLL_CLIENT_SECRET_ARN",
    "AUTOENROLL_CLIENT_STATE_SECRET_ARN",
    "AUTOENROLL_TABLE_NAME",
    "AUTOENROLL_NOTIFICATION_URL",
];
