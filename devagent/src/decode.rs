//! Request bodies as Consul decodes them.
//!
//! Go's JSON decoder matches struct fields case-insensitively and Consul adds
//! snake_case aliases (`enable_tag_override`, `deregister_critical_service_after`,
//! `args`, ...). Before serde sees a body, [`normalize`] walks it with a small
//! schema of the request types and renames every struct key to its canonical
//! PascalCase spelling, leaving user-owned map keys (`Meta`, `Header`) alone.
//! The serde types then decode strictly: an unknown field is a 400 that names
//! the field.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::de::{DeserializeOwned, IgnoredAny};
use serde::{Deserialize, Deserializer};
use serde_json::Value;

use crate::types::{Meta, ServiceAddress, ServiceCheckRef};
use gocompat::duration;

/// The shape of a JSON document, enough to canonicalize its keys.
#[derive(Debug)]
pub(crate) enum Schema {
    /// A struct with these fields (canonical name, schema).
    Struct(&'static [(&'static str, &'static Schema)]),
    /// A list whose items follow the schema.
    List(&'static Schema),
    /// A map with user keys whose values follow the schema.
    Map(&'static Schema),
    /// Anything: left untouched.
    Leaf,
}

const LEAF: Schema = Schema::Leaf;
const WEIGHTS: Schema = Schema::Struct(&[("Passing", &LEAF), ("Warning", &LEAF)]);
const SERVICE_ADDRESS: Schema = Schema::Struct(&[("Address", &LEAF), ("Port", &LEAF)]);
const TAGGED: Schema = Schema::Map(&SERVICE_ADDRESS);

/// Fields of a check definition (`CheckType` and `CheckDefinition`).
const CHECK: Schema = Schema::Struct(&[
    ("ID", &LEAF),
    ("CheckID", &LEAF),
    ("Name", &LEAF),
    ("Status", &LEAF),
    ("Notes", &LEAF),
    ("ServiceID", &LEAF),
    ("Token", &LEAF),
    ("ScriptArgs", &LEAF),
    ("Shell", &LEAF),
    ("DockerContainerID", &LEAF),
    ("HTTP", &LEAF),
    ("Header", &LEAF),
    ("Method", &LEAF),
    ("Body", &LEAF),
    ("DisableRedirects", &LEAF),
    ("TCP", &LEAF),
    ("TCPUseTLS", &LEAF),
    ("UDP", &LEAF),
    ("GRPC", &LEAF),
    ("GRPCUseTLS", &LEAF),
    ("H2PING", &LEAF),
    ("H2PingUseTLS", &LEAF),
    ("AliasNode", &LEAF),
    ("AliasService", &LEAF),
    ("OSService", &LEAF),
    ("TLSServerName", &LEAF),
    ("TLSSkipVerify", &LEAF),
    ("Interval", &LEAF),
    ("Timeout", &LEAF),
    ("TTL", &LEAF),
    ("SuccessBeforePassing", &LEAF),
    ("FailuresBeforeWarning", &LEAF),
    ("FailuresBeforeCritical", &LEAF),
    ("DeregisterCriticalServiceAfter", &LEAF),
    ("OutputMaxSize", &LEAF),
    ("ProxyHTTP", &LEAF),
    ("ProxyGRPC", &LEAF),
    ("Namespace", &LEAF),
    ("Partition", &LEAF),
]);
const CHECKS: Schema = Schema::List(&CHECK);

/// Fields of `PUT /v1/agent/service/register`.
pub(crate) const SERVICE_DEFINITION: Schema = Schema::Struct(&[
    ("Kind", &LEAF),
    ("ID", &LEAF),
    ("Name", &LEAF),
    ("Tags", &LEAF),
    ("Address", &LEAF),
    ("TaggedAddresses", &TAGGED),
    ("Meta", &LEAF),
    ("Port", &LEAF),
    ("SocketPath", &LEAF),
    ("Weights", &WEIGHTS),
    ("EnableTagOverride", &LEAF),
    ("Check", &CHECK),
    ("Checks", &CHECKS),
    ("Token", &LEAF),
    ("Proxy", &LEAF),
    ("Connect", &LEAF),
    ("Namespace", &LEAF),
    ("Partition", &LEAF),
    ("Locality", &LEAF),
]);

/// Fields of `PUT /v1/agent/check/register`.
pub(crate) const CHECK_DEFINITION: Schema = CHECK;

const CATALOG_SERVICE: Schema = Schema::Struct(&[
    ("Kind", &LEAF),
    ("ID", &LEAF),
    ("Service", &LEAF),
    ("Tags", &LEAF),
    ("Meta", &LEAF),
    ("Port", &LEAF),
    ("Address", &LEAF),
    ("SocketPath", &LEAF),
    ("TaggedAddresses", &TAGGED),
    ("Weights", &WEIGHTS),
    ("EnableTagOverride", &LEAF),
    ("CreateIndex", &LEAF),
    ("ModifyIndex", &LEAF),
    ("ContentHash", &LEAF),
    ("Proxy", &LEAF),
    ("Connect", &LEAF),
    ("PeerName", &LEAF),
    ("Namespace", &LEAF),
    ("Partition", &LEAF),
    ("Datacenter", &LEAF),
    ("Locality", &LEAF),
]);

const CATALOG_CHECK_DEFINITION: Schema = Schema::Struct(&[
    ("HTTP", &LEAF),
    ("Header", &LEAF),
    ("Method", &LEAF),
    ("Body", &LEAF),
    ("TLSServerName", &LEAF),
    ("TLSSkipVerify", &LEAF),
    ("TCP", &LEAF),
    ("TCPUseTLS", &LEAF),
    ("UDP", &LEAF),
    ("GRPC", &LEAF),
    ("GRPCUseTLS", &LEAF),
    ("OSService", &LEAF),
    ("H2PING", &LEAF),
    ("H2PingUseTLS", &LEAF),
    ("DisableRedirects", &LEAF),
    ("Interval", &LEAF),
    ("Timeout", &LEAF),
    ("DeregisterCriticalServiceAfter", &LEAF),
    ("IntervalDuration", &LEAF),
    ("TimeoutDuration", &LEAF),
    ("DeregisterCriticalServiceAfterDuration", &LEAF),
    ("ScriptArgs", &LEAF),
    ("DockerContainerID", &LEAF),
    ("Shell", &LEAF),
    ("AliasNode", &LEAF),
    ("AliasService", &LEAF),
    ("TTL", &LEAF),
    ("OutputMaxSize", &LEAF),
]);

const CATALOG_CHECK: Schema = Schema::Struct(&[
    ("Node", &LEAF),
    ("CheckID", &LEAF),
    ("Name", &LEAF),
    ("Status", &LEAF),
    ("Notes", &LEAF),
    ("Output", &LEAF),
    ("ServiceID", &LEAF),
    ("ServiceName", &LEAF),
    ("ServiceTags", &LEAF),
    ("Type", &LEAF),
    ("Interval", &LEAF),
    ("Timeout", &LEAF),
    ("ExposedPort", &LEAF),
    ("Definition", &CATALOG_CHECK_DEFINITION),
    ("CreateIndex", &LEAF),
    ("ModifyIndex", &LEAF),
    ("Namespace", &LEAF),
    ("Partition", &LEAF),
    ("PeerName", &LEAF),
]);
const CATALOG_CHECKS: Schema = Schema::List(&CATALOG_CHECK);

/// Fields of `PUT /v1/catalog/register`.
pub(crate) const CATALOG_REGISTER: Schema = Schema::Struct(&[
    ("ID", &LEAF),
    ("Node", &LEAF),
    ("Address", &LEAF),
    ("Datacenter", &LEAF),
    ("TaggedAddresses", &LEAF),
    ("NodeMeta", &LEAF),
    ("Service", &CATALOG_SERVICE),
    ("Check", &CATALOG_CHECK),
    ("Checks", &CATALOG_CHECKS),
    ("SkipNodeUpdate", &LEAF),
    ("Token", &LEAF),
    ("Namespace", &LEAF),
    ("Partition", &LEAF),
    ("PeerName", &LEAF),
    ("Locality", &LEAF),
]);

/// Fields of `PUT /v1/catalog/deregister`.
pub(crate) const CATALOG_DEREGISTER: Schema = Schema::Struct(&[
    ("Node", &LEAF),
    ("Datacenter", &LEAF),
    ("ServiceID", &LEAF),
    ("CheckID", &LEAF),
    ("Token", &LEAF),
    ("Namespace", &LEAF),
    ("Partition", &LEAF),
    ("PeerName", &LEAF),
]);

const SERVICE_CHECK_REF: Schema = Schema::Struct(&[("ID", &LEAF), ("Namespace", &LEAF)]);
const SERVICE_CHECK_REFS: Schema = Schema::List(&SERVICE_CHECK_REF);

/// Fields of `PUT /v1/session/create`.
pub(crate) const SESSION_CREATE: Schema = Schema::Struct(&[
    ("ID", &LEAF),
    ("Name", &LEAF),
    ("Node", &LEAF),
    ("LockDelay", &LEAF),
    ("Behavior", &LEAF),
    ("TTL", &LEAF),
    ("Checks", &LEAF),
    ("NodeChecks", &LEAF),
    ("ServiceChecks", &SERVICE_CHECK_REFS),
    ("Namespace", &LEAF),
    ("Partition", &LEAF),
]);

/// Fields of `PUT /v1/agent/check/update/:id`.
pub(crate) const CHECK_UPDATE: Schema = Schema::Struct(&[("Status", &LEAF), ("Output", &LEAF)]);

/// Folds a key for case- and underscore-insensitive matching.
fn fold(key: &str) -> String {
    key.chars()
        .filter(|c| *c != '_' && *c != '-')
        .map(|c| c.to_ascii_lowercase())
        .collect()
}

/// Extra aliases Consul accepts that folding alone does not cover.
fn alias(folded: &str) -> Option<&'static str> {
    match folded {
        "args" => Some("ScriptArgs"),
        _ => None,
    }
}

/// Renames the keys of `value` to the canonical spelling of `schema`.
pub(crate) fn normalize(value: &mut Value, schema: &Schema) {
    match (schema, value) {
        (Schema::Struct(fields), Value::Object(map)) => {
            let old = std::mem::take(map);
            for (key, mut v) in old {
                let folded = fold(&key);
                let canonical = fields
                    .iter()
                    .find(|(name, _)| fold(name) == folded)
                    .map(|(name, s)| (*name, *s))
                    .or_else(|| {
                        alias(&folded).and_then(|a| {
                            fields
                                .iter()
                                .find(|(name, _)| *name == a)
                                .map(|(name, s)| (*name, *s))
                        })
                    });
                match canonical {
                    Some((name, sub)) => {
                        normalize(&mut v, sub);
                        map.insert(name.to_string(), v);
                    }
                    None => {
                        map.insert(key, v);
                    }
                }
            }
        }
        (Schema::List(item), Value::Array(items)) => {
            for v in items {
                normalize(v, item);
            }
        }
        (Schema::Map(item), Value::Object(map)) => {
            for v in map.values_mut() {
                normalize(v, item);
            }
        }
        _ => {}
    }
}

/// Parses, canonicalizes and strictly decodes a request body.
///
/// The error is the text after Consul's `Request decode failed: ` prefix.
pub(crate) fn decode<T: DeserializeOwned>(body: &[u8], schema: &Schema) -> Result<T, String> {
    let mut value: Value = if body.iter().all(u8::is_ascii_whitespace) {
        Value::Object(Default::default())
    } else {
        serde_json::from_slice(body).map_err(|e| e.to_string())?
    };
    normalize(&mut value, schema);
    serde_json::from_value(value).map_err(|e| e.to_string())
}

// ---------------------------------------------------------------------------
// Field helpers
// ---------------------------------------------------------------------------

/// `null` decodes as the default value (Go clients send `"Tags": null`).
pub(crate) fn null_default<'de, D, T>(d: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de> + Default,
{
    Ok(Option::<T>::deserialize(d)?.unwrap_or_default())
}

/// A duration given as a Go duration string or as a number of nanoseconds.
pub(crate) fn dur<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Duration>, D::Error> {
    use serde::de::Error;
    match Option::<Value>::deserialize(d)? {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) if s.is_empty() => Ok(None),
        Some(Value::String(s)) => duration::parse(&s).map(Some).map_err(D::Error::custom),
        Some(Value::Number(n)) => match n.as_u64() {
            Some(0) => Ok(None),
            Some(ns) => Ok(Some(Duration::from_nanos(ns))),
            None => Err(D::Error::custom(format!(
                "invalid duration {n}: must be a non-negative number of nanoseconds"
            ))),
        },
        Some(other) => Err(D::Error::custom(format!(
            "invalid duration {other}: use a string such as \"10s\""
        ))),
    }
}

/// A `Header` map: values may be a list or a single string.
fn header<'de, D: Deserializer<'de>>(d: D) -> Result<BTreeMap<String, Vec<String>>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum One {
        Many(Vec<String>),
        Single(String),
    }
    let raw: Option<BTreeMap<String, One>> = Option::deserialize(d)?;
    Ok(raw
        .unwrap_or_default()
        .into_iter()
        .map(|(k, v)| match v {
            One::Many(v) => (k, v),
            One::Single(s) => (k, vec![s]),
        })
        .collect())
}

