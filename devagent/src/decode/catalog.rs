//! Request bodies of the catalog endpoints: `PUT /v1/catalog/register` and
//! `PUT /v1/catalog/deregister`.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::de::IgnoredAny;
use serde::Deserialize;

use super::fields::{dur, header, null_default};
use consul_wire::RawWeights;
use crate::types::{Meta, ServiceAddress};

/// `Service` inside a catalog registration.
#[derive(Debug, Default, Deserialize)]
pub(crate) struct CatalogServiceIn {
    #[serde(rename = "Kind", default)]
    pub(crate) kind: String,
    #[serde(rename = "ID", default)]
    pub(crate) id: String,
    #[serde(rename = "Service", default)]
    pub(crate) service: String,
    #[serde(rename = "Tags", default, deserialize_with = "null_default")]
    pub(crate) tags: Vec<String>,
    #[serde(rename = "Meta", default, deserialize_with = "null_default")]
    pub(crate) meta: Meta,
    #[serde(rename = "Port", default)]
    pub(crate) port: u16,
    #[serde(rename = "Address", default)]
    pub(crate) address: String,
    #[serde(rename = "SocketPath", default)]
    pub(crate) socket_path: String,
    #[serde(rename = "TaggedAddresses", default, deserialize_with = "null_default")]
    pub(crate) tagged_addresses: BTreeMap<String, ServiceAddress>,
    #[serde(rename = "Weights", default)]
    pub(crate) weights: Option<RawWeights>,
    #[serde(rename = "EnableTagOverride", default)]
    pub(crate) enable_tag_override: bool,
    #[serde(rename = "CreateIndex", default)]
    pub(crate) _create_index: IgnoredAny,
    #[serde(rename = "ModifyIndex", default)]
    pub(crate) _modify_index: IgnoredAny,
    #[serde(rename = "ContentHash", default)]
    pub(crate) _content_hash: IgnoredAny,
    #[serde(rename = "Proxy", default)]
    pub(crate) _proxy: IgnoredAny,
    #[serde(rename = "Connect", default)]
    pub(crate) _connect: IgnoredAny,
    #[serde(rename = "PeerName", default)]
    pub(crate) _peer_name: IgnoredAny,
    #[serde(rename = "Namespace", default)]
    pub(crate) _namespace: IgnoredAny,
    #[serde(rename = "Partition", default)]
    pub(crate) _partition: IgnoredAny,
    #[serde(rename = "Datacenter", default)]
    pub(crate) _datacenter: IgnoredAny,
    #[serde(rename = "Locality", default)]
    pub(crate) _locality: IgnoredAny,
}

/// `Definition` of a catalog check: recorded, never run.
#[derive(Debug, Default, Deserialize)]
pub(crate) struct CatalogCheckDefinitionIn {
    #[serde(rename = "HTTP", default)]
    pub(crate) http: String,
    #[serde(rename = "Header", default, deserialize_with = "header")]
    pub(crate) header: BTreeMap<String, Vec<String>>,
    #[serde(rename = "Method", default)]
    pub(crate) method: String,
    #[serde(rename = "Body", default)]
    pub(crate) body: String,
    #[serde(rename = "TLSServerName", default)]
    pub(crate) tls_server_name: String,
    #[serde(rename = "TLSSkipVerify", default)]
    pub(crate) tls_skip_verify: bool,
    #[serde(rename = "TCP", default)]
    pub(crate) tcp: String,
    #[serde(rename = "TCPUseTLS", default)]
    pub(crate) _tcp_use_tls: IgnoredAny,
    #[serde(rename = "UDP", default)]
    pub(crate) _udp: IgnoredAny,
    #[serde(rename = "GRPC", default)]
    pub(crate) _grpc: IgnoredAny,
    #[serde(rename = "GRPCUseTLS", default)]
    pub(crate) _grpc_use_tls: IgnoredAny,
    #[serde(rename = "OSService", default)]
    pub(crate) _os_service: IgnoredAny,
    #[serde(rename = "H2PING", default)]
    pub(crate) _h2ping: IgnoredAny,
    #[serde(rename = "H2PingUseTLS", default)]
    pub(crate) _h2ping_use_tls: IgnoredAny,
    #[serde(rename = "DisableRedirects", default)]
    pub(crate) disable_redirects: bool,
    #[serde(rename = "Interval", default, deserialize_with = "dur")]
    pub(crate) interval: Option<Duration>,
    #[serde(rename = "Timeout", default, deserialize_with = "dur")]
    pub(crate) timeout: Option<Duration>,
    #[serde(
        rename = "DeregisterCriticalServiceAfter",
        default,
        deserialize_with = "dur"
    )]
    pub(crate) deregister_critical_service_after: Option<Duration>,
    #[serde(rename = "IntervalDuration", default, deserialize_with = "dur")]
    pub(crate) interval_duration: Option<Duration>,
    #[serde(rename = "TimeoutDuration", default, deserialize_with = "dur")]
    pub(crate) timeout_duration: Option<Duration>,
    #[serde(
        rename = "DeregisterCriticalServiceAfterDuration",
        default,
        deserialize_with = "dur"
    )]
    pub(crate) deregister_critical_service_after_duration: Option<Duration>,
    #[serde(rename = "ScriptArgs", alias = "Args", default)]
    pub(crate) _script_args: IgnoredAny,
    #[serde(rename = "DockerContainerID", default)]
    pub(crate) _docker_container_id: IgnoredAny,
    #[serde(rename = "Shell", default)]
    pub(crate) _shell: IgnoredAny,
    #[serde(rename = "AliasNode", default)]
    pub(crate) _alias_node: IgnoredAny,
    #[serde(rename = "AliasService", default)]
    pub(crate) _alias_service: IgnoredAny,
    #[serde(rename = "TTL", default, deserialize_with = "dur")]
    pub(crate) ttl: Option<Duration>,
    #[serde(rename = "OutputMaxSize", default)]
    pub(crate) _output_max_size: IgnoredAny,
}

