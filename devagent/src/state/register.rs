//! `PUT /v1/catalog/register` and `/v1/catalog/deregister`: entries written
//! straight into the catalog, which the agent records but never runs.

use std::time::Instant;

use super::checkdef::{is_unspecified, parse_status, weights};
use super::{Inner, Store, Topic};
use crate::decode::{CatalogCheckIn, CatalogDeregister, CatalogRegister};
use crate::error::ApiError;
use crate::types::{Check, CheckSpec, Node, Service, Status};

impl Store {
    /// `PUT /v1/catalog/register`.
    pub fn catalog_register(&self, req: CatalogRegister) -> Result<(), ApiError> {
        if req.node.is_empty() {
            return Err(ApiError::internal("Must provide node"));
        }
        if req.address.is_empty() && !req.skip_node_update {
            return Err(ApiError::internal(
                "Must provide address if SkipNodeUpdate is not set",
            ));
        }
        if !req.id.is_empty() && uuid::Uuid::parse_str(&req.id).is_err() {
            return Err(ApiError::internal(format!(
                "Bad node ID: invalid UUID {:?}",
                req.id
            )));
        }
        if !req.datacenter.is_empty() && req.datacenter != self.config().datacenter {
            return Err(ApiError::internal("No path to datacenter"));
        }
        let now = Instant::now();
        let mut inner = self.lock();
        if !req.skip_node_update || !inner.nodes.contains_key(&req.node) {
            if req.address.is_empty() {
                return Err(ApiError::internal(format!(
                    "Node '{}' does not exist",
                    req.node
                )));
            }
            let mut tagged = req.tagged_addresses.clone();
            tagged
                .entry("lan".into())
                .or_insert_with(|| req.address.clone());
            tagged
                .entry("wan".into())
                .or_insert_with(|| req.address.clone());
            let id = if req.id.is_empty() {
                inner
                    .nodes
                    .get(&req.node)
                    .map(|n| n.id.clone())
                    .unwrap_or_default()
            } else {
                req.id.clone()
            };
            inner.upsert_node(Node {
                id,
                node: req.node.clone(),
                address: req.address.clone(),
                datacenter: self.config().datacenter.clone(),
                tagged_addresses: tagged,
                meta: req.node_meta.clone(),
                create_index: 0,
                modify_index: 0,
            });
        }
        if let Some(s) = &req.service {
            if s.service.is_empty() {
                return Err(ApiError::internal(
                    "Must provide service name (Service.Service) when service ID is provided",
                ));
            }
            if is_unspecified(&s.address) {
                return Err(ApiError::internal("Invalid service address"));
            }
            let id = if s.id.is_empty() {
                s.service.clone()
            } else {
                s.id.clone()
            };
            let w = weights(Some(&s.weights))
                .map_err(|e| ApiError::internal(format!("Invalid Weights: {e}")))?;
            inner.put_service(Service {
                node: req.node.clone(),
                kind: s.kind.clone(),
                id,
                name: s.service.clone(),
                tags: s.tags.clone(),
                address: s.address.clone(),
                tagged_addresses: s.tagged_addresses.clone(),
                meta: s.meta.clone(),
                port: s.port,
                socket_path: s.socket_path.clone(),
                weights: w,
                enable_tag_override: s.enable_tag_override,
                mesh: Default::default(),
                create_index: 0,
                modify_index: 0,
            });
        }
        for c in req.check.iter().chain(req.checks.iter()) {
            let check = self.catalog_check(&inner, &req.node, c)?;
            inner.put_check(check, now);
        }
        Ok(())
    }

