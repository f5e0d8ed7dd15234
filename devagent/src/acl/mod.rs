//! Consul's ACL system on one agent: tokens, policies in Consul's rule
//! language, roles, service and node identities, the built-in management
//! policy, the anonymous token, `default_policy`, the agent's own tokens
//! (`default`, `agent`, `dns`, `agent_recovery`) and bootstrap.
//!
//! - `rules` parses the rule language (HCL or JSON) once, when a policy is written;
//! - `authz` compiles a token's policies into lookup tables and decides;
//! - `store` and `tokens` hold tokens, policies and roles with Consul's checks;
//! - `http` serves `/v1/acl/*` and `/v1/agent/token/*`;
//! - this module resolves a request's token to its [`Authz`], cached by
//!   secret: a request costs one read-locked map lookup, never a parse.

mod authz;
pub mod config;
pub(crate) mod http;
mod rules;
mod snapshot;
mod store;
#[cfg(test)]
mod tests;
mod tokens;
mod types;

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, RwLock};
use std::time::SystemTime;

pub(crate) use authz::{Authz, Level, ReadMemo, Resource};
pub use config::{AclConfig, AclTokens, DefaultPolicy, Secret};
pub(crate) use rules::{Global, Kind};
pub(crate) use snapshot::AclSnapshot;

use crate::error::ApiError;
use crate::state::Store;
use store::AclStore;

/// A resolved token, cached by its secret.
#[derive(Debug)]
struct Cached {
    authz: Arc<Authz>,
    expires: Option<SystemTime>,
}

/// Tokens the agent holds, changeable through `/v1/agent/token/*`.
#[derive(Debug, Default)]
struct AgentTokens {
    default: Option<Secret>,
    dns: Option<Secret>,
    agent: Option<Secret>,
    agent_recovery: Option<Secret>,
    replication: Option<Secret>,
    config_file_service_registration: Option<Secret>,
}

/// The ACL system of one agent.
#[derive(Debug)]
pub(crate) struct Acl {
    enabled: bool,
    default_allow: bool,
    enable_key_list_policy: bool,
    node_name: String,
    down_policy: String,
    disabled: Arc<Authz>,
    /// Everything denied: a DNS token that does not resolve.
    deny_all: Arc<Authz>,
    store: Mutex<AclStore>,
    cache: RwLock<HashMap<Secret, Arc<Cached>>>,
    agent_tokens: RwLock<AgentTokens>,
}

/// The authority of one request.
#[derive(Clone, Debug)]
pub(crate) struct Caller {
    /// What the token may do.
    pub(crate) authz: Arc<Authz>,
    /// A token was given or the agent's `default` token used: only then does
    /// a list say that ACLs left something out (Consul's rule against leaks).
    pub(crate) authenticated: bool,
}

/// Consul's ACL checks of transaction operations (`kvsPreApply`): reads of
/// values are filtered from the results instead; checks need read; a tree
/// delete needs write on everything under the prefix; the rest need write.
/// Returns the refused operations' positions and messages.
pub(crate) fn txn_denials<'a>(
    authz: &Authz,
    ops: impl Iterator<Item = (&'a str, &'a str)>,
) -> Vec<(usize, String)> {
    if authz.is_disabled() {
        return Vec::new();
    }
    let key = Resource::Named(Kind::Key);
    ops.enumerate()
        .filter_map(|(i, (verb, k))| {
            let denied = match verb {
                "get" | "get-tree" => None,
                "check-index" | "check-session" | "check-not-exists" => {
                    (!authz.key_read(k)).then(|| authz.denied(key, Level::Read, k))
                }
                "delete-tree" => {
                    (!authz.key_write_prefix(k)).then(|| authz.denied(key, Level::Write, k))
                }
                _ => authz.require(key, Level::Write, k).err(),
            };
            denied.map(|e| (i, e.message))
        })
        .collect()
}

fn not_found() -> ApiError {
    ApiError::forbidden("ACL not found")
}

