use super::message::{
    SECURITY_INFO_URL, compose, compose_email, compose_sms, format_lifetime, sms_segments,
};
use super::*;
use time::macros::datetime;

const TAP: &str = "TAPRocks!";

fn notice() -> PassNotice {
    PassNotice {
        display_name: Some("Jan de Vries".into()),
        user_principal_name: "jan.devries@contoso.com".into(),
        starts_at: datetime!(2027-03-01 07:00 UTC),
        lifetime_minutes: 480,
        usable_once: true,
        pass: Secret::new(TAP),
    }
}

fn nl() -> Option<RegionCode> {
    Some("NL".parse().unwrap())
}

#[test]
fn email_names_the_user_validity_steps_and_holds_the_pass_once() {
    let m = compose_email(&notice());
    let subject = m.subject.clone().unwrap();
    let body = m.body.expose();
    assert!(
        subject.contains("Jan de Vries (jan.devries@contoso.com)"),
        "{subject}"
    );
    assert!(!subject.contains(TAP));
    assert_eq!(body.matches(TAP).count(), 1, "{body}");
    for needle in [
        "Jan de Vries (jan.devries@contoso.com)",
        "Valid from:  2027-03-01 07:00 UTC",
        "8 hours (until 2027-03-01 15:00 UTC)",
        "one sign-in only",
        SECURITY_INFO_URL,
        "sign in as jan.devries@contoso.com",
        "\"Passkey\"",
        "within 10 minutes",
    ] {
        assert!(body.contains(needle), "missing {needle:?} in\n{body}");
    }
}

#[test]
fn multi_use_email_says_so_and_has_no_ten_minute_note() {
    let n = PassNotice {
        usable_once: false,
        ..notice()
    };
    let body = compose_email(&n).body.expose().to_owned();
    assert!(body.contains("any number of sign-ins until it expires"));
    assert!(!body.contains("10 minutes"));
}

#[test]
fn email_without_display_name_uses_the_upn() {
    let n = PassNotice {
        display_name: Some("  ".into()),
        ..notice()
    };
    let m = compose_email(&n);
    assert!(
        m.subject
            .unwrap()
            .ends_with("member jan.devries@contoso.com")
    );
    assert!(m.body.expose().contains("How the new user signs in"));
}

#[test]
fn sms_is_one_segment_names_the_user_and_holds_the_pass_once() {
    let m = compose_sms(&notice());
    let body = m.body.expose();
    assert_eq!(m.subject, None);
    assert_eq!(
        sms_segments(body),
        1,
        "{} chars: {body}",
        body.chars().count()
    );
    assert_eq!(body.matches(TAP).count(), 1);
    for needle in [
        "jan.devries@contoso.com",
        "2027-03-01 07:00 UTC",
        "8 hours",
        "one use",
        "aka.ms/mysecurityinfo",
        "passkey",
    ] {
        assert!(body.contains(needle), "missing {needle:?} in {body}");
    }
}

#[test]
fn sms_drops_wording_before_it_spills_into_a_second_segment() {
    let n = PassNotice {
        display_name: Some("Maximiliane Alexandra von Hohenzollern-Sigmaringen".into()),
        user_principal_name: "maximiliane.vonhohenzollern@subsidiary.contoso.com".into(),
        ..notice()
    };
    let body = compose_sms(&n).body.expose().to_owned();
    assert_eq!(sms_segments(&body), 1, "{body}");
    assert!(body.contains(&n.user_principal_name));
    assert_eq!(body.matches(TAP).count(), 1);
}

#[test]
fn sms_that_cannot_fit_still_carries_everything() {
    let n = PassNotice {
        user_principal_name: format!("{}@contoso.com", "a".repeat(120)),
        ..notice()
    };
    let body = compose_sms(&n).body.expose().to_owned();
    assert!(sms_segments(&body) > 1);
    assert!(body.contains(TAP) && body.contains("aka.ms/mysecurityinfo"));
}

