//! What one client may cost the agent: Consul's `limits` block (and
//! `http_config.max_header_bytes`) with Consul's defaults, and the read
//! timeouts devagent adds (Consul's HTTP server has none; the names and
//! defaults are those of Vault's listener, another HashiCorp server).
//!
//! ```hcl
//! limits {
//!   http_max_conns_per_client = 200      # Consul; 0 turns the per-client limit off
//!   kv_max_value_size         = 524288   # Consul: bytes of one KV value
//!   txn_max_req_len           = 524288   # Consul: bytes of one /v1/txn body
//!   http_max_conns            = 0        # devagent: all clients; 0 = 3/4 of the open-file limit
//!   http_read_header_timeout  = "30s"    # devagent: the request head, and an idle keep-alive
//!   http_read_timeout         = "30s"    # devagent: the request body, from the end of the head
//! }
//! http_config { max_header_bytes = 0 }   # Consul; 0 = about 400 KiB (hyper's default)
//! ```

use std::time::Duration;

use serde_json::Value;

/// Consul's `raft.SuggestedMaxDataSize`, the default of `kv_max_value_size` and `txn_max_req_len`.
pub const SUGGESTED_MAX_DATA_SIZE: usize = 512 * 1024;

/// The limits of one agent. Every field has Consul's default (or, for the
/// ones Consul does not have, a documented devagent default).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// `limits.http_max_conns_per_client`: concurrent HTTP connections from
    /// one client IP (Consul: 200). The next one is answered `429 Too Many
    /// Requests` and closed, as Consul does. 0 turns the limit off.
    pub http_max_conns_per_client: usize,
    /// `limits.http_max_conns` (devagent): concurrent HTTP connections from
    /// all clients. The next one is answered `503` and closed. 0 means three
    /// quarters of the open-file limit, leaving the rest for DNS, checks and files.
    pub http_max_conns: usize,
    /// `limits.kv_max_value_size`: bytes of one KV value, on `PUT /v1/kv` and in a transaction.
    pub kv_max_value_size: usize,
    /// `limits.txn_max_req_len`: bytes of one `/v1/txn` body (at least `kv_max_value_size`, as in Consul).
    pub txn_max_req_len: usize,
    /// `limits.http_read_header_timeout` (devagent): time to send a request
    /// head; also how long an idle keep-alive connection is kept.
    pub http_read_header_timeout: Duration,
    /// `limits.http_read_timeout` (devagent): time to send a request body,
    /// counted from the end of its head. A body still arriving then gets `408`.
    pub http_read_timeout: Duration,
    /// `http_config.max_header_bytes`: bytes of a request head (request line
    /// and headers, so also of a key in `/v1/kv/<key>`); 0 keeps hyper's
    /// default of about 400 KiB (Consul's, Go's, is 1 MiB).
    pub http_max_header_bytes: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            http_max_conns_per_client: 200,
            http_max_conns: 0,
            kv_max_value_size: SUGGESTED_MAX_DATA_SIZE,
            txn_max_req_len: SUGGESTED_MAX_DATA_SIZE,
            http_read_header_timeout: Duration::from_secs(30),
            http_read_timeout: Duration::from_secs(30),
            http_max_header_bytes: 0,
        }
    }
}

impl Limits {
    /// The global connection limit in force: `http_max_conns`, or three
    /// quarters of `open_files` (the soft `RLIMIT_NOFILE`) when it is 0.
    pub fn global_conns(&self, open_files: u64) -> usize {
        if self.http_max_conns > 0 {
            return self.http_max_conns;
        }
        let quarter_kept = open_files.saturating_mul(3) / 4;
        usize::try_from(quarter_kept).unwrap_or(usize::MAX).max(16)
    }

    /// The `/v1/txn` body limit: `txn_max_req_len`, raised to
    /// `kv_max_value_size` when that is larger (Consul's backward compatibility).
    pub fn txn_body(&self) -> usize {
        self.txn_max_req_len.max(self.kv_max_value_size)
    }
}

/// The soft open-file limit of this process (`RLIMIT_NOFILE`), 1024 when it cannot be read.
pub fn open_file_limit() -> u64 {
    use nix::sys::resource::{getrlimit, Resource};
    getrlimit(Resource::RLIMIT_NOFILE).map_or(1024, |(soft, _)| soft)
}

