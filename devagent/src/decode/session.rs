//! Request body of `PUT /v1/session/create`.

use std::time::Duration;

use serde::de::IgnoredAny;
use serde::{Deserialize, Deserializer};
use serde_json::Value;

use crate::types::ServiceCheckRef;
use gocompat::duration;

/// A session lock delay: a Go duration string, or a number that is seconds
/// below 1000 and nanoseconds otherwise.
fn lock_delay<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Duration>, D::Error> {
    use serde::de::Error;
    match Option::<Value>::deserialize(d)? {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) if s.is_empty() => Ok(None),
        Some(Value::String(s)) => duration::parse(&s).map(Some).map_err(D::Error::custom),
        Some(Value::Number(n)) => match n.as_u64() {
            Some(v) if v < 1000 => Ok(Some(Duration::from_secs(v))),
            Some(v) => Ok(Some(Duration::from_nanos(v))),
            None => Err(D::Error::custom(format!("invalid LockDelay {n}"))),
        },
        Some(other) => Err(D::Error::custom(format!("invalid LockDelay {other}"))),
    }
}

/// The body of `PUT /v1/session/create`.
#[derive(Debug, Default, Deserialize)]
pub(crate) struct SessionCreate {
    #[serde(rename = "ID", default)]
    pub(crate) _id: IgnoredAny,
    #[serde(rename = "Name", default)]
    pub(crate) name: String,
    #[serde(rename = "Node", default)]
    pub(crate) node: String,
    #[serde(rename = "LockDelay", default, deserialize_with = "lock_delay")]
    pub(crate) lock_delay: Option<Duration>,
    #[serde(rename = "Behavior", default)]
    pub(crate) behavior: String,
    #[serde(rename = "TTL", default)]
    pub(crate) ttl: String,
    #[serde(rename = "Checks", default)]
    pub(crate) checks: Option<Vec<String>>,
    #[serde(rename = "NodeChecks", default)]
    pub(crate) node_checks: Option<Vec<String>>,
    #[serde(rename = "ServiceChecks", default)]
    pub(crate) service_checks: Option<Vec<ServiceCheckRef>>,
    #[serde(rename = "Namespace", default)]
    pub(crate) _namespace: IgnoredAny,
    #[serde(rename = "Partition", default)]
    pub(crate) _partition: IgnoredAny,
}
