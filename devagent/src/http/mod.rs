//! The HTTP API: routing with Consul's method rules, query options, the
//! response headers of blocking queries, ACL enforcement and error bodies.

mod agent;
pub(crate) mod cache;
mod catalog;
mod config;
mod connect;
mod fast;
mod health;
mod kv;
mod merge;
mod misc;
mod observe;
mod operator;
mod peering;
mod pretty;
mod query;
mod respond;
mod scope;
mod serve;
mod session;
mod shapes;
mod snapshot;
mod vet;

use std::sync::Arc;
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{on, MethodFilter, MethodRouter};
use axum::Router;
use tokio_util::sync::CancellationToken;

use std::borrow::Cow;

pub(crate) use crate::acl::Caller;

use crate::checks::CheckRunner;
use crate::error::ApiError;
use crate::filter::Filter;
use crate::metrics::Metrics;
use crate::state::{BlockingOpts, Store};
use crate::AgentInfo;
use gocompat::duration;

pub(crate) use cache::{query_key, ReadCache, Rendered};
pub(crate) use respond::{
    answer_headers, encode, json, json_meta, read_response, set_filtered, set_meta, to_json,
    with_body, Meta,
};
use respond::{Indented, X_CONSUL_DEFAULT_POLICY};
pub(crate) use scope::CacheAges;
pub(crate) use serve::serve;
pub(crate) use shapes::Shapes;

/// Largest JSON request body accepted.
pub(crate) const MAX_JSON_BODY: usize = 1 << 20;
/// Default and maximum blocking wait (Consul's `default_query_time`, `max_query_time`).
const DEFAULT_WAIT: Duration = Duration::from_secs(300);
const MAX_WAIT: Duration = Duration::from_secs(600);

/// Everything a handler needs, shared by every request (cloning it is one
/// reference count).
#[derive(Clone, Debug)]
pub(crate) struct App(Arc<AppState>);

impl App {
    pub(crate) fn new(state: AppState) -> App {
        App(Arc::new(state))
    }
}

impl std::ops::Deref for App {
    type Target = AppState;

    fn deref(&self) -> &AppState {
        &self.0
    }
}

/// What [`App`] holds.
#[derive(Debug)]
pub(crate) struct AppState {
    pub(crate) store: Arc<Store>,
    pub(crate) info: Arc<AgentInfo>,
    pub(crate) acl: Arc<crate::acl::Acl>,
    pub(crate) runner: CheckRunner,
    pub(crate) shapes: Shapes,
    pub(crate) metrics: Arc<Metrics>,
    /// Rendered answers of hot reads.
    pub(crate) cache: ReadCache,
    /// Cancelled by `PUT /v1/agent/leave`.
    pub(crate) leave: CancellationToken,
    /// Size and time limits of requests.
    pub(crate) limits: crate::limits::Limits,
    /// Logs, coordinates, Connect CA, prepared queries, config entries.
    pub(crate) extra: Arc<crate::extra::Extra>,
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut resp = (self.status, self.message).into_response();
        resp.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/plain; charset=utf-8"),
        );
        resp
    }
}

/// The raw query string as a list of pairs (`?passing` is `("passing", "")`).
#[derive(Debug, Default)]
pub(crate) struct Params(pub(crate) Vec<(String, String)>);

impl Params {
    pub(crate) fn parse(query: Option<&str>) -> Params {
        Params(
            form_urlencoded::parse(query.unwrap_or_default().as_bytes())
                .map(|(k, v)| (k.into_owned(), v.into_owned()))
                .collect(),
        )
    }

