//! The ACL state: tokens, policies and roles with Consul's validation rules,
//! and the compilation of a token's policies (shared between tokens that
//! hold the same ones). Token writes live in `tokens`.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use super::authz::{Compiled, ANONYMOUS_ID};
use super::config::Secret;
use super::rules::{self, Rules};
use super::types::{
    content_hash, Link, NodeIdentity, Policy, PolicyIn, Role, RoleIn, ServiceIdentity, Token,
    GLOBAL_MANAGEMENT_ID, GLOBAL_MANAGEMENT_RULES, GLOBAL_READ_ONLY_ID, GLOBAL_READ_ONLY_RULES,
    RESERVED_PREFIX,
};
use crate::error::ApiError;
use crate::state::Store;

/// Most tokens, policies and roles (each) one agent keeps.
pub(crate) const MAX_OBJECTS: usize = 100_000;

/// Tokens, policies and roles.
#[derive(Debug)]
pub(crate) struct AclStore {
    pub(super) tokens: BTreeMap<String, Token>,
    pub(super) by_secret: HashMap<Secret, String>,
    pub(super) policies: BTreeMap<String, Policy>,
    pub(super) policy_names: HashMap<String, String>,
    pub(super) roles: BTreeMap<String, Role>,
    pub(super) role_names: HashMap<String, String>,
    /// The index of the bootstrap (or of the initial management token).
    pub(super) bootstrap_index: Option<u64>,
    /// Index of the last ACL write.
    pub(super) index: u64,
    pub(super) datacenter: String,
    pub(super) min_ttl: Duration,
    pub(super) max_ttl: Duration,
    /// Compiled authorizers by the set of policies and identities they hold.
    compiled: HashMap<String, Arc<Compiled>>,
    state: Arc<Store>,
}

/// 500 with Consul's message: how Consul answers a rejected ACL write.
pub(super) fn invalid(msg: impl Into<String>) -> ApiError {
    ApiError::internal(msg)
}

/// Names of policies and roles: `[A-Za-z0-9-_]{1,128}`.
fn valid_name(name: &str) -> bool {
    (1..=128).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// Names of service and node identities: lowercase alphanumerics, `-`, `_`.
pub(super) fn valid_identity(name: &str) -> bool {
    let b = name.as_bytes();
    !b.is_empty()
        && b.len() <= 256
        && b[0].is_ascii_alphanumeric()
        && b[b.len() - 1].is_ascii_alphanumeric()
        && b.iter()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'-' || *c == b'_')
}

pub(super) fn is_uuid(s: &str) -> bool {
    uuid::Uuid::parse_str(s).is_ok() && s.len() == 36
}

fn builtin(id: &str, name: &str, description: &str, text: &str, index: u64) -> Policy {
    let rules = Rules::parse(text).unwrap_or_default();
    Policy {
        id: id.into(),
        name: name.into(),
        description: description.into(),
        rules_text: text.into(),
        rules: Arc::new(rules),
        datacenters: Vec::new(),
        hash: content_hash(&[name, description, text]),
        create_index: index,
        modify_index: index,
    }
}

