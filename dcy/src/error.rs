//! The one error type of the crate, with the predicates callers branch on.

use std::fmt;
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
#[derive(Debug)]
pub struct Error {
    kind: ErrorKind,
    message: String,
    status: Option<u16>,
    source: Option<Box<dyn std::error::Error + Send + Sync + 'static>>,
}

/// `Result<T, dcy::Error>`.
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// An error of `kind` with a message that names the input and the fix.
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Error {
        Error {
            kind,
            message: message.into(),
            status: None,
            source: None,
        }
    }

    pub(crate) fn with_source(
        mut self,
        source: impl std::error::Error + Send + Sync + 'static,
    ) -> Error {
        self.source = Some(Box::new(source));
        self
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
        Error {
            kind,
            message: format!("{method} {path}: Unexpected response code: {code} ({body})"),
            status: Some(code),
            source: None,
        }
    }

    pub(crate) fn config(message: impl Into<String>) -> Error {
        Error::new(ErrorKind::Config, message)
    }

    pub(crate) fn decode(what: &str, e: impl std::error::Error + Send + Sync + 'static) -> Error {
        Error::new(ErrorKind::Decode, format!("decoding {what}: {e}")).with_source(e)
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
        self.kind
    }

    /// The HTTP status code, when the agent answered with an unexpected one.
    pub fn status_code(&self) -> Option<u16> {
        self.status
    }

    /// The thing does not exist (HTTP 404, unknown key or service).
    pub fn is_not_found(&self) -> bool {
        self.kind == ErrorKind::NotFound
    }

    /// The request timed out.
    pub fn is_timeout(&self) -> bool {
        self.kind == ErrorKind::Timeout
    }

    /// The agent could not be reached.
    pub fn is_connect(&self) -> bool {
        self.kind == ErrorKind::Connect
    }

    /// ACLs refused the request (HTTP 403).
    pub fn is_permission_denied(&self) -> bool {
        self.status == Some(403)
    }

    /// Trying again later may succeed: transport failures, timeouts, 5xx
    /// and 429, as the Go client's `IsRetryableError` (meant for reads).
    pub fn is_retryable(&self) -> bool {
        match self.kind {
            ErrorKind::Connect | ErrorKind::Timeout | ErrorKind::NoData => true,
            ErrorKind::Status => self.status.is_some_and(|s| s >= 500 || s == 429),
            _ => false,
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)?;
        let mut cur: Option<&(dyn std::error::Error + 'static)> = self
            .source
            .as_deref()
            .map(|e| e as &(dyn std::error::Error + 'static));
        // reqwest errors carry the useful part (refused, reset) in their sources.
        let mut depth = 0;
        while let Some(e) = cur {
            let text = e.to_string();
            if !self.message.contains(&text) {
                write!(f, ": {text}")?;
            }
            cur = e.source();
            depth += 1;
            if depth > 4 {
                break;
            }
        }
        Ok(())
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.source
            .as_deref()
            .map(|e| e as &(dyn std::error::Error + 'static))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn predicates_follow_the_go_client() {
        assert!(Error::status("GET", "/v1/x", 500, "boom").is_retryable());
        assert!(Error::status("GET", "/v1/x", 429, "").is_retryable());
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
}