    fn catalog_check(
        &self,
        inner: &Inner,
        node: &str,
        c: &CatalogCheckIn,
    ) -> Result<Check, ApiError> {
        let check_id = if c.check_id.is_empty() {
            c.name.clone()
        } else {
            c.check_id.clone()
        };
        if !c.node.is_empty() && c.node != node {
            return Err(ApiError::internal(format!(
                "Node '{}' for check '{check_id}' doesn't match register request node '{node}'",
                c.node
            )));
        }
        let svc = if c.service_id.is_empty() {
            None
        } else {
            Some(
                inner
                    .services
                    .get(&(node.to_string(), c.service_id.clone()))
                    .cloned()
                    .ok_or_else(|| {
                        ApiError::internal(format!(
                            "Unknown service ID '{}' for check ID '{check_id}'",
                            c.service_id
                        ))
                    })?,
            )
        };
        let status = parse_status(&c.status)
            .map_err(|()| ApiError::internal(format!("Invalid check status: '{}'", c.status)))?
            .unwrap_or(Status::Critical);
        let spec = c
            .definition
            .as_ref()
            .map(|d| CheckSpec {
                http: (!d.http.is_empty()).then(|| d.http.clone()),
                method: d.method.clone(),
                header: d.header.clone(),
                body: d.body.clone(),
                tls_skip_verify: d.tls_skip_verify,
                tls_server_name: d.tls_server_name.clone(),
                disable_redirects: d.disable_redirects,
                tcp: (!d.tcp.is_empty()).then(|| d.tcp.clone()),
                ttl: d.ttl,
                interval: d.interval.or(d.interval_duration),
                timeout: d.timeout.or(d.timeout_duration),
                deregister_critical_after: d
                    .deregister_critical_service_after
                    .or(d.deregister_critical_service_after_duration),
                ..CheckSpec::default()
            })
            .unwrap_or_default();
        let kind = if c.kind.is_empty() {
            spec.kind().to_string()
        } else {
            c.kind.clone()
        };
        Ok(Check {
            node: node.to_string(),
            check_id,
            name: c.name.clone(),
            status,
            notes: c.notes.clone(),
            output: c.output.clone(),
            service_id: svc.as_ref().map(|s| s.id.clone()).unwrap_or_default(),
            service_name: svc.as_ref().map(|s| s.name.clone()).unwrap_or_default(),
            service_tags: svc.as_ref().map(|s| s.tags.clone()).unwrap_or_default(),
            kind,
            spec,
            create_index: 0,
            modify_index: 0,
        })
    }

    /// `PUT /v1/catalog/deregister`.
    pub fn catalog_deregister(&self, req: CatalogDeregister) -> Result<(), ApiError> {
        if req.node.is_empty() {
            return Err(ApiError::internal("Must provide node"));
        }
        if !req.datacenter.is_empty() && req.datacenter != self.config().datacenter {
            return Err(ApiError::internal("No path to datacenter"));
        }
        let own = req.node == self.config().node_name;
        let mut inner = self.lock();
        if !req.service_id.is_empty() {
            if !(own && inner.agent_services.contains(&req.service_id)) {
                inner.remove_service(&req.node, &req.service_id);
            }
        } else if !req.check_id.is_empty() {
            if !(own && inner.agent_checks.contains_key(&req.check_id)) {
                inner.remove_check(&req.node, &req.check_id);
            }
        } else if own {
            // The agent's anti-entropy would put its own registrations back at
            // once; only what was registered through the catalog goes.
            let ids: Vec<String> = inner
                .services
                .range((req.node.clone(), String::new())..)
                .take_while(|((n, _), _)| *n == req.node)
                .filter(|((_, id), _)| !inner.agent_services.contains(id) && id != "consul")
                .map(|((_, id), _)| id.clone())
                .collect();
            for id in ids {
                inner.remove_service(&req.node, &id);
            }
        } else if inner.nodes.contains_key(&req.node) {
            let ids: Vec<String> = inner
                .services
                .range((req.node.clone(), String::new())..)
                .take_while(|((n, _), _)| *n == req.node)
                .map(|((_, id), _)| id.clone())
                .collect();
            for id in ids {
                inner.remove_service(&req.node, &id);
            }
            let checks: Vec<String> = inner
                .checks
                .range((req.node.clone(), String::new())..)
                .take_while(|((n, _), _)| *n == req.node)
                .map(|((_, id), _)| id.clone())
                .collect();
            for id in checks {
                inner.remove_check(&req.node, &id);
            }
            let index = inner.next_index();
            inner.tables.nodes = index;
            inner.nodes.remove(&req.node);
            inner.invalidate_sessions_for_node(&req.node, Instant::now());
            inner.notify(&Topic::Catalog);
        }
        Ok(())
    }
}
