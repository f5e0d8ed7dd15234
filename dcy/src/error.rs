//! The one error type of the crate, with the predicates callers branch on.
//!
//! An [`Error`] tells the whole story in its `Display`: what was being done
//! (`GET /v1/health/service/web`) and why it failed, down to the root cause
//! (`connection refused`). It keeps no separate `source()` chain, so
//! `{:#}` with anyhow, or a `tracing` field, prints each cause once.
//! Errors are cheap to clone: a watch keeps its last one in its status.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

/// What went wrong, broadly.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ErrorKind {
    /// The configuration (environment, builder, files it names) is invalid.
    Config,
    /// The agent could not be reached (refused, reset, DNS, TLS handshake).
    Connect,
    /// The request did not complete in time.
    Timeout,
    /// The agent answered with an unexpected status code.
    Status,
    /// The answer could not be decoded (malformed or truncated JSON, bad base64).
    Decode,
    /// The thing asked for does not exist.
    NotFound,
    /// No data yet: the first answer for a watch has not arrived.
    NoData,
    /// A lock or session could not be obtained or was lost.
    Lock,
    /// A DNS lookup failed.
    Dns,
    /// The operation was cancelled (shutdown, dropped handle).
    Cancelled,
    /// A caller-supplied argument is invalid.
    InvalidInput,
}

/// An error from `dcy`. It never contains the ACL token.
#[derive(Clone, Debug)]
pub struct Error {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    kind: ErrorKind,
    message: String,
    status: Option<u16>,
}

/// `Result<T, dcy::Error>`.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// What an agent answers when one client IP holds more connections than
/// `limits.http_max_conns_per_client` allows.
const RATE_LIMIT_HINT: &str = "the agent limits concurrent connections per client IP \
     (Consul's limits.http_max_conns_per_client, 200 by default) and every watched query \
     holds one: raise the limit or watch fewer queries; dcy retries with backoff";

impl Error {
    /// An error of `kind` with a message that names the input and the fix.
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Error {
        Error {
            inner: Arc::new(Inner {
                kind,
                message: message.into(),
                status: None,
            }),
        }
    }

