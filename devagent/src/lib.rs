//! devagent: a single-node, in-memory agent that speaks Consul's HTTP API and
//! DNS interface, so that Consul clients (the Go `api` package, py-consul,
//! node-consul, consul-template, `dcy`) work against it unchanged. It is the
//! embedded default of the toolkit's demo and tests and a drop-in for
//! `consul agent -dev`; production runs real Consul.
//!
//! ```no_run
//! # async fn demo() -> Result<(), devagent::StartError> {
//! let agent = devagent::Agent::builder()
//!     .http_port(0)
//!     .dns_port(0)
//!     .start()
//!     .await?;
//! println!("Consul API at {}", agent.http_url());
//! agent.shutdown().await;
//! # Ok(())
//! # }
//! ```
#![warn(missing_docs)]

mod acl;
mod checks;
pub mod config;
mod decode;
pub mod dns;
mod error;
mod extra;
mod filter;
mod http;
pub mod limits;
pub mod logs;
mod mesh;
mod metrics;
mod state;
mod types;

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use tokio::net::{TcpListener, UdpSocket};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

pub use acl::{AclConfig, AclTokens, DefaultPolicy, Secret};
pub use config::{AgentConfig, ConfigBuilder, CONSUL_VERSION};
pub use dns::DnsConfig;
pub use error::ApiError;
pub use limits::Limits;

use crate::checks::CheckRunner;
use crate::metrics::Metrics;
use crate::state::{Store, StoreConfig};

/// Facts about the running agent that the API reports.
#[derive(Debug)]
pub(crate) struct AgentInfo {
    pub(crate) node_name: String,
    pub(crate) node_id: String,
    pub(crate) datacenter: String,
    pub(crate) version: String,
    pub(crate) revision: String,
    pub(crate) build_date: String,
    pub(crate) http_addr: SocketAddr,
    pub(crate) dns_addr: SocketAddr,
    pub(crate) advertise_addr: IpAddr,
    pub(crate) data_dir: String,
    pub(crate) recursors: Vec<String>,
}

/// Why the agent could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// A listener could not be bound.
    #[error("binding {what} on {addr}: {source} (is another agent running? pick another port or use port 0)")]
    Bind {
        /// `HTTP`, `DNS (UDP)` or `DNS (TCP)`.
        what: &'static str,
        /// The address.
        addr: SocketAddr,
        /// The cause.
        source: std::io::Error,
    },
    /// The configuration is invalid.
    #[error("invalid configuration: {0}")]
    Config(String),
}

/// A devagent, configured and ready to start.
#[derive(Debug, Clone, Default)]
pub struct Agent {
    config: AgentConfig,
}

/// Builds an [`Agent`]; every setting has Consul's dev-mode default.
#[derive(Debug, Clone, Default)]
pub struct AgentBuilder {
    config: AgentConfig,
}

impl AgentBuilder {
    /// HTTP API port (0 picks a free one).
    pub fn http_port(mut self, port: u16) -> Self {
        self.config.http_addr.set_port(port);
        self
    }

    /// DNS port (0 picks a free one).
    pub fn dns_port(mut self, port: u16) -> Self {
        let ip = self.config.http_addr.ip();
        self.config.dns_addr = Some(self.config.dns_addr.map_or(
            SocketAddr::new(ip, port),
            |mut a| {
                a.set_port(port);
                a
            },
        ));
        self
    }

    /// Turns the DNS server off.
    pub fn without_dns(mut self) -> Self {
        self.config.dns_addr = None;
        self
    }

    /// Node name.
    pub fn node_name(mut self, name: impl Into<String>) -> Self {
        self.config.node_name = name.into();
        self
    }

    /// Datacenter.
    pub fn datacenter(mut self, dc: impl Into<String>) -> Self {
        self.config.datacenter = dc.into();
        self
    }

    /// The ACL system's settings (`acl { ... }`).
    pub fn acl(mut self, acl: AclConfig) -> Self {
        self.config.acl = acl;
        self
    }

