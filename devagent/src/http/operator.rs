//! `/v1/operator/raft/configuration`, `/v1/operator/autopilot/*` (one
//! voter: this agent, always the healthy leader) and
//! `/v1/internal/ui/services` (the UI's per-service summary).

use std::collections::BTreeMap;

use axum::body::Body;
use axum::extract::{RawQuery, State};
use axum::http::Method;
use axum::response::Response;
use axum::Router;
use serde_json::{json, Map, Value};

use super::{endpoint, json, json_meta, read_body, set_filtered, App, Caller, Params};
use crate::acl::{Global, Level, Resource};
use crate::error::ApiError;
use crate::state::{Subscription, Topic};
use crate::types::Status;

const GET: &[Method] = &[Method::GET];
const GET_PUT: &[Method] = &[Method::GET, Method::PUT];

pub(super) fn routes() -> Router<App> {
    Router::new()
        .route(
            "/v1/operator/raft/configuration",
            endpoint(GET, raft_configuration),
        )
        .route(
            "/v1/operator/autopilot/configuration",
            endpoint(GET_PUT, autopilot_configuration),
        )
        .route(
            "/v1/operator/autopilot/health",
            endpoint(GET, autopilot_health),
        )
        .route(
            "/v1/operator/autopilot/state",
            endpoint(GET, autopilot_state),
        )
        .route("/v1/internal/ui/services", endpoint(GET, ui_services))
}

fn operator(caller: &Caller, level: Level) -> Result<(), ApiError> {
    caller
        .authz
        .require(Resource::Global(Global::Operator), level, "")
}

fn server_addr(app: &App) -> String {
    format!("{}:8300", app.info.advertise_addr)
}

async fn raft_configuration(
    State(app): State<App>,
    caller: Caller,
    RawQuery(q): RawQuery,
) -> Result<Response, ApiError> {
    operator(&caller, Level::Read)?;
    app.check_dc(&Params::parse(q.as_deref()))?;
    let index = app.store.last_index();
    json(&json!({
        "Servers": [{
            "ID": app.info.node_id,
            "Node": app.info.node_name,
            "Address": server_addr(&app),
            "Leader": true,
            "ProtocolVersion": "3",
            "Voter": true,
            "LastIndex": index
        }],
        "Index": index
    }))
}

/// A key of the autopilot configuration and its default.
type Key = (&'static str, fn() -> Value);

/// The keys of the autopilot configuration, with Consul's defaults.
const AUTOPILOT_KEYS: &[Key] = &[
    ("CleanupDeadServers", || json!(true)),
    ("LastContactThreshold", || json!("200ms")),
    ("MaxTrailingLogs", || json!(250)),
    ("MinQuorum", || json!(0)),
    ("ServerStabilizationTime", || json!("10s")),
    ("RedundancyZoneTag", || json!("")),
    ("DisableUpgradeMigration", || json!(false)),
    ("UpgradeVersionTag", || json!("")),
];

async fn autopilot_configuration(
    State(app): State<App>,
    caller: Caller,
    method: Method,
    RawQuery(q): RawQuery,
    body: Body,
) -> Result<Response, ApiError> {
    let p = Params::parse(q.as_deref());
    app.check_dc(&p)?;
    if method == Method::PUT {
        operator(&caller, Level::Write)?;
        let bytes = read_body(body, 64 * 1024).await?;
        let v: Value = serde_json::from_slice(&bytes)
            .map_err(|e| ApiError::bad_request(format!("Error parsing autopilot config: {e}")))?;
        let Value::Object(given) = v else {
            return Err(ApiError::bad_request(
                "Error parsing autopilot config: a JSON object is needed",
            ));
        };
        let mut conf = Map::new();
        for (key, default) in AUTOPILOT_KEYS {
            let found = given
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case(key))
                .map(|(_, v)| v.clone());
            let v = found.unwrap_or_else(default);
            if matches!(*key, "LastContactThreshold" | "ServerStabilizationTime") {
                let ok = match &v {
                    Value::String(s) => gocompat::duration::parse(s).is_ok(),
                    Value::Number(_) => true,
                    _ => false,
                };
                if !ok {
                    return Err(ApiError::bad_request(format!(
                        "Error parsing autopilot config: {key} {v} is not a duration"
                    )));
                }
            }
            conf.insert((*key).to_string(), v);
        }
        let cas =
            match p.get("cas") {
                None => None,
                Some(c) => Some(c.parse::<u64>().map_err(|_| {
                    ApiError::bad_request(format!("Error parsing cas value: {c:?}"))
                })?),
            };
        let ok = app.extra.autopilot_set(&app.store, conf, cas);
        return json(&ok);
    }
    operator(&caller, Level::Read)?;
    let conf = app.extra.autopilot_get();
    let mut out = Map::new();
    for (key, default) in AUTOPILOT_KEYS {
        out.insert(
            (*key).to_string(),
            conf.get(*key).cloned().unwrap_or_else(default),
        );
    }
    let index = conf.get("ModifyIndex").and_then(Value::as_u64).unwrap_or(1);
    out.insert(
        "CreateIndex".into(),
        conf.get("CreateIndex").cloned().unwrap_or(json!(1)),
    );
    out.insert("ModifyIndex".into(), json!(index));
    json(&Value::Object(out))
}

