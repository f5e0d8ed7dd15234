//! An HTTP client that resolves service names through [`Discovery`] and
//! retries on another instance when a connection fails.
//!
//! A request that never reached an instance (connection refused, no route)
//! is retried on another one whatever its method; a request that failed after
//! it may have been sent (reset, timeout) is retried only when its method is
//! idempotent. Instances that refused a connection are skipped for a few
//! seconds, until discovery catches up with their failed health check.
//!
//! ```no_run
//! # async fn demo() -> dcy::Result<()> {
//! let http = dcy::Discovery::from_env()?.http();
//! let body = http.get("http://worker/squares?n=12").await?.text().await;
//! # Ok(())
//! # }
//! ```

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use reqwest::header::HeaderMap;
use reqwest::Method;

use crate::discovery::{rewrite, service_host, Discovery, Instance};
use crate::error::{Error, ErrorKind, Result};

/// How long an instance that refused a connection is skipped.
const EJECT_FOR: Duration = Duration::from_secs(5);

/// A service-aware HTTP client. Cheap to clone.
#[derive(Clone, Debug)]
pub struct HttpClient {
    discovery: Discovery,
    http: reqwest::Client,
    attempts: usize,
    ejected: Arc<Mutex<HashMap<String, Instant>>>,
}

fn idempotent(m: &Method) -> bool {
    matches!(
        *m,
        Method::GET | Method::HEAD | Method::PUT | Method::DELETE | Method::OPTIONS | Method::TRACE
    )
}

impl HttpClient {
    pub(crate) fn new(discovery: Discovery) -> HttpClient {
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(2))
            .timeout(Duration::from_secs(30))
            .build()
            .unwrap_or_default();
        HttpClient {
            discovery,
            http,
            attempts: 3,
            ejected: Arc::new(Mutex::new(HashMap::new())),
        }
    }

    /// Uses this reqwest client (for its timeouts, TLS, proxies).
    pub fn with_client(mut self, http: reqwest::Client) -> HttpClient {
        self.http = http;
        self
    }

    /// Tries at most this many instances per request (default 3).
    pub fn attempts(mut self, n: usize) -> HttpClient {
        self.attempts = n.max(1);
        self
    }

    /// `GET`.
    pub async fn get(&self, url: &str) -> Result<reqwest::Response> {
        self.send(Method::GET, url, HeaderMap::new(), None).await
    }

    /// `POST` with a JSON body.
    pub async fn post_json<T: serde::Serialize + ?Sized>(
        &self,
        url: &str,
        body: &T,
    ) -> Result<reqwest::Response> {
        let bytes = serde_json::to_vec(body).map_err(|e| Error::decode("the request body", e))?;
        let mut h = HeaderMap::new();
        h.insert(
            reqwest::header::CONTENT_TYPE,
            reqwest::header::HeaderValue::from_static("application/json"),
        );
        self.send(Method::POST, url, h, Some(Bytes::from(bytes)))
            .await
    }

    fn is_ejected(&self, inst: &Instance) -> bool {
        let mut map = self
            .ejected
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        match map.get(&inst.id) {
            Some(until) if *until > Instant::now() => true,
            Some(_) => {
                map.remove(&inst.id);
                false
            }
            None => false,
        }
    }

    fn eject(&self, inst: &Instance) {
        self.ejected
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .insert(inst.id.clone(), Instant::now() + EJECT_FOR);
    }

    /// Sends a request; a service-name host is resolved for every attempt.
    pub async fn send(
        &self,
        method: Method,
        url: &str,
        headers: HeaderMap,
        body: Option<Bytes>,
    ) -> Result<reqwest::Response> {
        let parsed = url::Url::parse(url).map_err(|e| {
            Error::new(ErrorKind::InvalidInput, format!("invalid URL {url:?}: {e}"))
        })?;
        let Some(name) = service_host(&parsed) else {
            let mut req = self.http.request(method.clone(), parsed).headers(headers);
            if let Some(b) = body {
                req = req.body(b);
            }
            return req.send().await.map_err(|e| {
                Error::new(ErrorKind::Connect, format!("{method} {url}"))
                    .with_source(e.without_url())
            });
        };
        let service = self.discovery.service(&name);
        if !service.instances().is_ready() {
            // A cold handle: give the first answer a moment instead of failing at once.
            let _ = service.ready(Duration::from_secs(5)).await;
        }
        let mut tried: Vec<String> = Vec::new();
        let mut last: Option<Error> = None;
        for _ in 0..self.attempts {
            let count = service.instances().len();
            let mut choice = None;
            for _ in 0..count.max(1) * 2 {
                match service.pick() {
                    Some(i) if !tried.contains(&i.id) && !self.is_ejected(&i) => {
                        choice = Some(i);
                        break;
                    }
                    Some(_) => continue,
                    None => break,
                }
            }
            // All instances tried or ejected: take any untried one.
            let inst = match choice {
                Some(i) => i,
                None => match service
                    .instances()
                    .as_slice()
                    .iter()
                    .find(|i| !tried.contains(&i.id))
                {
                    Some(i) => Arc::clone(i),
                    None => break,
                },
            };
            tried.push(inst.id.clone());
            let mut target = parsed.clone();
            rewrite(&mut target, &inst)?;
            let mut req = self
                .http
                .request(method.clone(), target)
                .headers(headers.clone());
            if let Some(b) = &body {
                req = req.body(b.clone());
            }
            match req.send().await {
                Ok(resp) => return Ok(resp),
                Err(e) => {
                    let never_sent = e.is_connect();
                    if never_sent {
                        self.eject(&inst);
                    }
                    let err = Error::new(
                        ErrorKind::Connect,
                        format!("{method} {url} via {}", inst.authority()),
                    )
                    .with_source(e.without_url());
                    if !(never_sent || idempotent(&method)) {
                        return Err(err);
                    }
                    tracing::debug!(service = %name, instance = %inst.id, error = %err, "retrying on another instance");
                    last = Some(err);
                }
            }
        }
        Err(last.unwrap_or_else(|| {
            let why = if service.instances().is_ready() {
                "no healthy instance"
            } else {
                "no data yet"
            };
            Error::new(ErrorKind::NoData, format!("{method} {url}: {name}: {why}"))
        }))
    }
}
