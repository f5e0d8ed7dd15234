//! The HTTP client: one pooled reqwest client per [`Client`] (reads over
//! plain HTTP or a Unix socket take the lean path of `h1`, which keeps a
//! waiting blocking query small), query options and metadata as the Go
//! client has them, and the mapping of every failure to [`Error`].

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};
use reqwest::{Method, StatusCode};
use serde::de::DeserializeOwned;
use tracing::Instrument;

use crate::config::{Config, Secret, Transport};
use crate::error::{Error, ErrorKind, Result};
use crate::h1::{self, H1};
use crate::metrics::Metrics;

/// Characters left alone in a path segment (RFC 3986 unreserved).
const SEGMENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');
/// Margin added to a blocking query's timeout beyond `wait + wait/16`.
const BLOCKING_MARGIN: Duration = Duration::from_secs(5);

/// Read consistency (Consul's `?stale` / `?consistent`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Consistency {
    /// The leader answers (Consul's default).
    #[default]
    Default,
    /// Any server answers, possibly stale.
    Stale,
    /// The leader answers after checking quorum.
    Consistent,
}

/// Options of a read, as the Go client's `QueryOptions`.
#[derive(Clone, Debug, Default)]
pub struct QueryOptions {
    /// Datacenter (default: the client's, else the agent's).
    pub datacenter: Option<String>,
    /// Block until the index passes this (0: answer at once).
    pub index: u64,
    /// How long to block at most (sent as `<n>ms`).
    pub wait: Option<Duration>,
    /// Consistency mode.
    pub consistency: Consistency,
    /// `filter` expression.
    pub filter: Option<String>,
    /// Sort by round-trip time from this node (`_agent` for the local one).
    pub near: Option<String>,
    /// Only instances carrying every one of these tags.
    pub tags: Vec<String>,
    /// Only instances whose checks all pass.
    pub passing: bool,
    /// Node metadata that must match (`key`, `value`).
    pub node_meta: Vec<(String, String)>,
    /// Token for this request instead of the client's.
    pub token: Option<Secret>,
}

impl QueryOptions {
    /// Options with a blocking index and wait.
    pub fn blocking(index: u64, wait: Duration) -> QueryOptions {
        QueryOptions {
            index,
            wait: Some(wait),
            ..QueryOptions::default()
        }
    }

    pub(crate) fn params(&self, out: &mut Vec<(String, String)>) {
        if let Some(dc) = &self.datacenter {
            out.push(("dc".into(), dc.clone()));
        }
        if self.index > 0 {
            out.push(("index".into(), self.index.to_string()));
        }
        if let Some(w) = self.wait {
            // As the Go client: milliseconds, never 0 for a positive wait.
            out.push(("wait".into(), format!("{}ms", w.as_millis().max(1))));
        }
        match self.consistency {
            Consistency::Default => {}
            Consistency::Stale => out.push(("stale".into(), String::new())),
            Consistency::Consistent => out.push(("consistent".into(), String::new())),
        }
        if let Some(f) = &self.filter {
            out.push(("filter".into(), f.clone()));
        }
        if let Some(n) = &self.near {
            out.push(("near".into(), n.clone()));
        }
        for t in &self.tags {
            out.push(("tag".into(), t.clone()));
        }
        if self.passing {
            out.push(("passing".into(), "1".into()));
        }
        for (k, v) in &self.node_meta {
            out.push(("node-meta".into(), format!("{k}:{v}")));
        }
    }

    /// Timeout for this request: blocking calls get `wait + wait/16 + margin`.
    pub(crate) fn timeout(&self, default: Duration) -> Duration {
        if self.index == 0 {
            return default;
        }
        let wait = self.wait.unwrap_or(Duration::from_secs(300));
        wait + wait / 16 + BLOCKING_MARGIN
    }
}

/// What Consul said about a read.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct QueryMeta {
    /// `X-Consul-Index`.
    pub last_index: u64,
    /// `X-Consul-KnownLeader`.
    pub known_leader: bool,
    /// `X-Consul-LastContact`.
    pub last_contact: Duration,
}

