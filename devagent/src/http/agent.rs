//! `/v1/agent/*`: the agent's own view (self, members, local services and
//! checks), registration, TTL updates, maintenance and local health.

use std::collections::BTreeMap;
use std::time::Duration;

use axum::body::Body;
use axum::extract::{Path, RawQuery, State};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::Router;
use serde_json::json;
use sha2::{Digest, Sha256};

use super::cache::{Spec, Version};
use super::vet::{
    agent_write, service_name, vet_check_owner, vet_check_update, vet_service_update,
};
use super::{
    apply_filter, encode, endpoint, json, query_key, read_json, read_response, set_filtered,
    to_json, with_body, App, Caller, Meta, Params, Rendered,
};
use crate::acl::{Global, Kind, Level, Resource};
use crate::decode::{CheckIn, CheckUpdate, ServiceDefinition};
use crate::error::ApiError;
use crate::state::{AgentHealth, Subscription, Topic};
use crate::types::{AgentServiceOut, CheckOut, Status};
use gocompat::duration;

const GET: &[Method] = &[Method::GET];
const PUT: &[Method] = &[Method::PUT];

pub(super) fn routes() -> Router<App> {
    Router::new()
        .route("/v1/agent/self", endpoint(GET, agent_self))
        .route("/v1/agent/version", endpoint(GET, version))
        .route("/v1/agent/members", endpoint(GET, members))
        .route("/v1/agent/services", endpoint(GET, services))
        .route("/v1/agent/service/{*id}", endpoint(GET, service))
        .route("/v1/agent/checks", endpoint(GET, checks))
        .route(
            "/v1/agent/service/register",
            endpoint(PUT, service_register),
        )
        .route(
            "/v1/agent/service/deregister/{*id}",
            endpoint(PUT, service_deregister),
        )
        .route("/v1/agent/check/register", endpoint(PUT, check_register))
        .route(
            "/v1/agent/check/deregister/{*id}",
            endpoint(PUT, check_deregister),
        )
        .route("/v1/agent/check/pass/{*id}", endpoint(PUT, check_pass))
        .route("/v1/agent/check/warn/{*id}", endpoint(PUT, check_warn))
        .route("/v1/agent/check/fail/{*id}", endpoint(PUT, check_fail))
        .route("/v1/agent/check/update/{*id}", endpoint(PUT, check_update))
        .route(
            "/v1/agent/service/maintenance/{*id}",
            endpoint(PUT, service_maintenance),
        )
        .route("/v1/agent/maintenance", endpoint(PUT, node_maintenance))
        .route(
            "/v1/agent/health/service/name/{*name}",
            endpoint(GET, health_by_name),
        )
        .route(
            "/v1/agent/health/service/id/{*id}",
            endpoint(GET, health_by_id),
        )
        .route("/v1/agent/leave", endpoint(PUT, leave))
        .route("/v1/agent/join/{*addr}", endpoint(PUT, join))
        .route("/v1/agent/force-leave/{*node}", endpoint(PUT, force_leave))
        .route("/v1/agent/reload", endpoint(PUT, reload))
        .route(
            "/v1/agent/token/{*kind}",
            endpoint(PUT, crate::acl::http::agent_token),
        )
}

fn member(app: &App) -> serde_json::Value {
    let i = &app.info;
    json!({
        "Name": i.node_name,
        "Addr": i.advertise_addr.to_string(),
        "Port": 8301,
        "Tags": {
            "acls": if app.acl.enabled() { "1" } else { "0" },
            "bootstrap": "1",
            "build": format!("{}:{}", i.version, i.revision),
            "dc": i.datacenter,
            "ft_fs": "1",
            "ft_si": "1",
            "grpc_port": "8502",
            "id": i.node_id,
            "port": "8300",
            "raft_vsn": "3",
            "role": "consul",
            "segment": "",
            "vsn": "2",
            "vsn_max": "3",
            "vsn_min": "2",
            "wan_join_port": "8302"
        },
        "Status": 1,
        "ProtocolMin": 1,
        "ProtocolMax": 5,
        "ProtocolCur": 2,
        "DelegateMin": 2,
        "DelegateMax": 5,
        "DelegateCur": 4
    })
}

