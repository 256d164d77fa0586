//! Doctor's row for the registration report (`GET /reports/authenticationMethods/
//! userRegistrationDetails`): whether `autoenroll report` can read methods one page at a time
//! or falls back to one method read per user (coverage/registration.rs). Optional both ways:
//! without Entra ID P1/P2 or AuditLog.Read.All the report still runs, only slower.

use autoenroll_graph::GraphClient;
use futures::TryStreamExt;

use super::check;
use crate::doctor::{Check, Status};

const NAME: &str = "registration report";

/// One page of one row: enough to learn whether the tenant and the app may read it. Decided on
/// the error's status and Graph code, never its text.
pub async fn registration_report(graph: &GraphClient) -> Check {
    let pages = graph.reports().user_registration_details(&[], Some(1));
    futures::pin_mut!(pages);
    match pages.try_next().await {
        Ok(_) => check(
            NAME,
            Status::Ok,
            "readable: `autoenroll report` reads methods one page of 999 users at a time",
        ),
        Err(e) if e.is_premium_licence_required() => check(
            NAME,
            Status::Ok,
            "skipped: the tenant has no Entra ID P1/P2, so `autoenroll report` reads each \
             user's method list (one call per user, paced under the read quota)",
        ),
        Err(e) if e.is_forbidden() => check(
            NAME,
            Status::Ok,
            "skipped: grant AuditLog.Read.All (optional, read-only) so `autoenroll report` reads \
             methods one page of 999 users at a time instead of one call per user",
        ),
        Err(e) => check(
            NAME,
            Status::Warn,
            format!("could not be read: {}", crate::coverage::read::summary(&e)),
        ),
    }
}
