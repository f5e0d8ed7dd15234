//! An HTTP client that resolves service names through [`Discovery`] and
//! retries on another instance when a connection fails.
//!
//! A request that never reached an instance (connection refused, no route)
//! is retried on another one whatever its method; a request that failed after
//! it may have been sent (reset, timeout) is retried only when its method is
//! idempotent. Instances that refused a connection are skipped for a few
//! seconds, until discovery catches up with their failed health check.
//!
//! The client remembers the services it resolved (at most
//! [`MAX_CACHED_SERVICES`], each dropped once idle for the discovery's idle
//! timeout), so a process that meets many distinct host names stays flat.
//!
//! ```no_run
//! # async fn demo() -> dcy::Result<()> {
//! let http = dcy::Discovery::from_env()?.http()?;
//! let body = http.get("http://worker/squares?n=12").await?.text().await;
//! # Ok(())
//! # }
//! ```

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use reqwest::header::HeaderMap;
use reqwest::Method;

mod target;

use target::Target;

use crate::discovery::{Discovery, Service, ServiceCache};
use crate::error::{Error, ErrorKind, Result};
use crate::instance::{service_host, Instance};
use crate::net::{key, Ejections};

/// How many resolved services an [`HttpClient`] remembers; past that, names
/// are looked up in the [`Discovery`] on each request.
pub const MAX_CACHED_SERVICES: usize = 1024;
/// How long a request to a service with no data yet waits for Consul's
/// first answer.
const COLD_WAIT: Duration = Duration::from_secs(5);

impl Discovery {
    /// An HTTP client that resolves service names and retries on another
    /// instance, on dcy's default reqwest client (2 s to connect, 30 s a
    /// request). Building it fails only when reqwest cannot set up TLS.
    pub fn http(&self) -> Result<HttpClient> {
        Ok(self.http_with(HttpClient::default_client()?))
    }

    /// Like [`Discovery::http`], on this reqwest client (its timeouts, TLS,
    /// proxies, connection pool). Building a reqwest client loads its TLS
    /// roots, a few milliseconds: pass one you already have rather than
    /// replacing the default with [`HttpClient::with_client`].
    ///
    /// ```no_run
    /// # fn demo() -> dcy::Result<()> {
    /// let shared = reqwest::Client::new();
    /// let http = dcy::Discovery::from_env()?.http_with(shared.clone());
    /// # Ok(())
    /// # }
    /// ```
    pub fn http_with(&self, http: reqwest::Client) -> HttpClient {
        HttpClient::new(self.clone(), http)
    }
}

/// A service-aware HTTP client. Cheap to clone.
#[derive(Clone, Debug)]
pub struct HttpClient {
    discovery: Discovery,
    http: reqwest::Client,
    attempts: usize,
    /// The handles of the services this client has resolved. A request
    /// reads them without a lock and without touching a shared counter:
    /// with many callers on several cores, every shared write a request
    /// makes (a lock, a reference count) costs a cache-line transfer.
    services: Arc<ServiceCache>,
    /// Until when an instance (by [`key`] of its ID) is skipped.
    ejected: Arc<Ejections>,
}

fn idempotent(m: &Method) -> bool {
    matches!(
        *m,
        Method::GET | Method::HEAD | Method::PUT | Method::DELETE | Method::OPTIONS | Method::TRACE
    )
}