#[test]
fn segments_follow_gsm7_and_ucs2_limits() {
    assert_eq!(sms_segments(&"a".repeat(160)), 1);
    assert_eq!(sms_segments(&"a".repeat(161)), 2);
    assert_eq!(sms_segments(&"a".repeat(306)), 2);
    assert_eq!(sms_segments(&"a".repeat(307)), 3);
    // Extension characters take two septets.
    assert_eq!(sms_segments(&"{".repeat(80)), 1);
    assert_eq!(sms_segments(&"{".repeat(81)), 2);
    // One character outside GSM-7 makes the whole text UCS-2.
    assert_eq!(sms_segments(&format!("ë{}", "a".repeat(69))), 1);
    assert_eq!(sms_segments(&format!("ë{}", "a".repeat(70))), 2);
    assert_eq!(sms_segments("Zoë"), 1);
}

#[test]
fn lifetimes_read_naturally() {
    assert_eq!(format_lifetime(10), "10 minutes");
    assert_eq!(format_lifetime(60), "1 hour");
    assert_eq!(format_lifetime(90), "1 hour 30 minutes");
    assert_eq!(format_lifetime(480), "8 hours");
    assert_eq!(format_lifetime(1440), "1 day");
    assert_eq!(format_lifetime(43_200), "30 days");
    assert_eq!(format_lifetime(1500), "25 hours");
}

#[test]
fn compose_picks_the_channel_form() {
    assert!(compose(Channel::ManagerEmail, &notice()).subject.is_some());
    assert!(compose(Channel::MobileSms, &notice()).subject.is_none());
}

#[test]
fn debug_output_never_shows_the_pass_or_the_recipient() {
    let n = notice();
    let sms = Recipient::directory_mobile("06-12345678", nl()).unwrap();
    let mail = Recipient::manager_email("petra.bakker@contoso.com").unwrap();
    let shown = format!(
        "{n:?} {:?} {:?} {sms:?} {mail:?}",
        compose_email(&n),
        compose_sms(&n)
    );
    assert!(!shown.contains(TAP), "{shown}");
    assert!(
        !shown.contains("12345678") && !shown.contains("petra.bakker"),
        "{shown}"
    );
    assert!(shown.contains("+31 6******78") && shown.contains("p***@contoso.com"));
}

#[test]
fn directory_mobile_is_normalised_and_must_take_sms() {
    let r = Recipient::directory_mobile("06-12345678", nl()).unwrap();
    assert_eq!(r.channel(), Channel::MobileSms);
    assert_eq!(r.e164().as_deref(), Some("+31612345678"));
    assert_eq!(r.email(), None);
    assert_eq!(
        Recipient::directory_mobile("020-1234567", nl()),
        Err(RecipientProblem::MobileNotSmsCapable)
    );
    assert_eq!(
        Recipient::directory_mobile("06-12345678", None)
            .unwrap_err()
            .code(),
        "mobileNumberInvalid"
    );
}

#[test]
fn manager_mail_must_be_one_plain_address() {
    assert!(Recipient::manager_email(" petra@contoso.com ").is_ok());
    for bad in [
        "petra",
        "petra@contoso",
        "a@b.com, c@d.com",
        "Petra <petra@contoso.com>",
        "pé@contoso.com",
    ] {
        assert_eq!(
            Recipient::manager_email(bad),
            Err(RecipientProblem::ManagerMailInvalid),
            "{bad}"
        );
    }
}

#[test]
fn recipient_choice_follows_the_channel_order_and_reports_each_problem() {
    let both = Contacts {
        manager_mail: Some(Some("petra@contoso.com")),
        mobile_phone: Some("+31 6 1234 5678"),
        default_region: nl(),
    };
    let r = choose_recipient(BootstrapDelivery::ManagerEmailThenSms, &both).unwrap();
    assert_eq!(r.channel(), Channel::ManagerEmail);
    let r = choose_recipient(BootstrapDelivery::MobileSms, &both).unwrap();
    assert_eq!(r.channel(), Channel::MobileSms);

    let no_mail = Contacts {
        manager_mail: Some(None),
        ..both
    };
    let r = choose_recipient(BootstrapDelivery::ManagerEmailThenSms, &no_mail).unwrap();
    assert_eq!(r.e164().as_deref(), Some("+31612345678"));
    assert_eq!(
        choose_recipient(BootstrapDelivery::ManagerEmail, &no_mail),
        Err(vec![RecipientProblem::ManagerWithoutMail])
    );

    let nobody = Contacts {
        manager_mail: None,
        mobile_phone: Some("n/a"),
        default_region: nl(),
    };
    let problems = choose_recipient(BootstrapDelivery::ManagerEmailThenSms, &nobody).unwrap_err();
    let codes: Vec<_> = problems.iter().map(RecipientProblem::code).collect();
    assert_eq!(codes, ["noManager", "mobileNumberInvalid"]);
    let no_mobile = Contacts {
        mobile_phone: Some("  "),
        ..nobody
    };
    assert_eq!(
        choose_recipient(BootstrapDelivery::MobileSms, &no_mobile),
        Err(vec![RecipientProblem::NoMobile])
    );
}

