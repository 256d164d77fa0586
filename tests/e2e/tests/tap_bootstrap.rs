//! The TAP bootstrap end to end (issue 15): the Graph simulator after the SMS/voice retirement
//! with no telecom provider, passes delivered through Amazon SES and SNS on moto (what was sent
//! is read back from moto's `GET /moto-api/data.json`), the simulated person redeeming the
//! pass and registering a passkey, and the follow-up seeing the lasting method.
//!
//! - new hire → TAP created → delivered once (manager e-mail) → redeemed → passkey →
//!   re-enrolled: the bootstrap is closed in the store and no second pass goes out;
//! - a user without a manager gets the pass by SMS to the directory mobile;
//! - delivery fails → the pass is deleted in Graph, the message is retried, and the retry
//!   delivers exactly one (new) pass;
//! - logs, audit records, the bootstrap store and the queue bodies hold no pass value.

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};

use async_trait::async_trait;
use autoenroll_aws::{config, delivery};
use autoenroll_core::bootstrap::{BootstrapStore, CloseReason};
use autoenroll_core::delivery::{
    Channel, DeliveryError, DeliveryReceipt, PassDelivery, PassNotice, Recipient,
};
use autoenroll_core::engine::{Bootstrap, Enroller, UserResult};
use autoenroll_core::failure::{Cause, Disposition};
use autoenroll_core::memory::{InMemoryAuditSink, InMemoryBootstrapStore, InMemoryMemoryStore};
use autoenroll_core::outcome::Outcome;
use autoenroll_core::plan::Action;
use autoenroll_core::policy::{BootstrapDelivery, BootstrapPolicy, Policy};
use autoenroll_core::ports::Trigger;
use autoenroll_e2e::QueueKind;
use autoenroll_e2e::logscan::{LogCapture, assert_no_secrets};
use autoenroll_graph::RetryConfig;
use graph_sim::{PasskeyFlavour, Registration, Seed, Sim, SimOptions};
use serde_json::{Value, json};
use time::macros::datetime;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// The Contoso tenant's id (seed).
const TENANT: &str = "8f2c6a51-3b7e-4d0a-9c1e-5a4b2d9e7f10";

fn moto_endpoint() -> String {
    match QueueKind::moto_from_env() {
        QueueKind::Moto { endpoint } => endpoint,
        QueueKind::InMemory => unreachable!("moto_from_env returns moto"),
    }
}

fn unique() -> String {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos()
        .to_string()
}

/// moto's record of what SES and SNS sent (`GET /moto-api/data.json`, loopback, HTTP/1.0).
async fn moto_data(endpoint: &str) -> Value {
    let host = endpoint.trim_start_matches("http://");
    let mut stream = tokio::net::TcpStream::connect(host).await.unwrap();
    let request = format!("GET /moto-api/data.json HTTP/1.0\r\nHost: {host}\r\n\r\n");
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).await.unwrap();
    let text = String::from_utf8_lossy(&raw);
    let body = text
        .split_once("\r\n\r\n")
        .map(|(_, b)| b)
        .unwrap_or_default();
    serde_json::from_str(body).unwrap()
}

/// Bodies of the e-mails sent from `sender` (unique to this test run).
async fn emails_from(endpoint: &str, sender: &str) -> Vec<String> {
    let data = moto_data(endpoint).await;
    data["ses"]["Message"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|m| m["source"].as_str().is_some_and(|s| s.contains(sender)))
        .filter_map(|m| m["body"].as_str().map(str::to_owned))
        .collect()
}

/// Texts of the SMS sent to `number` (E.164).
async fn sms_to(endpoint: &str, number: &str) -> Vec<String> {
    let data = moto_data(endpoint).await;
    data["sns"]["SMS"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|m| m["phone_number"].as_str() == Some(number))
        .filter_map(|m| m["message"].as_str().map(str::to_owned))
        .collect()
}

/// The pass in a message: the token after `marker`.
fn pass_in(message: &str, marker: &str) -> String {
    let rest = message
        .split_once(marker)
        .expect("the message names the pass")
        .1;
    rest.split_whitespace().next().unwrap().to_owned()
}

