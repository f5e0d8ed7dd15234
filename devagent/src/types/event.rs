//! User events.

use serde::Serialize;

use super::ser_opt_b64;

/// A user event.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Event {
    /// Event UUID.
    #[serde(rename = "ID")]
    pub id: String,
    /// Event name.
    #[serde(rename = "Name")]
    pub name: String,
    /// Payload, base64 on the wire.
    #[serde(rename = "Payload", serialize_with = "ser_opt_b64")]
    pub payload: Option<bytes::Bytes>,
    /// Node filter regex.
    #[serde(rename = "NodeFilter")]
    pub node_filter: String,
    /// Service filter regex.
    #[serde(rename = "ServiceFilter")]
    pub service_filter: String,
    /// Tag filter regex.
    #[serde(rename = "TagFilter")]
    pub tag_filter: String,
    /// Always 1.
    #[serde(rename = "Version")]
    pub version: u32,
    /// Lamport time.
    #[serde(rename = "LTime")]
    pub ltime: u64,
}
