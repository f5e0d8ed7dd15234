//! `/v1/health/service/:name` entries and their parts: the node, the
//! instance (Consul's `AgentService`) and the checks.

use std::collections::BTreeMap;

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::{aggregated_status, nullable, Meta, Status, TaggedAddress, Weights};

/// A catalog node.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Node {
    /// Node UUID.
    #[serde(rename = "ID")]
    pub id: String,
    /// Node name.
    #[serde(rename = "Node")]
    pub node: String,
    /// Node address.
    #[serde(rename = "Address")]
    pub address: String,
    /// Datacenter.
    #[serde(rename = "Datacenter")]
    pub datacenter: String,
    /// Tagged addresses (`lan`, `wan`, ...).
    #[serde(rename = "TaggedAddresses", deserialize_with = "nullable")]
    pub tagged_addresses: BTreeMap<String, String>,
    /// Metadata.
    #[serde(rename = "Meta", deserialize_with = "nullable")]
    pub meta: Meta,
    /// Raft index at creation.
    #[serde(rename = "CreateIndex")]
    pub create_index: u64,
    /// Raft index of the last change.
    #[serde(rename = "ModifyIndex")]
    pub modify_index: u64,
}

/// A service instance with typed weights, as the agent, catalog and health
/// endpoints answer it.
pub type AgentService = AgentServiceOf<Weights>;

/// A service instance as the agent and health endpoints describe it
/// (Consul's `AgentService` / `NodeService`), also the `Service` of a
/// catalog registration. `W` is the type of the weights: [`Weights`] in
/// answers, [`RawWeights`](crate::RawWeights) for an agent that checks
/// what a registration sent.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, bound(deserialize = "W: Deserialize<'de> + Default"))]
pub struct AgentServiceOf<W> {
    /// Service kind (`""` for a typical service, `connect-proxy`, ...).
    #[serde(rename = "Kind", skip_serializing_if = "String::is_empty")]
    pub kind: String,
    /// Instance ID.
    #[serde(rename = "ID")]
    pub id: String,
    /// Service name.
    #[serde(rename = "Service")]
    pub service: String,
    /// Tags.
    #[serde(rename = "Tags", deserialize_with = "nullable")]
    pub tags: Vec<String>,
    /// Address (empty: use the node's).
    #[serde(rename = "Address")]
    pub address: String,
    /// Tagged addresses (`lan_ipv4`, `wan`, ...).
    #[serde(
        rename = "TaggedAddresses",
        deserialize_with = "nullable",
        skip_serializing_if = "BTreeMap::is_empty"
    )]
    pub tagged_addresses: BTreeMap<String, TaggedAddress>,
    /// Port.
    #[serde(rename = "Port")]
    pub port: u16,
    /// Unix socket path, if the service listens on one.
    #[serde(rename = "SocketPath", skip_serializing_if = "String::is_empty")]
    pub socket_path: String,
    /// Metadata.
    #[serde(rename = "Meta", deserialize_with = "nullable")]
    pub meta: Meta,
    /// Weights (`null` reads as the default).
    #[serde(rename = "Weights", deserialize_with = "nullable")]
    pub weights: W,
    /// Whether catalog tag updates are allowed.
    #[serde(rename = "EnableTagOverride")]
    pub enable_tag_override: bool,
    /// Connect proxy settings (`connect-proxy` and gateways), as sent.
    #[serde(rename = "Proxy", skip_serializing_if = "Option::is_none")]
    pub proxy: Option<serde_json::Value>,
    /// Connect settings (`Native`), as sent.
    #[serde(rename = "Connect", skip_serializing_if = "Option::is_none")]
    pub connect: Option<serde_json::Value>,
    /// The agent's datacenter (agent endpoints only).
    #[serde(rename = "Datacenter", skip_serializing_if = "String::is_empty")]
    pub datacenter: String,
    /// Raft index at creation (catalog and health endpoints).
    #[serde(rename = "CreateIndex")]
    pub create_index: u64,
    /// Raft index of the last change (catalog and health endpoints).
    #[serde(rename = "ModifyIndex")]
    pub modify_index: u64,
}

/// A health check with a typed status, as the endpoints answer it.
pub type HealthCheck = HealthCheckOf<Status>;