/// Fails the next `n` deliveries before sending (the service unreachable), then passes on.
struct FailFirst {
    inner: Arc<dyn PassDelivery>,
    left: AtomicU32,
    outcome_unknown: bool,
}

#[async_trait]
impl PassDelivery for FailFirst {
    async fn deliver(
        &self,
        recipient: &Recipient,
        notice: &PassNotice,
    ) -> Result<DeliveryReceipt, DeliveryError> {
        if self
            .left
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
            .is_ok()
        {
            return Err(DeliveryError::Transient {
                channel: recipient.channel(),
                detail: "injected: connection reset".into(),
                outcome_unknown: self.outcome_unknown,
            });
        }
        self.inner.deliver(recipient, notice).await
    }
}

struct World {
    sim: Sim,
    endpoint: String,
    sender: String,
    enroller: Enroller<InMemoryMemoryStore, InMemoryAuditSink>,
    store: Arc<InMemoryBootstrapStore>,
    audit: InMemoryAuditSink,
}

/// The simulator on 2027-03-01 (Microsoft-provided SMS/voice retired, no provider), SES and SNS
/// on moto, bootstrap by manager e-mail then SMS; the first `fail_first` deliveries fail.
async fn world(fail_first: u32) -> World {
    let sim = Sim::start(SimOptions {
        seed: Seed::contoso(),
        rng_seed: Some(15),
        ..Default::default()
    })
    .await
    .unwrap();
    sim.control()
        .advance_clock_to(datetime!(2027-03-01 08:00 UTC));
    let endpoint = moto_endpoint();
    let aws = config::for_moto(&endpoint).await;
    let sender = format!("it{}@autoenroll.example", unique());
    // SES sends only from a verified identity: verify it first (moto verifies at once).
    config::sesv2_client(&aws)
        .create_email_identity()
        .email_identity(&sender)
        .send()
        .await
        .expect("CreateEmailIdentity");
    let policy = Policy {
        default_region: Some("NL".parse().unwrap()),
        bootstrap: BootstrapPolicy {
            delivery: Some(BootstrapDelivery::ManagerEmailThenSms),
            email_from: Some(sender.clone()),
            ..BootstrapPolicy::default()
        },
        ..Policy::default()
    };
    let deliveries = delivery::deliveries_for(&policy, &aws).expect("bootstrap is on");
    let graph = autoenroll_e2e::graph_client(&sim, RetryConfig::default()).unwrap();
    let store = Arc::new(InMemoryBootstrapStore::new());
    let audit = InMemoryAuditSink::new();
    let control = sim.control().clone();
    let enroller = Enroller::new(
        graph,
        Arc::new(policy),
        TENANT,
        InMemoryMemoryStore::new(),
        audit.clone(),
    )
    .with_bootstrap(Bootstrap {
        delivery: Arc::new(FailFirst {
            inner: Arc::new(deliveries),
            left: AtomicU32::new(fail_first),
            outcome_unknown: true,
        }),
        store: store.clone(),
    })
    .with_clock(Arc::new(move || control.now()));
    World {
        sim,
        endpoint,
        sender,
        enroller,
        store,
        audit,
    }
}

impl World {
    /// A new hire created now: a Dutch mobile only HR knows, and `manager` (a UPN) if any.
    fn hire(&self, name: &str, mobile: &str, manager: Option<&str>) -> String {
        let id = self
            .sim
            .control()
            .create_user(json!({
                "userPrincipalName": format!("{name}@contoso.com"),
                "displayName": name,
                "mobilePhone": mobile,
                "accountEnabled": true,
                "userType": "Member",
            }))
            .unwrap();
        self.sim.control().set_manager(&id, manager).unwrap();
        id
    }

    async fn live_passes(&self, user: &str) -> usize {
        self.enroller
            .graph()
            .tap(user)
            .list()
            .await
            .unwrap()
            .into_iter()
            .filter(|t| t.is_usable != Some(false))
            .count()
    }