async fn agent_self(State(app): State<App>, caller: Caller) -> Result<Response, ApiError> {
    caller
        .authz
        .need(Kind::Agent, Level::Read, &app.info.node_name)?;
    let i = &app.info;
    let (services, checks, ttls) = app.store.agent_stats();
    json(&json!({
        "Config": {
            "Datacenter": i.datacenter,
            "PrimaryDatacenter": i.datacenter,
            "NodeName": i.node_name,
            "NodeID": i.node_id,
            "AdvertiseAddr": i.advertise_addr.to_string(),
            "SegmentName": "",
            "Revision": i.revision,
            "Server": true,
            "Version": i.version,
            "BuildDate": i.build_date
        },
        "DebugConfig": {
            "Datacenter": i.datacenter,
            "NodeName": i.node_name,
            "NodeID": i.node_id,
            "DataDir": i.data_dir,
            "DevMode": true,
            "ClientAddrs": [i.http_addr.ip().to_string()],
            "BindAddr": i.advertise_addr.to_string(),
            "HTTPPort": i.http_addr.port(),
            "HTTPAddrs": [format!("tcp://{}", i.http_addr)],
            "DNSPort": i.dns_addr.port(),
            "DNSAddrs": [format!("tcp://{}", i.dns_addr), format!("udp://{}", i.dns_addr)],
            "DNSDomain": "consul.",
            "DNSAltDomain": "",
            "DNSRecursors": i.recursors,
            "DNSOnlyPassing": false,
            "DNSUDPAnswerLimit": 3,
            "ServerPort": 8300,
            "SerfPortLAN": 8301,
            "SerfPortWAN": 8302,
            "GRPCPort": 8502,
            "ACLsEnabled": app.acl.enabled()
        },
        "Coord": {"Vec": [0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0], "Error": 1.5, "Adjustment": 0.0, "Height": 1e-5},
        "Member": member(&app),
        "Stats": {
            "agent": {
                "check_monitors": "0",
                "check_ttls": ttls.to_string(),
                "checks": checks.to_string(),
                "services": services.to_string()
            },
            "build": {"prerelease": "", "revision": i.revision, "version": i.version, "version_metadata": "devagent"},
            "consul": {
                "bootstrap": "true",
                "known_datacenters": "1",
                "leader": "true",
                "leader_addr": format!("{}:8300", i.advertise_addr),
                "server": "true"
            },
            "runtime": {"arch": std::env::consts::ARCH, "os": std::env::consts::OS, "version": "devagent"}
        },
        "Meta": {"consul-network-segment": "", "consul-version": i.version},
        "xDS": {
            "SupportedProxies": {"envoy": ["1.34.1", "1.33.2", "1.32.5", "1.31.8"]},
            "Port": 8502,
            "Ports": {"Plaintext": 8502, "TLS": -1}
        }
    }))
}

async fn version(State(app): State<App>) -> Result<Response, ApiError> {
    let i = &app.info;
    json(&json!({
        "SHA": i.revision,
        "BuildDate": i.build_date,
        "HumanVersion": format!("{} (devagent {})", i.version, env!("CARGO_PKG_VERSION")),
        "FIPS": ""
    }))
}

async fn members(
    State(app): State<App>,
    caller: Caller,
    RawQuery(q): RawQuery,
) -> Result<Response, ApiError> {
    let p = Params::parse(q.as_deref());
    if p.flag("wan").unwrap_or(false) && p.has("segment") {
        return Err(ApiError::bad_request(
            "Cannot provide a segment with wan=true",
        ));
    }
    let mut m = member(&app);
    if p.flag("wan").unwrap_or(false) {
        m["Name"] = json!(format!("{}.{}", app.info.node_name, app.info.datacenter));
        m["Port"] = json!(8302);
    }
    // The one member is this node: listed when the token may read it.
    let visible = caller.authz.node_read(&app.info.node_name);
    let list: Vec<serde_json::Value> = if visible { vec![m] } else { Vec::new() };
    let mut resp = json(&list)?;
    set_filtered(&mut resp, &caller, !visible);
    Ok(resp)
}

