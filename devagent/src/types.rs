//! The records the agent stores (nodes, services, checks, KV entries,
//! sessions, events) and the JSON shapes Consul gives them on the wire.
//!
//! Stored records are kept behind `Arc`s so that a query can take a snapshot
//! under the store lock and serialize it after the lock is released. The
//! `*Out` structs borrow from those snapshots and carry Consul's exact field
//! names.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use serde::{Serialize, Serializer};

use gocompat::duration;

/// Free-form string metadata (`Meta`, `NodeMeta`, `ServiceMeta`).
pub type Meta = BTreeMap<String, String>;

/// The health of a check.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Status {
    /// The check succeeds.
    Passing,
    /// The check reports a problem that does not take the instance out of service.
    Warning,
    /// The check fails: DNS and `?passing` drop the instance.
    Critical,
}

impl Status {
    /// The wire spelling: `passing`, `warning` or `critical`.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Passing => "passing",
            Status::Warning => "warning",
            Status::Critical => "critical",
        }
    }

    /// Parses the wire spelling.
    pub fn parse(s: &str) -> Option<Status> {
        match s {
            "passing" => Some(Status::Passing),
            "warning" => Some(Status::Warning),
            "critical" => Some(Status::Critical),
            _ => None,
        }
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for Status {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

/// Load-balancing weights of a service instance.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Weights {
    /// Weight while the instance is passing.
    pub passing: u32,
    /// Weight while the instance has a warning.
    pub warning: u32,
}

impl Default for Weights {
    fn default() -> Self {
        Weights {
            passing: 1,
            warning: 1,
        }
    }
}

/// An address and port, as used in `TaggedAddresses` of a service.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct ServiceAddress {
    /// The address.
    #[serde(rename = "Address", default)]
    pub address: String,
    /// The port.
    #[serde(rename = "Port", default)]
    pub port: u16,
}

/// A catalog node.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Node {
    /// Node UUID.
    #[serde(rename = "ID")]
    pub id: String,
    /// Node name.
    #[serde(rename = "Node")]
    pub name: String,
    /// Node address.
    #[serde(rename = "Address")]
    pub address: String,
    /// Datacenter the node belongs to.
    #[serde(rename = "Datacenter")]
    pub datacenter: String,
    /// Tagged addresses (`lan`, `wan`, ...).
    #[serde(rename = "TaggedAddresses")]
    pub tagged_addresses: BTreeMap<String, String>,
    /// Node metadata.
    #[serde(rename = "Meta")]
    pub meta: Meta,
    /// Raft index at creation.
    #[serde(rename = "CreateIndex")]
    pub create_index: u64,
    /// Raft index of the last change.
    #[serde(rename = "ModifyIndex")]
    pub modify_index: u64,
}

/// A service instance registered on a node.
#[derive(Clone, Debug, PartialEq)]
pub struct Service {
    /// Node the instance runs on.
    pub node: String,
    /// Service kind (`""` for typical services).
    pub kind: String,
    /// Instance ID, unique per node.
    pub id: String,
    /// Service name.
    pub name: String,
    /// Tags.
    pub tags: Vec<String>,
    /// Address; empty means "use the node address".
    pub address: String,
    /// Tagged addresses.
    pub tagged_addresses: BTreeMap<String, ServiceAddress>,
    /// Metadata.
    pub meta: Meta,
    /// Port.
    pub port: u16,
    /// Unix socket path, if the service listens on one.
    pub socket_path: String,
    /// Load-balancing weights.
    pub weights: Weights,
    /// Whether the catalog may override tags.
    pub enable_tag_override: bool,
    /// Raft index at creation.
    pub create_index: u64,
    /// Raft index of the last change.
    pub modify_index: u64,
}

impl Service {
    /// The address clients should dial: the service address, else the node address.
    pub fn effective_address<'a>(&'a self, node: &'a Node) -> &'a str {
        if self.address.is_empty() {
            &node.address
        } else {
            &self.address
        }
    }
}

