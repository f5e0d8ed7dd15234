//! The one HTTP transport everything dcy sends to Consul goes through:
//! hyper's HTTP/1.1 client connections over TCP, TLS (rustls) or a Unix
//! socket, through an `HTTP_PROXY`/`HTTPS_PROXY` when the environment names
//! one for a remote agent, with a small pool of idle connections.
//!
//! This module is the one place for what goes on the wire: the target, the
//! headers (`User-Agent`, `X-Consul-Token`, basic auth), TLS, proxies, the
//! pool, timeouts, body limits, and the mapping of every failure to an
//! [`Error`].
//!
//! Connections are driven inside the request that uses them (no task per
//! connection): a blocking query waiting on the agent costs its socket,
//! hyper's buffers and the future that awaits it. An idle connection is
//! checked before reuse, and a read that fails on a reused connection is
//! sent again once on a fresh one.

mod connect;

use std::future::Future;
use std::pin::Pin;
use std::sync::Mutex;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::header::{HeaderMap, HeaderName, HeaderValue};
use http::{Method, Request, StatusCode};
use http_body_util::{BodyExt, Full, Limited};
use hyper::client::conn::http1::SendRequest;

use crate::config::{Config, Secret};
use crate::error::{Error, ErrorKind, Result};

pub(crate) use connect::Dialer;

/// The largest answer body accepted (a catalog of many thousand services fits).
pub(crate) const MAX_BODY: usize = 256 * 1024 * 1024;
/// Idle connections kept for reuse, at most.
const MAX_IDLE: usize = 128;
/// An idle connection older than this is closed rather than reused.
const IDLE_TIMEOUT: Duration = Duration::from_secs(60);

/// One answer: status, headers and the whole body.
#[derive(Debug)]
pub(crate) struct Answer {
    pub(crate) status: StatusCode,
    pub(crate) headers: HeaderMap,
    pub(crate) body: Bytes,
}

type Driver = Pin<Box<dyn Future<Output = hyper::Result<()>> + Send>>;

/// A connection: hyper's request handle and the future that drives it.
struct Conn {
    send: SendRequest<Full<Bytes>>,
    driver: Driver,
    /// The driver finished: the connection is closed.
    done: bool,
}

impl std::fmt::Debug for Conn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Conn").field("done", &self.done).finish()
    }
}

impl Conn {
    /// Runs `fut` while driving the connection; once the connection ends,
    /// `fut` still runs to its end (it then resolves from what was read).
    async fn drive<F: Future>(driver: &mut Driver, done: &mut bool, fut: F) -> F::Output {
        if *done {
            return fut.await;
        }
        tokio::pin!(fut);
        tokio::select! {
            biased;
            r = &mut fut => r,
            _ = driver.as_mut() => {
                *done = true;
                fut.await
            }
        }
    }

    /// Still open, not expired, and with nothing unread: fit for another request.
    fn usable(&mut self) -> bool {
        if self.done || self.send.is_closed() {
            return false;
        }
        let mut cx = Context::from_waker(std::task::Waker::noop());
        match self.driver.as_mut().poll(&mut cx) {
            Poll::Ready(_) => {
                self.done = true;
                false
            }
            Poll::Pending => !self.send.is_closed(),
        }
    }
}

#[derive(Debug)]
struct Idle {
    conn: Conn,
    since: Instant,
}

/// What the transport sends: built once, rebuilt as a request per attempt.
struct Prepared {
    method: Method,
    uri: http::Uri,
    headers: HeaderMap,
    body: Bytes,
}

impl Prepared {
    fn request(&self) -> Result<Request<Full<Bytes>>, http::Error> {
        let mut req = Request::builder()
            .method(self.method.clone())
            .uri(self.uri.clone())
            .body(Full::new(self.body.clone()))?;
        *req.headers_mut() = self.headers.clone();
        Ok(req)
    }
}

/// Why one exchange failed.
enum Failure {
    /// Nothing usable came back; `sent` says whether the request may have
    /// reached the agent.
    Transport {
        error: Box<dyn std::error::Error + Send + Sync>,
        sent: bool,
    },
    /// The body was over [`MAX_BODY`] or could not be read to its end.
    Body(Box<dyn std::error::Error + Send + Sync>),
}