async fn services(State(app): State<App>, caller: Caller, uri: Uri) -> Result<Response, ApiError> {
    let p = Params::parse(uri.query());
    let opts = app.read_opts(&p, Some(&app.shapes.agent_service))?;
    let spec = Spec {
        version: Version::AgentServices,
        meta: Meta::None,
        pretty: p.has("pretty"),
        raw: false,
    };
    let dc = &app.info.datacenter;
    let version = app.store.read(|inner| spec.version.index(inner));
    let key = query_key(uri.path(), uri.query());
    let r = app
        .cache
        .get(&key, Some(&caller), &spec, version, || {
            let (version, mut list) = app.store.read(|inner| {
                (
                    inner.agent_services_version,
                    inner.agent_services(&app.info.node_name),
                )
            });
            // ACLs filter before the user's filter, so it only sees what may be read.
            let total = list.len();
            if !caller.authz.is_disabled() {
                list.retain(|s| caller.authz.service_read(&s.name));
            }
            let filtered = list.len() != total;
            let list = apply_filter(opts.filter.as_ref(), list, |s| {
                serde_json::to_value(AgentServiceOut::new(s, dc, None))
            });
            let map: BTreeMap<&str, AgentServiceOut<'_>> = list
                .iter()
                .map(|s| (s.id.as_str(), AgentServiceOut::new(s, dc, None)))
                .collect();
            Ok(Rendered::ok(version, encode(&map, spec.pretty)?, filtered))
        })
        .await?;
    Ok(read_response(&r, &spec, caller.authenticated))
}

fn content_hash(bytes: &[u8]) -> String {
    let digest = Sha256::digest(bytes);
    digest[..8].iter().map(|b| format!("{b:02x}")).collect()
}

async fn service(
    State(app): State<App>,
    caller: Caller,
    Path(id): Path<String>,
    RawQuery(q): RawQuery,
) -> Result<Response, ApiError> {
    let p = Params::parse(q.as_deref());
    let wait = match p.get("wait") {
        None | Some("") => Duration::from_secs(300),
        Some(w) => duration::parse(w)
            .map_err(|_| ApiError::bad_request("Invalid wait time"))?
            .min(Duration::from_secs(600)),
    };
    let hash = p.get("hash").filter(|h| !h.is_empty()).map(str::to_string);
    let node = app.info.node_name.clone();
    let dc = app.info.datacenter.clone();
    let render = |s: &crate::types::Service| -> Option<(String, bytes::Bytes, String)> {
        let plain = to_json(&AgentServiceOut::new(s, &dc, None)).ok()?;
        let h = content_hash(&plain);
        let body = to_json(&AgentServiceOut::new(s, &dc, Some(h.clone()))).ok()?;
        Some((h, body, s.name.clone()))
    };
    let found = app
        .store
        .blocking_hash(
            if hash.is_some() { wait } else { Duration::ZERO },
            hash,
            Subscription::Topic(Topic::AgentService(id.clone())),
            |inner| {
                let svc = inner
                    .services
                    .get(&(node.clone(), id.clone()))
                    .filter(|s| inner.agent_services.contains(&s.id))
                    .and_then(|s| render(s));
                (svc.as_ref().map(|(h, _, _)| h.clone()), svc)
            },
        )
        .await;
    match found {
        Some((h, body, name)) => {
            caller.authz.need(Kind::Service, Level::Read, &name)?;
            let mut resp = with_body(StatusCode::OK, "application/json", body);
            if let Ok(v) = HeaderValue::from_str(&h) {
                resp.headers_mut().insert("X-Consul-ContentHash", v);
            }
            Ok(resp)
        }
        None => Err(ApiError::not_found(format!("unknown service ID: {id}"))),
    }
}

