//! Tokens, policies and roles as stored, as sent by clients, and as Consul
//! renders them in JSON.

use std::time::{Duration, SystemTime};

use serde::{Deserialize, Serialize, Serializer};

use super::config::Secret;
use super::rules::Rules;
use std::sync::Arc;

/// The ID of the built-in management policy.
pub(crate) const GLOBAL_MANAGEMENT_ID: &str = "00000000-0000-0000-0000-000000000001";
/// The ID of the built-in read-only policy.
pub(crate) const GLOBAL_READ_ONLY_ID: &str = "00000000-0000-0000-0000-000000000002";
/// IDs with this prefix are reserved for built-in objects.
pub(crate) const RESERVED_PREFIX: &str = "00000000-0000-0000-0000-0000000000";
/// What a reader without `acl:write` sees instead of a SecretID.
pub(crate) const REDACTED: &str = "<hidden>";

/// Rules of the built-in `global-management` policy.
pub(crate) const GLOBAL_MANAGEMENT_RULES: &str = r#"
acl = "write"
agent_prefix "" {
  policy = "write"
}
event_prefix "" {
  policy = "write"
}
key_prefix "" {
  policy = "write"
}
keyring = "write"
node_prefix "" {
  policy = "write"
}
operator = "write"
mesh = "write"
peering = "write"
query_prefix "" {
  policy = "write"
}
service_prefix "" {
  policy = "write"
  intentions = "write"
}
session_prefix "" {
  policy = "write"
}"#;

/// Rules of the built-in `builtin/global-read-only` policy.
pub(crate) const GLOBAL_READ_ONLY_RULES: &str = r#"
acl = "read"
agent_prefix "" {
  policy = "read"
}
event_prefix "" {
  policy = "read"
}
key_prefix "" {
  policy = "read"
}
keyring = "read"
node_prefix "" {
  policy = "read"
}
operator = "read"
mesh = "read"
peering = "read"
query_prefix "" {
  policy = "read"
}
service_prefix "" {
  policy = "read"
  intentions = "read"
}
session_prefix "" {
  policy = "read"
}"#;

/// A grant of everything a service instance needs.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct ServiceIdentity {
    #[serde(rename = "ServiceName", default)]
    pub(crate) service_name: String,
    #[serde(
        rename = "Datacenters",
        default,
        skip_serializing_if = "Vec::is_empty",
        deserialize_with = "consul_wire::nullable"
    )]
    pub(crate) datacenters: Vec<String>,
}

/// A grant of everything a node needs.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct NodeIdentity {
    #[serde(rename = "NodeName", default)]
    pub(crate) node_name: String,
    #[serde(rename = "Datacenter", default)]
    pub(crate) datacenter: String,
}

/// A stored token.
#[derive(Clone, Debug)]
pub(crate) struct Token {
    pub(crate) accessor: String,
    pub(crate) secret: Secret,
    pub(crate) description: String,
    /// Policy IDs.
    pub(crate) policies: Vec<String>,
    /// Role IDs.
    pub(crate) roles: Vec<String>,
    pub(crate) service_identities: Vec<ServiceIdentity>,
    pub(crate) node_identities: Vec<NodeIdentity>,
    pub(crate) local: bool,
    pub(crate) expiration: Option<SystemTime>,
    pub(crate) create_time: SystemTime,
    pub(crate) hash: Vec<u8>,
    pub(crate) create_index: u64,
    pub(crate) modify_index: u64,
}

impl Token {
    /// Past its `ExpirationTime` at `now`.
    pub(crate) fn expired(&self, now: SystemTime) -> bool {
        self.expiration.is_some_and(|e| e < now)
    }
}

/// A stored policy.
#[derive(Clone, Debug)]
pub(crate) struct Policy {
    pub(crate) id: String,
    pub(crate) name: String,
    pub(crate) description: String,
    pub(crate) rules_text: String,
    /// Parsed when written.
    pub(crate) rules: Arc<Rules>,
    pub(crate) datacenters: Vec<String>,
    pub(crate) hash: Vec<u8>,
    pub(crate) create_index: u64,
    pub(crate) modify_index: u64,
}

/// A stored role.
#[derive(Clone, Debug)]
pub(crate) struct Role {
    pub(crate) id: String,
    pub(crate) name: String,
    pub(crate) description: String,
    pub(crate) policies: Vec<String>,
    pub(crate) service_identities: Vec<ServiceIdentity>,
    pub(crate) node_identities: Vec<NodeIdentity>,
    pub(crate) hash: Vec<u8>,
    pub(crate) create_index: u64,
    pub(crate) modify_index: u64,
}

