//! graph-sim: a stateful Microsoft Graph and Entra token endpoint simulator.
//!
//! ```no_run
//! # async fn demo() -> Result<(), graph_sim::SimError> {
//! let sim = graph_sim::Sim::start(graph_sim::SimOptions {
//!     seed: graph_sim::Seed::contoso(),
//!     ..Default::default()
//! })
//! .await?;
//! let graph = format!("{}/v1.0", sim.base_url());
//! let token_url = format!("{}{}/oauth2/v2.0/token", sim.authority_host(), sim.tenant_id());
//! let ca_pem = sim.ca_cert_pem();
//! # let _ = (graph, token_url, ca_pem);
//! sim.shutdown().await;
//! # Ok(()) }
//! ```
//!
//! Graph lives at `{base}/v1.0` and `{base}/beta`, the token endpoint at
//! `{base}/{tenant}/oauth2/v2.0/token`, the test controls at `{base}/_sim/` (no token needed).
//! See README.md for the seed format, the permission table and every place where Microsoft's
//! documentation is silent and the simulator had to choose.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use axum_server::accept::NoDelayAcceptor;
use axum_server::tls_rustls::RustlsAcceptor;
use parking_lot::Mutex;
use tokio::sync::watch;

mod auth;
mod batch;
mod clock;
mod conditional_access;
mod control;
mod delta;
mod error;
mod group_bind;
mod groups;
mod manager;
mod method_config;
mod method_kinds;
mod methods;
mod notify;
mod odata;
mod permissions;
mod person;
mod pipeline;
mod policy;
mod policy_api;
mod report_filter;
mod reports;
mod secure_score;
mod seed;
mod state;
mod sts;
mod subscriptions;
mod tap;
mod telephony;
mod throttle;
mod tls;
mod users;

pub use conditional_access::{AuthenticationStrengthSeed, REGISTER_SECURITY_INFO};
pub use control::{
    Control, Counters, FaultKind, FaultRule, LatencyRule, RouteCounters, TOKEN_ROUTE,
    TokenErrorCode,
};
pub use error::SimError;
pub use group_bind::MAX_BINDS as MAX_MEMBER_BINDS;
pub use method_kinds::{OtherMethodSeed, PasskeyFlavour};
pub use notify::{NotificationCounters, NotificationOptions};
pub use permissions::route_permissions;
pub use person::{Registration, SignInError};
pub use policy::{
    LegacyMfaSettings, MethodId, MethodsPolicySeed, OptOutSettings, RegistrationCampaign,
    RegistrationEnforcementSeed, SystemCredentialPreferences,
};
pub use reports::Licence;
pub use seed::{
    AppSeed, AuthenticationSeed, DirectoryRoleSeed, FederatedCredentialSeed, GroupSeed, PhoneSeed,
    Seed, TenantSeed, UserSeed, derived_id,
};
pub use state::{ChangeEvent, ChangeKind, method_ids};
pub use telephony::{ChannelDelivery, DeliveryReason, UserTelephony};
pub use throttle::{TenantSize, ThrottleOptions};

/// How to start a simulator.
#[derive(Debug, Clone, Default)]
pub struct SimOptions {
    pub seed: Seed,
    /// Extra generated users (`synthetic{n}@{domain}`) for benchmarks, on top of the seed's.
    pub synthetic_users: usize,
    /// Serve plain HTTP instead of HTTPS (CLI and benches; azure_identity needs HTTPS).
    pub plain_http: bool,
    /// Where to listen; default 127.0.0.1 on an ephemeral port.
    pub listen: Option<SocketAddr>,
    pub throttle: ThrottleOptions,
    /// Seed of the random generator behind fault rates, latency ranges and passes, so a chaos
    /// run can be repeated.
    pub rng_seed: Option<u64>,
    pub notifications: NotificationOptions,
    /// How long access tokens live (default an hour, as Entra's). Under 5 minutes, clients that
    /// refresh a token that close to expiry (azure_identity) ask for a new one on every call —
    /// how a test puts the token endpoint between two Graph calls of one piece of work.
    pub token_lifetime: Option<std::time::Duration>,
}

/// Shared state of one simulator, handed to every handler.
#[derive(Clone)]
pub(crate) struct AppState(Arc<Inner>);