// ---------------------------------------------------------------------------
// Request types
// ---------------------------------------------------------------------------

/// Weights as sent by clients: missing fields are filled by the agent.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct WeightsIn {
    #[serde(rename = "Passing", default)]
    pub(crate) passing: Option<i64>,
    #[serde(rename = "Warning", default)]
    pub(crate) warning: Option<i64>,
}

/// A check inside a service definition, or the body of `check/register`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
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
    #[serde(rename = "ScriptArgs", default, deserialize_with = "null_default")]
    pub(crate) script_args: Vec<String>,
    #[serde(rename = "Shell", default)]
    pub(crate) _shell: IgnoredAny,
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
    #[serde(rename = "GRPCUseTLS", default)]
    pub(crate) _grpc_use_tls: IgnoredAny,
    #[serde(rename = "H2PING", default)]
    pub(crate) h2ping: String,
    #[serde(rename = "H2PingUseTLS", default)]
    pub(crate) _h2ping_use_tls: IgnoredAny,
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
#[serde(deny_unknown_fields)]
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
    pub(crate) _proxy: IgnoredAny,
    #[serde(rename = "Connect", default)]
    pub(crate) _connect: IgnoredAny,
    #[serde(rename = "Namespace", default)]
    pub(crate) _namespace: IgnoredAny,
    #[serde(rename = "Partition", default)]
    pub(crate) _partition: IgnoredAny,
    #[serde(rename = "Locality", default)]
    pub(crate) _locality: IgnoredAny,
}

