//! The Consul client: one transport (`crate::transport`) per [`Client`] (shared by its
//! clones), the reads and writes the endpoint modules build on, and the
//! mapping of unexpected status codes to [`Error`].

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::{Method, StatusCode};
use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};
use serde::de::DeserializeOwned;
use tracing::Instrument;

use crate::config::{Config, Secret};
use crate::error::{Error, Result};
use crate::metrics::Metrics;
use crate::query::parse_meta;
pub use crate::query::{Consistency, QueryMeta, QueryOptions};
use crate::transport::Transport;

/// Characters left alone in a path segment (RFC 3986 unreserved).
const SEGMENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');

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
    transport: Transport,
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

impl Client {
    /// A client for this configuration. Nothing is sent yet; the TLS files
    /// are read and the proxy environment (`HTTP_PROXY`, `HTTPS_PROXY`,
    /// `NO_PROXY`) consulted now, and a problem with either is an error.
    pub fn new(config: Config) -> Result<Client> {
        let transport = Transport::new(&config)?;
        Ok(Client {
            inner: Arc::new(Inner {
                transport,
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
        let query = {
            let c = &self.inner.config;
            let mut query = form_urlencoded::Serializer::new(String::new());
            query.extend_pairs(params);
            if let Some(ns) = &c.namespace {
                query.append_pair("ns", ns);
            }
            if let Some(p) = &c.partition {
                query.append_pair("partition", p);
            }
            query.finish()
        };
        let metrics = &self.inner.metrics;
        metrics.requests.inc();
        let span = tracing::debug_span!("consul", method = %method, path = %path);
        let answer = self
            .inner
            .transport
            .send(method, path, &query, token, body, timeout)
            .instrument(span)
            .await
            .inspect_err(|_| {
                metrics.request_errors.inc();
            })?;
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
        Err(self.unexpected("GET", path, &raw))
    }

    /// A hash-blocking read of an agent endpoint: with `hash`, the agent
    /// answers once the content hash differs or `wait` passed. 200 and 404
    /// are answers; anything else is an error.
    pub(crate) async fn read_hash(
        &self,
        path: &str,
        params: &[(String, String)],
        hash: Option<&str>,
        wait: Duration,
    ) -> Result<Raw> {
        let mut params = params.to_vec();
        let timeout = match hash {
            Some(h) => {
                params.push(("hash".into(), h.to_string()));
                params.push(("wait".into(), format!("{}ms", wait.as_millis().max(1))));
                crate::query::blocking_timeout(wait)
            }
            None => self.inner.config.request_timeout,
        };
        let raw = self
            .send(Method::GET, path, &params, None, None, timeout)
            .await?;
        if raw.status.is_success() || raw.status == StatusCode::NOT_FOUND {
            return Ok(raw);
        }
        Err(self.unexpected("GET", path, &raw))
    }

    /// The error for an unexpected status, counted.
    pub(crate) fn unexpected(&self, method: &str, path: &str, raw: &Raw) -> Error {
        self.inner.metrics.request_errors.inc();
        Error::status(
            method,
            path,
            raw.status.as_u16(),
            &String::from_utf8_lossy(&raw.body),
        )
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

    /// A write (`PUT` or `DELETE`); any status other than 2xx is an error.
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
        Err(self.unexpected(method.as_str(), path, &raw))
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_are_encoded() {
        assert_eq!(segment("web api"), "web%20api");
        assert_eq!(key_path("/app/db config/host"), "app/db%20config/host");
    }

    #[test]
    fn header_values_with_line_breaks_are_refused() {
        let cfg = Config::builder()
            .address("127.0.0.1:8500")
            .token("a\r\nHost: evil")
            .build()
            .unwrap();
        let e = Client::new(cfg).unwrap_err();
        assert!(e.to_string().contains("X-Consul-Token"), "{e}");
    }
}
