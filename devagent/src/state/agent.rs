//! Agent-local registration: services with their checks, standalone checks,
//! and the runtime state (TTL deadlines, runners) of the checks the agent owns.

use std::sync::Arc;
use std::time::Instant;

use tokio_util::sync::CancellationToken;

use super::catalog::RunnerSpawn;
use super::checkdef::{
    is_unspecified, parse_status, tagged_addresses, unknown_check, validate_meta, weights,
    CheckInput,
};
use super::{CheckRuntime, Inner, Store};
use crate::decode::{CheckIn, ServiceDefinition};
use crate::error::ApiError;
use crate::types::{Check, CheckSpec, Service, Status};

impl Store {
    fn build_check(
        &self,
        inner: &Inner,
        check_id: String,
        name: String,
        input: &CheckIn,
        spec: CheckSpec,
        svc: Option<&Service>,
    ) -> Check {
        // Validated before: an unknown status cannot reach here.
        let status = parse_status(input.status_str())
            .ok()
            .flatten()
            .unwrap_or(Status::Critical);
        let node = self.own_node();
        let existing = inner.checks.get(&(node.clone(), check_id.clone()));
        let (status, output) = match existing {
            Some(old) if input.status_str().is_empty() => (old.status, old.output.clone()),
            Some(old) => (status, old.output.clone()),
            None => (status, String::new()),
        };
        Check {
            node,
            kind: spec.kind().to_string(),
            check_id,
            name,
            status,
            notes: input.notes.clone(),
            output,
            service_id: svc.map(|s| s.id.clone()).unwrap_or_default(),
            service_name: svc.map(|s| s.name.clone()).unwrap_or_default(),
            service_tags: svc.map(|s| s.tags.clone()).unwrap_or_default(),
            spec,
            create_index: 0,
            modify_index: 0,
        }
    }

    /// Installs an agent-owned check and its runtime; returns the runner to start.
    fn install_agent_check(
        &self,
        inner: &mut Inner,
        check: Check,
        now: Instant,
    ) -> Option<RunnerSpawn> {
        let id = check.check_id.clone();
        if let Some(old) = inner.agent_checks.remove(&id) {
            if let Some(t) = old.runner {
                t.cancel();
            }
        }
        let mut rt = CheckRuntime::default();
        if let Some(ttl) = check.spec.ttl {
            let at = now + ttl;
            rt.ttl_deadline = Some(at);
            if inner.schedule(at) {
                self.kick_timer();
            }
        }
        let spawn = crate::checks::is_active(&check.spec).then(|| {
            let token = CancellationToken::new();
            rt.runner = Some(token.clone());
            RunnerSpawn {
                check_id: id.clone(),
                spec: check.spec.clone(),
                token,
            }
        });
        if check.status == Status::Critical {
            rt.critical_since = Some(now);
            if let Some(after) = check.spec.deregister_critical_after {
                if inner.schedule(now + after) {
                    self.kick_timer();
                }
            }
        }
        inner.agent_checks.insert(id, rt);
        inner.put_check(check, now);
        spawn
    }

    /// `PUT /v1/agent/service/register`.
    pub fn agent_register_service(
        &self,
        def: ServiceDefinition,
        replace_existing_checks: bool,
    ) -> Result<Vec<RunnerSpawn>, ApiError> {
        self.agent_register_service_from(def, replace_existing_checks, false)
    }

    /// A service registration over the API or (`local`) from a config file;
    /// with `Connect.SidecarService`, its sidecar too (both checked first).
    pub(crate) fn agent_register_service_from(
        &self,
        def: ServiceDefinition,
        replace_existing_checks: bool,
        local: bool,
    ) -> Result<Vec<RunnerSpawn>, ApiError> {
        let id = if def.id.is_empty() {
            def.name.clone()
        } else {
            def.id.clone()
        };
        let used = self.sidecar_ports();
        let (mesh, sidecar) =
            crate::mesh::prepare(&def, &id, &used).map_err(ApiError::bad_request)?;
        let mut sidecar_mesh = None;
        if let Some(sc) = &sidecar {
            self.vet_definition(sc, local)?;
            let (mut m, _) =
                crate::mesh::prepare(sc, &sc.id, &used).map_err(ApiError::bad_request)?;
            m.sidecar_of = id.clone();
            sidecar_mesh = Some(m);
        }
        let mut spawns = self.register_one(def, replace_existing_checks, local, mesh)?;
        if let (Some(sc), Some(m)) = (sidecar, sidecar_mesh) {
            spawns.extend(self.register_one(sc, replace_existing_checks, local, m)?);
        }
        Ok(spawns)
    }

