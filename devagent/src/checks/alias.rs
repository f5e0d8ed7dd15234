//! Alias checks, as Consul's `CheckAlias`: the health of another service
//! instance (`AliasService`) or node (`AliasNode`), followed as it changes.

use std::time::Duration;

use crate::state::{BlockingOpts, Inner, Subscription, Topic};
use crate::types::{MoreProbes, Status};

/// How long one wait for a catalog change lasts before it is renewed.
pub(super) const ALIAS_WAIT: Duration = Duration::from_secs(60);

/// The status and output of an alias check over the current catalog.
pub(crate) fn evaluate(
    inner: &Inner,
    own_node: &str,
    self_id: &str,
    m: &MoreProbes,
) -> (Status, String) {
    let node = if m.alias_node.is_empty() {
        own_node
    } else {
        m.alias_node.as_str()
    };
    let mut health = Status::Passing;
    let mut msg = "No checks found.".to_string();
    let mut service_found = false;
    let checks = inner
        .checks
        .range((node.to_string(), String::new())..)
        .take_while(|((n, _), _)| n == node);
    for ((_, id), chk) in checks {
        if node == own_node && id == self_id {
            continue;
        }
        let matches = !m.alias_service.is_empty() && chk.service_id == m.alias_service;
        if !chk.service_id.is_empty() && !matches {
            continue;
        }
        if matches {
            service_found = true;
        }
        if matches!(chk.status, Status::Critical | Status::Warning) {
            if health != Status::Critical {
                health = chk.status;
                msg = format!("Aliased check {:?} failing: {}", chk.name, chk.output);
            }
        } else if health == Status::Passing {
            msg = "All checks passing.".to_string();
        }
    }
    let exists = || {
        inner
            .services
            .contains_key(&(node.to_string(), m.alias_service.clone()))
    };
    if !m.alias_service.is_empty() && !service_found && !exists() {
        health = Status::Critical;
        msg = format!(
            "Service {} could not be found on node {node}",
            m.alias_service
        );
    }
    (health, msg)
}

impl super::CheckRunner {
    /// Follows the aliased health until the check or the agent stops.
    pub(super) async fn run_alias(
        &self,
        check_id: &str,
        more: &MoreProbes,
        token: &tokio_util::sync::CancellationToken,
    ) {
        let own = self.store.config().node_name.clone();
        let mut index = 0;
        loop {
            let opts = BlockingOpts {
                index,
                wait: ALIAS_WAIT,
            };
            let query = self.store.blocking(
                opts,
                Subscription::Topic(Topic::Catalog),
                |inner: &Inner| {
                    let at = inner.tables.checks.max(inner.tables.services);
                    (at, evaluate(inner, &own, check_id, more))
                },
            );
            let (at, (status, output)) = tokio::select! {
                r = query => r,
                _ = token.cancelled() => return,
                _ = self.shutdown.cancelled() => return,
            };
            if token.is_cancelled() {
                return;
            }
            self.store.record_check_result(check_id, status, &output);
            index = at;
        }
    }
}
