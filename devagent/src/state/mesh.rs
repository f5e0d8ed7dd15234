//! Connect lookups: the proxies and native instances that serve a service.

use std::sync::Arc;

use super::catalog::ServiceNodes;
use super::Inner;
use crate::types::{HealthEntry, Service};

impl Inner {
    /// Instances that take Connect traffic for `name`: `connect-proxy`
    /// services whose `Proxy.DestinationServiceName` is `name`, and
    /// instances of `name` that are Connect-native.
    pub(crate) fn connect_instances(&self, name: &str, tags: &[String]) -> Vec<Arc<Service>> {
        self.services
            .values()
            .filter(|s| {
                let proxy_for = s.kind == "connect-proxy"
                    && s.mesh
                        .proxy
                        .as_ref()
                        .and_then(|p| p.get("DestinationServiceName"))
                        .and_then(|d| d.as_str())
                        == Some(name);
                let native = s.name == name
                    && s.mesh
                        .connect
                        .as_ref()
                        .and_then(|c| c.get("Native"))
                        .and_then(|n| n.as_bool())
                        == Some(true);
                proxy_for || native
            })
            .filter(|s| tags.iter().all(|t| s.tags.iter().any(|st| st == t)))
            .cloned()
            .collect()
    }

    /// A service with its node and checks (`None` when its node is gone).
    pub(crate) fn health_entry_of(&self, s: &Arc<Service>) -> Option<HealthEntry> {
        self.health_entry(s)
    }

    /// The index of Connect lookups: any service or check change.
    pub(crate) fn connect_index(&self) -> u64 {
        self.tables.services.max(self.tables.checks)
    }

    /// `/v1/health/connect/:service`.
    pub(crate) fn health_connect(&self, name: &str, tags: &[String]) -> (u64, Vec<HealthEntry>) {
        let entries = self
            .connect_instances(name, tags)
            .iter()
            .filter_map(|s| self.health_entry(s))
            .collect();
        (self.connect_index(), entries)
    }

    /// `/v1/catalog/connect/:service`.
    pub(crate) fn catalog_connect(&self, name: &str, tags: &[String]) -> (u64, ServiceNodes) {
        let list = self
            .connect_instances(name, tags)
            .into_iter()
            .filter_map(|s| Some((Arc::clone(self.nodes.get(&s.node)?), s)))
            .collect();
        (self.tables.services.max(1), list)
    }
}