impl Acl {
    /// The ACL system described by `cfg`.
    pub(crate) fn new(cfg: &AclConfig, state: Arc<Store>) -> Acl {
        let dc = state.config().datacenter.clone();
        let node_name = state.config().node_name.clone();
        let store = AclStore::new(
            state,
            dc,
            cfg.token_min_expiration_ttl,
            cfg.token_max_expiration_ttl,
        );
        let t = &cfg.tokens;
        let acl = Acl {
            enabled: cfg.enabled,
            default_allow: cfg.default_policy == DefaultPolicy::Allow,
            enable_key_list_policy: cfg.enable_key_list_policy,
            node_name,
            down_policy: cfg.down_policy.clone(),
            disabled: Arc::new(Authz::disabled()),
            deny_all: Arc::new(Authz::new(
                Arc::from(""),
                Arc::new(authz::Compiled::default()),
                false,
            )),
            store: Mutex::new(store),
            cache: RwLock::new(HashMap::new()),
            agent_tokens: RwLock::new(AgentTokens {
                default: t.default.clone(),
                dns: t.dns.clone(),
                agent: t.agent.clone(),
                agent_recovery: t.agent_recovery.clone(),
                replication: t.replication.clone(),
                config_file_service_registration: t.config_file_service_registration.clone(),
            }),
        };
        if acl.enabled {
            if let Some(secret) = &t.initial_management {
                if let Err(e) = acl
                    .lock()
                    .bootstrap(Some(secret), "Initial Management Token")
                {
                    tracing::warn!(error = %e.message, "acl.tokens.initial_management was not created");
                }
            }
        }
        acl
    }

    /// ACLs are on.
    pub(crate) fn enabled(&self) -> bool {
        self.enabled
    }