#[test]
fn redact_removes_the_pass_the_recipient_and_stray_numbers() {
    let n = notice();
    let r = Recipient::directory_mobile("+31 6 1234 5678", None).unwrap();
    let text = format!(
        "Invalid parameter: PhoneNumber +31612345678 (+31 612345678), body {TAP}, \
         other 06 1234 5678, request 2 of 3"
    );
    let out = redact(&text, &n, &r);
    assert!(!out.contains(TAP), "{out}");
    assert!(
        !out.contains("12345678") && !out.contains("1234 5678"),
        "{out}"
    );
    assert!(out.contains("+31 6******78"), "{out}");
    assert!(out.contains("request 2 of 3"), "{out}");
    let mail = Recipient::manager_email("petra@contoso.com").unwrap();
    assert_eq!(
        redact("Address petra@contoso.com rejected", &n, &mail),
        "Address p***@contoso.com rejected"
    );
}

#[test]
fn error_dispositions_and_codes() {
    let transient = DeliveryError::Transient {
        channel: Channel::MobileSms,
        detail: "Throttling (HTTP 400)".into(),
        outcome_unknown: false,
    };
    assert_eq!(transient.disposition(), DeliveryDisposition::Retry);
    assert!(transient.is_retryable() && !transient.outcome_unknown());
    let refused = DeliveryError::Refused {
        channel: Channel::ManagerEmail,
        reason: Refusal::NotVerified,
        detail: "MessageRejected".into(),
    };
    assert_eq!(refused.disposition(), DeliveryDisposition::SkipUser);
    assert_eq!(refused.code(), "deliveryNotVerified");
    assert_eq!(refused.channel(), Channel::ManagerEmail);
    let systemic = DeliveryError::Systemic {
        channel: Channel::ManagerEmail,
        detail: "AccessDenied".into(),
    };
    assert_eq!(systemic.disposition(), DeliveryDisposition::Systemic);
    assert!(!systemic.is_retryable());
    assert!(
        refused
            .to_string()
            .starts_with("manager-email delivery refused")
    );
}

/// Records what reached it, so the router's choice is visible.
struct Counting(parking_lot::Mutex<Vec<Channel>>);

#[async_trait]
impl PassDelivery for Counting {
    async fn deliver(
        &self,
        recipient: &Recipient,
        _notice: &PassNotice,
    ) -> Result<DeliveryReceipt, DeliveryError> {
        self.0.lock().push(recipient.channel());
        Ok(DeliveryReceipt {
            channel: recipient.channel(),
            message_id: "1".into(),
            recipient: recipient.masked(),
        })
    }
}

#[tokio::test]
async fn the_router_sends_each_channel_to_its_adapter_and_refuses_a_missing_one() {
    let sms = Arc::new(Counting(parking_lot::Mutex::new(Vec::new())));
    let router = Deliveries {
        email: None,
        sms: Some(sms.clone()),
    };
    let mobile = Recipient::directory_mobile("+31612345678", None).unwrap();
    let receipt = router.deliver(&mobile, &notice()).await.unwrap();
    assert_eq!(receipt.recipient, "+31 6******78");
    let mail = Recipient::manager_email("petra@contoso.com").unwrap();
    let err = router.deliver(&mail, &notice()).await.unwrap_err();
    assert_eq!(err.disposition(), DeliveryDisposition::Systemic);
    assert_eq!(*sms.0.lock(), [Channel::MobileSms]);
    assert_eq!(
        format!("{router:?}"),
        "Deliveries { email: false, sms: true }"
    );
}
