//! Which tenant the CLI talks to: a real Entra tenant (`--tenant-id`, `--client-id`, the client
//! secret from `AUTOENROLL_CLIENT_SECRET` or a federated assertion file), or — by default — a
//! simulated one: graph-sim started in this process with the Contoso seed (or `--seed FILE`),
//! reached over HTTPS on loopback exactly as Graph would be.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context, bail};
use autoenroll_core::ids;
use autoenroll_graph::{Credential, FileAssertion, GraphClient, GraphConfig, QuotaShare, Secret};
use clap::Args;
use graph_sim::{Seed, Sim, SimOptions};

/// Environment variable holding the app registration's client secret (never a flag: command
/// lines end up in shell history and process listings).
pub const CLIENT_SECRET_ENV: &str = "AUTOENROLL_CLIENT_SECRET";

/// Where to connect.
#[derive(Debug, Clone, Default, Args)]
#[command(next_help_heading = "Tenant (default: a simulated Contoso tenant in this process)")]
pub struct TenantFlags {
    /// Directory (tenant) id of the Entra tenant. Without it, a simulated tenant is started in
    /// this process (nothing leaves the machine).
    #[arg(long, value_name = "GUID", requires = "client_id")]
    pub tenant_id: Option<String>,
    /// Application (client) id of the autoenroll app registration. The client secret is read
    /// from the AUTOENROLL_CLIENT_SECRET environment variable.
    #[arg(long, value_name = "GUID", requires = "tenant_id")]
    pub client_id: Option<String>,
    /// Use a federated credential instead of a client secret: a file holding the client
    /// assertion (a JWT; re-read whenever a token is needed).
    #[arg(long, value_name = "FILE", requires = "tenant_id")]
    pub client_assertion_file: Option<PathBuf>,
    /// Simulated tenant only: the seed file (graph-sim JSON) instead of the built-in Contoso
    /// tenant.
    #[arg(long, value_name = "FILE", conflicts_with = "tenant_id")]
    pub seed: Option<PathBuf>,
    /// Graph requests in flight at once (the pacer keeps the total under Graph's quota).
    #[arg(long, value_name = "N", default_value_t = 8)]
    pub concurrency: usize,
    /// Real tenant only: the fraction of the app registration's Graph quota (per app + tenant)
    /// this run may use, in (0, 1]. The default is what the deployed functions leave free
    /// (the template gives them 0.7 + 0.1 + 0.05); raise it when they are not deployed.
    #[arg(long, value_name = "FRACTION", default_value_t = DEFAULT_CLI_QUOTA_SHARE)]
    pub graph_quota_share: QuotaShare,
}

/// The CLI's default share of a real tenant's Graph quota: what the template's function shares
/// (enroll 0.7, reconcile 0.1, subscriptions 0.05) leave.
pub const DEFAULT_CLI_QUOTA_SHARE: QuotaShare = QuotaShare::percent(15);

/// A connection to a tenant. Call [`Connected::close`] when done (it stops a simulator).
pub struct Connected {
    pub graph: GraphClient,
    pub tenant_id: String,
    pub client_id: String,
    /// For report headers: which tenant this is.
    pub description: String,
    sim: Option<Sim>,
}

impl std::fmt::Debug for Connected {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Connected")
            .field("tenant_id", &self.tenant_id)
            .field("description", &self.description)
            .finish_non_exhaustive()
    }
}

impl Connected {
    /// The simulator behind this connection, when the tenant is simulated.
    pub fn simulator(&self) -> Option<&Sim> {
        self.sim.as_ref()
    }

    pub fn is_simulated(&self) -> bool {
        self.sim.is_some()
    }

    /// Stops the simulator, if any.
    pub async fn close(self) {
        if let Some(sim) = self.sim {
            sim.shutdown().await;
        }
    }
}

