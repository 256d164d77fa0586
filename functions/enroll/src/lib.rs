//! autoenroll-enroll

use autoenroll_core::policy;

/// The variables this function reads itself, besides the policy's.
const OWN_ENV_VARS: &[&str] = &[
    "AUTOENROLL_TENANT_ID",
    "AUTOENROLL_CLIENT_ID",
    "AUTOENROLL_CLIENT_SECRET_ARN",
    "AUTOENROLL_TABLE_NAME",
    "AUTOENROLL_GRAPH_MAX_CONCURRENCY",
];

/// Every environment variable this function reads, including the policy's
/// (`autoenroll_core::policy::ENV_VARS`); infra/template.yaml sets exactly these
/// (tests/e2e/tests/template_consistency.rs).
pub const ENV_VARS: &[&str] = &{
    let mut all = [""; OWN_ENV_VARS.len() + policy::ENV_VARS.len()];
    let mut i = 0;
    while i < OWN_ENV_VARS.len() {
        all[i] = OWN_ENV_VARS[i];
        i += 1;
    }
    let mut j = 0;
    while j < policy::ENV_VARS.len() {
        all[i + j] = policy::ENV_VARS[j];
        j += 1;
    }
    all
};