    pub(crate) fn get(&self, key: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    pub(crate) fn has(&self, key: &str) -> bool {
        self.0.iter().any(|(k, _)| k == key)
    }

    pub(crate) fn all(&self, key: &str) -> Vec<String> {
        self.0
            .iter()
            .filter(|(k, _)| k == key)
            .map(|(_, v)| v.clone())
            .collect()
    }

    /// A Go `strconv.ParseBool` flag: present with no value means true.
    pub(crate) fn flag(&self, key: &str) -> Result<bool, ()> {
        match self.get(key) {
            None => Ok(false),
            Some("") => Ok(true),
            Some(v) => parse_bool(v).ok_or(()),
        }
    }

    pub(crate) fn encoded(&self) -> String {
        let mut pairs = self.0.clone();
        pairs.sort();
        form_urlencoded::Serializer::new(String::new())
            .extend_pairs(pairs)
            .finish()
    }
}

/// Go's `strconv.ParseBool`.
pub(crate) fn parse_bool(v: &str) -> Option<bool> {
    match v {
        "1" | "t" | "T" | "TRUE" | "true" | "True" => Some(true),
        "0" | "f" | "F" | "FALSE" | "false" | "False" => Some(false),
        _ => None,
    }
}

/// Options shared by read endpoints.
#[derive(Debug)]
pub(crate) struct ReadOpts {
    pub(crate) blocking: BlockingOpts,
    pub(crate) consistency: &'static str,
    pub(crate) filter: Option<Filter>,
    pub(crate) node_meta: Vec<(String, String)>,
}

impl App {
    /// Parses `index`, `wait`, consistency, `dc`, `node-meta` and `filter`.
    pub(crate) fn read_opts(
        &self,
        p: &Params,
        shape: Option<&serde_json::Value>,
    ) -> Result<ReadOpts, ApiError> {
        self.check_dc(p)?;
        let index = match p.get("index") {
            None | Some("") => 0,
            Some(v) => v
                .parse::<u64>()
                .map_err(|_| ApiError::bad_request("Invalid index"))?,
        };
        let wait = match p.get("wait") {
            None | Some("") => DEFAULT_WAIT,
            Some(v) => {
                let d =
                    duration::parse(v).map_err(|_| ApiError::bad_request("Invalid wait time"))?;
                if d.is_zero() {
                    DEFAULT_WAIT
                } else {
                    d.min(MAX_WAIT)
                }
            }
        };
        let jitter_ns = (wait.as_nanos() / 16) as u64;
        let wait = wait + Duration::from_nanos(fastrand::u64(0..jitter_ns.max(1)));
        let stale = p.has("stale");
        let consistent = p.has("consistent");
        if stale && consistent {
            return Err(ApiError::bad_request(
                "Cannot specify ?stale with ?consistent, conflicting semantics.",
            ));
        }
        if p.has("cached") && consistent {
            return Err(ApiError::bad_request(
                "Cannot specify ?cached with ?consistent, conflicting semantics.",
            ));
        }
        if let Some(ms) = p.get("max_stale") {
            if !ms.is_empty() && duration::parse(ms).is_err() {
                return Err(ApiError::bad_request(format!(
                    "Invalid max_stale value {ms:?}"
                )));
            }
        }
        let filter = match (p.get("filter"), shape) {
            (Some(f), Some(shape)) if !f.trim().is_empty() => {
                Some(Filter::parse(f, shape).map_err(|e| {
                    ApiError::bad_request(format!(
                        "Failed to create boolean expression evaluator: {e}"
                    ))
                })?)
            }
            _ => None,
        };
        let node_meta = p
            .all("node-meta")
            .into_iter()
            .map(|kv| match kv.split_once(':') {
                Some((k, v)) => (k.to_string(), v.to_string()),
                None => (kv, String::new()),
            })
            .collect();
        Ok(ReadOpts {
            blocking: BlockingOpts { index, wait },
            consistency: if stale {
                "stale"
            } else if consistent {
                "consistent"
            } else {
                "leader"
            },
            filter,
            node_meta,
        })
    }

    /// `?dc=` other than ours: Consul's "No path to datacenter".
    pub(crate) fn check_dc(&self, p: &Params) -> Result<(), ApiError> {
        match p.get("dc") {
            Some(dc) if !dc.is_empty() && dc != self.info.datacenter => {
                Err(ApiError::internal("No path to datacenter"))
            }
            _ => Ok(()),
        }
    }
}

/// Reads a request body of at most `limit` bytes. A body that says it is
/// larger (`Content-Length`) is refused with a 413 before any of it is read;
/// one that turns out larger is refused once `limit + 1` bytes have arrived,
/// so a request never holds more than `limit` bytes. A body that does not
/// arrive within `limits.http_read_timeout` gets a 408.
pub(crate) async fn read_body(body: Body, limit: usize) -> Result<Bytes, ApiError> {
    read_body_or(body, limit, |size| {
        let size = size.map_or_else(|| format!("more than {limit}"), |s| s.to_string());
        ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!("Request body({size} bytes) too large, max size: {limit} bytes"),
        )
    })
    .await
}

