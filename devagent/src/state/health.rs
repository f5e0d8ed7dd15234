//! Check results: TTL updates, active check runs with their thresholds, TTL
//! expiry, reaping of long-critical services, maintenance mode, and the
//! agent-local health view.

use std::sync::Arc;
use std::time::Instant;

use super::catalog::{AgentHealth, NODE_MAINT, SERVICE_MAINT_PREFIX};
use super::checkdef::{truncate_output, unknown_check};
use super::{Inner, Store};
use crate::error::ApiError;
use crate::types::{Check, CheckSpec, Status};

impl Store {
    /// `PUT /v1/agent/check/{pass,warn,fail,update}/:id`.
    pub fn agent_update_ttl(&self, id: &str, status: Status, output: &str) -> Result<(), ApiError> {
        let node = self.own_node();
        let now = Instant::now();
        let mut inner = self.lock();
        let Some(check) = inner.checks.get(&(node, id.to_string())).cloned() else {
            return Err(unknown_check(id));
        };
        let Some(ttl) = check
            .spec
            .ttl
            .filter(|_| inner.agent_checks.contains_key(id))
        else {
            return Err(ApiError::internal(format!(
                "CheckID {id:?} does not have associated TTL"
            )));
        };
        let at = now + ttl;
        if let Some(rt) = inner.agent_checks.get_mut(id) {
            rt.ttl_deadline = Some(at);
        }
        if inner.schedule(at) {
            self.kick_timer();
        }
        let output = truncate_output(output);
        if check.status != status || check.output != output {
            let mut c = (*check).clone();
            c.status = status;
            c.output = output;
            inner.put_check(c, now);
            self.schedule_reap(&mut inner, id);
        }
        Ok(())
    }

    fn schedule_reap(&self, inner: &mut Inner, id: &str) {
        let after = inner
            .checks
            .get(&(self.own_node(), id.to_string()))
            .and_then(|c| {
                (c.status == Status::Critical).then_some(c.spec.deregister_critical_after)?
            });
        let since = inner.agent_checks.get(id).and_then(|rt| rt.critical_since);
        if let (Some(after), Some(since)) = (after, since) {
            if inner.schedule(since + after) {
                self.kick_timer();
            }
        }
    }

    /// Records the result of one run of an active check, honoring the
    /// success/failure thresholds.
    pub fn record_check_result(&self, id: &str, status: Status, output: &str) {
        let node = self.own_node();
        let now = Instant::now();
        let mut inner = self.lock();
        let Some(check) = inner.checks.get(&(node, id.to_string())).cloned() else {
            return;
        };
        let Some(rt) = inner.agent_checks.get_mut(id) else {
            return;
        };
        let spec = &check.spec;
        let new_status = if status != Status::Critical {
            rt.successes = rt.successes.saturating_add(1);
            rt.failures = 0;
            (rt.successes >= spec.success_before_passing).then_some(status)
        } else {
            rt.successes = 0;
            rt.failures = rt.failures.saturating_add(1);
            if rt.failures >= spec.failures_before_critical {
                Some(Status::Critical)
            } else if rt.failures >= spec.failures_before_warning {
                Some(Status::Warning)
            } else {
                None
            }
        };
        let Some(new_status) = new_status else {
            return;
        };
        let mut output = output.to_string();
        // A script's output comes already cut to its last bytes, Consul's way.
        if output.len() > spec.output_max_size && spec.more.script_args.is_empty() {
            let mut end = spec.output_max_size;
            while !output.is_char_boundary(end) {
                end -= 1;
            }
            output = format!(
                "{} ... (captured {} of {} bytes)",
                &output[..end],
                spec.output_max_size,
                output.len()
            );
        }
        if check.status != new_status || check.output != output {
            let mut c = (*check).clone();
            c.status = new_status;
            c.output = output;
            inner.put_check(c, now);
            self.schedule_reap(&mut inner, id);
        }
    }

    /// Turns expired TTL checks critical.
    pub(super) fn expire_ttl_checks(&self, inner: &mut Inner, now: Instant) {
        let expired: Vec<String> = inner
            .agent_checks
            .iter()
            .filter(|(_, rt)| rt.ttl_deadline.is_some_and(|d| d <= now))
            .map(|(id, _)| id.clone())
            .collect();
        let node = self.own_node();
        for id in expired {
            if let Some(rt) = inner.agent_checks.get_mut(&id) {
                rt.ttl_deadline = None;
            }
            let Some(check) = inner.checks.get(&(node.clone(), id.clone())).cloned() else {
                continue;
            };
            let output = if check.output.is_empty() {
                "TTL expired".to_string()
            } else {
                format!(
                    "TTL expired (last output before timeout follows): {}",
                    check.output
                )
            };
            tracing::debug!(check = %id, "TTL expired");
            let mut c = (*check).clone();
            c.status = Status::Critical;
            c.output = output;
            inner.put_check(c, now);
        }
    }