/// A raw answer.
#[derive(Debug)]
pub(crate) struct Raw {
    pub(crate) status: StatusCode,
    pub(crate) meta: QueryMeta,
    pub(crate) body: Bytes,
    /// `X-Consul-ContentHash`, for hash-based blocking.
    pub(crate) content_hash: Option<String>,
}

#[derive(Debug)]
struct Inner {
    http: reqwest::Client,
    /// Reads over plain HTTP or a Unix socket; `None` for HTTPS or a proxy.
    h1: Option<H1>,
    base: String,
    config: Config,
    metrics: Arc<Metrics>,
}

/// A Consul client. Cheap to clone; all clones share one connection pool.
///
/// ```no_run
/// # async fn demo() -> dcy::Result<()> {
/// let client = dcy::Client::from_env()?;
/// let leader = client.status_leader().await?;
/// println!("leader: {leader}");
/// # Ok(())
/// # }
/// ```
#[derive(Clone, Debug)]
pub struct Client {
    inner: Arc<Inner>,
}

/// Percent-encodes one path segment (a service name, a check ID).
pub(crate) fn segment(s: &str) -> String {
    utf8_percent_encode(s, SEGMENT).to_string()
}

/// Percent-encodes a KV key, keeping its `/` separators.
pub(crate) fn key_path(key: &str) -> String {
    key.trim_start_matches('/')
        .split('/')
        .map(segment)
        .collect::<Vec<_>>()
        .join("/")
}

fn map_transport(method: &Method, path: &str, e: reqwest::Error, timeout: Duration) -> Error {
    if e.is_timeout() {
        return Error::timeout(&format!("{method} {path}"), timeout).with_source(e);
    }
    let kind = if e.is_connect() || e.is_request() {
        ErrorKind::Connect
    } else if e.is_decode() || e.is_body() {
        ErrorKind::Decode
    } else {
        ErrorKind::Connect
    };
    // `without_url` keeps query strings (and anything else) out of the text.
    Error::new(kind, format!("{method} {path}")).with_source(e.without_url())
}

impl Client {
    /// A client for this configuration.
    pub fn new(config: Config) -> Result<Client> {
        let mut b = reqwest::Client::builder()
            .user_agent(concat!("dcy/", env!("CARGO_PKG_VERSION")))
            .pool_idle_timeout(Duration::from_secs(90))
            .tcp_keepalive(Duration::from_secs(30))
            .connect_timeout(Duration::from_secs(5));
        match &config.transport {
            Transport::Https => {
                b = b.use_preconfigured_tls(crate::tls::client_config(&config.tls)?);
            }
            Transport::Unix(path) => {
                b = b.unix_socket(path.as_path());
            }
            // A loopback agent is reached directly, whatever HTTP_PROXY says.
            Transport::Http if !proxied(&config.address) => b = b.no_proxy(),
            Transport::Http => {}
        }
        let http = b
            .build()
            .map_err(|e| Error::config(format!("building the HTTP client: {e}")))?;
        let h1 = match &config.transport {
            Transport::Http if !proxied(&config.address) => Some(H1::new(
                h1::Target::Tcp(config.address.clone()),
                config.address.clone(),
            )),
            Transport::Unix(path) => Some(H1::new(
                h1::Target::Unix(path.clone()),
                "localhost".to_string(),
            )),
            _ => None,
        };
        Ok(Client {
            inner: Arc::new(Inner {
                http,
                h1,
                base: config.base_url(),
                config,
                metrics: Arc::new(Metrics::default()),
            }),
        })
    }

    /// A client configured from the `CONSUL_*` environment (see [`crate::config`]).
    pub fn from_env() -> Result<Client> {
        Client::new(Config::from_env()?)
    }

    /// The configuration.
    pub fn config(&self) -> &Config {
        &self.inner.config
    }

