//! The records the agent stores (nodes, services, checks, KV entries,
//! sessions, events) and the JSON shapes Consul gives them on the wire.
//!
//! Stored records are kept behind `Arc`s so that a query can take a snapshot
//! under the store lock and serialize it after the lock is released. The
//! `*Out` structs borrow from those snapshots and carry Consul's exact field
//! names.
//!
//! By topic: `catalog` (nodes, services and their wire shapes), `health`
//! (statuses, checks, health entries), `kv`, `session` and `event`.

mod catalog;
mod event;
mod health;
mod kv;
mod session;

use std::collections::BTreeMap;

use serde::Serializer;

pub use catalog::{
    AgentServiceOut, Mesh, Node, NodeServiceOut, Service, ServiceAddress, ServiceNodeOut, Weights,
};
pub use event::Event;
pub use health::{Check, CheckOut, CheckSpec, HealthEntry, HealthEntryOut, MoreProbes, Status};
pub use kv::{KvEntry, KvOut};
pub use session::{Behavior, ServiceCheckRef, Session};

/// Free-form string metadata (`Meta`, `NodeMeta`, `ServiceMeta`).
pub type Meta = BTreeMap<String, String>;

/// Serializes bytes as base64, or as `null` when absent or empty.
fn ser_opt_b64<S: Serializer>(v: &Option<bytes::Bytes>, s: S) -> Result<S::Ok, S::Error> {
    use base64::Engine as _;
    match v {
        Some(b) if !b.is_empty() => {
            s.serialize_str(&base64::engine::general_purpose::STANDARD.encode(b))
        }
        _ => s.serialize_none(),
    }
}