    /// Deregisters services whose check has been critical for longer than
    /// their `DeregisterCriticalServiceAfter`.
    pub(super) fn reap_critical_services(&self, inner: &mut Inner, now: Instant) {
        let node = self.own_node();
        let doomed: Vec<(String, String)> = inner
            .agent_checks
            .iter()
            .filter_map(|(id, rt)| {
                let since = rt.critical_since?;
                let check = inner.checks.get(&(node.clone(), id.clone()))?;
                let after = check.spec.deregister_critical_after?;
                (check.status == Status::Critical
                    && now >= since + after
                    && !check.service_id.is_empty())
                .then(|| (check.service_id.clone(), id.clone()))
            })
            .collect();
        for (service_id, check_id) in doomed {
            tracing::info!(service = %service_id, check = %check_id, "deregistering service: check critical for longer than DeregisterCriticalServiceAfter");
            inner.remove_service(&node, &service_id);
        }
    }

    /// `PUT /v1/agent/service/maintenance/:id`.
    pub fn service_maintenance(
        &self,
        id: &str,
        enable: bool,
        reason: &str,
    ) -> Result<(), ApiError> {
        let node = self.own_node();
        let now = Instant::now();
        let mut inner = self.lock();
        let Some(svc) = inner
            .services
            .get(&(node.clone(), id.to_string()))
            .filter(|s| inner.agent_services.contains(&s.id))
            .cloned()
        else {
            return Err(ApiError::not_found(format!(
                "No service registered with ID {id:?}"
            )));
        };
        let check_id = format!("{SERVICE_MAINT_PREFIX}{id}");
        if enable {
            let notes = if reason.is_empty() {
                "Maintenance mode is enabled for this service, but no reason was provided. This is a default message.".to_string()
            } else {
                reason.to_string()
            };
            inner.agent_checks.entry(check_id.clone()).or_default();
            inner.put_check(
                Check {
                    node,
                    check_id,
                    name: "Service Maintenance Mode".into(),
                    status: Status::Critical,
                    notes,
                    output: String::new(),
                    service_id: svc.id.clone(),
                    service_name: svc.name.clone(),
                    service_tags: svc.tags.clone(),
                    kind: "maintenance".into(),
                    spec: CheckSpec::default(),
                    create_index: 0,
                    modify_index: 0,
                },
                now,
            );
        } else {
            inner.remove_check(&node, &check_id);
        }
        Ok(())
    }

    /// `PUT /v1/agent/maintenance`.
    pub fn node_maintenance(&self, enable: bool, reason: &str) {
        let node = self.own_node();
        let now = Instant::now();
        let mut inner = self.lock();
        if enable {
            let notes = if reason.is_empty() {
                "Maintenance mode is enabled for this node, but no reason was provided. This is a default message.".to_string()
            } else {
                reason.to_string()
            };
            inner
                .agent_checks
                .entry(NODE_MAINT.to_string())
                .or_default();
            inner.put_check(
                Check {
                    node,
                    check_id: NODE_MAINT.into(),
                    name: "Node Maintenance Mode".into(),
                    status: Status::Critical,
                    notes,
                    output: String::new(),
                    service_id: String::new(),
                    service_name: String::new(),
                    service_tags: Vec::new(),
                    kind: "maintenance".into(),
                    spec: CheckSpec::default(),
                    create_index: 0,
                    modify_index: 0,
                },
                now,
            );
        } else {
            inner.remove_check(&node, NODE_MAINT);
        }
    }

    /// `/v1/agent/health/service/name/:name` and `.../id/:id`.
    pub fn agent_health(&self, name: Option<&str>, id: Option<&str>) -> Vec<AgentHealth> {
        let node = self.own_node();
        let inner = self.lock();
        let node_maint = inner
            .checks
            .get(&(node.clone(), NODE_MAINT.to_string()))
            .cloned();
        inner
            .agent_services(&node)
            .into_iter()
            .filter(|s| name.is_none_or(|n| s.name == n) && id.is_none_or(|i| s.id == i))
            .map(|s| {
                let mut checks: Vec<Arc<Check>> = inner
                    .checks
                    .values()
                    .filter(|c| c.node == node && c.service_id == s.id)
                    .cloned()
                    .collect();
                checks.extend(node_maint.iter().cloned());
                let maintenance = checks.iter().any(|c| {
                    c.check_id == NODE_MAINT || c.check_id.starts_with(SERVICE_MAINT_PREFIX)
                });
                let worst = checks
                    .iter()
                    .map(|c| c.status)
                    .max()
                    .unwrap_or(Status::Passing);
                AgentHealth {
                    aggregated: if maintenance {
                        "maintenance"
                    } else {
                        worst.as_str()
                    },
                    service: s,
                    checks,
                }
            })
            .collect()
    }
}
