//! `/v1/session/*`.

use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Path, RawQuery, State};
use axum::http::Method;
use axum::response::Response;
use axum::Router;
use serde_json::json;

use super::{endpoint, json, json_meta, read_json, set_filtered, App, Caller, Params};
use crate::acl::{Kind, Level};
use crate::decode::SessionCreate;
use crate::error::ApiError;
use crate::state::{Inner, Subscription, Topic};
use crate::types::Session;

const GET: &[Method] = &[Method::GET];
const PUT: &[Method] = &[Method::PUT];

pub(super) fn routes() -> Router<App> {
    Router::new()
        .route("/v1/session/create", endpoint(PUT, create))
        .route("/v1/session/destroy/{*id}", endpoint(PUT, destroy))
        .route("/v1/session/renew/{*id}", endpoint(PUT, renew))
        .route("/v1/session/info/{*id}", endpoint(GET, info))
        .route("/v1/session/node/{*node}", endpoint(GET, node))
        .route("/v1/session/list", endpoint(GET, list))
}

/// Session write on the node of an existing session.
fn vet_session(app: &App, caller: &Caller, id: &str) -> Result<(), ApiError> {
    let node = app.store.lock().sessions.get(id).map(|s| s.node.clone());
    match node {
        Some(node) => caller.authz.need(Kind::Session, Level::Write, &node),
        None => Ok(()),
    }
}

async fn create(
    State(app): State<App>,
    caller: Caller,
    RawQuery(q): RawQuery,
    body: Body,
) -> Result<Response, ApiError> {
    app.check_dc(&Params::parse(q.as_deref()))?;
    let req: SessionCreate = read_json(body).await?;
    let node = if req.node.is_empty() {
        &app.info.node_name
    } else {
        &req.node
    };
    caller.authz.need(Kind::Session, Level::Write, node)?;
    let id = app.store.session_create(req)?;
    json(&json!({ "ID": id }))
}

async fn destroy(
    State(app): State<App>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    vet_session(&app, &caller, &id)?;
    app.store.session_destroy(&id);
    json(&true)
}

async fn renew(
    State(app): State<App>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    vet_session(&app, &caller, &id)?;
    let session = app.store.session_renew(&id)?;
    json(&[&*session])
}

/// A list of sessions: a blocking `query` on the sessions table.
async fn sessions_response(
    app: &App,
    caller: &Caller,
    q: Option<&str>,
    query: impl Fn(&Inner) -> (u64, Vec<Arc<Session>>),
) -> Result<Response, ApiError> {
    let opts = app.read_opts(&Params::parse(q), None)?;
    let (index, list) = app
        .store
        .blocking(opts.blocking, Subscription::Topic(Topic::Sessions), query)
        .await;
    // Consul's filterSessions: session read on the session's node.
    let out: Vec<_> = list
        .iter()
        .filter(|s| {
            caller.authz.is_disabled()
                || caller.authz.allows(
                    crate::acl::Resource::Named(Kind::Session),
                    Level::Read,
                    &s.node,
                )
        })
        .map(|s| &**s)
        .collect();
    let filtered = out.len() != list.len();
    let mut resp = json_meta(&out, index, None)?;
    set_filtered(&mut resp, caller, filtered);
    Ok(resp)
}

async fn info(
    State(app): State<App>,
    caller: Caller,
    Path(id): Path<String>,
    RawQuery(q): RawQuery,
) -> Result<Response, ApiError> {
    sessions_response(&app, &caller, q.as_deref(), |inner| inner.session_info(&id)).await
}

async fn node(
    State(app): State<App>,
    caller: Caller,
    Path(node): Path<String>,
    RawQuery(q): RawQuery,
) -> Result<Response, ApiError> {
    sessions_response(&app, &caller, q.as_deref(), |inner| {
        inner.sessions_for_node(&node)
    })
    .await
}

async fn list(
    State(app): State<App>,
    caller: Caller,
    RawQuery(q): RawQuery,
) -> Result<Response, ApiError> {
    sessions_response(&app, &caller, q.as_deref(), |inner| inner.session_list()).await
}
