//! The end of a bootstrap whose passes all expired unused (the plan's `bootstrapExpired`):
//! the helpdesk is told (an SNS topic in AWS), then the bootstrap is closed as expired, so no
//! further pass is issued and the follow-up stops looking at the user.
//!
//! Told first, closed second: if the notification fails, the bootstrap stays open and due, and
//! the follow-up's next check tries again (at least once, never silently lost); a close that
//! fails after a notification that went out means the helpdesk may hear twice.

use crate::bootstrap::{BootstrapStore, CloseReason, ExpiredBootstrapNotice, HelpdeskNotifier};
use crate::plan::UserView;

pub(super) async fn bootstrap_expired(
    store: Option<&dyn BootstrapStore>,
    helpdesk: Option<&dyn HelpdeskNotifier>,
    view: &UserView,
) {
    let (Some(store), Some(open)) = (store, view.open_bootstrap.as_ref()) else {
        return;
    };
    if let Some(helpdesk) = helpdesk {
        let notice =
            ExpiredBootstrapNotice::for_bootstrap(open, view.user.user_principal_name.as_deref());
        if let Err(e) = helpdesk.bootstrap_expired(&notice).await {
            tracing::error!(
                user_id = %open.user_id,
                error = %e,
                disposition = e.disposition().as_str(),
                "helpdesk not told of an expired bootstrap; the follow-up tries again"
            );
            return;
        }
    }
    match store
        .close(
            &open.tenant_id,
            &open.user_id,
            CloseReason::Expired,
            view.now,
        )
        .await
    {
        Ok(()) => tracing::info!(
            user_id = %open.user_id,
            passes = open.issue_count,
            "bootstrap closed: every pass expired unused"
        ),
        Err(e) => tracing::warn!(user_id = %open.user_id, error = %e, "bootstrap not closed"),
    }
}
