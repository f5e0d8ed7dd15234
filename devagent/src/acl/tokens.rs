//! Token writes with Consul's rules: create (with chosen or generated IDs and
//! an expiry), update (IDs, locality and expiry are fixed), clone, delete,
//! bootstrap and the initial management token.

use std::time::SystemTime;

use super::authz::ANONYMOUS_ID;
use super::config::Secret;
use super::store::{invalid, is_uuid, new_id, AclStore, MAX_OBJECTS};
use super::types::{
    content_hash, parse_time, Token, TokenIn, GLOBAL_MANAGEMENT_ID, RESERVED_PREFIX,
};
use crate::error::ApiError;
use gocompat::duration;

/// Consul's check of a caller-chosen AccessorID or SecretID.
fn validate_id(id: &str, what: &str) -> Result<(), ApiError> {
    if id.starts_with(RESERVED_PREFIX) {
        return Err(invalid(format!(
            "Invalid Token: {what} - UUIDs with the prefix {RESERVED_PREFIX:?} are reserved"
        )));
    }
    if !is_uuid(id) {
        return Err(invalid(format!("Invalid Token: {what} - not a valid UUID")));
    }
    Ok(())
}

impl AclStore {
    fn id_in_use(&self, id: &str) -> bool {
        self.tokens.contains_key(id) || self.by_secret.contains_key(id)
    }

    /// Fills the content hash and stores the token.
    fn commit(&mut self, mut t: Token) -> Token {
        let index = self.next_index();
        if t.create_index == 0 {
            t.create_index = index;
        }
        t.modify_index = index;
        let mut parts: Vec<String> = vec![
            t.description.clone(),
            if t.local { "local" } else { "global" }.to_string(),
        ];
        parts.extend(t.policies.iter().cloned());
        parts.extend(t.roles.iter().cloned());
        parts.extend(
            t.service_identities
                .iter()
                .map(|s| format!("{}{}", s.service_name, s.datacenters.join(","))),
        );
        parts.extend(
            t.node_identities
                .iter()
                .map(|n| format!("{}{}", n.node_name, n.datacenter)),
        );
        let refs: Vec<&str> = parts.iter().map(String::as_str).collect();
        t.hash = content_hash(&refs);
        self.insert_token(t.clone());
        t
    }

    /// Creates a token (`PUT /v1/acl/token`).
    pub(super) fn token_create(&mut self, t: TokenIn) -> Result<Token, ApiError> {
        let accessor = if t.accessor.is_empty() {
            new_id(|id| self.id_in_use(id))
        } else {
            validate_id(&t.accessor, "AccessorID")?;
            if self.id_in_use(&t.accessor) {
                return Err(invalid("Invalid Token: AccessorID is already in use"));
            }
            t.accessor
        };
        let secret = if t.secret.is_empty() {
            new_id(|id| self.id_in_use(id) || id == accessor)
        } else {
            validate_id(&t.secret, "SecretID")?;
            if self.id_in_use(&t.secret) || t.secret == accessor {
                return Err(invalid("Invalid Token: SecretID is already in use"));
            }
            t.secret
        };
        let now = SystemTime::now();
        let mut expiration = match &t.expiration_time {
            Some(s) if !s.is_empty() => Some(parse_time(s).map_err(ApiError::bad_request)?),
            _ => None,
        };
        if let Some(ttl) = t.expiration_ttl {
            if expiration.is_some() {
                return Err(invalid(
                    "Token Expiration TTL and Expiration Time cannot both be set",
                ));
            }
            expiration = Some(now + ttl);
        }
        if let Some(exp) = expiration {
            let Ok(expires_in) = exp.duration_since(now) else {
                return Err(invalid("ExpirationTime cannot be before CreateTime"));
            };
            if expires_in > self.max_ttl {
                return Err(invalid(format!(
                    "ExpirationTime cannot be more than {} in the future (was {})",
                    duration::format(self.max_ttl),
                    duration::format(expires_in)
                )));
            }
            if expires_in < self.min_ttl {
                return Err(invalid(format!(
                    "ExpirationTime cannot be less than {} in the future (was {})",
                    duration::format(self.min_ttl),
                    duration::format(expires_in)
                )));
            }
        }
        let policies = self.resolve_policy_links(&t.policies)?;
        let roles = self.resolve_role_links(&t.roles)?;
        let services = Self::check_service_identities(t.service_identities, t.local, "token")?;
        let nodes = Self::check_node_identities(t.node_identities, "token")?;
        if self.tokens.len() >= MAX_OBJECTS {
            return Err(invalid(format!(
                "Too many ACL tokens: devagent keeps at most {MAX_OBJECTS}; delete some first"
            )));
        }
        Ok(self.commit(Token {
            accessor,
            secret: Secret::new(secret),
            description: t.description,
            policies,
            roles,
            service_identities: services,
            node_identities: nodes,
            local: t.local,
            expiration,
            create_time: now,
            hash: Vec::new(),
            create_index: 0,
            modify_index: 0,
        }))
    }

