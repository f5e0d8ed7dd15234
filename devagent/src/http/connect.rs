//! Connect endpoints: `/v1/catalog/connect/:service`,
//! `/v1/health/connect/:service`, `/v1/catalog/gateway-services/:gateway`,
//! the CA roots (`/v1/agent/connect/ca/roots`, `/v1/connect/ca/roots`),
//! leaf certificates (`/v1/agent/connect/ca/leaf/:service`) and the CA
//! configuration.

use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Path, RawQuery, State};
use axum::http::Method;
use axum::response::Response;
use axum::Router;
use serde_json::json;

use super::catalog::{acl_filter_service_nodes, filter_service_nodes};
use super::health::filter_entries;
use super::{endpoint, json_meta, set_filtered, App, Caller, Params};
use crate::acl::{Global, Kind, Level, ReadMemo, Resource};
use crate::error::ApiError;
use crate::state::{Subscription, Topic};
use crate::types::{HealthEntryOut, ServiceNodeOut};

const GET: &[Method] = &[Method::GET];

pub(super) fn routes() -> Router<App> {
    Router::new()
        .route(
            "/v1/catalog/connect/{*service}",
            endpoint(GET, catalog_connect),
        )
        .route(
            "/v1/catalog/gateway-services/{*gateway}",
            endpoint(GET, gateway_services),
        )
        .route("/v1/agent/connect/ca/roots", endpoint(GET, roots))
        .route("/v1/connect/ca/roots", endpoint(GET, roots))
        .route("/v1/agent/connect/ca/leaf/{*service}", endpoint(GET, leaf))
        .route(
            "/v1/connect/ca/configuration",
            endpoint(GET, ca_configuration),
        )
}

async fn catalog_connect(
    State(app): State<App>,
    caller: Caller,
    Path(name): Path<String>,
    RawQuery(q): RawQuery,
) -> Result<Response, ApiError> {
    let p = Params::parse(q.as_deref());
    let opts = app.read_opts(&p, Some(&app.shapes.service_node))?;
    let tags = p.all("tag");
    let (index, list) = app
        .store
        .blocking(
            opts.blocking,
            Subscription::Topic(Topic::Catalog),
            |inner| inner.catalog_connect(&name, &tags),
        )
        .await;
    let mut list = list;
    let filtered = acl_filter_service_nodes(&caller, &mut list);
    let list = filter_service_nodes(list, &opts);
    let out: Vec<ServiceNodeOut<'_>> = list
        .iter()
        .map(|(n, s)| ServiceNodeOut::new(n, s))
        .collect();
    let mut resp = json_meta(&out, index, Some(opts.consistency))?;
    set_filtered(&mut resp, &caller, filtered);
    Ok(resp)
}

/// `/v1/health/connect/:service`: the proxies (and native instances) of a service.
pub(super) async fn health_connect(
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
            Subscription::Topic(Topic::Catalog),
            |inner| inner.health_connect(&name, &tags),
        )
        .await;
    let mut entries = entries;
    let total = entries.len();
    let mut memo = ReadMemo::default();
    entries.retain(|e| {
        caller
            .authz
            .entry_readable(&mut memo, &e.node.node, &e.service.name)
    });
    let filtered = entries.len() != total;
    let entries = filter_entries(entries, passing, &opts);
    let out: Vec<HealthEntryOut<'_>> = entries.iter().map(HealthEntryOut::from).collect();
    let mut resp = json_meta(&out, index, Some(opts.consistency))?;
    set_filtered(&mut resp, &caller, filtered);
    Ok(resp)
}

/// The services a terminating or ingress gateway routes to, from its
/// config entry (`[]` when it has none). Service read on the gateway.
async fn gateway_services(
    State(app): State<App>,
    caller: Caller,
    Path(gateway): Path<String>,
    RawQuery(q): RawQuery,
) -> Result<Response, ApiError> {
    caller.authz.need(Kind::Service, Level::Read, &gateway)?;
    let p = Params::parse(q.as_deref());
    let opts = app.read_opts(&p, None)?;
    let (index, list) = app
        .extra
        .blocking(&app.store, opts.blocking, || {
            app.extra.gateway_services(&app.store, &gateway)
        })
        .await;
    json_meta(&list, index, Some(opts.consistency))
}

/// Blocks while `index` is current, at most `wait` (the CA never rotates here).
async fn block_on_ca(app: &App, index: u64, wait: Duration) {
    if index >= app.extra.ca.index.max(1) && index > 0 {
        tokio::select! {
            _ = tokio::time::sleep(wait) => {}
            _ = app.store.closed() => {}
        }
    }
}

async fn roots(State(app): State<App>, RawQuery(q): RawQuery) -> Result<Response, ApiError> {
    let p = Params::parse(q.as_deref());
    let opts = app.read_opts(&p, None)?;
    block_on_ca(&app, opts.blocking.index, opts.blocking.wait).await;
    json_meta(
        &app.extra.ca.roots_json(),
        app.extra.ca.index,
        Some(opts.consistency),
    )
}

/// A leaf certificate for a service: service write on it.
async fn leaf(
    State(app): State<App>,
    caller: Caller,
    Path(service): Path<String>,
    RawQuery(q): RawQuery,
) -> Result<Response, ApiError> {
    caller.authz.need(Kind::Service, Level::Write, &service)?;
    let p = Params::parse(q.as_deref());
    let opts = app.read_opts(&p, None)?;
    if service.is_empty() || service.contains('/') {
        return Err(ApiError::bad_request(format!(
            "Invalid service name {service:?}: name one service"
        )));
    }
    let leaf = match app.extra.ca.cached_leaf(&service) {
        Some(l) => l,
        None => {
            let ca = Arc::clone(&app.extra.ca);
            let index = app.store.last_index();
            let svc = service.clone();
            tokio::task::spawn_blocking(move || ca.issue_leaf(&svc, index))
                .await
                .map_err(|e| ApiError::internal(format!("issuing the leaf: {e}")))?
                .map_err(ApiError::internal)?
        }
    };
    if opts.blocking.index > 0 && opts.blocking.index >= leaf.index {
        tokio::select! {
            _ = tokio::time::sleep(opts.blocking.wait) => {}
            _ = app.store.closed() => {}
        }
    }
    json_meta(&leaf.json(), leaf.index, Some(opts.consistency))
}

/// `/v1/connect/ca/configuration`: the built-in provider. operator:read.
async fn ca_configuration(State(app): State<App>, caller: Caller) -> Result<Response, ApiError> {
    caller
        .authz
        .require(Resource::Global(Global::Operator), Level::Read, "")?;
    let ca = &app.extra.ca;
    json_meta(
        &json!({
            "Provider": "consul",
            "Config": {
                "LeafCertTTL": "72h",
                "RootCertTTL": "87600h",
                "IntermediateCertTTL": "8760h",
                "PrivateKeyType": "ec",
                "PrivateKeyBits": 256,
            },
            "State": null,
            "ForceWithoutCrossSigning": false,
            "CreateIndex": ca.index,
            "ModifyIndex": ca.index
        }),
        ca.index,
        None,
    )
}