pub(crate) struct Inner {
    pub tenant: state::TenantHandle,
    pub clock: clock::Clock,
    pub base_url: String,
    pub control: control::ControlState,
    pub throttle: throttle::Throttle,
    pub tokens: auth::TokenIssuer,
    pub notifications: NotificationOptions,
    /// The router itself, for `$batch` to dispatch its items through the same pipeline.
    /// Cleared at shutdown (it holds this state: a cycle).
    pub router: Mutex<Option<Router>>,
    pub shutdown: watch::Sender<bool>,
}

impl std::ops::Deref for AppState {
    type Target = Inner;
    fn deref(&self) -> &Inner {
        &self.0
    }
}

impl AppState {
    pub(crate) fn now(&self) -> time::OffsetDateTime {
        self.clock.now()
    }

    pub(crate) fn tenant_id(&self) -> String {
        self.tenant.with(|t| t.id.clone())
    }

    /// Resolves when the simulator shuts down (for background tasks).
    pub(crate) fn shutdown_signal(&self) -> impl Future<Output = ()> + Send + 'static {
        let mut rx = self.shutdown.subscribe();
        async move {
            let _ = rx.wait_for(|stopped| *stopped).await;
        }
    }
}

/// A running simulator. Stop it with [`Sim::shutdown`]; dropping it stops the server too.
pub struct Sim {
    state: AppState,
    ca_pem: String,
    addr: SocketAddr,
    handle: axum_server::Handle<SocketAddr>,
    task: Option<tokio::task::JoinHandle<std::io::Result<()>>>,
}

impl Sim {
    pub async fn start(options: SimOptions) -> Result<Sim, SimError> {
        let listen = options
            .listen
            .unwrap_or_else(|| SocketAddr::from(([127, 0, 0, 1], 0)));
        let listener = std::net::TcpListener::bind(listen).map_err(SimError::Bind)?;
        let addr = listener.local_addr().map_err(SimError::Bind)?;
        let scheme = if options.plain_http { "http" } else { "https" };
        let base_url = format!("{scheme}://{addr}");

        let clock = clock::Clock::default();
        let tenant = state::Tenant::from_seed(&options.seed, options.synthetic_users, clock.now())?;
        let user_count = tenant.users.len();
        let (shutdown, _) = watch::channel(false);
        let state = AppState(Arc::new(Inner {
            tenant: state::TenantHandle::new(tenant),
            clock,
            base_url,
            control: control::ControlState::new(options.rng_seed),
            throttle: throttle::Throttle::new(options.throttle.clone(), user_count),
            tokens: auth::TokenIssuer::new(options.token_lifetime),
            notifications: options.notifications.clone(),
            router: Mutex::new(None),
            shutdown,
        }));
        let router = build_router(state.clone());
        *state.router.lock() = Some(router.clone());

        let handle = axum_server::Handle::new();
        // TCP_NODELAY on every accepted connection. Without it a response written in two pieces
        // waits for the client's delayed ACK (40 ms on Linux) — a stall of this loopback
        // stand-in, not of Graph (whose latency is set explicitly with `latency`), that showed
        // up as 40 ms steps in the cold-start bench.
        let (task, ca_pem) = if options.plain_http {
            let server = axum_server::from_tcp(listener)
                .map_err(SimError::Bind)?
                .acceptor(NoDelayAcceptor::new())
                .handle(handle.clone());
            let task = tokio::spawn(server.serve(axum::ServiceExt::into_make_service(
                tower::util::MapRequest::new(router.clone(), rewrite_odata_key_segments),
            )));
            (task, String::new())
        } else {
            let material = tls::generate()?;
            let config = axum_server::tls_rustls::RustlsConfig::from_config(material.server_config);
            let acceptor = RustlsAcceptor::new(config).acceptor(NoDelayAcceptor::new());
            let server = axum_server::from_tcp(listener)
                .map_err(SimError::Bind)?
                .acceptor(acceptor)
                .handle(handle.clone());
            let task = tokio::spawn(server.serve(axum::ServiceExt::into_make_service(
                tower::util::MapRequest::new(router.clone(), rewrite_odata_key_segments),
            )));
            (task, material.ca_pem)
        };
        notify::start(&state);
        tracing::info!(%addr, users = user_count, "graph-sim listening");
        Ok(Sim {
            state,
            ca_pem,
            addr,
            handle,
            task: Some(task),
        })
    }

