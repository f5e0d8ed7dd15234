//! `/v1/catalog/*`: services, nodes and datacenters, and direct catalog writes.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Path, RawQuery, State};
use axum::http::{Method, Uri};
use axum::response::Response;
use axum::Router;
use serde::Serialize;

use super::cache::{Spec, Version};
use super::health::node_meta_ok;
use super::vet::{vet_deregister, vet_register};
use super::{
    apply_filter, encode, endpoint, json, json_meta, query_key, read_json, read_response,
    set_filtered, App, Caller, Meta, Params, ReadOpts, Rendered,
};
use crate::acl::ReadMemo;
use crate::decode::{CatalogDeregister, CatalogRegister};
use crate::error::ApiError;
use crate::state::{Subscription, Topic};
use crate::types::{Node, NodeServiceOut, Service, ServiceNodeOut};

const GET: &[Method] = &[Method::GET];
const PUT: &[Method] = &[Method::PUT];

pub(super) fn routes() -> Router<App> {
    Router::new()
        .route("/v1/catalog/services", endpoint(GET, services))
        .route("/v1/catalog/service/", endpoint(GET, missing_service))
        .route("/v1/catalog/service/{*name}", endpoint(GET, service))
        .route("/v1/catalog/nodes", endpoint(GET, nodes))
        .route("/v1/catalog/node/{*node}", endpoint(GET, node))
        .route(
            "/v1/catalog/node-services/{*node}",
            endpoint(GET, node_services),
        )
        .route("/v1/catalog/datacenters", endpoint(GET, datacenters))
        .route("/v1/catalog/register", endpoint(PUT, register))
        .route("/v1/catalog/deregister", endpoint(PUT, deregister))
}

async fn missing_service() -> ApiError {
    ApiError::bad_request("Missing service name")
}

/// Instances of services with their nodes.
type ServiceNodes = Vec<(Arc<Node>, Arc<Service>)>;

/// Leaves out the instances the caller may not read (node and service read).
/// True when something was left out.
pub(super) fn acl_filter_service_nodes(caller: &Caller, list: &mut ServiceNodes) -> bool {
    if caller
        .authz
        .all_readable(list.iter(), |(n, s)| (&n.node, &s.name))
    {
        return false;
    }
    let total = list.len();
    let mut memo = ReadMemo::default();
    list.retain(|(n, s)| caller.authz.entry_readable(&mut memo, &n.node, &s.name));
    list.len() != total
}

/// Service instances with their nodes after `node-meta` and `filter`.
pub(super) fn filter_service_nodes(list: ServiceNodes, opts: &ReadOpts) -> ServiceNodes {
    let list: Vec<_> = list
        .into_iter()
        .filter(|(n, _)| node_meta_ok(&n.meta, &opts.node_meta))
        .collect();
    apply_filter(opts.filter.as_ref(), list, |(n, s)| {
        serde_json::to_value(ServiceNodeOut::new(n, s))
    })
}

async fn services(State(app): State<App>, caller: Caller, uri: Uri) -> Result<Response, ApiError> {
    let p = Params::parse(uri.query());
    let opts = app.read_opts(&p, Some(&app.shapes.service_node))?;
    let spec = Spec {
        version: Version::Services,
        meta: Meta::Consistency(opts.consistency),
        pretty: p.has("pretty"),
        raw: false,
    };
    let index = app
        .store
        .wait_index(
            opts.blocking,
            Subscription::Topic(Topic::Catalog),
            |inner| spec.version.index(inner),
        )
        .await;
    let key = query_key(uri.path(), uri.query());
    let r = app
        .cache
        .get(&key, Some(&caller), &spec, index, || {
            let (index, mut list) = app.store.read(|inner| inner.all_service_nodes());
            // Consul lists the services the token may read (service:read only).
            let total = list.len();
            if !caller.authz.is_disabled() {
                list.retain(|(_, s)| caller.authz.service_read(&s.name));
            }
            let filtered = list.len() != total;
            let list = filter_service_nodes(list, &opts);
            let mut map: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
            for (_, s) in &list {
                map.entry(s.name.as_str())
                    .or_default()
                    .extend(s.tags.iter().map(String::as_str));
            }
            Ok(Rendered::ok(index, encode(&map, spec.pretty)?, filtered))
        })
        .await?;
    Ok(read_response(&r, &spec, caller.authenticated))
}

async fn service(
    State(app): State<App>,
    caller: Caller,
    Path(name): Path<String>,
    uri: Uri,
) -> Result<Response, ApiError> {
    let p = Params::parse(uri.query());
    let opts = app.read_opts(&p, Some(&app.shapes.service_node))?;
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
            let (index, mut list) = app.store.read(|inner| inner.catalog_service(&name, &tags));
            let filtered = acl_filter_service_nodes(&caller, &mut list);
            let list = filter_service_nodes(list, &opts);
            let out: Vec<ServiceNodeOut<'_>> = list
                .iter()
                .map(|(n, s)| ServiceNodeOut::new(n, s))
                .collect();
            Ok(Rendered::ok(index, encode(&out, spec.pretty)?, filtered))
        })
        .await?;
    Ok(read_response(&r, &spec, caller.authenticated))
}

