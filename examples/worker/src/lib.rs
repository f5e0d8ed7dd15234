//! The worker: squares numbers (`GET /square?n=12`). Any number of them run;
//! each registers through `dcy` as `worker` with an HTTP check.
//!
//! With `--transport nats` the workers take readings from the broker they
//! find through dcy, all from one durable consumer (each reading goes to
//! one of them), and publish the squares for the app ([`consume`]).
#![warn(missing_docs)]

pub mod consume;

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;

use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::routing::get;
use axum::{Json, Router};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::registry::Registry;
use serde::{Deserialize, Serialize};

/// `worker` flags.
#[derive(Clone, Debug, clap::Parser)]
#[command(name = "worker", about = "Squares numbers for the demo app")]
pub struct Args {
    /// Service flags.
    #[command(flatten)]
    pub service: kit::ServiceArgs,
    /// How readings arrive: `http` (`GET /square`) or `nats` (from the
    /// broker found through dcy).
    #[arg(long, value_enum, default_value_t = bus::Transport::Http)]
    pub transport: bus::Transport,
    /// With `nats`: readings squared at once.
    #[arg(long, default_value_t = 64, value_parser = clap::value_parser!(u32).range(1..=4096))]
    pub concurrency: u32,
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
            concurrency: 64,
            wait_for: std::time::Duration::from_secs(30),
        }
    }
}

/// The question.
#[derive(Debug, Deserialize)]
pub struct SquareQuery {
    /// The number.
    pub n: i64,
}

/// The answer, with the instance that computed it.
#[derive(Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct Square {
    /// The number.
    pub n: i64,
    /// Its square.
    pub square: i64,
    /// The worker instance.
    pub worker: String,
}

#[derive(Clone)]
struct St {
    id: Arc<str>,
    squares: Counter,
}

async fn square(
    State(s): State<St>,
    Query(q): Query<SquareQuery>,
) -> Result<Json<Square>, (StatusCode, String)> {
    let square = q.n.checked_mul(q.n).ok_or_else(|| {
        (
            StatusCode::BAD_REQUEST,
            format!("{} squared overflows: use |n| < 3037000499", q.n),
        )
    })?;
    s.squares.inc();
    Ok(Json(Square {
        n: q.n,
        square,
        worker: s.id.to_string(),
    }))
}

/// Serves squares until `shutdown`; `ready` gets the address once registered.
pub async fn run(
    args: Args,
    shutdown: impl Future<Output = ()> + Send + 'static,
    ready: impl FnOnce(SocketAddr),
) -> anyhow::Result<()> {
    if args.transport == bus::Transport::Nats {
        return consume::run(args, shutdown, ready).await;
    }
    let client = args.service.client()?;
    let mut registry = Registry::with_prefix("worker");
    let squares = Counter::default();
    registry.register("squares", "Squares computed", squares.clone());
    let router = |id: &str| {
        Router::new().route("/square", get(square)).with_state(St {
            id: id.into(),
            squares,
        })
    };
    kit::Service::new("worker", &args.service, &client)
        .tags(&["v1"])
        .metrics(registry)
        .serve(router, shutdown, ready)
        .await
}
