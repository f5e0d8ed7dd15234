//! Connect: the `Proxy`, `Connect` and `Locality` of a service registration
//! (keys canonicalized, Consul's defaults filled, `connect-proxy` rules
//! checked), `Connect.SidecarService` expanded into its
//! `<id>-sidecar-proxy` service, and the built-in CA (`ca`).

pub(crate) mod ca;
mod keys;

use std::collections::HashSet;

use serde_json::{json, Map, Value};

use crate::decode::ServiceDefinition;
use crate::types::Mesh;
use keys::{normalize, Schema};

const LEAF: Schema = Schema::Leaf;
static MESH_GATEWAY: Schema = Schema::Struct(&["Mode"], &[&LEAF]);
static EXPOSE_PATH: Schema = Schema::Struct(
    &["ListenerPort", "Path", "LocalPathPort", "Protocol"],
    &[&LEAF, &LEAF, &LEAF, &LEAF],
);
static EXPOSE_PATHS: Schema = Schema::List(&EXPOSE_PATH);
static EXPOSE: Schema = Schema::Struct(&["Checks", "Paths"], &[&LEAF, &EXPOSE_PATHS]);
static UPSTREAM: Schema = Schema::Struct(
    &[
        "DestinationType",
        "DestinationNamespace",
        "DestinationPartition",
        "DestinationPeer",
        "DestinationName",
        "Datacenter",
        "LocalBindAddress",
        "LocalBindPort",
        "LocalBindSocketPath",
        "LocalBindSocketMode",
        "Config",
        "MeshGateway",
        "CentrallyConfigured",
    ],
    &[
        &LEAF,
        &LEAF,
        &LEAF,
        &LEAF,
        &LEAF,
        &LEAF,
        &LEAF,
        &LEAF,
        &LEAF,
        &LEAF,
        &LEAF,
        &MESH_GATEWAY,
        &LEAF,
    ],
);
static UPSTREAMS: Schema = Schema::List(&UPSTREAM);
static TPROXY: Schema =
    Schema::Struct(&["OutboundListenerPort", "DialedDirectly"], &[&LEAF, &LEAF]);
/// `Proxy` (`ConnectProxyConfig`).
pub(crate) static PROXY: Schema = Schema::Struct(
    &[
        "DestinationServiceName",
        "DestinationServiceID",
        "LocalServiceAddress",
        "LocalServicePort",
        "LocalServiceSocketPath",
        "Mode",
        "Config",
        "Upstreams",
        "MeshGateway",
        "Expose",
        "TransparentProxy",
        "AccessLogs",
        "EnvoyExtensions",
    ],
    &[
        &LEAF,
        &LEAF,
        &LEAF,
        &LEAF,
        &LEAF,
        &LEAF,
        &LEAF,
        &UPSTREAMS,
        &MESH_GATEWAY,
        &EXPOSE,
        &TPROXY,
        &LEAF,
        &LEAF,
    ],
);
static CONNECT: Schema = Schema::Struct(&["Native", "SidecarService"], &[&LEAF, &LEAF]);
static LOCALITY: Schema = Schema::Struct(&["Region", "Zone"], &[&LEAF, &LEAF]);

/// First and last port of sidecars registered without one (Consul's
/// `sidecar_min_port`, `sidecar_max_port`).
pub(crate) const SIDECAR_PORTS: (u16, u16) = (21000, 21255);

fn object(v: &Value, what: &str) -> Result<Map<String, Value>, String> {
    match v {
        Value::Object(m) => Ok(m.clone()),
        Value::Null => Ok(Map::new()),
        other => Err(format!("{what} must be an object, not {other}")),
    }
}

/// `Proxy` with Consul's spelling and defaults (`Mode`, `MeshGateway`, `Expose`,
/// each upstream's `DestinationType` and `MeshGateway`).
pub(crate) fn canon_proxy(v: &Value) -> Result<Value, String> {
    let mut v = Value::Object(object(v, "Proxy")?);
    normalize(&mut v, &PROXY);
    let Value::Object(m) = &mut v else {
        return Err("Proxy must be an object".into());
    };
    m.entry("Mode").or_insert_with(|| json!(""));
    m.entry("MeshGateway").or_insert_with(|| json!({}));
    m.entry("Expose").or_insert_with(|| json!({}));
    if let Some(Value::Array(ups)) = m.get_mut("Upstreams") {
        for u in ups.iter_mut() {
            let Value::Object(u) = u else {
                return Err("Proxy.Upstreams holds objects".into());
            };
            if !u.get("DestinationName").is_some_and(Value::is_string) {
                return Err("Proxy.Upstreams: each needs a DestinationName".into());
            }
            u.entry("DestinationType")
                .or_insert_with(|| json!("service"));
            u.entry("MeshGateway").or_insert_with(|| json!({}));
        }
    }
    Ok(v)
}

