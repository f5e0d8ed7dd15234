//! Metrics, Consul reachability, and the optional `/health` + `/metrics`
//! listener (`--status-addr`).

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::IntoResponse;
use axum::routing::get;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;
use tokio_util::sync::CancellationToken;

use crate::error::{Error, Result};

/// registrar's counters, exported under the `registrar_` prefix.
#[derive(Debug, Default)]
pub struct Metrics {
    /// Services registered (first registrations and updates).
    pub registrations: Counter,
    /// Services deregistered.
    pub deregistrations: Counter,
    /// Problems while syncing: invalid files, duplicates, refused or failed calls.
    pub sync_errors: Counter,
    /// Definition files in the watched directory.
    pub files_watched: Gauge,
    /// Restarts of the supervised program.
    pub child_restarts: Counter,
    /// 1 while Consul answers, 0 while it is unreachable.
    pub consul_up: Gauge,
}

/// Shared state of a running registrar: metrics and Consul's reachability.
#[derive(Debug)]
pub struct Status {
    /// The counters.
    pub metrics: Metrics,
    consul_error: Mutex<Option<String>>,
    registry: Registry,
}

impl Status {
    /// Status for a registrar using `client`, whose own metrics are exported too.
    pub fn new(client: &dcy::Client) -> Arc<Status> {
        let metrics = Metrics::default();
        let mut registry = Registry::default();
        {
            let r = registry.sub_registry_with_prefix("registrar");
            r.register(
                "registrations",
                "Services registered",
                metrics.registrations.clone(),
            );
            r.register(
                "deregistrations",
                "Services deregistered",
                metrics.deregistrations.clone(),
            );
            r.register(
                "sync_errors",
                "Invalid files, duplicate IDs, refused or failed Consul calls",
                metrics.sync_errors.clone(),
            );
            r.register(
                "files_watched",
                "Definition files in the watched directory",
                metrics.files_watched.clone(),
            );
            r.register(
                "child_restarts",
                "Restarts of the supervised program",
                metrics.child_restarts.clone(),
            );
            r.register(
                "consul_up",
                "1 while Consul answers",
                metrics.consul_up.clone(),
            );
        }
        client.metrics().register(&mut registry);
        metrics.consul_up.set(1);
        Arc::new(Status {
            metrics,
            consul_error: Mutex::new(None),
            registry,
        })
    }

    /// Records the outcome of a call to Consul: only transport failures
    /// (and 5xx) make Consul unreachable; a refusal is an answer.
    pub fn observe<T>(&self, outcome: &std::result::Result<T, dcy::Error>) {
        match outcome {
            Err(e) if e.is_retryable() => self.set_unreachable(e),
            _ => self.set_reachable(),
        }
    }

    /// Consul answered.
    pub fn set_reachable(&self) {
        *self.lock() = None;
        self.metrics.consul_up.set(1);
    }

    /// Consul could not be reached.
    pub fn set_unreachable(&self, e: &dcy::Error) {
        *self.lock() = Some(e.to_string());
        self.metrics.consul_up.set(0);
    }

    /// The last error while Consul is unreachable; `None` while it answers.
    pub fn consul_error(&self) -> Option<String> {
        self.lock().clone()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Option<String>> {
        self.consul_error
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The metrics in Prometheus' text format.
    pub fn encode_metrics(&self) -> String {
        let mut out = String::new();
        // Writing to a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut out, &self.registry);
        out
    }
}

async fn health(State(status): State<Arc<Status>>) -> impl IntoResponse {
    match status.consul_error() {
        None => (StatusCode::OK, "ok\n".to_string()),
        Some(e) => (
            StatusCode::SERVICE_UNAVAILABLE,
            format!("consul unreachable: {e}\n"),
        ),
    }
}

async fn metrics(State(status): State<Arc<Status>>) -> impl IntoResponse {
    (
        [(
            header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        status.encode_metrics(),
    )
}

/// Binds `addr` and serves `/health` and `/metrics` until `shutdown`;
/// returns the bound address (useful with port 0).
pub async fn serve(
    addr: SocketAddr,
    status: Arc<Status>,
    shutdown: CancellationToken,
) -> Result<SocketAddr> {
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|e| Error::io(format!("--status-addr {addr}"), e))?;
    let bound = listener
        .local_addr()
        .map_err(|e| Error::io(format!("--status-addr {addr}"), e))?;
    let app = axum::Router::new()
        .route("/health", get(health))
        .route("/metrics", get(metrics))
        .with_state(status);
    tracing::info!(addr = %bound, "status listener on http://{bound} (/health, /metrics)");
    tokio::spawn(async move {
        let served = axum::serve(listener, app)
            .with_graceful_shutdown(async move { shutdown.cancelled().await })
            .await;
        if let Err(e) = served {
            tracing::warn!(error = %e, "status listener stopped");
        }
    });
    Ok(bound)
}