/// [`read_body`] with the 413 of the caller (given the declared size, if any).
pub(crate) async fn read_body_or(
    body: Body,
    limit: usize,
    too_large: impl Fn(Option<u64>) -> ApiError,
) -> Result<Bytes, ApiError> {
    use axum::body::HttpBody as _;
    let declared = body.size_hint().exact();
    if declared.is_some_and(|n| n > limit as u64) {
        return Err(too_large(declared));
    }
    match axum::body::to_bytes(body, limit).await {
        Ok(bytes) => Ok(bytes),
        Err(e) => Err(body_error(&e).unwrap_or_else(|| too_large(None))),
    }
}

/// The error of a body that failed for another reason than its size (`None`: its size).
fn body_error(e: &axum::Error) -> Option<ApiError> {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(err) = source {
        if let Some(t) = err.downcast_ref::<serve::BodyTimeout>() {
            return Some(ApiError::new(
                StatusCode::REQUEST_TIMEOUT,
                format!("{t}: send the body at once, or raise limits.http_read_timeout"),
            ));
        }
        if err.is::<hyper::Error>() {
            return Some(ApiError::bad_request(format!(
                "Failed to read the request body: {err}"
            )));
        }
        source = err.source();
    }
    None
}

/// Reads and decodes a JSON request body with Consul's rules.
pub(crate) async fn read_json<T: serde::de::DeserializeOwned>(body: Body) -> Result<T, ApiError> {
    let bytes = read_body(body, MAX_JSON_BODY).await?;
    crate::decode::decode(&bytes).map_err(ApiError::decode)
}

/// Keeps the entries that match the filter (their JSON form is built only then).
pub(crate) fn apply_filter<T>(
    filter: Option<&Filter>,
    items: Vec<T>,
    as_json: impl Fn(&T) -> serde_json::Result<serde_json::Value>,
) -> Vec<T> {
    match filter {
        None => items,
        Some(f) => items
            .into_iter()
            .filter(|i| as_json(i).is_ok_and(|v| f.matches(&v)))
            .collect(),
    }
}

/// One endpoint: the handler for `methods`, OPTIONS, and Consul's 405.
pub(crate) fn endpoint<H, T>(methods: &'static [Method], handler: H) -> MethodRouter<App>
where
    H: axum::handler::Handler<T, App>,
    T: 'static,
{
    let allow: String = std::iter::once("OPTIONS")
        .chain(methods.iter().map(Method::as_str))
        .collect::<Vec<_>>()
        .join(",");
    let mut filter: Option<MethodFilter> = None;
    for m in methods {
        let f = MethodFilter::try_from(m.clone()).unwrap_or(MethodFilter::GET);
        filter = Some(filter.map_or(f, |acc| acc.or(f)));
    }
    let allow_opts = allow.clone();
    on(filter.unwrap_or(MethodFilter::GET), handler)
        .options(move || {
            let allow = allow_opts.clone();
            async move { ([(header::ALLOW, allow)], StatusCode::OK) }
        })
        .fallback(move |method: Method| {
            let allow = allow.clone();
            async move {
                (
                    StatusCode::METHOD_NOT_ALLOWED,
                    [(header::ALLOW, allow)],
                    format!("method {method} not allowed"),
                )
            }
        })
}

/// The router of the whole API.
pub(crate) fn router(app: App) -> Router {
    Router::new()
        .merge(agent::routes())
        .merge(catalog::routes())
        .merge(health::routes())
        .merge(kv::routes())
        .merge(session::routes())
        .merge(misc::routes())
        .merge(peering::routes())
        .merge(observe::routes())
        .merge(connect::routes())
        .merge(config::routes())
        .merge(query::routes())
        .merge(operator::routes())
        .merge(snapshot::routes())
        .merge(crate::acl::http::routes())
        .fallback(not_found)
        .layer(middleware::from_fn_with_state(app.clone(), scope::scope))
        .layer(middleware::from_fn_with_state(app.clone(), guard))
        .with_state(app)
}

async fn not_found(req: Request) -> Response {
    let path = req.uri().path();
    if path == "/" {
        return (StatusCode::OK, "Consul Agent").into_response();
    }
    if path.starts_with("/v1/") {
        return ApiError::not_found("Invalid URL path: not a recognized HTTP API endpoint")
            .into_response();
    }
    ApiError::not_found(
        "Invalid URL path: if attempting to use the HTTP API, ensure the path starts with '/v1/'",
    )
    .into_response()
}

/// `X-Consul-Token`, parsed once.
static X_CONSUL_TOKEN: header::HeaderName = header::HeaderName::from_static("x-consul-token");

/// The token of a request, as Consul reads it: `?token=`, else
/// `X-Consul-Token`, else `Authorization: Bearer`. Empty means none.
pub(crate) fn request_token<'a>(
    headers: &'a HeaderMap,
    query: Option<&'a str>,
) -> Option<Cow<'a, str>> {
    if let Some(q) = query.filter(|q| q.contains("token=")) {
        if let Some((_, v)) = form_urlencoded::parse(q.as_bytes()).find(|(k, _)| k == "token") {
            if !v.is_empty() {
                return Some(v);
            }
        }
    }
    if let Some(t) = headers
        .get(&X_CONSUL_TOKEN)
        .and_then(|v| v.to_str().ok())
        .filter(|t| !t.is_empty())
    {
        return Some(Cow::Borrowed(t));
    }
    let auth = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, value) = auth.split_once(' ')?;
    let t = value.split_whitespace().next()?;
    (scheme == "Bearer").then_some(Cow::Borrowed(t))
}

