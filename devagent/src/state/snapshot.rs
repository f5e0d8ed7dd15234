//! The store's part of `/v1/snapshot`: nodes, services, checks, KV and
//! sessions with their indexes, as plain serde records; and a restore that
//! replaces them all at once (after everything was decoded), keeping the
//! indexes and the agent's own node.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::{Inner, Store, Topic};
use crate::types::{
    Behavior, Check, CheckSpec, KvEntry, Mesh, MoreProbes, Node, Service, ServiceAddress,
    ServiceCheckRef, Session, Status, Weights,
};

#[derive(Serialize, Deserialize)]
struct SnapNode {
    id: String,
    name: String,
    address: String,
    datacenter: String,
    tagged_addresses: BTreeMap<String, String>,
    meta: BTreeMap<String, String>,
    create_index: u64,
    modify_index: u64,
}

#[derive(Serialize, Deserialize)]
struct SnapService {
    node: String,
    kind: String,
    id: String,
    name: String,
    tags: Vec<String>,
    address: String,
    tagged_addresses: BTreeMap<String, ServiceAddress>,
    meta: BTreeMap<String, String>,
    port: u16,
    socket_path: String,
    weights: (u32, u32),
    enable_tag_override: bool,
    proxy: Option<Value>,
    connect: Option<Value>,
    locality: Option<Value>,
    sidecar_of: String,
    create_index: u64,
    modify_index: u64,
}

#[derive(Serialize, Deserialize)]
struct SnapSpec {
    http: Option<String>,
    method: String,
    header: BTreeMap<String, Vec<String>>,
    body: String,
    tls_skip_verify: bool,
    tls_server_name: String,
    disable_redirects: bool,
    tcp: Option<String>,
    ttl_ns: Option<u64>,
    interval_ns: Option<u64>,
    timeout_ns: Option<u64>,
    deregister_after_ns: Option<u64>,
    success_before_passing: u32,
    failures_before_warning: u32,
    failures_before_critical: u32,
    output_max_size: usize,
    script_args: Vec<String>,
    docker_container_id: String,
    shell: String,
    udp: String,
    grpc: String,
    grpc_use_tls: bool,
    h2ping: String,
    h2ping_use_tls: bool,
    alias_node: String,
    alias_service: String,
}

#[derive(Serialize, Deserialize)]
struct SnapCheck {
    node: String,
    check_id: String,
    name: String,
    status: String,
    notes: String,
    output: String,
    service_id: String,
    service_name: String,
    service_tags: Vec<String>,
    kind: String,
    spec: SnapSpec,
    create_index: u64,
    modify_index: u64,
}

#[derive(Serialize, Deserialize)]
struct SnapKv {
    key: String,
    flags: u64,
    /// Base64.
    value: String,
    session: Option<String>,
    lock_index: u64,
    create_index: u64,
    modify_index: u64,
}

#[derive(Serialize, Deserialize)]
struct SnapSession {
    id: String,
    name: String,
    node: String,
    lock_delay_ns: u64,
    delete: bool,
    ttl: String,
    node_checks: Vec<String>,
    service_checks: Option<Vec<(String, String)>>,
    checks: Vec<String>,
    create_index: u64,
    modify_index: u64,
}

/// Everything the store keeps that a snapshot holds.
#[derive(Serialize, Deserialize)]
pub(crate) struct StoreSnapshot {
    index: u64,
    nodes: Vec<SnapNode>,
    services: Vec<SnapService>,
    checks: Vec<SnapCheck>,
    kv: Vec<SnapKv>,
    sessions: Vec<SnapSession>,
}

fn ns(d: Option<Duration>) -> Option<u64> {
    d.map(|d| d.as_nanos() as u64)
}

fn dur(n: Option<u64>) -> Option<Duration> {
    n.map(Duration::from_nanos)
}

