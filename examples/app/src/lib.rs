//! The app: pulls readings from the sensor and sends them to the workers,
//! round-robin, finding both only by name through `dcy`. It checks every
//! answer, records which worker served it (`GET /stats`), and keeps working
//! while workers come and go: a request to a worker that just died is
//! retried on another one.
//!
//! With `--transport nats` it calls nobody: it consumes the squares the
//! workers publish to the broker it finds through dcy, de-duplicates them
//! by message ID and keeps the same statistics ([`consume`]).
#![warn(missing_docs)]

use std::collections::{BTreeMap, VecDeque};
use std::future::Future;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::registry::Registry;
use serde::{Deserialize, Serialize};
use tokio_util::sync::CancellationToken;
use worker::Square;

pub mod consume;

/// `app` flags.
#[derive(Clone, Debug, clap::Parser)]
#[command(name = "app", about = "Squares the sensor's readings on the workers")]
pub struct Args {
    /// Service flags.
    #[command(flatten)]
    pub service: kit::ServiceArgs,
    /// Pause between rounds of each caller (0: as fast as possible).
    #[arg(long, default_value = "20ms", value_parser = gocompat::duration::parse)]
    pub interval: Duration,
    /// Concurrent callers.
    #[arg(long, default_value_t = 1)]
    pub concurrency: usize,
    /// How long to wait at start for the sensor and a worker (with `nats`:
    /// for a broker node).
    #[arg(long = "wait-for", default_value = "30s", value_parser = gocompat::duration::parse)]
    pub wait_for: Duration,
    /// How the squares arrive: `http` (the app calls the sensor and the
    /// workers) or `nats` (from the broker found through dcy).
    #[arg(long, value_enum, default_value_t = bus::Transport::Http)]
    pub transport: bus::Transport,
}

impl Args {
    /// The defaults, with these service flags (HTTP).
    pub fn new(service: kit::ServiceArgs) -> Args {
        Args {
            service,
            interval: Duration::from_millis(20),
            concurrency: 1,
            wait_for: Duration::from_secs(30),
            transport: bus::Transport::Http,
        }
    }
}

/// One answer, for `/stats`.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Served {
    /// The reading.
    pub n: i64,
    /// The square.
    pub square: i64,
    /// The worker that answered.
    pub worker: String,
}

/// What the app has done.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct Stats {
    /// Correct answers.
    pub ok: u64,
    /// Rounds that failed after retries.
    pub failed: u64,
    /// Answers that were wrong.
    pub wrong: u64,
    /// Answers per worker.
    pub by_worker: BTreeMap<String, u64>,
    /// The latest answers.
    pub last: VecDeque<Served>,
    /// The latest error.
    pub last_error: Option<String>,
    /// How the squares arrive (`http`, `nats`).
    #[serde(default)]
    pub transport: String,
    /// With `nats`: squares received again and dropped (their message ID
    /// was counted already).
    #[serde(default)]
    pub duplicates: u64,
    /// With `nats`: the message IDs counted, per sensor (as ranges of
    /// sequence numbers: one range and no gap is every reading, once).
    #[serde(default)]
    pub received: BTreeMap<String, bus::seen::SensorSeen>,
    /// End to end: over HTTP a round (the reading fetched, squared,
    /// checked); over the broker from the sensor publishing the reading
    /// to the app receiving its square.
    #[serde(default)]
    pub latency: bus::LatencySummary,
    /// With `nats`: the broker connection.
    #[serde(default)]
    pub broker: Option<bus::BrokerStatus>,
    /// The latencies behind `latency`.
    #[serde(skip)]
    pub latencies: bus::Latency,
    /// The message IDs behind `received`.
    #[serde(skip)]
    pub seen: bus::Seen,
}

impl Stats {
    /// What `/stats` shows: everything but the histogram and the ID set,
    /// with their summaries.
    pub fn view(&self) -> Stats {
        Stats {
            ok: self.ok,
            failed: self.failed,
            wrong: self.wrong,
            by_worker: self.by_worker.clone(),
            last: self.last.clone(),
            last_error: self.last_error.clone(),
            transport: self.transport.clone(),
            duplicates: self.duplicates,
            received: self.seen.summary(16),
            latency: self.latencies.summary(),
            broker: self.broker.clone(),
            latencies: bus::Latency::default(),
            seen: bus::Seen::default(),
        }
    }

    /// Counts a correct answer.
    pub fn served(&mut self, sq: Served) {
        self.ok += 1;
        *self.by_worker.entry(sq.worker.clone()).or_default() += 1;
        self.last.push_back(sq);
        if self.last.len() > 20 {
            self.last.pop_front();
        }
    }
}

/// The app's HTTP client settings: a 2 s connect timeout and a 30 s
/// request timeout, as dcy's own HTTP client.
pub fn http_client() -> reqwest::Client {
    reqwest::Client::builder()
        .connect_timeout(Duration::from_secs(2))
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap_or_default()
}

/// How the app reaches the sensor and the workers: by name, through dcy
/// discovery and its HTTP client (with [`http_client`]'s settings).
#[derive(Clone, Debug)]
pub struct Target {
    http: dcy::http::HttpClient,
    /// The sensor's reading URL (`http://sensor/reading`).
    sensor: String,
    /// The workers' URL up to the path (`http://worker`).
    worker: String,
}

/// The sensor's answer.
#[derive(Debug, Deserialize)]
pub struct Reading {
    /// The reading.
    pub value: i64,
}

impl Target {
    /// By name through `discovery`.
    pub fn discovery(discovery: &dcy::Discovery) -> Target {
        Target::discovery_within(discovery, &kit::ServiceArgs::local(""))
    }