    /// `https://127.0.0.1:PORT` — Graph at `{base}/v1.0` and `{base}/beta`.
    pub fn base_url(&self) -> String {
        self.state.base_url.clone()
    }

    /// `https://127.0.0.1:PORT/` — the Entra authority host (token endpoint at
    /// `{authority}{tenant}/oauth2/v2.0/token`).
    pub fn authority_host(&self) -> String {
        format!("{}/", self.state.base_url)
    }

    /// PEM of the self-signed CA the server certificate chains to (empty with `plain_http`).
    pub fn ca_cert_pem(&self) -> String {
        self.ca_pem.clone()
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    pub fn tenant_id(&self) -> String {
        self.state.tenant_id()
    }

    /// The Rust twin of the `/_sim/` admin API.
    pub fn control(&self) -> Control {
        Control::new(self.state.clone())
    }

    /// Stops the server and every background task, and waits for the listener to close.
    pub async fn shutdown(mut self) {
        self.stop();
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }

    /// Runs until the server stops (the binary).
    pub async fn wait(mut self) -> std::io::Result<()> {
        match self.task.take() {
            Some(task) => task.await.unwrap_or_else(|e| Err(std::io::Error::other(e))),
            None => Ok(()),
        }
    }

    fn stop(&self) {
        let _ = self.state.shutdown.send(true);
        self.handle.shutdown();
        self.state.router.lock().take();
    }
}

impl Drop for Sim {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Graph addresses some resources by an alternate key inside the segment, e.g.
/// `directoryRoles(roleTemplateId='62e90394-…')/members`
/// (https://learn.microsoft.com/graph/api/directoryrole-list-members). axum's router matches
/// whole segments only, so the key is moved into a segment of its own
/// (`directoryRoles/roleTemplateId=62e90394-…/members`) before routing; the role handlers
/// resolve that form. Also used for `$batch` items.
pub(crate) fn rewrite_odata_key_segments<B>(mut req: http::Request<B>) -> http::Request<B> {
    const KEYED: &str = "directoryRoles(roleTemplateId=";
    let uri = req.uri().clone();
    let path = uri.path();
    let Some(start) = path.find(KEYED) else {
        return req;
    };
    let rest = &path[start + KEYED.len()..];
    let Some(close) = rest.find(')') else {
        return req;
    };
    let key = rest[..close].trim_matches('\'').replace("%27", "");
    let new_path = format!(
        "{}directoryRoles/roleTemplateId={}{}",
        &path[..start],
        key,
        &rest[close + 1..]
    );
    let new_pq = match uri.query() {
        Some(q) => format!("{new_path}?{q}"),
        None => new_path,
    };
    let mut parts = uri.into_parts();
    match new_pq.parse() {
        Ok(pq) => parts.path_and_query = Some(pq),
        Err(_) => return req,
    }
    if let Ok(new_uri) = http::Uri::from_parts(parts) {
        *req.uri_mut() = new_uri;
    }
    req
}

fn build_router(state: AppState) -> Router {
    let graph = Router::new()
        .merge(users::routes())
        .merge(methods::routes())
        .merge(tap::routes())
        .merge(manager::routes())
        .merge(policy_api::routes())
        .merge(groups::routes())
        .merge(reports::routes())
        .merge(conditional_access::routes())
        .merge(secure_score::routes())
        .merge(batch::routes())
        .merge(subscriptions::routes())
        .merge(delta::routes())
        .merge(notify::routes());
    let beta = graph.clone().merge(methods::beta_routes());
    let graph = Router::new()
        .nest("/v1.0", graph)
        .nest("/beta", beta)
        .fallback(pipeline::unknown_resource)
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            pipeline::graph_pipeline,
        ));
    let admin = control::admin_routes()
        .merge(subscriptions::admin_routes())
        .merge(delta::admin_routes())
        .merge(notify::admin_routes())
        .merge(manager::admin_routes())
        .merge(person::admin_routes());
    Router::new()
        .merge(graph)
        .route(
            "/{tenant}/oauth2/v2.0/token",
            axum::routing::post(auth::token),
        )
        .merge(sts::routes())
        .nest("/_sim", admin)
        .with_state(state)
}
