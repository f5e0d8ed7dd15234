//! Field decoders and nested field types shared by several request bodies.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::{Deserialize, Deserializer};
use serde_json::Value;

use gocompat::duration;

/// `null` decodes as the default value (Go clients send `"Tags": null`).
pub(crate) fn null_default<'de, D, T>(d: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de> + Default,
{
    Ok(Option::<T>::deserialize(d)?.unwrap_or_default())
}

/// A duration given as a Go duration string or as a number of nanoseconds.
pub(crate) fn dur<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Duration>, D::Error> {
    use serde::de::Error;
    match Option::<Value>::deserialize(d)? {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) if s.is_empty() => Ok(None),
        Some(Value::String(s)) => duration::parse(&s).map(Some).map_err(D::Error::custom),
        Some(Value::Number(n)) => match n.as_u64() {
            Some(0) => Ok(None),
            Some(ns) => Ok(Some(Duration::from_nanos(ns))),
            None => Err(D::Error::custom(format!(
                "invalid duration {n}: must be a non-negative number of nanoseconds"
            ))),
        },
        Some(other) => Err(D::Error::custom(format!(
            "invalid duration {other}: use a string such as \"10s\""
        ))),
    }
}

/// A `Header` map: values may be a list or a single string.
pub(super) fn header<'de, D: Deserializer<'de>>(
    d: D,
) -> Result<BTreeMap<String, Vec<String>>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum One {
        Many(Vec<String>),
        Single(String),
    }
    let raw: Option<BTreeMap<String, One>> = Option::deserialize(d)?;
    Ok(raw
        .unwrap_or_default()
        .into_iter()
        .map(|(k, v)| match v {
            One::Many(v) => (k, v),
            One::Single(s) => (k, vec![s]),
        })
        .collect())
}
