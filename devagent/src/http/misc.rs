//! Status, events, coordinates, and the agent's own `/health` and `/metrics`.

use axum::body::Body;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Router;
use serde_json::json;

use super::{endpoint, json, json_meta, read_body, set_filtered, with_body, App, Caller, Params};
use crate::acl::{Kind, Level};
use crate::error::ApiError;
use crate::state::{Store, Subscription, Topic};
use crate::types::Event;

const GET: &[Method] = &[Method::GET];
const PUT: &[Method] = &[Method::PUT];

pub(super) fn routes() -> Router<App> {
    Router::new()
        .route("/v1/status/leader", endpoint(GET, leader))
        .route("/v1/status/peers", endpoint(GET, peers))
        .route("/v1/event/fire/", endpoint(PUT, missing_name))
        .route("/v1/event/fire/{*name}", endpoint(PUT, fire))
        .route("/v1/event/list", endpoint(GET, list))
        .route(
            "/v1/coordinate/datacenters",
            endpoint(GET, coordinate_datacenters),
        )
        .route("/v1/coordinate/nodes", endpoint(GET, coordinate_nodes))
        .route(
            "/v1/coordinate/node/{*node}",
            endpoint(GET, coordinate_node),
        )
        .route("/v1/coordinate/update", endpoint(PUT, coordinate_update))
        .route("/health", endpoint(GET, health))
        .route("/metrics", endpoint(GET, metrics))
}

fn server_addr(app: &App) -> String {
    format!("{}:8300", app.info.advertise_addr)
}

async fn leader(State(app): State<App>) -> Result<Response, ApiError> {
    json(&server_addr(&app))
}

async fn peers(State(app): State<App>) -> Result<Response, ApiError> {
    json(&[server_addr(&app)])
}

async fn missing_name() -> ApiError {
    ApiError::bad_request("Missing name")
}

async fn fire(
    State(app): State<App>,
    caller: Caller,
    Path(name): Path<String>,
    RawQuery(q): RawQuery,
    body: Body,
) -> Result<Response, ApiError> {
    let p = Params::parse(q.as_deref());
    app.check_dc(&p)?;
    caller.authz.need(Kind::Event, Level::Write, &name)?;
    let payload = read_body(body, 100 * 1024).await?;
    let filters = ["node", "service", "tag"].map(|k| p.get(k).unwrap_or("").to_string());
    for (k, f) in ["node", "service", "tag"].iter().zip(&filters) {
        if let Err(e) = regex::Regex::new(f) {
            return Err(ApiError::bad_request(format!(
                "Invalid {k} filter regex {f:?}: {e}"
            )));
        }
    }
    let [node_filter, service_filter, tag_filter] = filters;
    let event = app.store.fire_event(Event {
        id: uuid::Uuid::new_v4().to_string(),
        name,
        payload: (!payload.is_empty()).then_some(payload),
        node_filter,
        service_filter,
        tag_filter,
        version: 1,
        ltime: 0,
    });
    json(&*event)
}

async fn list(
    State(app): State<App>,
    caller: Caller,
    RawQuery(q): RawQuery,
) -> Result<Response, ApiError> {
    let p = Params::parse(q.as_deref());
    let opts = app.read_opts(&p, None)?;
    let name = p.get("name").filter(|n| !n.is_empty()).map(str::to_string);
    let want = (opts.blocking.index > 0).then(|| opts.blocking.index.to_string());
    let events = app
        .store
        .blocking_hash(
            opts.blocking.wait,
            want,
            Subscription::Topic(Topic::Events),
            |inner| {
                let events = Store::events_in(inner, name.as_deref());
                (Some(Store::event_index(&events).to_string()), events)
            },
        )
        .await;
    let index = Store::event_index(&events);
    let out: Vec<&Event> = events
        .iter()
        .filter(|e| {
            caller.authz.is_disabled()
                || caller.authz.allows(
                    crate::acl::Resource::Named(Kind::Event),
                    Level::Read,
                    &e.name,
                )
        })
        .map(|e| &**e)
        .collect();
    let filtered = out.len() != events.len();
    let mut resp = json(&out)?;
    set_filtered(&mut resp, &caller, filtered);
    resp.headers_mut()
        .insert("X-Consul-Index", HeaderValue::from(index));
    Ok(resp)
}

