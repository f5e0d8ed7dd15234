//! Sessions: creation with Consul's validation, TTL renewal and expiry, and
//! invalidation when a linked check goes critical or its node goes away.

use std::sync::Arc;
use std::time::{Duration, Instant};

use super::{Inner, Store, Topic};
use crate::decode::SessionCreate;
use crate::error::ApiError;
use crate::types::{Behavior, Session, Status};
use gocompat::duration;

const DEFAULT_LOCK_DELAY: Duration = Duration::from_secs(15);
const MAX_LOCK_DELAY: Duration = Duration::from_secs(60);
const MIN_TTL: Duration = Duration::from_secs(10);
const MAX_TTL: Duration = Duration::from_secs(24 * 3600);
/// A TTL session is destroyed after TTL × this without a renewal.
pub(super) const TTL_MULTIPLIER: u32 = 2;

impl Inner {
    /// `GET /v1/session/info/:id`.
    pub(crate) fn session_info(&self, id: &str) -> (u64, Vec<Arc<Session>>) {
        (
            self.tables.sessions,
            self.sessions.get(id).cloned().into_iter().collect(),
        )
    }

    /// `GET /v1/session/node/:node`.
    pub(crate) fn sessions_for_node(&self, node: &str) -> (u64, Vec<Arc<Session>>) {
        let list = self
            .sessions
            .values()
            .filter(|s| s.node == node)
            .cloned()
            .collect();
        (self.tables.sessions, list)
    }

    /// `GET /v1/session/list`.
    pub(crate) fn session_list(&self) -> (u64, Vec<Arc<Session>>) {
        (
            self.tables.sessions,
            self.sessions.values().cloned().collect(),
        )
    }

    /// Destroys a session and releases or deletes what it holds.
    pub(crate) fn invalidate_session(&mut self, id: &str, now: Instant) -> bool {
        let Some(session) = self.sessions.remove(id) else {
            return false;
        };
        self.session_expiry.remove(id);
        let index = self.next_index();
        self.tables.sessions = index;
        let held: Vec<String> = self
            .kv
            .values()
            .filter(|e| e.session.as_deref() == Some(id))
            .map(|e| e.key.clone())
            .collect();
        let delay = session.lock_delay.min(MAX_LOCK_DELAY);
        let until = (!delay.is_zero()).then(|| now + delay);
        for key in held {
            self.kv_release_for_session(&key, session.behavior == Behavior::Delete, until);
        }
        if let Some(until) = until {
            self.schedule(until);
        }
        self.notify(&Topic::Sessions);
        true
    }

    /// Invalidates the sessions that depend on a check that went critical or away.
    pub(crate) fn invalidate_sessions_for_check(
        &mut self,
        node: &str,
        check_id: &str,
        now: Instant,
    ) {
        if self.sessions.is_empty() {
            return;
        }
        let doomed: Vec<String> = self
            .sessions
            .values()
            .filter(|s| {
                s.node == node
                    && (s.node_checks.iter().any(|c| c == check_id)
                        || s.service_checks.iter().flatten().any(|c| c.id == check_id))
            })
            .map(|s| s.id.clone())
            .collect();
        for id in doomed {
            tracing::debug!(session = %id, check = %check_id, "invalidating session: linked check is critical or gone");
            self.invalidate_session(&id, now);
        }
    }

    /// Invalidates every session of a node that was deregistered.
    pub(crate) fn invalidate_sessions_for_node(&mut self, node: &str, now: Instant) {
        let doomed: Vec<String> = self
            .sessions
            .values()
            .filter(|s| s.node == node)
            .map(|s| s.id.clone())
            .collect();
        for id in doomed {
            self.invalidate_session(&id, now);
        }
    }

    fn require_healthy_check(&self, node: &str, id: &str) -> Result<(), ApiError> {
        match self.checks.get(&(node.to_string(), id.to_string())) {
            None => Err(ApiError::internal(format!(
                "Missing check '{id}' registration"
            ))),
            Some(c) if c.status == Status::Critical => Err(ApiError::internal(format!(
                "Check '{id}' is in critical state"
            ))),
            Some(_) => Ok(()),
        }
    }
}