    /// `X-Consul-Default-ACL-Policy`.
    pub(crate) fn default_policy_word(&self) -> &'static str {
        if !self.enabled || self.default_allow {
            "allow"
        } else {
            "deny"
        }
    }

    /// `acl.enable_key_list_policy`.
    pub(crate) fn key_list_policy(&self) -> bool {
        self.enabled && self.enable_key_list_policy
    }

    /// `acl.down_policy`.
    pub(crate) fn down_policy(&self) -> &str {
        &self.down_policy
    }

    fn lock(&self) -> MutexGuard<'_, AclStore> {
        self.store
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn tokens(&self) -> std::sync::RwLockReadGuard<'_, AgentTokens> {
        self.agent_tokens
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The authority of a request that sent `secret` (`None`: no token).
    /// A token sent costs no allocation: one read-locked map lookup.
    pub(crate) fn resolve(&self, secret: Option<&str>) -> Result<Caller, ApiError> {
        if !self.enabled {
            return Ok(Caller {
                authz: Arc::clone(&self.disabled),
                authenticated: false,
            });
        }
        if let Some(s) = secret.filter(|s| !s.is_empty()) {
            return Ok(Caller {
                authz: self.authz_of(s)?,
                authenticated: true,
            });
        }
        let default = self.tokens().default.clone();
        Ok(Caller {
            authz: self.authz_of(default.as_ref().map_or("anonymous", Secret::expose))?,
            authenticated: default.is_some(),
        })
    }

    /// The secret a request acts with: its own, else the agent's `default` token.
    pub(crate) fn effective_secret(&self, given: Option<&str>) -> Option<Secret> {
        given
            .filter(|s| !s.is_empty())
            .map(Secret::new)
            .or_else(|| self.tokens().default.clone())
    }

    /// The authority of DNS queries: the `dns` token, else `default`, else
    /// anonymous. A token that does not resolve denies everything.
    pub(crate) fn dns_authz(&self) -> Arc<Authz> {
        if !self.enabled {
            return Arc::clone(&self.disabled);
        }
        // The common case, without copying the secret: its authority is cached.
        {
            let t = self.tokens();
            let secret = t
                .dns
                .as_ref()
                .or(t.default.as_ref())
                .map_or("anonymous", Secret::expose);
            let cache = self
                .cache
                .read()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            if let Some(c) = cache.get(secret) {
                if c.expires.is_none_or(|e| e >= SystemTime::now()) {
                    return Arc::clone(&c.authz);
                }
            }
        }
        let secret = {
            let t = self.tokens();
            t.dns.clone().or_else(|| t.default.clone())
        };
        match self.authz_of(secret.as_ref().map_or("anonymous", Secret::expose)) {
            Ok(a) => a,
            Err(_) => {
                tracing::debug!("the DNS token does not resolve: DNS answers nothing");
                Arc::clone(&self.deny_all)
            }
        }
    }

    /// The authority of a secret: cached, else compiled from the store.
    fn authz_of(&self, secret: &str) -> Result<Arc<Authz>, ApiError> {
        {
            let cache = self
                .cache
                .read()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            if let Some(c) = cache.get(secret) {
                if c.expires.is_none_or(|e| e >= SystemTime::now()) {
                    return Ok(Arc::clone(&c.authz));
                }
                return Err(not_found());
            }
        }
        if let Some(a) = self.recovery(secret) {
            return Ok(a);
        }
        let mut store = self.lock();
        let Some(token) = store.token_by_secret(secret).cloned() else {
            return Err(not_found());
        };
        if token.expired(SystemTime::now()) {
            return Err(not_found());
        }
        let compiled = store.compile(&token);
        let authz = Arc::new(Authz::new(
            Arc::from(token.accessor.as_str()),
            compiled,
            self.default_allow,
        ));
        // Cached while the store is locked: a write that changes this token
        // or its policies invalidates after this insert, never before it.
        self.cache
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .insert(
                token.secret.clone(),
                Arc::new(Cached {
                    authz: Arc::clone(&authz),
                    expires: token.expiration,
                }),
            );
        Ok(authz)
    }

    /// The agent recovery token: write on this agent, read on every node.
    fn recovery(&self, secret: &str) -> Option<Arc<Authz>> {
        let is_recovery = self
            .tokens()
            .agent_recovery
            .as_ref()
            .is_some_and(|s| s.expose() == secret);
        if !is_recovery {
            return None;
        }
        let text = format!(
            "agent \"{}\" {{ policy = \"write\" }}\nnode_prefix \"\" {{ policy = \"read\" }}",
            self.node_name.replace('"', "")
        );
        let rules = rules::Rules::parse(&text).unwrap_or_default();
        Some(Arc::new(Authz::new(
            Arc::from("agent-recovery-token"),
            Arc::new(authz::Compiled::new([&rules])),
            false,
        )))
    }

    /// Forgets the cached authority of one secret.
    fn forget(&self, secret: &Secret) {
        self.cache
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .remove(secret);
    }

    /// Forgets every cached authority (a policy or role changed).
    fn forget_all(&self) {
        self.cache
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clear();
    }

    /// Sets one of the agent's tokens (`PUT /v1/agent/token/:kind`).
    pub(crate) fn set_agent_token(&self, kind: &str, token: String) -> Result<(), ApiError> {
        let value = (!token.is_empty()).then(|| Secret::new(token));
        let mut t = self
            .agent_tokens
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let slot = match kind {
            "default" | "acl_token" => &mut t.default,
            "agent" | "acl_agent_token" => &mut t.agent,
            "agent_recovery" | "agent_master" | "acl_agent_master_token" => &mut t.agent_recovery,
            "replication" | "acl_replication_token" => &mut t.replication,
            "config_file_service_registration" => &mut t.config_file_service_registration,
            "dns" | "dns_token" => &mut t.dns,
            other => return Err(ApiError::not_found(format!("Token {other:?} is unknown"))),
        };
        *slot = value;
        Ok(())
    }

    /// Whether any token besides the anonymous one exists (for start-up advice).
    pub(crate) fn has_management_token(&self) -> bool {
        self.lock().bootstrap_index.is_some()
    }
}
