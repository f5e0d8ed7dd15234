//! What a loop fetches: [`WatchSpec`], a blocking endpoint with its
//! parameters, consistency mode and kind of blocking (index or content hash).

use crate::client::{key_path, segment, Consistency, QueryOptions};

/// How a query blocks.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Blocking {
    /// `?index=`: the catalog, health, KV and session endpoints.
    Index,
    /// `?hash=`: the agent's own endpoints (`/v1/agent/service/:id`), which
    /// block on the `X-Consul-ContentHash` of their answer.
    Hash,
}

/// A query to watch: an endpoint path, its parameters and options.
#[derive(Clone, Debug)]
pub struct WatchSpec {
    pub(crate) path: String,
    pub(crate) params: Vec<(String, String)>,
    pub(crate) options: QueryOptions,
    /// What a 404 reads as (`[]` for KV, `null` for an agent service).
    pub(crate) not_found: Option<&'static [u8]>,
    pub(crate) blocking: Blocking,
}

impl WatchSpec {
    /// Any index-blocking endpoint, e.g. `/v1/catalog/services`.
    pub fn new(path: impl Into<String>) -> WatchSpec {
        WatchSpec {
            path: path.into(),
            params: Vec::new(),
            options: QueryOptions::default(),
            not_found: None,
            blocking: Blocking::Index,
        }
    }

    /// `/v1/health/service/:name`.
    pub fn health_service(name: &str) -> WatchSpec {
        WatchSpec::new(format!("/v1/health/service/{}", segment(name)))
    }

    /// `/v1/health/checks/:service`.
    pub fn health_checks(service: &str) -> WatchSpec {
        WatchSpec::new(format!("/v1/health/checks/{}", segment(service)))
    }

    /// `/v1/health/state/:state`.
    pub fn health_state(state: &str) -> WatchSpec {
        WatchSpec::new(format!("/v1/health/state/{}", segment(state)))
    }

    /// `/v1/catalog/services`.
    pub fn catalog_services() -> WatchSpec {
        WatchSpec::new("/v1/catalog/services")
    }

    /// `/v1/catalog/service/:name`.
    pub fn catalog_service(name: &str) -> WatchSpec {
        WatchSpec::new(format!("/v1/catalog/service/{}", segment(name)))
    }

    /// `/v1/catalog/nodes`.
    pub fn catalog_nodes() -> WatchSpec {
        WatchSpec::new("/v1/catalog/nodes")
    }

    /// `/v1/catalog/node/:name`.
    pub fn catalog_node(name: &str) -> WatchSpec {
        WatchSpec::new(format!("/v1/catalog/node/{}", segment(name)))
    }

    /// One KV key; a missing key reads as `[]`.
    pub fn kv_key(key: &str) -> WatchSpec {
        let mut s = WatchSpec::new(format!("/v1/kv/{}", key_path(key)));
        s.not_found = Some(b"[]");
        s
    }

    /// Every KV entry under a prefix; none reads as `[]`.
    pub fn kv_prefix(prefix: &str) -> WatchSpec {
        WatchSpec::kv_key(prefix).param("recurse", "")
    }

    /// The keys under a prefix, cut after `separator` when it is not empty.
    pub fn kv_keys(prefix: &str, separator: &str) -> WatchSpec {
        let s = WatchSpec::kv_key(prefix).param("keys", "");
        if separator.is_empty() {
            s
        } else {
            s.param("separator", separator)
        }
    }

    /// `/v1/agent/service/:id` on the local agent, hash-blocking; a service
    /// the agent does not hold reads as `null` (watch it as
    /// `Option<AgentService>`).
    pub fn agent_service(id: &str) -> WatchSpec {
        let mut s = WatchSpec::new(format!("/v1/agent/service/{}", segment(id)));
        s.not_found = Some(b"null");
        s.blocking = Blocking::Hash;
        s
    }

    /// Adds a query parameter.
    pub fn param(mut self, key: &str, value: &str) -> WatchSpec {
        self.params.push((key.to_string(), value.to_string()));
        self
    }

    /// Only instances whose checks all pass.
    pub fn passing(mut self, on: bool) -> WatchSpec {
        self.options.passing = on;
        self
    }

    /// Only instances with this tag (repeatable: all must match).
    pub fn tag(mut self, tag: &str) -> WatchSpec {
        self.options.tags.push(tag.to_string());
        self
    }

    /// Query another datacenter.
    pub fn datacenter(mut self, dc: &str) -> WatchSpec {
        self.options.datacenter = Some(dc.to_string());
        self
    }

    /// A `filter` expression.
    pub fn filter(mut self, expr: &str) -> WatchSpec {
        self.options.filter = Some(expr.to_string());
        self
    }

    /// Allow stale reads from any server (`?stale`).
    pub fn stale(mut self) -> WatchSpec {
        self.options.consistency = Consistency::Stale;
        self
    }

    /// Reads the leader confirms with a quorum first (`?consistent`), as
    /// lock monitors need.
    pub fn consistent(mut self) -> WatchSpec {
        self.options.consistency = Consistency::Consistent;
        self
    }

    /// Blocks on the content hash instead of the index (for agent endpoints
    /// other than those with a constructor here).
    pub fn hash_blocking(mut self) -> WatchSpec {
        self.blocking = Blocking::Hash;
        self
    }

    /// How this query blocks.
    pub fn blocking(&self) -> Blocking {
        self.blocking
    }

    /// The identity of the query: equal keys share one loop.
    pub fn key(&self) -> String {
        let mut p = self.params.clone();
        self.options.params(&mut p);
        p.sort();
        let q: Vec<String> = p.iter().map(|(k, v)| format!("{k}={v}")).collect();
        let mode = match self.blocking {
            Blocking::Index => "",
            Blocking::Hash => "#hash",
        };
        format!("{}?{}{mode}", self.path, q.join("&"))
    }

    /// The path of the endpoint.
    pub fn path(&self) -> &str {
        &self.path
    }
}