/// A health check (Consul's `HealthCheck`), also a check of a catalog
/// registration. `S` is the type of the status: [`Status`] in answers,
/// `String` for an agent that checks what a registration sent.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, bound(deserialize = "S: Deserialize<'de> + Default"))]
pub struct HealthCheckOf<S> {
    /// Node.
    #[serde(rename = "Node")]
    pub node: String,
    /// Check ID.
    #[serde(rename = "CheckID")]
    pub check_id: String,
    /// Name.
    #[serde(rename = "Name")]
    pub name: String,
    /// Status.
    #[serde(rename = "Status")]
    pub status: S,
    /// Notes.
    #[serde(rename = "Notes")]
    pub notes: String,
    /// Output of the last run.
    #[serde(rename = "Output")]
    pub output: String,
    /// Service instance ID (empty for node checks).
    #[serde(rename = "ServiceID")]
    pub service_id: String,
    /// Service name.
    #[serde(rename = "ServiceName")]
    pub service_name: String,
    /// Service tags.
    #[serde(rename = "ServiceTags", deserialize_with = "nullable")]
    pub service_tags: Vec<String>,
    /// Check type (`ttl`, `http`, `tcp`, ...).
    #[serde(rename = "Type")]
    pub kind: String,
    /// Interval of an active check (a Go duration, `""` for none).
    #[serde(
        rename = "Interval",
        deserialize_with = "nullable",
        skip_serializing_if = "String::is_empty"
    )]
    pub interval: String,
    /// Timeout of an active check (a Go duration, `""` for none).
    #[serde(
        rename = "Timeout",
        deserialize_with = "nullable",
        skip_serializing_if = "String::is_empty"
    )]
    pub timeout: String,
    /// What the check runs (Consul's `HealthCheckDefinition`), when given.
    #[serde(rename = "Definition", skip_serializing_if = "Option::is_none")]
    pub definition: Option<HealthCheckDefinition>,
    /// Raft index at creation.
    #[serde(rename = "CreateIndex")]
    pub create_index: u64,
    /// Raft index of the last change.
    #[serde(rename = "ModifyIndex")]
    pub modify_index: u64,
}

