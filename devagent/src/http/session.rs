//! `/v1/session/*`.

use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Path, RawQuery, State};
use axum::http::Method;
use axum::response::Response;
use axum::Router;
use serde_json::json;

use super::{endpoint, json, json_meta, read_json, App, Params};
use crate::decode::{SessionCreate, SESSION_CREATE};
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

async fn create(
    State(app): State<App>,
    RawQuery(q): RawQuery,
    body: Body,
) -> Result<Response, ApiError> {
    app.check_dc(&Params::parse(q.as_deref()))?;
    let req: SessionCreate = read_json(body, &SESSION_CREATE).await?;
    let id = app.store.session_create(req)?;
    json(&json!({ "ID": id }))
}

async fn destroy(State(app): State<App>, Path(id): Path<String>) -> Result<Response, ApiError> {
    app.store.session_destroy(&id);
    json(&true)
}

async fn renew(State(app): State<App>, Path(id): Path<String>) -> Result<Response, ApiError> {
    let session = app.store.session_renew(&id)?;
    json(&[&*session])
}

/// A list of sessions: a blocking `query` on the sessions table.
async fn sessions_response(
    app: &App,
    q: Option<&str>,
    query: impl Fn(&Inner) -> (u64, Vec<Arc<Session>>),
) -> Result<Response, ApiError> {
    let opts = app.read_opts(&Params::parse(q), None)?;
    let (index, list) = app
        .store
        .blocking(opts.blocking, Subscription::Topic(Topic::Sessions), query)
        .await;
    let out: Vec<_> = list.iter().map(|s| &**s).collect();
    json_meta(&out, index, None)
}

async fn info(
    State(app): State<App>,
    Path(id): Path<String>,
    RawQuery(q): RawQuery,
) -> Result<Response, ApiError> {
    sessions_response(&app, q.as_deref(), |inner| inner.session_info(&id)).await
}

async fn node(
    State(app): State<App>,
    Path(node): Path<String>,
    RawQuery(q): RawQuery,
) -> Result<Response, ApiError> {
    sessions_response(&app, q.as_deref(), |inner| inner.sessions_for_node(&node)).await
}

async fn list(State(app): State<App>, RawQuery(q): RawQuery) -> Result<Response, ApiError> {
    sessions_response(&app, q.as_deref(), |inner| inner.session_list()).await
}
