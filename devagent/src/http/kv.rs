//! `/v1/kv/*` and `/v1/txn`.

use axum::body::{Body, Bytes};
use axum::extract::{Path, RawQuery, State};
use axum::http::Uri;
use axum::http::{Method, StatusCode};
use axum::response::Response;
use axum::Router;
use base64::Engine as _;
use serde::Deserialize;
use serde_json::{json, Value};

use super::cache::{Spec, Version};
use super::{
    encode, endpoint, json, query_key, read_body_or, read_response, set_meta, to_json, with_body,
    App, Caller, Meta, Params, Rendered,
};
use crate::acl::{Kind, Level};
use crate::error::ApiError;
use crate::state::{KvWrite, Subscription, TxnOp};
use crate::types::KvOut;

/// Consul's limit on operations per transaction (`maxTxnOps`).
const MAX_TXN_OPS: usize = 64;

const KV_METHODS: &[Method] = &[Method::GET, Method::PUT, Method::DELETE];

pub(super) fn routes() -> Router<App> {
    Router::new()
        .route("/v1/kv/", endpoint(KV_METHODS, kv_root))
        .route("/v1/kv/{*key}", endpoint(KV_METHODS, kv_key))
        .route("/v1/txn", endpoint(&[Method::PUT], txn))
}

/// Rejects keys that could escape a prefix or break clients.
fn validate_key(key: &str) -> Result<(), ApiError> {
    if key.split('/').any(|seg| seg == "..") {
        return Err(ApiError::bad_request(format!(
            "Invalid key {key:?}: a \"..\" path segment is not allowed; use a key without path traversal"
        )));
    }
    if key.contains('\0') {
        return Err(ApiError::bad_request(format!(
            "Invalid key {key:?}: NUL bytes are not allowed in keys"
        )));
    }
    Ok(())
}

async fn kv_root(
    State(app): State<App>,
    caller: Caller,
    method: Method,
    uri: Uri,
    body: Body,
) -> Result<Response, ApiError> {
    kv(app, caller, method, String::new(), uri, body).await
}

async fn kv_key(
    State(app): State<App>,
    caller: Caller,
    method: Method,
    Path(key): Path<String>,
    uri: Uri,
    body: Body,
) -> Result<Response, ApiError> {
    kv(app, caller, method, key, uri, body).await
}

async fn kv(
    app: App,
    caller: Caller,
    method: Method,
    key: String,
    uri: Uri,
    body: Body,
) -> Result<Response, ApiError> {
    validate_key(&key)?;
    let p = Params::parse(uri.query());
    match method {
        Method::GET => get(app, &caller, key, uri.path(), uri.query(), p).await,
        Method::PUT => {
            caller.authz.need(Kind::Key, Level::Write, &key)?;
            put(app, key, p, body).await
        }
        _ => {
            if p.has("recurse") {
                if !caller.authz.key_write_prefix(&key) {
                    return Err(caller.authz.denied(
                        crate::acl::Resource::Named(Kind::Key),
                        Level::Write,
                        &key,
                    ));
                }
            } else {
                caller.authz.need(Kind::Key, Level::Write, &key)?;
            }
            delete(app, key, p)
        }
    }
}

/// Consul's 404 for a key or prefix that holds nothing (with the index to block on).
fn missing(index: u64, filtered: bool) -> Rendered {
    Rendered {
        status: StatusCode::NOT_FOUND,
        ..Rendered::ok(index, Bytes::new(), filtered)
    }
}