    /// Every place a pass must never be: audit records, the bootstrap store, the queue bodies
    /// that name these users.
    async fn records(&self, users: &[&str]) -> String {
        let mut out = String::new();
        for user in users {
            let audit: Vec<_> = self
                .audit
                .records()
                .into_iter()
                .filter(|r| r.user_id == *user)
                .collect();
            out.push_str(&format!("{audit:?}\n"));
            out.push_str(&format!(
                "{:?} {:?}\n",
                self.store.get(TENANT, user).await,
                self.store.last_closed(TENANT, user).await
            ));
            // What the reconcile follow-up queues for an open bootstrap (its real builder).
            if let Some(open) = self.store.get(TENANT, user).await.unwrap() {
                let request = autoenroll_reconcile::follow_up::follow_up_request(
                    &open,
                    self.sim.control().now(),
                );
                out.push_str(&serde_json::to_string(&request).unwrap());
            }
            out.push('\n');
        }
        out
    }
}

fn issued(outcome: &UserResult) -> bool {
    matches!(outcome, UserResult::Finished(Outcome::Done { actions, .. })
        if actions.iter().any(|a| matches!(a, Action::IssueTap { channel: Channel::ManagerEmail | Channel::MobileSms, .. })))
}

#[tokio::test]
async fn new_hire_after_the_retirement_gets_one_pass_redeems_it_and_the_bootstrap_closes() {
    let logs = LogCapture::new();
    let _guard = logs.install_thread("debug");
    let w = world(0).await;
    let hire = w.hire(
        "tap.e2e.hire",
        "+31 6 44440001",
        Some("megan.bowen@contoso.com"),
    );
    let trigger = Trigger::Notification {
        subscription_id: "s".into(),
        change_type: "updated".into(),
    };

    let report = w.enroller.enroll_user(&hire, &trigger).await;
    assert!(issued(&report.result), "{:?}", report.result);
    assert!(
        matches!(report.plan.as_ref().map(|p| p.actions()), Some(a) if a.iter().any(|a| matches!(a, Action::IssueTap { channel: Channel::ManagerEmail, .. }))),
        "the manager has mail: e-mail first"
    );
    assert_eq!(report.bootstrap_stages(), vec!["issued", "delivered"]);
    assert_eq!(w.live_passes(&hire).await, 1);
    let mails = emails_from(&w.endpoint, &w.sender).await;
    assert_eq!(mails.len(), 1, "one delivery per issued pass");
    let pass = pass_in(&mails[0], "Temporary Access Pass:");
    let open = w
        .store
        .get(TENANT, &hire)
        .await
        .unwrap()
        .expect("open bootstrap");
    assert!(open.delivered && open.issue_count == 1 && open.channel == Channel::ManagerEmail);

    // Enrolled again before the pass is used (another notification): pending, nothing new.
    let again = w.enroller.enroll_user(&hire, &trigger).await;
    assert!(!issued(&again.result), "{:?}", again.result);
    assert_eq!(emails_from(&w.endpoint, &w.sender).await.len(), 1);

    // The new hire redeems the pass and registers a passkey.
    w.sim
        .control()
        .sign_in_with_tap(
            &hire,
            &pass,
            Registration::Passkey {
                passkey: PasskeyFlavour::Authenticator,
            },
        )
        .expect("the delivered pass signs the user in");

    // The follow-up re-enrolls: a lasting method, the bootstrap is closed, no pass.
    let follow_up = Trigger::FollowUp {
        tap_method_id: open.tap_method_id.clone(),
    };
    let done = w.enroller.enroll_user(&hire, &follow_up).await;
    assert!(!issued(&done.result), "{:?}", done.result);
    assert!(done.bootstrap_stages().contains(&"closed"));
    assert_eq!(w.store.get(TENANT, &hire).await.unwrap(), None);
    assert_eq!(
        w.store
            .last_closed(TENANT, &hire)
            .await
            .unwrap()
            .map(|c| c.reason),
        Some(CloseReason::LastingMethod)
    );
    assert_eq!(emails_from(&w.endpoint, &w.sender).await.len(), 1);

    // Without a manager the pass goes by SMS to the directory mobile (SNS on moto).
    // Unique per run (moto keeps every SMS it was given): the last digits of the clock.
    let nanos = unique();
    let number = format!("+3164{}", &nanos[nanos.len() - 10..nanos.len() - 3]);
    let loner = w.hire("tap.e2e.loner", &number, None);
    let report = w.enroller.enroll_user(&loner, &trigger).await;
    assert!(issued(&report.result), "{:?}", report.result);
    let texts = sms_to(&w.endpoint, &number).await;
    assert_eq!(texts.len(), 1);
    let sms_pass = pass_in(&texts[0], "pass:");
    assert!(w.live_passes(&loner).await == 1 && sms_pass != pass);

    let records = w.records(&[&hire, &loner]).await;
    assert!(
        logs.text().contains("temporary access pass delivered"),
        "the scan reads the real log"
    );
    let text = format!("{}\n{records}", logs.text());
    assert_no_secrets(&text, &[&pass, &sms_pass]);
    w.sim.shutdown().await;
}

