//! Request bodies as Consul decodes them.
//!
//! Go's JSON decoder matches struct fields case-insensitively and Consul adds
//! snake_case aliases (`enable_tag_override`, `deregister_critical_service_after`,
//! `args`, ...). [`decode`] applies those rules through the shared wire
//! model's `gojson` (generic over every serde type: no per-field rename lists
//! here), leaving user-owned map keys (`Meta`, `Header`) alone. As Consul's
//! decoder, it ignores fields a type does not know (a newer client's field,
//! or `Address` in a catalog deregistration, is not an error).
//!
//! The registration bodies are consul-wire's types, the field lists dcy
//! sends, in their agent form: check statuses and weights as sent
//! (`String`, [`consul_wire::RawWeights`]), so that the store answers with
//! Consul's messages. The aliases are grouped by endpoint family: `agent`
//! (service and check registration, and the check update body), `catalog`
//! (catalog register and deregister) and `session` (session create, whose
//! `LockDelay` reads small numbers as seconds).

mod agent;
mod catalog;
mod session;
#[cfg(test)]
mod tests;

use serde::de::DeserializeOwned;

pub(crate) use agent::{CheckIn, CheckUpdate, ServiceDefinition};
pub(crate) use catalog::{CatalogCheckIn, CatalogDeregister, CatalogRegister};
pub(crate) use session::SessionCreate;

/// Decodes a request body with Consul's rules ([`consul_wire::gojson`]:
/// case-insensitive and snake_case keys, unknown fields ignored, bounded
/// depth). An empty body reads as `{}`.
///
/// The error is the text after Consul's `Request decode failed: ` prefix.
pub(crate) fn decode<T: DeserializeOwned>(body: &[u8]) -> Result<T, String> {
    let body: &[u8] = if body.iter().all(u8::is_ascii_whitespace) {
        b"{}"
    } else {
        body
    };
    consul_wire::gojson::from_slice(body).map_err(|e| e.to_string())
}
