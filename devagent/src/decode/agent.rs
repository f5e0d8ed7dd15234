//! Request bodies of the agent endpoints: service and check registration
//! and check updates.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::de::IgnoredAny;
use serde::Deserialize;

use super::fields::{dur, header, null_default, WeightsIn};
use crate::types::{Meta, ServiceAddress};

/// A check inside a service definition, or the body of `check/register`.
#[derive(Debug, Default, Deserialize)]
pub(crate) struct CheckIn {
    #[serde(rename = "ID", default)]
    pub(crate) id: String,
    #[serde(rename = "CheckID", default)]
    pub(crate) check_id: String,
    #[serde(rename = "Name", default)]
    pub(crate) name: String,
    #[serde(rename = "Status", default)]
    pub(crate) status: String,
    #[serde(rename = "Notes", default)]
    pub(crate) notes: String,
    #[serde(rename = "ServiceID", default)]
    pub(crate) service_id: String,
    #[serde(rename = "Token", default)]
    pub(crate) _token: IgnoredAny,
    #[serde(
        rename = "ScriptArgs",
        alias = "Args",
        default,
        deserialize_with = "null_default"
    )]
    pub(crate) script_args: Vec<String>,
    #[serde(rename = "Shell", default, deserialize_with = "null_default")]
    pub(crate) shell: String,
    #[serde(rename = "DockerContainerID", default)]
    pub(crate) docker_container_id: String,
    #[serde(rename = "HTTP", default)]
    pub(crate) http: String,
    #[serde(rename = "Header", default, deserialize_with = "header")]
    pub(crate) header: BTreeMap<String, Vec<String>>,
    #[serde(rename = "Method", default)]
    pub(crate) method: String,
    #[serde(rename = "Body", default)]
    pub(crate) body: String,
    #[serde(rename = "DisableRedirects", default)]
    pub(crate) disable_redirects: bool,
    #[serde(rename = "TCP", default)]
    pub(crate) tcp: String,
    #[serde(rename = "TCPUseTLS", default)]
    pub(crate) tcp_use_tls: bool,
    #[serde(rename = "UDP", default)]
    pub(crate) udp: String,
    #[serde(rename = "GRPC", default)]
    pub(crate) grpc: String,
    #[serde(rename = "GRPCUseTLS", default, deserialize_with = "null_default")]
    pub(crate) grpc_use_tls: bool,
    #[serde(rename = "H2PING", default)]
    pub(crate) h2ping: String,
    #[serde(rename = "H2PingUseTLS", default)]
    pub(crate) h2ping_use_tls: Option<bool>,
    #[serde(rename = "AliasNode", default)]
    pub(crate) alias_node: String,
    #[serde(rename = "AliasService", default)]
    pub(crate) alias_service: String,
    #[serde(rename = "OSService", default)]
    pub(crate) os_service: String,
    #[serde(rename = "TLSServerName", default)]
    pub(crate) tls_server_name: String,
    #[serde(rename = "TLSSkipVerify", default)]
    pub(crate) tls_skip_verify: bool,
    #[serde(rename = "Interval", default, deserialize_with = "dur")]
    pub(crate) interval: Option<Duration>,
    #[serde(rename = "Timeout", default, deserialize_with = "dur")]
    pub(crate) timeout: Option<Duration>,
    #[serde(rename = "TTL", default, deserialize_with = "dur")]
    pub(crate) ttl: Option<Duration>,
    #[serde(rename = "SuccessBeforePassing", default)]
    pub(crate) success_before_passing: u32,
    #[serde(rename = "FailuresBeforeWarning", default)]
    pub(crate) failures_before_warning: u32,
    #[serde(rename = "FailuresBeforeCritical", default)]
    pub(crate) failures_before_critical: u32,
    #[serde(
        rename = "DeregisterCriticalServiceAfter",
        default,
        deserialize_with = "dur"
    )]
    pub(crate) deregister_critical_service_after: Option<Duration>,
    #[serde(rename = "OutputMaxSize", default)]
    pub(crate) output_max_size: usize,
    #[serde(rename = "ProxyHTTP", default)]
    pub(crate) _proxy_http: IgnoredAny,
    #[serde(rename = "ProxyGRPC", default)]
    pub(crate) _proxy_grpc: IgnoredAny,
    #[serde(rename = "Namespace", default)]
    pub(crate) _namespace: IgnoredAny,
    #[serde(rename = "Partition", default)]
    pub(crate) _partition: IgnoredAny,
}

/// The body of `PUT /v1/agent/service/register`.
#[derive(Debug, Default, Deserialize)]
pub(crate) struct ServiceDefinition {
    #[serde(rename = "Kind", default)]
    pub(crate) kind: String,
    #[serde(rename = "ID", default)]
    pub(crate) id: String,
    #[serde(rename = "Name", default)]
    pub(crate) name: String,
    #[serde(rename = "Tags", default, deserialize_with = "null_default")]
    pub(crate) tags: Vec<String>,
    #[serde(rename = "Address", default)]
    pub(crate) address: String,
    #[serde(rename = "TaggedAddresses", default, deserialize_with = "null_default")]
    pub(crate) tagged_addresses: BTreeMap<String, ServiceAddress>,
    #[serde(rename = "Meta", default, deserialize_with = "null_default")]
    pub(crate) meta: Meta,
    #[serde(rename = "Port", default)]
    pub(crate) port: u16,
    #[serde(rename = "SocketPath", default)]
    pub(crate) socket_path: String,
    #[serde(rename = "Weights", default)]
    pub(crate) weights: Option<WeightsIn>,
    #[serde(rename = "EnableTagOverride", default)]
    pub(crate) enable_tag_override: bool,
    #[serde(rename = "Check", default)]
    pub(crate) check: Option<CheckIn>,
    #[serde(rename = "Checks", default, deserialize_with = "null_default")]
    pub(crate) checks: Vec<CheckIn>,
    #[serde(rename = "Token", default)]
    pub(crate) _token: IgnoredAny,
    #[serde(rename = "Proxy", default)]
    pub(crate) proxy: Option<serde_json::Value>,
    #[serde(rename = "Connect", default)]
    pub(crate) connect: Option<serde_json::Value>,
    #[serde(rename = "Namespace", default)]
    pub(crate) _namespace: IgnoredAny,
    #[serde(rename = "Partition", default)]
    pub(crate) _partition: IgnoredAny,
    #[serde(rename = "Locality", default)]
    pub(crate) locality: Option<serde_json::Value>,
}

/// The body of `PUT /v1/agent/check/update/:id`.
#[derive(Debug, Default, Deserialize)]
pub(crate) struct CheckUpdate {
    #[serde(rename = "Status", default)]
    pub(crate) status: String,
    #[serde(rename = "Output", default)]
    pub(crate) output: String,
}
