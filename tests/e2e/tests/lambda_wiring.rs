//! The enroll and reconcile functions built exactly as their `main.rs` builds them — from
//! their environment variables alone — against moto (Secrets Manager, DynamoDB, SQS FIFO) and
//! the Graph simulator (through the local/test-only Graph overrides).

use std::time::{Duration, SystemTime};

use autoenroll_aws::dynamo::ensure_table;
use autoenroll_aws::poller;
use autoenroll_aws::runtime::Env;
use autoenroll_aws::sqs::SqsPoller;
use autoenroll_core::ports::{AuditOutcome, MemoryStore};
use autoenroll_e2e::contoso::{ADELE, BREAKGLASS};
use autoenroll_e2e::{APP, APP_SECRET, BREAKGLASS_UPN, QueueKind, TENANT};
use aws_sdk_sqs::types::QueueAttributeName;
use graph_sim::{Seed, Sim, SimOptions};

#[tokio::test]
async fn functions_built_from_their_environment_enroll_through_real_adapters() {
    let QueueKind::Moto { endpoint } = QueueKind::moto_from_env() else {
        unreachable!("moto_from_env returns Moto or panics")
    };
    let aws = autoenroll_aws::config::for_moto(&endpoint).await;
    let suffix = format!(
        "{}-{}",
        std::process::id(),
        SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .unwrap()
            .subsec_nanos()
    );
    let secret_arn = autoenroll_aws::config::secrets_client(&aws)
        .create_secret()
        .name(format!("e2e-client-secret-{suffix}"))
        .secret_string(APP_SECRET)
        .send()
        .await
        .unwrap()
        .arn()
        .unwrap()
        .to_owned();
    let table = format!("e2e-wiring-{suffix}");
    let dynamo = autoenroll_aws::config::dynamodb_client(&aws);
    ensure_table(&dynamo, &table).await.unwrap();
    let sqs = autoenroll_aws::config::sqs_client(&aws);
    let queue_url = sqs
        .create_queue()
        .queue_name(format!("e2e-wiring-{suffix}.fifo"))
        .attributes(QueueAttributeName::FifoQueue, "true")
        .send()
        .await
        .unwrap()
        .queue_url()
        .unwrap()
        .to_owned();

    let sim = Sim::start(SimOptions {
        seed: Seed::contoso(),
        ..Default::default()
    })
    .await
    .unwrap();
    let env = Env::from_pairs([
        ("AUTOENROLL_TENANT_ID", TENANT.to_owned()),
        ("AUTOENROLL_CLIENT_ID", APP.to_owned()),
        ("AUTOENROLL_CLIENT_SECRET_ARN", secret_arn),
        ("AUTOENROLL_QUEUE_URL", queue_url.clone()),
        ("AUTOENROLL_TABLE_NAME", table.clone()),
        ("AUTOENROLL_GRAPH_MAX_CONCURRENCY", "4".to_owned()),
        ("AUTOENROLL_POLICY_DEFAULT_REGION", "NL".to_owned()),
        ("AUTOENROLL_POLICY_MFA_MODE", "per-user-enabled".to_owned()),
        ("AUTOENROLL_POLICY_EXCLUDED_UPNS", BREAKGLASS_UPN.to_owned()),
        ("AUTOENROLL_GRAPH_BASE_URL", sim.base_url()),
        ("AUTOENROLL_AUTHORITY_HOST", sim.authority_host()),
        ("AUTOENROLL_EXTRA_CA_PEM", sim.ca_cert_pem()),
    ]);

    // Reconcile's first run: every user but the excluded one onto the SQS queue, the delta
    // link into DynamoDB.
    let reconcile = autoenroll_reconcile::from_env(&env, &aws).await.unwrap();
    let report = reconcile
        .handle(SystemTime::now() + Duration::from_secs(300))
        .await
        .unwrap();
    assert!(report.round_finished, "{report:?}");
    assert_eq!(report.enqueued, 20);

    // Enroll, fed by a poller on the same queue.
    let enroll = autoenroll_enroll::from_env(&env, &aws).await.unwrap();
    let source = SqsPoller::new(sqs, &queue_url).batch_size(5);
    let drained = poller::drain(&source, 100, |event| enroll.handle(event))
        .await
        .unwrap();
    assert_eq!(drained.deleted, 20, "{drained:?}");

    let adele = sim.control().user(ADELE).unwrap();
    assert_eq!(
        adele["authentication"]["phones"]["mobile"]["phoneNumber"],
        "+31 612345678"
    );
    assert_ne!(adele["authentication"]["perUserMfaState"], "disabled");
    let breakglass = sim.control().user(BREAKGLASS).unwrap();
    assert!(
        breakglass["authentication"]["phones"]
            .as_object()
            .unwrap()
            .is_empty()
    );
    // Memory and audit went to the table.
    let store = autoenroll_aws::dynamo::DynamoStore::new(dynamo, table);
    // Written ahead of the phone write, then confirmed.
    let memory = store.get(ADELE).await.unwrap().unwrap();
    assert_eq!(memory.version, 2);
    assert!(memory.pending.is_none());
    let trail = store.audit_trail(ADELE).await.unwrap();
    assert_eq!(trail.len(), 1);
    assert_eq!(trail[0].record.outcome, AuditOutcome::Done);
    sim.shutdown().await;
}
