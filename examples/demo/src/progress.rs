//! The live line of progress, and what Consul says about the demo's own
//! services (those with its tag: a shared Consul's others do not count).
//! Consul's side is followed through dcy's watches (blocking queries that
//! answer when something changes), never polled.

use std::collections::HashSet;
use std::io::Write;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use dcy::watch::{Watch, WatchHub, WatchSpec};

/// The number of services tagged `tag` with a passing check, as it changes.
pub(crate) fn passing_services(hub: &WatchHub, tag: &str) -> Watch<usize> {
    let tag = tag.to_string();
    hub.watch::<Vec<dcy::HealthCheck>>(WatchSpec::health_state("passing"))
        .map(move |checks| {
            let ids: HashSet<&str> = checks
                .iter()
                .filter(|c| !c.service_id.is_empty() && c.service_tags.contains(&tag))
                .map(|c| c.service_id.as_str())
                .collect();
            ids.len()
        })
}

/// Passing and listed instances of `service` tagged `tag`, as they change.
fn instances(hub: &WatchHub, service: &str, tag: &str) -> Watch<(usize, usize)> {
    hub.watch::<Vec<dcy::ServiceEntry>>(WatchSpec::health_service(service).tag(tag))
        .map(|entries| {
            let passing = entries
                .iter()
                .filter(|e| e.aggregated_status() == dcy::Status::Passing)
                .count();
            (passing, entries.len())
        })
}

/// How many services tagged `tag` the agent still holds.
pub(crate) async fn registered_services(client: &dcy::Client, tag: &str) -> dcy::Result<usize> {
    let services = client.agent_services().await?;
    Ok(services
        .values()
        .filter(|s| s.tags.iter().any(|t| t == tag))
        .count())
}

/// What the progress line shows.
#[derive(Debug)]
pub(crate) struct Progress {
    /// On a terminal the line is redrawn in place; else a line every 10 s.
    tty: bool,
    /// The demo's workers in Consul: passing, listed.
    worker_watch: Watch<(usize, usize)>,
    /// The broker nodes (with `--transport nats`).
    node_watch: Option<Watch<(usize, usize)>>,
    workers: usize,
    passing: usize,
    /// Broker nodes passing and listed (with `--transport nats`).
    nodes: Option<(usize, usize)>,
    duplicates: u64,
    ok: u64,
    failed: u64,
    last: Option<(Instant, u64)>,
    rate: u64,
    printed: Option<Instant>,
}

impl Progress {
    /// Follows the workers (and broker nodes) tagged `tag` through `hub`.
    pub(crate) fn new(tty: bool, hub: &WatchHub, tag: &str, broker: bool) -> Progress {
        Progress {
            tty,
            worker_watch: instances(hub, "worker", tag),
            node_watch: broker.then(|| instances(hub, bus::SERVICE, tag)),
            workers: 0,
            passing: 0,
            nodes: None,
            duplicates: 0,
            ok: 0,
            failed: 0,
            last: None,
            rate: 0,
            printed: None,
        }
    }

    /// Takes the latest counts from the watches and reads the app's
    /// `/stats` (the app's own endpoint: Consul is not asked here).
    pub(crate) async fn poll(&mut self, app: SocketAddr, http: &reqwest::Client) {
        if let Some(counts) = self.worker_watch.value() {
            (self.passing, self.workers) = *counts;
        }
        if let Some(counts) = self.node_watch.as_ref().and_then(Watch::value) {
            self.nodes = Some(*counts);
        }
        let stats = match http.get(format!("http://{app}/stats")).send().await {
            Ok(r) => r.json::<app::Stats>().await.ok(),
            Err(_) => None,
        };
        if let Some(s) = stats {
            let now = Instant::now();
            if let Some((at, ok)) = self.last {
                let secs = now.duration_since(at).as_secs_f64();
                if secs > 0.0 {
                    self.rate = (s.ok.saturating_sub(ok) as f64 / secs).round() as u64;
                }
            }
            self.last = Some((now, s.ok));
            self.ok = s.ok;
            self.failed = s.failed;
            self.duplicates = s.duplicates;
        }
    }

    /// The line.
    pub(crate) fn line(&self, upstreams: &str) -> String {
        match self.nodes {
            None => format!(
                "  workers {}/{} passing | app ok {} failed {} ({}/s) | {upstreams}",
                self.passing, self.workers, self.ok, self.failed, self.rate
            ),
            Some((passing, nodes)) => format!(
                "  broker {passing}/{nodes} passing | workers {}/{} passing | app ok {} failed {} duplicates dropped {} ({}/s) | {upstreams}",
                self.passing, self.workers, self.ok, self.failed, self.duplicates, self.rate
            ),
        }
    }

    /// Prints the line: in place on a terminal, else every 10 s.
    pub(crate) fn print(&mut self, upstreams: &str) {
        let line = self.line(upstreams);
        let mut out = std::io::stdout().lock();
        if self.tty {
            let _ = write!(out, "\r{line}\x1b[K");
        } else if self
            .printed
            .is_none_or(|t| t.elapsed() >= Duration::from_secs(10))
        {
            let _ = writeln!(out, "{line}");
            self.printed = Some(Instant::now());
        }
        let _ = out.flush();
    }
}