/// `{"ID": ..., "Name": ...}` of a policy or role.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Link {
    #[serde(rename = "ID", default)]
    pub(crate) id: String,
    #[serde(rename = "Name", default)]
    pub(crate) name: String,
}

/// Go's `time.Time` in JSON (RFC 3339 with nanoseconds, UTC).
pub(crate) fn go_time(t: SystemTime) -> String {
    chrono::DateTime::<chrono::Utc>::from(t).to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true)
}

/// Parses an RFC 3339 time such as `2025-01-02T15:04:05Z`.
pub(crate) fn parse_time(s: &str) -> Result<SystemTime, String> {
    chrono::DateTime::parse_from_rfc3339(s)
        .map(SystemTime::from)
        .map_err(|e| {
            format!(
                "ExpirationTime {s:?} is not an RFC 3339 time such as 2030-01-02T15:04:05Z: {e}"
            )
        })
}

fn b64<S: Serializer>(bytes: &[u8], s: S) -> Result<S::Ok, S::Error> {
    use base64::Engine as _;
    s.serialize_str(&base64::engine::general_purpose::STANDARD.encode(bytes))
}

fn go_time_opt<S: Serializer>(t: &Option<SystemTime>, s: S) -> Result<S::Ok, S::Error> {
    match t {
        Some(t) => s.serialize_str(&go_time(*t)),
        None => s.serialize_none(),
    }
}

fn go_time_ser<S: Serializer>(t: &SystemTime, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&go_time(*t))
}

/// A token in API answers (`GET /v1/acl/token/:id`), or its list stub.
#[derive(Debug, Serialize)]
pub(crate) struct TokenOut<'a> {
    #[serde(rename = "AccessorID")]
    pub(crate) accessor: &'a str,
    #[serde(rename = "SecretID")]
    pub(crate) secret: &'a str,
    #[serde(rename = "Description")]
    pub(crate) description: &'a str,
    #[serde(rename = "Policies", skip_serializing_if = "Vec::is_empty")]
    pub(crate) policies: Vec<Link>,
    #[serde(rename = "Roles", skip_serializing_if = "Vec::is_empty")]
    pub(crate) roles: Vec<Link>,
    #[serde(rename = "ServiceIdentities", skip_serializing_if = "<[_]>::is_empty")]
    pub(crate) service_identities: &'a [ServiceIdentity],
    #[serde(rename = "NodeIdentities", skip_serializing_if = "<[_]>::is_empty")]
    pub(crate) node_identities: &'a [NodeIdentity],
    #[serde(rename = "Local")]
    pub(crate) local: bool,
    #[serde(
        rename = "ExpirationTime",
        serialize_with = "go_time_opt",
        skip_serializing_if = "Option::is_none"
    )]
    pub(crate) expiration: Option<SystemTime>,
    #[serde(rename = "CreateTime", serialize_with = "go_time_ser")]
    pub(crate) create_time: SystemTime,
    #[serde(rename = "Hash", serialize_with = "b64")]
    pub(crate) hash: &'a [u8],
    #[serde(rename = "CreateIndex")]
    pub(crate) create_index: u64,
    #[serde(rename = "ModifyIndex")]
    pub(crate) modify_index: u64,
}

/// A policy in API answers; `Rules` is left out of list stubs.
#[derive(Debug, Serialize)]
pub(crate) struct PolicyOut<'a> {
    #[serde(rename = "ID")]
    pub(crate) id: &'a str,
    #[serde(rename = "Name")]
    pub(crate) name: &'a str,
    #[serde(rename = "Description")]
    pub(crate) description: &'a str,
    #[serde(rename = "Rules", skip_serializing_if = "Option::is_none")]
    pub(crate) rules: Option<&'a str>,
    /// Left out of a policy without datacenters, `null` in a list stub.
    #[serde(rename = "Datacenters", skip_serializing_if = "Option::is_none")]
    pub(crate) datacenters: Option<Option<&'a [String]>>,
    #[serde(rename = "Hash", serialize_with = "b64")]
    pub(crate) hash: &'a [u8],
    #[serde(rename = "CreateIndex")]
    pub(crate) create_index: u64,
    #[serde(rename = "ModifyIndex")]
    pub(crate) modify_index: u64,
}