async fn checks(
    State(app): State<App>,
    caller: Caller,
    RawQuery(q): RawQuery,
) -> Result<Response, ApiError> {
    let p = Params::parse(q.as_deref());
    let opts = app.read_opts(&p, Some(&app.shapes.check))?;
    let mut list = app.store.lock().agent_checks(&app.info.node_name);
    let total = list.len();
    if !caller.authz.is_disabled() {
        let node_ok = caller.authz.node_read(&app.info.node_name);
        list.retain(|c| {
            if c.service_name.is_empty() {
                node_ok
            } else {
                caller.authz.service_read(&c.service_name)
            }
        });
    }
    let filtered = list.len() != total;
    let list = apply_filter(opts.filter.as_ref(), list, |c| {
        serde_json::to_value(CheckOut::from(&**c))
    });
    let map: BTreeMap<&str, CheckOut<'_>> = list
        .iter()
        .map(|c| (c.check_id.as_str(), CheckOut::from(&**c)))
        .collect();
    let mut resp = json(&map)?;
    set_filtered(&mut resp, &caller, filtered);
    Ok(resp)
}

async fn service_register(
    State(app): State<App>,
    caller: Caller,
    RawQuery(q): RawQuery,
    body: Body,
) -> Result<Response, ApiError> {
    let p = Params::parse(q.as_deref());
    let replace = p.flag("replace-existing-checks").map_err(|()| {
        ApiError::bad_request("Invalid value for replace-existing-checks: use true or false")
    })?;
    let def: ServiceDefinition = read_json(body).await?;
    // Consul's vetServiceRegister: write on the service, and on the service
    // an existing registration with this ID holds.
    if !def.name.is_empty() {
        caller.authz.need(Kind::Service, Level::Write, &def.name)?;
        let id = if def.id.is_empty() {
            &def.name
        } else {
            &def.id
        };
        if let Some(existing) = service_name(&app, id) {
            caller.authz.need(Kind::Service, Level::Write, &existing)?;
        }
    }
    let spawns = app.store.agent_register_service(def, replace)?;
    app.runner.spawn_all(spawns);
    Ok(StatusCode::OK.into_response())
}

async fn service_deregister(
    State(app): State<App>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    if !caller.authz.is_disabled() {
        vet_service_update(&app, &caller, &id)?;
    }
    app.store.agent_deregister_service(&id)?;
    Ok(StatusCode::OK.into_response())
}

async fn check_register(
    State(app): State<App>,
    caller: Caller,
    body: Body,
) -> Result<Response, ApiError> {
    let input: CheckIn = read_json(body).await?;
    if !caller.authz.is_disabled() && !input.name.is_empty() {
        let owner = if input.service_id.is_empty() {
            Some(String::new())
        } else {
            service_name(&app, &input.service_id)
        };
        // An unknown ServiceID is the store's 404; the check is vetted by what it joins.
        if let Some(owner) = owner {
            vet_check_owner(&app, &caller, &owner)?;
        }
        let id = [&input.check_id, &input.id, &input.name]
            .into_iter()
            .find(|s| !s.is_empty())
            .cloned()
            .unwrap_or_default();
        if let Err(e) = vet_check_update(&app, &caller, &id) {
            if e.status != StatusCode::NOT_FOUND {
                return Err(e);
            }
        }
    }
    if let Some(spawn) = app.store.agent_register_check(input)? {
        app.runner.spawn_all(vec![spawn]);
    }
    Ok(StatusCode::OK.into_response())
}

async fn check_deregister(
    State(app): State<App>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    vet_check_update(&app, &caller, &id)?;
    app.store.agent_deregister_check(&id)?;
    Ok(StatusCode::OK.into_response())
}

fn ttl_update(
    app: &App,
    caller: &Caller,
    id: &str,
    q: Option<&str>,
    status: Status,
) -> Result<Response, ApiError> {
    vet_check_update(app, caller, id)?;
    let p = Params::parse(q);
    app.store
        .agent_update_ttl(id, status, p.get("note").unwrap_or(""))?;
    Ok(StatusCode::OK.into_response())
}