    /// Ports of the connect proxies on this node.
    fn sidecar_ports(&self) -> std::collections::HashSet<u16> {
        let node = self.own_node();
        self.lock()
            .services
            .values()
            .filter(|s| s.node == node && s.kind == "connect-proxy")
            .map(|s| s.port)
            .collect()
    }

    /// What a registration must pass before anything is written: its
    /// weights and the spec of each check.
    fn vet_definition(
        &self,
        def: &ServiceDefinition,
        local: bool,
    ) -> Result<(crate::types::Weights, Vec<CheckSpec>), ApiError> {
        if def.name.is_empty() {
            return Err(ApiError::bad_request("Missing service name"));
        }
        if is_unspecified(&def.address) {
            return Err(ApiError::bad_request("Invalid service address"));
        }
        validate_meta(&def.meta)
            .map_err(|e| ApiError::bad_request(format!("Invalid Service Meta: {e}")))?;
        let weights = weights(def.weights.as_ref())
            .map_err(|e| ApiError::bad_request(format!("Invalid Weights: {e}")))?;
        let mut specs = Vec::new();
        for c in def
            .check
            .iter()
            .chain(def.checks.iter())
            .filter(|c| !c.is_empty())
        {
            parse_status(c.status_str()).map_err(|()| {
                ApiError::bad_request("Status for checks must 'passing', 'warning', 'critical'")
            })?;
            let spec = c
                .to_spec_from(self.config(), local)
                .map_err(|e| ApiError::bad_request(format!("Invalid check: {e}")))?;
            specs.push(spec);
        }
        Ok((weights, specs))
    }

    fn register_one(
        &self,
        def: ServiceDefinition,
        replace_existing_checks: bool,
        local: bool,
        mesh: crate::types::Mesh,
    ) -> Result<Vec<RunnerSpawn>, ApiError> {
        let (weights, specs) = self.vet_definition(&def, local)?;
        let id = if def.id.is_empty() {
            def.name.clone()
        } else {
            def.id.clone()
        };
        let node = self.own_node();
        let inputs: Vec<&CheckIn> = def
            .check
            .iter()
            .chain(def.checks.iter())
            .filter(|c| !c.is_empty())
            .collect();
        let svc = Service {
            node: node.clone(),
            kind: def.kind.clone(),
            id: id.clone(),
            name: def.name.clone(),
            tags: def.tags.clone(),
            address: def.address.clone(),
            tagged_addresses: tagged_addresses(
                &def.address,
                def.port,
                def.tagged_addresses.clone(),
            ),
            meta: def.meta.clone(),
            port: def.port,
            socket_path: def.socket_path.clone(),
            weights,
            enable_tag_override: def.enable_tag_override,
            mesh,
            create_index: 0,
            modify_index: 0,
        };
        let now = Instant::now();
        let mut inner = self.lock();
        let many = inputs.len() > 1;
        let mut new_ids = Vec::new();
        let mut checks = Vec::new();
        for (i, (c, spec)) in inputs.iter().zip(specs).enumerate() {
            let check_id = if !c.check_id.is_empty() {
                c.check_id.clone()
            } else if !c.id.is_empty() {
                c.id.clone()
            } else if many {
                format!("service:{id}:{}", i + 1)
            } else {
                format!("service:{id}")
            };
            let name = if c.name.is_empty() {
                format!("Service '{}' check", def.name)
            } else {
                c.name.clone()
            };
            new_ids.push(check_id.clone());
            checks.push(self.build_check(&inner, check_id, name, c, spec, Some(&svc)));
        }
        inner.put_service(svc);
        if inner.agent_services.insert(id.clone()) {
            inner.agent_services_version += 1;
        }
        if replace_existing_checks {
            let stale: Vec<String> = inner
                .owned_checks(&node, &id)
                .iter()
                .filter(|c| !new_ids.contains(&c.check_id) && c.kind != "maintenance")
                .map(|c| c.check_id.clone())
                .collect();
            for cid in stale {
                inner.remove_check(&node, &cid);
            }
        }
        // Existing checks keep the service's current tags.
        let tags = def.tags.clone();
        let refresh: Vec<Check> = inner
            .owned_checks(&node, &id)
            .iter()
            .filter(|c| !new_ids.contains(&c.check_id))
            .filter(|c| c.service_tags != tags || c.service_name != def.name)
            .map(|c| {
                let mut c = (**c).clone();
                c.service_tags = tags.clone();
                c.service_name = def.name.clone();
                c
            })
            .collect();
        for c in refresh {
            inner.put_check(c, now);
        }
        let spawns = checks
            .into_iter()
            .filter_map(|c| self.install_agent_check(&mut inner, c, now))
            .collect();
        Ok(spawns)
    }

