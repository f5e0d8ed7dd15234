//! Registration bodies: `PUT /v1/agent/service/register` (a service with
//! its checks), `PUT /v1/agent/check/register`, weights and tagged addresses.
//!
//! The bodies are generic over the two values a server must see as sent to
//! word its own errors: the checks' initial status and the weights. Clients
//! use the typed forms ([`ServiceRegistration`], [`CheckRegistration`]:
//! [`Status`] and [`Weights`]); an agent decodes [`ServiceRegistrationOf`]
//! `<String, RawWeights>` and validates afterwards, with one field list for
//! both.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::{Deserialize, Deserializer, Serialize};

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

/// Weights as a registration body carries them, before the agent fills
/// the missing ones and checks the range (Consul's `AgentWeights`, with
/// "missing" kept apart from 0 and negative numbers kept for the message).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct RawWeights {
    /// Weight while passing, as sent.
    #[serde(rename = "Passing", skip_serializing_if = "Option::is_none")]
    pub passing: Option<i64>,
    /// Weight while warning, as sent.
    #[serde(rename = "Warning", skip_serializing_if = "Option::is_none")]
    pub warning: Option<i64>,
}

impl From<Weights> for RawWeights {
    fn from(w: Weights) -> Self {
        RawWeights {
            passing: Some(i64::from(w.passing)),
            warning: Some(i64::from(w.warning)),
        }
    }
}

/// A check registration with a typed initial status, as clients send it.
pub type CheckRegistration = CheckRegistrationOf<Status>;

/// A check in a service registration (Consul's `AgentServiceCheck`), or the
/// body of `PUT /v1/agent/check/register` (`AgentCheckRegistration`: `ID`
/// and `ServiceID` too). `S` is the type of the initial status:
/// [`Status`] for clients, `String` for an agent that checks it itself.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, bound(deserialize = "S: Deserialize<'de> + Default"))]
pub struct CheckRegistrationOf<S> {
    /// Check ID of `/v1/agent/check/register` (default: the name).
    #[serde(rename = "ID", skip_serializing_if = "String::is_empty")]
    pub id: String,
    /// Check ID (default `service:<id>[:n]`).
    #[serde(rename = "CheckID", skip_serializing_if = "String::is_empty")]
    pub check_id: String,
    /// Name.
    #[serde(rename = "Name", skip_serializing_if = "String::is_empty")]
    pub name: String,
    /// Initial status (Consul's default is critical).
    #[serde(rename = "Status", skip_serializing_if = "Option::is_none")]
    pub status: Option<S>,
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
        deserialize_with = "header",
        skip_serializing_if = "BTreeMap::is_empty"
    )]
    pub header: BTreeMap<String, Vec<String>>,
    /// Skip TLS verification of an https check.
    #[serde(rename = "TLSSkipVerify", skip_serializing_if = "std::ops::Not::not")]
    pub tls_skip_verify: bool,
    /// `host:port` of a TCP check.
    #[serde(rename = "TCP", skip_serializing_if = "String::is_empty")]
    pub tcp: String,
    /// TCP check over TLS.
    #[serde(rename = "TCPUseTLS", skip_serializing_if = "std::ops::Not::not")]
    pub tcp_use_tls: bool,
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
    /// Largest output kept, in bytes (0: the agent's default).
    #[serde(rename = "OutputMaxSize", skip_serializing_if = "is_zero64")]
    pub output_max_size: u64,
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
    /// Windows service an OSService check watches.
    #[serde(rename = "OSService", skip_serializing_if = "String::is_empty")]
    pub os_service: String,
}

fn is_zero(n: &u32) -> bool {
    *n == 0
}

fn is_zero64(n: &u64) -> bool {
    *n == 0
}

/// A `Header` map: `null` is empty, and a value may be one string or a list.
pub(crate) fn header<'de, D: Deserializer<'de>>(
    d: D,
) -> Result<BTreeMap<String, Vec<String>>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Values {
        Many(Vec<String>),
        One(String),
    }
    let raw: Option<BTreeMap<String, Values>> = Option::deserialize(d)?;
    Ok(raw
        .unwrap_or_default()
        .into_iter()
        .map(|(k, v)| match v {
            Values::Many(v) => (k, v),
            Values::One(s) => (k, vec![s]),
        })
        .collect())
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

/// A service registration with typed check statuses and weights, as
/// clients send it.
pub type ServiceRegistration = ServiceRegistrationOf<Status, Weights>;

/// A service definition (Consul's `AgentServiceRegistration`). `S` is the
/// type of its checks' initial status and `W` that of its weights:
/// [`Status`] and [`Weights`] for clients, `String` and [`RawWeights`] for an
/// agent that validates them itself.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(
    default,
    bound(deserialize = "S: Deserialize<'de> + Default, W: Deserialize<'de> + Default")
)]
pub struct ServiceRegistrationOf<S, W> {
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
    pub weights: Option<W>,
    /// Allow catalog tag updates.
    #[serde(
        rename = "EnableTagOverride",
        skip_serializing_if = "std::ops::Not::not"
    )]
    pub enable_tag_override: bool,
    /// A single check (Consul accepts `Check` beside `Checks`).
    #[serde(rename = "Check", skip_serializing_if = "Option::is_none")]
    pub check: Option<CheckRegistrationOf<S>>,
    /// Checks.
    #[serde(rename = "Checks", deserialize_with = "nullable")]
    pub checks: Vec<CheckRegistrationOf<S>>,
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
