//! The dashboard: a live web page of every service, instance and check in
//! Consul, with status colours, instance counts over time and the age of the
//! data while Consul is unreachable.
//!
//! dcy's watches follow `/v1/catalog/services` and, for each service,
//! `/v1/health/service/:name` with every instance and check ([`feed`]); each
//! change becomes a [`Snapshot`] pushed to the page over Server-Sent Events
//! ([`web`]), and a small `tick` event every second carries the newest
//! instance counts and the age of the data, so the page keeps counting while
//! Consul is down. When Consul lists broker nodes (the messaging mode), the
//! page shows the JetStream streams and consumers beside the services, as
//! a node's monitoring endpoint reports them ([`broker`]). The dashboard
//! registers itself as `dashboard` with `/health` and `/metrics`, like
//! every example service.
//!
//! ```text
//! dashboard -http-addr http://127.0.0.1:8500 --port 8080
//! open http://127.0.0.1:8080/
//! ```
#![warn(missing_docs)]

pub mod broker;
pub mod feed;
pub mod snapshot;
pub mod web;

use std::future::Future;
use std::net::SocketAddr;
use std::time::Duration;

use dcy::watch::{WatchHub, WatchOptions};
use prometheus_client::registry::Registry;
use tokio_util::sync::CancellationToken;

pub use feed::{Feed, FeedMetrics, FeedOptions};
pub use snapshot::{
    CheckView, Counts, Freshness, InstanceView, Sample, ServiceView, Snapshot, Tick, Totals,
};

/// Longest retry delay of the watches while Consul is unreachable: the
/// page recovers at most this long after Consul does.
const MAX_BACKOFF: Duration = Duration::from_secs(5);

/// Most samples of history kept per service.
const MAX_HISTORY: usize = 86_400;

/// `dashboard` flags.
#[derive(Clone, Debug, clap::Parser)]
#[command(
    name = "dashboard",
    about = "A live web page of every service, instance and check in Consul"
)]
pub struct Args {
    /// Service flags.
    #[command(flatten)]
    pub service: kit::ServiceArgs,
    /// Wait of each blocking query. Consul answers at least this often, so
    /// it bounds the age of the data while Consul is healthy.
    #[arg(long = "watch-wait", default_value = "10s", value_parser = gocompat::duration::parse)]
    pub watch_wait: Duration,
    /// Samples of instance counts kept per service, one a second.
    #[arg(long, default_value_t = 120, value_parser = clap::value_parser!(u32).range(2..=86_400))]
    pub history: u32,
}

impl Args {
    /// The defaults, with these service flags.
    pub fn new(service: kit::ServiceArgs) -> Args {
        Args {
            service,
            watch_wait: Duration::from_secs(10),
            history: 120,
        }
    }
}

/// Serves the dashboard until `shutdown`; `ready` gets the address once it
/// is registered in Consul as `dashboard`.
pub async fn run(
    args: Args,
    shutdown: impl Future<Output = ()> + Send + 'static,
    ready: impl FnOnce(SocketAddr),
) -> anyhow::Result<()> {
    let client = args.service.client()?;
    let hub = WatchHub::with_options(
        client.clone(),
        WatchOptions {
            wait: args
                .watch_wait
                .clamp(Duration::from_millis(100), Duration::from_secs(600)),
            max_backoff: MAX_BACKOFF,
            ..WatchOptions::default()
        },
    );
    let metrics = FeedMetrics::default();
    let mut registry = Registry::with_prefix("dashboard");
    metrics.register(&mut registry);
    let options = FeedOptions {
        history: usize::try_from(args.history)
            .unwrap_or(MAX_HISTORY)
            .min(MAX_HISTORY),
        ..FeedOptions::default()
    };
    let cancel = CancellationToken::new();
    let (broker, broker_task) = broker::spawn(
        hub.clone(),
        args.service.service_options(),
        options.tick,
        cancel.clone(),
    );
    let (feed, task) = Feed::spawn(hub.clone(), options, metrics, broker, cancel.clone());
    // Stop the feed and end every page's stream first, so the server's
    // graceful shutdown never waits on an open stream.
    let stop = cancel.clone();
    let shutdown = async move {
        shutdown.await;
        stop.cancel();
    };
    let served = kit::Service::new("dashboard", &args.service, &client)
        .tags(&["ui"])
        .metrics(registry)
        .serve(|_| web::router(feed), shutdown, ready)
        .await;
    cancel.cancel();
    hub.shutdown().await;
    if let Err(e) = task.await {
        tracing::warn!(error = %e, "the dashboard feed panicked");
    }
    if let Err(e) = broker_task.await {
        tracing::warn!(error = %e, "the dashboard's broker poller panicked");
    }
    served
}
