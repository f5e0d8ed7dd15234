//! Request bodies as Consul decodes them.
//!
//! Go's JSON decoder matches struct fields case-insensitively and Consul adds
//! snake_case aliases (`enable_tag_override`, `deregister_critical_service_after`,
//! `args`, ...). Before serde sees a body, [`normalize`] walks it with a small
//! schema of the request types and renames every struct key to its canonical
//! PascalCase spelling, leaving user-owned map keys (`Meta`, `Header`) alone.
//! The serde types then decode strictly: an unknown field is a 400 that names
//! the field.
//!
//! The request types are grouped by endpoint family: `agent` (service and
//! check registration, check updates), `catalog` (catalog register and
//! deregister) and `session` (session create); `fields` holds the field
//! decoders and nested types they share.

mod agent;
mod catalog;
mod fields;
mod session;
#[cfg(test)]
mod tests;

use serde::de::DeserializeOwned;
use serde_json::Value;

pub(crate) use agent::{
    CheckIn, CheckUpdate, ServiceDefinition, CHECK_DEFINITION, CHECK_UPDATE, SERVICE_DEFINITION,
};
pub(crate) use catalog::{
    CatalogCheckIn, CatalogDeregister, CatalogRegister, CATALOG_DEREGISTER, CATALOG_REGISTER,
};
pub(crate) use fields::{dur, null_default, WeightsIn};
pub(crate) use session::{SessionCreate, SESSION_CREATE};

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

pub(crate) const LEAF: Schema = Schema::Leaf;
const WEIGHTS: Schema = Schema::Struct(&[("Passing", &LEAF), ("Warning", &LEAF)]);
const SERVICE_ADDRESS: Schema = Schema::Struct(&[("Address", &LEAF), ("Port", &LEAF)]);
const TAGGED: Schema = Schema::Map(&SERVICE_ADDRESS);

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
