//! `/v1/query`: prepared queries (create, list, read, update, delete,
//! execute, explain), as Consul's `PreparedQuery` endpoints.

use axum::body::Body;
use axum::extract::{Path, RawQuery, State};
use axum::http::Method;
use axum::response::{IntoResponse, Response};
use axum::Router;
use serde_json::{json, Value};

use super::{
    endpoint, json, json_meta, read_body, set_filtered, App, Caller, Params, MAX_JSON_BODY,
};
use crate::acl::{Global, Kind, Level, ReadMemo, Resource};
use crate::error::ApiError;
use crate::types::HealthEntryOut;

const GET_POST: &[Method] = &[Method::GET, Method::POST];
const GET_PUT_DELETE: &[Method] = &[Method::GET, Method::PUT, Method::DELETE];
const GET: &[Method] = &[Method::GET];

pub(super) fn routes() -> Router<App> {
    Router::new()
        .route("/v1/query", endpoint(GET_POST, collection))
        .route("/v1/query/{id}", endpoint(GET_PUT_DELETE, one))
        .route("/v1/query/{id}/execute", endpoint(GET, execute))
        .route("/v1/query/{id}/explain", endpoint(GET, explain))
}

fn not_found() -> ApiError {
    ApiError::not_found("Query not found")
}

/// Consul hides a query's `Token` from those who may not write ACLs.
fn redact(caller: &Caller, q: &Value) -> Value {
    let mut q = q.clone();
    let can_see = caller
        .authz
        .allows(Resource::Global(Global::Acl), Level::Write, "");
    if !can_see {
        if let Some(t) = q
            .get_mut("Token")
            .filter(|t| t.as_str().is_some_and(|s| !s.is_empty()))
        {
            *t = json!("<hidden>");
        }
    }
    q
}

fn name_of(q: &Value) -> &str {
    q.get("Name").and_then(Value::as_str).unwrap_or("")
}

/// Read on a query: `query:read` on its name; a query without a name only
/// for those who may write ACLs.
fn may_read(caller: &Caller, q: &Value) -> bool {
    match name_of(q) {
        "" => caller
            .authz
            .allows(Resource::Global(Global::Acl), Level::Write, ""),
        name => caller
            .authz
            .allows(Resource::Named(Kind::Query), Level::Read, name),
    }
}

async fn decode(
    body: Body,
) -> Result<(serde_json::Map<String, Value>, Option<regex::Regex>), ApiError> {
    let bytes = read_body(body, MAX_JSON_BODY).await?;
    let v: Value = serde_json::from_slice(&bytes)
        .map_err(|e| ApiError::bad_request(format!("Request decode failed: {e}")))?;
    crate::extra::queries::canon(&v).map_err(ApiError::bad_request)
}

async fn collection(
    State(app): State<App>,
    caller: Caller,
    method: Method,
    RawQuery(q): RawQuery,
    body: Body,
) -> Result<Response, ApiError> {
    let p = Params::parse(q.as_deref());
    if method == Method::POST {
        app.check_dc(&p)?;
        let (query, regexp) = decode(body).await?;
        let name = query
            .get("Name")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string();
        if !name.is_empty() {
            caller.authz.need(Kind::Query, Level::Write, &name)?;
        }
        let id = app.extra.query_put(&app.store, None, query, regexp)?;
        return json(&json!({ "ID": id }));
    }
    let opts = app.read_opts(&p, None)?;
    let (index, list) = app
        .extra
        .blocking(&app.store, opts.blocking, || app.extra.query_list())
        .await;
    let total = list.len();
    let out: Vec<Value> = list
        .iter()
        .filter(|q| may_read(&caller, q))
        .map(|q| redact(&caller, q))
        .collect();
    let mut resp = json_meta(&out, index, Some(opts.consistency))?;
    set_filtered(&mut resp, &caller, out.len() != total);
    Ok(resp)
}

