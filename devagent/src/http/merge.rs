//! `?merge-central-config` (Consul's `MergeServiceConfig`): a proxy or
//! gateway instance is answered with the defaults of its destination's
//! `service-defaults` and the `proxy-defaults` entry merged into `Proxy`
//! (what the instance sets itself wins).

use serde_json::{Map, Value};

use crate::extra::Extra;

/// The resolved defaults of a service: `(proxy config, mode, mesh gateway, transparent proxy, expose)`.
struct Defaults {
    config: Map<String, Value>,
    mode: Option<Value>,
    mesh_gateway: Option<Value>,
    tproxy: Option<Value>,
    expose: Option<Value>,
}

fn non_empty(v: Option<&Value>) -> Option<Value> {
    v.filter(|v| match v {
        Value::Null => false,
        Value::String(s) => !s.is_empty(),
        Value::Object(m) => !m.is_empty(),
        _ => true,
    })
    .cloned()
}

fn resolve(extra: &Extra, service: &str) -> Defaults {
    let (_, pd) = extra.entry_get("proxy-defaults", "global");
    let (_, sd) = extra.entry_get("service-defaults", service);
    let pick = |k: &str| {
        non_empty(sd.as_deref().and_then(|e| e.get(k)))
            .or_else(|| non_empty(pd.as_deref().and_then(|e| e.get(k))))
    };
    let mut config = pd
        .as_deref()
        .and_then(|e| e.get("Config"))
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default();
    if let Some(p) = sd
        .as_deref()
        .and_then(|e| e.get("Protocol"))
        .and_then(Value::as_str)
        .filter(|p| !p.is_empty())
    {
        config.insert("protocol".into(), Value::String(p.to_string()));
    }
    Defaults {
        config,
        mode: pick("Mode"),
        mesh_gateway: pick("MeshGateway"),
        tproxy: pick("TransparentProxy"),
        expose: pick("Expose"),
    }
}

/// Merges the defaults into one `Proxy` object.
fn merge_proxy(extra: &Extra, proxy: &mut Value) {
    let Some(dest) = proxy
        .get("DestinationServiceName")
        .and_then(Value::as_str)
        .map(str::to_string)
    else {
        return;
    };
    let d = resolve(extra, &dest);
    let Value::Object(p) = proxy else { return };
    let config = p
        .entry("Config")
        .or_insert_with(|| Value::Object(Map::new()));
    if config.is_null() {
        *config = Value::Object(Map::new());
    }
    if let Value::Object(c) = config {
        for (k, v) in d.config {
            c.entry(k).or_insert(v);
        }
    }
    for (key, v) in [
        ("Mode", d.mode),
        ("MeshGateway", d.mesh_gateway),
        ("TransparentProxy", d.tproxy),
        ("Expose", d.expose),
    ] {
        let Some(v) = v else { continue };
        if non_empty(p.get(key)).is_none() {
            p.insert(key.to_string(), v);
        }
    }
}

fn is_proxy(kind: Option<&Value>) -> bool {
    kind.and_then(Value::as_str)
        .is_some_and(|k| k == "connect-proxy" || k.ends_with("-gateway"))
}

/// Applies the merge to an answer of `/v1/health/service`,
/// `/v1/catalog/service` or `/v1/agent/service`.
pub(super) fn merge_answer(extra: &Extra, path: &str, body: &mut Value) {
    let one = |v: &mut Value, kind_key: &str, proxy_key: &str| {
        if is_proxy(v.get(kind_key)) {
            if let Some(p) = v.get_mut(proxy_key) {
                merge_proxy(extra, p);
            }
        }
    };
    if path.starts_with("/v1/health/service/") {
        for e in body.as_array_mut().into_iter().flatten() {
            if let Some(s) = e.get_mut("Service") {
                one(s, "Kind", "Proxy");
            }
        }
    } else if path.starts_with("/v1/catalog/service/") {
        for e in body.as_array_mut().into_iter().flatten() {
            one(e, "ServiceKind", "ServiceProxy");
        }
    } else if path.starts_with("/v1/agent/service/") {
        one(body, "Kind", "Proxy");
    }
}
