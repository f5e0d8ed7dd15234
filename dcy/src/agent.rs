//! `/v1/agent/*`: the local agent's identity, its services and checks,
//! registration and TTL updates.

use std::collections::BTreeMap;
use std::time::Duration;

use http::{Method, StatusCode};
use serde::Deserialize;

use crate::client::{segment, Client, QueryOptions};
use crate::error::{Error, Result};
use crate::types::{AgentService, HealthCheck, Status};

pub use consul_wire::{CheckRegistration, ServiceRegistration, TaggedAddress};

/// What `/v1/agent/self` says about the agent.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AgentSelf {
    /// The agent's datacenter.
    pub datacenter: String,
    /// The agent's node name.
    pub node_name: String,
    /// Consul version.
    pub version: String,
    /// DNS domain (`consul.`).
    pub dns_domain: String,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct SelfJson {
    #[serde(rename = "Config")]
    config: SelfConfig,
    #[serde(rename = "DebugConfig")]
    debug: DebugConfig,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct SelfConfig {
    #[serde(rename = "Datacenter")]
    datacenter: String,
    #[serde(rename = "NodeName")]
    node_name: String,
    #[serde(rename = "Version")]
    version: String,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct DebugConfig {
    #[serde(rename = "DNSDomain")]
    dns_domain: String,
}

impl Client {
    /// `GET /v1/agent/self`.
    pub async fn agent_self(&self) -> Result<AgentSelf> {
        let (s, _): (SelfJson, _) = self
            .read_json("/v1/agent/self", &[], &QueryOptions::default())
            .await?;
        Ok(AgentSelf {
            datacenter: s.config.datacenter,
            node_name: s.config.node_name,
            version: s.config.version,
            dns_domain: if s.debug.dns_domain.is_empty() {
                "consul.".into()
            } else {
                s.debug.dns_domain
            },
        })
    }

    /// `GET /v1/agent/services`: the services registered with this agent.
    pub async fn agent_services(&self) -> Result<BTreeMap<String, AgentService>> {
        Ok(self
            .read_json("/v1/agent/services", &[], &QueryOptions::default())
            .await?
            .0)
    }

    /// `GET /v1/agent/checks`: the checks registered with this agent.
    pub async fn agent_checks(&self) -> Result<BTreeMap<String, HealthCheck>> {
        Ok(self
            .read_json("/v1/agent/checks", &[], &QueryOptions::default())
            .await?
            .0)
    }

    /// `GET /v1/agent/service/:id`, blocking while its content hash equals `hash`.
    ///
    /// Returns `None` when the agent does not know the service, with the new hash otherwise.
    pub async fn agent_service(
        &self,
        id: &str,
        hash: Option<&str>,
        wait: Duration,
    ) -> Result<Option<(AgentService, String)>> {
        let path = format!("/v1/agent/service/{}", segment(id));
        let raw = self.read_hash(&path, &[], hash, wait).await?;
        if raw.status == StatusCode::NOT_FOUND {
            return Ok(None);
        }
        let svc: AgentService = serde_json::from_slice(&raw.body)
            .map_err(|e| Error::decode(&format!("GET {path}"), e))?;
        // Without a content hash (old agents) block on nothing: every call returns at once.
        Ok(Some((svc, raw.content_hash.unwrap_or_default())))
    }

    /// `PUT /v1/agent/service/register`.
    pub async fn register_service(
        &self,
        reg: &ServiceRegistration,
        replace_existing_checks: bool,
    ) -> Result<()> {
        let params: Vec<(String, String)> = if replace_existing_checks {
            vec![("replace-existing-checks".into(), "true".into())]
        } else {
            Vec::new()
        };
        self.put_json("/v1/agent/service/register", &params, reg)
            .await?;
        Ok(())
    }

    /// `PUT /v1/agent/service/deregister/:id`.
    pub async fn deregister_service(&self, id: &str) -> Result<()> {
        let path = format!("/v1/agent/service/deregister/{}", segment(id));
        self.write(Method::PUT, &path, &[], None).await?;
        Ok(())
    }

    /// `PUT /v1/agent/check/register`.
    pub async fn register_check(&self, check: &CheckRegistration) -> Result<()> {
        self.put_json("/v1/agent/check/register", &[], check)
            .await?;
        Ok(())
    }

    /// `PUT /v1/agent/check/deregister/:id`.
    pub async fn deregister_check(&self, id: &str) -> Result<()> {
        let path = format!("/v1/agent/check/deregister/{}", segment(id));
        self.write(Method::PUT, &path, &[], None).await?;
        Ok(())
    }

    /// `PUT /v1/agent/check/update/:id`: sets a TTL check's status and output.
    pub async fn update_ttl(&self, check_id: &str, status: Status, output: &str) -> Result<()> {
        let path = format!("/v1/agent/check/update/{}", segment(check_id));
        let body = serde_json::json!({"Status": status.as_str(), "Output": output});
        self.put_json(&path, &[], &body).await?;
        Ok(())
    }

    /// `PUT /v1/agent/service/maintenance/:id`.
    pub async fn service_maintenance(&self, id: &str, enable: bool, reason: &str) -> Result<()> {
        let path = format!("/v1/agent/service/maintenance/{}", segment(id));
        let params = vec![
            ("enable".to_string(), enable.to_string()),
            ("reason".to_string(), reason.to_string()),
        ];
        self.write(Method::PUT, &path, &params, None).await?;
        Ok(())
    }
}
