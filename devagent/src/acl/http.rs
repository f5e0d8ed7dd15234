//! `/v1/acl/*`: bootstrap, tokens (with `self` and `clone`), policies and
//! roles (by ID and by name), with the ACLs Consul requires for each.
//! Objects are copied out of the store under its lock and rendered after.

use axum::body::Body;
use axum::extract::{Path, RawQuery, State};
use axum::http::{Method, StatusCode};
use axum::response::Response;
use axum::Router;
use serde::Deserialize;
use serde_json::Value;

use super::store::AclStore;
use super::types::{
    Link, Policy, PolicyIn, PolicyOut, Role, RoleIn, RoleOut, Token, TokenIn, TokenOut, REDACTED,
};
use super::{Acl, Caller, Global, Level, Resource, Secret};
use crate::error::ApiError;
use crate::http::{endpoint, json, json_meta, read_body, App, Params, RequestToken};

const GET: &[Method] = &[Method::GET];
const PUT: &[Method] = &[Method::PUT];
const CRUD: &[Method] = &[Method::GET, Method::PUT, Method::DELETE];
/// Largest ACL request body (policies with many rules fit easily).
const MAX_BODY: usize = 1 << 20;

pub(crate) fn routes() -> Router<App> {
    Router::new()
        .route("/v1/acl/bootstrap", endpoint(PUT, bootstrap))
        .route("/v1/acl/token", endpoint(PUT, token_create))
        .route("/v1/acl/token/self", endpoint(GET, token_self))
        .route("/v1/acl/token/{*id}", endpoint(CRUD, token_crud))
        .route("/v1/acl/tokens", endpoint(GET, token_list))
        .route("/v1/acl/policy", endpoint(PUT, policy_create))
        .route("/v1/acl/policy/name/{*name}", endpoint(GET, policy_by_name))
        .route("/v1/acl/policy/{*id}", endpoint(CRUD, policy_crud))
        .route("/v1/acl/policies", endpoint(GET, policy_list))
        .route("/v1/acl/role", endpoint(PUT, role_create))
        .route("/v1/acl/role/name/{*name}", endpoint(GET, role_by_name))
        .route("/v1/acl/role/{*id}", endpoint(CRUD, role_crud))
        .route("/v1/acl/roles", endpoint(GET, role_list))
}

/// 401 when ACLs are off, as Consul answers every ACL endpoint.
pub(crate) fn enabled(acl: &Acl) -> Result<(), ApiError> {
    if acl.enabled() {
        Ok(())
    } else {
        Err(ApiError::new(
            StatusCode::UNAUTHORIZED,
            "ACL support disabled",
        ))
    }
}

fn acl_read(c: &Caller) -> Result<(), ApiError> {
    c.authz
        .require(Resource::Global(Global::Acl), Level::Read, "")
}

fn acl_write(c: &Caller) -> Result<(), ApiError> {
    c.authz
        .require(Resource::Global(Global::Acl), Level::Write, "")
}

fn can_write(c: &Caller) -> bool {
    c.authz
        .allows(Resource::Global(Global::Acl), Level::Write, "")
}

async fn body<T: serde::de::DeserializeOwned>(b: Body, what: &str) -> Result<T, ApiError> {
    let bytes = read_body(b, MAX_BODY).await?;
    crate::decode::decode(&bytes)
        .map_err(|e| ApiError::bad_request(format!("{what} decoding failed: {e}")))
}

/// A token copied out of the store with the names of its links.
struct TokenView {
    token: Token,
    policies: Vec<Link>,
    roles: Vec<Link>,
}

impl TokenView {
    fn of(s: &AclStore, t: Token) -> TokenView {
        TokenView {
            policies: s.policy_links(&t.policies),
            roles: s.role_links(&t.roles),
            token: t,
        }
    }

    fn out(&self, show_secret: bool) -> TokenOut<'_> {
        let t = &self.token;
        TokenOut {
            accessor: &t.accessor,
            secret: if show_secret {
                t.secret.expose()
            } else {
                REDACTED
            },
            description: &t.description,
            policies: self.policies.clone(),
            roles: self.roles.clone(),
            service_identities: &t.service_identities,
            node_identities: &t.node_identities,
            local: t.local,
            expiration: t.expiration,
            create_time: t.create_time,
            hash: &t.hash,
            create_index: t.create_index,
            modify_index: t.modify_index,
        }
    }
}

