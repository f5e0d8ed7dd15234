//! The optional status listener: `/health` and Prometheus `/metrics`.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::routing::get;
use axum::Router;
use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;
use tokio_util::sync::CancellationToken;

/// Counters of the runner.
#[derive(Debug, Default)]
pub struct Metrics {
    /// Template renders.
    pub renders: Counter,
    /// Renders that failed (template error).
    pub render_errors: Counter,
    /// Files written (content changed).
    pub writes: Counter,
    /// Command runs.
    pub command_runs: Counter,
    /// Command failures (non-zero exit, timeout, cannot start).
    pub command_failures: Counter,
    /// Unique dependencies watched.
    pub dependencies: Gauge,
    /// Blocking queries in flight (one per Consul dependency).
    pub blocking_queries: Gauge,
    /// Templates waiting for data.
    pub templates_waiting: Gauge,
    /// Age in seconds of the oldest data while Consul is failing (0 when fresh).
    pub staleness_seconds: Gauge,
    /// Watches failing now.
    pub failing_dependencies: Gauge,
}

impl Metrics {
    fn registry(&self, client: &dcy::Client) -> Registry {
        let mut r = Registry::with_prefix("templater");
        r.register("renders", "Template renders", self.renders.clone());
        r.register(
            "render_errors",
            "Template renders that failed",
            self.render_errors.clone(),
        );
        r.register("writes", "Output files written", self.writes.clone());
        r.register("command_runs", "Command runs", self.command_runs.clone());
        r.register(
            "command_failures",
            "Command failures",
            self.command_failures.clone(),
        );
        r.register(
            "dependencies",
            "Unique dependencies watched",
            self.dependencies.clone(),
        );
        r.register(
            "blocking_queries",
            "Blocking queries in flight",
            self.blocking_queries.clone(),
        );
        r.register(
            "templates_waiting",
            "Templates waiting for data",
            self.templates_waiting.clone(),
        );
        r.register(
            "staleness_seconds",
            "Age of the oldest data while Consul is failing",
            self.staleness_seconds.clone(),
        );
        r.register(
            "failing_dependencies",
            "Dependencies whose watch is failing",
            self.failing_dependencies.clone(),
        );
        client.metrics().register(&mut r);
        r
    }
}

#[derive(Clone)]
struct St {
    metrics: Arc<Metrics>,
    client: dcy::Client,
    healthy: Arc<AtomicBool>,
}

/// Serves `/health` (503 while Consul is failing) and `/metrics` until `stop`.
pub async fn serve(
    addr: &str,
    metrics: Arc<Metrics>,
    client: dcy::Client,
    healthy: Arc<AtomicBool>,
    stop: CancellationToken,
) -> std::io::Result<std::net::SocketAddr> {
    let listener = tokio::net::TcpListener::bind(addr).await?;
    let local = listener.local_addr()?;
    let app = Router::new()
        .route("/health", get(health))
        .route("/metrics", get(metrics_text))
        .with_state(St {
            metrics,
            client,
            healthy,
        });
    tokio::spawn(async move {
        let serve = axum::serve(listener, app)
            .with_graceful_shutdown(async move { stop.cancelled().await });
        if let Err(e) = serve.await {
            tracing::error!(error = %e, "status listener failed");
        }
    });
    Ok(local)
}

async fn health(State(s): State<St>) -> impl IntoResponse {
    if s.healthy.load(Ordering::Relaxed) {
        (StatusCode::OK, "ok\n")
    } else {
        (
            StatusCode::SERVICE_UNAVAILABLE,
            "consul unreachable: serving the last rendered files\n",
        )
    }
}

async fn metrics_text(State(s): State<St>) -> impl IntoResponse {
    let mut out = String::new();
    if encode(&mut out, &s.metrics.registry(&s.client)).is_err() {
        return (StatusCode::INTERNAL_SERVER_ERROR, String::new());
    }
    (StatusCode::OK, out)
}