async fn one(
    State(app): State<App>,
    caller: Caller,
    method: Method,
    Path(id): Path<String>,
    RawQuery(q): RawQuery,
    body: Body,
) -> Result<Response, ApiError> {
    let p = Params::parse(q.as_deref());
    let (_, existing) = app.extra.query_get(&id);
    match method {
        Method::PUT => {
            app.check_dc(&p)?;
            let Some(old) = existing else {
                return Err(ApiError::internal(format!(
                    "Cannot modify non-existent prepared query: '{id}'"
                )));
            };
            if !name_of(&old).is_empty() {
                caller
                    .authz
                    .need(Kind::Query, Level::Write, name_of(&old))?;
            }
            let (query, regexp) = decode(body).await?;
            let name = query
                .get("Name")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_string();
            if !name.is_empty() {
                caller.authz.need(Kind::Query, Level::Write, &name)?;
            }
            app.extra.query_put(&app.store, Some(&id), query, regexp)?;
            Ok(axum::http::StatusCode::OK.into_response())
        }
        Method::DELETE => {
            app.check_dc(&p)?;
            let Some(old) = existing else {
                return Err(ApiError::internal(format!(
                    "Cannot delete non-existent prepared query: '{id}'"
                )));
            };
            if !name_of(&old).is_empty() {
                caller
                    .authz
                    .need(Kind::Query, Level::Write, name_of(&old))?;
            }
            app.extra.query_delete(&app.store, &id);
            Ok(axum::http::StatusCode::OK.into_response())
        }
        _ => {
            let opts = app.read_opts(&p, None)?;
            let (index, q) = app
                .extra
                .blocking(&app.store, opts.blocking, || app.extra.query_get(&id))
                .await;
            let q = q.ok_or_else(not_found)?;
            if !may_read(&caller, &q) {
                return Err(caller.authz.denied(
                    Resource::Named(Kind::Query),
                    Level::Read,
                    name_of(&q),
                ));
            }
            json_meta(&[redact(&caller, &q)], index, Some(opts.consistency))
        }
    }
}

async fn execute(
    State(app): State<App>,
    caller: Caller,
    Path(id): Path<String>,
    RawQuery(q): RawQuery,
) -> Result<Response, ApiError> {
    let p = Params::parse(q.as_deref());
    let opts = app.read_opts(&p, None)?;
    let limit = match p.get("limit") {
        None | Some("") => None,
        Some(l) => Some(
            l.parse::<usize>()
                .map_err(|_| ApiError::bad_request(format!("Invalid limit {l:?}: use a number")))?,
        ),
    };
    let query = app
        .extra
        .query_resolve(&id)
        .map_err(ApiError::bad_request)?
        .ok_or_else(not_found)?;
    let mut run = app.extra.query_execute(&app.store, query);
    // Results carry what the caller may read (node and service read).
    let total = run.entries.len();
    let mut memo = ReadMemo::default();
    run.entries.retain(|e| {
        caller
            .authz
            .entry_readable(&mut memo, &e.node.node, &e.service.name)
    });
    let filtered = run.entries.len() != total;
    if let Some(l) = limit {
        run.entries.truncate(l);
    }
    let nodes: Vec<HealthEntryOut<'_>> = run.entries.iter().map(HealthEntryOut::from).collect();
    let ttl = run
        .query
        .get("DNS")
        .and_then(|d| d.get("TTL"))
        .cloned()
        .unwrap_or(json!(""));
    let body = json!({
        "Service": run.service,
        "Namespace": "",
        "Partition": "",
        "Nodes": nodes,
        "DNS": {"TTL": ttl},
        "Datacenter": app.info.datacenter,
        "Failovers": 0,
    });
    let mut resp = json_meta(&body, app.store.last_index(), Some(opts.consistency))?;
    set_filtered(&mut resp, &caller, filtered);
    Ok(resp)
}

async fn explain(
    State(app): State<App>,
    caller: Caller,
    Path(id): Path<String>,
    RawQuery(q): RawQuery,
) -> Result<Response, ApiError> {
    let p = Params::parse(q.as_deref());
    let opts = app.read_opts(&p, None)?;
    let query = app
        .extra
        .query_resolve(&id)
        .map_err(ApiError::bad_request)?
        .ok_or_else(not_found)?;
    if !may_read(&caller, &query) {
        return Err(caller.authz.denied(
            Resource::Named(Kind::Query),
            Level::Read,
            name_of(&query),
        ));
    }
    json_meta(
        &json!({ "Query": redact(&caller, &query) }),
        app.store.last_index(),
        Some(opts.consistency),
    )
}
