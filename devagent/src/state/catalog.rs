//! Nodes, services and checks as records: the writes every registration
//! path shares (with Consul's index bumps and wake-ups) and the read queries
//! of the catalog and health endpoints.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Instant;

use tokio_util::sync::CancellationToken;

use super::{Inner, Store, Topic};
use crate::types::{Check, CheckSpec, HealthEntry, Meta, Node, Service, Status, Weights};

pub(super) const SERF_HEALTH: &str = "serfHealth";
pub(super) const NODE_MAINT: &str = "_node_maintenance";
pub(super) const SERVICE_MAINT_PREFIX: &str = "_service_maintenance:";

/// An active check the caller must start: the agent runs it until `token` is cancelled.
/// Instances with their nodes, as the catalog endpoints list them.
pub(crate) type ServiceNodes = Vec<(Arc<Node>, Arc<Service>)>;

#[derive(Debug)]
pub struct RunnerSpawn {
    /// Check ID on the agent's node.
    pub check_id: String,
    /// What to run.
    pub spec: CheckSpec,
    /// Cancelled when the check is removed or replaced.
    pub token: CancellationToken,
}

/// One agent-local service with its checks, for `/v1/agent/health/service/*`.
#[derive(Debug)]
pub struct AgentHealth {
    /// Aggregated status: `passing`, `warning`, `critical` or `maintenance`.
    pub aggregated: &'static str,
    /// The service.
    pub service: Arc<Service>,
    /// Its checks (and node maintenance, if on).
    pub checks: Vec<Arc<Check>>,
}

/// A node and its services, for `/v1/catalog/node/:node`.
#[derive(Debug)]
pub struct NodeView {
    /// The node.
    pub node: Arc<Node>,
    /// Its services.
    pub services: Vec<Arc<Service>>,
}

impl Inner {
    pub(crate) fn service_index(&self, name: &str) -> u64 {
        self.service_index
            .get(name)
            .copied()
            .unwrap_or(self.tables.services)
    }

    pub(super) fn touch_service_name(&mut self, name: &str, index: u64) {
        self.service_index.insert(name.to_string(), index);
        self.notify(&Topic::Service(name.to_string()));
    }

    pub(super) fn touch_node_services(&mut self, node: &str, index: u64) {
        let names: Vec<String> = self
            .services
            .range((node.to_string(), String::new())..)
            .take_while(|((n, _), _)| n == node)
            .map(|(_, s)| s.name.clone())
            .collect();
        for name in names {
            self.touch_service_name(&name, index);
        }
    }

    pub(crate) fn upsert_node(&mut self, mut node: Node) {
        if let Some(old) = self.nodes.get(&node.node) {
            node.create_index = old.create_index;
            node.modify_index = old.modify_index;
            if **old == node {
                return;
            }
        }
        let index = self.next_index();
        if node.create_index == 0 {
            node.create_index = index;
        }
        node.modify_index = index;
        self.tables.nodes = index;
        let name = node.node.clone();
        self.nodes.insert(name.clone(), Arc::new(node));
        self.touch_node_services(&name, index);
        self.notify(&Topic::Catalog);
    }

    pub(crate) fn put_service(&mut self, mut svc: Service) {
        let key = (svc.node.clone(), svc.id.clone());
        let old_name = self.services.get(&key).map(|old| {
            svc.create_index = old.create_index;
            svc.modify_index = old.modify_index;
            old.name.clone()
        });
        if self.services.get(&key).is_some_and(|old| **old == svc) {
            return;
        }
        let index = self.next_index();
        if svc.create_index == 0 {
            svc.create_index = index;
        }
        svc.modify_index = index;
        self.tables.services = index;
        self.agent_services_version += 1;
        if let Some(old) = &old_name {
            if *old != svc.name {
                if let Some(set) = self.by_name.get_mut(old) {
                    set.remove(&key);
                }
                self.touch_service_name(old, index);
            }
        }
        self.by_name
            .entry(svc.name.clone())
            .or_default()
            .insert(key.clone());
        let name = svc.name.clone();
        let id = svc.id.clone();
        self.services.insert(key, Arc::new(svc));
        self.touch_service_name(&name, index);
        self.notify(&Topic::AgentService(id));
        self.notify(&Topic::Catalog);
    }