    /// Like [`Target::discovery`], reaching only the instances of the
    /// deployment `service` belongs to (those with its `--tag`).
    pub fn discovery_within(discovery: &dcy::Discovery, service: &kit::ServiceArgs) -> Target {
        Target {
            http: discovery.http_with(http_client()),
            sensor: format!("http://{}/reading", service.service_host("sensor")),
            worker: format!("http://{}", service.service_host("worker")),
        }
    }

    async fn get_json<T: serde::de::DeserializeOwned>(&self, url: &str) -> anyhow::Result<T> {
        let resp = self.http.get(url).await?;
        if !resp.status().is_success() {
            anyhow::bail!("{url}: {}", resp.status());
        }
        Ok(resp.json().await?)
    }

    /// One round: a reading, squared by a worker, checked.
    pub async fn round(&self) -> anyhow::Result<Square> {
        let reading: Reading = self.get_json(&self.sensor).await?;
        let url = format!("{}/square?n={}", self.worker, reading.value);
        let sq: Square = self.get_json(&url).await?;
        check(&reading, &sq)?;
        Ok(sq)
    }
}

/// Whether `sq` is the square of `reading`; the error names the worker.
pub fn check(reading: &Reading, sq: &Square) -> anyhow::Result<()> {
    if sq.n != reading.value || sq.square != reading.value * reading.value {
        anyhow::bail!("{} answered {} for {}", sq.worker, sq.square, reading.value);
    }
    Ok(())
}

/// Runs rounds until `stop`, recording them in `stats`.
pub async fn drive(
    target: Target,
    stats: Arc<Mutex<Stats>>,
    concurrency: usize,
    interval: Duration,
    stop: CancellationToken,
    rounds: Counter,
) {
    let mut tasks = Vec::new();
    for _ in 0..concurrency.max(1) {
        let (target, stats, stop, rounds) = (
            target.clone(),
            Arc::clone(&stats),
            stop.clone(),
            rounds.clone(),
        );
        tasks.push(tokio::spawn(async move {
            while !stop.is_cancelled() {
                let started = std::time::Instant::now();
                let r = target.round().await;
                rounds.inc();
                {
                    let mut s = stats
                        .lock()
                        .unwrap_or_else(std::sync::PoisonError::into_inner);
                    match r {
                        Ok(sq) => {
                            s.latencies.record(started.elapsed());
                            s.served(Served {
                                n: sq.n,
                                square: sq.square,
                                worker: sq.worker,
                            });
                        }
                        Err(e) => {
                            let text = format!("{e:#}");
                            if text.contains("answered") {
                                s.wrong += 1;
                            } else {
                                s.failed += 1;
                            }
                            tracing::warn!(error = %text, "round failed");
                            s.last_error = Some(text);
                        }
                    }
                }
                if !interval.is_zero() {
                    tokio::select! {
                        _ = stop.cancelled() => return,
                        _ = tokio::time::sleep(interval) => {}
                    }
                }
            }
        }));
    }
    for t in tasks {
        let _ = t.await;
    }
}

/// Runs the app until `shutdown`; `ready` gets the address once registered.
pub async fn run(
    args: Args,
    shutdown: impl Future<Output = ()> + Send + 'static,
    ready: impl FnOnce(SocketAddr),
) -> anyhow::Result<()> {
    if args.transport == bus::Transport::Nats {
        return consume::run(args, shutdown, ready).await;
    }
    let client = args.service.client()?;
    let discovery = dcy::Discovery::new(client.clone());
    tracing::info!("waiting for the sensor and a worker");
    let deadline = tokio::time::Instant::now() + args.wait_for;
    for name in ["sensor", "worker"] {
        let left = deadline.saturating_duration_since(tokio::time::Instant::now());
        let service = discovery.service_with(name, args.service.service_options());
        if service.ready(left).await.is_err() {
            anyhow::bail!(
                "no healthy {} within {}{}",
                args.service.service_host(name),
                gocompat::duration::human(args.wait_for),
                service
                    .status()
                    .error
                    .map(|e| format!(" (Consul is failing: {e})"))
                    .unwrap_or_default()
            );
        }
    }
    let stats = Arc::new(Mutex::new(Stats {
        transport: bus::Transport::Http.to_string(),
        ..Stats::default()
    }));
    let mut registry = Registry::with_prefix("app");
    let rounds = Counter::default();
    registry.register("rounds", "Rounds run", rounds.clone());
    let stop = CancellationToken::new();
    let driver = tokio::spawn(drive(
        Target::discovery_within(&discovery, &args.service),
        Arc::clone(&stats),
        args.concurrency,
        args.interval,
        stop.clone(),
        rounds,
    ));
    let st = Arc::clone(&stats);
    let router = move |_: &str| {
        Router::new()
            .route(
                "/stats",
                get(|State(s): State<Arc<Mutex<Stats>>>| async move {
                    Json(
                        s.lock()
                            .unwrap_or_else(std::sync::PoisonError::into_inner)
                            .view(),
                    )
                }),
            )
            .with_state(st)
    };
    let result = kit::Service::new("app", &args.service, &client)
        .metrics(registry)
        .serve(router, shutdown, ready)
        .await;
    stop.cancel();
    let _ = driver.await;
    result
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[tokio::test]
    async fn the_target_uses_the_apps_http_client_settings() {
        let config = dcy::Config::builder()
            .address("http://127.0.0.1:9")
            .build()
            .unwrap();
        let discovery = dcy::Discovery::new(dcy::Client::new(config).unwrap());
        let settings = format!("{:?}", http_client());
        assert!(settings.contains("30s"), "the request timeout: {settings}");
        let d = format!("{:?}", Target::discovery(&discovery).http);
        assert!(d.contains(&format!("http: {settings}")), "{d}");
    }
}
