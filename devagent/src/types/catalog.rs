//! Catalog records (nodes, service instances, weights, tagged addresses)
//! and the wire shapes of services in the catalog, health and agent endpoints.

use std::collections::BTreeMap;

use serde::Serialize;

use super::Meta;

/// A catalog node: the wire model's, whose field order is the answer's.
pub use consul_wire::Node;
pub use consul_wire::{TaggedAddress as ServiceAddress, Weights};

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
    /// Connect: `Proxy`, `Connect`, `Locality`, and the sidecar's parent.
    pub mesh: Mesh,
    /// Raft index at creation.
    pub create_index: u64,
    /// Raft index of the last change.
    pub modify_index: u64,
}

/// The Connect fields of a service, as registered (keys in Consul's spelling).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Mesh {
    /// `Proxy` of a `connect-proxy` (or gateway) service, with Consul's defaults filled.
    pub proxy: Option<serde_json::Value>,
    /// `Connect` (`Native`; `SidecarService` is expanded, never kept).
    pub connect: Option<serde_json::Value>,
    /// `Locality` (`Region`, `Zone`).
    pub locality: Option<serde_json::Value>,
    /// For a sidecar registered through `Connect.SidecarService`: its parent's ID.
    pub sidecar_of: String,
}

/// `Proxy` as printed: the registered one, else Consul's zero value.
#[derive(Serialize)]
#[serde(untagged)]
pub enum ProxyOut<'a> {
    /// What was registered.
    Given(&'a serde_json::Value),
    /// The zero value.
    Zero(ProxyZero),
}

/// `Connect` as printed: the registered one, else `{}`.
#[derive(Serialize)]
#[serde(untagged)]
pub enum ConnectOut<'a> {
    /// What was registered.
    Given(&'a serde_json::Value),
    /// `{}`.
    Empty(Empty),
}

impl Mesh {
    fn proxy_out(&self) -> ProxyOut<'_> {
        self.proxy
            .as_ref()
            .map_or(ProxyOut::Zero(PROXY_ZERO), ProxyOut::Given)
    }

    fn connect_out(&self) -> ConnectOut<'_> {
        self.connect
            .as_ref()
            .map_or(ConnectOut::Empty(Empty {}), ConnectOut::Given)
    }
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
    proxy: ProxyOut<'a>,
    #[serde(rename = "Connect")]
    connect: ConnectOut<'a>,
    #[serde(rename = "Locality", skip_serializing_if = "Option::is_none")]
    locality: Option<&'a serde_json::Value>,
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
            proxy: s.mesh.proxy_out(),
            connect: s.mesh.connect_out(),
            locality: s.mesh.locality.as_ref(),
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
    #[serde(rename = "Proxy", skip_serializing_if = "Option::is_none")]
    proxy: Option<&'a serde_json::Value>,
    #[serde(rename = "Connect", skip_serializing_if = "Option::is_none")]
    connect: Option<&'a serde_json::Value>,
    #[serde(rename = "Locality", skip_serializing_if = "Option::is_none")]
    locality: Option<&'a serde_json::Value>,
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
            proxy: s.mesh.proxy.as_ref(),
            connect: s.mesh.connect.as_ref(),
            locality: s.mesh.locality.as_ref(),
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
    service_proxy: ProxyOut<'a>,
    #[serde(rename = "ServiceConnect")]
    service_connect: ConnectOut<'a>,
    #[serde(rename = "ServiceLocality", skip_serializing_if = "Option::is_none")]
    service_locality: Option<&'a serde_json::Value>,
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
            node: &n.node,
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
            service_proxy: s.mesh.proxy_out(),
            service_connect: s.mesh.connect_out(),
            service_locality: s.mesh.locality.as_ref(),
            create_index: s.create_index,
            modify_index: s.modify_index,
        }
    }
}
