//! KV entries and sessions.

use bytes::Bytes;
use serde::{Deserialize, Serialize};

use crate::nullable;

/// A KV entry with its value decoded from base64.
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
    ///
    /// # Errors
    /// The value is not UTF-8.
    pub fn value_str(&self) -> Result<&str, std::str::Utf8Error> {
        std::str::from_utf8(&self.value)
    }
}

/// Base64 values, `null` for none.
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
    /// Index of the last change.
    #[serde(rename = "ModifyIndex")]
    pub modify_index: u64,
}
