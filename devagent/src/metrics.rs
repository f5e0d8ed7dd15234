//! Prometheus metrics of the agent: request counters, and gauges of the state
//! read at scrape time.

use std::sync::atomic::Ordering;

use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;

use crate::state::Store;
use crate::types::Status;

/// The agent's metrics. One per agent; no process-wide registry.
#[derive(Debug)]
pub(crate) struct Metrics {
    registry: Registry,
    pub(crate) http_requests: Counter,
    pub(crate) dns_queries: Counter,
    services: Gauge,
    checks_passing: Gauge,
    checks_warning: Gauge,
    checks_critical: Gauge,
    kv_entries: Gauge,
    sessions: Gauge,
    blocking_queries: Gauge,
    raft_index: Gauge,
}

impl Metrics {
    pub(crate) fn new() -> Metrics {
        let mut registry = Registry::with_prefix("devagent");
        let m = Metrics {
            http_requests: Counter::default(),
            dns_queries: Counter::default(),
            services: Gauge::default(),
            checks_passing: Gauge::default(),
            checks_warning: Gauge::default(),
            checks_critical: Gauge::default(),
            kv_entries: Gauge::default(),
            sessions: Gauge::default(),
            blocking_queries: Gauge::default(),
            raft_index: Gauge::default(),
            registry: Registry::default(),
        };
        registry.register(
            "http_requests",
            "HTTP requests received",
            m.http_requests.clone(),
        );
        registry.register("dns_queries", "DNS queries answered", m.dns_queries.clone());
        registry.register(
            "services",
            "Service instances in the catalog",
            m.services.clone(),
        );
        registry.register(
            "checks_passing",
            "Checks in state passing",
            m.checks_passing.clone(),
        );
        registry.register(
            "checks_warning",
            "Checks in state warning",
            m.checks_warning.clone(),
        );
        registry.register(
            "checks_critical",
            "Checks in state critical",
            m.checks_critical.clone(),
        );
        registry.register("kv_entries", "Keys in the KV store", m.kv_entries.clone());
        registry.register("sessions", "Live sessions", m.sessions.clone());
        registry.register(
            "blocking_queries",
            "Blocking queries waiting for a change",
            m.blocking_queries.clone(),
        );
        registry.register("raft_index", "Last raft index", m.raft_index.clone());
        Metrics { registry, ..m }
    }

    /// The OpenMetrics text of the current state.
    pub(crate) fn render(&self, store: &Store) -> String {
        {
            let inner = store.lock();
            let count = |s: Status| inner.checks.values().filter(|c| c.status == s).count() as i64;
            self.services.set(inner.services.len() as i64);
            self.checks_passing.set(count(Status::Passing));
            self.checks_warning.set(count(Status::Warning));
            self.checks_critical.set(count(Status::Critical));
            self.kv_entries.set(inner.kv.len() as i64);
            self.sessions.set(inner.sessions.len() as i64);
            self.raft_index.set(inner.index as i64);
        }
        self.blocking_queries
            .set(store.waiting.load(Ordering::Relaxed));
        let mut out = String::new();
        if encode(&mut out, &self.registry).is_err() {
            out.clear();
        }
        out
    }
}