impl AclStore {
    /// A store with the built-in policies and the anonymous token.
    pub(super) fn new(state: Arc<Store>, datacenter: String, min: Duration, max: Duration) -> Self {
        let index = state.lock().next_index();
        let mut s = AclStore {
            tokens: BTreeMap::new(),
            by_secret: HashMap::new(),
            policies: BTreeMap::new(),
            policy_names: HashMap::new(),
            roles: BTreeMap::new(),
            role_names: HashMap::new(),
            bootstrap_index: None,
            index,
            datacenter,
            min_ttl: min,
            max_ttl: max,
            compiled: HashMap::new(),
            state,
        };
        for p in [
            builtin(
                GLOBAL_MANAGEMENT_ID,
                "global-management",
                "Builtin Policy that grants unlimited access",
                GLOBAL_MANAGEMENT_RULES,
                index,
            ),
            builtin(
                GLOBAL_READ_ONLY_ID,
                "builtin/global-read-only",
                "Builtin Policy that grants unlimited read-only access to all components",
                GLOBAL_READ_ONLY_RULES,
                index,
            ),
        ] {
            s.policy_names.insert(p.name.clone(), p.id.clone());
            s.policies.insert(p.id.clone(), p);
        }
        let anonymous = Token {
            accessor: ANONYMOUS_ID.into(),
            secret: Secret::new("anonymous"),
            description: "Anonymous Token".into(),
            policies: Vec::new(),
            roles: Vec::new(),
            service_identities: Vec::new(),
            node_identities: Vec::new(),
            local: false,
            expiration: None,
            create_time: SystemTime::now(),
            hash: content_hash(&["Anonymous Token", "global"]),
            create_index: index,
            modify_index: index,
        };
        s.insert_token(anonymous);
        s
    }

    /// The next raft index, recorded as the last ACL write.
    pub(super) fn next_index(&mut self) -> u64 {
        self.index = self.state.lock().next_index();
        self.index
    }

    /// Drops every compiled rule set (after a snapshot restore).
    pub(super) fn forget_compiled(&mut self) {
        self.compiled.clear();
    }

    pub(super) fn insert_token(&mut self, t: Token) {
        self.by_secret.insert(t.secret.clone(), t.accessor.clone());
        self.tokens.insert(t.accessor.clone(), t);
    }

    /// The token with this secret, if it exists (expired or not).
    pub(super) fn token_by_secret(&self, secret: &str) -> Option<&Token> {
        self.by_secret.get(secret).and_then(|a| self.tokens.get(a))
    }

    /// `{ID, Name}` of the policies that still exist.
    pub(super) fn policy_links(&self, ids: &[String]) -> Vec<Link> {
        ids.iter()
            .filter_map(|id| self.policies.get(id))
            .map(|p| Link {
                id: p.id.clone(),
                name: p.name.clone(),
            })
            .collect()
    }

    /// `{ID, Name}` of the roles that still exist.
    pub(super) fn role_links(&self, ids: &[String]) -> Vec<Link> {
        ids.iter()
            .filter_map(|id| self.roles.get(id))
            .map(|r| Link {
                id: r.id.clone(),
                name: r.name.clone(),
            })
            .collect()
    }

    /// Policy links given by ID or name, as IDs (deduplicated).
    pub(super) fn resolve_policy_links(&self, links: &[Link]) -> Result<Vec<String>, ApiError> {
        let mut out: Vec<String> = Vec::new();
        for l in links {
            let id = if l.id.is_empty() {
                self.policy_names
                    .get(&l.name)
                    .cloned()
                    .ok_or_else(|| invalid(format!("No such ACL policy with name {:?}", l.name)))?
            } else if self.policies.contains_key(&l.id) {
                l.id.clone()
            } else {
                return Err(invalid(format!("No such ACL policy with ID {:?}", l.id)));
            };
            if !out.contains(&id) {
                out.push(id);
            }
        }
        Ok(out)
    }

    /// Role links given by ID or name, as IDs (deduplicated).
    pub(super) fn resolve_role_links(&self, links: &[Link]) -> Result<Vec<String>, ApiError> {
        let mut out: Vec<String> = Vec::new();
        for l in links {
            let id = if l.id.is_empty() {
                self.role_names
                    .get(&l.name)
                    .cloned()
                    .ok_or_else(|| invalid(format!("No such ACL role with name {:?}", l.name)))?
            } else if self.roles.contains_key(&l.id) {
                l.id.clone()
            } else {
                return Err(invalid(format!("No such ACL role with ID {:?}", l.id)));
            };
            if !out.contains(&id) {
                out.push(id);
            }
        }
        Ok(out)
    }

