//! Sessions and the service checks they depend on.

use std::time::Duration;

use serde::{Serialize, Serializer};

/// What happens to keys held by a session when it is invalidated.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub enum Behavior {
    /// Release the locks.
    #[serde(rename = "release")]
    Release,
    /// Delete the held keys.
    #[serde(rename = "delete")]
    Delete,
}

/// A session.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Session {
    /// Session UUID.
    #[serde(rename = "ID")]
    pub id: String,
    /// Name.
    #[serde(rename = "Name")]
    pub name: String,
    /// Node the session is tied to.
    #[serde(rename = "Node")]
    pub node: String,
    /// Lock delay, in nanoseconds on the wire.
    #[serde(rename = "LockDelay", serialize_with = "ser_nanos")]
    pub lock_delay: Duration,
    /// Invalidation behavior.
    #[serde(rename = "Behavior")]
    pub behavior: Behavior,
    /// TTL as the client gave it (`""` when none).
    #[serde(rename = "TTL")]
    pub ttl: String,
    /// Node checks the session depends on.
    #[serde(rename = "NodeChecks")]
    pub node_checks: Vec<String>,
    /// Service checks the session depends on.
    #[serde(rename = "ServiceChecks")]
    pub service_checks: Option<Vec<ServiceCheckRef>>,
    /// Deprecated union of node and service checks.
    #[serde(rename = "Checks")]
    pub checks: Vec<String>,
    /// Raft index at creation.
    #[serde(rename = "CreateIndex")]
    pub create_index: u64,
    /// Raft index of the last change.
    #[serde(rename = "ModifyIndex")]
    pub modify_index: u64,
}

/// A service check a session depends on.
#[derive(Clone, Debug, PartialEq, Serialize, serde::Deserialize)]
pub struct ServiceCheckRef {
    /// Check ID.
    #[serde(rename = "ID")]
    pub id: String,
    /// Namespace (Enterprise; always empty here).
    #[serde(rename = "Namespace", default)]
    pub namespace: String,
}

fn ser_nanos<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_u64(u64::try_from(d.as_nanos()).unwrap_or(u64::MAX))
}
