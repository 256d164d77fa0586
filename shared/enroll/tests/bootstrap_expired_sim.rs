//! A bootstrap whose passes all expired unused (issue 15, item 4), on graph-sim after the
//! SMS/voice retirement: the enroll run the follow-up queues reports `bootstrapExpired`, tells
//! the helpdesk once, and closes the bootstrap as expired — no further pass, no second notice.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use autoenroll_core::bootstrap::{BootstrapStore, CloseReason, InMemoryHelpdesk, OpenBootstrap};
use autoenroll_core::delivery::{
    Channel, DeliveryError, DeliveryReceipt, PassDelivery, PassNotice, Recipient,
};
use autoenroll_core::engine::{Bootstrap, Enroller, UserResult};
use autoenroll_core::memory::{InMemoryAuditSink, InMemoryBootstrapStore, InMemoryMemoryStore};
use autoenroll_core::outcome::Outcome;
use autoenroll_core::plan::SkipReason;
use autoenroll_core::policy::{BootstrapDelivery, BootstrapPolicy, Policy};
use autoenroll_core::ports::Trigger;
use autoenroll_graph::{Credential, GraphClient, GraphConfig, PacingConfig, RetryConfig, Secret};
use graph_sim::{Seed, Sim, SimOptions};
use serde_json::json;
use time::macros::datetime;

const APP: &str = "5d3e8b0f-6a2c-4f1e-8b7d-2c9a4e6f1b30";
const APP_SECRET: &str = "sim-secret-autoenroll-Q8w~xV3pL9";

/// A delivery that must not be used: the test fails if a pass is sent.
struct NoDelivery;

#[async_trait]
impl PassDelivery for NoDelivery {
    async fn deliver(
        &self,
        _recipient: &Recipient,
        _notice: &PassNotice,
    ) -> Result<DeliveryReceipt, DeliveryError> {
        Err(DeliveryError::Systemic {
            channel: Channel::MobileSms,
            detail: "no pass may be sent after the last one expired".into(),
        })
    }
}

fn graph(sim: &Sim) -> GraphClient {
    let config = GraphConfig::new(
        sim.tenant_id(),
        APP,
        Credential::ClientSecret(Secret::new(APP_SECRET)),
    )
    .with_graph_base_url(sim.base_url())
    .with_authority_host(sim.authority_host())
    .with_extra_root_ca_pem(sim.ca_cert_pem())
    .with_pacing(PacingConfig {
        enabled: false,
        ..PacingConfig::default()
    })
    .with_retry(RetryConfig {
        max_attempts: 3,
        min_delay: Duration::from_millis(20),
        max_delay: Duration::from_millis(200),
        max_total_wait: Duration::from_secs(10),
    });
    GraphClient::new(config).unwrap()
}

#[tokio::test]
async fn the_last_expired_pass_tells_the_helpdesk_once_and_closes_the_bootstrap() {
    let sim = Sim::start(SimOptions {
        seed: Seed::contoso(),
        rng_seed: Some(15),
        ..Default::default()
    })
    .await
    .unwrap();
    let control = sim.control();
    control.advance_clock_to(datetime!(2027-03-01 08:00 UTC));
    let id = control
        .create_user(json!({
            "userPrincipalName": "late.hire@contoso.com",
            "displayName": "Late Hire",
            "mobilePhone": "+31 612345678",
            "accountEnabled": true,
            "userType": "Member",
        }))
        .unwrap();
    let tenant = sim.tenant_id().to_ascii_lowercase();
    let policy = Policy {
        default_region: Some("NL".parse().unwrap()),
        bootstrap: BootstrapPolicy {
            delivery: Some(BootstrapDelivery::MobileSms),
            ..BootstrapPolicy::default()
        },
        ..Policy::default()
    };
    let reissues = policy.bootstrap.tap.reissues;
    let store = Arc::new(InMemoryBootstrapStore::new());
    // The third pass (two re-issues: the default) was delivered and ran out yesterday.
    let now = control.now();
    let last = OpenBootstrap {
        tenant_id: tenant.clone(),
        user_id: id.clone(),
        tap_method_id: "expired-pass".into(),
        issued_at: now - time::Duration::days(1),
        valid_from: now - time::Duration::days(1),
        valid_until: now - time::Duration::hours(16),
        issue_count: reissues + 1,
        channel: Channel::MobileSms,
        delivered: true,
    };
    store.put(&last, None).await.unwrap();
    let helpdesk = InMemoryHelpdesk::new();
    let audit = InMemoryAuditSink::new();
    let clock = control.clone();
    let enroller = Enroller::new(
        graph(&sim),
        Arc::new(policy),
        tenant.clone(),
        InMemoryMemoryStore::new(),
        audit.clone(),
    )
    .with_bootstrap(Bootstrap {
        delivery: Arc::new(NoDelivery),
        store: store.clone(),
    })
    .with_helpdesk(Arc::new(helpdesk.clone()))
    .with_clock(Arc::new(move || clock.now()));

    let trigger = Trigger::FollowUp {
        tap_method_id: "expired-pass".into(),
    };
    for _ in 0..2 {
        let report = enroller.enroll_user(&id, &trigger).await;
        assert!(
            matches!(
                &report.result,
                UserResult::Finished(Outcome::Skipped(SkipReason::BootstrapExpired))
            ),
            "{:?}",
            report.result
        );
    }
    let notices = helpdesk.notices();
    assert_eq!(notices.len(), 1, "told once: {notices:?}");
    assert_eq!(
        notices[0].user_principal_name.as_deref(),
        Some("late.hire@contoso.com")
    );
    assert_eq!(notices[0].passes_issued, reissues + 1);
    assert_eq!(store.get(&tenant, &id).await.unwrap(), None);
    let closed = store.last_closed(&tenant, &id).await.unwrap().unwrap();
    assert_eq!(closed.reason, CloseReason::Expired);
    assert!(
        audit
            .records()
            .iter()
            .all(|r| r.reasons.iter().any(|x| x == "bootstrapExpired")),
        "{:?}",
        audit.records()
    );
    assert!(control.user(&id).unwrap()["authentication"]["tap"].is_null());
    sim.shutdown().await;
}