fn policy_out(p: &Policy, stub: bool) -> PolicyOut<'_> {
    PolicyOut {
        id: &p.id,
        name: &p.name,
        description: &p.description,
        rules: (!stub).then_some(p.rules_text.as_str()),
        datacenters: match (stub, p.datacenters.is_empty()) {
            (true, true) => Some(None),
            (_, false) => Some(Some(&p.datacenters)),
            (false, true) => None,
        },
        hash: &p.hash,
        create_index: p.create_index,
        modify_index: p.modify_index,
    }
}

fn role_out(s: &AclStore, r: &Role) -> (Vec<Link>, Role) {
    (s.policy_links(&r.policies), r.clone())
}

fn render_role(links: Vec<Link>, r: &Role) -> RoleOut<'_> {
    RoleOut {
        id: &r.id,
        name: &r.name,
        description: &r.description,
        policies: links,
        service_identities: &r.service_identities,
        node_identities: &r.node_identities,
        hash: &r.hash,
        create_index: r.create_index,
        modify_index: r.modify_index,
    }
}

async fn bootstrap(State(app): State<App>, b: Body) -> Result<Response, ApiError> {
    enabled(&app.acl)?;
    #[derive(Default, Deserialize)]
    struct BootstrapIn {
        #[serde(rename = "BootstrapSecret", default)]
        secret: String,
    }
    let input: BootstrapIn = body(b, "Request").await?;
    let secret = (!input.secret.is_empty()).then(|| Secret::new(input.secret));
    let view = {
        let mut s = app.acl.lock();
        let t = s.bootstrap(secret.as_ref(), "Bootstrap Token (Global Management)")?;
        TokenView::of(&s, t)
    };
    tracing::info!(accessor = %view.token.accessor, "ACL bootstrap completed");
    let v = serde_json::to_value(view.out(true))
        .map_err(|e| ApiError::internal(format!("encoding the token: {e}")))?;
    let mut out = serde_json::Map::new();
    out.insert(
        "ID".into(),
        Value::String(view.token.secret.expose().to_string()),
    );
    if let Value::Object(m) = v {
        out.extend(m);
    }
    json(&out)
}

async fn token_create(
    State(app): State<App>,
    caller: Caller,
    b: Body,
) -> Result<Response, ApiError> {
    enabled(&app.acl)?;
    let input: TokenIn = body(b, "Token").await?;
    acl_write(&caller)?;
    let view = {
        let mut s = app.acl.lock();
        let t = s.token_create(input)?;
        TokenView::of(&s, t)
    };
    json(&view.out(true))
}

async fn token_self(State(app): State<App>, token: RequestToken) -> Result<Response, ApiError> {
    enabled(&app.acl)?;
    let Some(secret) = app.acl.effective_secret(token.0.as_deref()) else {
        return Err(ApiError::not_found("Supplied token does not exist"));
    };
    let (view, index) = {
        let s = app.acl.lock();
        let found = s
            .token_by_secret(secret.expose())
            .filter(|t| !t.expired(std::time::SystemTime::now()))
            .cloned();
        match found {
            Some(t) => (TokenView::of(&s, t), s.index),
            None => return Err(ApiError::not_found("Supplied token does not exist")),
        }
    };
    json_meta(&view.out(true), index, None)
}

async fn token_crud(
    State(app): State<App>,
    caller: Caller,
    token: RequestToken,
    method: Method,
    Path(id): Path<String>,
    b: Body,
) -> Result<Response, ApiError> {
    enabled(&app.acl)?;
    if method == Method::PUT {
        if let Some(src) = id.strip_suffix("/clone") {
            let input: TokenIn = body(b, "Token").await?;
            acl_write(&caller)?;
            let view = {
                let mut s = app.acl.lock();
                let t = s.token_clone(src, input.description)?;
                TokenView::of(&s, t)
            };
            return json(&view.out(true));
        }
        let input: TokenIn = body(b, "Token").await?;
        acl_write(&caller)?;
        let view = {
            let mut s = app.acl.lock();
            let t = s.token_update(input, &id)?;
            app.acl.forget(&t.secret);
            TokenView::of(&s, t)
        };
        return json(&view.out(true));
    }
    if id.is_empty() {
        return Err(ApiError::bad_request("Missing token AccessorID"));
    }
    if method == Method::DELETE {
        acl_write(&caller)?;
        let requester = app.acl.effective_secret(token.0.as_deref());
        let requester = requester.as_ref().map_or("", Secret::expose);
        let removed = app.acl.lock().token_delete(&id, requester)?;
        if let Some(t) = removed {
            app.acl.forget(&t.secret);
        }
        return json(&true);
    }
    acl_read(&caller)?;
    let show = can_write(&caller);
    let (view, index) = {
        let s = app.acl.lock();
        let found = s
            .tokens
            .get(&id)
            .filter(|t| !t.expired(std::time::SystemTime::now()))
            .cloned();
        match found {
            Some(t) => (TokenView::of(&s, t), s.index),
            None => {
                return Err(ApiError::not_found(
                    "Requested token does not exist: ACL not found",
                ))
            }
        }
    };
    json_meta(&view.out(show), index, None)
}

