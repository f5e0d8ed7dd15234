//! Config entries (`/v1/config`): stored per kind and name, their top-level
//! keys in Consul's spelling (unknown ones dropped), validated by kind, with
//! check-and-set on the modify index.

use std::collections::BTreeMap;
use std::sync::Arc;

use serde_json::{json, Map, Value};

use super::Extra;
use crate::error::ApiError;
use crate::state::Store;

/// Largest number of config entries kept.
pub(crate) const MAX_ENTRIES: usize = 10_000;

/// The stored entries.
#[derive(Debug, Default)]
pub(crate) struct Entries {
    pub(crate) map: BTreeMap<(String, String), Arc<Value>>,
    /// Index of the last write or delete.
    pub(crate) index: u64,
}

const COMMON: &[&str] = &["Kind", "Name", "Meta", "Namespace", "Partition"];

/// The top-level fields Consul knows for each kind (`None`: a kind
/// devagent stores without knowing its fields).
fn fields(kind: &str) -> Option<Option<&'static [&'static str]>> {
    Some(match kind {
        "service-defaults" => Some(&[
            "Protocol",
            "Mode",
            "TransparentProxy",
            "MutualTLSMode",
            "MeshGateway",
            "Expose",
            "ExternalSNI",
            "UpstreamConfig",
            "Destination",
            "MaxInboundConnections",
            "LocalConnectTimeoutMs",
            "LocalRequestTimeoutMs",
            "BalanceInboundConnections",
            "RateLimits",
            "EnvoyExtensions",
        ]),
        "proxy-defaults" => Some(&[
            "Config",
            "Mode",
            "TransparentProxy",
            "MutualTLSMode",
            "MeshGateway",
            "Expose",
            "AccessLogs",
            "EnvoyExtensions",
            "FailoverPolicy",
            "PrioritizeByLocality",
        ]),
        "service-resolver" => Some(&[
            "ConnectTimeout",
            "RequestTimeout",
            "Subsets",
            "DefaultSubset",
            "Redirect",
            "Failover",
            "LoadBalancer",
            "PrioritizeByLocality",
        ]),
        "service-splitter" => Some(&["Splits"]),
        "service-router" => Some(&["Routes"]),
        "ingress-gateway" => Some(&["TLS", "Listeners", "Defaults"]),
        "terminating-gateway" => Some(&["Services"]),
        "service-intentions" => Some(&["Sources", "JWT"]),
        "mesh" => Some(&[
            "TransparentProxy",
            "AllowEnablingPermissiveMutualTLS",
            "ValidateClusters",
            "TLS",
            "HTTP",
            "Peering",
        ]),
        "exported-services" => Some(&["Services"]),
        "api-gateway"
        | "bound-api-gateway"
        | "http-route"
        | "tcp-route"
        | "inline-certificate"
        | "file-system-certificate"
        | "jwt-provider"
        | "sameness-group"
        | "control-plane-request-limit"
        | "registration" => None,
        _ => return None,
    })
}

fn fold(key: &str) -> String {
    key.chars()
        .filter(|c| *c != '_' && *c != '-')
        .map(|c| c.to_ascii_lowercase())
        .collect()
}

/// The kind of a body, before anything else is looked at.
fn kind_of(body: &Map<String, Value>) -> String {
    body.iter()
        .find(|(k, _)| fold(k) == "kind")
        .and_then(|(_, v)| v.as_str())
        .unwrap_or_default()
        .to_string()
}