    /// Validates and deduplicates service identities (`what`: token or role).
    pub(super) fn check_service_identities(
        ids: Vec<ServiceIdentity>,
        local: bool,
        what: &str,
    ) -> Result<Vec<ServiceIdentity>, ApiError> {
        let mut out: Vec<ServiceIdentity> = Vec::new();
        for mut id in ids {
            if id.service_name.is_empty() {
                return Err(invalid(format!(
                    "Service identity is missing the service name field on this {what}"
                )));
            }
            if local && !id.datacenters.is_empty() {
                return Err(invalid(format!(
                    "Service identity {:?} cannot specify a list of datacenters on a local token",
                    id.service_name
                )));
            }
            if !valid_identity(&id.service_name) {
                return Err(invalid(format!("Service identity {:?} has an invalid name. Only lowercase alphanumeric characters, '-' and '_' are allowed", id.service_name)));
            }
            id.datacenters.sort();
            match out.iter_mut().find(|o| o.service_name == id.service_name) {
                Some(o) => {
                    o.datacenters.extend(id.datacenters);
                    o.datacenters.sort();
                    o.datacenters.dedup();
                }
                None => out.push(id),
            }
        }
        Ok(out)
    }

    /// Validates and deduplicates node identities (`what`: token or role).
    pub(super) fn check_node_identities(
        ids: Vec<NodeIdentity>,
        what: &str,
    ) -> Result<Vec<NodeIdentity>, ApiError> {
        let mut out: Vec<NodeIdentity> = Vec::new();
        for id in ids {
            if id.node_name.is_empty() {
                return Err(invalid(format!(
                    "Node identity is missing the node name field on this {what}"
                )));
            }
            if id.datacenter.is_empty() {
                return Err(invalid(format!(
                    "Node identity is missing the datacenter field on this {what}"
                )));
            }
            if !valid_identity(&id.node_name) {
                return Err(invalid("Node identity has an invalid name. Only lowercase alphanumeric characters, '-' and '_' are allowed"));
            }
            if !out.contains(&id) {
                out.push(id);
            }
        }
        Ok(out)
    }

    /// Creates (`create`) or updates the policy `url_id`.
    pub(super) fn policy_set(
        &mut self,
        mut p: PolicyIn,
        url_id: &str,
        create: bool,
    ) -> Result<Policy, ApiError> {
        if create && !p.id.is_empty() {
            return Err(ApiError::bad_request(
                "Cannot specify the ID when creating a new policy",
            ));
        }
        if !create {
            if !p.id.is_empty() && p.id != url_id {
                return Err(ApiError::bad_request(
                    "Policy ID in URL and payload do not match",
                ));
            }
            p.id = url_id.to_string();
        }
        if p.name.is_empty() {
            return Err(invalid("Invalid Policy: no Name is set"));
        }
        if !valid_name(&p.name) {
            return Err(invalid("Invalid Policy: invalid Name. Only alphanumeric characters, '-' and '_' are allowed"));
        }
        let existing = if p.id.is_empty() {
            None
        } else {
            if !is_uuid(&p.id) {
                return Err(invalid("Policy ID invalid UUID"));
            }
            Some(
                self.policies
                    .get(&p.id)
                    .cloned()
                    .ok_or_else(|| invalid(format!("Cannot find policy {}", p.id)))?,
            )
        };
        if let Some(other) = self.policy_names.get(&p.name) {
            if existing.as_ref().is_none_or(|e| &e.id != other) {
                return Err(invalid(format!(
                    "Invalid Policy: A Policy with Name {:?} already exists",
                    p.name
                )));
            }
        }
        if p.id == GLOBAL_MANAGEMENT_ID || p.id == GLOBAL_READ_ONLY_ID {
            if let Some(e) = &existing {
                if p.rules.trim() != e.rules_text.trim() {
                    return Err(invalid(format!(
                        "Changing the Rules for the builtin {} policy is not permitted",
                        e.name
                    )));
                }
                if !p.datacenters.is_empty() {
                    return Err(invalid(format!(
                        "Changing the Datacenters of the builtin {} policy is not permitted",
                        e.name
                    )));
                }
            }
        }
        let rules = Rules::parse(&p.rules).map_err(|e| invalid(e.to_string()))?;
        if existing.is_none() && self.policies.len() >= MAX_OBJECTS {
            return Err(invalid(format!(
                "Too many ACL policies: devagent keeps at most {MAX_OBJECTS}; delete some first"
            )));
        }
        let index = self.next_index();
        let id = match &existing {
            Some(e) => e.id.clone(),
            None => new_id(|id| self.policies.contains_key(id)),
        };
        let mut hash_parts = vec![p.name.as_str(), p.description.as_str(), p.rules.as_str()];
        hash_parts.extend(p.datacenters.iter().map(String::as_str));
        let policy = Policy {
            hash: content_hash(&hash_parts),
            id: id.clone(),
            name: p.name,
            description: p.description,
            rules_text: p.rules,
            rules: Arc::new(rules),
            datacenters: p.datacenters,
            create_index: existing.as_ref().map_or(index, |e| e.create_index),
            modify_index: index,
        };
        if let Some(e) = &existing {
            self.policy_names.remove(&e.name);
        }
        self.policy_names.insert(policy.name.clone(), id.clone());
        self.policies.insert(id, policy.clone());
        self.compiled.clear();
        Ok(policy)
    }

