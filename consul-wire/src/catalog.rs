//! The catalog: `/v1/catalog/service/:name` entries, `/v1/catalog/node/:node`,
//! and the bodies of `/v1/catalog/register` and `/v1/catalog/deregister`.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::{
    nullable, AgentService, AgentServiceOf, HealthCheckOf, Meta, Node, Status, TaggedAddress,
    Weights,
};

/// One entry of `/v1/catalog/service/:name` (Consul's `ServiceNode`).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct CatalogService {
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
    /// Node tagged addresses.
    #[serde(rename = "TaggedAddresses", deserialize_with = "nullable")]
    pub tagged_addresses: BTreeMap<String, String>,
    /// Node metadata.
    #[serde(rename = "NodeMeta", deserialize_with = "nullable")]
    pub node_meta: Meta,
    /// Service kind (`""` for a typical service).
    #[serde(rename = "ServiceKind")]
    pub service_kind: String,
    /// Instance ID.
    #[serde(rename = "ServiceID")]
    pub service_id: String,
    /// Service name.
    #[serde(rename = "ServiceName")]
    pub service_name: String,
    /// Tags.
    #[serde(rename = "ServiceTags", deserialize_with = "nullable")]
    pub service_tags: Vec<String>,
    /// Service address.
    #[serde(rename = "ServiceAddress")]
    pub service_address: String,
    /// Service tagged addresses.
    #[serde(rename = "ServiceTaggedAddresses", deserialize_with = "nullable")]
    pub service_tagged_addresses: BTreeMap<String, TaggedAddress>,
    /// Port.
    #[serde(rename = "ServicePort")]
    pub service_port: u16,
    /// Metadata.
    #[serde(rename = "ServiceMeta", deserialize_with = "nullable")]
    pub service_meta: Meta,
    /// Weights.
    #[serde(rename = "ServiceWeights")]
    pub service_weights: Weights,
    /// Whether catalog tag updates are allowed.
    #[serde(rename = "ServiceEnableTagOverride")]
    pub service_enable_tag_override: bool,
    /// Raft index at creation.
    #[serde(rename = "CreateIndex")]
    pub create_index: u64,
    /// Raft index of the last change.
    #[serde(rename = "ModifyIndex")]
    pub modify_index: u64,
}

/// `/v1/catalog/node/:node`: a node and its services by instance ID.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct CatalogNode {
    /// The node (`null` when unknown).
    #[serde(rename = "Node")]
    pub node: Option<Node>,
    /// Its services.
    #[serde(rename = "Services", deserialize_with = "nullable")]
    pub services: BTreeMap<String, AgentService>,
}

/// A catalog registration with typed check statuses and weights, as
/// clients send it.
pub type CatalogRegistration = CatalogRegistrationOf<Status, Weights>;

/// The body of `PUT /v1/catalog/register` (Consul's `RegisterRequest`).
/// `S` is the type of the checks' statuses and `W` that of the service's
/// weights: [`Status`] and [`Weights`] for clients, `String` and
/// [`RawWeights`](crate::RawWeights) for an agent that checks them itself.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(
    default,
    bound(deserialize = "S: Deserialize<'de> + Default, W: Deserialize<'de> + Default")
)]
pub struct CatalogRegistrationOf<S, W> {
    /// Node UUID.
    #[serde(rename = "ID", skip_serializing_if = "String::is_empty")]
    pub id: String,
    /// Node name.
    #[serde(rename = "Node")]
    pub node: String,
    /// Node address.
    #[serde(rename = "Address")]
    pub address: String,
    /// Datacenter (empty: the agent's).
    #[serde(rename = "Datacenter", skip_serializing_if = "String::is_empty")]
    pub datacenter: String,
    /// Node tagged addresses.
    #[serde(
        rename = "TaggedAddresses",
        deserialize_with = "nullable",
        skip_serializing_if = "BTreeMap::is_empty"
    )]
    pub tagged_addresses: BTreeMap<String, String>,
    /// Node metadata.
    #[serde(
        rename = "NodeMeta",
        deserialize_with = "nullable",
        skip_serializing_if = "BTreeMap::is_empty"
    )]
    pub node_meta: Meta,
    /// A service to register on the node.
    #[serde(rename = "Service", skip_serializing_if = "Option::is_none")]
    pub service: Option<AgentServiceOf<W>>,
    /// A check to register.
    #[serde(rename = "Check", skip_serializing_if = "Option::is_none")]
    pub check: Option<HealthCheckOf<S>>,
    /// Checks to register.
    #[serde(
        rename = "Checks",
        deserialize_with = "nullable",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub checks: Vec<HealthCheckOf<S>>,
    /// Leave the node's fields as they are.
    #[serde(rename = "SkipNodeUpdate", skip_serializing_if = "std::ops::Not::not")]
    pub skip_node_update: bool,
}

/// The body of `PUT /v1/catalog/deregister`: the node, or one of its
/// services or checks.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct CatalogDeregistration {
    /// Node name.
    #[serde(rename = "Node")]
    pub node: String,
    /// Datacenter (empty: the agent's).
    #[serde(rename = "Datacenter", skip_serializing_if = "String::is_empty")]
    pub datacenter: String,
    /// Instance to remove (empty: not a service).
    #[serde(rename = "ServiceID", skip_serializing_if = "String::is_empty")]
    pub service_id: String,
    /// Check to remove (empty: not a check).
    #[serde(rename = "CheckID", skip_serializing_if = "String::is_empty")]
    pub check_id: String,
}
