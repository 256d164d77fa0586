//! The SES v2 and SNS SMS delivery adapters against moto (./test.sh starts it). What was sent
//! is read back from moto's model dump (`GET /moto-api/data.json`: SES `Message`, SNS `SMS`),
//! filtered by the message id the adapter returned, so tests sharing one moto do not see each
//! other's messages.

mod common;

use std::sync::{Arc, Mutex};

use autoenroll_aws::config;
use autoenroll_aws::ses::{SesDelivery, SesSettings};
use autoenroll_aws::sns::{SmsSettings, SnsSmsDelivery};
use autoenroll_core::delivery::{
    Channel, DeliveryDisposition, DeliveryError, PassDelivery, PassNotice, Recipient, Refusal,
};
use autoenroll_core::phone::{NormalizedPhone, PhoneKind};
use autoenroll_graph::Secret;
use aws_sdk_sns::config::interceptors::BeforeTransmitInterceptorContextRef;
use aws_sdk_sns::config::{ConfigBag, Intercept, RuntimeComponents};
use common::{moto_config, moto_endpoint, unique};
use serde_json::Value;

/// Symbols as in Graph's examples (`+drkzqAD`, `TAPRocks!`), and unique per test.
fn tap() -> Secret {
    Secret::new(format!("Tq+{}!", &unique("p")[2..12]))
}

fn notice(pass: &Secret) -> PassNotice {
    PassNotice {
        display_name: Some("Jan de Vries".into()),
        user_principal_name: "jan.devries@contoso.com".into(),
        starts_at: time::macros::datetime!(2027-03-01 07:00 UTC),
        lifetime_minutes: 480,
        usable_once: true,
        pass: pass.clone(),
    }
}

/// moto's dump of `service`'s `model` instances.
async fn moto_models(service: &str, model: &str) -> Vec<Value> {
    let url = format!("{}/moto-api/data.json", moto_endpoint());
    let dump: Value = reqwest::get(&url)
        .await
        .expect("moto reachable")
        .json()
        .await
        .expect("moto data.json is JSON");
    dump[service][model].as_array().cloned().unwrap_or_default()
}

async fn verified_sender() -> (aws_sdk_sesv2::Client, String) {
    let ses = config::sesv2_client(&moto_config().await);
    let sender = format!("{}@autoenroll.example", unique("it"));
    ses.create_email_identity()
        .email_identity(&sender)
        .send()
        .await
        .expect("CreateEmailIdentity");
    (ses, sender)
}

#[tokio::test]
async fn ses_sends_the_manager_email_from_the_verified_sender() {
    let (ses, sender) = verified_sender().await;
    let configuration_set = unique("cs");
    ses.create_configuration_set()
        .configuration_set_name(&configuration_set)
        .send()
        .await
        .expect("CreateConfigurationSet");
    let manager = format!("{}@contoso.example", unique("petra"));
    let pass = tap();
    let delivery = SesDelivery::new(
        ses,
        SesSettings {
            from: format!("Contoso IT <{sender}>"),
            configuration_set: Some(configuration_set),
        },
    );
    let recipient = Recipient::manager_email(&manager).unwrap();
    let receipt = delivery.deliver(&recipient, &notice(&pass)).await.unwrap();
    assert_eq!(receipt.channel, Channel::ManagerEmail);
    assert!(!receipt.message_id.is_empty());
    assert_eq!(receipt.recipient, format!("p***@{}", "contoso.example"));

    let messages = moto_models("ses", "Message").await;
    let sent: Vec<&Value> = messages
        .iter()
        .filter(|m| m["id"] == receipt.message_id.as_str())
        .collect();
    assert_eq!(sent.len(), 1, "exactly one message with our id");
    let m = sent[0];
    assert_eq!(m["source"], format!("Contoso IT <{sender}>").as_str());
    assert_eq!(
        m["destinations"]["ToAddresses"],
        serde_json::json!([manager])
    );
    let subject = m["subject"].as_str().unwrap();
    assert!(
        subject.contains("Jan de Vries (jan.devries@contoso.com)"),
        "{subject}"
    );
    assert!(!subject.contains(pass.expose()));
    let body = m["body"].as_str().unwrap();
    assert_eq!(
        body.matches(pass.expose()).count(),
        1,
        "the pass exactly once"
    );
    for needle in [
        "Jan de Vries (jan.devries@contoso.com)",
        "Valid from:  2027-03-01 07:00 UTC",
        "8 hours (until 2027-03-01 15:00 UTC)",
        "one sign-in only",
        "https://aka.ms/mysecurityinfo",
        "\"Passkey\"",
    ] {
        assert!(body.contains(needle), "missing {needle:?}");
    }
}

#[tokio::test]
async fn ses_refuses_an_unverified_sender_with_a_typed_permanent_error() {
    let ses = config::sesv2_client(&moto_config().await);
    let pass = tap();
    let delivery = SesDelivery::new(
        ses,
        SesSettings {
            from: format!("{}@unverified.example", unique("it")),
            configuration_set: None,
        },
    );
    let manager = format!("{}@contoso.example", unique("petra"));
    let err = delivery
        .deliver(&Recipient::manager_email(&manager).unwrap(), &notice(&pass))
        .await
        .unwrap_err();
    assert!(
        matches!(
            &err,
            DeliveryError::Refused {
                channel: Channel::ManagerEmail,
                reason: Refusal::NotVerified,
                ..
            }
        ),
        "{err:?}"
    );
    assert_eq!(err.disposition(), DeliveryDisposition::SkipUser);
    for shown in [err.to_string(), format!("{err:?}")] {
        assert!(
            !shown.contains(pass.expose()) && !shown.contains(&manager),
            "{shown}"
        );
    }
}