async fn token_list(
    State(app): State<App>,
    caller: Caller,
    RawQuery(q): RawQuery,
) -> Result<Response, ApiError> {
    enabled(&app.acl)?;
    acl_read(&caller)?;
    let p = Params::parse(q.as_deref());
    app.check_dc(&p)?;
    let show = can_write(&caller);
    let policy = p.get("policy").filter(|v| !v.is_empty());
    let role = p.get("role").filter(|v| !v.is_empty());
    let service = p.get("servicename").filter(|v| !v.is_empty());
    let by_method = p.get("authmethod").is_some_and(|v| !v.is_empty());
    let now = std::time::SystemTime::now();
    let (views, index) = {
        let s = app.acl.lock();
        let views: Vec<TokenView> = s
            .tokens
            .values()
            .filter(|t| !t.expired(now) && !by_method)
            .filter(|t| policy.is_none_or(|id| t.policies.iter().any(|x| x == id)))
            .filter(|t| role.is_none_or(|id| t.roles.iter().any(|x| x == id)))
            .filter(|t| {
                service.is_none_or(|n| t.service_identities.iter().any(|x| x.service_name == n))
            })
            .map(|t| TokenView::of(&s, t.clone()))
            .collect();
        (views, s.index)
    };
    let out: Vec<TokenOut<'_>> = views.iter().map(|v| v.out(show)).collect();
    json_meta(&out, index, None)
}

async fn policy_create(
    State(app): State<App>,
    caller: Caller,
    b: Body,
) -> Result<Response, ApiError> {
    enabled(&app.acl)?;
    let input: PolicyIn = body(b, "Policy").await?;
    acl_write(&caller)?;
    let p = app.acl.lock().policy_set(input, "", true)?;
    app.acl.forget_all();
    json(&policy_out(&p, false))
}

fn policy_get(
    app: &App,
    caller: &Caller,
    find: impl Fn(&AclStore) -> Option<Policy>,
) -> Result<Response, ApiError> {
    enabled(&app.acl)?;
    acl_read(caller)?;
    let (p, index) = {
        let s = app.acl.lock();
        (find(&s), s.index)
    };
    match p {
        Some(p) => json_meta(&policy_out(&p, false), index, None),
        None => Err(ApiError::not_found(
            "Requested policy does not exist: ACL not found",
        )),
    }
}

async fn policy_by_name(
    State(app): State<App>,
    caller: Caller,
    Path(name): Path<String>,
) -> Result<Response, ApiError> {
    if name.is_empty() {
        return Err(ApiError::bad_request("Missing policy Name"));
    }
    policy_get(&app, &caller, |s| {
        s.policy_names
            .get(&name)
            .and_then(|id| s.policies.get(id))
            .cloned()
    })
}

async fn policy_crud(
    State(app): State<App>,
    caller: Caller,
    method: Method,
    Path(id): Path<String>,
    b: Body,
) -> Result<Response, ApiError> {
    enabled(&app.acl)?;
    match method {
        Method::PUT => {
            let input: PolicyIn = body(b, "Policy").await?;
            acl_write(&caller)?;
            let p = app.acl.lock().policy_set(input, &id, false)?;
            app.acl.forget_all();
            json(&policy_out(&p, false))
        }
        Method::DELETE => {
            acl_write(&caller)?;
            if !app.acl.lock().policy_delete(&id)? {
                return Err(ApiError::not_found("Cannot find policy to delete"));
            }
            app.acl.forget_all();
            json(&true)
        }
        _ => {
            if id.is_empty() {
                return Err(ApiError::bad_request("Missing policy ID"));
            }
            policy_get(&app, &caller, |s| s.policies.get(&id).cloned())
        }
    }
}