/// A body in Consul's spelling with the checks of its kind: (kind, name, entry).
pub(crate) fn canon(body: Value) -> Result<(String, String, Map<String, Value>), String> {
    let Value::Object(body) = body else {
        return Err("a config entry is a JSON object".into());
    };
    let kind = kind_of(&body);
    if kind.is_empty() {
        return Err(
            "Kind is required: service-defaults, proxy-defaults, service-resolver, \
                    service-splitter, service-router, ingress-gateway, terminating-gateway, ..."
                .into(),
        );
    }
    let known = fields(&kind).ok_or_else(|| format!("invalid config entry kind: {kind}"))?;
    let mut out = Map::new();
    for (k, v) in body {
        let f = fold(&k);
        let canonical = COMMON
            .iter()
            .chain(known.unwrap_or(&[]).iter())
            .find(|name| fold(name) == f);
        match canonical {
            Some(name) => {
                out.insert((*name).to_string(), v);
            }
            None if known.is_none() => {
                out.insert(k, v);
            }
            None => {} // unknown fields are ignored, as Consul's decoder does for clients
        }
    }
    out.remove("Namespace");
    out.remove("Partition");
    out.insert("Kind".into(), json!(kind));
    let name = out
        .get("Name")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string();
    if matches!(kind.as_str(), "proxy-defaults" | "mesh") {
        let want = if kind == "mesh" { "mesh" } else { "global" };
        if name.is_empty() {
            out.insert("Name".into(), json!(want));
        } else if name != want {
            return Err(format!(
                "invalid name ({name:?}), only {want:?} is supported"
            ));
        }
    } else if name.is_empty() {
        return Err("Name is required".into());
    }
    let name = out
        .get("Name")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string();
    validate(&kind, &out)?;
    Ok((kind, name, out))
}

fn protocol_ok(p: &str) -> bool {
    matches!(p, "" | "tcp" | "http" | "http2" | "grpc")
}

fn validate(kind: &str, e: &Map<String, Value>) -> Result<(), String> {
    match kind {
        "service-defaults" => {
            let p = e.get("Protocol").and_then(Value::as_str).unwrap_or("");
            if !protocol_ok(p) {
                return Err(format!(
                    "invalid protocol {p:?}: use tcp, http, http2 or grpc"
                ));
            }
        }
        "service-resolver" => {
            for key in ["ConnectTimeout", "RequestTimeout"] {
                if let Some(v) = e.get(key).and_then(Value::as_str) {
                    gocompat::duration::parse(v).map_err(|err| format!("{key} {v:?}: {err}"))?;
                }
            }
            if let Some(subsets) = e.get("Subsets").and_then(Value::as_object) {
                if let Some(d) = e.get("DefaultSubset").and_then(Value::as_str) {
                    if !d.is_empty() && !subsets.contains_key(d) {
                        return Err(format!("DefaultSubset {d:?} is not a valid subset"));
                    }
                }
            }
        }
        "service-splitter" => {
            let splits = e
                .get("Splits")
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default();
            if splits.is_empty() {
                return Err("no splits configured".into());
            }
            let sum: f64 = splits
                .iter()
                .map(|s| s.get("Weight").and_then(Value::as_f64).unwrap_or(0.0))
                .sum();
            if (sum - 100.0).abs() > 0.01 {
                return Err(format!(
                    "the sum of all split weights must be 100, not {sum}"
                ));
            }
        }
        "service-router" => {
            if let Some(r) = e.get("Routes") {
                if !r.is_array() && !r.is_null() {
                    return Err("Routes must be a list".into());
                }
            }
        }
        "ingress-gateway" => {
            for l in e
                .get("Listeners")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                let port = l.get("Port").and_then(Value::as_u64).unwrap_or(0);
                if port == 0 || port > 65535 {
                    return Err(format!("listener port {port} is not a port (1-65535)"));
                }
                let p = l.get("Protocol").and_then(Value::as_str).unwrap_or("tcp");
                if !protocol_ok(p) {
                    return Err(format!(
                        "protocol {p:?} is not supported for listener {port}"
                    ));
                }
            }
        }
        "terminating-gateway" => {
            for s in e
                .get("Services")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                if s.get("Name")
                    .and_then(Value::as_str)
                    .unwrap_or("")
                    .is_empty()
                {
                    return Err("Service name cannot be blank.".into());
                }
            }
        }
        _ => {}
    }
    Ok(())
}

