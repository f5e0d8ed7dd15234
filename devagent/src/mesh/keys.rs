//! Canonical key spelling inside the Connect subtrees devagent keeps as JSON
//! (`Proxy`, `Connect`, `Locality` are stored and printed back as given, so
//! their keys are respelled here rather than decoded into types). The
//! matching rule is the wire model's ([`consul_wire::gojson::match_field`]):
//! exact, then case-insensitive, then ignoring `_` and `-`.

use consul_wire::gojson::match_field;
use serde_json::Value;

/// The shape of a kept JSON subtree, enough to respell its keys.
#[derive(Debug)]
pub(crate) enum Schema {
    /// A struct with these fields (canonical name, schema of the value).
    Struct(&'static [&'static str], &'static [&'static Schema]),
    /// A list whose items follow the schema.
    List(&'static Schema),
    /// Anything: left untouched.
    Leaf,
}

/// Renames the keys of `value` to the spelling of `schema`'s fields; keys
/// that match no field are kept as sent.
pub(crate) fn normalize(value: &mut Value, schema: &Schema) {
    normalize_at(value, schema, 0);
}

/// Deepest level respelled (the schemas are a few levels deep; a hostile
/// body cannot recurse further).
const MAX_DEPTH: usize = 32;

fn normalize_at(value: &mut Value, schema: &Schema, depth: usize) {
    if depth > MAX_DEPTH {
        return;
    }
    match (schema, value) {
        (Schema::Struct(names, subs), Value::Object(map)) => {
            let old = std::mem::take(map);
            for (key, mut v) in old {
                match match_field(&key, names) {
                    Some(name) => {
                        if let Some(i) = names.iter().position(|n| *n == name) {
                            if let Some(sub) = subs.get(i) {
                                normalize_at(&mut v, sub, depth + 1);
                            }
                        }
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
                normalize_at(v, item, depth + 1);
            }
        }
        _ => {}
    }
}