impl Store {
    /// The store's state, at its current index.
    pub(crate) fn snapshot(&self) -> StoreSnapshot {
        use base64::Engine as _;
        let inner = self.lock();
        StoreSnapshot {
            index: inner.index,
            nodes: inner
                .nodes
                .values()
                .map(|n| SnapNode {
                    id: n.id.clone(),
                    name: n.node.clone(),
                    address: n.address.clone(),
                    datacenter: n.datacenter.clone(),
                    tagged_addresses: n.tagged_addresses.clone(),
                    meta: n.meta.clone().into_iter().collect(),
                    create_index: n.create_index,
                    modify_index: n.modify_index,
                })
                .collect(),
            services: inner
                .services
                .values()
                .map(|s| SnapService {
                    node: s.node.clone(),
                    kind: s.kind.clone(),
                    id: s.id.clone(),
                    name: s.name.clone(),
                    tags: s.tags.clone(),
                    address: s.address.clone(),
                    tagged_addresses: s.tagged_addresses.clone(),
                    meta: s.meta.clone().into_iter().collect(),
                    port: s.port,
                    socket_path: s.socket_path.clone(),
                    weights: (s.weights.passing, s.weights.warning),
                    enable_tag_override: s.enable_tag_override,
                    proxy: s.mesh.proxy.clone(),
                    connect: s.mesh.connect.clone(),
                    locality: s.mesh.locality.clone(),
                    sidecar_of: s.mesh.sidecar_of.clone(),
                    create_index: s.create_index,
                    modify_index: s.modify_index,
                })
                .collect(),
            checks: inner
                .checks
                .values()
                .map(|c| {
                    let s = &c.spec;
                    let m = &s.more;
                    SnapCheck {
                        node: c.node.clone(),
                        check_id: c.check_id.clone(),
                        name: c.name.clone(),
                        status: c.status.as_str().to_string(),
                        notes: c.notes.clone(),
                        output: c.output.clone(),
                        service_id: c.service_id.clone(),
                        service_name: c.service_name.clone(),
                        service_tags: c.service_tags.clone(),
                        kind: c.kind.clone(),
                        spec: SnapSpec {
                            http: s.http.clone(),
                            method: s.method.clone(),
                            header: s.header.clone(),
                            body: s.body.clone(),
                            tls_skip_verify: s.tls_skip_verify,
                            tls_server_name: s.tls_server_name.clone(),
                            disable_redirects: s.disable_redirects,
                            tcp: s.tcp.clone(),
                            ttl_ns: ns(s.ttl),
                            interval_ns: ns(s.interval),
                            timeout_ns: ns(s.timeout),
                            deregister_after_ns: ns(s.deregister_critical_after),
                            success_before_passing: s.success_before_passing,
                            failures_before_warning: s.failures_before_warning,
                            failures_before_critical: s.failures_before_critical,
                            output_max_size: s.output_max_size,
                            script_args: m.script_args.clone(),
                            docker_container_id: m.docker_container_id.clone(),
                            shell: m.shell.clone(),
                            udp: m.udp.clone(),
                            grpc: m.grpc.clone(),
                            grpc_use_tls: m.grpc_use_tls,
                            h2ping: m.h2ping.clone(),
                            h2ping_use_tls: m.h2ping_use_tls,
                            alias_node: m.alias_node.clone(),
                            alias_service: m.alias_service.clone(),
                        },
                        create_index: c.create_index,
                        modify_index: c.modify_index,
                    }
                })
                .collect(),
            kv: inner
                .kv
                .values()
                .map(|e| SnapKv {
                    key: e.key.clone(),
                    flags: e.flags,
                    value: base64::engine::general_purpose::STANDARD.encode(&e.value),
                    session: e.session.clone(),
                    lock_index: e.lock_index,
                    create_index: e.create_index,
                    modify_index: e.modify_index,
                })
                .collect(),
            sessions: inner
                .sessions
                .values()
                .map(|s| SnapSession {
                    id: s.id.clone(),
                    name: s.name.clone(),
                    node: s.node.clone(),
                    lock_delay_ns: s.lock_delay.as_nanos() as u64,
                    delete: s.behavior == Behavior::Delete,
                    ttl: s.ttl.clone(),
                    node_checks: s.node_checks.clone(),
                    service_checks: s.service_checks.as_ref().map(|v| {
                        v.iter()
                            .map(|r| (r.id.clone(), r.namespace.clone()))
                            .collect()
                    }),
                    checks: s.checks.clone(),
                    create_index: s.create_index,
                    modify_index: s.modify_index,
                })
                .collect(),
        }
    }