/// A check inside a catalog registration.
#[derive(Debug, Default, Deserialize)]
pub(crate) struct CatalogCheckIn {
    #[serde(rename = "Node", default)]
    pub(crate) node: String,
    #[serde(rename = "CheckID", default)]
    pub(crate) check_id: String,
    #[serde(rename = "Name", default)]
    pub(crate) name: String,
    #[serde(rename = "Status", default)]
    pub(crate) status: String,
    #[serde(rename = "Notes", default)]
    pub(crate) notes: String,
    #[serde(rename = "Output", default)]
    pub(crate) output: String,
    #[serde(rename = "ServiceID", default)]
    pub(crate) service_id: String,
    #[serde(rename = "ServiceName", default)]
    pub(crate) _service_name: IgnoredAny,
    #[serde(rename = "ServiceTags", default)]
    pub(crate) _service_tags: IgnoredAny,
    #[serde(rename = "Type", default)]
    pub(crate) kind: String,
    #[serde(rename = "Interval", default)]
    pub(crate) _interval: IgnoredAny,
    #[serde(rename = "Timeout", default)]
    pub(crate) _timeout: IgnoredAny,
    #[serde(rename = "ExposedPort", default)]
    pub(crate) _exposed_port: IgnoredAny,
    #[serde(rename = "Definition", default)]
    pub(crate) definition: Option<CatalogCheckDefinitionIn>,
    #[serde(rename = "CreateIndex", default)]
    pub(crate) _create_index: IgnoredAny,
    #[serde(rename = "ModifyIndex", default)]
    pub(crate) _modify_index: IgnoredAny,
    #[serde(rename = "Namespace", default)]
    pub(crate) _namespace: IgnoredAny,
    #[serde(rename = "Partition", default)]
    pub(crate) _partition: IgnoredAny,
    #[serde(rename = "PeerName", default)]
    pub(crate) _peer_name: IgnoredAny,
}

/// The body of `PUT /v1/catalog/register`.
#[derive(Debug, Default, Deserialize)]
pub(crate) struct CatalogRegister {
    #[serde(rename = "ID", default)]
    pub(crate) id: String,
    #[serde(rename = "Node", default)]
    pub(crate) node: String,
    #[serde(rename = "Address", default)]
    pub(crate) address: String,
    #[serde(rename = "Datacenter", default)]
    pub(crate) datacenter: String,
    #[serde(rename = "TaggedAddresses", default, deserialize_with = "null_default")]
    pub(crate) tagged_addresses: BTreeMap<String, String>,
    #[serde(rename = "NodeMeta", default, deserialize_with = "null_default")]
    pub(crate) node_meta: Meta,
    #[serde(rename = "Service", default)]
    pub(crate) service: Option<CatalogServiceIn>,
    #[serde(rename = "Check", default)]
    pub(crate) check: Option<CatalogCheckIn>,
    #[serde(rename = "Checks", default, deserialize_with = "null_default")]
    pub(crate) checks: Vec<CatalogCheckIn>,
    #[serde(rename = "SkipNodeUpdate", default)]
    pub(crate) skip_node_update: bool,
    #[serde(rename = "Token", default)]
    pub(crate) _token: IgnoredAny,
    #[serde(rename = "Namespace", default)]
    pub(crate) _namespace: IgnoredAny,
    #[serde(rename = "Partition", default)]
    pub(crate) _partition: IgnoredAny,
    #[serde(rename = "PeerName", default)]
    pub(crate) _peer_name: IgnoredAny,
    #[serde(rename = "Locality", default)]
    pub(crate) _locality: IgnoredAny,
}

/// The body of `PUT /v1/catalog/deregister`.
#[derive(Debug, Default, Deserialize)]
pub(crate) struct CatalogDeregister {
    #[serde(rename = "Node", default)]
    pub(crate) node: String,
    #[serde(rename = "Datacenter", default)]
    pub(crate) datacenter: String,
    #[serde(rename = "ServiceID", default)]
    pub(crate) service_id: String,
    #[serde(rename = "CheckID", default)]
    pub(crate) check_id: String,
    #[serde(rename = "Token", default)]
    pub(crate) _token: IgnoredAny,
    #[serde(rename = "Namespace", default)]
    pub(crate) _namespace: IgnoredAny,
    #[serde(rename = "Partition", default)]
    pub(crate) _partition: IgnoredAny,
    #[serde(rename = "PeerName", default)]
    pub(crate) _peer_name: IgnoredAny,
}