/// The definition of a check: what the agent runs and how often.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct CheckSpec {
    /// URL of an HTTP check.
    pub http: Option<String>,
    /// HTTP method (default GET).
    pub method: String,
    /// HTTP headers.
    pub header: BTreeMap<String, Vec<String>>,
    /// HTTP request body.
    pub body: String,
    /// Skip TLS verification for HTTPS checks.
    pub tls_skip_verify: bool,
    /// TLS server name for HTTPS checks.
    pub tls_server_name: String,
    /// Do not follow redirects.
    pub disable_redirects: bool,
    /// `host:port` of a TCP check.
    pub tcp: Option<String>,
    /// TTL of a TTL check.
    pub ttl: Option<Duration>,
    /// Interval of an active check.
    pub interval: Option<Duration>,
    /// Timeout of an active check (default 10s).
    pub timeout: Option<Duration>,
    /// Remove the service after the check has been critical this long.
    pub deregister_critical_after: Option<Duration>,
    /// Consecutive successes needed to turn passing.
    pub success_before_passing: u32,
    /// Consecutive failures needed to turn warning.
    pub failures_before_warning: u32,
    /// Consecutive failures needed to turn critical.
    pub failures_before_critical: u32,
    /// Output cap in bytes (default 4096).
    pub output_max_size: usize,
}

impl CheckSpec {
    /// Consul's check type: `http`, `ttl`, `tcp`, or `""` for none.
    pub fn kind(&self) -> &'static str {
        if self.http.is_some() {
            "http"
        } else if self.ttl.is_some() {
            "ttl"
        } else if self.tcp.is_some() {
            "tcp"
        } else {
            ""
        }
    }
}

/// A health check, node-level (`service_id` empty) or on a service instance.
#[derive(Clone, Debug, PartialEq)]
pub struct Check {
    /// Node the check belongs to.
    pub node: String,
    /// Check ID, unique per node.
    pub check_id: String,
    /// Human name.
    pub name: String,
    /// Current status.
    pub status: Status,
    /// Operator notes.
    pub notes: String,
    /// Output of the last run or TTL update.
    pub output: String,
    /// Service instance ID (empty for node checks).
    pub service_id: String,
    /// Service name (empty for node checks).
    pub service_name: String,
    /// Tags of the service.
    pub service_tags: Vec<String>,
    /// Type: `ttl`, `http`, `tcp`, `maintenance` or `""`.
    pub kind: String,
    /// What the agent runs.
    pub spec: CheckSpec,
    /// Raft index at creation.
    pub create_index: u64,
    /// Raft index of the last change.
    pub modify_index: u64,
}

/// A KV entry.
#[derive(Clone, Debug, PartialEq)]
pub struct KvEntry {
    /// Full key.
    pub key: String,
    /// Opaque flags.
    pub flags: u64,
    /// Value bytes.
    pub value: bytes::Bytes,
    /// Session holding the lock, if any.
    pub session: Option<String>,
    /// Number of times the lock was acquired.
    pub lock_index: u64,
    /// Raft index at creation.
    pub create_index: u64,
    /// Raft index of the last change.
    pub modify_index: u64,
}

/// What happens to keys held by a session when it is invalidated.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub enum Behavior {
    /// Release the locks.
    #[serde(rename = "release")]
    Release,
    /// Delete the held keys.
    #[serde(rename = "delete")]
    Delete,
}

/// A session.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Session {
    /// Session UUID.
    #[serde(rename = "ID")]
    pub id: String,
    /// Name.
    #[serde(rename = "Name")]
    pub name: String,
    /// Node the session is tied to.
    #[serde(rename = "Node")]
    pub node: String,
    /// Lock delay, in nanoseconds on the wire.
    #[serde(rename = "LockDelay", serialize_with = "ser_nanos")]
    pub lock_delay: Duration,
    /// Invalidation behavior.
    #[serde(rename = "Behavior")]
    pub behavior: Behavior,
    /// TTL as the client gave it (`""` when none).
    #[serde(rename = "TTL")]
    pub ttl: String,
    /// Node checks the session depends on.
    #[serde(rename = "NodeChecks")]
    pub node_checks: Vec<String>,
    /// Service checks the session depends on.
    #[serde(rename = "ServiceChecks")]
    pub service_checks: Option<Vec<ServiceCheckRef>>,
    /// Deprecated union of node and service checks.
    #[serde(rename = "Checks")]
    pub checks: Vec<String>,
    /// Raft index at creation.
    #[serde(rename = "CreateIndex")]
    pub create_index: u64,
    /// Raft index of the last change.
    #[serde(rename = "ModifyIndex")]
    pub modify_index: u64,
}