    pub(crate) fn remove_service(&mut self, node: &str, id: &str) -> Option<Arc<Service>> {
        let key = (node.to_string(), id.to_string());
        let svc = self.services.remove(&key)?;
        let index = self.next_index();
        self.tables.services = index;
        self.agent_services_version += 1;
        if let Some(set) = self.by_name.get_mut(&svc.name) {
            set.remove(&key);
            if set.is_empty() {
                self.by_name.remove(&svc.name);
            }
        }
        let check_ids: Vec<String> = self
            .owned_checks(node, id)
            .iter()
            .map(|c| c.check_id.clone())
            .collect();
        for cid in check_ids {
            self.remove_check(node, &cid);
        }
        if node == self.node_name() {
            self.agent_services.remove(id);
        }
        self.touch_service_name(&svc.name, index);
        self.notify(&Topic::AgentService(id.to_string()));
        self.notify(&Topic::Catalog);
        Some(svc)
    }

    /// The agent's own node name.
    pub(super) fn node_name(&self) -> &str {
        &self.own_node
    }

    /// Inserts or replaces a check; keeps its create index.
    pub(crate) fn put_check(&mut self, mut check: Check, now: Instant) {
        let key = (check.node.clone(), check.check_id.clone());
        if let Some(old) = self.checks.get(&key) {
            check.create_index = old.create_index;
            check.modify_index = old.modify_index;
            if **old == check {
                return;
            }
        }
        let index = self.next_index();
        if check.create_index == 0 {
            check.create_index = index;
        }
        check.modify_index = index;
        self.tables.checks = index;
        if let Some(rt) = self.agent_checks.get_mut(&check.check_id) {
            if check.node == self.own_node {
                match (check.status, rt.critical_since) {
                    (Status::Critical, None) => rt.critical_since = Some(now),
                    (Status::Critical, Some(_)) => {}
                    _ => rt.critical_since = None,
                }
            }
        }
        let critical = check.status == Status::Critical;
        let (node, service_name, check_id) = (
            check.node.clone(),
            check.service_name.clone(),
            check.check_id.clone(),
        );
        let check = Arc::new(check);
        if let Some(old) = self.checks.insert(key, Arc::clone(&check)) {
            if old.service_id != check.service_id {
                self.unindex_check(&old);
            }
        }
        self.index_check(check);
        if service_name.is_empty() {
            self.touch_node_services(&node, index);
        } else {
            self.touch_service_name(&service_name, index);
        }
        self.notify(&Topic::Catalog);
        if critical {
            self.invalidate_sessions_for_check(&node, &check_id, now);
        }
    }

    pub(crate) fn remove_check(&mut self, node: &str, check_id: &str) -> Option<Arc<Check>> {
        let check = self
            .checks
            .remove(&(node.to_string(), check_id.to_string()))?;
        self.unindex_check(&check);
        let index = self.next_index();
        self.tables.checks = index;
        if node == self.node_name() {
            if let Some(rt) = self.agent_checks.remove(check_id) {
                if let Some(token) = rt.runner {
                    token.cancel();
                }
            }
        }
        if check.service_name.is_empty() {
            self.touch_node_services(node, index);
        } else {
            self.touch_service_name(&check.service_name, index);
        }
        self.notify(&Topic::Catalog);
        self.invalidate_sessions_for_check(node, check_id, Instant::now());
        Some(check)
    }

    /// The checks of one owner on `node`: a service ID, or `""` for the node's own.
    pub(crate) fn owned_checks(&self, node: &str, service_id: &str) -> &[Arc<Check>] {
        self.checks_by_owner
            .get(node)
            .and_then(|m| m.get(service_id))
            .map_or(&[], Vec::as_slice)
    }

    fn index_check(&mut self, check: Arc<Check>) {
        let list = self
            .checks_by_owner
            .entry(check.node.clone())
            .or_default()
            .entry(check.service_id.clone())
            .or_default();
        match list.binary_search_by(|c| c.check_id.cmp(&check.check_id)) {
            Ok(i) => list[i] = check,
            Err(i) => list.insert(i, check),
        }
    }

