//! JSON decoding the way Consul (Go's `encoding/json` plus Consul's key
//! translation) decodes request bodies, built once for every type.
//!
//! - **Field names match case-insensitively**, as Go's decoder does:
//!   `{"name":"web"}` fills `Name`.
//! - **snake_case spellings match too** (`enable_tag_override`,
//!   `deregister_critical_service_after`, `tagged_addresses`): Consul
//!   translates them before decoding. Underscores and dashes are ignored when
//!   nothing matches exactly or case-insensitively. Aliases that are not a
//!   spelling of the field name (`args` for `ScriptArgs`) are serde
//!   `#[serde(alias = "...")]` attributes on the type and are matched the same
//!   way.
//! - **Unknown fields are ignored** by default (Go's decoder and every Consul
//!   client do so); [`UnknownFields::Reject`] turns them into an error naming
//!   the field, as Consul's HTTP API does for request bodies.
//! - **Nesting is bounded** ([`Options::max_depth`], default
//!   [`DEFAULT_MAX_DEPTH`] = 32), so hostile input cannot exhaust the stack.
//! - **Errors name the field**: `Check.TTL: invalid duration "ten"`.
//!
//! The matching is generic: it wraps serde's [`Deserializer`] and renames
//! each key of a struct to the spelling of one of the struct's fields (the
//! field list serde passes to `deserialize_struct`), so a type needs no
//! per-field rename list. Keys of maps (`Meta`, `NodeMeta`, `Header`) are user
//! data and are left alone. Content buffered by `#[serde(flatten)]` or
//! untagged enums is decoded by serde itself and is not translated, so wire
//! types avoid them.
//!
//! ```
//! use consul_wire::ServiceRegistration;
//! let reg: ServiceRegistration = consul_wire::gojson::from_slice(
//!     br#"{"name":"web","port":80,"enable_tag_override":true,"Colour":"red"}"#,
//! )
//! .unwrap();
//! assert_eq!((reg.name.as_str(), reg.port, reg.enable_tag_override), ("web", 80, true));
//! ```

mod de;
#[cfg(test)]
mod tests;

use std::fmt;

use serde::de::DeserializeOwned;

/// How deep objects and arrays may nest before decoding fails.
pub const DEFAULT_MAX_DEPTH: usize = 32;

/// What to do with a key that matches no field of a struct.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum UnknownFields {
    /// Skip it (Go's decoder; what clients reading responses want).
    #[default]
    Ignore,
    /// Fail with `unknown field "<key>"` (Consul's HTTP API for request bodies).
    Reject,
}

/// Decoding options.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Options {
    /// Unknown struct fields: ignored or rejected.
    pub unknown_fields: UnknownFields,
    /// Deepest nesting of objects and arrays accepted (the top level is 1).
    pub max_depth: usize,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            unknown_fields: UnknownFields::Ignore,
            max_depth: DEFAULT_MAX_DEPTH,
        }
    }
}

impl Options {
    /// Options that reject unknown fields, as Consul does for request bodies.
    pub fn strict() -> Self {
        Options {
            unknown_fields: UnknownFields::Reject,
            ..Options::default()
        }
    }
}

/// A decoding failure: where in the document, and what.
#[derive(Debug)]
pub struct Error {
    path: String,
    message: String,
}

impl Error {
    /// The path of the field that failed (`Checks[1].TTL`), empty at the top level.
    pub fn path(&self) -> &str {
        &self.path
    }

    /// What went wrong, without the path.
    pub fn message(&self) -> &str {
        &self.message
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.path.is_empty() {
            f.write_str(&self.message)
        } else {
            write!(f, "{}: {}", self.path, self.message)
        }
    }
}

impl std::error::Error for Error {}

/// Decodes `bytes` with the default [`Options`] (unknown fields ignored).
///
/// # Errors
/// Malformed JSON, a value of the wrong type, or nesting deeper than
/// [`DEFAULT_MAX_DEPTH`].
pub fn from_slice<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, Error> {
    from_slice_with(bytes, &Options::default())
}

/// Decodes `bytes` with `opts`.
///
/// # Errors
/// Malformed JSON, a value of the wrong type, nesting deeper than
/// `opts.max_depth`, or (with [`UnknownFields::Reject`]) an unknown field.
pub fn from_slice_with<T: DeserializeOwned>(bytes: &[u8], opts: &Options) -> Result<T, Error> {
    let mut json = serde_json::Deserializer::from_slice(bytes);
    let st = de::State::new(opts);
    let out = T::deserialize(de::Wrap::new(&mut json, &st)).and_then(|v| {
        json.end()?;
        Ok(v)
    });
    out.map_err(|e| st.error(e.to_string()))
}

/// Decodes an already parsed document with `opts`.
///
/// # Errors
/// As [`from_slice_with`].
pub fn from_value<T: DeserializeOwned>(
    value: serde_json::Value,
    opts: &Options,
) -> Result<T, Error> {
    let st = de::State::new(opts);
    T::deserialize(de::Wrap::new(value, &st)).map_err(|e| st.error(e.to_string()))
}

/// Checks that `value` nests no deeper than `max_depth` (iteratively, so any
/// depth is safe to check).
pub fn depth_within(value: &serde_json::Value, max_depth: usize) -> bool {
    use serde_json::Value;
    let mut stack: Vec<(&Value, usize)> = vec![(value, 1)];
    while let Some((v, d)) = stack.pop() {
        let children: Box<dyn Iterator<Item = &Value>> = match v {
            Value::Array(a) => Box::new(a.iter()),
            Value::Object(o) => Box::new(o.values()),
            _ => continue,
        };
        if d > max_depth {
            return false;
        }
        stack.extend(children.map(|c| (c, d + 1)));
    }
    true
}

/// The spelling among `fields` that `key` stands for: the exact name, else a
/// case-insensitive match, else a match ignoring `_` and `-` too.
pub fn match_field(key: &str, fields: &'static [&'static str]) -> Option<&'static str> {
    if let Some(f) = fields.iter().find(|f| **f == key) {
        return Some(f);
    }
    if let Some(f) = fields.iter().find(|f| f.eq_ignore_ascii_case(key)) {
        return Some(f);
    }
    fields.iter().copied().find(|f| folded_eq(f, key))
}

/// Equal ignoring ASCII case, `_` and `-`.
fn folded_eq(a: &str, b: &str) -> bool {
    fn folded(s: &str) -> impl Iterator<Item = u8> + '_ {
        s.bytes()
            .filter(|c| *c != b'_' && *c != b'-')
            .map(|c| c.to_ascii_lowercase())
    }
    !a.is_empty() && folded(a).eq(folded(b))
}