async fn nodes(
    State(app): State<App>,
    caller: Caller,
    RawQuery(q): RawQuery,
) -> Result<Response, ApiError> {
    let p = Params::parse(q.as_deref());
    let opts = app.read_opts(&p, Some(&app.shapes.node))?;
    let (index, list) = app
        .store
        .blocking(
            opts.blocking,
            Subscription::Topic(Topic::Catalog),
            |inner| inner.catalog_nodes(),
        )
        .await;
    let total = list.len();
    let list: Vec<_> = list
        .into_iter()
        .filter(|n| caller.authz.is_disabled() || caller.authz.node_read(&n.node))
        .collect();
    let filtered = list.len() != total;
    let list: Vec<_> = list
        .into_iter()
        .filter(|n| node_meta_ok(&n.meta, &opts.node_meta))
        .collect();
    let list = apply_filter(opts.filter.as_ref(), list, |n| serde_json::to_value(&**n));
    let out: Vec<&Node> = list.iter().map(|n| &**n).collect();
    let mut resp = json_meta(&out, index, Some(opts.consistency))?;
    set_filtered(&mut resp, &caller, filtered);
    Ok(resp)
}

#[derive(Serialize)]
struct NodeOut<'a, S> {
    #[serde(rename = "Node")]
    node: &'a Node,
    #[serde(rename = "Services")]
    services: S,
}

/// How `catalog/node*` lays out the services of the node.
#[derive(Clone, Copy)]
enum ServicesLayout {
    /// A map by service ID (`/v1/catalog/node/:node`).
    ById,
    /// A list (`/v1/catalog/node-services/:node`).
    List,
}

/// A node with its services after `filter`, or `null` for an unknown node.
async fn node_response(
    app: &App,
    caller: &Caller,
    node: &str,
    q: Option<&str>,
    layout: ServicesLayout,
) -> Result<Response, ApiError> {
    let p = Params::parse(q);
    let opts = app.read_opts(&p, Some(&app.shapes.node_service))?;
    let mut acl_filtered = false;
    let (index, view) = app
        .store
        .blocking(
            opts.blocking,
            Subscription::Topic(Topic::Catalog),
            |inner| inner.catalog_node(node),
        )
        .await;
    let Some(mut view) = view else {
        return json_meta(&serde_json::Value::Null, index, Some(opts.consistency));
    };
    // No node read: as if there were no node. Services need service read.
    if !caller.authz.is_disabled() {
        if !caller.authz.node_read(&view.node.node) {
            let mut resp = json_meta(&serde_json::Value::Null, index, Some(opts.consistency))?;
            set_filtered(&mut resp, caller, true);
            return Ok(resp);
        }
        let total = view.services.len();
        view.services.retain(|s| caller.authz.service_read(&s.name));
        acl_filtered = view.services.len() != total;
    }
    let services = apply_filter(opts.filter.as_ref(), view.services, |s| {
        serde_json::to_value(NodeServiceOut::from(&**s))
    });
    let node = &view.node;
    let consistency = Some(opts.consistency);
    match layout {
        ServicesLayout::ById => {
            let services: BTreeMap<&str, NodeServiceOut<'_>> = services
                .iter()
                .map(|s| (s.id.as_str(), NodeServiceOut::from(&**s)))
                .collect();
            let mut resp = json_meta(&NodeOut { node, services }, index, consistency)?;
            set_filtered(&mut resp, caller, acl_filtered);
            Ok(resp)
        }
        ServicesLayout::List => {
            let services: Vec<NodeServiceOut<'_>> = services
                .iter()
                .map(|s| NodeServiceOut::from(&**s))
                .collect();
            let mut resp = json_meta(&NodeOut { node, services }, index, consistency)?;
            set_filtered(&mut resp, caller, acl_filtered);
            Ok(resp)
        }
    }
}

async fn node(
    State(app): State<App>,
    caller: Caller,
    Path(node): Path<String>,
    RawQuery(q): RawQuery,
) -> Result<Response, ApiError> {
    node_response(&app, &caller, &node, q.as_deref(), ServicesLayout::ById).await
}

async fn node_services(
    State(app): State<App>,
    caller: Caller,
    Path(node): Path<String>,
    RawQuery(q): RawQuery,
) -> Result<Response, ApiError> {
    node_response(&app, &caller, &node, q.as_deref(), ServicesLayout::List).await
}

async fn datacenters(State(app): State<App>) -> Result<Response, ApiError> {
    json(&[&app.info.datacenter])
}

async fn register(
    State(app): State<App>,
    caller: Caller,
    RawQuery(q): RawQuery,
    body: Body,
) -> Result<Response, ApiError> {
    app.check_dc(&Params::parse(q.as_deref()))?;
    let req: CatalogRegister = read_json(body).await?;
    vet_register(&app, &caller, &req)?;
    app.store.catalog_register(req)?;
    json(&true)
}

async fn deregister(
    State(app): State<App>,
    caller: Caller,
    RawQuery(q): RawQuery,
    body: Body,
) -> Result<Response, ApiError> {
    app.check_dc(&Params::parse(q.as_deref()))?;
    let req: CatalogDeregister = read_json(body).await?;
    vet_deregister(&app, &caller, &req)?;
    app.store.catalog_deregister(req)?;
    json(&true)
}
