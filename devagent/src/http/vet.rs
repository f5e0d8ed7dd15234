//! What Consul checks before agent and catalog writes (its `vet*` functions):
//! write on the service or node a registration, update or removal touches,
//! including what an existing registration with the same ID holds.

use super::{App, Caller};
use crate::acl::{Kind, Level};
use crate::decode::{CatalogDeregister, CatalogRegister};
use crate::error::ApiError;

/// The name of an agent-local service, by ID.
pub(super) fn service_name(app: &App, id: &str) -> Option<String> {
    let inner = app.store.lock();
    inner
        .services
        .get(&(app.info.node_name.clone(), id.to_string()))
        .filter(|s| inner.agent_services.contains(&s.id))
        .map(|s| s.name.clone())
}

/// Consul's `vetServiceUpdate`: write on the service the ID names.
pub(super) fn vet_service_update(app: &App, caller: &Caller, id: &str) -> Result<(), ApiError> {
    match service_name(app, id) {
        Some(name) => caller.authz.need(Kind::Service, Level::Write, &name),
        None => Err(ApiError::not_found(format!(
            "Unknown service ID {id:?}. Ensure that the service ID is passed, not the service name."
        ))),
    }
}

/// Write on what a check belongs to: its service, else this node.
pub(super) fn vet_check_owner(app: &App, caller: &Caller, service: &str) -> Result<(), ApiError> {
    if service.is_empty() {
        caller
            .authz
            .need(Kind::Node, Level::Write, &app.info.node_name)
    } else {
        caller.authz.need(Kind::Service, Level::Write, service)
    }
}

/// Consul's `vetCheckUpdate`: write on the check's service or node.
pub(super) fn vet_check_update(app: &App, caller: &Caller, id: &str) -> Result<(), ApiError> {
    if caller.authz.is_disabled() {
        return Ok(());
    }
    let owner = {
        let inner = app.store.lock();
        inner
            .checks
            .get(&(app.info.node_name.clone(), id.to_string()))
            .filter(|_| inner.agent_checks.contains_key(id))
            .map(|c| c.service_name.clone())
    };
    match owner {
        Some(service) => vet_check_owner(app, caller, &service),
        None => Err(ApiError::not_found(format!(
            "Unknown check ID {id:?}. Ensure that the check ID is passed, not the check name."
        ))),
    }
}

pub(super) fn agent_write(app: &App, caller: &Caller) -> Result<(), ApiError> {
    caller
        .authz
        .need(Kind::Agent, Level::Write, &app.info.node_name)
}

/// Consul's `vetRegisterWithACL`: node write when the node changes, service
/// write on the service (and on the one its ID held), and write on what each
/// check belongs to.
pub(super) fn vet_register(
    app: &App,
    caller: &Caller,
    req: &CatalogRegister,
) -> Result<(), ApiError> {
    if caller.authz.is_disabled() {
        return Ok(());
    }
    let (changes_node, existing_service, check_services) = {
        let inner = app.store.lock();
        let changes_node = match inner.nodes.get(&req.node) {
            None => true,
            Some(n) => {
                !req.skip_node_update
                    && (n.address != req.address
                        || (!req.id.is_empty() && n.id != req.id)
                        || n.meta != req.node_meta)
            }
        };
        let svc = |id: &str| {
            inner
                .services
                .get(&(req.node.clone(), id.to_string()))
                .map(|s| s.name.clone())
        };
        let existing_service = req
            .service
            .as_ref()
            .and_then(|s| svc(if s.id.is_empty() { &s.service } else { &s.id }));
        let checks: Vec<String> = req
            .check
            .iter()
            .chain(req.checks.iter())
            .map(|c| {
                if c.service_id.is_empty() {
                    String::new()
                } else {
                    match &req.service {
                        Some(s)
                            if s.id == c.service_id
                                || (s.id.is_empty() && s.service == c.service_id) =>
                        {
                            s.service.clone()
                        }
                        _ => svc(&c.service_id).unwrap_or_default(),
                    }
                }
            })
            .collect();
        (changes_node, existing_service, checks)
    };
    if changes_node {
        caller.authz.need(Kind::Node, Level::Write, &req.node)?;
    }
    if let Some(s) = &req.service {
        caller.authz.need(Kind::Service, Level::Write, &s.service)?;
        if let Some(old) = existing_service {
            caller.authz.need(Kind::Service, Level::Write, &old)?;
        }
    }
    for service in check_services {
        if service.is_empty() {
            caller.authz.need(Kind::Node, Level::Write, &req.node)?;
        } else {
            caller.authz.need(Kind::Service, Level::Write, &service)?;
        }
    }
    Ok(())
}

/// Consul's `vetDeregisterWithACL`.
pub(super) fn vet_deregister(
    app: &App,
    caller: &Caller,
    req: &CatalogDeregister,
) -> Result<(), ApiError> {
    if caller.authz.is_disabled() || req.node.is_empty() {
        return Ok(());
    }
    if !req.service_id.is_empty() {
        let name = app
            .store
            .lock()
            .services
            .get(&(req.node.clone(), req.service_id.clone()))
            .map(|s| s.name.clone());
        return match name {
            Some(n) => caller.authz.need(Kind::Service, Level::Write, &n),
            None => Err(ApiError::internal(format!(
                "Unknown service ID '{}'",
                req.service_id
            ))),
        };
    }
    if !req.check_id.is_empty() {
        let owner = app
            .store
            .lock()
            .checks
            .get(&(req.node.clone(), req.check_id.clone()))
            .map(|c| c.service_name.clone());
        return match owner {
            Some(s) if !s.is_empty() => caller.authz.need(Kind::Service, Level::Write, &s),
            Some(_) => caller.authz.need(Kind::Node, Level::Write, &req.node),
            None => Err(ApiError::internal(format!(
                "Unknown check ID '{}'",
                req.check_id
            ))),
        };
    }
    caller.authz.need(Kind::Node, Level::Write, &req.node)
}
