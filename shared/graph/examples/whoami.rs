//! Who am I to Graph? Gets a token, prints the application permissions it carries, and reads
//! one user and their phone methods — the smallest complete use of `autoenroll-graph`.
//!
//! Against a real tenant:
//!
//! ```sh
//! AZURE_CLIENT_SECRET=… cargo run -p autoenroll-graph --example whoami -- TENANT_ID CLIENT_ID [USER]
//! ```
//!
//! Without arguments it starts the Graph simulator (tests/graph-sim, Contoso seed) in-process
//! and talks to that.

use autoenroll_graph::model::USER_SELECT;
use autoenroll_graph::{Credential, GraphClient, GraphConfig, Secret};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "autoenroll_graph=debug".into()),
        )
        .init();

    let args: Vec<String> = std::env::args().skip(1).collect();
    let (config, user, sim) = match args.as_slice() {
        [tenant, client, rest @ ..] => {
            let secret = std::env::var("AZURE_CLIENT_SECRET")
                .map_err(|_| "set AZURE_CLIENT_SECRET to the app registration's client secret")?;
            let config = GraphConfig::new(
                tenant,
                client,
                Credential::ClientSecret(Secret::new(secret)),
            )
            // AUTOENROLL_GRAPH_BASE_URL / _AUTHORITY_HOST / _EXTRA_CA_PEM, if set.
            .with_local_overrides_from_env()?;
            (config, rest.first().cloned(), None)
        }
        [] => {
            let sim = graph_sim::Sim::start(graph_sim::SimOptions {
                seed: graph_sim::Seed::contoso(),
                ..Default::default()
            })
            .await?;
            println!("simulator at {}", sim.base_url());
            let config = GraphConfig::new(
                sim.tenant_id(),
                "5d3e8b0f-6a2c-4f1e-8b7d-2c9a4e6f1b30",
                Credential::ClientSecret(Secret::new("sim-secret-autoenroll-Q8w~xV3pL9")),
            )
            .with_graph_base_url(sim.base_url())
            .with_authority_host(sim.authority_host())
            .with_extra_root_ca_pem(sim.ca_cert_pem());
            (
                config,
                Some("adele.vance@contoso.com".to_string()),
                Some(sim),
            )
        }
        _ => return Err("usage: whoami [TENANT_ID CLIENT_ID [USER]]".into()),
    };

    let graph = GraphClient::new(config)?;
    println!("granted application permissions:");
    for role in graph.granted_roles().await? {
        println!("  {role}");
    }
    if let Some(user) = user {
        let user = graph.users().get(&user, USER_SELECT).await?;
        println!(
            "{} ({}): mobilePhone {}",
            user.display_name.as_deref().unwrap_or("?"),
            user.id,
            if user.mobile_phone.as_deref().is_some_and(|m| !m.is_empty()) {
                "set"
            } else {
                "empty"
            }
        );
        for phone in graph.phone_methods(&user.id).list().await? {
            // Numbers are never printed in full.
            let digits: String = phone
                .phone_number
                .chars()
                .filter(char::is_ascii_digit)
                .collect();
            let tail = &digits[digits.len().saturating_sub(2)..];
            println!("  phone method {}: …{tail}", phone.phone_type.as_str());
        }
    }
    if let Some(sim) = sim {
        sim.shutdown().await;
    }
    Ok(())
}