    fn unindex_check(&mut self, check: &Check) {
        let Some(owners) = self.checks_by_owner.get_mut(&check.node) else {
            return;
        };
        if let Some(list) = owners.get_mut(&check.service_id) {
            list.retain(|c| c.check_id != check.check_id);
            if list.is_empty() {
                owners.remove(&check.service_id);
            }
        }
        if owners.is_empty() {
            self.checks_by_owner.remove(&check.node);
        }
    }

    /// An instance with its node and checks (the node's own, then its own,
    /// merged in check ID order as Consul lists them).
    pub(super) fn health_entry(&self, svc: &Arc<Service>) -> Option<HealthEntry> {
        let node = self.nodes.get(&svc.node)?;
        let (node_checks, own) = match self.checks_by_owner.get(&svc.node) {
            Some(m) => (
                m.get("").map_or(&[][..], Vec::as_slice),
                m.get(svc.id.as_str()).map_or(&[][..], Vec::as_slice),
            ),
            None => (&[][..], &[][..]),
        };
        let mut checks = Vec::with_capacity(node_checks.len() + own.len());
        let (mut a, mut b) = (node_checks.iter().peekable(), own.iter().peekable());
        loop {
            let next = match (a.peek(), b.peek()) {
                (Some(x), Some(y)) if x.check_id <= y.check_id => a.next(),
                (Some(_), Some(_)) => b.next(),
                (Some(_), None) => a.next(),
                (None, _) => b.next(),
            };
            let Some(c) = next else { break };
            checks.push(Arc::clone(c));
        }
        Some(HealthEntry {
            node: Arc::clone(node),
            service: Arc::clone(svc),
            checks,
        })
    }

    pub(super) fn instances(&self, name: &str, tags: &[String]) -> Vec<Arc<Service>> {
        let Some(keys) = self.by_name.get(name) else {
            return Vec::new();
        };
        keys.iter()
            .filter_map(|k| self.services.get(k))
            .filter(|s| tags.iter().all(|t| s.tags.iter().any(|st| st == t)))
            .cloned()
            .collect()
    }

    /// `/v1/health/service/:name` before `?passing`, `near` and `filter`.
    pub(crate) fn health_service(&self, name: &str, tags: &[String]) -> (u64, Vec<HealthEntry>) {
        let entries = self
            .instances(name, tags)
            .iter()
            .filter_map(|s| self.health_entry(s))
            .collect();
        (self.service_index(name), entries)
    }

    /// `/v1/catalog/service/:name`.
    pub(crate) fn catalog_service(&self, name: &str, tags: &[String]) -> (u64, ServiceNodes) {
        let list = self
            .instances(name, tags)
            .into_iter()
            .filter_map(|s| Some((Arc::clone(self.nodes.get(&s.node)?), s)))
            .collect();
        (self.service_index(name), list)
    }

    /// Every instance, for `/v1/catalog/services`.
    pub(crate) fn all_service_nodes(&self) -> (u64, ServiceNodes) {
        let list = self
            .services
            .values()
            .filter_map(|s| Some((Arc::clone(self.nodes.get(&s.node)?), Arc::clone(s))))
            .collect();
        (self.tables.services, list)
    }

    /// `/v1/catalog/nodes`.
    pub(crate) fn catalog_nodes(&self) -> (u64, Vec<Arc<Node>>) {
        (self.tables.nodes, self.nodes.values().cloned().collect())
    }

    /// `/v1/catalog/node/:node`.
    pub(crate) fn catalog_node(&self, name: &str) -> (u64, Option<NodeView>) {
        let index = self.tables.nodes.max(self.tables.services);
        let view = self.nodes.get(name).map(|node| NodeView {
            node: Arc::clone(node),
            services: self
                .services
                .range((name.to_string(), String::new())..)
                .take_while(|((n, _), _)| n == name)
                .map(|(_, s)| Arc::clone(s))
                .collect(),
        });
        (index, view)
    }

    /// `/v1/health/checks/:service`: service checks only.
    pub(crate) fn service_checks(&self, name: &str) -> (u64, Vec<Arc<Check>>) {
        let mut checks: Vec<Arc<Check>> = self
            .by_name
            .get(name)
            .into_iter()
            .flatten()
            .flat_map(|(node, id)| self.owned_checks(node, id))
            .filter(|c| c.service_name == name)
            .cloned()
            .collect();
        checks.sort_by(|a, b| (&a.node, &a.check_id).cmp(&(&b.node, &b.check_id)));
        checks.dedup_by(|a, b| a.node == b.node && a.check_id == b.check_id);
        (self.service_index(name), checks)
    }