    /// An error of `kind` about `what`, caused by `cause`: the message is
    /// `what: cause: its cause ...`, each distinct text once.
    pub(crate) fn caused_by(
        kind: ErrorKind,
        what: impl Into<String>,
        cause: &(dyn std::error::Error + 'static),
    ) -> Error {
        let mut message = what.into();
        let mut cur = Some(cause);
        let mut depth = 0;
        while let Some(e) = cur {
            let text = e.to_string();
            if !text.is_empty() && !message.contains(&text) {
                message.push_str(": ");
                message.push_str(&text);
            }
            cur = e.source();
            depth += 1;
            if depth > 6 {
                break;
            }
        }
        Error::new(kind, message)
    }

    /// An unexpected HTTP status with the body Consul sent (`Unexpected response code`).
    pub(crate) fn status(method: &str, path: &str, code: u16, body: &str) -> Error {
        let kind = if code == 404 {
            ErrorKind::NotFound
        } else {
            ErrorKind::Status
        };
        let body = body.trim();
        let body = if body.len() > 512 {
            let mut end = 512;
            while !body.is_char_boundary(end) {
                end -= 1;
            }
            &body[..end]
        } else {
            body
        };
        let mut message = format!("{method} {path}: Unexpected response code: {code} ({body})");
        if code == 429 {
            message.push_str("; ");
            message.push_str(RATE_LIMIT_HINT);
        }
        Error {
            inner: Arc::new(Inner {
                kind,
                message,
                status: Some(code),
            }),
        }
    }

    pub(crate) fn config(message: impl Into<String>) -> Error {
        Error::new(ErrorKind::Config, message)
    }

    pub(crate) fn decode(what: &str, e: impl std::error::Error + 'static) -> Error {
        Error::caused_by(ErrorKind::Decode, format!("decoding {what}"), &e)
    }

    pub(crate) fn timeout(what: &str, after: Duration) -> Error {
        Error::new(
            ErrorKind::Timeout,
            format!(
                "{what}: no answer within {}",
                gocompat::duration::human(after)
            ),
        )
    }

    /// The broad category.
    pub fn kind(&self) -> ErrorKind {
        self.inner.kind
    }

    /// The HTTP status code, when the agent answered with an unexpected one.
    pub fn status_code(&self) -> Option<u16> {
        self.inner.status
    }

    /// The thing does not exist (HTTP 404, unknown key or service).
    pub fn is_not_found(&self) -> bool {
        self.inner.kind == ErrorKind::NotFound
    }

    /// The request timed out.
    pub fn is_timeout(&self) -> bool {
        self.inner.kind == ErrorKind::Timeout
    }

    /// The agent could not be reached.
    pub fn is_connect(&self) -> bool {
        self.inner.kind == ErrorKind::Connect
    }

    /// ACLs refused the request (HTTP 403).
    pub fn is_permission_denied(&self) -> bool {
        self.inner.status == Some(403)
    }

    /// The agent refused this client for holding too many connections or
    /// sending too many requests (HTTP 429: Consul's
    /// `limits.http_max_conns_per_client`, 200 connections per client IP by
    /// default, or its request rate limits). Retryable: watches back off.
    pub fn is_rate_limited(&self) -> bool {
        self.inner.status == Some(429)
    }

    /// The operation stopped because its owner shut it down or was dropped.
    pub fn is_cancelled(&self) -> bool {
        self.inner.kind == ErrorKind::Cancelled
    }

    /// Trying again later may succeed: transport failures, timeouts, 5xx
    /// and 429, as the Go client's `IsRetryableError` (meant for reads).
    pub fn is_retryable(&self) -> bool {
        match self.inner.kind {
            ErrorKind::Connect | ErrorKind::Timeout | ErrorKind::NoData => true,
            ErrorKind::Status => self.inner.status.is_some_and(|s| s >= 500 || s == 429),
            _ => false,
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.inner.message)
    }
}

impl std::error::Error for Error {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn predicates_follow_the_go_client() {
        assert!(Error::status("GET", "/v1/x", 500, "boom").is_retryable());
        let limited = Error::status("GET", "/v1/x", 429, "Your IP is issuing too many");
        assert!(limited.is_retryable() && limited.is_rate_limited());
        assert!(
            limited.to_string().contains("http_max_conns_per_client"),
            "{limited}"
        );
        assert!(!Error::status("GET", "/v1/x", 400, "bad").is_retryable());
        let nf = Error::status("GET", "/v1/x", 404, "");
        assert!(nf.is_not_found() && !nf.is_retryable());
        assert!(Error::status("GET", "/v1/x", 403, "denied").is_permission_denied());
        assert!(Error::new(ErrorKind::Connect, "x").is_retryable());
        assert!(Error::timeout("x", Duration::from_secs(1)).is_timeout());
        let e = Error::status("PUT", "/v1/kv/a", 413, "too large");
        assert_eq!(
            e.to_string(),
            "PUT /v1/kv/a: Unexpected response code: 413 (too large)"
        );
    }

    #[derive(Debug)]
    struct Outer(std::io::Error);
    impl fmt::Display for Outer {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("error trying to connect")
        }
    }
    impl std::error::Error for Outer {
        fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
            Some(&self.0)
        }
    }

    #[test]
    fn causes_are_told_once_whatever_the_formatter() {
        let io = std::io::Error::new(std::io::ErrorKind::ConnectionRefused, "connection refused");
        let e = Error::caused_by(ErrorKind::Connect, "GET /v1/status/leader", &Outer(io));
        let text = "GET /v1/status/leader: error trying to connect: connection refused";
        assert_eq!(e.to_string(), text);
        assert!(std::error::Error::source(&e).is_none());
        // What `{:#}` with anyhow and error reporters print: the message, then each source.
        let mut chain = e.to_string();
        let mut cur = std::error::Error::source(&e);
        while let Some(s) = cur {
            chain.push_str(&format!(": {s}"));
            cur = s.source();
        }
        assert_eq!(chain, text, "each cause once");
        assert_eq!(e.clone().to_string(), text);
    }
}
