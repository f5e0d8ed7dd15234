//! Responses: JSON bodies (compact, or indented for `?pretty`), the query
//! metadata headers of reads, and the responses of cached reads.

use axum::body::{Body, Bytes};
use axum::http::{header, HeaderMap, HeaderName, HeaderValue, StatusCode};
use axum::response::Response;
use serde::Serialize;

use super::cache::{Rendered, Spec};
use super::{pretty, Caller};
use crate::error::ApiError;

/// Serializes compactly with a trailing newline (`?pretty` re-indents in [`guard`]).
pub(crate) fn to_json<T: Serialize + ?Sized>(value: &T) -> Result<Bytes, ApiError> {
    let mut buf = Vec::with_capacity(512);
    serde_json::to_writer(&mut buf, value)
        .map_err(|e| ApiError::internal(format!("encoding response: {e}")))?;
    buf.push(b'\n');
    Ok(Bytes::from(buf))
}

/// The body of a read: compact, or indented for `?pretty`.
pub(crate) fn encode<T: Serialize + ?Sized>(value: &T, pretty: bool) -> Result<Bytes, ApiError> {
    let body = to_json(value)?;
    Ok(if pretty {
        pretty::reindent(&body).unwrap_or(body)
    } else {
        body
    })
}

/// Marks a response whose body is already indented for `?pretty`.
#[derive(Clone, Copy, Debug)]
pub(super) struct Indented;

/// The query metadata headers a read answers with.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Meta {
    /// None (agent-local reads).
    None,
    /// `X-Consul-Index`, `X-Consul-KnownLeader`, `X-Consul-LastContact`.
    Index,
    /// Those and `X-Consul-Effective-Consistency`.
    Consistency(&'static str),
}

/// The headers of a cached answer that are the same for every caller: the
/// content type, the query metadata of its index, and the default policy.
pub(crate) fn answer_headers(r: &Rendered, spec: &Spec, policy: &'static str) -> HeaderMap {
    let mut h = HeaderMap::with_capacity(8);
    if r.status == StatusCode::OK && spec.raw {
        h.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/plain"));
        h.insert(&X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
        h.insert(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static("sandbox"),
        );
    } else if r.status == StatusCode::OK {
        h.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
    }
    match spec.meta {
        Meta::None => {}
        Meta::Index => set_meta(&mut h, r.index, None),
        Meta::Consistency(c) => set_meta(&mut h, r.index, Some(c)),
    }
    h.insert(&X_CONSUL_DEFAULT_POLICY, HeaderValue::from_static(policy));
    h
}

/// The response of a cached read: its body, status and headers, and the
/// ACL header of this caller.
/// (`authenticated`: the caller sent a token or has the agent's `default`
/// token, so it may be told that ACLs left something out).
pub(crate) fn read_response(r: &Rendered, spec: &Spec, authenticated: bool) -> Response {
    let mut resp = Response::new(Body::from(r.body.clone()));
    *resp.status_mut() = r.status;
    *resp.headers_mut() = r.headers.clone();
    if r.filtered && authenticated {
        resp.headers_mut()
            .insert(&X_CONSUL_FILTERED, HeaderValue::from_static("true"));
    }
    if spec.pretty {
        resp.extensions_mut().insert(Indented);
    }
    resp
}

/// A JSON response without query metadata.
pub(crate) fn json<T: Serialize + ?Sized>(value: &T) -> Result<Response, ApiError> {
    Ok(with_body(
        StatusCode::OK,
        "application/json",
        to_json(value)?,
    ))
}

/// A JSON response of a read endpoint, with the blocking-query headers.
pub(crate) fn json_meta<T: Serialize + ?Sized>(
    value: &T,
    index: u64,
    consistency: Option<&'static str>,
) -> Result<Response, ApiError> {
    let mut resp = json(value)?;
    set_meta(resp.headers_mut(), index, consistency);
    Ok(resp)
}

pub(crate) fn with_body(status: StatusCode, content_type: &'static str, body: Bytes) -> Response {
    let mut resp = Response::new(Body::from(body));
    *resp.status_mut() = status;
    resp.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    resp
}

static X_CONSUL_INDEX: HeaderName = HeaderName::from_static("x-consul-index");
static X_CONSUL_KNOWN_LEADER: HeaderName = HeaderName::from_static("x-consul-knownleader");
static X_CONSUL_LAST_CONTACT: HeaderName = HeaderName::from_static("x-consul-lastcontact");
static X_CONSUL_CONSISTENCY: HeaderName = HeaderName::from_static("x-consul-effective-consistency");
static X_CONSUL_FILTERED: HeaderName = HeaderName::from_static("x-consul-results-filtered-by-acls");
pub(super) static X_CONSUL_DEFAULT_POLICY: HeaderName =
    HeaderName::from_static("x-consul-default-acl-policy");
static X_CONTENT_TYPE_OPTIONS: HeaderName = HeaderName::from_static("x-content-type-options");

/// `X-Consul-Index` (never 0), `X-Consul-KnownLeader`, `X-Consul-LastContact`.
pub(crate) fn set_meta(h: &mut HeaderMap, index: u64, consistency: Option<&'static str>) {
    h.insert(&X_CONSUL_INDEX, HeaderValue::from(index.max(1)));
    h.insert(&X_CONSUL_KNOWN_LEADER, HeaderValue::from_static("true"));
    h.insert(&X_CONSUL_LAST_CONTACT, HeaderValue::from_static("0"));
    if let Some(c) = consistency {
        h.insert(&X_CONSUL_CONSISTENCY, HeaderValue::from_static(c));
    }
}

/// Sets `X-Consul-Results-Filtered-By-ACLs: true` when something was left
/// out, and only for a caller with a token (Consul's rule against leaks).
pub(crate) fn set_filtered(resp: &mut Response, caller: &Caller, filtered: bool) {
    if filtered && caller.authenticated {
        resp.headers_mut()
            .insert(&X_CONSUL_FILTERED, HeaderValue::from_static("true"));
    }
}