    /// Deletes a policy; `Ok(false)` when there is none.
    pub(super) fn policy_delete(&mut self, id: &str) -> Result<bool, ApiError> {
        if id == GLOBAL_MANAGEMENT_ID || id == GLOBAL_READ_ONLY_ID {
            let name = self.policies.get(id).map_or("", |p| p.name.as_str());
            return Err(invalid(format!(
                "Delete operation not permitted on the builtin {name} policy"
            )));
        }
        let Some(p) = self.policies.remove(id) else {
            return Ok(false);
        };
        self.policy_names.remove(&p.name);
        self.next_index();
        self.compiled.clear();
        Ok(true)
    }

    /// Creates (`url_id` empty) or updates a role.
    pub(super) fn role_set(&mut self, mut r: RoleIn, url_id: &str) -> Result<Role, ApiError> {
        if !r.id.is_empty() && r.id != url_id {
            return Err(ApiError::bad_request(
                "Role ID in URL and payload do not match",
            ));
        }
        r.id = url_id.to_string();
        if r.name.is_empty() {
            return Err(invalid("Invalid Role: no Name is set"));
        }
        if !valid_name(&r.name) {
            return Err(invalid(
                "Invalid Role: invalid Name. Only alphanumeric characters, '-' and '_' are allowed",
            ));
        }
        let existing = if r.id.is_empty() {
            None
        } else {
            if !is_uuid(&r.id) {
                return Err(invalid("Role ID invalid UUID"));
            }
            Some(
                self.roles
                    .get(&r.id)
                    .cloned()
                    .ok_or_else(|| invalid(format!("Cannot find role {}", r.id)))?,
            )
        };
        if let Some(other) = self.role_names.get(&r.name) {
            if existing.as_ref().is_none_or(|e| &e.id != other) {
                return Err(invalid(format!(
                    "Invalid Role: A Role with Name {:?} already exists",
                    r.name
                )));
            }
        }
        let policies = self.resolve_policy_links(&r.policies)?;
        let services = Self::check_service_identities(r.service_identities, false, "role")?;
        let nodes = Self::check_node_identities(r.node_identities, "role")?;
        if existing.is_none() && self.roles.len() >= MAX_OBJECTS {
            return Err(invalid(format!(
                "Too many ACL roles: devagent keeps at most {MAX_OBJECTS}; delete some first"
            )));
        }
        let index = self.next_index();
        let id = match &existing {
            Some(e) => e.id.clone(),
            None => new_id(|id| self.roles.contains_key(id)),
        };
        let mut parts: Vec<String> = vec![r.name.clone(), r.description.clone()];
        parts.extend(policies.iter().cloned());
        parts.extend(services.iter().map(|s| s.service_name.clone()));
        parts.extend(
            nodes
                .iter()
                .map(|n| format!("{}/{}", n.node_name, n.datacenter)),
        );
        let refs: Vec<&str> = parts.iter().map(String::as_str).collect();
        let role = Role {
            hash: content_hash(&refs),
            id: id.clone(),
            name: r.name,
            description: r.description,
            policies,
            service_identities: services,
            node_identities: nodes,
            create_index: existing.as_ref().map_or(index, |e| e.create_index),
            modify_index: index,
        };
        if let Some(e) = &existing {
            self.role_names.remove(&e.name);
        }
        self.role_names.insert(role.name.clone(), id.clone());
        self.roles.insert(id, role.clone());
        self.compiled.clear();
        Ok(role)
    }