/// The transport of one [`crate::Client`].
pub(crate) struct Transport {
    dialer: Dialer,
    /// `Host` header.
    host: HeaderValue,
    /// The scheme and authority requests are sent to, for absolute-form
    /// request targets (through a forward proxy).
    origin: String,
    path_prefix: String,
    /// `User-Agent`, basic auth and proxy auth: the same on every request.
    fixed: HeaderMap,
    /// The configured token (a request may carry another).
    token: Option<HeaderValue>,
    idle: Mutex<Vec<Idle>>,
}

impl std::fmt::Debug for Transport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Headers hold credentials: only the shape shows.
        f.debug_struct("Transport")
            .field("dialer", &self.dialer)
            .field("origin", &self.origin)
            .finish_non_exhaustive()
    }
}

/// A header value from configuration, refused if it would break the header.
fn header_value(name: &str, value: &str) -> Result<HeaderValue> {
    let mut v = HeaderValue::from_str(value).map_err(|_| {
        Error::new(
            ErrorKind::InvalidInput,
            format!("the {name} header value contains a line break or another character HTTP headers cannot carry: check the token or credentials in the configuration"),
        )
    })?;
    v.set_sensitive(true);
    Ok(v)
}

fn basic(user: &str, pass: &str) -> String {
    use base64::Engine as _;
    let token = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{pass}"));
    format!("Basic {token}")
}

impl Transport {
    /// The transport for `config`: the address, TLS and proxies are settled
    /// here, once; a bad TLS file or credential is an error now.
    pub(crate) fn new(config: &Config) -> Result<Transport> {
        Transport::with_dialer(config, Dialer::new(config)?)
    }

    /// The transport for `config` through `dialer`.
    pub(crate) fn with_dialer(config: &Config, dialer: Dialer) -> Result<Transport> {
        let mut fixed = HeaderMap::new();
        fixed.insert(
            http::header::USER_AGENT,
            HeaderValue::from_static(concat!("dcy/", env!("CARGO_PKG_VERSION"))),
        );
        if let Some((user, pass)) = &config.http_auth {
            let pass = pass.as_ref().map(Secret::expose).unwrap_or_default();
            fixed.insert(
                http::header::AUTHORIZATION,
                header_value("Authorization", &basic(user, pass))?,
            );
        }
        if let Some(auth) = dialer.forward_proxy_auth() {
            fixed.insert(http::header::PROXY_AUTHORIZATION, auth.clone());
        }
        let token = config
            .token
            .as_ref()
            .map(|t| header_value("X-Consul-Token", t.expose()))
            .transpose()?;
        let host = HeaderValue::from_str(dialer.host_header()).map_err(|_| {
            Error::config(format!(
                "the agent address {:?} cannot be a Host header: check CONSUL_HTTP_ADDR",
                dialer.host_header()
            ))
        })?;
        Ok(Transport {
            origin: dialer.origin(),
            host,
            dialer,
            path_prefix: config.path_prefix.clone(),
            fixed,
            token,
            idle: Mutex::new(Vec::new()),
        })
    }

    /// Sends `method path?query` with `body`, within `timeout` (connecting
    /// included). Transport failures are errors; any status is an answer.
    pub(crate) async fn send(
        &self,
        method: Method,
        path: &str,
        query: &str,
        token: Option<&Secret>,
        body: Option<Bytes>,
        timeout: Duration,
    ) -> Result<Answer> {
        let prepared = self.prepare(method.clone(), path, query, token, body)?;
        match tokio::time::timeout(timeout, self.exchange(&prepared)).await {
            Ok(Ok(answer)) => Ok(answer),
            Ok(Err(Failure::Transport { error, .. })) => Err(Error::caused_by(
                ErrorKind::Connect,
                format!("{method} {path}"),
                error.as_ref(),
            )),
            Ok(Err(Failure::Body(error))) => Err(Error::caused_by(
                ErrorKind::Decode,
                format!("{method} {path}: reading the answer"),
                error.as_ref(),
            )),
            Err(_) => Err(Error::timeout(&format!("{method} {path}"), timeout)),
        }
    }

