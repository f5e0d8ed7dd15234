//! KV entries and their wire shape.

use serde::Serialize;

use super::ser_opt_b64;

/// A KV entry.
#[derive(Clone, Debug, PartialEq)]
pub struct KvEntry {
    /// Full key.
    pub key: String,
    /// Opaque flags.
    pub flags: u64,
    /// Value bytes.
    pub value: bytes::Bytes,
    /// Session holding the lock, if any.
    pub session: Option<String>,
    /// Number of times the lock was acquired.
    pub lock_index: u64,
    /// Raft index at creation.
    pub create_index: u64,
    /// Raft index of the last change.
    pub modify_index: u64,
}

/// Wire shape of a KV entry.
#[derive(Serialize)]
pub struct KvOut<'a> {
    #[serde(rename = "LockIndex")]
    lock_index: u64,
    #[serde(rename = "Key")]
    key: &'a str,
    #[serde(rename = "Flags")]
    flags: u64,
    #[serde(rename = "Value", serialize_with = "ser_opt_b64")]
    value: Option<bytes::Bytes>,
    #[serde(rename = "Session", skip_serializing_if = "Option::is_none")]
    session: Option<&'a str>,
    #[serde(rename = "CreateIndex")]
    create_index: u64,
    #[serde(rename = "ModifyIndex")]
    modify_index: u64,
}

impl<'a> KvOut<'a> {
    /// The wire form of `e`, with or without its value.
    pub fn new(e: &'a KvEntry, with_value: bool) -> Self {
        KvOut {
            lock_index: e.lock_index,
            key: &e.key,
            flags: e.flags,
            value: if with_value {
                Some(e.value.clone())
            } else {
                None
            },
            session: e.session.as_deref(),
            create_index: e.create_index,
            modify_index: e.modify_index,
        }
    }
}
