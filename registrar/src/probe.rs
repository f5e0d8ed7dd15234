//! Readiness probes: registrar checks the program itself, so a service is
//! registered (as passing) right after its port opens, instead of waiting
//! for the agent's first check run (at least 1 s in Consul).
//!
//! While nothing listens yet (connection refused: no request reaches the
//! program) it probes every 20 ms for the first 5 s, then backs off. Once
//! the program answers but not as ready (a 404 on the check's URL, a
//! timeout) it backs off at once, doubling from 20 ms to 1 s, and says
//! what the answer was: a wrong check URL costs about one probe a second,
//! and a log line, not thousands of requests a minute.

use std::fmt;
use std::time::Duration;

use dcy::agent::{CheckRegistration, ServiceRegistration};
use tokio::time::Instant;

/// The first gap between probes, and the gap while nothing listens yet
/// for the first [`EAGER_FOR`].
pub const PROBE_EVERY: Duration = Duration::from_millis(20);

/// How long refused connections are probed every [`PROBE_EVERY`].
pub const EAGER_FOR: Duration = Duration::from_secs(5);

/// The longest gap between probes.
pub const PROBE_BACKOFF_MAX: Duration = Duration::from_secs(1);

/// Why a probe failed.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Failure {
    /// Nothing listens (yet): the connection was refused.
    NotListening(String),
    /// Something answered, but not as ready (or did not answer in time).
    NotReady(String),
}

impl Failure {
    fn message(self) -> String {
        match self {
            Failure::NotListening(m) | Failure::NotReady(m) => m,
        }
    }
}

/// The gap before the next probe after `failures` failures in a row, the
/// last one `last`, `elapsed` since probing started.
fn next_gap(failures: u32, last: &Failure, elapsed: Duration) -> Duration {
    let eager = matches!(last, Failure::NotListening(_)) && elapsed < EAGER_FOR;
    if eager {
        return PROBE_EVERY;
    }
    PROBE_EVERY
        .saturating_mul(2u32.saturating_pow(failures.min(16)))
        .min(PROBE_BACKOFF_MAX)
}

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

/// Runs `probe` until it succeeds (`Ok` with the time it took) or `timeout`
/// passes (`Err` with the last failure), backing off as the module says.
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
    let mut failures: u32 = 0;
    let mut backing_off = 0u32;
    let mut said: Option<String> = None;
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
        let last = match attempt {
            Ok(()) => return Ok(started.elapsed()),
            Err(f) => f,
        };
        failures += 1;
        let elapsed = started.elapsed();
        if matches!(last, Failure::NotListening(_)) && elapsed < EAGER_FOR {
            backing_off = 0;
        } else {
            backing_off += 1;
        }
        let gap = next_gap(backing_off, &last, elapsed);
        if let Failure::NotReady(m) = &last {
            if said.as_deref() != Some(m) {
                tracing::warn!(
                    "not ready yet: {m}; probing again with growing gaps, up to every {}",
                    gocompat::duration::human(PROBE_BACKOFF_MAX)
                );
                said = Some(m.clone());
            }
        }
        let next = Instant::now() + gap;
        if next >= deadline {
            return Err(format!("{} (after {failures} probes)", last.message()));
        }
        tokio::time::sleep_until(next).await;
    }
}

async fn tcp(addr: &str, deadline: Instant) -> Result<(), Failure> {
    let limit = deadline
        .saturating_duration_since(Instant::now())
        .min(Duration::from_secs(1));
    match tokio::time::timeout(limit, tokio::net::TcpStream::connect(addr)).await {
        Ok(Ok(_)) => Ok(()),
        Ok(Err(e)) if e.kind() == std::io::ErrorKind::ConnectionRefused => {
            Err(Failure::NotListening(format!("connecting to {addr}: {e}")))
        }
        Ok(Err(e)) => Err(Failure::NotReady(format!("connecting to {addr}: {e}"))),
        Err(_) => Err(Failure::NotReady(format!(
            "connecting to {addr}: no answer within {}",
            gocompat::duration::human(limit)
        ))),
    }
}

async fn get(
    client: &reqwest::Client,
    url: &str,
    method: &str,
    header: &[(String, String)],
) -> Result<(), Failure> {
    let method = if method.is_empty() { "GET" } else { method };
    let method = reqwest::Method::from_bytes(method.as_bytes())
        .map_err(|e| Failure::NotReady(format!("method {method}: {e}")))?;
    let mut req = client.request(method, url);
    for (k, v) in header {
        req = req.header(k, v);
    }
    match req.send().await {
        Ok(r) if r.status().is_success() => Ok(()),
        Ok(r) => Err(Failure::NotReady(format!(
            "{url} answered {} (ready means 2xx: is the check's URL right?)",
            r.status()
        ))),
        Err(e) if e.is_connect() => Err(Failure::NotListening(format!(
            "{url}: {}",
            chain(&e.without_url())
        ))),
        Err(e) => Err(Failure::NotReady(format!(
            "{url}: {}",
            chain(&e.without_url())
        ))),
    }
}

/// An error and its causes, `: `-separated.
fn chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut cur = e.source();
    while let Some(c) = cur {
        s.push_str(": ");
        s.push_str(&c.to_string());
        cur = c.source();
    }
    s
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn refused_connections_are_probed_eagerly_then_everything_backs_off() {
        let refused = Failure::NotListening("refused".into());
        let answered = Failure::NotReady("404".into());
        let s = Duration::from_secs;
        assert_eq!(next_gap(7, &refused, s(1)), PROBE_EVERY);
        assert_eq!(next_gap(1, &refused, s(6)), PROBE_EVERY * 2);
        assert_eq!(next_gap(1, &answered, s(0)), PROBE_EVERY * 2);
        assert_eq!(next_gap(3, &answered, s(0)), PROBE_EVERY * 8);
        assert_eq!(next_gap(60, &answered, s(0)), PROBE_BACKOFF_MAX);
    }

    #[tokio::test]
    async fn a_server_answering_404_is_probed_about_once_a_second() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let hits = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let counter = std::sync::Arc::clone(&hits);
        tokio::spawn(async move {
            use tokio::io::{AsyncReadExt, AsyncWriteExt};
            while let Ok((mut s, _)) = listener.accept().await {
                counter.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                let mut buf = [0u8; 1024];
                let _ = s.read(&mut buf).await;
                let _ = s
                    .write_all(
                        b"HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\nconnection: close\r\n\r\n",
                    )
                    .await;
            }
        });
        let probe = Probe::Http {
            url: format!("http://{addr}/health"),
            method: String::new(),
            header: Vec::new(),
            tls_skip_verify: false,
        };
        let err = until_ready(&probe, Duration::from_secs(3))
            .await
            .unwrap_err();
        assert!(err.contains("answered 404 Not Found"), "{err}");
        let n = hits.load(std::sync::atomic::Ordering::Relaxed);
        // 20, 40, 80, 160, 320, 640 ms, then 1 s: 8 or 9 probes in 3 s.
        assert!((5..=10).contains(&n), "{n} probes in 3 s");
    }
}