    /// `PUT /v1/agent/service/deregister/:id`.
    pub fn agent_deregister_service(&self, id: &str) -> Result<(), ApiError> {
        let node = self.own_node();
        let mut inner = self.lock();
        if !inner.agent_services.contains(id) {
            return Err(ApiError::not_found(format!(
                "Unknown service ID {id:?}. Ensure that the service ID is passed, not the service name."
            )));
        }
        inner.remove_service(&node, id);
        // A sidecar registered with its parent leaves with it.
        let sidecars: Vec<String> = inner
            .services
            .values()
            .filter(|s| s.node == node && s.mesh.sidecar_of == id)
            .map(|s| s.id.clone())
            .collect();
        for sc in sidecars {
            if inner.agent_services.contains(&sc) {
                inner.remove_service(&node, &sc);
            }
        }
        Ok(())
    }

    /// `PUT /v1/agent/check/register`.
    pub fn agent_register_check(&self, input: CheckIn) -> Result<Option<RunnerSpawn>, ApiError> {
        self.agent_register_check_from(input, false)
    }

    /// A check registration over the API or (`local`) from a config file.
    pub(crate) fn agent_register_check_from(
        &self,
        input: CheckIn,
        local: bool,
    ) -> Result<Option<RunnerSpawn>, ApiError> {
        if input.name.is_empty() {
            return Err(ApiError::bad_request("Missing check name"));
        }
        // Validated here; build_check reads it again.
        parse_status(input.status_str()).map_err(|()| ApiError::bad_request("Bad check status"))?;
        let spec = input
            .to_spec_from(self.config(), local)
            .map_err(|e| ApiError::bad_request(format!("Invalid check: {e}")))?;
        let check_id = if !input.id.is_empty() {
            input.id.clone()
        } else if !input.check_id.is_empty() {
            input.check_id.clone()
        } else {
            input.name.clone()
        };
        let node = self.own_node();
        let now = Instant::now();
        let mut inner = self.lock();
        let svc = if input.service_id.is_empty() {
            None
        } else {
            match inner
                .services
                .get(&(node.clone(), input.service_id.clone()))
            {
                Some(s) if inner.agent_services.contains(&s.id) => Some(Arc::clone(s)),
                _ => {
                    return Err(ApiError::not_found(format!(
                        "ServiceID {:?} does not exist",
                        input.service_id
                    )))
                }
            }
        };
        let check = self.build_check(
            &inner,
            check_id,
            input.name.clone(),
            &input,
            spec,
            svc.as_deref(),
        );
        Ok(self.install_agent_check(&mut inner, check, now))
    }

    /// `PUT /v1/agent/check/deregister/:id`.
    pub fn agent_deregister_check(&self, id: &str) -> Result<(), ApiError> {
        let node = self.own_node();
        let mut inner = self.lock();
        if !inner.agent_checks.contains_key(id) {
            return Err(unknown_check(id));
        }
        inner.remove_check(&node, id);
        Ok(())
    }
}
