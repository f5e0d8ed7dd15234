//! `/v1/health/service/:name` entries and their parts: the node, the
//! instance (Consul's `AgentService`) and the checks.

use std::collections::BTreeMap;

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

/// A service instance as the agent and health endpoints describe it
/// (Consul's `AgentService` / `NodeService`).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct AgentService {
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
    /// Weights.
    #[serde(rename = "Weights")]
    pub weights: Weights,
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

/// A health check.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct HealthCheck {
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
    pub status: Status,
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
    #[serde(rename = "Interval", skip_serializing_if = "String::is_empty")]
    pub interval: String,
    /// Timeout of an active check (a Go duration, `""` for none).
    #[serde(rename = "Timeout", skip_serializing_if = "String::is_empty")]
    pub timeout: String,
    /// Raft index at creation.
    #[serde(rename = "CreateIndex")]
    pub create_index: u64,
    /// Raft index of the last change.
    #[serde(rename = "ModifyIndex")]
    pub modify_index: u64,
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