/// The protocol `service` speaks by its service-defaults, else proxy-defaults, else tcp.
fn protocol_of(entries: &Entries, service: &str) -> String {
    let from = |kind: &str, name: &str, path: &[&str]| {
        let e = entries.map.get(&(kind.to_string(), name.to_string()))?;
        path.iter()
            .try_fold(&**e, |v, k| v.get(k))?
            .as_str()
            .map(str::to_string)
    };
    from("service-defaults", service, &["Protocol"])
        .filter(|p| !p.is_empty())
        .or_else(|| from("proxy-defaults", "global", &["Config", "protocol"]))
        .unwrap_or_else(|| "tcp".into())
}

impl Extra {
    /// `PUT /v1/config`: stores the entry; `false` when `cas` does not match.
    pub(crate) fn entry_set(
        &self,
        store: &Store,
        kind: &str,
        name: &str,
        mut entry: Map<String, Value>,
        cas: Option<u64>,
    ) -> Result<bool, ApiError> {
        let mut t = self.lock();
        let key = (kind.to_string(), name.to_string());
        let old = t.entries.map.get(&key).cloned();
        if let Some(cas) = cas {
            let current = old
                .as_ref()
                .and_then(|o| o.get("ModifyIndex"))
                .and_then(Value::as_u64)
                .unwrap_or(0);
            if cas != current {
                return Ok(false);
            }
        }
        if matches!(kind, "service-splitter" | "service-router") {
            let p = protocol_of(&t.entries, name);
            if !matches!(p.as_str(), "http" | "http2" | "grpc") {
                return Err(ApiError::internal(format!(
                    "discovery chain {name:?} uses a protocol {p:?} that does not permit advanced routing or splitting behavior"
                )));
            }
        }
        if old.is_none() && t.entries.map.len() >= MAX_ENTRIES {
            return Err(ApiError::internal(format!(
                "{MAX_ENTRIES} config entries are stored already: delete some first"
            )));
        }
        let index = Extra::next_index(store);
        let create = old
            .as_ref()
            .and_then(|o| o.get("CreateIndex"))
            .and_then(Value::as_u64)
            .unwrap_or(index);
        entry.insert("CreateIndex".into(), json!(create));
        entry.insert("ModifyIndex".into(), json!(index));
        t.entries.map.insert(key, Arc::new(Value::Object(entry)));
        t.entries.index = index;
        drop(t);
        self.notify();
        Ok(true)
    }

    /// `GET /v1/config/:kind/:name`.
    pub(crate) fn entry_get(&self, kind: &str, name: &str) -> (u64, Option<Arc<Value>>) {
        let t = self.lock();
        let e = t
            .entries
            .map
            .get(&(kind.to_string(), name.to_string()))
            .cloned();
        (t.entries.index, e)
    }

    /// `GET /v1/config/:kind`.
    pub(crate) fn entry_list(&self, kind: &str) -> (u64, Vec<Arc<Value>>) {
        let t = self.lock();
        let list = t
            .entries
            .map
            .range((kind.to_string(), String::new())..)
            .take_while(|((k, _), _)| k == kind)
            .map(|(_, v)| Arc::clone(v))
            .collect();
        (t.entries.index, list)
    }

    /// `DELETE /v1/config/:kind/:name`: `false` when `cas` does not match.
    pub(crate) fn entry_delete(
        &self,
        store: &Store,
        kind: &str,
        name: &str,
        cas: Option<u64>,
    ) -> bool {
        let mut t = self.lock();
        let key = (kind.to_string(), name.to_string());
        if let Some(cas) = cas {
            let current = t
                .entries
                .map
                .get(&key)
                .and_then(|o| o.get("ModifyIndex"))
                .and_then(Value::as_u64)
                .unwrap_or(0);
            if cas != current {
                return false;
            }
        }
        if t.entries.map.remove(&key).is_some() {
            t.entries.index = Extra::next_index(store);
            drop(t);
            self.notify();
        }
        true
    }