impl HttpClient {
    /// dcy's default reqwest client: 2 s to connect, 30 s a request.
    fn default_client() -> Result<reqwest::Client> {
        reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(2))
            .timeout(Duration::from_secs(30))
            .build()
            .map_err(|e| {
                Error::caused_by(
                    ErrorKind::Config,
                    "building the HTTP client for services",
                    &e,
                )
            })
    }

    fn new(discovery: Discovery, http: reqwest::Client) -> HttpClient {
        HttpClient {
            services: discovery.new_cache(),
            discovery,
            http,
            attempts: 3,
            ejected: Arc::new(Ejections::default()),
        }
    }

    /// Uses this reqwest client (for its timeouts, TLS, proxies); see also
    /// [`Discovery::http_with`], which does not build the default one first.
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

    fn is_ejected(&self, id: &str) -> bool {
        self.ejected.is_ejected(id)
    }

    fn eject(&self, id: u64) {
        self.ejected.eject_key(id);
    }

    /// The discovery handle of `name`, from this client's cache (cloned:
    /// for the slow path, where a request waits or retries). A new name is
    /// cached while there is room, after the idle ones are dropped.
    fn service(&self, name: &str) -> Service {
        if let Some(s) = self.services.load().get(name) {
            s.shared.touch();
            return s.clone();
        }
        let service = self.discovery.service_by_host(name);
        // A copy of the map per new name: bounded by the cap (idle names are
        // dropped by the discovery's sweeper).
        if self.services.load().len() < MAX_CACHED_SERVICES {
            self.services.rcu(|map| {
                let mut map = HashMap::clone(map);
                if map.len() < MAX_CACHED_SERVICES {
                    map.entry(name.to_string())
                        .or_insert_with(|| service.clone());
                }
                map
            });
        }
        service
    }

    /// Names this client remembers now.
    pub fn cached_services(&self) -> usize {
        self.services.load().len()
    }

    /// The next instance of `service` not tried yet and not ejected (failing
    /// that, any not tried yet), made into a request.
    fn pick(
        &self,
        service: &Service,
        target: &Target<'_>,
        method: &Method,
        tried: &[u64],
    ) -> Option<Picked> {
        let untried = |i: &Instance| tried.is_empty() || !tried.contains(&key(&i.id));
        service.choose_with(
            |i| untried(i) && !self.is_ejected(&i.id),
            untried,
            |i| Picked {
                req: target.request(&self.http, method, i).map_err(|e| {
                    Error::new(ErrorKind::InvalidInput, format!("instance {}: {e}", i.id))
                }),
                id: key(&i.id),
            },
        )
    }

    /// The first attempt's pick from a warm cached handle, without cloning
    /// the handle; `None` when the handle is cold (not cached or no answer
    /// from Consul yet).
    fn pick_warm(
        &self,
        name: &str,
        target: &Target<'_>,
        method: &Method,
    ) -> Option<Option<Picked>> {
        let services = self.services.load();
        let service = services.get(name).filter(|s| s.is_ready())?;
        service.shared.touch();
        Some(self.pick(service, target, method, &[]))
    }

    /// Sends a request; a service-name host is resolved for every attempt.
    pub async fn send(
        &self,
        method: Method,
        url: &str,
        headers: HeaderMap,
        body: Option<Bytes>,
    ) -> Result<reqwest::Response> {
        let target = match Target::of(url) {
            Some(t) => t,
            None => {
                let parsed = url::Url::parse(url).map_err(|e| {
                    Error::new(ErrorKind::InvalidInput, format!("invalid URL {url:?}: {e}"))
                })?;
                match service_host(&parsed) {
                    Some(name) => Target::Parsed(parsed, name),
                    None => Target::Other(parsed),
                }
            }
        };
        let name = match &target {
            Target::Other(parsed) => {
                let pending = with_parts(
                    self.http.request(method.clone(), parsed.clone()),
                    headers,
                    body,
                )
                .send();
                return pending.await.map_err(|e| {
                    Error::caused_by(
                        ErrorKind::Connect,
                        format!("{method} {url}"),
                        &e.without_url(),
                    )
                });
            }
            Target::Fast { name, .. } => *name,
            Target::Parsed(_, name) => name.as_str(),
        };
        let mut attempt = Attempt {
            method,
            url,
            name,
            target: &target,
            headers,
            body,
            tried: Vec::new(),
            last: None,
        };
        // The common case, kept small because the future of every request
        // holds it: a warm handle, no handle clone, no instance clone, an
        // answer from the first instance, and only reqwest's future held
        // across the await (not the request it was made from). Anything
        // else goes on in `retry`, boxed.
        let first = match self.pick_warm(name, &target, &attempt.method) {
            Some(Some(picked)) => self
                .prepared(&mut attempt, picked)
                .map(|(req, id)| (req.send(), id)),
            _ => None,
        };
        if let Some((pending, id)) = first {
            match pending.await {
                Ok(resp) => return Ok(resp),
                Err(e) => self.failed(&mut attempt, id, e)?,
            }
        }
        Box::pin(self.retry(attempt)).await
    }

    /// The attempts after the first (or all of them, from a cold handle).
    async fn retry(&self, mut attempt: Attempt<'_>) -> Result<reqwest::Response> {
        let service = self.service(attempt.name);
        let mut waited = false;
        while attempt.tried.len() < self.attempts {
            if !waited && !service.is_ready() {
                // A cold handle: give Consul's first answer a moment
                // instead of failing at once (not past a first failure).
                waited = true;
                service.answered(COLD_WAIT).await;
            }
            let Some(picked) = self.pick(&service, attempt.target, &attempt.method, &attempt.tried)
            else {
                break;
            };
            let Some((req, id)) = self.prepared(&mut attempt, picked) else {
                continue;
            };
            match req.send().await {
                Ok(resp) => return Ok(resp),
                Err(e) => self.failed(&mut attempt, id, e)?,
            }
        }
        let Attempt {
            method,
            url,
            name,
            last,
            ..
        } = attempt;
        Err(last.unwrap_or_else(|| {
            let why = match (service.is_ready(), service.status().error) {
                (true, _) => "no healthy instance".to_string(),
                (false, Some(e)) => format!("no data yet: Consul is failing: {e}"),
                (false, None) => "no data yet".to_string(),
            };
            Error::new(ErrorKind::NoData, format!("{method} {url}: {name}: {why}"))
        }))
    }

    /// The request to a picked instance with the headers and body, and the
    /// instance's [`key`]; `None` (the instance skipped and recorded as
    /// tried) when its address cannot be put in the URL: a registration
    /// mistake of one instance, not of the request.
    fn prepared(
        &self,
        attempt: &mut Attempt<'_>,
        Picked { req, id }: Picked,
    ) -> Option<(reqwest::RequestBuilder, u64)> {
        match req {
            // (Cloning an empty header map allocates nothing.)
            Ok(req) => Some((
                with_parts(req, attempt.headers.clone(), attempt.body.clone()),
                id,
            )),
            Err(e) => {
                tracing::warn!(service = %attempt.name, error = %e, "skipping an instance");
                self.eject(id);
                attempt.tried.push(id);
                attempt.last = Some(e);
                None
            }
        }
    }

    /// Records a failed attempt on instance `id` (its [`key`]); `Err` when
    /// the request must not be tried again (it may have been sent, and its
    /// method is not idempotent).
    fn failed(&self, attempt: &mut Attempt<'_>, id: u64, e: reqwest::Error) -> Result<()> {
        let (method, url, name) = (&attempt.method, attempt.url, attempt.name);
        // A builder error (the URL reqwest was given) never left.
        let never_sent = e.is_connect() || e.is_builder();
        attempt.tried.push(id);
        if never_sent {
            self.eject(id);
        }
        // The instance's address, from the URL it was sent to.
        let via = e
            .url()
            .map_or_else(|| name.to_string(), |u| u.authority().to_string());
        let err = Error::caused_by(
            ErrorKind::Connect,
            format!("{method} {url} via {via}"),
            &e.without_url(),
        );
        if !(never_sent || idempotent(method)) {
            return Err(err);
        }
        tracing::debug!(service = %name, instance = %via, error = %err, "retrying on another instance");
        attempt.last = Some(err);
        Ok(())
    }
}

/// A request on its way through the instances of a service.
struct Attempt<'a> {
    method: Method,
    url: &'a str,
    name: &'a str,
    target: &'a Target<'a>,
    headers: HeaderMap,
    body: Option<Bytes>,
    /// [`key`] of the instances that failed or were skipped, in order
    /// (empty, not allocated, when the first instance answers).
    tried: Vec<u64>,
    last: Option<Error>,
}

/// `req` with `headers` (when there are any) and `body`.
fn with_parts(
    mut req: reqwest::RequestBuilder,
    headers: HeaderMap,
    body: Option<Bytes>,
) -> reqwest::RequestBuilder {
    if !headers.is_empty() {
        req = req.headers(headers);
    }
    if let Some(b) = body {
        req = req.body(b);
    }
    req
}

/// One attempt's instance, made into a request.
struct Picked {
    req: Result<reqwest::RequestBuilder>,
    /// [`key`] of the instance's ID.
    id: u64,
}
