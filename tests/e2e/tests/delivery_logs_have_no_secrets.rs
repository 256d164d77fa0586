//! The Temporary Access Pass leaves no trace (issue 15, item 3): deliveries through SES and
//! SNS on moto and through the in-memory outbox — successes, refusals, an unreachable
//! service, injected failures — with every crate (the AWS SDK included) logging at DEBUG.
//! Then the logs, every error's `Display` and `Debug`, every receipt and the outbox's
//! listings are scanned with `logscan::assert_no_secrets`: no pass, no phone number.

use autoenroll_aws::outbox::{Injected, Outbox};
use autoenroll_aws::ses::{SesDelivery, SesSettings};
use autoenroll_aws::sns::{SmsSettings, SnsSmsDelivery};
use autoenroll_aws::{config, delivery};
use autoenroll_core::delivery::{
    Channel, Deliveries, DeliveryError, DeliveryReceipt, PassDelivery, PassNotice, Recipient,
};
use autoenroll_core::phone::{NormalizedPhone, PhoneKind};
use autoenroll_core::policy::{BootstrapDelivery, BootstrapPolicy, Policy};
use autoenroll_e2e::QueueKind;
use autoenroll_e2e::logscan::{LogCapture, assert_no_secrets};
use autoenroll_graph::Secret;
use std::sync::Arc;

/// Graph's TAPs carry symbols; this one is unique to the test so a hit is ours.
const TAP: &str = "Lg9+Scan!Tq";

fn notice() -> PassNotice {
    PassNotice {
        display_name: Some("Jan de Vries".into()),
        user_principal_name: "jan.devries@contoso.com".into(),
        starts_at: time::macros::datetime!(2027-03-01 07:00 UTC),
        lifetime_minutes: 60,
        usable_once: true,
        pass: Secret::new(TAP),
    }
}

fn moto_endpoint() -> String {
    match QueueKind::moto_from_env() {
        QueueKind::Moto { endpoint } => endpoint,
        QueueKind::InMemory => unreachable!("moto_from_env returns moto"),
    }
}

fn unique(prefix: &str) -> String {
    format!(
        "{prefix}{}",
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos()
    )
}

/// Logs a failure as an operator's code would, and keeps what `Display`/`Debug` show.
fn record(shown: &mut Vec<String>, what: Result<DeliveryReceipt, DeliveryError>) {
    match what {
        Ok(receipt) => shown.push(format!("{receipt:?}")),
        Err(e) => {
            tracing::warn!(error = %e, code = e.code(), "delivery failed");
            shown.push(format!("{e} {e:?}"));
        }
    }
}

#[tokio::test]
async fn deliveries_logged_at_debug_show_no_pass_and_no_number() {
    let logs = LogCapture::new();
    let _guard = logs.install_thread("debug");
    // What else an operator could read: errors and receipts as they would be logged.
    let mut shown: Vec<String> = Vec::new();

    let aws = config::for_moto(&moto_endpoint()).await;
    let sender = format!("{}@autoenroll.example", unique("it"));
    config::sesv2_client(&aws)
        .create_email_identity()
        .email_identity(&sender)
        .send()
        .await
        .expect("CreateEmailIdentity");
    let policy = Policy {
        bootstrap: BootstrapPolicy {
            delivery: Some(BootstrapDelivery::ManagerEmailThenSms),
            email_from: Some(sender),
            sms_sender_id: Some("ContosoIT".into()),
            ..BootstrapPolicy::default()
        },
        ..Policy::default()
    };
    let deliveries = delivery::deliveries_for(&policy, &aws).expect("bootstrap is on");
    shown.push(format!("{deliveries:?}"));
    let n = notice();
    let manager = Recipient::manager_email("petra.bakker@contoso.com").unwrap();
    let mobile = Recipient::directory_mobile("06-21436587", Some("NL".parse().unwrap())).unwrap();
    record(&mut shown, deliveries.deliver(&manager, &n).await);
    record(&mut shown, deliveries.deliver(&mobile, &n).await);

    // Refused: an unverified sender; a number SNS does not take.
    let unverified = SesDelivery::new(
        config::sesv2_client(&aws),
        SesSettings {
            from: "nobody@unverified.example".into(),
            configuration_set: None,
        },
    );
    record(&mut shown, unverified.deliver(&manager, &n).await);
    let bogus = Recipient::Mobile(NormalizedPhone {
        graph: "+0 61234567890".into(),
        kind: PhoneKind::Mobile,
        region: None,
        extension: None,
    });
    let sns = SnsSmsDelivery::new(config::sns_client(&aws), SmsSettings::default());
    record(&mut shown, sns.deliver(&bogus, &n).await);

    // Unreachable: a closed loopback port.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let down = config::for_moto(&format!("http://127.0.0.1:{port}")).await;
    let offline = SnsSmsDelivery::new(config::sns_client(&down), SmsSettings::default());
    record(&mut shown, offline.deliver(&mobile, &n).await);

    // The outbox, with a failure after sending and a channel without an adapter.
    let outbox = Arc::new(Outbox::new());
    outbox.fail_next(Injected::after_sending(DeliveryError::Transient {
        channel: Channel::MobileSms,
        detail: "timeout".into(),
        outcome_unknown: true,
    }));
    let local = Deliveries {
        email: None,
        sms: Some(outbox.clone()),
    };
    record(&mut shown, local.deliver(&mobile, &n).await);
    record(&mut shown, local.deliver(&mobile, &n).await);
    record(&mut shown, local.deliver(&manager, &n).await);
    shown.push(format!("{outbox:?}"));
    shown.extend(outbox.listing());
    shown.push(format!("{n:?} {mobile:?} {manager:?} {policy:?}"));

    let text = logs.text();
    assert!(
        text.contains("temporary access pass"),
        "the deliveries were logged (else the scan proves nothing)"
    );
    assert!(
        text.lines().count() > 20,
        "the SDK's DEBUG lines were captured"
    );
    assert_no_secrets(&text, &[TAP]);
    assert_no_secrets(&shown.join("\n"), &[TAP]);
    // The message bodies did carry the pass (it was sent, not lost).
    assert_eq!(outbox.sent().len(), 2);
    assert!(outbox.sent()[1].body().expose().contains(TAP));
}