    fn prepare(
        &self,
        method: Method,
        path: &str,
        query: &str,
        token: Option<&Secret>,
        body: Option<Bytes>,
    ) -> Result<Prepared> {
        let mut target = String::with_capacity(
            self.origin.len() + self.path_prefix.len() + path.len() + query.len() + 1,
        );
        if self.dialer.absolute_form() {
            target.push_str(&self.origin);
        }
        target.push_str(&self.path_prefix);
        target.push_str(path);
        if !query.is_empty() {
            target.push('?');
            target.push_str(query);
        }
        let uri = http::Uri::try_from(target).map_err(|e| {
            Error::caused_by(
                ErrorKind::InvalidInput,
                format!("{method} {path}: not a valid request target"),
                &e,
            )
        })?;
        let mut headers = self.fixed.clone();
        headers.insert(http::header::HOST, self.host.clone());
        let token = match token {
            Some(t) => Some(header_value("X-Consul-Token", t.expose())?),
            None => self.token.clone(),
        };
        if let Some(t) = token {
            headers.insert(HeaderName::from_static("x-consul-token"), t);
        }
        if body.is_some() {
            headers.insert(
                http::header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            );
        }
        Ok(Prepared {
            method,
            uri,
            headers,
            body: body.unwrap_or_default(),
        })
    }

    /// One exchange; a reused connection that turns out to be dead is
    /// replaced once when the request never left or is a read.
    async fn exchange(&self, p: &Prepared) -> Result<Answer, Failure> {
        if let Some(mut conn) = self.take_idle() {
            match self.on(&mut conn, p).await {
                Ok(answer) => {
                    self.put_idle(conn);
                    return Ok(answer);
                }
                Err(Failure::Transport { sent, error })
                    if !sent || p.method == Method::GET || p.method == Method::HEAD =>
                {
                    tracing::debug!(error = %error, "a reused connection failed: retrying on a new one");
                }
                Err(f) => return Err(f),
            }
        }
        let mut conn = self
            .dialer
            .connect()
            .await
            .map_err(|error| Failure::Transport { error, sent: false })?;
        let answer = self.on(&mut conn, p).await?;
        self.put_idle(conn);
        Ok(answer)
    }

    /// Sends `p` on `conn` and reads the whole answer.
    async fn on(&self, conn: &mut Conn, p: &Prepared) -> Result<Answer, Failure> {
        let Conn { send, driver, done } = conn;
        let unsent = |error: hyper::Error| Failure::Transport {
            error: Box::new(error),
            sent: false,
        };
        Conn::drive(driver, done, send.ready())
            .await
            .map_err(unsent)?;
        let req = p.request().map_err(|e| Failure::Transport {
            error: Box::new(e),
            sent: false,
        })?;
        let resp = match Conn::drive(driver, done, send.try_send_request(req)).await {
            Ok(r) => r,
            Err(mut e) => {
                let sent = e.take_message().is_none();
                return Err(Failure::Transport {
                    error: Box::new(e.into_error()),
                    sent,
                });
            }
        };
        let (parts, body) = resp.into_parts();
        let collected = Conn::drive(driver, done, Limited::new(body, MAX_BODY).collect())
            .await
            .map_err(Failure::Body)?;
        Ok(Answer {
            status: parts.status,
            headers: parts.headers,
            body: collected.to_bytes(),
        })
    }

    fn take_idle(&self) -> Option<Conn> {
        let mut idle = self.idle.lock().unwrap_or_else(|p| p.into_inner());
        while let Some(mut c) = idle.pop() {
            if c.since.elapsed() < IDLE_TIMEOUT && c.conn.usable() {
                return Some(c.conn);
            }
        }
        None
    }

    fn put_idle(&self, mut conn: Conn) {
        if !conn.usable() {
            return;
        }
        let mut idle = self.idle.lock().unwrap_or_else(|p| p.into_inner());
        // The oldest idle connections go first once the pool is full.
        if idle.len() >= MAX_IDLE {
            idle.remove(0);
        }
        idle.push(Idle {
            conn,
            since: Instant::now(),
        });
    }

    /// Idle connections now (for tests).
    #[cfg(test)]
    pub(crate) fn idle_count(&self) -> usize {
        self.idle.lock().unwrap_or_else(|p| p.into_inner()).len()
    }
}

#[cfg(test)]
mod tests;