/// A service check a session depends on.
#[derive(Clone, Debug, PartialEq, Serialize, serde::Deserialize)]
pub struct ServiceCheckRef {
    /// Check ID.
    #[serde(rename = "ID")]
    pub id: String,
    /// Namespace (Enterprise; always empty here).
    #[serde(rename = "Namespace", default)]
    pub namespace: String,
}

fn ser_nanos<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_u64(u64::try_from(d.as_nanos()).unwrap_or(u64::MAX))
}

/// A user event.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Event {
    /// Event UUID.
    #[serde(rename = "ID")]
    pub id: String,
    /// Event name.
    #[serde(rename = "Name")]
    pub name: String,
    /// Payload, base64 on the wire.
    #[serde(rename = "Payload", serialize_with = "ser_opt_b64")]
    pub payload: Option<bytes::Bytes>,
    /// Node filter regex.
    #[serde(rename = "NodeFilter")]
    pub node_filter: String,
    /// Service filter regex.
    #[serde(rename = "ServiceFilter")]
    pub service_filter: String,
    /// Tag filter regex.
    #[serde(rename = "TagFilter")]
    pub tag_filter: String,
    /// Always 1.
    #[serde(rename = "Version")]
    pub version: u32,
    /// Lamport time.
    #[serde(rename = "LTime")]
    pub ltime: u64,
}

fn ser_opt_b64<S: Serializer>(v: &Option<bytes::Bytes>, s: S) -> Result<S::Ok, S::Error> {
    use base64::Engine as _;
    match v {
        Some(b) if !b.is_empty() => {
            s.serialize_str(&base64::engine::general_purpose::STANDARD.encode(b))
        }
        _ => s.serialize_none(),
    }
}

// ---------------------------------------------------------------------------
// Wire shapes
// ---------------------------------------------------------------------------

fn is_false(b: &bool) -> bool {
    !*b
}

fn dur_str(d: Option<Duration>) -> String {
    d.map(duration::format).unwrap_or_default()
}

/// `Proxy` zero value as the health and catalog endpoints print it.
#[derive(Serialize)]
pub struct ProxyZero {
    #[serde(rename = "Mode")]
    mode: &'static str,
    #[serde(rename = "MeshGateway")]
    mesh_gateway: Empty,
    #[serde(rename = "Expose")]
    expose: Empty,
}

/// An empty JSON object.
#[derive(Serialize)]
pub struct Empty {}

const PROXY_ZERO: ProxyZero = ProxyZero {
    mode: "",
    mesh_gateway: Empty {},
    expose: Empty {},
};

/// `NodeService`: a service in `/v1/health/service` and `/v1/catalog/node`.
#[derive(Serialize)]
pub struct NodeServiceOut<'a> {
    #[serde(rename = "Kind", skip_serializing_if = "str::is_empty")]
    kind: &'a str,
    #[serde(rename = "ID")]
    id: &'a str,
    #[serde(rename = "Service")]
    service: &'a str,
    #[serde(rename = "Tags")]
    tags: &'a [String],
    #[serde(rename = "Address")]
    address: &'a str,
    #[serde(rename = "TaggedAddresses", skip_serializing_if = "BTreeMap::is_empty")]
    tagged_addresses: &'a BTreeMap<String, ServiceAddress>,
    #[serde(rename = "Meta")]
    meta: &'a Meta,
    #[serde(rename = "Port")]
    port: u16,
    #[serde(rename = "SocketPath", skip_serializing_if = "str::is_empty")]
    socket_path: &'a str,
    #[serde(rename = "Weights")]
    weights: Weights,
    #[serde(rename = "EnableTagOverride")]
    enable_tag_override: bool,
    #[serde(rename = "Proxy")]
    proxy: ProxyZero,
    #[serde(rename = "Connect")]
    connect: Empty,
    #[serde(rename = "PeerName", skip_serializing_if = "str::is_empty")]
    peer_name: &'a str,
    #[serde(rename = "CreateIndex")]
    create_index: u64,
    #[serde(rename = "ModifyIndex")]
    modify_index: u64,
}