    /// Replaces the catalog, KV and sessions with a snapshot's. Agent-owned
    /// services and checks are forgotten (the agent's local state is its own,
    /// as in Consul); the agent's node comes back by itself.
    pub(crate) fn restore(&self, snap: StoreSnapshot) -> Result<(), String> {
        use base64::Engine as _;
        let mut kv = BTreeMap::new();
        for e in snap.kv {
            let value = base64::engine::general_purpose::STANDARD
                .decode(&e.value)
                .map_err(|err| format!("KV {:?}: value is not base64: {err}", e.key))?;
            kv.insert(
                e.key.clone(),
                Arc::new(KvEntry {
                    key: e.key,
                    flags: e.flags,
                    value: value.into(),
                    session: e.session,
                    lock_index: e.lock_index,
                    create_index: e.create_index,
                    modify_index: e.modify_index,
                }),
            );
        }
        let mut checks = BTreeMap::new();
        for c in snap.checks {
            let status = Status::parse(&c.status)
                .ok_or_else(|| format!("check {:?}: bad status {:?}", c.check_id, c.status))?;
            let s = c.spec;
            let spec = CheckSpec {
                http: s.http,
                method: s.method,
                header: s.header,
                body: s.body,
                tls_skip_verify: s.tls_skip_verify,
                tls_server_name: s.tls_server_name,
                disable_redirects: s.disable_redirects,
                tcp: s.tcp,
                ttl: dur(s.ttl_ns),
                interval: dur(s.interval_ns),
                timeout: dur(s.timeout_ns),
                deregister_critical_after: dur(s.deregister_after_ns),
                success_before_passing: s.success_before_passing,
                failures_before_warning: s.failures_before_warning,
                failures_before_critical: s.failures_before_critical,
                output_max_size: s.output_max_size,
                more: MoreProbes {
                    script_args: s.script_args,
                    docker_container_id: s.docker_container_id,
                    shell: s.shell,
                    udp: s.udp,
                    grpc: s.grpc,
                    grpc_use_tls: s.grpc_use_tls,
                    h2ping: s.h2ping,
                    h2ping_use_tls: s.h2ping_use_tls,
                    alias_node: s.alias_node,
                    alias_service: s.alias_service,
                },
            };
            checks.insert(
                (c.node.clone(), c.check_id.clone()),
                Arc::new(Check {
                    node: c.node,
                    check_id: c.check_id,
                    name: c.name,
                    status,
                    notes: c.notes,
                    output: c.output,
                    service_id: c.service_id,
                    service_name: c.service_name,
                    service_tags: c.service_tags,
                    kind: c.kind,
                    spec,
                    create_index: c.create_index,
                    modify_index: c.modify_index,
                }),
            );
        }
        let nodes: BTreeMap<String, Arc<Node>> = snap
            .nodes
            .into_iter()
            .map(|n| {
                (
                    n.name.clone(),
                    Arc::new(Node {
                        id: n.id,
                        node: n.name,
                        address: n.address,
                        datacenter: n.datacenter,
                        tagged_addresses: n.tagged_addresses,
                        meta: n.meta.into_iter().collect(),
                        create_index: n.create_index,
                        modify_index: n.modify_index,
                    }),
                )
            })
            .collect();
        let services: BTreeMap<(String, String), Arc<Service>> = snap
            .services
            .into_iter()
            .map(|s| {
                (
                    (s.node.clone(), s.id.clone()),
                    Arc::new(Service {
                        node: s.node,
                        kind: s.kind,
                        id: s.id,
                        name: s.name,
                        tags: s.tags,
                        address: s.address,
                        tagged_addresses: s.tagged_addresses,
                        meta: s.meta.into_iter().collect(),
                        port: s.port,
                        socket_path: s.socket_path,
                        weights: Weights {
                            passing: s.weights.0,
                            warning: s.weights.1,
                        },
                        enable_tag_override: s.enable_tag_override,
                        mesh: Mesh {
                            proxy: s.proxy,
                            connect: s.connect,
                            locality: s.locality,
                            sidecar_of: s.sidecar_of,
                        },
                        create_index: s.create_index,
                        modify_index: s.modify_index,
                    }),
                )
            })
            .collect();
        let sessions: BTreeMap<String, Arc<Session>> = snap
            .sessions
            .into_iter()
            .map(|s| {
                (
                    s.id.clone(),
                    Arc::new(Session {
                        id: s.id,
                        name: s.name,
                        node: s.node,
                        lock_delay: Duration::from_nanos(s.lock_delay_ns),
                        behavior: if s.delete {
                            Behavior::Delete
                        } else {
                            Behavior::Release
                        },
                        ttl: s.ttl,
                        node_checks: s.node_checks,
                        service_checks: s.service_checks.map(|v| {
                            v.into_iter()
                                .map(|(id, namespace)| ServiceCheckRef { id, namespace })
                                .collect()
                        }),
                        checks: s.checks,
                        create_index: s.create_index,
                        modify_index: s.modify_index,
                    }),
                )
            })
            .collect();
        // Everything decoded: now replace, in one critical section.
        let now = Instant::now();
        let mut inner = self.lock();
        for rt in inner.agent_checks.values() {
            if let Some(t) = &rt.runner {
                t.cancel();
            }
        }
        inner.agent_checks.clear();
        inner.agent_services.clear();
        inner.nodes = nodes;
        inner.services = services;
        inner.checks = checks;
        inner.kv = kv;
        inner.tombstones.clear();
        inner.lock_delays.clear();
        inner.sessions = sessions;
        inner.session_expiry.clear();
        let ttls: Vec<(String, Duration)> = inner
            .sessions
            .values()
            .filter_map(|s| {
                let ttl = gocompat::duration::parse(&s.ttl).ok()?;
                (!ttl.is_zero()).then(|| (s.id.clone(), ttl))
            })
            .collect();
        for (id, ttl) in ttls {
            let at = now + ttl * super::session::TTL_MULTIPLIER;
            inner.session_expiry.insert(id, at);
            if inner.schedule(at) {
                self.kick_timer();
            }
        }
        rebuild(&mut inner, snap.index);
        drop(inner);
        // The agent's own node, serfHealth and consul service, if the
        // snapshot came from another node.
        self.bootstrap();
        Ok(())
    }
}

