//! `/v1/config`: config entries, as Consul's `ConfigEntry` endpoints.
//! Writes need `service:write` on the entry's name for service-level kinds,
//! `mesh:write` (else `operator:write`) for the others; reads the matching
//! read rule, except `proxy-defaults` and `mesh`, which anyone may read.

use axum::body::Body;
use axum::extract::{Path, RawQuery, State};
use axum::http::Method;
use axum::response::Response;
use axum::Router;
use serde_json::Value;

use super::{
    endpoint, json, json_meta, read_body, set_filtered, App, Caller, Params, MAX_JSON_BODY,
};
use crate::acl::{Global, Kind, Level, Resource};
use crate::error::ApiError;

const GET: &[Method] = &[Method::GET];
const PUT: &[Method] = &[Method::PUT];
const GET_DELETE: &[Method] = &[Method::GET, Method::DELETE];

pub(super) fn routes() -> Router<App> {
    Router::new()
        .route("/v1/config", endpoint(PUT, apply))
        .route("/v1/config/{kind}", endpoint(GET, list))
        .route("/v1/config/{kind}/{name}", endpoint(GET_DELETE, one))
}

fn service_level(kind: &str) -> bool {
    matches!(
        kind,
        "service-defaults"
            | "service-resolver"
            | "service-splitter"
            | "service-router"
            | "service-intentions"
            | "ingress-gateway"
            | "terminating-gateway"
    )
}

fn may_read(caller: &Caller, kind: &str, name: &str) -> Result<(), ApiError> {
    if matches!(kind, "proxy-defaults" | "mesh") {
        return Ok(());
    }
    if service_level(kind) {
        return caller.authz.need(Kind::Service, Level::Read, name);
    }
    caller
        .authz
        .require(Resource::Global(Global::Mesh), Level::Read, "")
}

fn may_write(caller: &Caller, kind: &str, name: &str) -> Result<(), ApiError> {
    if service_level(kind) && !kind.ends_with("-gateway") {
        return caller.authz.need(Kind::Service, Level::Write, name);
    }
    caller
        .authz
        .require(Resource::Global(Global::Mesh), Level::Write, "")
}

fn cas(p: &Params) -> Result<Option<u64>, ApiError> {
    match p.get("cas") {
        None => Ok(None),
        Some(v) => v
            .parse()
            .map(Some)
            .map_err(|_| ApiError::bad_request(format!("Invalid cas value {v:?}: use an index"))),
    }
}

async fn apply(
    State(app): State<App>,
    caller: Caller,
    RawQuery(q): RawQuery,
    body: Body,
) -> Result<Response, ApiError> {
    let p = Params::parse(q.as_deref());
    app.check_dc(&p)?;
    let bytes = read_body(body, MAX_JSON_BODY).await?;
    let v: Value = serde_json::from_slice(&bytes)
        .map_err(|e| ApiError::bad_request(format!("Request decoding failed: {e}")))?;
    let (kind, name, entry) = crate::extra::entries::canon(v)
        .map_err(|e| ApiError::bad_request(format!("Request decoding failed: {e}")))?;
    may_write(&caller, &kind, &name)?;
    let ok = app
        .extra
        .entry_set(&app.store, &kind, &name, entry, cas(&p)?)?;
    json(&ok)
}

async fn list(
    State(app): State<App>,
    caller: Caller,
    Path(kind): Path<String>,
    RawQuery(q): RawQuery,
) -> Result<Response, ApiError> {
    let p = Params::parse(q.as_deref());
    let opts = app.read_opts(&p, None)?;
    let (index, entries) = app
        .extra
        .blocking(&app.store, opts.blocking, || app.extra.entry_list(&kind))
        .await;
    let total = entries.len();
    let entries: Vec<_> = entries
        .into_iter()
        .filter(|e| {
            let name = e.get("Name").and_then(Value::as_str).unwrap_or("");
            may_read(&caller, &kind, name).is_ok()
        })
        .collect();
    let filtered = entries.len() != total;
    let out: Vec<&Value> = entries.iter().map(|e| &**e).collect();
    let mut resp = json_meta(&out, index, Some(opts.consistency))?;
    set_filtered(&mut resp, &caller, filtered);
    Ok(resp)
}

async fn one(
    State(app): State<App>,
    caller: Caller,
    method: Method,
    Path((kind, name)): Path<(String, String)>,
    RawQuery(q): RawQuery,
) -> Result<Response, ApiError> {
    let p = Params::parse(q.as_deref());
    if method == Method::DELETE {
        app.check_dc(&p)?;
        may_write(&caller, &kind, &name)?;
        let cas = cas(&p)?;
        let deleted = app.extra.entry_delete(&app.store, &kind, &name, cas);
        // Consul answers the CAS outcome, and `{}` to a plain delete.
        return match cas {
            Some(_) => json(&deleted),
            None => json(&serde_json::json!({})),
        };
    }
    may_read(&caller, &kind, &name)?;
    let opts = app.read_opts(&p, None)?;
    let (index, entry) = app
        .extra
        .blocking(&app.store, opts.blocking, || {
            app.extra.entry_get(&kind, &name)
        })
        .await;
    match entry {
        Some(e) => json_meta(&*e, index, Some(opts.consistency)),
        None => Err(ApiError::not_found(format!(
            "Config entry not found for {kind:?} / {name:?}"
        ))),
    }
}