fn zero_coord() -> serde_json::Value {
    json!({"Vec": [0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0], "Error": 1.5, "Adjustment": 0.0, "Height": 1e-5})
}

async fn coordinate_datacenters(State(app): State<App>) -> Result<Response, ApiError> {
    json(&json!([{
        "Datacenter": app.info.datacenter,
        "AreaID": "WAN",
        "Coordinates": [{"Node": format!("{}.{}", app.info.node_name, app.info.datacenter), "Coord": zero_coord()}]
    }]))
}

async fn coordinate_nodes(
    State(app): State<App>,
    caller: Caller,
    RawQuery(q): RawQuery,
) -> Result<Response, ApiError> {
    let p = Params::parse(q.as_deref());
    let opts = app.read_opts(&p, None)?;
    let segment = p.get("segment").map(str::to_string);
    let (index, list) = app
        .extra
        .blocking(&app.store, opts.blocking, || {
            app.extra.coord_nodes(&app.store, None, &app.info.node_name)
        })
        .await;
    let total = list.len();
    let list: Vec<_> = list
        .into_iter()
        .filter(|c| segment.as_deref().is_none_or(|s| c["Segment"] == s))
        .filter(|c| caller.authz.node_read(c["Node"].as_str().unwrap_or("")))
        .collect();
    let mut resp = json_meta(&list, index, Some(opts.consistency))?;
    set_filtered(&mut resp, &caller, list.len() != total && segment.is_none());
    Ok(resp)
}

/// The coordinates of one node (one per segment); 404 when it has none.
async fn coordinate_node(
    State(app): State<App>,
    caller: Caller,
    Path(node): Path<String>,
    RawQuery(q): RawQuery,
) -> Result<Response, ApiError> {
    let p = Params::parse(q.as_deref());
    let opts = app.read_opts(&p, None)?;
    caller.authz.need(Kind::Node, Level::Read, &node)?;
    let (index, list) = app
        .extra
        .blocking(&app.store, opts.blocking, || {
            app.extra
                .coord_nodes(&app.store, Some(&node), &app.info.node_name)
        })
        .await;
    if list.is_empty() {
        let mut resp = StatusCode::NOT_FOUND.into_response();
        super::set_meta(resp.headers_mut(), index, None);
        return Ok(resp);
    }
    json_meta(&list, index, Some(opts.consistency))
}

/// Stores the coordinate of a catalog node (Consul drops those of unknown
/// nodes), after Consul's check: write on the node the update names.
async fn coordinate_update(
    State(app): State<App>,
    caller: Caller,
    RawQuery(q): RawQuery,
    body: Body,
) -> Result<Response, ApiError> {
    app.check_dc(&Params::parse(q.as_deref()))?;
    let bytes = read_body(body, 64 * 1024).await?;
    let v: serde_json::Value = serde_json::from_slice(&bytes)
        .map_err(|e| ApiError::bad_request(format!("Request decode failed: {e}")))?;
    let field = |k: &str| {
        v.as_object()
            .and_then(|o| o.iter().find(|(key, _)| key.eq_ignore_ascii_case(k)))
            .map(|(_, v)| v.clone())
    };
    let node = field("Node")
        .and_then(|n| n.as_str().map(str::to_string))
        .unwrap_or_default();
    caller.authz.need(Kind::Node, Level::Write, &node)?;
    if node.is_empty() {
        return Err(ApiError::bad_request(
            "Request decode failed: Node is required",
        ));
    }
    let segment = field("Segment")
        .and_then(|s| s.as_str().map(str::to_string))
        .unwrap_or_default();
    let coord = field("Coord").unwrap_or_default();
    let known = app.store.lock().nodes.contains_key(&node);
    if known {
        app.extra
            .coord_update(&app.store, &node, &segment, coord)
            .map_err(|e| ApiError::bad_request(format!("Request decode failed: {e}")))?;
    }
    Ok(StatusCode::OK.into_response())
}

async fn health() -> Response {
    (StatusCode::OK, "ok\n").into_response()
}

async fn metrics(State(app): State<App>) -> Result<Response, ApiError> {
    let text = app.metrics.render(&app.store);
    Ok(with_body(
        StatusCode::OK,
        "application/openmetrics-text; version=1.0.0; charset=utf-8",
        text.into(),
    ))
}
