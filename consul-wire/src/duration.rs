//! Durations as Consul's registration bodies carry them: a Go duration
//! string (`"10s"`, `"1m30s"`) or a number of nanoseconds. A serde `with`
//! module for `Option<Duration>` fields:
//!
//! ```
//! #[derive(serde::Deserialize)]
//! struct Body {
//!     #[serde(rename = "TTL", default, with = "consul_wire::duration")]
//!     ttl: Option<std::time::Duration>,
//! }
//! let b: Body = serde_json::from_str(r#"{"TTL":"1m30s"}"#).unwrap();
//! assert_eq!(b.ttl, Some(std::time::Duration::from_secs(90)));
//! ```

use std::fmt;
use std::time::Duration;

use serde::de::{self, Deserializer, Visitor};
use serde::Serializer;

/// Writes a Go duration string, or `null` for none.
///
/// # Errors
/// The serializer's.
pub fn serialize<S: Serializer>(d: &Option<Duration>, s: S) -> Result<S::Ok, S::Error> {
    match d {
        Some(d) => s.serialize_str(&gocompat::duration::format(*d)),
        None => s.serialize_none(),
    }
}

/// Reads a Go duration string or nanoseconds; `null`, `""` and `0` are none.
///
/// # Errors
/// A string that is no Go duration (the parser's message), a negative or
/// fractional number (`invalid duration -1: must be a non-negative number of
/// nanoseconds`), or another JSON type (`invalid duration true: use a string
/// such as "10s"`).
pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Duration>, D::Error> {
    d.deserialize_any(DurationVisitor)
}

struct DurationVisitor;

fn negative<E: de::Error>(n: impl fmt::Display) -> E {
    E::custom(format_args!(
        "invalid duration {n}: must be a non-negative number of nanoseconds"
    ))
}

fn other<E: de::Error>(v: impl fmt::Display) -> E {
    E::custom(format_args!(
        "invalid duration {v}: use a string such as \"10s\""
    ))
}

impl<'de> Visitor<'de> for DurationVisitor {
    type Value = Option<Duration>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a Go duration string such as \"10s\" or a number of nanoseconds")
    }

    fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(None)
    }

    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(None)
    }

    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_any(DurationVisitor)
    }

    fn visit_str<E: de::Error>(self, s: &str) -> Result<Self::Value, E> {
        if s.is_empty() {
            return Ok(None);
        }
        gocompat::duration::parse(s).map(Some).map_err(E::custom)
    }

    fn visit_u64<E: de::Error>(self, ns: u64) -> Result<Self::Value, E> {
        Ok((ns != 0).then(|| Duration::from_nanos(ns)))
    }

    fn visit_i64<E: de::Error>(self, n: i64) -> Result<Self::Value, E> {
        match u64::try_from(n) {
            Ok(ns) => self.visit_u64(ns),
            Err(_) => Err(negative(n)),
        }
    }

    fn visit_f64<E: de::Error>(self, n: f64) -> Result<Self::Value, E> {
        // As serde_json prints the number (`1.5`, `1e30`).
        let text = serde_json::Number::from_f64(n).map_or_else(|| n.to_string(), |n| n.to_string());
        Err(negative(text))
    }

    fn visit_bool<E: de::Error>(self, b: bool) -> Result<Self::Value, E> {
        Err(other(b))
    }

    fn visit_seq<A: de::SeqAccess<'de>>(self, seq: A) -> Result<Self::Value, A::Error> {
        let v: serde_json::Value =
            serde::Deserialize::deserialize(de::value::SeqAccessDeserializer::new(seq))?;
        Err(other(v))
    }

    fn visit_map<A: de::MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
        let v: serde_json::Value =
            serde::Deserialize::deserialize(de::value::MapAccessDeserializer::new(map))?;
        Err(other(v))
    }
}