    /// The services a gateway's config entry names (`GatewayService`s).
    pub(crate) fn gateway_services(&self, store: &Store, gateway: &str) -> (u64, Vec<Value>) {
        let t = self.lock();
        let index = t.entries.index;
        let mut out = Vec::new();
        let term = t
            .entries
            .map
            .get(&("terminating-gateway".to_string(), gateway.to_string()));
        if let Some(e) = term {
            let idx = e.get("ModifyIndex").cloned().unwrap_or(json!(index));
            for s in e
                .get("Services")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                let name = s.get("Name").and_then(Value::as_str).unwrap_or("");
                let field = |k: &str| s.get(k).and_then(Value::as_str).unwrap_or("").to_string();
                let names: Vec<(String, bool)> = if name == "*" {
                    let inner = store.lock();
                    let mut all: Vec<(String, bool)> = inner
                        .by_name
                        .keys()
                        .filter(|n| n.as_str() != "consul" && n.as_str() != gateway)
                        .map(|n| (n.clone(), true))
                        .collect();
                    all.sort();
                    all
                } else {
                    vec![(name.to_string(), false)]
                };
                for (n, wildcard) in names {
                    out.push(json!({
                        "Gateway": {"Name": gateway},
                        "Service": {"Name": n},
                        "GatewayKind": "terminating-gateway",
                        "CAFile": field("CAFile"),
                        "CertFile": field("CertFile"),
                        "KeyFile": field("KeyFile"),
                        "SNI": field("SNI"),
                        "FromWildcard": wildcard,
                        "CreateIndex": idx,
                        "ModifyIndex": idx,
                    }));
                }
            }
        }
        let ingress = t
            .entries
            .map
            .get(&("ingress-gateway".to_string(), gateway.to_string()));
        if let Some(e) = ingress {
            let idx = e.get("ModifyIndex").cloned().unwrap_or(json!(index));
            for l in e
                .get("Listeners")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                let port = l.get("Port").cloned().unwrap_or(json!(0));
                let protocol = l.get("Protocol").cloned().unwrap_or(json!("tcp"));
                for s in l
                    .get("Services")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                {
                    out.push(json!({
                        "Gateway": {"Name": gateway},
                        "Service": {"Name": s.get("Name").cloned().unwrap_or(json!(""))},
                        "GatewayKind": "ingress-gateway",
                        "Port": port,
                        "Protocol": protocol,
                        "Hosts": s.get("Hosts").cloned().unwrap_or(Value::Null),
                        "FromWildcard": s.get("Name").and_then(Value::as_str) == Some("*"),
                        "CreateIndex": idx,
                        "ModifyIndex": idx,
                    }));
                }
            }
        }
        (index, out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn canon_spells_keys_as_consul_and_checks_kinds() {
        let (kind, name, e) = canon(
            json!({"kind": "service-defaults", "name": "web", "protocol": "http", "bogus": 1}),
        )
        .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!((kind.as_str(), name.as_str()), ("service-defaults", "web"));
        assert_eq!(e["Protocol"], "http");
        assert!(!e.contains_key("bogus"));
        assert!(canon(json!({"Kind": "nope", "Name": "x"}))
            .unwrap_err()
            .contains("invalid config entry kind: nope"));
        assert!(canon(json!({"Kind": "proxy-defaults", "Name": "x"})).is_err());
        assert!(canon(
            json!({"Kind": "service-splitter", "Name": "x", "Splits": [{"Weight": 50}]})
        )
        .unwrap_err()
        .contains("must be 100"));
        assert!(
            canon(json!({"Kind": "service-defaults", "Name": "x", "Protocol": "udp"})).is_err()
        );
    }
}