/// The authority of a request: handlers that check ACLs take a [`Caller`];
/// an unknown or expired token is Consul's 403 `ACL not found`. Endpoints
/// that need no token (status, datacenters, version) never resolve it.
impl axum::extract::FromRequestParts<App> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        app: &App,
    ) -> Result<Caller, ApiError> {
        if !app.acl.enabled() {
            return app.acl.resolve(None);
        }
        let token = request_token(&parts.headers, parts.uri.query());
        app.acl.resolve(token.as_deref())
    }
}

/// The token a request carries, unresolved (for `token/self`, which answers
/// 404 itself for an unknown token).
#[derive(Debug)]
pub(crate) struct RequestToken(pub(crate) Option<String>);

impl axum::extract::FromRequestParts<App> for RequestToken {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        _app: &App,
    ) -> Result<RequestToken, Self::Rejection> {
        Ok(RequestToken(
            request_token(&parts.headers, parts.uri.query()).map(Cow::into_owned),
        ))
    }
}

/// The default-policy header, request metrics, and `?pretty`.
async fn guard(State(app): State<App>, req: Request, next: Next) -> Response {
    let policy = app.acl.default_policy_word();
    let pretty = req.uri().query().is_some_and(|q| q.contains("pretty"))
        && Params::parse(req.uri().query()).has("pretty");
    app.metrics.http_requests.inc();
    let logged = app.extra.logs.listening().then(|| {
        (
            req.method().clone(),
            req.uri().path().to_string(),
            std::time::Instant::now(),
        )
    });
    let mut resp = next.run(req).await;
    if let Some((method, path, t0)) = logged {
        app.extra.logs.publish(
            crate::logs::LogLevel::Debug,
            "agent.http",
            format!(
                "Request finished: method={method} url={path} latency={:?}",
                t0.elapsed()
            ),
        );
    }
    resp.headers_mut()
        .insert(&X_CONSUL_DEFAULT_POLICY, HeaderValue::from_static(policy));
    let is_json = resp
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(b"application/json"));
    if pretty && is_json && resp.extensions().get::<Indented>().is_none() {
        let (parts, body) = resp.into_parts();
        let bytes = axum::body::to_bytes(body, 64 << 20)
            .await
            .unwrap_or_default();
        let body = pretty::reindent(&bytes).unwrap_or(bytes);
        let mut resp = Response::from_parts(parts, Body::from(body));
        resp.headers_mut().remove(header::CONTENT_LENGTH);
        return resp;
    }
    resp
}