impl TenantFlags {
    pub async fn connect(&self) -> anyhow::Result<Connected> {
        match (&self.tenant_id, &self.client_id) {
            (Some(tenant), Some(client)) => self.connect_real(tenant, client),
            _ => {
                let seed = match &self.seed {
                    Some(path) => Seed::from_file(path)
                        .with_context(|| format!("--seed {}", path.display()))?,
                    None => Seed::contoso(),
                };
                let label = match &self.seed {
                    Some(path) => format!("seed {}", path.display()),
                    None => "built-in Contoso seed".to_owned(),
                };
                start_simulated(seed, &label, self.concurrency, SimOptions::default()).await
            }
        }
    }

    fn connect_real(&self, tenant: &str, client: &str) -> anyhow::Result<Connected> {
        let tenant_id = ids::canonical_guid(tenant.trim())
            .with_context(|| format!("--tenant-id: `{tenant}` is not a GUID"))?;
        let client_id = ids::canonical_guid(client.trim())
            .with_context(|| format!("--client-id: `{client}` is not a GUID"))?;
        let credential = match &self.client_assertion_file {
            Some(path) => {
                Credential::ClientAssertion(std::sync::Arc::new(FileAssertion(path.clone())))
            }
            None => {
                let secret = std::env::var(CLIENT_SECRET_ENV)
                    .ok()
                    .filter(|s| !s.trim().is_empty())
                    .with_context(|| {
                        format!(
                            "{CLIENT_SECRET_ENV} is not set: export the app's client secret \
                             (or use --client-assertion-file)"
                        )
                    })?;
                Credential::ClientSecret(Secret::new(secret))
            }
        };
        let config = GraphConfig::new(&tenant_id, &client_id, credential)
            .with_max_concurrency(self.concurrency.max(1))
            .with_quota_share(self.graph_quota_share)
            // Local/test-only overrides (ARCHITECTURE.md): a simulator standing in for Graph.
            .with_local_overrides_from_env()?;
        let description =
            if config.graph_base_url == autoenroll_graph::limits::DEFAULT_GRAPH_BASE_URL {
                format!("tenant {tenant_id}")
            } else {
                format!("tenant {tenant_id} at {}", config.graph_base_url)
            };
        let graph = GraphClient::new(config)?;
        Ok(Connected {
            graph,
            tenant_id,
            client_id,
            description,
            sim: None,
        })
    }
}

/// Starts graph-sim with `seed` in this process and connects to it as the seed's autoenroll app
/// (the app named "autoenroll", else the first app with a client secret).
pub async fn start_simulated(
    seed: Seed,
    label: &str,
    concurrency: usize,
    options: SimOptions,
) -> anyhow::Result<Connected> {
    let app = seed
        .apps
        .iter()
        .filter(|a| !a.secrets.is_empty())
        .find(|a| a.display_name.as_deref() == Some("autoenroll"))
        .or_else(|| seed.apps.iter().find(|a| !a.secrets.is_empty()))
        .cloned();
    let Some(app) = app else {
        bail!("the seed has no app with a client secret to sign in as");
    };
    let Some(secret) = app.secrets.first().cloned() else {
        bail!("the seed's app has no client secret");
    };
    let tenant_name = seed
        .tenant
        .display_name
        .clone()
        .unwrap_or_else(|| "simulated tenant".into());
    let sim = Sim::start(SimOptions { seed, ..options })
        .await
        .context("starting the Graph simulator")?;
    let tenant_id = sim.tenant_id();
    let config = GraphConfig::new(
        &tenant_id,
        &app.client_id,
        Credential::ClientSecret(Secret::new(secret)),
    )
    .with_graph_base_url(sim.base_url())
    .with_authority_host(sim.authority_host())
    .with_extra_root_ca_pem(sim.ca_cert_pem())
    .with_max_concurrency(concurrency.max(1))
    .with_request_timeout(Duration::from_secs(30));
    let graph = GraphClient::new(config)?;
    Ok(Connected {
        graph,
        tenant_id,
        client_id: app.client_id,
        description: format!(
            "simulated tenant \"{tenant_name}\" ({label}, graph-sim in this process)"
        ),
        sim: Some(sim),
    })
}
