//! Check statuses, check definitions and records, health entries, and the
//! wire shapes of checks and health entries.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use consul_wire::HealthCheckDefinition;
use serde::{Serialize, Serializer};

use super::{Node, NodeServiceOut, Service};
use gocompat::duration;

/// The health of a check, as the store keeps it: a check is never
/// `maintenance` (that is an aggregate), so the store's type has the three
/// check statuses and writes them through [`consul_wire::Status`], the one
/// spelling of the wire model.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Status {
    /// The check succeeds.
    Passing,
    /// The check reports a problem that does not take the instance out of service.
    Warning,
    /// The check fails: DNS and `?passing` drop the instance.
    Critical,
}

impl Status {
    /// The wire spelling: `passing`, `warning` or `critical`.
    pub fn as_str(self) -> &'static str {
        consul_wire::Status::from(self).as_str()
    }

    /// Parses the wire spelling of a check status (`maintenance` is none).
    pub fn parse(s: &str) -> Option<Status> {
        match consul_wire::Status::parse(s)? {
            consul_wire::Status::Passing => Some(Status::Passing),
            consul_wire::Status::Warning => Some(Status::Warning),
            consul_wire::Status::Critical => Some(Status::Critical),
            consul_wire::Status::Maintenance => None,
        }
    }
}

impl From<Status> for consul_wire::Status {
    fn from(s: Status) -> Self {
        match s {
            Status::Passing => consul_wire::Status::Passing,
            Status::Warning => consul_wire::Status::Warning,
            Status::Critical => consul_wire::Status::Critical,
        }
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for Status {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        consul_wire::Status::from(*self).serialize(s)
    }
}

/// The definition of a check: what the agent runs and how often.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct CheckSpec {
    /// URL of an HTTP check.
    pub http: Option<String>,
    /// HTTP method (default GET).
    pub method: String,
    /// HTTP headers.
    pub header: BTreeMap<String, Vec<String>>,
    /// HTTP request body.
    pub body: String,
    /// Skip TLS verification for HTTPS checks.
    pub tls_skip_verify: bool,
    /// TLS server name for HTTPS checks.
    pub tls_server_name: String,
    /// Do not follow redirects.
    pub disable_redirects: bool,
    /// `host:port` of a TCP check.
    pub tcp: Option<String>,
    /// TTL of a TTL check.
    pub ttl: Option<Duration>,
    /// Interval of an active check.
    pub interval: Option<Duration>,
    /// Timeout of an active check (default 10s).
    pub timeout: Option<Duration>,
    /// Remove the service after the check has been critical this long.
    pub deregister_critical_after: Option<Duration>,
    /// Consecutive successes needed to turn passing.
    pub success_before_passing: u32,
    /// Consecutive failures needed to turn warning.
    pub failures_before_warning: u32,
    /// Consecutive failures needed to turn critical.
    pub failures_before_critical: u32,
    /// Output cap in bytes (default 4096).
    pub output_max_size: usize,
    /// The check types beyond HTTP, TCP and TTL.
    pub more: MoreProbes,
}

/// Script, Docker, UDP, gRPC, H2PING and alias checks (each empty when unused).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct MoreProbes {
    /// `Args` of a script check (run without a shell).
    pub script_args: Vec<String>,
    /// `DockerContainerID` of a Docker check.
    pub docker_container_id: String,
    /// `Shell` of a Docker check.
    pub shell: String,
    /// `host:port` of a UDP check.
    pub udp: String,
    /// `host:port[/service]` of a gRPC check.
    pub grpc: String,
    /// gRPC over TLS.
    pub grpc_use_tls: bool,
    /// `host:port` of an HTTP/2 ping check.
    pub h2ping: String,
    /// HTTP/2 ping over TLS (Consul's default: true).
    pub h2ping_use_tls: bool,
    /// Node an alias check follows.
    pub alias_node: String,
    /// Service ID an alias check follows.
    pub alias_service: String,
}

impl CheckSpec {
    /// Consul's check type: `http`, `ttl`, `tcp`, or `""` for none.
    pub fn kind(&self) -> &'static str {
        let m = &self.more;
        if !m.grpc.is_empty() {
            "grpc"
        } else if self.http.is_some() {
            "http"
        } else if self.ttl.is_some() {
            "ttl"
        } else if self.tcp.is_some() {
            "tcp"
        } else if !m.udp.is_empty() {
            "udp"
        } else if !m.alias_node.is_empty() || !m.alias_service.is_empty() {
            "alias"
        } else if !m.docker_container_id.is_empty() {
            "docker"
        } else if !m.script_args.is_empty() {
            "script"
        } else if !m.h2ping.is_empty() {
            "h2ping"
        } else {
            ""
        }
    }
}

