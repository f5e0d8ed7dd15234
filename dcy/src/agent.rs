//! `/v1/agent/*`: the local agent's identity, its services and checks,
//! registration and TTL updates.

use std::collections::BTreeMap;
use std::time::Duration;

use http::{Method, StatusCode};
use serde::{Deserialize, Serialize, Serializer};

use crate::client::{segment, Client, QueryOptions};
use crate::error::{Error, Result};
use crate::types::{AgentService, HealthCheck, Status, Weights};

fn go_duration<S: Serializer>(d: &Option<Duration>, s: S) -> std::result::Result<S::Ok, S::Error> {
    match d {
        Some(d) => s.serialize_str(&gocompat::duration::format(*d)),
        None => s.serialize_none(),
    }
}

/// A check in a service registration (Consul's `AgentServiceCheck`).
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct CheckRegistration {
    /// Check ID (default `service:<id>[:n]`).
    #[serde(rename = "CheckID", skip_serializing_if = "String::is_empty")]
    pub check_id: String,
    /// Name.
    #[serde(rename = "Name", skip_serializing_if = "String::is_empty")]
    pub name: String,
    /// Initial status (Consul's default is critical).
    #[serde(rename = "Status", skip_serializing_if = "Option::is_none")]
    pub status: Option<Status>,
    /// Notes.
    #[serde(rename = "Notes", skip_serializing_if = "String::is_empty")]
    pub notes: String,
    /// Service instance (for `/v1/agent/check/register`).
    #[serde(rename = "ServiceID", skip_serializing_if = "String::is_empty")]
    pub service_id: String,
    /// URL of an HTTP check.
    #[serde(rename = "HTTP", skip_serializing_if = "String::is_empty")]
    pub http: String,
    /// HTTP method.
    #[serde(rename = "Method", skip_serializing_if = "String::is_empty")]
    pub method: String,
    /// HTTP headers.
    #[serde(rename = "Header", skip_serializing_if = "BTreeMap::is_empty")]
    pub header: BTreeMap<String, Vec<String>>,
    /// Skip TLS verification of an https check.
    #[serde(rename = "TLSSkipVerify", skip_serializing_if = "std::ops::Not::not")]
    pub tls_skip_verify: bool,
    /// `host:port` of a TCP check.
    #[serde(rename = "TCP", skip_serializing_if = "String::is_empty")]
    pub tcp: String,
    /// TTL of a TTL check.
    #[serde(
        rename = "TTL",
        serialize_with = "go_duration",
        skip_serializing_if = "Option::is_none"
    )]
    pub ttl: Option<Duration>,
    /// Interval of an HTTP or TCP check.
    #[serde(
        rename = "Interval",
        serialize_with = "go_duration",
        skip_serializing_if = "Option::is_none"
    )]
    pub interval: Option<Duration>,
    /// Timeout of an HTTP or TCP check.
    #[serde(
        rename = "Timeout",
        serialize_with = "go_duration",
        skip_serializing_if = "Option::is_none"
    )]
    pub timeout: Option<Duration>,
    /// Remove the service after the check has been critical this long.
    #[serde(
        rename = "DeregisterCriticalServiceAfter",
        serialize_with = "go_duration",
        skip_serializing_if = "Option::is_none"
    )]
    pub deregister_critical_service_after: Option<Duration>,
    /// Body of an HTTP check request.
    #[serde(rename = "Body", skip_serializing_if = "String::is_empty")]
    pub body: String,
    /// Do not follow redirects in an HTTP check.
    #[serde(
        rename = "DisableRedirects",
        skip_serializing_if = "std::ops::Not::not"
    )]
    pub disable_redirects: bool,
    /// Name to verify the certificate of an https check against.
    #[serde(rename = "TLSServerName", skip_serializing_if = "String::is_empty")]
    pub tls_server_name: String,
    /// Consecutive successes before the check turns passing.
    #[serde(rename = "SuccessBeforePassing", skip_serializing_if = "is_zero")]
    pub success_before_passing: u32,
    /// Consecutive failures before the check turns warning.
    #[serde(rename = "FailuresBeforeWarning", skip_serializing_if = "is_zero")]
    pub failures_before_warning: u32,
    /// Consecutive failures before the check turns critical.
    #[serde(rename = "FailuresBeforeCritical", skip_serializing_if = "is_zero")]
    pub failures_before_critical: u32,
    /// Largest output kept, in bytes.
    #[serde(rename = "OutputMaxSize", skip_serializing_if = "is_zero")]
    pub output_max_size: u32,
    /// Command of a script check, run without a shell (needs the agent's
    /// `enable_script_checks`).
    #[serde(rename = "ScriptArgs", skip_serializing_if = "Vec::is_empty")]
    pub script_args: Vec<String>,
    /// Container of a Docker check (with `script_args`).
    #[serde(rename = "DockerContainerID", skip_serializing_if = "String::is_empty")]
    pub docker_container_id: String,
    /// Shell of a Docker check.
    #[serde(rename = "Shell", skip_serializing_if = "String::is_empty")]
    pub shell: String,
    /// `host:port[/service]` of a gRPC health check.
    #[serde(rename = "GRPC", skip_serializing_if = "String::is_empty")]
    pub grpc: String,
    /// gRPC over TLS.
    #[serde(rename = "GRPCUseTLS", skip_serializing_if = "std::ops::Not::not")]
    pub grpc_use_tls: bool,
    /// `host:port` of a UDP check.
    #[serde(rename = "UDP", skip_serializing_if = "String::is_empty")]
    pub udp: String,
    /// `host:port` of an HTTP/2 ping check.
    #[serde(rename = "H2PING", skip_serializing_if = "String::is_empty")]
    pub h2ping: String,
    /// HTTP/2 ping over TLS (Consul's default: true).
    #[serde(rename = "H2PingUseTLS", skip_serializing_if = "Option::is_none")]
    pub h2ping_use_tls: Option<bool>,
    /// Service ID an alias check follows.
    #[serde(rename = "AliasService", skip_serializing_if = "String::is_empty")]
    pub alias_service: String,
    /// Node an alias check follows.
    #[serde(rename = "AliasNode", skip_serializing_if = "String::is_empty")]
    pub alias_node: String,
}