    /// ACLs on with `default_policy = "deny"` and this management token
    /// (`acl.tokens.initial_management`): what a test that wants "nothing
    /// without a token" needs. An empty token is no token.
    pub fn initial_management(mut self, token: impl Into<String>) -> Self {
        let token = token.into();
        self.config.acl.enabled = true;
        self.config.acl.default_policy = DefaultPolicy::Deny;
        self.config.acl.tokens.initial_management = (!token.is_empty()).then(|| Secret::new(token));
        self
    }

    /// Shortest interval of active checks (Consul raises anything below 1s to 1s).
    pub fn min_check_interval(mut self, d: Duration) -> Self {
        self.config.min_check_interval = d;
        self
    }

    /// Shortest `DeregisterCriticalServiceAfter` (Consul raises anything below 1m to 1m).
    pub fn min_deregister_after(mut self, d: Duration) -> Self {
        self.config.min_deregister_after = d;
        self
    }

    /// Where `/v1/agent/monitor` reads the process's logs from (see
    /// [`logs::LogHub::layer`]); without one it streams the agent's own lines.
    pub fn log_hub(mut self, hub: logs::LogHub) -> Self {
        self.config.log_hub = Some(hub);
        self
    }

    /// `enable_script_checks`: script checks registered over the API run.
    pub fn enable_script_checks(mut self, on: bool) -> Self {
        self.config.enable_script_checks = on;
        self
    }

    /// Connection, size and time limits (Consul's `limits` block).
    pub fn limits(mut self, limits: Limits) -> Self {
        self.config.limits = limits;
        self
    }

    /// DNS behaviour.
    pub fn dns(mut self, dns: DnsConfig) -> Self {
        self.config.dns = dns;
        self
    }

    /// Replaces the whole configuration.
    pub fn config(mut self, config: AgentConfig) -> Self {
        self.config = config;
        self
    }

    /// The agent.
    pub fn build(self) -> Agent {
        Agent {
            config: self.config,
        }
    }

    /// Builds and starts the agent.
    pub async fn start(self) -> Result<AgentHandle, StartError> {
        self.build().start().await
    }
}

/// A running agent. Dropping it does not stop it: call [`AgentHandle::shutdown`].
#[derive(Debug)]
pub struct AgentHandle {
    http_addr: SocketAddr,
    dns_addr: Option<SocketAddr>,
    shutdown: CancellationToken,
    leave: CancellationToken,
    tasks: Vec<JoinHandle<()>>,
}

impl AgentHandle {
    /// Where the HTTP API listens.
    pub fn http_addr(&self) -> SocketAddr {
        self.http_addr
    }

    /// `http://<addr>`, for `CONSUL_HTTP_ADDR`.
    pub fn http_url(&self) -> String {
        format!("http://{}", self.http_addr)
    }

    /// Where DNS listens (UDP and TCP), if it is on.
    pub fn dns_addr(&self) -> Option<SocketAddr> {
        self.dns_addr
    }

    /// Resolves when the agent was asked to leave (`PUT /v1/agent/leave`).
    pub async fn left(&self) {
        self.leave.cancelled().await;
    }

    /// Stops accepting work, ends blocking queries, and waits for every task.
    pub async fn shutdown(self) {
        self.shutdown.cancel();
        for t in self.tasks {
            let _ = t.await;
        }
    }
}

/// Says, once at start, what a user must know about the ACL settings: how to
/// get in when nothing lets them, and that `allow` leaves everything open.
/// Never prints a token.
fn log_acl_advice(cfg: &AclConfig, acl: &acl::Acl, http: SocketAddr) {
    if !cfg.enabled {
        return;
    }
    match cfg.default_policy {
        DefaultPolicy::Deny if !acl.has_management_token() => tracing::warn!(
            "ACLs are enabled with default_policy \"deny\" and no acl.tokens.initial_management: \
             every request without a token is denied. Bootstrap once with \
             `curl -X PUT http://{http}/v1/acl/bootstrap` (or `consul acl bootstrap`) and send the \
             SecretID it returns as X-Consul-Token (CONSUL_HTTP_TOKEN)"
        ),
        DefaultPolicy::Deny => tracing::info!(
            "ACLs are enabled with default_policy \"deny\"; the management token is acl.tokens.initial_management"
        ),
        DefaultPolicy::Allow => tracing::warn!(
            "ACLs are enabled with default_policy \"allow\": requests without a token may do everything \
             except manage ACLs. Set acl.default_policy = \"deny\" to require tokens"
        ),
    }
    if acl.down_policy() != "extend-cache" {
        tracing::debug!(
            down_policy = acl.down_policy(),
            "acl.down_policy has no effect on a single agent"
        );
    }
}

