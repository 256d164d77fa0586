//! Starting, serving over TLS, the seed, and stopping.

mod common;

use common::*;
use graph_sim::{Seed, SimOptions};

#[tokio::test]
async fn contoso_seed_parses_and_serves_a_user_over_tls() {
    let sim = start().await;
    assert!(sim.base_url().starts_with("https://127.0.0.1:"));
    assert_eq!(sim.authority_host(), format!("{}/", sim.base_url()));
    assert!(sim.ca_cert_pem().contains("BEGIN CERTIFICATE"));
    let graph = Graph::new(&sim).await;
    let (status, body) = graph.get(&format!("/v1.0/users/{ADELE}")).await;
    assert_eq!(status, 200);
    assert_eq!(body["mobilePhone"], "06-12345678");
    sim.shutdown().await;
}

#[tokio::test]
async fn a_client_without_the_ca_is_refused() {
    let sim = start().await;
    let plain = reqwest::Client::builder().build().unwrap();
    assert!(
        plain
            .get(format!("{}/v1.0/users", sim.base_url()))
            .send()
            .await
            .is_err()
    );
    sim.shutdown().await;
}

#[tokio::test]
async fn shutdown_closes_the_listener() {
    let sim = start().await;
    let addr = sim.addr();
    sim.shutdown().await;
    assert!(tokio::net::TcpStream::connect(addr).await.is_err());
}

#[tokio::test]
async fn plain_http_mode_serves_without_tls() {
    let sim = start_with(SimOptions {
        seed: Seed::contoso(),
        plain_http: true,
        ..Default::default()
    })
    .await;
    assert!(sim.base_url().starts_with("http://127.0.0.1:"));
    let graph = Graph::new(&sim).await;
    let (status, _) = graph.get(&format!("/v1.0/users/{ALEX}")).await;
    assert_eq!(status, 200);
    sim.shutdown().await;
}

#[tokio::test]
async fn synthetic_users_are_added_to_the_seed() {
    let sim = start_with(SimOptions {
        seed: Seed::contoso(),
        synthetic_users: 30,
        ..Default::default()
    })
    .await;
    let users = sim.control().dump()["users"].as_object().unwrap().len();
    assert_eq!(users, Seed::contoso().users.len() + 30);
    sim.shutdown().await;
}

#[test]
fn the_embedded_contoso_seed_is_valid() {
    let seed = Seed::from_json(include_str!("../seeds/contoso.json")).unwrap();
    assert!(seed.users.len() >= 20);
    assert_eq!(seed.tenant.id, TENANT);
}
