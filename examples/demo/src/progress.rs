//! The live line of progress, and what Consul says about the demo's own
//! services (those with its tag: a shared Consul's others do not count).

use std::collections::HashSet;
use std::io::Write;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

/// How many of the services tagged `tag` have a passing check.
pub(crate) async fn passing_services(client: &dcy::Client, tag: &str) -> dcy::Result<usize> {
    let (checks, _) = client
        .health_state("passing", &dcy::QueryOptions::default())
        .await?;
    let ids: HashSet<&str> = checks
        .iter()
        .filter(|c| !c.service_id.is_empty() && c.service_tags.iter().any(|t| t == tag))
        .map(|c| c.service_id.as_str())
        .collect();
    Ok(ids.len())
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
    pub(crate) fn new(tty: bool) -> Progress {
        Progress {
            tty,
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

    /// Reads the demo's workers (and broker nodes) from Consul and the
    /// app's `/stats`.
    pub(crate) async fn poll(
        &mut self,
        client: &dcy::Client,
        app: SocketAddr,
        http: &reqwest::Client,
        tag: &str,
        broker: bool,
    ) {
        let q = dcy::QueryOptions {
            tags: vec![tag.to_string()],
            ..dcy::QueryOptions::default()
        };
        let nodes = async {
            if broker {
                client.health_service(bus::SERVICE, &q).await.ok()
            } else {
                None
            }
        };
        let (all, nodes, stats) = tokio::join!(client.health_service("worker", &q), nodes, async {
            match http.get(format!("http://{app}/stats")).send().await {
                Ok(r) => r.json::<app::Stats>().await.ok(),
                Err(_) => None,
            }
        });
        let count = |entries: &[dcy::ServiceEntry]| {
            let passing = entries
                .iter()
                .filter(|e| e.aggregated_status() == dcy::Status::Passing)
                .count();
            (passing, entries.len())
        };
        if let Ok((entries, _)) = all {
            (self.passing, self.workers) = count(&entries);
        }
        if let Some((entries, _)) = nodes {
            self.nodes = Some(count(&entries));
        }
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