impl<'a> From<&'a Service> for NodeServiceOut<'a> {
    fn from(s: &'a Service) -> Self {
        NodeServiceOut {
            kind: &s.kind,
            id: &s.id,
            service: &s.name,
            tags: &s.tags,
            address: &s.address,
            tagged_addresses: &s.tagged_addresses,
            meta: &s.meta,
            port: s.port,
            socket_path: &s.socket_path,
            weights: s.weights,
            enable_tag_override: s.enable_tag_override,
            proxy: PROXY_ZERO,
            connect: Empty {},
            peer_name: "",
            create_index: s.create_index,
            modify_index: s.modify_index,
        }
    }
}

/// `AgentService`: a service in `/v1/agent/services` and `/v1/agent/service/:id`.
#[derive(Serialize)]
pub struct AgentServiceOut<'a> {
    #[serde(rename = "Kind", skip_serializing_if = "str::is_empty")]
    kind: &'a str,
    #[serde(rename = "ID")]
    id: &'a str,
    #[serde(rename = "Service")]
    service: &'a str,
    #[serde(rename = "Tags")]
    tags: &'a [String],
    #[serde(rename = "Meta")]
    meta: &'a Meta,
    #[serde(rename = "Port")]
    port: u16,
    #[serde(rename = "Address")]
    address: &'a str,
    #[serde(rename = "SocketPath", skip_serializing_if = "str::is_empty")]
    socket_path: &'a str,
    #[serde(rename = "TaggedAddresses", skip_serializing_if = "BTreeMap::is_empty")]
    tagged_addresses: &'a BTreeMap<String, ServiceAddress>,
    #[serde(rename = "Weights")]
    weights: Weights,
    #[serde(rename = "EnableTagOverride")]
    enable_tag_override: bool,
    #[serde(rename = "ContentHash", skip_serializing_if = "Option::is_none")]
    content_hash: Option<String>,
    #[serde(rename = "Datacenter")]
    datacenter: &'a str,
}

impl<'a> AgentServiceOut<'a> {
    /// The agent view of `s` in datacenter `dc`, with a content hash when given.
    pub fn new(s: &'a Service, dc: &'a str, content_hash: Option<String>) -> Self {
        AgentServiceOut {
            kind: &s.kind,
            id: &s.id,
            service: &s.name,
            tags: &s.tags,
            meta: &s.meta,
            port: s.port,
            address: &s.address,
            socket_path: &s.socket_path,
            tagged_addresses: &s.tagged_addresses,
            weights: s.weights,
            enable_tag_override: s.enable_tag_override,
            content_hash,
            datacenter: dc,
        }
    }
}

/// `ServiceNode`: an entry of `/v1/catalog/service/:name`.
#[derive(Serialize)]
pub struct ServiceNodeOut<'a> {
    #[serde(rename = "ID")]
    id: &'a str,
    #[serde(rename = "Node")]
    node: &'a str,
    #[serde(rename = "Address")]
    address: &'a str,
    #[serde(rename = "Datacenter")]
    datacenter: &'a str,
    #[serde(rename = "TaggedAddresses")]
    tagged_addresses: &'a BTreeMap<String, String>,
    #[serde(rename = "NodeMeta")]
    node_meta: &'a Meta,
    #[serde(rename = "ServiceKind")]
    service_kind: &'a str,
    #[serde(rename = "ServiceID")]
    service_id: &'a str,
    #[serde(rename = "ServiceName")]
    service_name: &'a str,
    #[serde(rename = "ServiceTags")]
    service_tags: &'a [String],
    #[serde(rename = "ServiceAddress")]
    service_address: &'a str,
    #[serde(
        rename = "ServiceTaggedAddresses",
        skip_serializing_if = "BTreeMap::is_empty"
    )]
    service_tagged_addresses: &'a BTreeMap<String, ServiceAddress>,
    #[serde(rename = "ServiceWeights")]
    service_weights: Weights,
    #[serde(rename = "ServiceMeta")]
    service_meta: &'a Meta,
    #[serde(rename = "ServicePort")]
    service_port: u16,
    #[serde(rename = "ServiceSocketPath")]
    service_socket_path: &'a str,
    #[serde(rename = "ServiceEnableTagOverride")]
    service_enable_tag_override: bool,
    #[serde(rename = "ServiceProxy")]
    service_proxy: ProxyZero,
    #[serde(rename = "ServiceConnect")]
    service_connect: Empty,
    #[serde(rename = "CreateIndex")]
    create_index: u64,
    #[serde(rename = "ModifyIndex")]
    modify_index: u64,
}