    /// Deletes a role; `false` when there is none.
    pub(super) fn role_delete(&mut self, id: &str) -> bool {
        let Some(r) = self.roles.remove(id) else {
            return false;
        };
        self.role_names.remove(&r.name);
        self.next_index();
        self.compiled.clear();
        true
    }

    /// Does a policy apply in this datacenter?
    fn applies(&self, dcs: &[String]) -> bool {
        dcs.is_empty() || dcs.contains(&self.datacenter)
    }

    /// The compiled rules of everything `t` holds: its policies, its roles'
    /// policies and identities, and its own identities.
    pub(super) fn compile(&mut self, t: &Token) -> Arc<Compiled> {
        let mut key = String::new();
        let mut policy_ids: Vec<&str> = t.policies.iter().map(String::as_str).collect();
        let mut services: Vec<&ServiceIdentity> = t.service_identities.iter().collect();
        let mut nodes: Vec<&NodeIdentity> = t.node_identities.iter().collect();
        for role in t.roles.iter().filter_map(|r| self.roles.get(r)) {
            policy_ids.extend(role.policies.iter().map(String::as_str));
            services.extend(role.service_identities.iter());
            nodes.extend(role.node_identities.iter());
        }
        policy_ids.sort_unstable();
        policy_ids.dedup();
        let policies: Vec<&Policy> = policy_ids
            .iter()
            .filter_map(|id| self.policies.get(*id))
            .filter(|p| self.applies(&p.datacenters))
            .collect();
        for p in &policies {
            key.push_str(&format!("p{}:{};", p.id, p.modify_index));
        }
        let services: Vec<&str> = services
            .into_iter()
            .filter(|s| self.applies(&s.datacenters))
            .map(|s| s.service_name.as_str())
            .collect();
        let nodes: Vec<&str> = nodes
            .into_iter()
            .filter(|n| n.datacenter == self.datacenter)
            .map(|n| n.node_name.as_str())
            .collect();
        for s in &services {
            key.push_str(&format!("s{s};"));
        }
        for n in &nodes {
            key.push_str(&format!("n{n};"));
        }
        if let Some(c) = self.compiled.get(&key) {
            return Arc::clone(c);
        }
        let synthetic: Vec<Rules> = services
            .iter()
            .map(|s| rules::service_identity(s))
            .chain(nodes.iter().map(|n| rules::node_identity(n)))
            .collect();
        let compiled = Arc::new(Compiled::new(
            policies.iter().map(|p| &*p.rules).chain(synthetic.iter()),
        ));
        if self.compiled.len() >= MAX_OBJECTS {
            self.compiled.clear();
        }
        self.compiled.insert(key, Arc::clone(&compiled));
        compiled
    }
}

/// A random UUID that `taken` does not know and that is not reserved.
pub(super) fn new_id(taken: impl Fn(&str) -> bool) -> String {
    loop {
        let id = uuid::Uuid::new_v4().to_string();
        if !id.starts_with(RESERVED_PREFIX) && !taken(&id) {
            return id;
        }
    }
}
