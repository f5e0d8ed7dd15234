//! `/v1/health/*`: instances with their checks, and checks by service, node
//! and state. All of them block on `?index=`.

use std::sync::Arc;

use axum::extract::{Path, RawQuery, State};
use axum::http::{Method, Uri};
use axum::response::Response;
use axum::Router;

use super::cache::{Spec, Version};
use super::{
    apply_filter, encode, endpoint, json_meta, query_key, read_response, App, Caller, Meta, Params,
    ReadOpts, Rendered,
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
        .route(
            "/v1/health/connect/{*name}",
            endpoint(GET, super::connect::health_connect),
        )
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

/// Leaves out the entries the caller may not read (node and service read);
/// true when something was left out.
fn acl_filter_entries(caller: &Caller, entries: &mut Vec<HealthEntry>) -> bool {
    if caller
        .authz
        .all_readable(entries.iter(), |e| (&e.node.node, &e.service.name))
    {
        return false;
    }
    let total = entries.len();
    let mut memo = ReadMemo::default();
    entries.retain(|e| {
        caller
            .authz
            .entry_readable(&mut memo, &e.node.node, &e.service.name)
    });
    entries.len() != total
}

async fn service(
    State(app): State<App>,
    caller: Caller,
    Path(name): Path<String>,
    uri: Uri,
) -> Result<Response, ApiError> {
    let p = Params::parse(uri.query());
    let opts = app.read_opts(&p, Some(&app.shapes.health_entry))?;
    let passing = p
        .flag("passing")
        .map_err(|()| ApiError::bad_request("Invalid value for ?passing"))?;
    let spec = Spec {
        version: Version::Service(name.clone()),
        meta: Meta::Consistency(opts.consistency),
        pretty: p.has("pretty"),
        raw: false,
    };
    let index = app
        .store
        .wait_index(
            opts.blocking,
            Subscription::Topic(Topic::Service(name.clone())),
            |inner| spec.version.index(inner),
        )
        .await;
    let key = query_key(uri.path(), uri.query());
    let r = app
        .cache
        .get(&key, Some(&caller), &spec, index, || {
            let tags = p.all("tag");
            let (index, mut entries) = app.store.read(|inner| inner.health_service(&name, &tags));
            // ACLs first (Consul's CheckServiceNode.CanRead: node and service
            // read), so the user's filter sees only what may be read.
            let filtered = acl_filter_entries(&caller, &mut entries);
            let entries = filter_entries(entries, passing, &opts);
            let out: Vec<HealthEntryOut<'_>> = entries.iter().map(HealthEntryOut::from).collect();
            Ok(Rendered::ok(index, encode(&out, spec.pretty)?, filtered))
        })
        .await?;
    Ok(read_response(&r, &spec, caller.authenticated))
}

/// Ingress: the ingress gateways of a service, none here (devagent runs no
/// gateway); the endpoint still blocks and carries the index.
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

/// A list of checks: blocks on `topic` until `index` moves, then `query`,
/// ACLs and `filter`; rendered once per index (and authority).
async fn checks_response(
    app: &App,
    caller: &Caller,
    uri: &Uri,
    topic: Topic,
    version: Version,
    query: impl FnOnce(&Inner) -> (u64, Vec<Arc<Check>>),
) -> Result<Response, ApiError> {
    let p = Params::parse(uri.query());
    let opts = app.read_opts(&p, Some(&app.shapes.check))?;
    let spec = Spec {
        version,
        meta: Meta::Consistency(opts.consistency),
        pretty: p.has("pretty"),
        raw: false,
    };
    let at = app
        .store
        .wait_index(opts.blocking, Subscription::Topic(topic), |inner| {
            spec.version.index(inner)
        })
        .await;
    let key = query_key(uri.path(), uri.query());
    let r = app
        .cache
        .get(&key, Some(caller), &spec, at, || {
            let (index, mut checks) = app.store.read(query);
            // Consul's filterHealthChecks: node read, and service read for service checks.
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
            let filtered = checks.len() != total;
            let checks = apply_filter(opts.filter.as_ref(), checks, |c| {
                serde_json::to_value(CheckOut::from(&**c))
            });
            let out: Vec<CheckOut<'_>> = checks.iter().map(|c| CheckOut::from(&**c)).collect();
            Ok(Rendered::ok(index, encode(&out, spec.pretty)?, filtered))
        })
        .await?;
    Ok(read_response(&r, &spec, caller.authenticated))
}

async fn service_checks(
    State(app): State<App>,
    caller: Caller,
    Path(name): Path<String>,
    uri: Uri,
) -> Result<Response, ApiError> {
    checks_response(
        &app,
        &caller,
        &uri,
        Topic::Service(name.clone()),
        Version::Service(name.clone()),
        |inner| inner.service_checks(&name),
    )
    .await
}

async fn node(
    State(app): State<App>,
    caller: Caller,
    Path(node): Path<String>,
    uri: Uri,
) -> Result<Response, ApiError> {
    checks_response(
        &app,
        &caller,
        &uri,
        Topic::Catalog,
        Version::Checks,
        |inner| inner.node_checks(&node),
    )
    .await
}

async fn state(
    State(app): State<App>,
    caller: Caller,
    Path(state): Path<String>,
    uri: Uri,
) -> Result<Response, ApiError> {
    checks_response(
        &app,
        &caller,
        &uri,
        Topic::Catalog,
        Version::Checks,
        |inner| inner.checks_in_state(&state),
    )
    .await
}
