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
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError, RwLock};
use std::time::{Duration, Instant};

use bytes::Bytes;
use reqwest::header::HeaderMap;
use reqwest::Method;

use crate::discovery::{rewrite, service_host, Discovery, Instance, Service};
use crate::error::{Error, ErrorKind, Result};

/// How long an instance that refused a connection is skipped.
const EJECT_FOR: Duration = Duration::from_secs(5);

/// A service-aware HTTP client. Cheap to clone.
#[derive(Clone, Debug)]
pub struct HttpClient {
    discovery: Discovery,
    http: reqwest::Client,
    attempts: usize,
    /// The handles of the services this client has resolved, so that a
    /// request costs a read lock, not a lookup with a new key.
    services: Arc<RwLock<HashMap<String, Service>>>,
    ejected: Arc<Mutex<HashMap<String, Instant>>>,
    /// Whether `ejected` may hold anything (a request skips its lock if not).
    any_ejected: Arc<AtomicBool>,
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
            services: Arc::new(RwLock::new(HashMap::new())),
            ejected: Arc::new(Mutex::new(HashMap::new())),
            any_ejected: Arc::new(AtomicBool::new(false)),
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
        if !self.any_ejected.load(Ordering::Relaxed) {
            return false;
        }
        let mut map = self.ejected.lock().unwrap_or_else(PoisonError::into_inner);
        let ejected = match map.get(&inst.id) {
            Some(until) if *until > Instant::now() => true,
            Some(_) => {
                map.remove(&inst.id);
                false
            }
            None => false,
        };
        if map.is_empty() {
            self.any_ejected.store(false, Ordering::Relaxed);
        }
        ejected
    }

    fn eject(&self, inst: &Instance) {
        let mut map = self.ejected.lock().unwrap_or_else(PoisonError::into_inner);
        map.insert(inst.id.clone(), Instant::now() + EJECT_FOR);
        self.any_ejected.store(true, Ordering::Relaxed);
    }

    /// The discovery handle of `name`, from this client's cache.
    fn service(&self, name: &str) -> Service {
        let cached = self
            .services
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .get(name)
            .cloned();
        cached.unwrap_or_else(|| {
            let service = self.discovery.service(name);
            self.services
                .write()
                .unwrap_or_else(PoisonError::into_inner)
                .insert(name.to_string(), service.clone());
            service
        })
    }

    /// The next instance not tried yet and not ejected; failing that, any
    /// instance not tried yet.
    fn choose(&self, service: &Service, tried: &[Arc<Instance>]) -> Option<Arc<Instance>> {
        let untried = |i: &Arc<Instance>| !tried.iter().any(|t| t.id == i.id);
        let count = service.instances().len();
        for _ in 0..count.max(1) * 2 {
            match service.pick() {
                Some(i) if untried(&i) && !self.is_ejected(&i) => return Some(i),
                Some(_) => continue,
                None => break,
            }
        }
        service.instances().as_slice().iter().find(|i| untried(i)).cloned()
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
        let service = self.service(&name);
        if !service.instances().is_ready() {
            // A cold handle: give the first answer a moment instead of failing at once.
            let _ = service.ready(Duration::from_secs(5)).await;
        }
        let mut tried: Vec<Arc<Instance>> = Vec::new();
        let mut last: Option<Error> = None;
        for _ in 0..self.attempts {
            let Some(inst) = self.choose(&service, &tried) else {
                break;
            };
            tried.push(Arc::clone(&inst));
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
