//! Cached reads answered before routing: a `GET` whose answer is in the
//! read cache (see `cache`) is answered from it without going through the
//! router, the extractors and the handler, as a caching proxy in front of
//! the API would. Everything else, and every read whose entry is missing or
//! out of date, goes through the router, which renders and caches it.
//!
//! A request is answered here only when nothing about it can differ from
//! the request that rendered the entry:
//! - it is a `GET` without a body, and its query has no blocking parameters
//!   (`index`, `wait`), no `token` (the parameters left out of the key) and
//!   none of the scope layer's (`dc`, `peer`, `cached`, `merge-central-config`);
//!   every other parameter is in the key, and the entry exists only because
//!   a request with the same ones passed the handler's checks;
//! - its authority is the entry's: with ACLs off, everyone's; with ACLs on,
//!   its token resolves to the very authority the entry was filtered for
//!   (entries shared by every caller, which a handler checks per request,
//!   are never answered here when ACLs are on);
//! - the entry is current: nothing was written since it was last found
//!   current, or the index of what it depends on has not moved since it
//!   was rendered (one short lock of the store).

use axum::body::Body;
use axum::http::{Method, Request, Response};
use hyper::body::{Body as _, Incoming};

use super::cache::plain_key;
use super::{read_response, request_token, App};

/// The answer of `req` from the read cache, if it holds a current one.
pub(crate) fn answer(app: &App, req: &Request<Incoming>) -> Option<Response<Body>> {
    if req.method() != Method::GET || !req.body().is_end_stream() {
        return None;
    }
    // `?dc`, `?peer`, `?cached` and `?merge-central-config` are answered
    // by the scope layer, behind the router.
    if req.uri().query().is_some_and(super::scope::applies) {
        return None;
    }
    let key = plain_key(req.uri().path(), req.uri().query())?;
    // With ACLs off every caller is the same authority (0), and nobody is
    // told that ACLs filtered anything.
    let (who, caller) = if app.acl.enabled() {
        let caller = app
            .acl
            .resolve(request_token(req.headers(), None).as_deref())
            .ok()?;
        (std::sync::Arc::as_ptr(&caller.authz) as usize, Some(caller))
    } else {
        (0, None)
    };
    let slot = app.cache.lookup(&key, who)?;
    if !slot.current(&app.store) {
        return None;
    }
    let rendered = slot.rendered()?;
    app.metrics.http_requests.inc();
    let authenticated = caller.is_some_and(|c| c.authenticated);
    Some(read_response(rendered, &slot.spec, authenticated))
}
