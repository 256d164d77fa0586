//! `graph-sim`: run the simulator on its own.
//!
//! `cargo run -p graph-sim -- --listen 127.0.0.1:8443 --seed tests/graph-sim/seeds/contoso.json --ca-out /tmp/graph-sim-ca.pem`

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::Parser;
use graph_sim::{Seed, Sim, SimOptions};

#[derive(Debug, Parser)]
#[command(
    name = "graph-sim",
    about = "A stateful Microsoft Graph and Entra token endpoint simulator"
)]
struct Args {
    /// Address to listen on (loopback; port 0 picks a free one).
    #[arg(long, default_value = "127.0.0.1:0")]
    listen: SocketAddr,
    /// Seed file (JSON); default: the built-in Contoso tenant.
    #[arg(long)]
    seed: Option<PathBuf>,
    /// Serve plain HTTP instead of HTTPS.
    #[arg(long)]
    plain_http: bool,
    /// Write the CA certificate (PEM) clients must trust to this file.
    #[arg(long)]
    ca_out: Option<PathBuf>,
    /// Extra generated users.
    #[arg(long, default_value_t = 0)]
    synthetic_users: usize,
    /// Turn throttling off.
    #[arg(long)]
    no_throttle: bool,
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .init();
    match run(Args::parse()).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("graph-sim: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}

async fn run(args: Args) -> Result<(), Box<dyn std::error::Error>> {
    let seed = match &args.seed {
        Some(path) => Seed::from_file(path)?,
        None => Seed::contoso(),
    };
    let mut options = SimOptions {
        seed,
        synthetic_users: args.synthetic_users,
        plain_http: args.plain_http,
        listen: Some(args.listen),
        ..Default::default()
    };
    options.throttle.enabled = !args.no_throttle;
    let sim = Sim::start(options).await?;
    if let Some(path) = &args.ca_out {
        std::fs::write(path, sim.ca_cert_pem())?;
    }
    println!("graph-sim listening");
    println!("  base url:       {}", sim.base_url());
    println!("  graph:          {0}/v1.0  {0}/beta", sim.base_url());
    println!("  authority host: {}", sim.authority_host());
    println!("  tenant id:      {}", sim.tenant_id());
    println!("  admin api:      {}/_sim/state", sim.base_url());
    if let Some(path) = &args.ca_out {
        println!("  CA certificate: {}", path.display());
    }
    tokio::select! {
        r = sim.wait() => r?,
        _ = tokio::signal::ctrl_c() => {}
    }
    Ok(())
}
