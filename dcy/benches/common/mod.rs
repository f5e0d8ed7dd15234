//! Shared by dcy's benches: an in-process devagent on its own runtime thread,
//! raw HTTP registrations (the load average and the machine come from
//! `testkit::bench`).
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::net::SocketAddr;
use std::time::Duration;

/// Bound of every single HTTP call the benches make themselves.
pub const IO_TIMEOUT: Duration = Duration::from_secs(10);

/// A devagent running on its own multi-thread tokio runtime in a separate
/// OS thread, so the measured runtime does not share its workers.
#[derive(Debug)]
pub struct InProcessAgent {
    pub http: SocketAddr,
    pub dns: Option<SocketAddr>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl InProcessAgent {
    /// Starts the agent (HTTP on a free port; DNS on a free port when `dns`).
    pub fn start(dns: bool) -> InProcessAgent {
        let (ready_tx, ready_rx) = std::sync::mpsc::channel();
        let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
        let thread = std::thread::Builder::new()
            .name("devagent".into())
            .spawn(move || {
                let rt = tokio::runtime::Builder::new_multi_thread()
                    .worker_threads(2)
                    .thread_name("devagent-rt")
                    .enable_all()
                    .build()
                    .expect("building the devagent runtime");
                rt.block_on(async move {
                    let mut b = devagent::Agent::builder().http_port(0).node_name("bench");
                    b = if dns { b.dns_port(0) } else { b.without_dns() };
                    let agent = match b.start().await {
                        Ok(a) => a,
                        Err(e) => {
                            let _ = ready_tx.send(Err(e.to_string()));
                            return;
                        }
                    };
                    let _ = ready_tx.send(Ok((agent.http_addr(), agent.dns_addr())));
                    // Bounded: the owner stops it, or it ends after an hour.
                    let _ = tokio::time::timeout(Duration::from_secs(3600), stop_rx).await;
                    let _ = tokio::time::timeout(Duration::from_secs(10), agent.shutdown()).await;
                });
            })
            .expect("spawning the devagent thread");
        let (http, dns) = ready_rx
            .recv_timeout(Duration::from_secs(10))
            .expect("devagent did not report its addresses within 10 s")
            .unwrap_or_else(|e| panic!("devagent did not start: {e}"));
        InProcessAgent {
            http,
            dns,
            stop: Some(stop_tx),
            thread: Some(thread),
        }
    }

    /// `http://addr`.
    pub fn url(&self) -> String {
        format!("http://{}", self.http)
    }

    /// Stops the agent and joins its thread.
    pub fn stop(mut self) {
        self.stop_inner();
    }

    fn stop_inner(&mut self) {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Drop for InProcessAgent {
    fn drop(&mut self) {
        self.stop_inner();
    }
}

/// A dcy client for `http` with the given watch wait.
pub fn dcy_client(http: SocketAddr, watch_wait: Duration) -> dcy::Client {
    let cfg = dcy::Config::builder()
        .address(&format!("http://{http}"))
        .watch_wait(watch_wait)
        .request_timeout(IO_TIMEOUT)
        .build()
        .expect("dcy config");
    dcy::Client::new(cfg).expect("dcy client")
}

/// A plain HTTP client for the bench's own calls to the agent.
pub fn raw_client() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(IO_TIMEOUT)
        .build()
        .expect("building the raw HTTP client")
}

/// `PUT /v1/agent/service/register` of one instance with a passing 10m TTL check
/// (check ID `service:<id>`).
pub async fn register(
    http: &reqwest::Client,
    base: &str,
    name: &str,
    id: &str,
    address: &str,
    port: u16,
) -> Result<(), String> {
    let body = serde_json::json!({
        "Name": name,
        "ID": id,
        "Address": address,
        "Port": port,
        "Check": {"TTL": "10m", "Status": "passing"},
    });
    let resp = http
        .put(format!("{base}/v1/agent/service/register"))
        .json(&body)
        .send()
        .await
        .map_err(|e| format!("registering {id}: {e}"))?;
    if !resp.status().is_success() {
        return Err(format!("registering {id}: HTTP {}", resp.status()));
    }
    Ok(())
}

/// A PUT without a body; any non-2xx is an error.
pub async fn put(http: &reqwest::Client, url: &str) -> Result<(), String> {
    let resp = http
        .put(url)
        .send()
        .await
        .map_err(|e| format!("PUT {url}: {e}"))?;
    if !resp.status().is_success() {
        return Err(format!("PUT {url}: HTTP {}", resp.status()));
    }
    Ok(())
}

pub use testkit::bench::{load1, machine};

/// `benches/results/<file>` at the workspace root.
pub fn results_path(file: &str) -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join("benches")
        .join("results")
        .join(file)
}