impl<'a> ServiceNodeOut<'a> {
    /// The catalog view of service `s` on node `n`.
    pub fn new(n: &'a Node, s: &'a Service) -> Self {
        ServiceNodeOut {
            id: &n.id,
            node: &n.name,
            address: &n.address,
            datacenter: &n.datacenter,
            tagged_addresses: &n.tagged_addresses,
            node_meta: &n.meta,
            service_kind: &s.kind,
            service_id: &s.id,
            service_name: &s.name,
            service_tags: &s.tags,
            service_address: &s.address,
            service_tagged_addresses: &s.tagged_addresses,
            service_weights: s.weights,
            service_meta: &s.meta,
            service_port: s.port,
            service_socket_path: &s.socket_path,
            service_enable_tag_override: s.enable_tag_override,
            service_proxy: PROXY_ZERO,
            service_connect: Empty {},
            create_index: s.create_index,
            modify_index: s.modify_index,
        }
    }
}

/// `HealthCheckDefinition`: every field is omitted when empty.
#[derive(Serialize)]
pub struct DefinitionOut<'a> {
    #[serde(rename = "HTTP", skip_serializing_if = "str::is_empty")]
    http: &'a str,
    #[serde(rename = "TLSServerName", skip_serializing_if = "str::is_empty")]
    tls_server_name: &'a str,
    #[serde(rename = "TLSSkipVerify", skip_serializing_if = "is_false")]
    tls_skip_verify: bool,
    #[serde(rename = "Header", skip_serializing_if = "BTreeMap::is_empty")]
    header: &'a BTreeMap<String, Vec<String>>,
    #[serde(rename = "Method", skip_serializing_if = "str::is_empty")]
    method: &'a str,
    #[serde(rename = "Body", skip_serializing_if = "str::is_empty")]
    body: &'a str,
    #[serde(rename = "DisableRedirects", skip_serializing_if = "is_false")]
    disable_redirects: bool,
    #[serde(rename = "TCP", skip_serializing_if = "str::is_empty")]
    tcp: &'a str,
    #[serde(rename = "Interval", skip_serializing_if = "String::is_empty")]
    interval: String,
    #[serde(rename = "Timeout", skip_serializing_if = "String::is_empty")]
    timeout: String,
    #[serde(
        rename = "DeregisterCriticalServiceAfter",
        skip_serializing_if = "String::is_empty"
    )]
    deregister_critical_service_after: String,
    #[serde(rename = "TTL", skip_serializing_if = "String::is_empty")]
    ttl: String,
}

/// `HealthCheck`: the check shape shared by the agent, health and catalog endpoints.
#[derive(Serialize)]
pub struct CheckOut<'a> {
    #[serde(rename = "Node")]
    node: &'a str,
    #[serde(rename = "CheckID")]
    check_id: &'a str,
    #[serde(rename = "Name")]
    name: &'a str,
    #[serde(rename = "Status")]
    status: Status,
    #[serde(rename = "Notes")]
    notes: &'a str,
    #[serde(rename = "Output")]
    output: &'a str,
    #[serde(rename = "ServiceID")]
    service_id: &'a str,
    #[serde(rename = "ServiceName")]
    service_name: &'a str,
    #[serde(rename = "ServiceTags")]
    service_tags: &'a [String],
    #[serde(rename = "Type")]
    kind: &'a str,
    #[serde(rename = "Interval")]
    interval: String,
    #[serde(rename = "Timeout")]
    timeout: String,
    #[serde(rename = "ExposedPort")]
    exposed_port: u16,
    #[serde(rename = "Definition")]
    definition: DefinitionOut<'a>,
    #[serde(rename = "CreateIndex")]
    create_index: u64,
    #[serde(rename = "ModifyIndex")]
    modify_index: u64,
}