    /// Counters of requests, watches and registrations, for export.
    pub fn metrics(&self) -> &Arc<Metrics> {
        &self.inner.metrics
    }

    fn common_params(&self, out: &mut Vec<(String, String)>) {
        let c = &self.inner.config;
        if let Some(ns) = &c.namespace {
            out.push(("ns".into(), ns.clone()));
        }
        if let Some(p) = &c.partition {
            out.push(("partition".into(), p.clone()));
        }
    }

    /// Sends one request; maps transport failures, never status codes.
    pub(crate) async fn send(
        &self,
        method: Method,
        path: &str,
        params: &[(String, String)],
        body: Option<Bytes>,
        token: Option<&Secret>,
        timeout: Duration,
    ) -> Result<Raw> {
        if let (Some(h1), true, None) = (&self.inner.h1, method == Method::GET, &body) {
            return self.lean_get(h1, path, params, token, timeout).await;
        }
        let url = format!("{}{}", self.inner.base, path);
        let mut req = self
            .inner
            .http
            .request(method.clone(), url)
            .timeout(timeout);
        let mut all = Vec::with_capacity(params.len() + 2);
        all.extend_from_slice(params);
        self.common_params(&mut all);
        if !all.is_empty() {
            req = req.query(&all);
        }
        if let Some(t) = token.or(self.inner.config.token.as_ref()) {
            req = req.header("X-Consul-Token", t.expose());
        }
        if let Some((user, pass)) = &self.inner.config.http_auth {
            req = req.basic_auth(user, pass.as_ref().map(Secret::expose));
        }
        if let Some(b) = body {
            req = req.body(b);
        }
        let span = tracing::debug_span!("consul", method = %method, path = %path);
        let metrics = Arc::clone(&self.inner.metrics);
        async move {
            metrics.requests.inc();
            let resp = match req.send().await {
                Ok(r) => r,
                Err(e) => {
                    metrics.request_errors.inc();
                    return Err(map_transport(&method, path, e, timeout));
                }
            };
            let status = resp.status();
            let meta = parse_meta(resp.headers());
            let content_hash = resp
                .headers()
                .get("X-Consul-ContentHash")
                .and_then(|v| v.to_str().ok())
                .map(str::to_string);
            let body = resp.bytes().await.map_err(|e| {
                metrics.request_errors.inc();
                map_transport(&method, path, e, timeout)
            })?;
            tracing::trace!(status = status.as_u16(), index = meta.last_index, "answer");
            Ok(Raw {
                status,
                meta,
                body,
                content_hash,
            })
        }
        .instrument(span)
        .await
    }

    /// A `GET` through the lean HTTP/1.1 path.
    async fn lean_get(
        &self,
        h1: &H1,
        path: &str,
        params: &[(String, String)],
        token: Option<&Secret>,
        timeout: Duration,
    ) -> Result<Raw> {
        let mut all = Vec::with_capacity(params.len() + 2);
        all.extend_from_slice(params);
        self.common_params(&mut all);
        let mut target = format!("{}{path}", self.inner.config.path_prefix);
        if !all.is_empty() {
            target.push('?');
            target.push_str(
                &form_urlencoded::Serializer::new(String::new())
                    .extend_pairs(&all)
                    .finish(),
            );
        }
        let mut headers =
            concat!("User-Agent: dcy/", env!("CARGO_PKG_VERSION"), "\r\n").to_string();
        if let Some(t) = token.or(self.inner.config.token.as_ref()) {
            header_line(&mut headers, "X-Consul-Token", t.expose())?;
        }
        if let Some((user, pass)) = &self.inner.config.http_auth {
            use base64::Engine as _;
            let pass = pass.as_ref().map(Secret::expose).unwrap_or_default();
            let basic = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{pass}"));
            header_line(&mut headers, "Authorization", &format!("Basic {basic}"))?;
        }
        let what = format!("GET {path}");
        let span = tracing::debug_span!("consul", method = "GET", path = %path);
        let metrics = &self.inner.metrics;
        metrics.requests.inc();
        let answer = match tokio::time::timeout(timeout, h1.get(&target, &headers))
            .instrument(span)
            .await
        {
            Ok(Ok(a)) => a,
            Ok(Err(e)) => {
                metrics.request_errors.inc();
                let kind = match e {
                    h1::Failure::Io(_) => ErrorKind::Connect,
                    h1::Failure::Malformed(_) => ErrorKind::Decode,
                };
                return Err(Error::new(kind, format!("{what}: {e}")).with_source(e));
            }
            Err(_) => {
                metrics.request_errors.inc();
                return Err(Error::timeout(&what, timeout));
            }
        };
        let meta = parse_meta(&answer.headers);
        tracing::trace!(
            status = answer.status.as_u16(),
            index = meta.last_index,
            "answer"
        );
        Ok(Raw {
            status: answer.status,
            meta,
            content_hash: answer
                .headers
                .get("X-Consul-ContentHash")
                .and_then(|v| v.to_str().ok())
                .map(str::to_string),
            body: answer.body,
        })
    }

