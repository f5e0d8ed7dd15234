//! The sensor: produces readings (`GET /reading`) for the app to square.
//! It registers through `dcy` as `sensor` with an HTTP check.
#![warn(missing_docs)]

use std::future::Future;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::registry::Registry;
use serde::Serialize;

/// `sensor` flags.
#[derive(Clone, Debug, clap::Parser)]
#[command(name = "sensor", about = "Produces readings for the demo app")]
pub struct Args {
    /// Service flags.
    #[command(flatten)]
    pub service: kit::ServiceArgs,
}

/// One reading.
#[derive(Debug, Serialize)]
pub struct Reading {
    /// Sequence number.
    pub seq: u64,
    /// The value to square.
    pub value: i64,
    /// Which sensor instance produced it.
    pub sensor: String,
}

#[derive(Clone)]
struct St {
    id: String,
    seq: Arc<AtomicU64>,
    readings: Counter,
}

async fn reading(State(s): State<St>) -> Json<Reading> {
    s.readings.inc();
    Json(Reading {
        seq: s.seq.fetch_add(1, Ordering::Relaxed),
        value: fastrand::i64(-10_000..10_000),
        sensor: s.id.clone(),
    })
}

/// Serves readings until `shutdown`; `ready` gets the address once registered.
pub async fn run(
    args: Args,
    shutdown: impl Future<Output = ()> + Send + 'static,
    ready: impl FnOnce(SocketAddr),
) -> anyhow::Result<()> {
    let client = args.service.client()?;
    let mut registry = Registry::with_prefix("sensor");
    let readings = Counter::default();
    registry.register("readings", "Readings served", readings.clone());
    let router = |id: &str| {
        Router::new()
            .route("/reading", get(reading))
            .with_state(St {
                id: id.to_string(),
                seq: Arc::new(AtomicU64::new(0)),
                readings,
            })
    };
    kit::serve(
        "sensor",
        &[],
        &args.service,
        &client,
        router,
        Arc::new(Mutex::new(registry)),
        shutdown,
        ready,
    )
    .await
}

/// The binary's entry point.
pub fn main() -> std::process::ExitCode {
    use clap::Parser;
    let args = Args::parse_from(gocompat::flags::normalize(std::env::args()));
    kit::main(|| {
        run(args, kit::shutdown_signal(), |addr| {
            println!("sensor listening on {addr}")
        })
    })
}
