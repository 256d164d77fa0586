//! The in-memory outbox: what it keeps, how it shows it (pass masked), injected failures.

use autoenroll_aws::outbox::{Injected, Outbox, PASS_MASK};
use autoenroll_core::delivery::{
    Channel, DeliveryDisposition, DeliveryError, PassDelivery, PassNotice, Recipient, Refusal,
};
use autoenroll_graph::Secret;

const TAP: &str = "Xq7+Rocks!";

fn notice(upn: &str) -> PassNotice {
    PassNotice {
        display_name: Some("Jan de Vries".into()),
        user_principal_name: upn.into(),
        starts_at: time::macros::datetime!(2027-03-01 07:00 UTC),
        lifetime_minutes: 60,
        usable_once: true,
        pass: Secret::new(TAP),
    }
}

fn mobile() -> Recipient {
    Recipient::directory_mobile("+31 6 1234 5678", None).unwrap()
}

#[tokio::test]
async fn keeps_each_message_and_shows_it_only_masked() {
    let outbox = Outbox::new();
    let mail = Recipient::manager_email("petra@contoso.com").unwrap();
    let r1 = outbox
        .deliver(&mail, &notice("jan@contoso.com"))
        .await
        .unwrap();
    let r2 = outbox
        .deliver(&mobile(), &notice("kim@contoso.com"))
        .await
        .unwrap();
    assert_eq!(
        (r1.channel, r2.channel),
        (Channel::ManagerEmail, Channel::MobileSms)
    );
    assert_ne!(r1.message_id, r2.message_id);
    assert_eq!(r2.recipient, "+31 6******78");

    let sent = outbox.sent();
    assert_eq!(sent.len(), 2);
    assert_eq!(sent[0].body().expose().matches(TAP).count(), 1);
    assert_eq!(sent[0].pass().expose(), TAP);
    assert!(sent[0].subject.as_deref().unwrap().contains("Jan de Vries"));
    assert!(sent[0].masked_body().contains(PASS_MASK));
    assert_eq!(outbox.sent_to_user("KIM@contoso.com").len(), 1);
    assert_eq!(outbox.sent_to_user("kim@contoso.com")[0].to(), &mobile());

    let shown = format!("{outbox:?} {sent:?} {}", outbox.listing().join("\n"));
    assert!(!shown.contains(TAP), "{shown}");
    assert!(
        !shown.contains("12345678") && !shown.contains("petra@"),
        "{shown}"
    );
    assert!(shown.contains(PASS_MASK) && shown.contains("p***@contoso.com"));
    assert_eq!(outbox.listing().len(), 2);
    assert!(outbox.listing().iter().all(|l| !l.contains('\n')));
}

#[tokio::test]
async fn injected_failures_fail_one_delivery_each_in_order() {
    let outbox = Outbox::new();
    let throttled = DeliveryError::Transient {
        channel: Channel::MobileSms,
        detail: "Throttled".into(),
        outcome_unknown: false,
    };
    let opted_out = DeliveryError::Refused {
        channel: Channel::MobileSms,
        reason: Refusal::OptedOut,
        detail: "OptedOut".into(),
    };
    outbox.fail_next(Injected::before_sending(throttled.clone()));
    outbox.fail_next(Injected::before_sending(opted_out));
    let n = notice("jan@contoso.com");
    let e1 = outbox.deliver(&mobile(), &n).await.unwrap_err();
    assert_eq!(e1, throttled);
    let e2 = outbox.deliver(&mobile(), &n).await.unwrap_err();
    assert_eq!(e2.disposition(), DeliveryDisposition::SkipUser);
    assert!(outbox.sent().is_empty(), "nothing went out");
    outbox.deliver(&mobile(), &n).await.unwrap();
    assert_eq!(outbox.sent().len(), 1);
    assert_eq!(outbox.attempts(), 3);
}

#[tokio::test]
async fn a_lost_answer_keeps_the_message_and_reports_an_unknown_outcome() {
    let outbox = Outbox::new();
    outbox.fail_next(Injected::after_sending(DeliveryError::Transient {
        channel: Channel::ManagerEmail,
        detail: "timeout".into(),
        outcome_unknown: true,
    }));
    let mail = Recipient::manager_email("petra@contoso.com").unwrap();
    let err = outbox
        .deliver(&mail, &notice("jan@contoso.com"))
        .await
        .unwrap_err();
    assert!(err.outcome_unknown() && err.is_retryable());
    assert_eq!(outbox.sent().len(), 1, "the message did go out");
}