    /// A read. `404` is an error unless `not_found_ok`, when it yields an empty body.
    pub(crate) async fn read(
        &self,
        path: &str,
        extra: &[(String, String)],
        q: &QueryOptions,
        not_found_ok: bool,
    ) -> Result<Raw> {
        let mut params = Vec::with_capacity(extra.len() + 4);
        params.extend_from_slice(extra);
        let mut q = q.clone();
        if q.datacenter.is_none() {
            q.datacenter = self.inner.config.datacenter.clone();
        }
        q.params(&mut params);
        let timeout = q.timeout(self.inner.config.request_timeout);
        let raw = self
            .send(Method::GET, path, &params, None, q.token.as_ref(), timeout)
            .await?;
        if raw.status.is_success() || (not_found_ok && raw.status == StatusCode::NOT_FOUND) {
            return Ok(raw);
        }
        self.inner.metrics.request_errors.inc();
        Err(Error::status(
            "GET",
            path,
            raw.status.as_u16(),
            &String::from_utf8_lossy(&raw.body),
        ))
    }

    /// A read decoded from JSON.
    pub(crate) async fn read_json<T: DeserializeOwned>(
        &self,
        path: &str,
        extra: &[(String, String)],
        q: &QueryOptions,
    ) -> Result<(T, QueryMeta)> {
        let raw = self.read(path, extra, q, false).await?;
        let v = serde_json::from_slice(&raw.body)
            .map_err(|e| Error::decode(&format!("GET {path}"), e))?;
        Ok((v, raw.meta))
    }

    /// A write (`PUT` or `DELETE`); any status other than 200 is an error.
    pub(crate) async fn write(
        &self,
        method: Method,
        path: &str,
        params: &[(String, String)],
        body: Option<Bytes>,
    ) -> Result<Bytes> {
        let mut params = params.to_vec();
        if let Some(dc) = &self.inner.config.datacenter {
            params.push(("dc".into(), dc.clone()));
        }
        let timeout = self.inner.config.request_timeout;
        let raw = self
            .send(method.clone(), path, &params, body, None, timeout)
            .await?;
        if raw.status.is_success() {
            return Ok(raw.body);
        }
        self.inner.metrics.request_errors.inc();
        Err(Error::status(
            method.as_str(),
            path,
            raw.status.as_u16(),
            &String::from_utf8_lossy(&raw.body),
        ))
    }

    /// A `PUT` with a JSON body.
    pub(crate) async fn put_json<B: serde::Serialize + ?Sized>(
        &self,
        path: &str,
        params: &[(String, String)],
        body: &B,
    ) -> Result<Bytes> {
        let bytes = serde_json::to_vec(body).map_err(|e| Error::decode("the request body", e))?;
        self.write(Method::PUT, path, params, Some(Bytes::from(bytes)))
            .await
    }