/// What a check runs (Consul's `HealthCheckDefinition`), as a catalog
/// registration records it and the endpoints print it: every field is
/// omitted when empty. Durations are Go duration strings or nanoseconds
/// (`IntervalDuration` and the like are Consul's nanosecond spellings).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct HealthCheckDefinition {
    /// URL of an HTTP check.
    #[serde(rename = "HTTP", skip_serializing_if = "String::is_empty")]
    pub http: String,
    /// Name to verify the certificate of an https check against.
    #[serde(rename = "TLSServerName", skip_serializing_if = "String::is_empty")]
    pub tls_server_name: String,
    /// Skip TLS verification of an https check.
    #[serde(rename = "TLSSkipVerify", skip_serializing_if = "std::ops::Not::not")]
    pub tls_skip_verify: bool,
    /// HTTP headers.
    #[serde(
        rename = "Header",
        deserialize_with = "crate::register::header",
        skip_serializing_if = "BTreeMap::is_empty"
    )]
    pub header: BTreeMap<String, Vec<String>>,
    /// HTTP method.
    #[serde(rename = "Method", skip_serializing_if = "String::is_empty")]
    pub method: String,
    /// Body of an HTTP check request.
    #[serde(rename = "Body", skip_serializing_if = "String::is_empty")]
    pub body: String,
    /// Do not follow redirects in an HTTP check.
    #[serde(
        rename = "DisableRedirects",
        skip_serializing_if = "std::ops::Not::not"
    )]
    pub disable_redirects: bool,
    /// `host:port` of a TCP check.
    #[serde(rename = "TCP", skip_serializing_if = "String::is_empty")]
    pub tcp: String,
    /// TCP check over TLS.
    #[serde(rename = "TCPUseTLS", skip_serializing_if = "std::ops::Not::not")]
    pub tcp_use_tls: bool,
    /// `host:port` of a UDP check.
    #[serde(rename = "UDP", skip_serializing_if = "String::is_empty")]
    pub udp: String,
    /// `host:port` of an HTTP/2 ping check.
    #[serde(rename = "H2PING", skip_serializing_if = "String::is_empty")]
    pub h2ping: String,
    /// HTTP/2 ping over TLS.
    #[serde(rename = "H2PingUseTLS", skip_serializing_if = "std::ops::Not::not")]
    pub h2ping_use_tls: bool,
    /// Interval of an active check.
    #[serde(
        rename = "Interval",
        with = "crate::duration",
        skip_serializing_if = "Option::is_none"
    )]
    pub interval: Option<Duration>,
    /// Timeout of an active check.
    #[serde(
        rename = "Timeout",
        with = "crate::duration",
        skip_serializing_if = "Option::is_none"
    )]
    pub timeout: Option<Duration>,
    /// Remove the service after the check has been critical this long.
    #[serde(
        rename = "DeregisterCriticalServiceAfter",
        with = "crate::duration",
        skip_serializing_if = "Option::is_none"
    )]
    pub deregister_critical_service_after: Option<Duration>,
    /// `Interval` in nanoseconds (Consul's second spelling).
    #[serde(
        rename = "IntervalDuration",
        with = "crate::duration",
        skip_serializing_if = "Option::is_none"
    )]
    pub interval_duration: Option<Duration>,
    /// `Timeout` in nanoseconds (Consul's second spelling).
    #[serde(
        rename = "TimeoutDuration",
        with = "crate::duration",
        skip_serializing_if = "Option::is_none"
    )]
    pub timeout_duration: Option<Duration>,
    /// `DeregisterCriticalServiceAfter` in nanoseconds (Consul's second spelling).
    #[serde(
        rename = "DeregisterCriticalServiceAfterDuration",
        with = "crate::duration",
        skip_serializing_if = "Option::is_none"
    )]
    pub deregister_critical_service_after_duration: Option<Duration>,
    /// Command of a script check.
    #[serde(
        rename = "ScriptArgs",
        alias = "Args",
        deserialize_with = "nullable",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub script_args: Vec<String>,
    /// Container of a Docker check.
    #[serde(rename = "DockerContainerID", skip_serializing_if = "String::is_empty")]
    pub docker_container_id: String,
    /// Shell of a Docker check.
    #[serde(
        rename = "Shell",
        deserialize_with = "nullable",
        skip_serializing_if = "String::is_empty"
    )]
    pub shell: String,
    /// `host:port[/service]` of a gRPC health check.
    #[serde(rename = "GRPC", skip_serializing_if = "String::is_empty")]
    pub grpc: String,
    /// gRPC over TLS.
    #[serde(
        rename = "GRPCUseTLS",
        deserialize_with = "nullable",
        skip_serializing_if = "std::ops::Not::not"
    )]
    pub grpc_use_tls: bool,
    /// Node an alias check follows.
    #[serde(rename = "AliasNode", skip_serializing_if = "String::is_empty")]
    pub alias_node: String,
    /// Service ID an alias check follows.
    #[serde(rename = "AliasService", skip_serializing_if = "String::is_empty")]
    pub alias_service: String,
    /// TTL of a TTL check.
    #[serde(
        rename = "TTL",
        with = "crate::duration",
        skip_serializing_if = "Option::is_none"
    )]
    pub ttl: Option<Duration>,
    /// Windows service an OSService check watches.
    #[serde(rename = "OSService", skip_serializing_if = "String::is_empty")]
    pub os_service: String,
    /// Largest output kept, in bytes.
    #[serde(rename = "OutputMaxSize", skip_serializing_if = "is_zero")]
    pub output_max_size: u64,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

/// One entry of `/v1/health/service/:name`: the node, the instance, and
/// the node's and the instance's checks.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ServiceEntry {
    /// The node.
    #[serde(rename = "Node")]
    pub node: Node,
    /// The instance.
    #[serde(rename = "Service")]
    pub service: AgentService,
    /// Node checks and the instance's checks.
    #[serde(rename = "Checks", deserialize_with = "nullable")]
    pub checks: Vec<HealthCheck>,
}

impl ServiceEntry {
    /// The aggregate of the checks ([`aggregated_status`]): maintenance,
    /// critical, warning, passing.
    pub fn aggregated_status(&self) -> Status {
        aggregated_status(self.checks.iter().map(|c| (c.check_id.as_str(), c.status)))
    }

    /// The address to dial: the service address, else the node address.
    pub fn address(&self) -> &str {
        if self.service.address.is_empty() {
            &self.node.address
        } else {
            &self.service.address
        }
    }
}
