//! The sensor: produces readings for the app to square. It registers
//! through `dcy` as `sensor` with an HTTP check.
//!
//! Over HTTP (the default) it answers `GET /reading`. With `--transport
//! nats` it publishes readings to the broker it finds through dcy
//! ([`publish`]), and `GET /stats` says how many the broker has taken.
#![warn(missing_docs)]

pub mod publish;

use std::future::Future;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

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
    /// How readings reach the workers: `http` (they are fetched from
    /// `/reading`) or `nats` (published to the broker found through dcy).
    #[arg(long, value_enum, default_value_t = bus::Transport::Http)]
    pub transport: bus::Transport,
    /// With `nats`: readings published per second (0: as fast as the
    /// broker takes them, `--in-flight` at a time).
    #[arg(long, default_value_t = 200.0)]
    pub rate: f64,
    /// With `nats`: readings to publish, then stop publishing (0: no end).
    #[arg(long, default_value_t = 0)]
    pub count: u64,
    /// With `nats`: most readings published and not yet acknowledged.
    #[arg(long = "in-flight", default_value_t = 256, value_parser = clap::value_parser!(u32).range(1..=65_536))]
    pub in_flight: u32,
    /// With `nats`: how long to wait at start for a broker node in Consul.
    #[arg(long = "wait-for", default_value = "30s", value_parser = gocompat::duration::parse)]
    pub wait_for: std::time::Duration,
}

impl Args {
    /// The defaults, with these service flags (HTTP).
    pub fn new(service: kit::ServiceArgs) -> Args {
        Args {
            service,
            transport: bus::Transport::Http,
            rate: 200.0,
            count: 0,
            in_flight: 256,
            wait_for: std::time::Duration::from_secs(30),
        }
    }
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
    if args.transport == bus::Transport::Nats {
        return publish::run(args, shutdown, ready).await;
    }
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
    kit::Service::new("sensor", &args.service, &client)
        .metrics(registry)
        .serve(router, shutdown, ready)
        .await
}