    /// Decodes the `true`/`false` answer of KV and session writes.
    pub(crate) fn bool_body(path: &str, body: &[u8]) -> Result<bool> {
        serde_json::from_slice(body).map_err(|e| Error::decode(&format!("PUT {path}"), e))
    }
}

/// Appends `name: value\r\n`, refusing a value that would break the header.
fn header_line(out: &mut String, name: &str, value: &str) -> Result<()> {
    if value.bytes().any(|b| b == b'\r' || b == b'\n' || b == 0) {
        return Err(Error::new(
            ErrorKind::InvalidInput,
            format!("the {name} header value contains a line break or NUL: check the token or credentials in the configuration"),
        ));
    }
    out.push_str(name);
    out.push_str(": ");
    out.push_str(value);
    out.push_str("\r\n");
    Ok(())
}

/// Whether requests to `address` go through a proxy from the environment.
/// Loopback agents are always reached directly (as Go's `ProxyFromEnvironment`
/// does), and so is everything when no proxy is set.
fn proxied(address: &str) -> bool {
    let host = address
        .rsplit_once(':')
        .map_or(address, |(h, _)| h)
        .trim_start_matches('[')
        .trim_end_matches(']');
    let loopback = host.eq_ignore_ascii_case("localhost")
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback());
    if loopback {
        return false;
    }
    ["HTTP_PROXY", "http_proxy", "ALL_PROXY", "all_proxy"]
        .iter()
        .any(|k| std::env::var_os(k).is_some_and(|v| !v.is_empty()))
}

fn parse_meta(h: &reqwest::header::HeaderMap) -> QueryMeta {
    let get = |k: &str| h.get(k).and_then(|v| v.to_str().ok());
    QueryMeta {
        last_index: get("X-Consul-Index")
            .and_then(|v| v.parse().ok())
            .unwrap_or(0),
        known_leader: get("X-Consul-KnownLeader") == Some("true"),
        last_contact: Duration::from_millis(
            get("X-Consul-LastContact")
                .and_then(|v| v.parse().ok())
                .unwrap_or(0),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_options_as_the_go_client_sends_them() {
        let q = QueryOptions {
            datacenter: Some("dc2".into()),
            index: 42,
            wait: Some(Duration::from_micros(10)),
            consistency: Consistency::Stale,
            tags: vec!["a".into(), "b".into()],
            passing: true,
            ..QueryOptions::default()
        };
        let mut p = Vec::new();
        q.params(&mut p);
        let get = |k: &str| {
            p.iter()
                .filter(|(pk, _)| pk == k)
                .map(|(_, v)| v.as_str())
                .collect::<Vec<_>>()
        };
        assert_eq!(get("wait"), ["1ms"]);
        assert_eq!(get("index"), ["42"]);
        assert_eq!(get("tag"), ["a", "b"]);
        assert_eq!(get("stale"), [""]);
        assert!(
            QueryOptions::default().timeout(Duration::from_secs(10)) == Duration::from_secs(10)
        );
        let b = QueryOptions::blocking(5, Duration::from_secs(160));
        assert_eq!(
            b.timeout(Duration::from_secs(10)),
            Duration::from_secs(160 + 10 + 5)
        );
    }

    #[test]
    fn loopback_agents_are_never_proxied() {
        for a in [
            "127.0.0.1:8500",
            "localhost:8500",
            "[::1]:8500",
            "127.0.0.2:1",
        ] {
            assert!(!proxied(a), "{a}");
        }
    }

    #[test]
    fn header_values_with_line_breaks_are_refused() {
        let mut out = String::new();
        header_line(&mut out, "X-Consul-Token", "ok").unwrap();
        assert_eq!(out, "X-Consul-Token: ok\r\n");
        let e = header_line(&mut out, "X-Consul-Token", "a\r\nHost: evil").unwrap_err();
        assert!(e.to_string().contains("X-Consul-Token"), "{e}");
    }

    #[test]
    fn paths_are_encoded() {
        assert_eq!(segment("web api"), "web%20api");
        assert_eq!(key_path("/app/db config/host"), "app/db%20config/host");
    }
}