/// Registers the services and checks of the config files, as local definitions.
fn register_definitions(
    store: &Store,
    runner: &CheckRunner,
    definitions: &[serde_json::Value],
) -> Result<(), StartError> {
    for def in definitions {
        let Some((key, body)) = def.as_object().and_then(|o| o.iter().next()) else {
            continue;
        };
        let bytes = body.to_string();
        let err = |e: String| StartError::Config(format!("{key} {body}: {e}"));
        if key.starts_with("service") {
            let sd: decode::ServiceDefinition = decode::decode(bytes.as_bytes()).map_err(err)?;
            let spawns = store
                .agent_register_service_from(sd, false, true)
                .map_err(|e| err(e.message))?;
            runner.spawn_all(spawns);
        } else {
            let check: decode::CheckIn = decode::decode(bytes.as_bytes()).map_err(err)?;
            let spawn = store
                .agent_register_check_from(check, true)
                .map_err(|e| err(e.message))?;
            runner.spawn_all(spawn.into_iter().collect());
        }
    }
    Ok(())
}

async fn bind_dns(addr: SocketAddr) -> Result<(UdpSocket, TcpListener), StartError> {
    let bind_err = |what, addr, source| StartError::Bind { what, addr, source };
    // With port 0 the UDP port picked may be taken for TCP: try a few.
    for _ in 0..20 {
        let udp = UdpSocket::bind(addr)
            .await
            .map_err(|e| bind_err("DNS (UDP)", addr, e))?;
        let local = udp
            .local_addr()
            .map_err(|e| bind_err("DNS (UDP)", addr, e))?;
        match TcpListener::bind(local).await {
            Ok(tcp) => return Ok((udp, tcp)),
            Err(e) if addr.port() != 0 => return Err(bind_err("DNS (TCP)", local, e)),
            Err(_) => continue,
        }
    }
    Err(bind_err(
        "DNS (TCP)",
        addr,
        std::io::Error::new(
            std::io::ErrorKind::AddrInUse,
            "no port free for both UDP and TCP",
        ),
    ))
}

impl Agent {
    /// A builder with Consul's dev-mode defaults (127.0.0.1, HTTP 8500, DNS 8600, `dc1`).
    pub fn builder() -> AgentBuilder {
        AgentBuilder::default()
    }

    /// An agent with this configuration.
    pub fn new(config: AgentConfig) -> Agent {
        Agent { config }
    }

