//! The ACL part of `/v1/snapshot`: tokens, policies and roles with their
//! indexes. A restore merges them over the agent's own (the snapshot wins
//! on the same ID), so the restoring agent's management token keeps working.

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

use super::config::Secret;
use super::rules::Rules;
use super::types::{NodeIdentity, Policy, Role, ServiceIdentity, Token};
use super::Acl;

#[derive(Serialize, Deserialize)]
struct SnapToken {
    accessor: String,
    secret: String,
    description: String,
    policies: Vec<String>,
    roles: Vec<String>,
    service_identities: Vec<ServiceIdentity>,
    node_identities: Vec<NodeIdentity>,
    local: bool,
    expiration_ns: Option<u64>,
    create_time_ns: u64,
    hash: Vec<u8>,
    create_index: u64,
    modify_index: u64,
}

#[derive(Serialize, Deserialize)]
struct SnapPolicy {
    id: String,
    name: String,
    description: String,
    rules: String,
    datacenters: Vec<String>,
    hash: Vec<u8>,
    create_index: u64,
    modify_index: u64,
}

#[derive(Serialize, Deserialize)]
struct SnapRole {
    id: String,
    name: String,
    description: String,
    policies: Vec<String>,
    service_identities: Vec<ServiceIdentity>,
    node_identities: Vec<NodeIdentity>,
    hash: Vec<u8>,
    create_index: u64,
    modify_index: u64,
}

/// The ACL objects of a snapshot.
#[derive(Serialize, Deserialize)]
pub(crate) struct AclSnapshot {
    tokens: Vec<SnapToken>,
    policies: Vec<SnapPolicy>,
    roles: Vec<SnapRole>,
    index: u64,
    bootstrap_index: Option<u64>,
}

impl AclSnapshot {
    /// Checks every policy's rules; nothing changes when one is bad.
    pub(crate) fn check(&self) -> Result<(), String> {
        for p in &self.policies {
            Rules::parse(&p.rules).map_err(|e| format!("ACL policy {:?}: {e}", p.name))?;
        }
        Ok(())
    }
}

fn to_ns(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0)
}

fn from_ns(n: u64) -> SystemTime {
    UNIX_EPOCH + Duration::from_nanos(n)
}

impl Acl {
    /// Every token, policy and role.
    pub(crate) fn snapshot(&self) -> AclSnapshot {
        let s = self.lock();
        AclSnapshot {
            tokens: s
                .tokens
                .values()
                .map(|t| SnapToken {
                    accessor: t.accessor.clone(),
                    secret: t.secret.expose().to_string(),
                    description: t.description.clone(),
                    policies: t.policies.clone(),
                    roles: t.roles.clone(),
                    service_identities: t.service_identities.clone(),
                    node_identities: t.node_identities.clone(),
                    local: t.local,
                    expiration_ns: t.expiration.map(to_ns),
                    create_time_ns: to_ns(t.create_time),
                    hash: t.hash.clone(),
                    create_index: t.create_index,
                    modify_index: t.modify_index,
                })
                .collect(),
            policies: s
                .policies
                .values()
                .map(|p| SnapPolicy {
                    id: p.id.clone(),
                    name: p.name.clone(),
                    description: p.description.clone(),
                    rules: p.rules_text.clone(),
                    datacenters: p.datacenters.clone(),
                    hash: p.hash.clone(),
                    create_index: p.create_index,
                    modify_index: p.modify_index,
                })
                .collect(),
            roles: s
                .roles
                .values()
                .map(|r| SnapRole {
                    id: r.id.clone(),
                    name: r.name.clone(),
                    description: r.description.clone(),
                    policies: r.policies.clone(),
                    service_identities: r.service_identities.clone(),
                    node_identities: r.node_identities.clone(),
                    hash: r.hash.clone(),
                    create_index: r.create_index,
                    modify_index: r.modify_index,
                })
                .collect(),
            index: s.index,
            bootstrap_index: s.bootstrap_index,
        }
    }

    /// Merges a snapshot's tokens, policies and roles over the current ones.
    pub(crate) fn restore(&self, snap: AclSnapshot) -> Result<(), String> {
        AclSnapshot::check(&snap)?;
        let mut s = self.lock();
        for p in snap.policies {
            let rules = Rules::parse(&p.rules).map_err(|e| e.to_string())?;
            if let Some(old) = s.policy_names.get(&p.name).cloned() {
                if old != p.id {
                    s.policies.remove(&old);
                }
            }
            s.policy_names.insert(p.name.clone(), p.id.clone());
            s.policies.insert(
                p.id.clone(),
                Policy {
                    id: p.id,
                    name: p.name,
                    description: p.description,
                    rules_text: p.rules,
                    rules: Arc::new(rules),
                    datacenters: p.datacenters,
                    hash: p.hash,
                    create_index: p.create_index,
                    modify_index: p.modify_index,
                },
            );
        }
        for r in snap.roles {
            if let Some(old) = s.role_names.get(&r.name).cloned() {
                if old != r.id {
                    s.roles.remove(&old);
                }
            }
            s.role_names.insert(r.name.clone(), r.id.clone());
            s.roles.insert(
                r.id.clone(),
                Role {
                    id: r.id,
                    name: r.name,
                    description: r.description,
                    policies: r.policies,
                    service_identities: r.service_identities,
                    node_identities: r.node_identities,
                    hash: r.hash,
                    create_index: r.create_index,
                    modify_index: r.modify_index,
                },
            );
        }
        for t in snap.tokens {
            if let Some(old) = s.tokens.remove(&t.accessor) {
                s.by_secret.remove(&old.secret);
            }
            s.insert_token(Token {
                accessor: t.accessor,
                secret: Secret::new(t.secret),
                description: t.description,
                policies: t.policies,
                roles: t.roles,
                service_identities: t.service_identities,
                node_identities: t.node_identities,
                local: t.local,
                expiration: t.expiration_ns.map(from_ns),
                create_time: from_ns(t.create_time_ns),
                hash: t.hash,
                create_index: t.create_index,
                modify_index: t.modify_index,
            });
        }
        s.index = s.index.max(snap.index);
        if s.bootstrap_index.is_none() {
            s.bootstrap_index = snap.bootstrap_index;
        }
        s.forget_compiled();
        drop(s);
        self.cache
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clear();
        Ok(())
    }
}
