//! Registration bodies: `PUT /v1/agent/service/register` (a service with
//! its checks), `PUT /v1/agent/check/register`, weights and tagged addresses.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::{nullable, Meta, Status};

/// Load-balancing weights (default 1 and 1).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
pub struct Weights {
    /// Weight while passing.
    pub passing: u32,
    /// Weight while warning.
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

/// A check in a service registration (Consul's `AgentServiceCheck`).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct CheckRegistration {
    /// Check ID (default `service:<id>[:n]`).
    #[serde(rename = "CheckID", skip_serializing_if = "String::is_empty")]
    pub check_id: String,
    /// Name.
    #[serde(rename = "Name", skip_serializing_if = "String::is_empty")]
    pub name: String,
    /// Initial status (Consul's default is critical).
    #[serde(rename = "Status", skip_serializing_if = "Option::is_none")]
    pub status: Option<Status>,
    /// Notes.
    #[serde(rename = "Notes", skip_serializing_if = "String::is_empty")]
    pub notes: String,
    /// Service instance (for `/v1/agent/check/register`).
    #[serde(rename = "ServiceID", skip_serializing_if = "String::is_empty")]
    pub service_id: String,
    /// URL of an HTTP check.
    #[serde(rename = "HTTP", skip_serializing_if = "String::is_empty")]
    pub http: String,
    /// HTTP method.
    #[serde(rename = "Method", skip_serializing_if = "String::is_empty")]
    pub method: String,
    /// HTTP headers.
    #[serde(
        rename = "Header",
        deserialize_with = "nullable",
        skip_serializing_if = "BTreeMap::is_empty"
    )]
    pub header: BTreeMap<String, Vec<String>>,
    /// Skip TLS verification of an https check.
    #[serde(rename = "TLSSkipVerify", skip_serializing_if = "std::ops::Not::not")]
    pub tls_skip_verify: bool,
    /// `host:port` of a TCP check.
    #[serde(rename = "TCP", skip_serializing_if = "String::is_empty")]
    pub tcp: String,
    /// TTL of a TTL check.
    #[serde(
        rename = "TTL",
        with = "crate::duration",
        skip_serializing_if = "Option::is_none"
    )]
    pub ttl: Option<Duration>,
    /// Interval of an HTTP or TCP check.
    #[serde(
        rename = "Interval",
        with = "crate::duration",
        skip_serializing_if = "Option::is_none"
    )]
    pub interval: Option<Duration>,
    /// Timeout of an HTTP or TCP check.
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
    /// Body of an HTTP check request.
    #[serde(rename = "Body", skip_serializing_if = "String::is_empty")]
    pub body: String,
    /// Do not follow redirects in an HTTP check.
    #[serde(
        rename = "DisableRedirects",
        skip_serializing_if = "std::ops::Not::not"
    )]
    pub disable_redirects: bool,
    /// Name to verify the certificate of an https check against.
    #[serde(rename = "TLSServerName", skip_serializing_if = "String::is_empty")]
    pub tls_server_name: String,
    /// Consecutive successes before the check turns passing.
    #[serde(rename = "SuccessBeforePassing", skip_serializing_if = "is_zero")]
    pub success_before_passing: u32,
    /// Consecutive failures before the check turns warning.
    #[serde(rename = "FailuresBeforeWarning", skip_serializing_if = "is_zero")]
    pub failures_before_warning: u32,
    /// Consecutive failures before the check turns critical.
    #[serde(rename = "FailuresBeforeCritical", skip_serializing_if = "is_zero")]
    pub failures_before_critical: u32,
    /// Largest output kept, in bytes.
    #[serde(rename = "OutputMaxSize", skip_serializing_if = "is_zero")]
    pub output_max_size: u32,
    /// Command of a script check, run without a shell (needs the agent's
    /// `enable_script_checks`).
    #[serde(
        rename = "ScriptArgs",
        alias = "Args",
        deserialize_with = "nullable",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub script_args: Vec<String>,
    /// Container of a Docker check (with `script_args`).
    #[serde(rename = "DockerContainerID", skip_serializing_if = "String::is_empty")]
    pub docker_container_id: String,
    /// Shell of a Docker check.
    #[serde(rename = "Shell", skip_serializing_if = "String::is_empty")]
    pub shell: String,
    /// `host:port[/service]` of a gRPC health check.
    #[serde(rename = "GRPC", skip_serializing_if = "String::is_empty")]
    pub grpc: String,
    /// gRPC over TLS.
    #[serde(rename = "GRPCUseTLS", skip_serializing_if = "std::ops::Not::not")]
    pub grpc_use_tls: bool,
    /// `host:port` of a UDP check.
    #[serde(rename = "UDP", skip_serializing_if = "String::is_empty")]
    pub udp: String,
    /// `host:port` of an HTTP/2 ping check.
    #[serde(rename = "H2PING", skip_serializing_if = "String::is_empty")]
    pub h2ping: String,
    /// HTTP/2 ping over TLS (Consul's default: true).
    #[serde(rename = "H2PingUseTLS", skip_serializing_if = "Option::is_none")]
    pub h2ping_use_tls: Option<bool>,
    /// Service ID an alias check follows.
    #[serde(rename = "AliasService", skip_serializing_if = "String::is_empty")]
    pub alias_service: String,
    /// Node an alias check follows.
    #[serde(rename = "AliasNode", skip_serializing_if = "String::is_empty")]
    pub alias_node: String,
}

