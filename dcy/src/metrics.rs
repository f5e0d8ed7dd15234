//! Counters a service can export: requests, watch changes and errors,
//! failing (stale) watches, registrations. No global registry: register them
//! in yours with [`Metrics::register`].
//!
//! ```
//! let client = dcy::Client::new(dcy::Config::default()).unwrap();
//! let mut registry = prometheus_client::registry::Registry::default();
//! client.metrics().register(&mut registry);
//! let mut text = String::new();
//! prometheus_client::encoding::text::encode(&mut text, &registry).unwrap();
//! assert!(text.contains("dcy_watch_errors_total"));
//! ```

use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;

/// The counters of one [`crate::Client`] and everything built on it.
#[derive(Debug, Default)]
pub struct Metrics {
    /// HTTP requests sent to Consul.
    pub requests: Counter,
    /// Requests that failed (transport error or unexpected status).
    pub request_errors: Counter,
    /// Blocking queries completed by watches.
    pub watch_requests: Counter,
    /// Changes published by watches.
    pub watch_changes: Counter,
    /// Failed watch queries.
    pub watch_errors: Counter,
    /// Watches currently failing and serving stale data.
    pub watches_failing: Gauge,
    /// Service registrations (first ones and re-registrations).
    pub registrations: Counter,
    /// Re-registrations after the agent lost a service.
    pub reregistrations: Counter,
}

impl Metrics {
    /// Adds the counters to `registry` under the `dcy_` prefix.
    pub fn register(&self, registry: &mut Registry) {
        let r = registry.sub_registry_with_prefix("dcy");
        r.register(
            "requests",
            "HTTP requests sent to Consul",
            self.requests.clone(),
        );
        r.register(
            "request_errors",
            "Requests that failed",
            self.request_errors.clone(),
        );
        r.register(
            "watch_requests",
            "Blocking queries completed by watches",
            self.watch_requests.clone(),
        );
        r.register(
            "watch_changes",
            "Changes published by watches",
            self.watch_changes.clone(),
        );
        r.register(
            "watch_errors",
            "Failed watch queries",
            self.watch_errors.clone(),
        );
        r.register(
            "watches_failing",
            "Watches serving stale data after errors",
            self.watches_failing.clone(),
        );
        r.register(
            "registrations",
            "Service registrations",
            self.registrations.clone(),
        );
        r.register(
            "reregistrations",
            "Re-registrations after the agent lost a service",
            self.reregistrations.clone(),
        );
    }
}
