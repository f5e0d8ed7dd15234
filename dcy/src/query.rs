//! Options of a read and what Consul says about it, as the Go client has
//! them: `QueryOptions`, `Consistency`, `QueryMeta`.

use std::time::Duration;

use http::HeaderMap;

use crate::config::Secret;

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
        blocking_timeout(self.wait.unwrap_or(Duration::from_secs(300)))
    }
}

/// The timeout of a blocking call with `wait`: `wait + wait/16 + margin`,
/// so that the client never cuts a call the agent is still holding.
pub(crate) fn blocking_timeout(wait: Duration) -> Duration {
    wait + wait / 16 + BLOCKING_MARGIN
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

pub(crate) fn parse_meta(h: &HeaderMap) -> QueryMeta {
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
}