/// `GET /v1/kv/...`: one key (the same answer for every caller that may read
/// it), or the keys or entries under a prefix (what the caller may read);
/// each rendered once per index.
async fn get(
    app: App,
    caller: &Caller,
    key: String,
    path: &str,
    q: Option<&str>,
    p: Params,
) -> Result<Response, ApiError> {
    let opts = app.read_opts(&p, None)?;
    let sub = Subscription::KvPrefix(key.clone());
    let list = p.has("keys") || p.has("recurse");
    if list && app.acl.key_list_policy() {
        caller.authz.need(Kind::Key, Level::List, &key)?;
    }
    if !list {
        caller.authz.need(Kind::Key, Level::Read, &key)?;
        if key.is_empty() {
            return Err(ApiError::bad_request("Missing key name"));
        }
    }
    let raw = !list && p.has("raw");
    let pretty = p.has("pretty") && !raw;
    let unrestricted = caller.authz.is_disabled();
    let cache_key = query_key(path, q);
    let spec = Spec {
        version: if list {
            Version::Prefix(key.clone())
        } else {
            Version::Key(key.clone())
        },
        meta: Meta::Index,
        pretty,
        raw,
    };
    let r = if p.has("keys") {
        let sep = p
            .get("separator")
            .or_else(|| p.get("seperator"))
            .unwrap_or("")
            .to_string();
        let index = app
            .store
            .wait_index(opts.blocking, sub, |inner| spec.version.index(inner))
            .await;
        app.cache
            .get(&cache_key, Some(caller), &spec, index, || {
                let (index, keys) = app.store.read(|inner| inner.kv_keys(&key, &sep));
                let total = keys.len();
                let keys: Vec<String> = keys
                    .into_iter()
                    .filter(|k| unrestricted || caller.authz.key_read(k))
                    .collect();
                let filtered = keys.len() != total;
                if keys.is_empty() && !key.is_empty() {
                    return Ok(missing(index, filtered));
                }
                Ok(Rendered::ok(index, encode(&keys, pretty)?, filtered))
            })
            .await?
    } else if p.has("recurse") {
        let index = app
            .store
            .wait_index(opts.blocking, sub, |inner| spec.version.index(inner))
            .await;
        app.cache
            .get(&cache_key, Some(caller), &spec, index, || {
                let (index, entries) = app.store.read(|inner| inner.kv_list(&key));
                let total = entries.len();
                let entries: Vec<_> = entries
                    .into_iter()
                    .filter(|e| unrestricted || caller.authz.key_read(&e.key))
                    .collect();
                let filtered = entries.len() != total;
                if entries.is_empty() {
                    return Ok(missing(index, filtered));
                }
                let out: Vec<KvOut<'_>> = entries.iter().map(|e| KvOut::new(e, true)).collect();
                Ok(Rendered::ok(index, encode(&out, pretty)?, filtered))
            })
            .await?
    } else {
        let index = app
            .store
            .wait_index(opts.blocking, sub, |inner| spec.version.index(inner))
            .await;
        app.cache
            .get(&cache_key, None, &spec, index, || {
                let (index, entry) = app.store.read(|inner| inner.kv_get(&key));
                let Some(entry) = entry else {
                    return Ok(missing(index, false));
                };
                let body = if raw {
                    entry.value.clone()
                } else {
                    encode(&[KvOut::new(&entry, true)], pretty)?
                };
                Ok(Rendered::ok(index, body, false))
            })
            .await?
    };
    Ok(read_response(&r, &spec, caller.authenticated))
}

fn parse_u64_param(p: &Params, name: &str) -> Result<Option<u64>, ApiError> {
    match p.get(name) {
        None => Ok(None),
        Some(v) => v.parse::<u64>().map(Some).map_err(|_| {
            ApiError::internal(format!("strconv.ParseUint: parsing {v:?}: invalid syntax"))
        }),
    }
}

async fn put(app: App, key: String, p: Params, body: Body) -> Result<Response, ApiError> {
    app.check_dc(&p)?;
    if key.is_empty() {
        return Err(ApiError::bad_request("Missing key name"));
    }
    let conditions = ["cas", "acquire", "release"]
        .iter()
        .filter(|k| p.has(k))
        .count();
    if conditions > 1 {
        return Err(ApiError::bad_request(format!(
            "Conflicting flags: {}",
            p.encoded()
        )));
    }
    let flags = parse_u64_param(&p, "flags")?.unwrap_or(0);
    let mode = if let Some(cas) = parse_u64_param(&p, "cas")? {
        KvWrite::Cas(cas)
    } else if let Some(s) = p.get("acquire") {
        KvWrite::Acquire(s.to_string())
    } else if let Some(s) = p.get("release") {
        KvWrite::Release(s.to_string())
    } else {
        KvWrite::Plain
    };
    let max = app.limits.kv_max_value_size;
    let value = read_body_or(body, max, |size| too_large(max, size)).await?;
    let ok = app.store.kv_put(&key, value, flags, mode)?;
    json(&ok)
}

/// Consul's 413 for a KV value over `kv_max_value_size` (`size`: as declared, if it was).
fn too_large(max: usize, size: Option<u64>) -> ApiError {
    let size = size.map_or_else(|| format!("more than {max}"), |s| s.to_string());
    ApiError::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        format!(
            "Request body({size} bytes) too large, max size: {max} bytes. See https://developer.hashicorp.com/docs/agent/config/config-files#kv_max_value_size."
        ),
    )
}

/// Consul's 413 for a `/v1/txn` body over `txn_max_req_len`.
fn txn_too_large(max: usize, size: Option<u64>) -> ApiError {
    const SEE: &str =
        "See https://developer.hashicorp.com/docs/agent/config/config-files#txn_max_req_len.";
    ApiError::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        match size {
            Some(size) => {
                format!("Request body({size} bytes) too large, max size: {max} bytes. {SEE}")
            }
            None => format!("Request body too large, max size: {max} bytes. {SEE}"),
        },
    )
}