fn is_zero(n: &u32) -> bool {
    *n == 0
}

/// An address and port in `TaggedAddresses`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TaggedAddress {
    /// Address.
    #[serde(rename = "Address")]
    pub address: String,
    /// Port.
    #[serde(rename = "Port")]
    pub port: u16,
}

/// A service definition (Consul's `AgentServiceRegistration`).
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct ServiceRegistration {
    /// Instance ID (default: the name).
    #[serde(rename = "ID", skip_serializing_if = "String::is_empty")]
    pub id: String,
    /// Service name.
    #[serde(rename = "Name")]
    pub name: String,
    /// Tags.
    #[serde(rename = "Tags")]
    pub tags: Vec<String>,
    /// Address (empty: the agent's node address).
    #[serde(rename = "Address", skip_serializing_if = "String::is_empty")]
    pub address: String,
    /// Port.
    #[serde(rename = "Port")]
    pub port: u16,
    /// Metadata.
    #[serde(rename = "Meta")]
    pub meta: BTreeMap<String, String>,
    /// Weights.
    #[serde(rename = "Weights", skip_serializing_if = "Option::is_none")]
    pub weights: Option<Weights>,
    /// Allow catalog tag updates.
    #[serde(
        rename = "EnableTagOverride",
        skip_serializing_if = "std::ops::Not::not"
    )]
    pub enable_tag_override: bool,
    /// Checks.
    #[serde(rename = "Checks")]
    pub checks: Vec<CheckRegistration>,
}

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