impl Store {
    /// `PUT /v1/session/create`. Returns the new session ID.
    pub fn session_create(&self, req: SessionCreate) -> Result<String, ApiError> {
        let behavior = match req.behavior.as_str() {
            "" | "release" => Behavior::Release,
            "delete" => Behavior::Delete,
            other => {
                return Err(ApiError::internal(format!(
                    "Invalid Behavior setting '{other}'"
                )))
            }
        };
        let ttl = match req.ttl.as_str() {
            "" => None,
            s => {
                let d = duration::parse(s)
                    .map_err(|e| ApiError::internal(format!("Session TTL '{s}' invalid: {e}")))?;
                if d.is_zero() {
                    None
                } else if d < MIN_TTL || d > MAX_TTL {
                    return Err(ApiError::internal(format!(
                        "Invalid Session TTL '{}', must be between [10s=24h0m0s]",
                        s
                    )));
                } else {
                    Some(d)
                }
            }
        };
        let node = if req.node.is_empty() {
            self.config().node_name.clone()
        } else {
            req.node.clone()
        };
        let now = Instant::now();
        let mut inner = self.lock();
        if !inner.nodes.contains_key(&node) {
            return Err(ApiError::internal("Missing node registration"));
        }
        let node_checks = match (&req.node_checks, &req.checks) {
            (Some(n), _) => n.clone(),
            (None, Some(c)) => c.clone(),
            (None, None) => vec!["serfHealth".to_string()],
        };
        for id in &node_checks {
            inner.require_healthy_check(&node, id)?;
        }
        for c in req.service_checks.iter().flatten() {
            inner.require_healthy_check(&node, &c.id)?;
        }
        let id = uuid::Uuid::new_v4().to_string();
        let index = inner.next_index();
        inner.tables.sessions = index;
        let mut checks = node_checks.clone();
        checks.extend(req.service_checks.iter().flatten().map(|c| c.id.clone()));
        let session = Session {
            id: id.clone(),
            name: req.name.clone(),
            node,
            lock_delay: req.lock_delay.unwrap_or(DEFAULT_LOCK_DELAY),
            behavior,
            ttl: if ttl.is_some() {
                req.ttl.clone()
            } else {
                String::new()
            },
            node_checks,
            service_checks: req.service_checks.clone().filter(|s| !s.is_empty()),
            checks,
            create_index: index,
            modify_index: index,
        };
        inner.sessions.insert(id.clone(), Arc::new(session));
        if let Some(ttl) = ttl {
            let at = now + ttl * TTL_MULTIPLIER;
            inner.session_expiry.insert(id.clone(), at);
            if inner.schedule(at) {
                self.kick_timer();
            }
        }
        inner.notify(&Topic::Sessions);
        Ok(id)
    }

    /// `PUT /v1/session/destroy/:id`.
    pub fn session_destroy(&self, id: &str) {
        let mut inner = self.lock();
        if inner.invalidate_session(id, Instant::now()) {
            self.kick_timer();
        }
    }

    /// `PUT /v1/session/renew/:id`.
    pub fn session_renew(&self, id: &str) -> Result<Arc<Session>, ApiError> {
        let now = Instant::now();
        let mut inner = self.lock();
        let Some(session) = inner.sessions.get(id).cloned() else {
            return Err(ApiError::not_found(format!("Session id '{id}' not found")));
        };
        if let Ok(ttl) = duration::parse(&session.ttl) {
            if !ttl.is_zero() {
                let at = now + ttl * TTL_MULTIPLIER;
                inner.session_expiry.insert(id.to_string(), at);
            }
        }
        Ok(session)
    }

    /// Destroys the TTL sessions that were not renewed in time.
    pub(super) fn expire_sessions(&self, inner: &mut Inner, now: Instant) {
        let expired: Vec<String> = inner
            .session_expiry
            .iter()
            .filter(|(_, at)| **at <= now)
            .map(|(id, _)| id.clone())
            .collect();
        for id in expired {
            tracing::debug!(session = %id, "session TTL expired");
            inner.invalidate_session(&id, now);
        }
    }
}
