//! Readiness probes: registrar checks the program itself, every 20 ms, so a
//! service is registered (as passing) right after its port opens, instead
//! of waiting for the agent's first check run (at least 1 s in Consul).

use std::fmt;
use std::time::Duration;

use dcy::agent::{CheckRegistration, ServiceRegistration};
use tokio::time::Instant;

/// How often a probe runs until the program is ready.
pub const PROBE_EVERY: Duration = Duration::from_millis(20);

/// How registrar tells the program is ready.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Probe {
    /// Ready at once (no port, no active check: a TTL check or none).
    None,
    /// Ready when `host:port` accepts a TCP connection.
    Tcp(String),
    /// Ready when the URL answers 2xx.
    Http {
        /// The URL.
        url: String,
        /// HTTP method (GET when empty).
        method: String,
        /// Headers to send.
        header: Vec<(String, String)>,
        /// Accept any certificate (the check's `tls_skip_verify`).
        tls_skip_verify: bool,
    },
}

impl Probe {
    /// The probe for a service: its first HTTP check, else its first TCP
    /// check, else a TCP connect to its address (127.0.0.1 if none) and port.
    pub fn for_service(reg: &ServiceRegistration) -> Probe {
        if let Some(c) = reg.checks.iter().find(|c| !c.http.is_empty()) {
            return Probe::http(c);
        }
        if let Some(c) = reg.checks.iter().find(|c| !c.tcp.is_empty()) {
            return Probe::Tcp(c.tcp.clone());
        }
        if reg.port != 0 {
            let host = match reg.address.as_str() {
                "" => "127.0.0.1".to_string(),
                a if a.contains(':') && !a.starts_with('[') => format!("[{a}]"),
                a => a.to_string(),
            };
            return Probe::Tcp(format!("{host}:{}", reg.port));
        }
        Probe::None
    }

    fn http(c: &CheckRegistration) -> Probe {
        Probe::Http {
            url: c.http.clone(),
            method: c.method.clone(),
            header: c
                .header
                .iter()
                .flat_map(|(k, vs)| vs.iter().map(move |v| (k.clone(), v.clone())))
                .collect(),
            tls_skip_verify: c.tls_skip_verify,
        }
    }
}

impl fmt::Display for Probe {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Probe::None => f.write_str("nothing (ready at start)"),
            Probe::Tcp(a) => write!(f, "a TCP connection to {a}"),
            Probe::Http { url, .. } => write!(f, "a 2xx answer from {url}"),
        }
    }
}

/// Runs `probe` every [`PROBE_EVERY`] until it succeeds (`Ok` with the time
/// it took) or `timeout` passes (`Err` with the last failure).
pub async fn until_ready(probe: &Probe, timeout: Duration) -> Result<Duration, String> {
    let started = Instant::now();
    let deadline = started + timeout;
    let http = match probe {
        Probe::Http {
            tls_skip_verify, ..
        } => Some(
            reqwest::Client::builder()
                .no_proxy()
                .danger_accept_invalid_certs(*tls_skip_verify)
                .timeout(Duration::from_secs(2))
                .build()
                .map_err(|e| format!("building the HTTP probe: {e}"))?,
        ),
        _ => None,
    };
    loop {
        let attempt = match probe {
            Probe::None => Ok(()),
            Probe::Tcp(addr) => tcp(addr, deadline).await,
            Probe::Http {
                url,
                method,
                header,
                ..
            } => match &http {
                Some(client) => get(client, url, method, header).await,
                None => Ok(()),
            },
        };
        let next = Instant::now() + PROBE_EVERY;
        match attempt {
            Ok(()) => return Ok(started.elapsed()),
            Err(last) if next >= deadline => return Err(last),
            Err(_) => {}
        }
        tokio::time::sleep_until(next).await;
    }
}

async fn tcp(addr: &str, deadline: Instant) -> Result<(), String> {
    let limit = deadline
        .saturating_duration_since(Instant::now())
        .min(Duration::from_secs(1));
    match tokio::time::timeout(limit, tokio::net::TcpStream::connect(addr)).await {
        Ok(Ok(_)) => Ok(()),
        Ok(Err(e)) => Err(format!("connecting to {addr}: {e}")),
        Err(_) => Err(format!("connecting to {addr}: no answer within {limit:?}")),
    }
}

async fn get(
    client: &reqwest::Client,
    url: &str,
    method: &str,
    header: &[(String, String)],
) -> Result<(), String> {
    let method = if method.is_empty() { "GET" } else { method };
    let method = reqwest::Method::from_bytes(method.as_bytes())
        .map_err(|e| format!("method {method}: {e}"))?;
    let mut req = client.request(method, url);
    for (k, v) in header {
        req = req.header(k, v);
    }
    match req.send().await {
        Ok(r) if r.status().is_success() => Ok(()),
        Ok(r) => Err(format!("{url} answered {}", r.status())),
        Err(e) => Err(format!("{url}: {}", e.without_url())),
    }
}