/// A health check, node-level (`service_id` empty) or on a service instance.
#[derive(Clone, Debug, PartialEq)]
pub struct Check {
    /// Node the check belongs to.
    pub node: String,
    /// Check ID, unique per node.
    pub check_id: String,
    /// Human name.
    pub name: String,
    /// Current status.
    pub status: Status,
    /// Operator notes.
    pub notes: String,
    /// Output of the last run or TTL update.
    pub output: String,
    /// Service instance ID (empty for node checks).
    pub service_id: String,
    /// Service name (empty for node checks).
    pub service_name: String,
    /// Tags of the service.
    pub service_tags: Vec<String>,
    /// Type: `ttl`, `http`, `tcp`, `maintenance` or `""`.
    pub kind: String,
    /// What the agent runs.
    pub spec: CheckSpec,
    /// Raft index at creation.
    pub create_index: u64,
    /// Raft index of the last change.
    pub modify_index: u64,
}

/// One entry of `/v1/health/service/:name`: node, instance and all their checks.
#[derive(Clone, Debug)]
pub struct HealthEntry {
    /// The node.
    pub node: Arc<Node>,
    /// The instance.
    pub service: Arc<Service>,
    /// Node checks and the instance's checks.
    pub checks: Vec<Arc<Check>>,
}

impl HealthEntry {
    /// The worst status of all checks (passing when there are none).
    pub fn aggregate(&self) -> Status {
        self.checks
            .iter()
            .map(|c| c.status)
            .max()
            .unwrap_or(Status::Passing)
    }
}

fn dur_str(d: Option<Duration>) -> String {
    d.map(duration::format).unwrap_or_default()
}

impl From<&CheckSpec> for HealthCheckDefinition {
    /// The `Definition` the endpoints print: the shared wire type, every
    /// field omitted when empty.
    fn from(s: &CheckSpec) -> Self {
        HealthCheckDefinition {
            http: s.http.clone().unwrap_or_default(),
            tls_server_name: s.tls_server_name.clone(),
            tls_skip_verify: s.tls_skip_verify,
            header: s.header.clone(),
            method: s.method.clone(),
            body: s.body.clone(),
            disable_redirects: s.disable_redirects,
            tcp: s.tcp.clone().unwrap_or_default(),
            udp: s.more.udp.clone(),
            h2ping: s.more.h2ping.clone(),
            h2ping_use_tls: !s.more.h2ping.is_empty() && s.more.h2ping_use_tls,
            interval: s.interval,
            timeout: s.timeout,
            deregister_critical_service_after: s.deregister_critical_after,
            script_args: s.more.script_args.clone(),
            docker_container_id: s.more.docker_container_id.clone(),
            shell: s.more.shell.clone(),
            grpc: s.more.grpc.clone(),
            grpc_use_tls: s.more.grpc_use_tls,
            alias_node: s.more.alias_node.clone(),
            alias_service: s.more.alias_service.clone(),
            ttl: s.ttl,
            ..HealthCheckDefinition::default()
        }
    }
}

/// `HealthCheck`: the check shape shared by the agent, health and catalog endpoints.
#[derive(Serialize)]
pub struct CheckOut<'a> {
    #[serde(rename = "Node")]
    node: &'a str,
    #[serde(rename = "CheckID")]
    check_id: &'a str,
    #[serde(rename = "Name")]
    name: &'a str,
    #[serde(rename = "Status")]
    status: Status,
    #[serde(rename = "Notes")]
    notes: &'a str,
    #[serde(rename = "Output")]
    output: &'a str,
    #[serde(rename = "ServiceID")]
    service_id: &'a str,
    #[serde(rename = "ServiceName")]
    service_name: &'a str,
    #[serde(rename = "ServiceTags")]
    service_tags: &'a [String],
    #[serde(rename = "Type")]
    kind: &'a str,
    #[serde(rename = "Interval")]
    interval: String,
    #[serde(rename = "Timeout")]
    timeout: String,
    #[serde(rename = "ExposedPort")]
    exposed_port: u16,
    #[serde(rename = "Definition")]
    definition: HealthCheckDefinition,
    #[serde(rename = "CreateIndex")]
    create_index: u64,
    #[serde(rename = "ModifyIndex")]
    modify_index: u64,
}

impl<'a> From<&'a Check> for CheckOut<'a> {
    fn from(c: &'a Check) -> Self {
        let s = &c.spec;
        CheckOut {
            node: &c.node,
            check_id: &c.check_id,
            name: &c.name,
            status: c.status,
            notes: &c.notes,
            output: &c.output,
            service_id: &c.service_id,
            service_name: &c.service_name,
            service_tags: &c.service_tags,
            kind: &c.kind,
            interval: dur_str(s.interval),
            timeout: dur_str(s.timeout),
            exposed_port: 0,
            definition: HealthCheckDefinition::from(s),
            create_index: c.create_index,
            modify_index: c.modify_index,
        }
    }
}

/// Wire shape of a [`HealthEntry`].
#[derive(Serialize)]
pub struct HealthEntryOut<'a> {
    #[serde(rename = "Node")]
    node: &'a Node,
    #[serde(rename = "Service")]
    service: NodeServiceOut<'a>,
    #[serde(rename = "Checks")]
    checks: Vec<CheckOut<'a>>,
}

impl<'a> From<&'a HealthEntry> for HealthEntryOut<'a> {
    fn from(e: &'a HealthEntry) -> Self {
        HealthEntryOut {
            node: &e.node,
            service: NodeServiceOut::from(&*e.service),
            checks: e.checks.iter().map(|c| CheckOut::from(&**c)).collect(),
        }
    }
}