/// `Service` inside a catalog registration.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
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
    pub(crate) weights: Option<WeightsIn>,
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
#[serde(deny_unknown_fields)]
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
    #[serde(rename = "ScriptArgs", default)]
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
#[serde(deny_unknown_fields)]
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
#[serde(deny_unknown_fields)]
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
#[serde(deny_unknown_fields)]
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

/// A session lock delay: a Go duration string, or a number that is seconds
/// below 1000 and nanoseconds otherwise.
fn lock_delay<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Duration>, D::Error> {
    use serde::de::Error;
    match Option::<Value>::deserialize(d)? {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) if s.is_empty() => Ok(None),
        Some(Value::String(s)) => duration::parse(&s).map(Some).map_err(D::Error::custom),
        Some(Value::Number(n)) => match n.as_u64() {
            Some(v) if v < 1000 => Ok(Some(Duration::from_secs(v))),
            Some(v) => Ok(Some(Duration::from_nanos(v))),
            None => Err(D::Error::custom(format!("invalid LockDelay {n}"))),
        },
        Some(other) => Err(D::Error::custom(format!("invalid LockDelay {other}"))),
    }
}

/// The body of `PUT /v1/session/create`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct SessionCreate {
    #[serde(rename = "ID", default)]
    pub(crate) _id: IgnoredAny,
    #[serde(rename = "Name", default)]
    pub(crate) name: String,
    #[serde(rename = "Node", default)]
    pub(crate) node: String,
    #[serde(rename = "LockDelay", default, deserialize_with = "lock_delay")]
    pub(crate) lock_delay: Option<Duration>,
    #[serde(rename = "Behavior", default)]
    pub(crate) behavior: String,
    #[serde(rename = "TTL", default)]
    pub(crate) ttl: String,
    #[serde(rename = "Checks", default)]
    pub(crate) checks: Option<Vec<String>>,
    #[serde(rename = "NodeChecks", default)]
    pub(crate) node_checks: Option<Vec<String>>,
    #[serde(rename = "ServiceChecks", default)]
    pub(crate) service_checks: Option<Vec<ServiceCheckRef>>,
    #[serde(rename = "Namespace", default)]
    pub(crate) _namespace: IgnoredAny,
    #[serde(rename = "Partition", default)]
    pub(crate) _partition: IgnoredAny,
}