    /// Binds the listeners and starts serving.
    pub async fn start(self) -> Result<AgentHandle, StartError> {
        let cfg = self.config;
        let http = TcpListener::bind(cfg.http_addr)
            .await
            .map_err(|source| StartError::Bind {
                what: "HTTP",
                addr: cfg.http_addr,
                source,
            })?;
        let http_addr = http.local_addr().map_err(|source| StartError::Bind {
            what: "HTTP",
            addr: cfg.http_addr,
            source,
        })?;
        let dns = match cfg.dns_addr {
            Some(a) => Some(bind_dns(a).await?),
            None => None,
        };
        let dns_addr = match &dns {
            Some((udp, _)) => Some(udp.local_addr().map_err(|source| StartError::Bind {
                what: "DNS (UDP)",
                addr: cfg.dns_addr.unwrap_or(http_addr),
                source,
            })?),
            None => None,
        };
        let node_id = cfg
            .node_id
            .clone()
            .unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
        let store = Store::new(StoreConfig {
            node_name: cfg.node_name.clone(),
            node_id: node_id.clone(),
            node_address: cfg.advertise_addr.to_string(),
            datacenter: cfg.datacenter.clone(),
            version: CONSUL_VERSION.to_string(),
            min_check_interval: cfg.min_check_interval,
            min_deregister_after: cfg.min_deregister_after,
            enable_script_checks: cfg.enable_script_checks,
            enable_local_script_checks: cfg.enable_local_script_checks,
        });
        let shutdown = CancellationToken::new();
        let leave = CancellationToken::new();
        let metrics = Arc::new(Metrics::new());
        let info = Arc::new(AgentInfo {
            node_name: cfg.node_name.clone(),
            node_id,
            datacenter: cfg.datacenter.clone(),
            version: CONSUL_VERSION.to_string(),
            revision: format!("devagent-{}", env!("CARGO_PKG_VERSION")),
            build_date: "2026-01-01T00:00:00Z".to_string(),
            http_addr,
            dns_addr: dns_addr.unwrap_or(http_addr),
            advertise_addr: cfg.advertise_addr,
            data_dir: cfg
                .data_dir
                .as_ref()
                .map(|d| d.display().to_string())
                .unwrap_or_default(),
            recursors: cfg.dns.recursors.iter().map(ToString::to_string).collect(),
        });
        let acl = Arc::new(acl::Acl::new(&cfg.acl, Arc::clone(&store)));
        let app = http::App::new(http::AppState {
            store: Arc::clone(&store),
            info,
            acl: Arc::clone(&acl),
            runner: CheckRunner::new(Arc::clone(&store), shutdown.clone()),
            shapes: http::Shapes::new(),
            metrics: Arc::clone(&metrics),
            cache: http::ReadCache::new(acl.default_policy_word()),
            leave: leave.clone(),
            limits: cfg.limits,
            extra: Arc::new(extra::Extra::new(
                cfg.log_hub.clone().unwrap_or_default(),
                mesh::ca::Ca::new(&cfg.datacenter, store.last_index())
                    .map_err(|e| StartError::Config(format!("making the Connect CA: {e}")))?,
            )),
        });
        if let Err(e) = register_definitions(&store, &app.runner, &cfg.definitions) {
            shutdown.cancel();
            return Err(e);
        }
        let mut tasks = Vec::new();
        let stop = shutdown.clone();
        tasks.push(tokio::spawn(
            store.run_timers(async move { stop.cancelled().await }),
        ));
        let stop = shutdown.clone();
        let closing = Arc::clone(&store);
        tasks.push(tokio::spawn(async move {
            stop.cancelled().await;
            closing.close();
        }));
        let extra = Arc::clone(&app.extra);
        let router = http::router(app.clone());
        let stop = shutdown.clone();
        let (limits, open_files) = (cfg.limits, limits::open_file_limit());
        tasks.push(tokio::spawn(async move {
            http::serve(http, app, router, limits, open_files, async move {
                stop.cancelled().await
            })
            .await;
        }));
        if let Some((udp, tcp)) = dns {
            let handler = dns::DnsHandler::new(
                Arc::clone(&store),
                cfg.dns.clone(),
                metrics,
                Arc::clone(&acl),
            )
            .with_queries(extra);
            let server = dns::spawn_server(handler, udp, tcp, shutdown.clone())
                .map_err(|e| StartError::Config(format!("starting the DNS server's threads: {e}")));
            match server {
                Ok(task) => tasks.push(task),
                Err(e) => {
                    shutdown.cancel();
                    return Err(e);
                }
            }
        }
        tracing::info!(
            http = %http_addr,
            dns = %dns_addr.map(|a| a.to_string()).unwrap_or_else(|| "off".into()),
            node = %cfg.node_name,
            datacenter = %cfg.datacenter,
            acl = acl.enabled(),
            "devagent started"
        );
        log_acl_advice(&cfg.acl, &acl, http_addr);
        Ok(AgentHandle {
            http_addr,
            dns_addr,
            shutdown,
            leave,
            tasks,
        })
    }
}