async fn check_pass(
    State(app): State<App>,
    caller: Caller,
    Path(id): Path<String>,
    RawQuery(q): RawQuery,
) -> Result<Response, ApiError> {
    ttl_update(&app, &caller, &id, q.as_deref(), Status::Passing)
}

async fn check_warn(
    State(app): State<App>,
    caller: Caller,
    Path(id): Path<String>,
    RawQuery(q): RawQuery,
) -> Result<Response, ApiError> {
    ttl_update(&app, &caller, &id, q.as_deref(), Status::Warning)
}

async fn check_fail(
    State(app): State<App>,
    caller: Caller,
    Path(id): Path<String>,
    RawQuery(q): RawQuery,
) -> Result<Response, ApiError> {
    ttl_update(&app, &caller, &id, q.as_deref(), Status::Critical)
}

async fn check_update(
    State(app): State<App>,
    caller: Caller,
    Path(id): Path<String>,
    body: Body,
) -> Result<Response, ApiError> {
    let update: CheckUpdate = read_json(body).await?;
    vet_check_update(&app, &caller, &id)?;
    let status = Status::parse(&update.status).ok_or_else(|| {
        ApiError::bad_request(format!("Invalid check status: '{}'", update.status))
    })?;
    app.store.agent_update_ttl(&id, status, &update.output)?;
    Ok(StatusCode::OK.into_response())
}

fn enable_param(p: &Params) -> Result<bool, ApiError> {
    match p.get("enable") {
        None | Some("") => Err(ApiError::bad_request("Missing value for enable")),
        Some(v) => super::parse_bool(v)
            .ok_or_else(|| ApiError::bad_request(format!("Invalid value for enable: {v:?}"))),
    }
}

async fn service_maintenance(
    State(app): State<App>,
    caller: Caller,
    Path(id): Path<String>,
    RawQuery(q): RawQuery,
) -> Result<Response, ApiError> {
    let p = Params::parse(q.as_deref());
    if id.is_empty() {
        return Err(ApiError::bad_request("Missing service ID"));
    }
    let enable = enable_param(&p)?;
    if !caller.authz.is_disabled() {
        vet_service_update(&app, &caller, &id)?;
    }
    app.store
        .service_maintenance(&id, enable, p.get("reason").unwrap_or(""))?;
    Ok(StatusCode::OK.into_response())
}

async fn node_maintenance(
    State(app): State<App>,
    caller: Caller,
    RawQuery(q): RawQuery,
) -> Result<Response, ApiError> {
    let p = Params::parse(q.as_deref());
    let enable = enable_param(&p)?;
    caller
        .authz
        .need(Kind::Node, Level::Write, &app.info.node_name)?;
    app.store
        .node_maintenance(enable, p.get("reason").unwrap_or(""));
    Ok(StatusCode::OK.into_response())
}

fn status_code(aggregated: &str) -> StatusCode {
    match aggregated {
        "passing" => StatusCode::OK,
        "warning" => StatusCode::TOO_MANY_REQUESTS,
        _ => StatusCode::SERVICE_UNAVAILABLE,
    }
}

fn wants_text(p: &Params, headers: &HeaderMap) -> bool {
    p.get("format") == Some("text")
        || headers
            .get(header::ACCEPT)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|a| a.starts_with("text/plain"))
}

fn health_json(app: &App, h: &AgentHealth) -> serde_json::Value {
    let checks: Vec<serde_json::Value> = h
        .checks
        .iter()
        .map(|c| {
            json!({
                "Node": c.node, "CheckID": c.check_id, "Name": c.name, "Status": c.status,
                "Notes": c.notes, "Output": c.output, "ServiceID": c.service_id,
                "ServiceName": c.service_name, "ServiceTags": c.service_tags,
                "Type": "", "Interval": "", "Timeout": "", "ExposedPort": 0,
                "Definition": {}, "CreateIndex": 0, "ModifyIndex": 0
            })
        })
        .collect();
    json!({
        "AggregatedStatus": h.aggregated,
        "Service": AgentServiceOut::new(&h.service, &app.info.datacenter, None),
        "Checks": checks,
    })
}

