//! What the example services share: their flags ([`ServiceArgs`]), and
//! serving an axum router on port 0, registered through `dcy` with an HTTP
//! check on `/health`, Prometheus `/metrics` and deregistration on shutdown
//! ([`Service`]); and the stop signals.
//!
//! The process around a service (logging, the runtime, the exit code) is
//! not here: it is `bin/entry.rs`, compiled into each example binary, so
//! that no library installs a subscriber or starts a runtime.
#![warn(missing_docs)]

use std::future::Future;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::routing::get;
use axum::Router;
use dcy::registry::{Check, Registration};
use prometheus_client::encoding::text::encode;
use prometheus_client::registry::Registry;
use tokio_util::sync::CancellationToken;

/// Flags every example service takes.
#[derive(Clone, Debug, clap::Args)]
pub struct ServiceArgs {
    /// Consul connection (`-http-addr`, `-token`, ... or `CONSUL_*`).
    #[command(flatten)]
    pub consul: dcy::cli::ConsulArgs,
    /// Address to listen on (and to register).
    #[arg(long, default_value = "127.0.0.1")]
    pub bind: IpAddr,
    /// Port to listen on (0 picks a free one).
    #[arg(long, default_value_t = 0)]
    pub port: u16,
    /// Instance ID (default: `<service>-<port>`).
    #[arg(long)]
    pub id: Option<String>,
    /// Interval of the agent's HTTP check on `/health`.
    #[arg(long = "check-interval", default_value = "1s", value_parser = gocompat::duration::parse)]
    pub check_interval: Duration,
    /// A tag this service registers with and requires of the services it
    /// calls, so that instances of the same names outside this deployment
    /// (in a shared Consul) are never used. The demo sets `dcy-demo`.
    #[arg(long)]
    pub tag: Option<String>,
}

impl ServiceArgs {
    /// Defaults, with Consul at `consul` (e.g. `http://127.0.0.1:8500`).
    pub fn local(consul: &str) -> ServiceArgs {
        ServiceArgs {
            consul: dcy::cli::ConsulArgs {
                http_addr: Some(consul.to_string()),
                ..Default::default()
            },
            bind: IpAddr::from([127, 0, 0, 1]),
            port: 0,
            id: None,
            check_interval: Duration::from_secs(1),
            tag: None,
        }
    }

    /// The URL host that reaches `service` within this deployment: `worker`,
    /// or with a tag `dcy-demo.worker.service.consul` (Consul's DNS form,
    /// which dcy's HTTP client resolves to the tagged instances only).
    pub fn service_host(&self, service: &str) -> String {
        match &self.tag {
            Some(tag) => format!("{tag}.{service}.service.consul"),
            None => service.to_string(),
        }
    }

    /// Which instances of the services this one calls it may use.
    pub fn service_options(&self) -> dcy::ServiceOptions {
        match &self.tag {
            Some(tag) => dcy::ServiceOptions::default().tag(tag),
            None => dcy::ServiceOptions::default(),
        }
    }

    /// The Consul client these flags describe.
    pub fn client(&self) -> anyhow::Result<dcy::Client> {
        Ok(dcy::Client::new(self.consul.to_config()?)?)
    }
}

/// A Prometheus registry for a service's own metrics plus dcy's.
pub type Metrics = Arc<Mutex<Registry>>;

async fn metrics_handler(State(m): State<Metrics>) -> impl IntoResponse {
    let mut out = String::new();
    let registry = m.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    match encode(&mut out, &registry) {
        Ok(()) => (StatusCode::OK, out),
        Err(_) => (StatusCode::INTERNAL_SERVER_ERROR, String::new()),
    }
}

/// A running service.
#[derive(Debug)]
pub struct Serving {
    /// Where it listens.
    pub addr: SocketAddr,
    /// Its registration.
    pub registration: dcy::Registered,
}