async fn policy_list(State(app): State<App>, caller: Caller) -> Result<Response, ApiError> {
    enabled(&app.acl)?;
    acl_read(&caller)?;
    let (list, index) = {
        let s = app.acl.lock();
        (s.policies.values().cloned().collect::<Vec<_>>(), s.index)
    };
    let out: Vec<PolicyOut<'_>> = list.iter().map(|p| policy_out(p, true)).collect();
    json_meta(&out, index, None)
}

async fn role_create(
    State(app): State<App>,
    caller: Caller,
    b: Body,
) -> Result<Response, ApiError> {
    enabled(&app.acl)?;
    let input: RoleIn = body(b, "Role").await?;
    acl_write(&caller)?;
    let (links, r) = {
        let mut s = app.acl.lock();
        let r = s.role_set(input, "")?;
        role_out(&s, &r)
    };
    app.acl.forget_all();
    json(&render_role(links, &r))
}

fn role_get(
    app: &App,
    caller: &Caller,
    find: impl Fn(&AclStore) -> Option<Role>,
) -> Result<Response, ApiError> {
    enabled(&app.acl)?;
    acl_read(caller)?;
    let (found, index) = {
        let s = app.acl.lock();
        (find(&s).map(|r| role_out(&s, &r)), s.index)
    };
    match found {
        Some((links, r)) => json_meta(&render_role(links, &r), index, None),
        None => Err(ApiError::not_found(
            "Requested role does not exist: ACL not found",
        )),
    }
}

async fn role_by_name(
    State(app): State<App>,
    caller: Caller,
    Path(name): Path<String>,
) -> Result<Response, ApiError> {
    if name.is_empty() {
        return Err(ApiError::bad_request("Missing role Name"));
    }
    role_get(&app, &caller, |s| {
        s.role_names
            .get(&name)
            .and_then(|id| s.roles.get(id))
            .cloned()
    })
}

async fn role_crud(
    State(app): State<App>,
    caller: Caller,
    method: Method,
    Path(id): Path<String>,
    b: Body,
) -> Result<Response, ApiError> {
    enabled(&app.acl)?;
    match method {
        Method::PUT => {
            let input: RoleIn = body(b, "Role").await?;
            acl_write(&caller)?;
            let (links, r) = {
                let mut s = app.acl.lock();
                let r = s.role_set(input, &id)?;
                role_out(&s, &r)
            };
            app.acl.forget_all();
            json(&render_role(links, &r))
        }
        Method::DELETE => {
            acl_write(&caller)?;
            if !app.acl.lock().role_delete(&id) {
                return Err(ApiError::not_found("Cannot find role to delete"));
            }
            app.acl.forget_all();
            json(&true)
        }
        _ => {
            if id.is_empty() {
                return Err(ApiError::bad_request("Missing role ID"));
            }
            role_get(&app, &caller, |s| s.roles.get(&id).cloned())
        }
    }
}

async fn role_list(
    State(app): State<App>,
    caller: Caller,
    RawQuery(q): RawQuery,
) -> Result<Response, ApiError> {
    enabled(&app.acl)?;
    acl_read(&caller)?;
    let p = Params::parse(q.as_deref());
    let policy = p.get("policy").filter(|v| !v.is_empty());
    let (list, index) = {
        let s = app.acl.lock();
        let list: Vec<(Vec<Link>, Role)> = s
            .roles
            .values()
            .filter(|r| policy.is_none_or(|id| r.policies.iter().any(|x| x == id)))
            .map(|r| role_out(&s, r))
            .collect();
        (list, s.index)
    };
    let out: Vec<RoleOut<'_>> = list
        .iter()
        .map(|(l, r)| render_role(l.clone(), r))
        .collect();
    json_meta(&out, index, None)
}

/// `PUT /v1/agent/token/:kind` with `{"Token": "..."}`: needs `agent:write`.
pub(crate) async fn agent_token(
    State(app): State<App>,
    caller: Caller,
    Path(kind): Path<String>,
    b: Body,
) -> Result<Response, ApiError> {
    enabled(&app.acl)?;
    caller
        .authz
        .need(super::Kind::Agent, Level::Write, &app.info.node_name)?;
    #[derive(Default, Deserialize)]
    struct AgentTokenIn {
        #[serde(rename = "Token", default)]
        token: String,
    }
    let input: AgentTokenIn = body(b, "Request").await?;
    app.acl.set_agent_token(&kind, input.token)?;
    tracing::info!(token = %kind, "Updated agent's ACL token");
    Ok(axum::response::IntoResponse::into_response(StatusCode::OK))
}