fn health_response(
    status: StatusCode,
    reason: &str,
    text: bool,
    body: &serde_json::Value,
) -> Result<Response, ApiError> {
    let mut resp = if text {
        with_body(
            status,
            "text/plain; charset=utf-8",
            reason.to_string().into(),
        )
    } else {
        let mut r = with_body(status, "application/json", to_json(body)?);
        *r.status_mut() = status;
        r
    };
    if let Ok(v) = HeaderValue::from_str(reason) {
        resp.headers_mut().insert("X-Consul-Reason", v);
    }
    Ok(resp)
}

async fn health_by_name(
    State(app): State<App>,
    caller: Caller,
    Path(name): Path<String>,
    RawQuery(q): RawQuery,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    caller.authz.need(Kind::Service, Level::Read, &name)?;
    let p = Params::parse(q.as_deref());
    let text = wants_text(&p, &headers);
    let list = app.store.agent_health(Some(&name), None);
    if list.is_empty() {
        let reason = format!("ServiceName {name} Not Found");
        return health_response(StatusCode::NOT_FOUND, &reason, text, &json!([]));
    }
    let worst = list
        .iter()
        .map(|h| status_code(h.aggregated))
        .max_by_key(|s| match s.as_u16() {
            200 => 0,
            429 => 1,
            _ => 2,
        })
        .unwrap_or(StatusCode::OK);
    let word = list
        .iter()
        .map(|h| h.aggregated)
        .max_by_key(|a| match *a {
            "passing" => 0,
            "warning" => 1,
            "critical" => 2,
            _ => 3,
        })
        .unwrap_or("passing");
    let body: Vec<serde_json::Value> = list.iter().map(|h| health_json(&app, h)).collect();
    health_response(worst, word, text, &json!(body))
}

async fn health_by_id(
    State(app): State<App>,
    caller: Caller,
    Path(id): Path<String>,
    RawQuery(q): RawQuery,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    if let Some(name) = service_name(&app, &id) {
        caller.authz.need(Kind::Service, Level::Read, &name)?;
    }
    let p = Params::parse(q.as_deref());
    let text = wants_text(&p, &headers);
    let list = app.store.agent_health(None, Some(&id));
    match list.first() {
        None => {
            let reason = format!("ServiceId {id} not found");
            let body = json!({"AggregatedStatus": "critical", "Service": null, "Checks": null});
            health_response(StatusCode::NOT_FOUND, &reason, text, &body)
        }
        Some(h) => health_response(
            status_code(h.aggregated),
            h.aggregated,
            text,
            &health_json(&app, h),
        ),
    }
}

async fn leave(State(app): State<App>, caller: Caller) -> Result<Response, ApiError> {
    agent_write(&app, &caller)?;
    tracing::info!("PUT /v1/agent/leave: shutting down");
    app.leave.cancel();
    Ok(StatusCode::OK.into_response())
}

async fn reload(State(app): State<App>, caller: Caller) -> Result<Response, ApiError> {
    agent_write(&app, &caller)?;
    Ok(StatusCode::OK.into_response())
}

/// Consul 1.21 removes only a gossip member; the one member here is the
/// agent itself (also as `<node>.<dc>` in the WAN pool), which is alive and
/// stays. Any other node: `agent: No node found with name '<node>'`.
async fn force_leave(
    State(app): State<App>,
    caller: Caller,
    Path(node): Path<String>,
) -> Result<Response, ApiError> {
    caller
        .authz
        .require(Resource::Global(Global::Operator), Level::Write, "")?;
    let i = &app.info;
    if node != i.node_name && node != format!("{}.{}", i.node_name, i.datacenter) {
        return Err(ApiError::internal(format!(
            "agent: No node found with name '{node}'"
        )));
    }
    Ok(StatusCode::OK.into_response())
}

async fn join(
    State(app): State<App>,
    caller: Caller,
    Path(addr): Path<String>,
) -> Result<Response, ApiError> {
    agent_write(&app, &caller)?;
    Err(ApiError::internal(format!(
        "devagent is a single-node agent and cannot join {addr}; point clients at one agent"
    )))
}