fn is_zero(n: &u32) -> bool {
    *n == 0
}

/// An address and port in `TaggedAddresses`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct TaggedAddress {
    /// Address.
    #[serde(rename = "Address")]
    pub address: String,
    /// Port.
    #[serde(rename = "Port")]
    pub port: u16,
}

/// A service definition (Consul's `AgentServiceRegistration`).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ServiceRegistration {
    /// Service kind (`""` for a typical service, `connect-proxy`, ...).
    #[serde(rename = "Kind", skip_serializing_if = "String::is_empty")]
    pub kind: String,
    /// Instance ID (default: the name).
    #[serde(rename = "ID", skip_serializing_if = "String::is_empty")]
    pub id: String,
    /// Service name.
    #[serde(rename = "Name")]
    pub name: String,
    /// Tags.
    #[serde(rename = "Tags", deserialize_with = "nullable")]
    pub tags: Vec<String>,
    /// Address (empty: the agent's node address).
    #[serde(rename = "Address", skip_serializing_if = "String::is_empty")]
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
    #[serde(rename = "Weights", skip_serializing_if = "Option::is_none")]
    pub weights: Option<Weights>,
    /// Allow catalog tag updates.
    #[serde(
        rename = "EnableTagOverride",
        skip_serializing_if = "std::ops::Not::not"
    )]
    pub enable_tag_override: bool,
    /// A single check (Consul accepts `Check` beside `Checks`).
    #[serde(rename = "Check", skip_serializing_if = "Option::is_none")]
    pub check: Option<CheckRegistration>,
    /// Checks.
    #[serde(rename = "Checks", deserialize_with = "nullable")]
    pub checks: Vec<CheckRegistration>,
    /// Connect proxy settings (`connect-proxy` and gateways), as sent.
    #[serde(rename = "Proxy", skip_serializing_if = "Option::is_none")]
    pub proxy: Option<serde_json::Value>,
    /// Connect settings (`Native`, `SidecarService`), as sent.
    #[serde(rename = "Connect", skip_serializing_if = "Option::is_none")]
    pub connect: Option<serde_json::Value>,
    /// Locality (`Region`, `Zone`), as sent.
    #[serde(rename = "Locality", skip_serializing_if = "Option::is_none")]
    pub locality: Option<serde_json::Value>,
}