/// Keeps the body of each request the client sends (the form-encoded SNS query).
#[derive(Debug, Clone, Default)]
struct Bodies(Arc<Mutex<Vec<String>>>);

impl Intercept for Bodies {
    fn name(&self) -> &'static str {
        "Bodies"
    }

    fn read_before_transmit(
        &self,
        context: &BeforeTransmitInterceptorContextRef<'_>,
        _components: &RuntimeComponents,
        _cfg: &mut ConfigBag,
    ) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
        let body = context.request().body().bytes().unwrap_or_default();
        self.0
            .lock()
            .unwrap()
            .push(String::from_utf8_lossy(body).into_owned());
        Ok(())
    }
}

fn form_value(body: &str, key: &str) -> Option<String> {
    form_pairs(body)
        .into_iter()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v)
}

fn form_pairs(body: &str) -> Vec<(String, String)> {
    serde_urlencoded::from_str(body).expect("a form-encoded query body")
}

#[tokio::test]
async fn sns_publishes_a_transactional_sms_to_the_directory_number() {
    let aws = moto_config().await;
    let bodies = Bodies::default();
    let client = aws_sdk_sns::Client::from_conf(
        aws_sdk_sns::config::Builder::from(&aws)
            .interceptor(bodies.clone())
            .build(),
    );
    let delivery = SnsSmsDelivery::new(
        client,
        SmsSettings {
            sender_id: Some("ContosoIT".into()),
            origination_number: None,
        },
    );
    let pass = tap();
    let recipient =
        Recipient::directory_mobile("06-12345678", Some("NL".parse().unwrap())).unwrap();
    let receipt = delivery.deliver(&recipient, &notice(&pass)).await.unwrap();
    assert_eq!(receipt.channel, Channel::MobileSms);
    assert_eq!(receipt.recipient, "+31 6******78");

    let sms = moto_models("sns", "SMS").await;
    let sent: Vec<&Value> = sms
        .iter()
        .filter(|m| m["message_id"] == receipt.message_id.as_str())
        .collect();
    assert_eq!(sent.len(), 1, "exactly one SMS with our id");
    assert_eq!(sent[0]["phone_number"], "+31612345678");
    let text = sent[0]["message"].as_str().unwrap();
    assert_eq!(text.matches(pass.expose()).count(), 1);
    assert!(text.contains("jan.devries@contoso.com") && text.contains("aka.ms/mysecurityinfo"));
    assert_eq!(autoenroll_core::delivery::message::sms_segments(text), 1);

    // moto does not keep message attributes for SMS: read them from the request itself.
    let bodies = bodies.0.lock().unwrap().clone();
    assert_eq!(bodies.len(), 1);
    let pairs = form_pairs(&bodies[0]);
    let attribute = |name: &str| {
        let n = pairs
            .iter()
            .find(|(k, v)| k.ends_with(".Name") && v == name)
            .map(|(k, _)| k.trim_end_matches(".Name").to_owned())?;
        form_value(&bodies[0], &format!("{n}.Value.StringValue"))
    };
    assert_eq!(
        attribute("AWS.SNS.SMS.SMSType").as_deref(),
        Some("Transactional")
    );
    assert_eq!(
        attribute("AWS.SNS.SMS.SenderID").as_deref(),
        Some("ContosoIT")
    );
    assert_eq!(attribute("AWS.MM.SMS.OriginationNumber"), None);
}

#[tokio::test]
async fn sns_refusing_the_number_is_a_typed_refusal_without_the_number_in_it() {
    let delivery = SnsSmsDelivery::new(
        config::sns_client(&moto_config().await),
        SmsSettings::default(),
    );
    // Not E.164 (country code 0): what a corrupted directory value could become; moto
    // answers InvalidParameter as SNS does.
    let recipient = Recipient::Mobile(NormalizedPhone {
        graph: "+0 61234567890".into(),
        kind: PhoneKind::Mobile,
        region: None,
        extension: None,
    });
    let pass = tap();
    let err = delivery
        .deliver(&recipient, &notice(&pass))
        .await
        .unwrap_err();
    assert!(
        matches!(
            &err,
            DeliveryError::Refused {
                reason: Refusal::InvalidRecipient,
                ..
            }
        ),
        "{err:?}"
    );
    assert_eq!(err.disposition(), DeliveryDisposition::SkipUser);
    let shown = format!("{err} {err:?}");
    assert!(
        !shown.contains("1234567890") && !shown.contains(pass.expose()),
        "{shown}"
    );
}

#[tokio::test]
async fn an_unreachable_service_is_retryable_with_an_unknown_outcome() {
    // A port nobody listens on: bound, then closed before the call.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let aws = config::for_moto(&format!("http://127.0.0.1:{port}")).await;
    let pass = tap();
    let ses = SesDelivery::new(
        config::sesv2_client(&aws),
        SesSettings {
            from: "it@contoso.example".into(),
            configuration_set: None,
        },
    );
    let err = ses
        .deliver(
            &Recipient::manager_email("petra@contoso.example").unwrap(),
            &notice(&pass),
        )
        .await
        .unwrap_err();
    assert_eq!(err.disposition(), DeliveryDisposition::Retry, "{err:?}");
    assert!(err.outcome_unknown());
    let sns = SnsSmsDelivery::new(config::sns_client(&aws), SmsSettings::default());
    let err = sns
        .deliver(
            &Recipient::directory_mobile("+31612345678", None).unwrap(),
            &notice(&pass),
        )
        .await
        .unwrap_err();
    assert!(err.is_retryable(), "{err:?}");
    assert!(!format!("{err} {err:?}").contains("12345678"));
}
