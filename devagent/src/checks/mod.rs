//! The runner of active checks, as Consul's `agent/checks`: HTTP and TCP
//! here, script and Docker in `script`/`docker`, UDP, gRPC and H2PING in
//! `net`, alias in `alias`. A first run comes after a random stagger within
//! the interval, then one run per interval; results are fed to the store
//! with their Consul-formatted output. Scripts and Docker commands run at
//! most [`MAX_CONCURRENT_SCRIPTS`] at a time.

mod alias;
mod docker;
mod net;
mod script;
mod tls;

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;

pub(crate) use docker::docker_socket;
pub(crate) use net::parse_grpc_target;

use crate::state::{RunnerSpawn, Store};
use crate::types::{CheckSpec, Status};

/// Timeout of a check that does not set one.
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);
/// Interval of a check that does not set one (cannot happen after validation).
const DEFAULT_INTERVAL: Duration = Duration::from_secs(10);
/// Response bytes kept in the output.
const BODY_MAX: usize = 4096;
/// Script and Docker checks running at once; the others wait their turn.
pub(crate) const MAX_CONCURRENT_SCRIPTS: usize = 16;

/// Whether the runner has a task for this check (TTL checks have none).
pub(crate) fn is_active(spec: &CheckSpec) -> bool {
    let m = &spec.more;
    spec.http.is_some()
        || spec.tcp.is_some()
        || !m.script_args.is_empty()
        || !m.udp.is_empty()
        || !m.grpc.is_empty()
        || !m.h2ping.is_empty()
        || !m.alias_node.is_empty()
        || !m.alias_service.is_empty()
}

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
    scripts: Arc<Semaphore>,
    shutdown: CancellationToken,
}

impl CheckRunner {
    pub(crate) fn new(store: Arc<Store>, shutdown: CancellationToken) -> CheckRunner {
        CheckRunner {
            store,
            clients: Arc::new(Clients::default()),
            scripts: Arc::new(Semaphore::new(MAX_CONCURRENT_SCRIPTS)),
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
        if !spec.more.alias_node.is_empty() || !spec.more.alias_service.is_empty() {
            return self.run_alias(&check_id, &spec.more, &token).await;
        }
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
        let m = &spec.more;
        if !m.grpc.is_empty() {
            let tls = net::Tls {
                on: m.grpc_use_tls,
                skip_verify: spec.tls_skip_verify,
                server_name: &spec.tls_server_name,
            };
            return net::grpc(&m.grpc, tls, timeout).await;
        }
        if !m.script_args.is_empty() {
            let Ok(_permit) = self.scripts.acquire().await else {
                return (Status::Critical, "the agent is shutting down".into());
            };
            let timeout = spec.timeout.unwrap_or(script::SCRIPT_TIMEOUT);
            if !m.docker_container_id.is_empty() {
                return docker::run(spec, timeout).await;
            }
            return script::run(&m.script_args, timeout, spec.output_max_size).await;
        }
        if !m.udp.is_empty() {
            return net::udp(&m.udp, timeout).await;
        }
        if !m.h2ping.is_empty() {
            let tls = net::Tls {
                on: m.h2ping_use_tls,
                skip_verify: spec.tls_skip_verify,
                server_name: &spec.tls_server_name,
            };
            return net::h2ping(&m.h2ping, tls, timeout).await;
        }
        if let Some(url) = &spec.http {
            return self.probe_http(url, spec, timeout).await;
        }
        if let Some(addr) = &spec.tcp {
            return probe_tcp(addr, timeout).await;
        }
        (Status::Critical, "check has no target to probe".into())
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
