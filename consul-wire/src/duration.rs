//! Durations as Consul's registration bodies carry them: a Go duration
//! string (`"10s"`, `"1m30s"`) or a number of nanoseconds.

use std::time::Duration;

use serde::{Deserialize, Deserializer, Serializer};

/// Writes a Go duration string, or `null` for none.
pub(crate) fn serialize<S: Serializer>(d: &Option<Duration>, s: S) -> Result<S::Ok, S::Error> {
    match d {
        Some(d) => s.serialize_str(&gocompat::duration::format(*d)),
        None => s.serialize_none(),
    }
}

/// Reads a Go duration string or nanoseconds; `null`, `""` and `0` are none.
pub(crate) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Duration>, D::Error> {
    use serde::de::Error;
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Raw {
        Text(String),
        Nanos(u64),
    }
    match Option::<Raw>::deserialize(d) {
        Ok(None) => Ok(None),
        Ok(Some(Raw::Text(s))) if s.is_empty() => Ok(None),
        Ok(Some(Raw::Text(s))) => gocompat::duration::parse(&s)
            .map(Some)
            .map_err(D::Error::custom),
        Ok(Some(Raw::Nanos(0))) => Ok(None),
        Ok(Some(Raw::Nanos(ns))) => Ok(Some(Duration::from_nanos(ns))),
        Err(_) => Err(D::Error::custom(
            "invalid duration: use a string such as \"10s\" or a non-negative number of nanoseconds",
        )),
    }
}