    /// `/v1/health/node/:node`.
    pub(crate) fn node_checks(&self, node: &str) -> (u64, Vec<Arc<Check>>) {
        let checks = self
            .checks
            .range((node.to_string(), String::new())..)
            .take_while(|((n, _), _)| n == node)
            .map(|(_, c)| Arc::clone(c))
            .collect();
        (self.tables.checks, checks)
    }

    /// `/v1/health/state/:state` (`any` for all).
    pub(crate) fn checks_in_state(&self, state: &str) -> (u64, Vec<Arc<Check>>) {
        let checks = self
            .checks
            .values()
            .filter(|c| state == "any" || c.status.as_str() == state)
            .cloned()
            .collect();
        (self.tables.checks, checks)
    }

    /// Agent-local services, for `/v1/agent/services`.
    pub(crate) fn agent_services(&self, node: &str) -> Vec<Arc<Service>> {
        self.agent_services
            .iter()
            .filter_map(|id| self.services.get(&(node.to_string(), id.clone())))
            .cloned()
            .collect()
    }

    /// Agent-local checks, for `/v1/agent/checks`.
    pub(crate) fn agent_checks(&self, node: &str) -> Vec<Arc<Check>> {
        let mut ids: Vec<&String> = self.agent_checks.keys().collect();
        ids.sort();
        ids.into_iter()
            .filter_map(|id| self.checks.get(&(node.to_string(), id.clone())))
            .cloned()
            .collect()
    }
}

impl Store {
    pub(super) fn own_node(&self) -> String {
        self.config().node_name.clone()
    }

    /// Registers the agent's node, `serfHealth` and the `consul` service.
    pub(super) fn bootstrap(&self) {
        let cfg = self.config().clone();
        let mut inner = self.lock();
        inner.own_node = cfg.node_name.clone();
        let now = Instant::now();
        let mut tagged = BTreeMap::new();
        for k in ["lan", "lan_ipv4", "wan", "wan_ipv4"] {
            tagged.insert(k.to_string(), cfg.node_address.clone());
        }
        let mut meta = Meta::new();
        meta.insert("consul-network-segment".into(), String::new());
        meta.insert("consul-version".into(), cfg.version.clone());
        inner.upsert_node(Node {
            id: cfg.node_id.clone(),
            node: cfg.node_name.clone(),
            address: cfg.node_address.clone(),
            datacenter: cfg.datacenter.clone(),
            tagged_addresses: tagged,
            meta,
            create_index: 0,
            modify_index: 0,
        });
        let mut meta = Meta::new();
        for (k, v) in [
            ("non_voter", "false"),
            ("read_replica", "false"),
            ("raft_version", "3"),
            ("serf_protocol_current", "2"),
            ("serf_protocol_min", "1"),
            ("serf_protocol_max", "5"),
            ("grpc_port", "8502"),
        ] {
            meta.insert(k.into(), v.into());
        }
        meta.insert("version".into(), cfg.version.clone());
        inner.put_service(Service {
            node: cfg.node_name.clone(),
            kind: String::new(),
            id: "consul".into(),
            name: "consul".into(),
            tags: Vec::new(),
            address: String::new(),
            tagged_addresses: BTreeMap::new(),
            meta,
            port: 8300,
            socket_path: String::new(),
            weights: Weights::default(),
            enable_tag_override: false,
            mesh: Default::default(),
            create_index: 0,
            modify_index: 0,
        });
        inner.put_check(
            Check {
                node: cfg.node_name.clone(),
                check_id: SERF_HEALTH.into(),
                name: "Serf Health Status".into(),
                status: Status::Passing,
                notes: String::new(),
                output: "Agent alive and reachable".into(),
                service_id: String::new(),
                service_name: String::new(),
                service_tags: Vec::new(),
                kind: String::new(),
                spec: CheckSpec::default(),
                create_index: 0,
                modify_index: 0,
            },
            now,
        );
    }
}