/// The body of `PUT /v1/agent/check/update/:id`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct CheckUpdate {
    #[serde(rename = "Status", default)]
    pub(crate) status: String,
    #[serde(rename = "Output", default)]
    pub(crate) output: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_lowercase_and_snake_case_keys() {
        let body = br#"{"name":"web","id":"web1","port":80,"enable_tag_override":true,
            "meta":{"Some_Key":"v"},
            "check":{"http":"http://127.0.0.1/","interval":"10s","deregister_critical_service_after":"90m","args":["x"]}}"#;
        let def: ServiceDefinition = decode(body, &SERVICE_DEFINITION).unwrap();
        assert_eq!(def.name, "web");
        assert_eq!(def.id, "web1");
        assert!(def.enable_tag_override);
        assert_eq!(def.meta.get("Some_Key").map(String::as_str), Some("v"));
        let check = def.check.unwrap();
        assert_eq!(check.http, "http://127.0.0.1/");
        assert_eq!(check.interval, Some(Duration::from_secs(10)));
        assert_eq!(
            check.deregister_critical_service_after,
            Some(Duration::from_secs(5400))
        );
        assert_eq!(check.script_args, vec!["x".to_string()]);
    }

    #[test]
    fn rejects_unknown_fields_by_name() {
        let err = decode::<ServiceDefinition>(br#"{"Name":"web","Portt":1}"#, &SERVICE_DEFINITION)
            .unwrap_err();
        assert!(err.contains("Portt"), "{err}");
    }

    #[test]
    fn rejects_wrong_types_and_bad_durations() {
        assert!(decode::<ServiceDefinition>(
            br#"{"Name":"web","Port":"eighty"}"#,
            &SERVICE_DEFINITION
        )
        .is_err());
        let err = decode::<ServiceDefinition>(
            br#"{"Name":"web","Check":{"TTL":"ten"}}"#,
            &SERVICE_DEFINITION,
        )
        .unwrap_err();
        assert!(err.contains("invalid duration"), "{err}");
    }

    #[test]
    fn nulls_decode_as_empty() {
        let def: ServiceDefinition = decode(
            br#"{"Name":"web","Tags":null,"Meta":null,"Checks":null,"Check":null}"#,
            &SERVICE_DEFINITION,
        )
        .unwrap();
        assert!(def.tags.is_empty() && def.meta.is_empty() && def.check.is_none());
    }

    proptest::proptest! {
        #[test]
        fn decoding_arbitrary_bytes_never_panics(bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..256)) {
            let _ = decode::<ServiceDefinition>(&bytes, &SERVICE_DEFINITION);
            let _ = decode::<CatalogRegister>(&bytes, &CATALOG_REGISTER);
            let _ = decode::<SessionCreate>(&bytes, &SESSION_CREATE);
        }

        #[test]
        fn decoding_arbitrary_json_never_panics(s in r#"\{("[A-Za-z_]{1,12}":("[a-z0-9]{0,5}"|[0-9]{1,5}|null|true|\[\]|\{\}),?){0,6}\}"#) {
            let _ = decode::<ServiceDefinition>(s.as_bytes(), &SERVICE_DEFINITION);
            let _ = decode::<CatalogRegister>(s.as_bytes(), &CATALOG_REGISTER);
        }
    }
}
