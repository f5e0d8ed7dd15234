//! The JSON records Consul sends, decoded leniently: missing fields take
//! their defaults and `null` lists and maps read as empty, so the same types
//! work across Consul versions and against devagent.

use std::collections::BTreeMap;
use std::fmt;

use bytes::Bytes;
use serde::{Deserialize, Deserializer, Serialize};

/// `null` reads as the default value.
pub(crate) fn nullable<'de, D, T>(d: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de> + Default,
{
    Ok(Option::<T>::deserialize(d)?.unwrap_or_default())
}

/// The health of a check or an instance.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// All is well.
    #[default]
    Passing,
    /// Degraded but serving.
    Warning,
    /// Out of service.
    Critical,
    /// In maintenance mode (an aggregate only; checks are never "maintenance").
    Maintenance,
}

impl Status {
    /// `passing`, `warning`, `critical` or `maintenance`.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Passing => "passing",
            Status::Warning => "warning",
            Status::Critical => "critical",
            Status::Maintenance => "maintenance",
        }
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Load-balancing weights.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
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
    /// Tagged addresses.
    #[serde(rename = "TaggedAddresses", deserialize_with = "nullable")]
    pub tagged_addresses: BTreeMap<String, String>,
    /// Metadata.
    #[serde(rename = "Meta", deserialize_with = "nullable")]
    pub meta: BTreeMap<String, String>,
}

/// A service instance as the agent and health endpoints describe it.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct AgentService {
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
    /// Port.
    #[serde(rename = "Port")]
    pub port: u16,
    /// Metadata.
    #[serde(rename = "Meta", deserialize_with = "nullable")]
    pub meta: BTreeMap<String, String>,
    /// Weights.
    #[serde(rename = "Weights")]
    pub weights: Weights,
    /// Whether catalog tag updates are allowed.
    #[serde(rename = "EnableTagOverride")]
    pub enable_tag_override: bool,
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
}

/// One entry of `/v1/health/service/:name`.
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
    /// Worst status of all checks: maintenance, critical, warning, passing.
    pub fn aggregated_status(&self) -> Status {
        let maint = self.checks.iter().any(|c| {
            c.check_id == "_node_maintenance" || c.check_id.starts_with("_service_maintenance:")
        });
        if maint {
            return Status::Maintenance;
        }
        self.checks
            .iter()
            .map(|c| c.status)
            .max()
            .unwrap_or(Status::Passing)
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

/// One entry of `/v1/catalog/service/:name`.
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
    /// Node metadata.
    #[serde(rename = "NodeMeta", deserialize_with = "nullable")]
    pub node_meta: BTreeMap<String, String>,
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
    /// Port.
    #[serde(rename = "ServicePort")]
    pub service_port: u16,
    /// Metadata.
    #[serde(rename = "ServiceMeta", deserialize_with = "nullable")]
    pub service_meta: BTreeMap<String, String>,
    /// Weights.
    #[serde(rename = "ServiceWeights")]
    pub service_weights: Weights,
}

/// A KV entry with its value decoded.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct KvPair {
    /// Full key.
    #[serde(rename = "Key")]
    pub key: String,
    /// Opaque flags.
    #[serde(rename = "Flags")]
    pub flags: u64,
    /// Value bytes (empty for a null value).
    #[serde(rename = "Value", with = "b64")]
    pub value: Bytes,
    /// Session holding the lock.
    #[serde(rename = "Session", skip_serializing_if = "Option::is_none")]
    pub session: Option<String>,
    /// Lock acquisitions.
    #[serde(rename = "LockIndex")]
    pub lock_index: u64,
    /// Index at creation.
    #[serde(rename = "CreateIndex")]
    pub create_index: u64,
    /// Index of the last change.
    #[serde(rename = "ModifyIndex")]
    pub modify_index: u64,
}

impl KvPair {
    /// The value as UTF-8 text.
    pub fn value_str(&self) -> crate::Result<&str> {
        std::str::from_utf8(&self.value).map_err(|e| {
            crate::Error::decode(&format!("the value of key {:?} as UTF-8", self.key), e)
        })
    }
}

mod b64 {
    use base64::Engine as _;
    use bytes::Bytes;
    use serde::{Deserialize, Deserializer, Serializer};

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Bytes, D::Error> {
        match Option::<String>::deserialize(d)? {
            None => Ok(Bytes::new()),
            Some(s) => base64::engine::general_purpose::STANDARD
                .decode(s.as_bytes())
                .map(Bytes::from)
                .map_err(|e| serde::de::Error::custom(format!("Value is not base64: {e}"))),
        }
    }

    pub(super) fn serialize<S: Serializer>(v: &Bytes, s: S) -> Result<S::Ok, S::Error> {
        if v.is_empty() {
            s.serialize_none()
        } else {
            s.serialize_str(&base64::engine::general_purpose::STANDARD.encode(v))
        }
    }
}

/// A session.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct SessionEntry {
    /// Session ID.
    #[serde(rename = "ID")]
    pub id: String,
    /// Name.
    #[serde(rename = "Name")]
    pub name: String,
    /// Node.
    #[serde(rename = "Node")]
    pub node: String,
    /// TTL as given (`"15s"`).
    #[serde(rename = "TTL")]
    pub ttl: String,
    /// `release` or `delete`.
    #[serde(rename = "Behavior")]
    pub behavior: String,
    /// Lock delay in nanoseconds.
    #[serde(rename = "LockDelay")]
    pub lock_delay: u64,
    /// Node checks the session depends on.
    #[serde(rename = "NodeChecks", deserialize_with = "nullable")]
    pub node_checks: Vec<String>,
    /// Index at creation.
    #[serde(rename = "CreateIndex")]
    pub create_index: u64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_nulls_and_missing_fields() {
        let e: ServiceEntry = serde_json::from_str(
            r#"{"Node":{"Node":"n","Address":"10.0.0.1","Meta":null},"Service":{"ID":"w","Service":"web","Tags":null,"Port":80},"Checks":null}"#,
        )
        .unwrap();
        assert_eq!(e.address(), "10.0.0.1");
        assert_eq!(e.service.weights, Weights::default());
        assert_eq!(e.aggregated_status(), Status::Passing);
        let kv: Vec<KvPair> = serde_json::from_str(
            r#"[{"Key":"a","Value":"aGk=","Flags":3},{"Key":"b","Value":null}]"#,
        )
        .unwrap();
        assert_eq!(&kv[0].value[..], b"hi");
        assert!(kv[1].value.is_empty());
        assert!(serde_json::from_str::<KvPair>(r#"{"Key":"a","Value":"%%%"}"#).is_err());
    }
}