#[tokio::test]
async fn a_failed_delivery_deletes_the_pass_and_the_retry_delivers_exactly_one() {
    let logs = LogCapture::new();
    let _guard = logs.install_thread("debug");
    let w = world(1).await;
    let hire = w.hire(
        "tap.e2e.retry",
        "+31 6 44440002",
        Some("megan.bowen@contoso.com"),
    );

    let first = w.enroller.enroll_user(&hire, &Trigger::Reconcile).await;
    match &first.result {
        UserResult::Finished(Outcome::Failed {
            failure,
            failed: Some(Action::IssueTap { .. }),
            completed,
            ..
        }) => {
            assert!(matches!(failure.cause, Cause::Delivery { .. }), "{failure}");
            assert_eq!(failure.disposition(), Disposition::Retry);
            assert!(
                !completed.iter().any(|a| a.enables_mfa()),
                "no MFA before the pass is delivered"
            );
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(first.bootstrap_stages(), vec!["issued", "deliveryFailed"]);
    assert_eq!(w.live_passes(&hire).await, 0, "no orphan pass");
    assert!(emails_from(&w.endpoint, &w.sender).await.is_empty());

    // The message comes back: a new pass, delivered once.
    let retry = w.enroller.enroll_user(&hire, &Trigger::Reconcile).await;
    assert!(issued(&retry.result), "{:?}", retry.result);
    assert_eq!(w.live_passes(&hire).await, 1);
    let mails = emails_from(&w.endpoint, &w.sender).await;
    assert_eq!(mails.len(), 1, "delivered exactly once");
    let pass = pass_in(&mails[0], "Temporary Access Pass:");
    let open = w.store.get(TENANT, &hire).await.unwrap().unwrap();
    assert!(open.delivered);
    assert_eq!(
        open.issue_count, 1,
        "a pass nobody received is not a re-issue"
    );
    w.sim
        .control()
        .sign_in_with_tap(
            &hire,
            &pass,
            Registration::Passkey {
                passkey: PasskeyFlavour::Authenticator,
            },
        )
        .expect("the retried pass works");

    let records = w.records(&[&hire]).await;
    assert_no_secrets(&format!("{}\n{records}", logs.text()), &[&pass]);
    w.sim.shutdown().await;
}

/// The simulator after the retirement with the in-memory outbox as the delivery port and a
/// Graph client that gives up on a request after `timeout`.
async fn outbox_world(
    outbox: Arc<autoenroll_aws::outbox::Outbox>,
    timeout: std::time::Duration,
) -> (
    Sim,
    Enroller<InMemoryMemoryStore, InMemoryAuditSink>,
    String,
) {
    let sim = Sim::start(SimOptions {
        seed: Seed::contoso(),
        rng_seed: Some(16),
        ..Default::default()
    })
    .await
    .unwrap();
    sim.control()
        .advance_clock_to(datetime!(2027-03-01 08:00 UTC));
    let policy = Policy {
        default_region: Some("NL".parse().unwrap()),
        bootstrap: BootstrapPolicy {
            delivery: Some(BootstrapDelivery::MobileSms),
            ..BootstrapPolicy::default()
        },
        ..Policy::default()
    };
    let retry = RetryConfig {
        max_attempts: 1,
        ..RetryConfig::default()
    };
    let graph = autoenroll_e2e::graph_client_with_timeout(&sim, retry, timeout).unwrap();
    let control = sim.control().clone();
    let enroller = Enroller::new(
        graph,
        Arc::new(policy),
        TENANT,
        InMemoryMemoryStore::new(),
        InMemoryAuditSink::new(),
    )
    .with_bootstrap(Bootstrap {
        delivery: outbox,
        store: Arc::new(InMemoryBootstrapStore::new()),
    })
    .with_clock(Arc::new(move || control.now()));
    let user = sim
        .control()
        .create_user(json!({
            "userPrincipalName": "tap.e2e.outbox@contoso.com",
            "displayName": "Outbox Hire",
            "mobilePhone": "+31 6 44440003",
            "accountEnabled": true,
            "userType": "Member",
        }))
        .unwrap();
    (sim, enroller, user)
}

fn passkey() -> Registration {
    Registration::Passkey {
        passkey: PasskeyFlavour::Authenticator,
    }
}

#[tokio::test]
async fn a_delivery_with_an_unknown_outcome_kills_that_pass_and_the_retry_sends_a_new_one() {
    let outbox = Arc::new(autoenroll_aws::outbox::Outbox::new());
    let (sim, enroller, user) =
        outbox_world(outbox.clone(), std::time::Duration::from_secs(5)).await;
    // The SMS leaves, then the answer is lost.
    outbox.fail_next(autoenroll_aws::outbox::Injected::after_sending(
        DeliveryError::Transient {
            channel: Channel::MobileSms,
            detail: "answer lost".into(),
            outcome_unknown: true,
        },
    ));
    let first = enroller.enroll_user(&user, &Trigger::Reconcile).await;
    assert_eq!(first.disposition(), Some(Disposition::Retry));
    let sent = outbox.sent();
    assert_eq!(sent.len(), 1, "the message went out");
    let lost = sent[0].pass().expose().to_owned();
    assert!(
        enroller.graph().tap(&user).list().await.unwrap().is_empty(),
        "the pass that may have been sent is deleted"
    );
    assert!(
        sim.control()
            .sign_in_with_tap(&user, &lost, passkey())
            .is_err()
    );

    let retry = enroller.enroll_user(&user, &Trigger::Reconcile).await;
    assert!(issued(&retry.result), "{:?}", retry.result);
    let sent = outbox.sent();
    assert_eq!(sent.len(), 2, "one delivery per issued pass");
    let fresh = sent[1].pass().expose().to_owned();
    assert_ne!(fresh, lost, "a pass is never sent twice");
    sim.control()
        .sign_in_with_tap(&user, &fresh, passkey())
        .expect("the new pass works");
    sim.shutdown().await;
}

#[tokio::test]
async fn a_pass_created_whose_answer_was_lost_is_deleted_not_left_to_block_the_user() {
    let outbox = Arc::new(autoenroll_aws::outbox::Outbox::new());
    let (sim, enroller, user) =
        outbox_world(outbox.clone(), std::time::Duration::from_millis(300)).await;
    sim.control().add_fault(
        graph_sim::FaultRule::new(
            "POST /users/{user}/authentication/temporaryAccessPassMethods",
            graph_sim::FaultKind::Timeout {
                hold_ms: 1_000,
                apply_first: true,
            },
        )
        .times(1),
    );
    let first = enroller.enroll_user(&user, &Trigger::Reconcile).await;
    assert_eq!(
        first.disposition(),
        Some(Disposition::Retry),
        "{:?}",
        first.result
    );
    assert!(outbox.sent().is_empty());
    assert!(
        enroller.graph().tap(&user).list().await.unwrap().is_empty(),
        "the pass nobody saw is gone"
    );
    let retry = enroller.enroll_user(&user, &Trigger::Reconcile).await;
    assert!(issued(&retry.result), "{:?}", retry.result);
    assert_eq!(outbox.sent().len(), 1);
    sim.shutdown().await;
}
