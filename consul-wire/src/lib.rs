//! Consul's JSON wire model, shared by the dcy client, devagent, templater
//! and registrar so that a field is added once and read everywhere.
//!
//! The types follow the Consul HTTP API's spelling (PascalCase keys) and are
//! lenient: missing fields take their defaults, `null` lists and maps read as
//! empty, and unknown fields are ignored, so the same types read every
//! Consul version. There is no runtime here: serde types, Consul's aggregate
//! health rule ([`aggregated_status`]) and [`gojson`], Go-compatible decoding
//! (case-insensitive keys, snake_case aliases, bounded depth) for the bodies
//! Consul's own HTTP API accepts.
//!
//! By topic: [`Status`] and [`aggregated_status`]; health entries
//! ([`ServiceEntry`]: [`Node`], [`AgentService`], [`HealthCheck`] with its
//! [`HealthCheckDefinition`]); the catalog ([`CatalogService`],
//! [`CatalogNode`], [`CatalogRegistration`], [`CatalogDeregistration`]);
//! registration bodies ([`ServiceRegistration`], [`CheckRegistration`],
//! [`Weights`], [`TaggedAddress`]); [`KvPair`] and [`SessionEntry`]; and
//! [`duration`], Go durations for serde.
//!
//! The types a server must read before it validates them are generic over
//! the check status and the weights ([`ServiceRegistrationOf`],
//! [`CheckRegistrationOf`], [`CatalogRegistrationOf`], [`AgentServiceOf`],
//! [`HealthCheckOf`]): clients use the typed aliases above ([`Status`],
//! [`Weights`]); devagent decodes the same field lists with `String` and
//! [`RawWeights`] and answers a bad status or weight with Consul's message.
//!
//! ```
//! let entries: Vec<consul_wire::ServiceEntry> = serde_json::from_str(
//!     r#"[{"Node":{"Node":"n1","Address":"10.0.0.1"},
//!          "Service":{"ID":"web-1","Service":"web","Port":80},
//!          "Checks":[{"CheckID":"serfHealth","Status":"passing"},
//!                    {"CheckID":"service:web-1","Status":"warning"}]}]"#,
//! )
//! .unwrap();
//! assert_eq!(entries[0].address(), "10.0.0.1");
//! assert_eq!(entries[0].aggregated_status(), consul_wire::Status::Warning);
//! ```

#![warn(missing_docs)]

mod catalog;
pub mod duration;
pub mod gojson;
mod health;
mod kv;
mod register;
mod status;

pub use catalog::{
    CatalogDeregistration, CatalogNode, CatalogRegistration, CatalogRegistrationOf, CatalogService,
};
pub use health::{
    AgentService, AgentServiceOf, HealthCheck, HealthCheckDefinition, HealthCheckOf, Node,
    ServiceEntry,
};
pub use kv::{KvPair, SessionEntry};
pub use register::{
    CheckRegistration, CheckRegistrationOf, RawWeights, ServiceRegistration, ServiceRegistrationOf,
    TaggedAddress, Weights,
};
pub use status::{aggregated_status, is_maintenance_check, Status};

/// Free-form string metadata (`Meta`, `NodeMeta`, `ServiceMeta`).
pub type Meta = std::collections::BTreeMap<String, String>;

/// A serde `deserialize_with` helper: `null` reads as the default value (Go
/// clients send `"Tags": null`).
///
/// # Errors
/// The value is neither `null` nor a `T`.
pub fn nullable<'de, D, T>(d: D) -> Result<T, D::Error>
where
    D: serde::Deserializer<'de>,
    T: serde::Deserialize<'de> + Default,
{
    Ok(<Option<T> as serde::Deserialize>::deserialize(d)?.unwrap_or_default())
}
