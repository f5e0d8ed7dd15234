//! `/v1/health/*`: instances with their checks, and checks by service, node
//! and state. All of them block on `?index=`.

use std::sync::Arc;

use axum::extract::{Path, RawQuery, State};
use axum::http::Method;
use axum::response::Response;
use axum::Router;

use super::{
    apply_filter, cache_key, endpoint, json_meta, set_filtered, set_meta, to_json, with_body, App,
    Caller, Params, ReadOpts,
};
use crate::acl::ReadMemo;
use crate::error::ApiError;
use crate::state::{Inner, Subscription, Topic};
use crate::types::{Check, CheckOut, HealthEntry, HealthEntryOut, Status};

const GET: &[Method] = &[Method::GET];

pub(super) fn routes() -> Router<App> {
    Router::new()
        .route("/v1/health/service/", endpoint(GET, missing_service))
        .route("/v1/health/service/{*name}", endpoint(GET, service))
        .route("/v1/health/connect/{*name}", endpoint(GET, connect))
        .route("/v1/health/ingress/{*name}", endpoint(GET, connect))
        .route("/v1/health/checks/{*name}", endpoint(GET, service_checks))
        .route("/v1/health/node/", endpoint(GET, missing_node))
        .route("/v1/health/node/{*node}", endpoint(GET, node))
        .route("/v1/health/state/", endpoint(GET, missing_state))
        .route("/v1/health/state/{*state}", endpoint(GET, state))
}

async fn missing_service() -> ApiError {
    ApiError::bad_request("Missing service name")
}

async fn missing_node() -> ApiError {
    ApiError::bad_request("Missing node name")
}

async fn missing_state() -> ApiError {
    ApiError::bad_request("Missing check state")
}

/// Keeps entries whose node has every `node-meta` pair.
pub(super) fn node_meta_ok(meta: &crate::types::Meta, want: &[(String, String)]) -> bool {
    want.iter().all(|(k, v)| meta.get(k) == Some(v))
}

/// The instances of a service after `?passing`, `node-meta` and `filter`.
pub(crate) fn filter_entries(
    entries: Vec<HealthEntry>,
    passing: bool,
    opts: &ReadOpts,
) -> Vec<HealthEntry> {
    let entries: Vec<HealthEntry> = entries
        .into_iter()
        .filter(|e| !passing || e.checks.iter().all(|c| c.status == Status::Passing))
        .filter(|e| node_meta_ok(&e.node.meta, &opts.node_meta))
        .collect();
    apply_filter(opts.filter.as_ref(), entries, |e| {
        serde_json::to_value(HealthEntryOut::from(e))
    })
}

async fn service(
    State(app): State<App>,
    caller: Caller,
    Path(name): Path<String>,
    RawQuery(q): RawQuery,
) -> Result<Response, ApiError> {
    let p = Params::parse(q.as_deref());
    let opts = app.read_opts(&p, Some(&app.shapes.health_entry))?;
    let passing = p
        .flag("passing")
        .map_err(|()| ApiError::bad_request("Invalid value for ?passing"))?;
    let tags = p.all("tag");
    let (index, entries) = app
        .store
        .blocking(
            opts.blocking,
            Subscription::Topic(Topic::Service(name.clone())),
            |inner| inner.health_service(&name, &tags),
        )
        .await;
    // ACLs first (Consul's CheckServiceNode.CanRead: node and service read),
    // so the user's filter sees only what may be read. When nothing is left
    // out the answer is everyone's, and comes from the shared cache.
    let mut entries = entries;
    let mut acl_filtered = false;
    if !caller
        .authz
        .all_readable(&entries, |e| (&e.node.name, &e.service.name))
    {
        let total = entries.len();
        let mut memo = ReadMemo::default();
        entries.retain(|e| {
            caller
                .authz
                .entry_readable(&mut memo, &e.node.name, &e.service.name)
        });
        acl_filtered = entries.len() != total;
    }
    let render = || {
        let entries = filter_entries(entries, passing, &opts);
        let out: Vec<HealthEntryOut<'_>> = entries.iter().map(HealthEntryOut::from).collect();
        to_json(&out)
    };
    let body = if acl_filtered {
        render()?
    } else {
        let key = cache_key(&format!("/v1/health/service/{name}"), &p);
        app.cache.get_or_render(key, index, render)?
    };
    let mut resp = with_body(axum::http::StatusCode::OK, "application/json", body);
    set_meta(resp.headers_mut(), index, Some(opts.consistency));
    set_filtered(&mut resp, &caller, acl_filtered);
    Ok(resp)
}

/// Connect and ingress: devagent has no service mesh, so no instance is
/// connect-capable; the endpoints still block and carry the index.
async fn connect(
    State(app): State<App>,
    Path(name): Path<String>,
    RawQuery(q): RawQuery,
) -> Result<Response, ApiError> {
    let p = Params::parse(q.as_deref());
    let opts = app.read_opts(&p, Some(&app.shapes.health_entry))?;
    let (index, _) = app
        .store
        .blocking(
            opts.blocking,
            Subscription::Topic(Topic::Service(name.clone())),
            |inner| (inner.service_index(&name), ()),
        )
        .await;
    json_meta(&Vec::<()>::new(), index, Some(opts.consistency))
}

/// A list of checks: a blocking `query` on `topic`, then `filter`.
async fn checks_response(
    app: &App,
    caller: &Caller,
    q: Option<&str>,
    topic: Topic,
    query: impl Fn(&Inner) -> (u64, Vec<Arc<Check>>),
) -> Result<Response, ApiError> {
    let p = Params::parse(q);
    let opts = app.read_opts(&p, Some(&app.shapes.check))?;
    let (index, checks) = app
        .store
        .blocking(opts.blocking, Subscription::Topic(topic), query)
        .await;
    // Consul's filterHealthChecks: node read, and service read for service checks.
    let mut checks = checks;
    let total = checks.len();
    if !caller
        .authz
        .all_readable(checks.iter().map(|c| &**c), |c| (&c.node, &c.service_name))
    {
        let mut memo = ReadMemo::default();
        checks.retain(|c| {
            caller
                .authz
                .entry_readable(&mut memo, &c.node, &c.service_name)
        });
    }
    let acl_filtered = checks.len() != total;
    let checks = apply_filter(opts.filter.as_ref(), checks, |c| {
        serde_json::to_value(CheckOut::from(&**c))
    });
    let out: Vec<CheckOut<'_>> = checks.iter().map(|c| CheckOut::from(&**c)).collect();
    let mut resp = json_meta(&out, index, Some(opts.consistency))?;
    set_filtered(&mut resp, caller, acl_filtered);
    Ok(resp)
}

async fn service_checks(
    State(app): State<App>,
    caller: Caller,
    Path(name): Path<String>,
    RawQuery(q): RawQuery,
) -> Result<Response, ApiError> {
    checks_response(
        &app,
        &caller,
        q.as_deref(),
        Topic::Service(name.clone()),
        |inner| inner.service_checks(&name),
    )
    .await
}

async fn node(
    State(app): State<App>,
    caller: Caller,
    Path(node): Path<String>,
    RawQuery(q): RawQuery,
) -> Result<Response, ApiError> {
    checks_response(&app, &caller, q.as_deref(), Topic::Catalog, |inner| {
        inner.node_checks(&node)
    })
    .await
}

async fn state(
    State(app): State<App>,
    caller: Caller,
    Path(state): Path<String>,
    RawQuery(q): RawQuery,
) -> Result<Response, ApiError> {
    checks_response(&app, &caller, q.as_deref(), Topic::Catalog, |inner| {
        inner.checks_in_state(&state)
    })
    .await
}