impl<'a> From<&'a Check> for CheckOut<'a> {
    fn from(c: &'a Check) -> Self {
        let s = &c.spec;
        CheckOut {
            node: &c.node,
            check_id: &c.check_id,
            name: &c.name,
            status: c.status,
            notes: &c.notes,
            output: &c.output,
            service_id: &c.service_id,
            service_name: &c.service_name,
            service_tags: &c.service_tags,
            kind: &c.kind,
            interval: dur_str(s.interval),
            timeout: dur_str(s.timeout),
            exposed_port: 0,
            definition: DefinitionOut {
                http: s.http.as_deref().unwrap_or(""),
                tls_server_name: &s.tls_server_name,
                tls_skip_verify: s.tls_skip_verify,
                header: &s.header,
                method: &s.method,
                body: &s.body,
                disable_redirects: s.disable_redirects,
                tcp: s.tcp.as_deref().unwrap_or(""),
                interval: dur_str(s.interval),
                timeout: dur_str(s.timeout),
                deregister_critical_service_after: dur_str(s.deregister_critical_after),
                ttl: dur_str(s.ttl),
            },
            create_index: c.create_index,
            modify_index: c.modify_index,
        }
    }
}

/// One entry of `/v1/health/service/:name`: node, instance and all their checks.
#[derive(Clone, Debug)]
pub struct HealthEntry {
    /// The node.
    pub node: Arc<Node>,
    /// The instance.
    pub service: Arc<Service>,
    /// Node checks and the instance's checks.
    pub checks: Vec<Arc<Check>>,
}

impl HealthEntry {
    /// The worst status of all checks (passing when there are none).
    pub fn aggregate(&self) -> Status {
        self.checks
            .iter()
            .map(|c| c.status)
            .max()
            .unwrap_or(Status::Passing)
    }
}

/// Wire shape of a [`HealthEntry`].
#[derive(Serialize)]
pub struct HealthEntryOut<'a> {
    #[serde(rename = "Node")]
    node: &'a Node,
    #[serde(rename = "Service")]
    service: NodeServiceOut<'a>,
    #[serde(rename = "Checks")]
    checks: Vec<CheckOut<'a>>,
}

impl<'a> From<&'a HealthEntry> for HealthEntryOut<'a> {
    fn from(e: &'a HealthEntry) -> Self {
        HealthEntryOut {
            node: &e.node,
            service: NodeServiceOut::from(&*e.service),
            checks: e.checks.iter().map(|c| CheckOut::from(&**c)).collect(),
        }
    }
}

/// Wire shape of a KV entry.
#[derive(Serialize)]
pub struct KvOut<'a> {
    #[serde(rename = "LockIndex")]
    lock_index: u64,
    #[serde(rename = "Key")]
    key: &'a str,
    #[serde(rename = "Flags")]
    flags: u64,
    #[serde(rename = "Value", serialize_with = "ser_opt_b64")]
    value: Option<bytes::Bytes>,
    #[serde(rename = "Session", skip_serializing_if = "Option::is_none")]
    session: Option<&'a str>,
    #[serde(rename = "CreateIndex")]
    create_index: u64,
    #[serde(rename = "ModifyIndex")]
    modify_index: u64,
}

impl<'a> KvOut<'a> {
    /// The wire form of `e`, with or without its value.
    pub fn new(e: &'a KvEntry, with_value: bool) -> Self {
        KvOut {
            lock_index: e.lock_index,
            key: &e.key,
            flags: e.flags,
            value: if with_value {
                Some(e.value.clone())
            } else {
                None
            },
            session: e.session.as_deref(),
            create_index: e.create_index,
            modify_index: e.modify_index,
        }
    }
}