    /// Updates the token `url_id` (`PUT /v1/acl/token/:id`).
    pub(super) fn token_update(&mut self, mut t: TokenIn, url_id: &str) -> Result<Token, ApiError> {
        if t.accessor.is_empty() {
            t.accessor = url_id.to_string();
        }
        if t.accessor != url_id {
            return Err(ApiError::bad_request(
                "Token Accessor ID in URL and payload do not match",
            ));
        }
        if !is_uuid(&t.accessor) {
            return Err(invalid("AccessorID is not a valid UUID"));
        }
        let now = SystemTime::now();
        let Some(existing) = self
            .tokens
            .get(&t.accessor)
            .filter(|e| !e.expired(now))
            .cloned()
        else {
            return Err(invalid(format!("Cannot find token {:?}", t.accessor)));
        };
        if !t.secret.is_empty() && t.secret != existing.secret.expose() {
            return Err(invalid("Changing a token's SecretID is not permitted"));
        }
        if t.local != existing.local {
            return Err(invalid(format!(
                "Cannot toggle local mode of {}",
                existing.accessor
            )));
        }
        if t.expiration_ttl.is_some() {
            return Err(invalid(format!(
                "Cannot change expiration time of {}",
                existing.accessor
            )));
        }
        if let Some(s) = t.expiration_time.as_deref().filter(|s| !s.is_empty()) {
            let exp = parse_time(s).map_err(ApiError::bad_request)?;
            let same = existing.expiration.is_some_and(|e| {
                let d = e
                    .duration_since(exp)
                    .or_else(|_| exp.duration_since(e))
                    .unwrap_or_default();
                d.as_micros() < 1
            });
            if !same {
                return Err(invalid(format!(
                    "Cannot change expiration time of {}",
                    existing.accessor
                )));
            }
        }
        let policies = self.resolve_policy_links(&t.policies)?;
        let roles = self.resolve_role_links(&t.roles)?;
        let services = Self::check_service_identities(t.service_identities, t.local, "token")?;
        let nodes = Self::check_node_identities(t.node_identities, "token")?;
        Ok(self.commit(Token {
            description: t.description,
            policies,
            roles,
            service_identities: services,
            node_identities: nodes,
            ..existing
        }))
    }

    /// A new token with the policies, roles and identities of `accessor`.
    pub(super) fn token_clone(
        &mut self,
        accessor: &str,
        description: String,
    ) -> Result<Token, ApiError> {
        let now = SystemTime::now();
        let Some(src) = self
            .tokens
            .get(accessor)
            .filter(|t| !t.expired(now))
            .cloned()
        else {
            return Err(ApiError::forbidden("ACL not found"));
        };
        if self.tokens.len() >= MAX_OBJECTS {
            return Err(invalid(format!(
                "Too many ACL tokens: devagent keeps at most {MAX_OBJECTS}; delete some first"
            )));
        }
        let new_accessor = new_id(|id| self.id_in_use(id));
        let secret = new_id(|id| self.id_in_use(id) || id == new_accessor);
        Ok(self.commit(Token {
            accessor: new_accessor,
            secret: Secret::new(secret),
            description: if description.is_empty() {
                src.description.clone()
            } else {
                description
            },
            create_time: now,
            create_index: 0,
            ..src
        }))
    }

    /// Deletes a token. `requester` is the secret of the caller, who may not
    /// delete the token it is using. `Ok(None)` when there is no such token.
    pub(super) fn token_delete(
        &mut self,
        accessor: &str,
        requester: &str,
    ) -> Result<Option<Token>, ApiError> {
        if !is_uuid(accessor) {
            return Err(invalid("Accessor ID is missing or an invalid UUID"));
        }
        if accessor == ANONYMOUS_ID {
            return Err(invalid(
                "Delete operation not permitted on the anonymous token",
            ));
        }
        let Some(t) = self.tokens.get(accessor) else {
            return Ok(None);
        };
        if t.secret.expose() == requester {
            return Err(invalid(
                "Deletion of the request's authorization token is not permitted",
            ));
        }
        let Some(t) = self.tokens.remove(accessor) else {
            return Ok(None);
        };
        self.by_secret.remove(t.secret.expose());
        self.next_index();
        Ok(Some(t))
    }

    /// A management token, created once: by `PUT /v1/acl/bootstrap` or from
    /// `acl.tokens.initial_management`. After that, Consul's 403 with the
    /// reset index.
    pub(super) fn bootstrap(
        &mut self,
        secret: Option<&Secret>,
        description: &str,
    ) -> Result<Token, ApiError> {
        if let Some(i) = self.bootstrap_index {
            return Err(ApiError::forbidden(format!(
                "Permission denied: ACL bootstrap no longer allowed (reset index: {i})"
            )));
        }
        let secret = match secret {
            Some(s) => {
                if self.id_in_use(s.expose()) {
                    return Err(invalid("Invalid Token: SecretID is already in use"));
                }
                s.clone()
            }
            None => Secret::new(new_id(|id| self.id_in_use(id))),
        };
        let accessor = new_id(|id| self.id_in_use(id) || id == secret.expose());
        let t = self.commit(Token {
            accessor,
            secret,
            description: description.into(),
            policies: vec![GLOBAL_MANAGEMENT_ID.into()],
            roles: Vec::new(),
            service_identities: Vec::new(),
            node_identities: Vec::new(),
            local: false,
            expiration: None,
            create_time: SystemTime::now(),
            hash: Vec::new(),
            create_index: 0,
            modify_index: 0,
        });
        self.bootstrap_index = Some(t.create_index);
        Ok(t)
    }
}