/// The mesh fields of a registration; for `Connect.SidecarService`, also
/// the sidecar's own definition. `used_ports`: ports taken by sidecars on
/// the node, to pick a free one in [`SIDECAR_PORTS`].
pub(crate) fn prepare(
    def: &ServiceDefinition,
    id: &str,
    used_ports: &HashSet<u16>,
) -> Result<(Mesh, Option<ServiceDefinition>), String> {
    let proxy = match &def.proxy {
        Some(p) if !p.is_null() => Some(canon_proxy(p)?),
        _ => None,
    };
    let locality = match &def.locality {
        Some(l) if !l.is_null() => {
            let mut l = Value::Object(object(l, "Locality")?);
            normalize(&mut l, &LOCALITY);
            Some(l)
        }
        _ => None,
    };
    let mut connect = match &def.connect {
        Some(c) if !c.is_null() => {
            let mut c = Value::Object(object(c, "Connect")?);
            normalize(&mut c, &CONNECT);
            Some(c)
        }
        _ => None,
    };
    let sidecar_in = connect
        .as_mut()
        .and_then(|c| c.as_object_mut())
        .and_then(|c| c.remove("SidecarService"))
        .filter(|s| !s.is_null());
    if connect
        .as_ref()
        .and_then(Value::as_object)
        .is_some_and(Map::is_empty)
    {
        connect = None;
    }
    let native = connect
        .as_ref()
        .and_then(|c| c.get("Native"))
        .and_then(Value::as_bool)
        .unwrap_or(false);
    if def.kind == "connect-proxy" {
        let mut errs = Vec::new();
        let dest = proxy
            .as_ref()
            .and_then(|p| p.get("DestinationServiceName"))
            .and_then(Value::as_str)
            .unwrap_or("");
        if dest.trim().is_empty() {
            errs.push("Proxy.DestinationServiceName must be non-empty for Connect proxy services");
        }
        if dest == "*" {
            errs.push(
                "Proxy.DestinationServiceName must not be a wildcard for Connect proxy services",
            );
        }
        if def.port == 0 && def.socket_path.is_empty() {
            errs.push("Port or SocketPath must be set for a Connect proxy");
        }
        if native {
            errs.push("A Proxy cannot also be Connect Native, only typical services");
        }
        if sidecar_in.is_some() {
            errs.push("A SidecarService cannot be specified on a connect-proxy");
        }
        if !errs.is_empty() {
            let list: String = errs.iter().map(|e| format!("\t* {e}\n")).collect();
            return Err(format!(
                "Validation failed: {} error{} occurred:\n{list}\n",
                errs.len(),
                if errs.len() == 1 { "" } else { "s" }
            ));
        }
    }
    let sidecar = match sidecar_in {
        Some(s) => Some(sidecar(def, id, &s, &locality, used_ports)?),
        None => None,
    };
    Ok((
        Mesh {
            proxy,
            connect,
            locality,
            sidecar_of: String::new(),
        },
        sidecar,
    ))
}

/// Consul's `sidecarServiceFromNodeService`: the sidecar's definition with
/// every default filled.
fn sidecar(
    parent: &ServiceDefinition,
    parent_id: &str,
    given: &Value,
    locality: &Option<Value>,
    used_ports: &HashSet<u16>,
) -> Result<ServiceDefinition, String> {
    let body = serde_json::to_vec(given).map_err(|e| e.to_string())?;
    let mut sc: ServiceDefinition =
        crate::decode::decode(&body).map_err(|e| format!("Connect.SidecarService: {e}"))?;
    if sc
        .connect
        .as_ref()
        .is_some_and(|c| c.get("SidecarService").is_some())
    {
        return Err("Connect.SidecarService cannot itself have a SidecarService".into());
    }
    sc.kind = "connect-proxy".into();
    if sc.id.is_empty() {
        sc.id = format!("{parent_id}-sidecar-proxy");
    }
    if sc.name.is_empty() {
        sc.name = format!("{}-sidecar-proxy", parent.name);
    }
    if sc.tags.is_empty() {
        sc.tags = parent.tags.clone();
    }
    if sc.meta.is_empty() {
        sc.meta = parent.meta.clone();
    }
    if sc.address.is_empty() {
        sc.address = parent.address.clone();
    }
    if sc.locality.is_none() {
        sc.locality = locality.clone();
    }
    if sc.port == 0 && sc.socket_path.is_empty() {
        sc.port = (SIDECAR_PORTS.0..=SIDECAR_PORTS.1)
            .find(|p| !used_ports.contains(p))
            .ok_or_else(|| {
                format!(
                    "No free sidecar port in {}-{}: give SidecarService a Port",
                    SIDECAR_PORTS.0, SIDECAR_PORTS.1
                )
            })?;
    }
    let mut proxy = match &sc.proxy {
        Some(p) if !p.is_null() => object(&canon_proxy(p)?, "Proxy")?,
        _ => Map::new(),
    };
    proxy.insert("DestinationServiceName".into(), json!(parent.name));
    proxy.insert("DestinationServiceID".into(), json!(parent_id));
    proxy
        .entry("LocalServiceAddress")
        .or_insert_with(|| json!("127.0.0.1"));
    if parent.port != 0 {
        proxy
            .entry("LocalServicePort")
            .or_insert_with(|| json!(parent.port));
    }
    sc.proxy = Some(canon_proxy(&Value::Object(proxy))?);
    if sc.check.is_none() && sc.checks.is_empty() {
        let addr = if sc.address.is_empty() {
            "127.0.0.1"
        } else {
            sc.address.as_str()
        };
        let checks = json!([
            {"Name": "Connect Sidecar Listening", "TCP": format!("{addr}:{}", sc.port), "Interval": "10s"},
            {"Name": format!("Connect Sidecar Aliasing {parent_id}"), "AliasService": parent_id}
        ]);
        let body = serde_json::to_vec(&json!({"Name": sc.name, "Checks": checks}))
            .map_err(|e| e.to_string())?;
        let with_checks: ServiceDefinition = crate::decode::decode(&body)?;
        sc.checks = with_checks.checks;
    }
    Ok(sc)
}