/// Raises the soft open-file limit to the hard one, as every Go program
/// (Consul included) does at start since Go 1.19; returns the limit in force.
/// The binary calls it; the library leaves its host process alone.
pub fn raise_open_file_limit() -> u64 {
    use nix::sys::resource::{getrlimit, setrlimit, Resource};
    match getrlimit(Resource::RLIMIT_NOFILE) {
        Ok((soft, hard)) if soft < hard => match setrlimit(Resource::RLIMIT_NOFILE, hard, hard) {
            Ok(()) => hard,
            Err(e) => {
                tracing::debug!(error = %e, soft, hard, "could not raise the open-file limit");
                soft
            }
        },
        Ok((soft, _)) => soft,
        Err(_) => 1024,
    }
}

/// Applies the `limits` and `http_config` blocks of one config file.
pub(crate) fn apply(limits: &mut Limits, v: &Value) -> Result<(), String> {
    let l = v.get("limits");
    let size = |key: &str| -> Result<Option<usize>, String> {
        match l.and_then(|l| l.get(key)) {
            None => Ok(None),
            Some(x) => x
                .as_u64()
                .or_else(|| x.as_str()?.parse().ok())
                .and_then(|n| usize::try_from(n).ok())
                .map(Some)
                .ok_or_else(|| format!("limits.{key}: {x} is not a whole number of at least 0")),
        }
    };
    let duration = |key: &str| -> Result<Option<Duration>, String> {
        match l.and_then(|l| l.get(key)) {
            None => Ok(None),
            Some(Value::String(s)) => gocompat::duration::parse(s)
                .ok()
                .filter(|d| !d.is_zero())
                .map(Some)
                .ok_or_else(|| {
                    format!("limits.{key}: {s:?} is not a positive duration: use e.g. \"30s\"")
                }),
            Some(x) => Err(format!(
                "limits.{key}: {x} is not a duration: use a string such as \"30s\""
            )),
        }
    };
    if let Some(n) = size("http_max_conns_per_client")? {
        limits.http_max_conns_per_client = n;
    }
    if let Some(n) = size("http_max_conns")? {
        limits.http_max_conns = n;
    }
    if let Some(n) = size("kv_max_value_size")? {
        limits.kv_max_value_size = n;
    }
    if let Some(n) = size("txn_max_req_len")? {
        limits.txn_max_req_len = n;
    }
    if let Some(d) = duration("http_read_header_timeout")? {
        limits.http_read_header_timeout = d;
    }
    if let Some(d) = duration("http_read_timeout")? {
        limits.http_read_timeout = d;
    }
    if let Some(x) = v.get("http_config").and_then(|h| h.get("max_header_bytes")) {
        limits.http_max_header_bytes = x
            .as_u64()
            .and_then(|n| usize::try_from(n).ok())
            .ok_or_else(|| {
                format!("http_config.max_header_bytes: {x} is not a whole number of bytes")
            })?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn defaults_are_consuls() {
        let l = Limits::default();
        assert_eq!(l.http_max_conns_per_client, 200);
        assert_eq!(l.kv_max_value_size, 524_288);
        assert_eq!(l.txn_body(), 524_288);
        assert_eq!(l.global_conns(20_000), 15_000);
        assert_eq!(l.global_conns(8), 16);
    }

    #[test]
    fn config_blocks_apply_and_bad_values_name_the_key() {
        let mut l = Limits::default();
        apply(
            &mut l,
            &json!({"limits": {"http_max_conns_per_client": 0, "txn_max_req_len": "1024",
                               "kv_max_value_size": 2048, "http_read_timeout": "2s",
                               "http_max_conns": 50, "rpc_rate": -1},
                    "http_config": {"max_header_bytes": 65536}}),
        )
        .unwrap();
        assert_eq!(l.http_max_conns_per_client, 0);
        assert_eq!(l.txn_body(), 2048, "kv_max_value_size raises the txn limit");
        assert_eq!(l.http_read_timeout, Duration::from_secs(2));
        assert_eq!(l.global_conns(20_000), 50);
        assert_eq!(l.http_max_header_bytes, 65536);
        let e = apply(&mut l, &json!({"limits": {"txn_max_req_len": -1}})).unwrap_err();
        assert!(e.contains("limits.txn_max_req_len"), "{e}");
        let e = apply(&mut l, &json!({"limits": {"http_read_timeout": "soon"}})).unwrap_err();
        assert!(
            e.contains("limits.http_read_timeout") && e.contains("30s"),
            "{e}"
        );
    }
}
