//! Query parameters Consul honours on every endpoint, applied in one layer:
//! `?dc=` naming another datacenter (500 `No path to datacenter`, as Consul
//! answers when it has no route there), `?peer=` naming a peer (this agent
//! imports nothing, so a peer's services are none), and `?cached` (the
//! agent cache's `X-Cache: MISS|HIT` and `Age`).

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Instant;

use axum::extract::{Request, State};
use axum::http::{HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::{json_meta, App, Params};
use crate::error::ApiError;

/// Entries of the `?cached` bookkeeping; the oldest half goes when full.
const CACHED_ENTRIES: usize = 4096;

/// When each `?cached` query was first answered at its index.
#[derive(Debug, Default)]
pub(crate) struct CacheAges {
    map: Mutex<HashMap<String, (String, Instant)>>,
}

/// Endpoints that forward by datacenter in Consul (agent and status ones answer locally).
fn forwards(path: &str) -> bool {
    [
        "/v1/catalog/",
        "/v1/health/",
        "/v1/kv/",
        "/v1/session/",
        "/v1/txn",
        "/v1/query",
        "/v1/config",
        "/v1/coordinate/node",
        "/v1/coordinate/update",
        "/v1/operator/",
        "/v1/snapshot",
        "/v1/acl/",
        "/v1/event/",
        "/v1/connect/",
        "/v1/internal/ui/",
    ]
    .iter()
    .any(|p| path.starts_with(p))
        && path != "/v1/catalog/datacenters"
}

/// Reads that take `?peer=`: the answer when the peer's services are none.
fn peer_empty(path: &str) -> Option<serde_json::Value> {
    if path == "/v1/catalog/services" {
        return Some(serde_json::json!({}));
    }
    [
        "/v1/catalog/service/",
        "/v1/health/service/",
        "/v1/health/connect/",
        "/v1/catalog/connect/",
    ]
    .iter()
    .any(|p| path.starts_with(p))
    .then(|| serde_json::json!([]))
}

/// Whether a query may hold a parameter this layer acts on (a cheap test:
/// a false positive only costs a parse). Reads that answer `true` are not
/// served from the read cache before routing, so that this layer sees them.
pub(super) fn applies(query: &str) -> bool {
    query.contains("dc=")
        || query.contains("peer=")
        || query.contains("cached")
        || query.contains("merge")
}

pub(super) async fn scope(State(app): State<App>, req: Request, next: Next) -> Response {
    let Some(query) = req.uri().query().filter(|q| applies(q)) else {
        return next.run(req).await;
    };
    let p = Params::parse(Some(query));
    let path = req.uri().path().to_string();
    if forwards(&path) {
        if let Err(e) = app.check_dc(&p) {
            return e.into_response();
        }
    }
    if let Some(peer) = p.get("peer").filter(|s| !s.is_empty()) {
        if req.method() == Method::GET {
            if let Some(empty) = peer_empty(&path) {
                if !valid_peer_name(peer) {
                    return ApiError::bad_request(format!("Invalid peer name {peer:?}"))
                        .into_response();
                }
                return json_meta(&empty, app.store.last_index(), None)
                    .unwrap_or_else(IntoResponse::into_response);
            }
        }
    }
    if p.has("merge-central-config") && req.method() == Method::GET {
        return merged(&app, &path, next.run(req).await).await;
    }
    if !p.has("cached") || req.method() != Method::GET {
        return next.run(req).await;
    }
    let key = cache_key(&path, &p);
    let mut resp = next.run(req).await;
    if resp.status() != StatusCode::OK {
        return resp;
    }
    let index = resp
        .headers()
        .get("X-Consul-Index")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    let ages = &app.extra.cache_ages;
    let (hit, age) = {
        let mut map = ages
            .map
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        match map.get(&key) {
            Some((i, at)) if *i == index => (true, at.elapsed().as_secs()),
            _ => {
                if map.len() >= CACHED_ENTRIES {
                    let mut by_age: Vec<(String, Instant)> =
                        map.iter().map(|(k, (_, t))| (k.clone(), *t)).collect();
                    by_age.sort_by_key(|(_, t)| *t);
                    for (k, _) in by_age.into_iter().take(CACHED_ENTRIES / 2) {
                        map.remove(&k);
                    }
                }
                map.insert(key, (index, Instant::now()));
                (false, 0)
            }
        }
    };
    let h = resp.headers_mut();
    h.insert(
        "X-Cache",
        HeaderValue::from_static(if hit { "HIT" } else { "MISS" }),
    );
    h.insert("Age", HeaderValue::from(age));
    resp
}

/// Largest answer `?merge-central-config` rewrites.
const MERGE_MAX: usize = 64 << 20;

/// The answer with the central config merged into its proxies.
async fn merged(app: &App, path: &str, resp: Response) -> Response {
    if resp.status() != StatusCode::OK {
        return resp;
    }
    let (mut parts, body) = resp.into_parts();
    let Ok(bytes) = axum::body::to_bytes(body, MERGE_MAX).await else {
        return ApiError::internal("answer too large to merge central config into").into_response();
    };
    let Ok(mut v) = serde_json::from_slice::<serde_json::Value>(&bytes) else {
        return Response::from_parts(parts, axum::body::Body::from(bytes));
    };
    super::merge::merge_answer(&app.extra, path, &mut v);
    let out = super::to_json(&v).unwrap_or(bytes);
    parts.headers.remove(axum::http::header::CONTENT_LENGTH);
    Response::from_parts(parts, axum::body::Body::from(out))
}

fn valid_peer_name(name: &str) -> bool {
    name.len() <= 63
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
}

/// The key of a `?cached` read: the path and its parameters, sorted,
/// without those that do not change the answer.
fn cache_key(path: &str, p: &Params) -> String {
    let mut pairs: Vec<&(String, String)> =
        p.0.iter()
            .filter(|(k, _)| !matches!(k.as_str(), "index" | "wait" | "token" | "pretty"))
            .collect();
    pairs.sort();
    let mut key = String::from(path);
    for (k, v) in pairs {
        key.push('&');
        key.push_str(k);
        key.push('=');
        key.push_str(v);
    }
    key
}