fn delete(app: App, key: String, p: Params) -> Result<Response, ApiError> {
    app.check_dc(&p)?;
    let recurse = p.has("recurse");
    if recurse && p.has("cas") {
        return Err(ApiError::bad_request(format!(
            "Conflicting flags: {}",
            p.encoded()
        )));
    }
    if key.is_empty() && !recurse {
        return Err(ApiError::bad_request("Missing key name"));
    }
    let cas = parse_u64_param(&p, "cas")?;
    json(&app.store.kv_delete(&key, recurse, cas))
}

#[derive(Deserialize)]
struct KvOpIn {
    #[serde(rename = "Verb", default)]
    verb: String,
    #[serde(rename = "Key", default)]
    key: String,
    #[serde(rename = "Value", default)]
    value: Option<String>,
    #[serde(rename = "Flags", default)]
    flags: u64,
    #[serde(rename = "Index", default)]
    index: u64,
    #[serde(rename = "Session", default)]
    session: String,
    #[serde(rename = "Namespace", default)]
    _namespace: serde::de::IgnoredAny,
    #[serde(rename = "Partition", default)]
    _partition: serde::de::IgnoredAny,
}

#[derive(Deserialize)]
struct TxnOpIn {
    #[serde(rename = "KV", default)]
    kv: Option<KvOpIn>,
    #[serde(rename = "Node", default)]
    node: Option<Value>,
    #[serde(rename = "Service", default)]
    service: Option<Value>,
    #[serde(rename = "Check", default)]
    check: Option<Value>,
}

async fn txn(
    State(app): State<App>,
    caller: Caller,
    RawQuery(q): RawQuery,
    body: Body,
) -> Result<Response, ApiError> {
    app.check_dc(&Params::parse(q.as_deref()))?;
    let max = app.limits.txn_body();
    let bytes: Bytes = read_body_or(body, max, |size| txn_too_large(max, size)).await?;
    let ops: Vec<TxnOpIn> = crate::decode::decode(&bytes).map_err(ApiError::decode)?;
    if ops.len() > MAX_TXN_OPS {
        return Err(ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!(
                "Transaction contains too many operations ({} > {MAX_TXN_OPS})",
                ops.len()
            ),
        ));
    }
    let mut kv_ops = Vec::with_capacity(ops.len());
    let mut errors = Vec::new();
    for (i, op) in ops.into_iter().enumerate() {
        match op {
            TxnOpIn { kv: Some(kv), node: None, service: None, check: None } => {
                let value = match kv.value.as_deref() {
                    None | Some("") => Bytes::new(),
                    Some(b64) => match base64::engine::general_purpose::STANDARD.decode(b64) {
                        Ok(v) if v.len() > app.limits.kv_max_value_size => {
                            return Err(ApiError::new(
                                StatusCode::PAYLOAD_TOO_LARGE,
                                format!(
                                    "Value for key {:?} is too large ({} > {} bytes)",
                                    kv.key,
                                    v.len(),
                                    app.limits.kv_max_value_size
                                ),
                            ));
                        }
                        Ok(v) => Bytes::from(v),
                        Err(e) => {
                            errors.push(json!({"OpIndex": i, "What": format!("Value is not valid base64: {e}")}));
                            continue;
                        }
                    },
                };
                if let Err(e) = validate_key(&kv.key) {
                    errors.push(json!({"OpIndex": i, "What": e.message}));
                    continue;
                }
                kv_ops.push(TxnOp {
                    verb: kv.verb,
                    key: kv.key,
                    value,
                    flags: kv.flags,
                    index: kv.index,
                    session: kv.session,
                });
            }
            _ => errors.push(json!({
                "OpIndex": i,
                "What": "devagent transactions hold KV operations only; register nodes, services and checks through /v1/catalog/register or /v1/agent"
            })),
        }
    }
    if errors.is_empty() {
        let ops = kv_ops.iter().map(|o| (o.verb.as_str(), o.key.as_str()));
        errors.extend(
            crate::acl::txn_denials(&caller.authz, ops)
                .into_iter()
                .map(|(i, what)| json!({"OpIndex": i, "What": what})),
        );
    }
    if !errors.is_empty() {
        return conflict(errors);
    }
    match app.store.kv_txn(&kv_ops) {
        Ok(results) => {
            let results: Vec<Value> = results
                .iter()
                .filter(|r| caller.authz.is_disabled() || caller.authz.key_read(&r.entry.key))
                .map(|r| json!({"KV": KvOut::new(&r.entry, r.with_value)}))
                .collect();
            let mut resp = json(&json!({"Results": results, "Errors": null}))?;
            set_meta(resp.headers_mut(), app.store.last_index(), None);
            Ok(resp)
        }
        Err(errs) => conflict(
            errs.into_iter()
                .map(|(i, what)| json!({"OpIndex": i, "What": what}))
                .collect(),
        ),
    }
}

fn conflict(errors: Vec<Value>) -> Result<Response, ApiError> {
    let body = to_json(&json!({"Results": null, "Errors": errors}))?;
    Ok(with_body(StatusCode::CONFLICT, "application/json", body))
}