/// Indexes and lookups derived from the tables, after a restore.
fn rebuild(inner: &mut Inner, index: u64) {
    inner.index = inner.index.max(index);
    inner.by_name.clear();
    let keys: Vec<((String, String), String)> = inner
        .services
        .iter()
        .map(|(k, s)| (k.clone(), s.name.clone()))
        .collect();
    for (k, name) in keys {
        inner.by_name.entry(name).or_default().insert(k);
    }
    let max = |it: &mut dyn Iterator<Item = u64>| it.max().unwrap_or(0);
    inner.tables.nodes = max(&mut inner.nodes.values().map(|n| n.modify_index)).max(index);
    inner.tables.services = max(&mut inner.services.values().map(|s| s.modify_index)).max(index);
    inner.tables.checks = max(&mut inner.checks.values().map(|c| c.modify_index)).max(index);
    inner.tables.kv = max(&mut inner.kv.values().map(|e| e.modify_index)).max(index);
    inner.tables.sessions = max(&mut inner.sessions.values().map(|s| s.modify_index)).max(index);
    inner.service_index.clear();
    let names: Vec<String> = inner.by_name.keys().cloned().collect();
    for n in &names {
        inner.service_index.insert(n.clone(), index);
    }
    inner.notify(&Topic::Catalog);
    inner.notify(&Topic::Sessions);
    for n in names {
        inner.notify(&Topic::Service(n));
    }
    let keys: Vec<String> = inner.kv.keys().cloned().collect();
    for k in keys {
        inner.notify_kv(&k);
    }
    inner.notify_kv("");
}
