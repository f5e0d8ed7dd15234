//! The runner of active checks (HTTP and TCP), as Consul's `agent/checks`:
//! a first run after a random stagger within the interval, then one run per
//! interval, results fed to the store with their Consul-formatted output.

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use crate::state::{RunnerSpawn, Store};
use crate::types::{CheckSpec, Status};

/// Timeout of a check that does not set one.
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);
/// Interval of a check that does not set one (cannot happen after validation).
const DEFAULT_INTERVAL: Duration = Duration::from_secs(10);
/// Response bytes kept in the output.
const BODY_MAX: usize = 4096;

/// HTTP clients for each combination of TLS verification and redirects.
#[derive(Debug, Default)]
struct Clients {
    verify_follow: OnceLock<Result<reqwest::Client, String>>,
    verify_nofollow: OnceLock<Result<reqwest::Client, String>>,
    noverify_follow: OnceLock<Result<reqwest::Client, String>>,
    noverify_nofollow: OnceLock<Result<reqwest::Client, String>>,
}

impl Clients {
    fn get(&self, spec: &CheckSpec) -> Result<&reqwest::Client, String> {
        let cell = match (spec.tls_skip_verify, spec.disable_redirects) {
            (false, false) => &self.verify_follow,
            (false, true) => &self.verify_nofollow,
            (true, false) => &self.noverify_follow,
            (true, true) => &self.noverify_nofollow,
        };
        cell.get_or_init(|| {
            let mut headers = reqwest::header::HeaderMap::new();
            headers.insert(
                reqwest::header::ACCEPT,
                reqwest::header::HeaderValue::from_static("text/plain, text/*, */*"),
            );
            reqwest::Client::builder()
                .user_agent("Consul Health Check")
                .default_headers(headers)
                .pool_max_idle_per_host(0)
                .danger_accept_invalid_certs(spec.tls_skip_verify)
                .redirect(if spec.disable_redirects {
                    reqwest::redirect::Policy::none()
                } else {
                    reqwest::redirect::Policy::limited(10)
                })
                .build()
                .map_err(|e| format!("building the HTTP check client: {e}"))
        })
        .as_ref()
        .map_err(Clone::clone)
    }
}

/// Starts and owns the tasks of active checks.
#[derive(Clone, Debug)]
pub(crate) struct CheckRunner {
    store: Arc<Store>,
    clients: Arc<Clients>,
    shutdown: CancellationToken,
}

impl CheckRunner {
    pub(crate) fn new(store: Arc<Store>, shutdown: CancellationToken) -> CheckRunner {
        CheckRunner {
            store,
            clients: Arc::new(Clients::default()),
            shutdown,
        }
    }

    /// Starts one task per check; each stops when its token or the agent is cancelled.
    pub(crate) fn spawn_all(&self, spawns: Vec<RunnerSpawn>) {
        for spawn in spawns {
            let runner = self.clone();
            tokio::spawn(async move { runner.run(spawn).await });
        }
    }

    async fn run(self, spawn: RunnerSpawn) {
        let RunnerSpawn {
            check_id,
            spec,
            token,
        } = spawn;
        let interval = spec.interval.unwrap_or(DEFAULT_INTERVAL);
        let stagger = Duration::from_nanos(fastrand::u64(0..(interval.as_nanos() as u64).max(1)));
        if !self.pause(&token, stagger).await {
            return;
        }
        loop {
            let (status, output) = tokio::select! {
                r = self.probe(&spec) => r,
                _ = token.cancelled() => return,
                _ = self.shutdown.cancelled() => return,
            };
            if token.is_cancelled() {
                return;
            }
            self.store.record_check_result(&check_id, status, &output);
            if !self.pause(&token, interval).await {
                return;
            }
        }
    }

    /// Sleeps; false when the check or the agent was stopped meanwhile.
    async fn pause(&self, token: &CancellationToken, d: Duration) -> bool {
        tokio::select! {
            _ = tokio::time::sleep(d) => true,
            _ = token.cancelled() => false,
            _ = self.shutdown.cancelled() => false,
        }
    }

    async fn probe(&self, spec: &CheckSpec) -> (Status, String) {
        let timeout = spec.timeout.unwrap_or(DEFAULT_TIMEOUT);
        if let Some(url) = &spec.http {
            return self.probe_http(url, spec, timeout).await;
        }
        if let Some(addr) = &spec.tcp {
            return probe_tcp(addr, timeout).await;
        }
        (
            Status::Critical,
            "check has neither HTTP nor TCP target".into(),
        )
    }

    async fn probe_http(&self, url: &str, spec: &CheckSpec, timeout: Duration) -> (Status, String) {
        let method = if spec.method.is_empty() {
            "GET"
        } else {
            spec.method.as_str()
        };
        let client = match self.clients.get(spec) {
            Ok(c) => c,
            Err(e) => return (Status::Critical, e),
        };
        let Ok(m) = reqwest::Method::from_bytes(method.as_bytes()) else {
            return (Status::Critical, format!("invalid HTTP method {method:?}"));
        };
        let mut req = client.request(m, url).timeout(timeout);
        for (name, values) in &spec.header {
            for v in values {
                req = req.header(name.as_str(), v.as_str());
            }
        }
        if !spec.body.is_empty() {
            req = req.body(spec.body.clone());
        }
        let resp = match req.send().await {
            Ok(r) => r,
            Err(e) => {
                return (
                    Status::Critical,
                    format!("{method} {url}: {}", error_chain(&e)),
                )
            }
        };
        let code = resp.status();
        let body = match resp.bytes().await {
            Ok(b) => b,
            Err(e) => {
                return (
                    Status::Critical,
                    format!("{method} {url}: reading body: {e}"),
                )
            }
        };
        let shown = &body[..body.len().min(BODY_MAX)];
        let output = format!(
            "HTTP {method} {url}: {} {} Output: {}",
            code.as_u16(),
            code.canonical_reason().unwrap_or(""),
            String::from_utf8_lossy(shown)
        );
        let status = if code.is_success() {
            Status::Passing
        } else if code.as_u16() == 429 {
            Status::Warning
        } else {
            Status::Critical
        };
        (status, output)
    }
}

async fn probe_tcp(addr: &str, timeout: Duration) -> (Status, String) {
    match tokio::time::timeout(timeout, tokio::net::TcpStream::connect(addr)).await {
        Ok(Ok(_)) => (Status::Passing, format!("TCP connect {addr}: Success")),
        Ok(Err(e)) => (Status::Critical, format!("dial tcp {addr}: {e}")),
        Err(_) => (Status::Critical, format!("dial tcp {addr}: i/o timeout")),
    }
}

fn error_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut cur = e.source();
    while let Some(c) = cur {
        s.push_str(": ");
        s.push_str(&c.to_string());
        cur = c.source();
    }
    s
}