fn stable_since(app: &App) -> String {
    let up = app.extra.started;
    chrono::DateTime::<chrono::Utc>::from(up)
        .format("%Y-%m-%dT%H:%M:%S%.fZ")
        .to_string()
}

async fn autopilot_health(State(app): State<App>, caller: Caller) -> Result<Response, ApiError> {
    operator(&caller, Level::Read)?;
    let i = &app.info;
    json(&json!({
        "Healthy": true,
        "FailureTolerance": 0,
        "Servers": [{
            "ID": i.node_id,
            "Name": i.node_name,
            "Address": server_addr(&app),
            "SerfStatus": "alive",
            "Version": i.version,
            "Leader": true,
            "LastContact": "0s",
            "LastTerm": 2,
            "LastIndex": app.store.last_index(),
            "Healthy": true,
            "Voter": true,
            "StableSince": stable_since(&app)
        }]
    }))
}

async fn autopilot_state(State(app): State<App>, caller: Caller) -> Result<Response, ApiError> {
    operator(&caller, Level::Read)?;
    let i = &app.info;
    let mut servers = Map::new();
    servers.insert(
        i.node_id.clone(),
        json!({
            "ID": i.node_id,
            "Name": i.node_name,
            "Address": server_addr(&app),
            "NodeStatus": "alive",
            "Version": i.version,
            "LastContact": "0s",
            "LastTerm": 2,
            "LastIndex": app.store.last_index(),
            "Healthy": true,
            "StableSince": stable_since(&app),
            "ReadReplica": false,
            "Status": "leader",
            "Meta": {"consul-network-segment": "", "consul-version": i.version},
            "NodeType": "voter"
        }),
    );
    json(&json!({
        "Healthy": true,
        "FailureTolerance": 0,
        "OptimisticFailureTolerance": 0,
        "Servers": servers,
        "Leader": i.node_id,
        "Voters": [i.node_id],
        "RedundancyZones": null,
        "ReadReplicas": null,
        "Upgrade": null
    }))
}

/// One row of the UI's service list.
#[derive(Default)]
struct Summary {
    kind: String,
    tags: Vec<String>,
    nodes: Vec<String>,
    instances: usize,
    passing: usize,
    warning: usize,
    critical: usize,
    with_proxy: bool,
    native: bool,
}

async fn ui_services(
    State(app): State<App>,
    caller: Caller,
    RawQuery(q): RawQuery,
) -> Result<Response, ApiError> {
    let p = Params::parse(q.as_deref());
    let opts = app.read_opts(&p, None)?;
    let (index, rows) = app
        .store
        .blocking(
            opts.blocking,
            Subscription::Topic(Topic::Catalog),
            |inner| {
                let mut rows: BTreeMap<String, Summary> = BTreeMap::new();
                let mut proxied = Vec::new();
                for s in inner.services.values() {
                    if s.kind == "connect-proxy" {
                        if let Some(d) = s
                            .mesh
                            .proxy
                            .as_ref()
                            .and_then(|p| p.get("DestinationServiceName"))
                            .and_then(Value::as_str)
                        {
                            proxied.push(d.to_string());
                        }
                        continue;
                    }
                    let row = rows.entry(s.name.clone()).or_default();
                    row.kind = s.kind.clone();
                    row.instances += 1;
                    for t in &s.tags {
                        if !row.tags.contains(t) {
                            row.tags.push(t.clone());
                        }
                    }
                    if !row.nodes.contains(&s.node) {
                        row.nodes.push(s.node.clone());
                    }
                    row.native |= s
                        .mesh
                        .connect
                        .as_ref()
                        .and_then(|c| c.get("Native"))
                        .and_then(Value::as_bool)
                        .unwrap_or(false);
                    if let Some(e) = inner.health_entry_of(s) {
                        for c in &e.checks {
                            match c.status {
                                Status::Passing => row.passing += 1,
                                Status::Warning => row.warning += 1,
                                Status::Critical => row.critical += 1,
                            }
                        }
                    }
                }
                for d in proxied {
                    if let Some(r) = rows.get_mut(&d) {
                        r.with_proxy = true;
                    }
                }
                (inner.tables.services.max(inner.tables.checks), rows)
            },
        )
        .await;
    let total = rows.len();
    let out: Vec<Value> = rows
        .into_iter()
        .filter(|(name, _)| caller.authz.is_disabled() || caller.authz.service_read(name))
        .map(|(name, r)| {
            json!({
                "Kind": r.kind,
                "Name": name,
                "Datacenter": app.info.datacenter,
                "Tags": r.tags,
                "Nodes": r.nodes,
                "InstanceCount": r.instances,
                "ChecksPassing": r.passing,
                "ChecksWarning": r.warning,
                "ChecksCritical": r.critical,
                "ExternalSources": null,
                "ConnectedWithProxy": r.with_proxy,
                "ConnectedWithGateway": false,
                "ConnectNative": r.native,
                "GatewayConfig": {},
                "TransparentProxy": false,
                "PeerName": ""
            })
        })
        .collect();
    let filtered = out.len() != total;
    let mut resp = json_meta(&out, index, Some(opts.consistency))?;
    set_filtered(&mut resp, &caller, filtered);
    Ok(resp)
}