/// A role in API answers.
#[derive(Debug, Serialize)]
pub(crate) struct RoleOut<'a> {
    #[serde(rename = "ID")]
    pub(crate) id: &'a str,
    #[serde(rename = "Name")]
    pub(crate) name: &'a str,
    #[serde(rename = "Description")]
    pub(crate) description: &'a str,
    #[serde(rename = "Policies", skip_serializing_if = "Vec::is_empty")]
    pub(crate) policies: Vec<Link>,
    #[serde(rename = "ServiceIdentities", skip_serializing_if = "<[_]>::is_empty")]
    pub(crate) service_identities: &'a [ServiceIdentity],
    #[serde(rename = "NodeIdentities", skip_serializing_if = "<[_]>::is_empty")]
    pub(crate) node_identities: &'a [NodeIdentity],
    #[serde(rename = "Hash", serialize_with = "b64")]
    pub(crate) hash: &'a [u8],
    #[serde(rename = "CreateIndex")]
    pub(crate) create_index: u64,
    #[serde(rename = "ModifyIndex")]
    pub(crate) modify_index: u64,
}

/// A token as sent by a client. Unknown fields (`Hash`, `CreateIndex`,
/// `Namespace`, ...) are ignored, as Consul's decoder does.
#[derive(Debug, Default, Deserialize)]
pub(crate) struct TokenIn {
    #[serde(
        rename = "AccessorID",
        default,
        deserialize_with = "consul_wire::nullable"
    )]
    pub(crate) accessor: String,
    #[serde(
        rename = "SecretID",
        default,
        deserialize_with = "consul_wire::nullable"
    )]
    pub(crate) secret: String,
    #[serde(
        rename = "Description",
        default,
        deserialize_with = "consul_wire::nullable"
    )]
    pub(crate) description: String,
    #[serde(
        rename = "Policies",
        default,
        deserialize_with = "consul_wire::nullable"
    )]
    pub(crate) policies: Vec<Link>,
    #[serde(rename = "Roles", default, deserialize_with = "consul_wire::nullable")]
    pub(crate) roles: Vec<Link>,
    #[serde(
        rename = "ServiceIdentities",
        default,
        deserialize_with = "consul_wire::nullable"
    )]
    pub(crate) service_identities: Vec<ServiceIdentity>,
    #[serde(
        rename = "NodeIdentities",
        default,
        deserialize_with = "consul_wire::nullable"
    )]
    pub(crate) node_identities: Vec<NodeIdentity>,
    #[serde(rename = "Local", default, deserialize_with = "consul_wire::nullable")]
    pub(crate) local: bool,
    #[serde(rename = "ExpirationTime", default)]
    pub(crate) expiration_time: Option<String>,
    #[serde(
        rename = "ExpirationTTL",
        default,
        deserialize_with = "consul_wire::duration::deserialize"
    )]
    pub(crate) expiration_ttl: Option<Duration>,
}

/// A policy as sent by a client.
#[derive(Debug, Default, Deserialize)]
pub(crate) struct PolicyIn {
    #[serde(rename = "ID", default, deserialize_with = "consul_wire::nullable")]
    pub(crate) id: String,
    #[serde(rename = "Name", default, deserialize_with = "consul_wire::nullable")]
    pub(crate) name: String,
    #[serde(
        rename = "Description",
        default,
        deserialize_with = "consul_wire::nullable"
    )]
    pub(crate) description: String,
    #[serde(rename = "Rules", default, deserialize_with = "consul_wire::nullable")]
    pub(crate) rules: String,
    #[serde(
        rename = "Datacenters",
        default,
        deserialize_with = "consul_wire::nullable"
    )]
    pub(crate) datacenters: Vec<String>,
}

/// A role as sent by a client.
#[derive(Debug, Default, Deserialize)]
pub(crate) struct RoleIn {
    #[serde(rename = "ID", default, deserialize_with = "consul_wire::nullable")]
    pub(crate) id: String,
    #[serde(rename = "Name", default, deserialize_with = "consul_wire::nullable")]
    pub(crate) name: String,
    #[serde(
        rename = "Description",
        default,
        deserialize_with = "consul_wire::nullable"
    )]
    pub(crate) description: String,
    #[serde(
        rename = "Policies",
        default,
        deserialize_with = "consul_wire::nullable"
    )]
    pub(crate) policies: Vec<Link>,
    #[serde(
        rename = "ServiceIdentities",
        default,
        deserialize_with = "consul_wire::nullable"
    )]
    pub(crate) service_identities: Vec<ServiceIdentity>,
    #[serde(
        rename = "NodeIdentities",
        default,
        deserialize_with = "consul_wire::nullable"
    )]
    pub(crate) node_identities: Vec<NodeIdentity>,
}

/// A content hash of the fields that can change (Consul hashes the same
/// fields with BLAKE2b; the value is opaque to clients).
pub(crate) fn content_hash(parts: &[&str]) -> Vec<u8> {
    use sha2::{Digest, Sha256};
    let mut h = Sha256::new();
    for p in parts {
        h.update((p.len() as u64).to_le_bytes());
        h.update(p.as_bytes());
    }
    h.finalize().to_vec()
}