/// A service to serve: its name, flags and Consul client, with optional
/// tags and a Prometheus registry of its own metrics; [`Service::serve`]
/// runs it.
///
/// ```no_run
/// # async fn demo(args: kit::ServiceArgs) -> anyhow::Result<()> {
/// let client = args.client()?;
/// kit::Service::new("worker", &args, &client)
///     .tags(&["v1"])
///     .serve(|_id| axum::Router::new(), kit::shutdown_signal(), |addr| {
///         println!("worker listening on {addr}")
///     })
///     .await
/// # }
/// ```
#[derive(Debug)]
pub struct Service<'a> {
    name: &'a str,
    args: &'a ServiceArgs,
    client: &'a dcy::Client,
    tags: Vec<String>,
    registry: Registry,
}

impl<'a> Service<'a> {
    /// The service `name`, as `args` say, registered through `client`.
    pub fn new(name: &'a str, args: &'a ServiceArgs, client: &'a dcy::Client) -> Service<'a> {
        Service {
            name,
            args,
            client,
            tags: Vec::new(),
            registry: Registry::default(),
        }
    }

    /// Tags to register with (besides `--tag`).
    pub fn tags(mut self, tags: &[&str]) -> Service<'a> {
        self.tags.extend(tags.iter().map(ToString::to_string));
        self
    }

    /// The service's own metrics, served on `/metrics` with dcy's.
    pub fn metrics(mut self, registry: Registry) -> Service<'a> {
        self.registry = registry;
        self
    }

    /// Serves the router `make_router` builds for the instance ID (plus
    /// `/health` and `/metrics`), registers it with an HTTP check, and runs
    /// until `shutdown`; then deregisters.
    ///
    /// `ready` is called with the address once the service is registered.
    pub async fn serve(
        self,
        make_router: impl FnOnce(&str) -> Router,
        shutdown: impl Future<Output = ()> + Send + 'static,
        ready: impl FnOnce(SocketAddr),
    ) -> anyhow::Result<()> {
        let Service {
            name,
            args,
            client,
            tags,
            mut registry,
        } = self;
        client.metrics().register(&mut registry);
        let metrics: Metrics = Arc::new(Mutex::new(registry));
        let listener = tokio::net::TcpListener::bind((args.bind, args.port)).await?;
        let addr = listener.local_addr()?;
        let id = args
            .id
            .clone()
            .unwrap_or_else(|| format!("{name}-{}", addr.port()));
        let app = make_router(&id)
            .route("/health", get(|| async { "ok\n" }))
            .route("/metrics", get(metrics_handler).with_state(metrics));
        let stop = CancellationToken::new();
        let server_stop = stop.clone();
        let server = tokio::spawn(async move {
            axum::serve(listener, app)
                .with_graceful_shutdown(async move { server_stop.cancelled().await })
                .await
        });
        let mut reg = Registration::new(name)
            .id(&id)
            .address(&addr.ip().to_string())
            .port(addr.port())
            .meta("version", env!("CARGO_PKG_VERSION"))
            // The server listens already: start passing, the agent's check takes over.
            .check(
                Check::http(&format!("http://{addr}/health"), args.check_interval)
                    .timeout(Duration::from_secs(1))
                    .initial_status(dcy::Status::Passing),
            )
            .deregister_critical_after(Duration::from_secs(60));
        for t in tags.iter().map(String::as_str).chain(args.tag.as_deref()) {
            reg = reg.tag(t);
        }
        let registration = reg.register(client).await?;
        tracing::info!(service = name, id = %id, %addr, "serving and registered");
        ready(addr);
        shutdown.await;
        tracing::info!(service = name, id = %id, "shutting down: deregistering");
        if let Err(e) = registration.deregister().await {
            tracing::warn!(error = %e, "deregistering failed");
        }
        stop.cancel();
        server.await??;
        Ok(())
    }
}

/// Resolves on SIGINT or SIGTERM.
pub async fn shutdown_signal() {
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending().await,
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term => {}
    }
}
