//! Agent configuration: [`AgentConfig`], and [`ConfigBuilder`], which layers
//! the JSON/HCL config files `consul agent` reads and the values of its
//! flags as Consul does (defaults < files < `-hcl` < flags). The `devagent`
//! binary parses the flags; this is what they set.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::time::Duration;

use serde_json::Value;

use crate::acl::{AclConfig, DefaultPolicy, Secret};
use crate::dns::DnsConfig;
use crate::limits::Limits;

mod file;

use file::{apply_file, config_files, port, read_file, recursor};

/// Consul version the agent reports.
pub const CONSUL_VERSION: &str = "1.21.0";

/// Everything an agent needs to start.
#[derive(Clone)]
pub struct AgentConfig {
    /// Node name (default: the host name).
    pub node_name: String,
    /// Node UUID (default: random).
    pub node_id: Option<String>,
    /// Datacenter (default `dc1`).
    pub datacenter: String,
    /// Address of the HTTP API; port 0 picks a free port.
    pub http_addr: SocketAddr,
    /// Address of the DNS server (UDP and TCP); `None` turns DNS off.
    pub dns_addr: Option<SocketAddr>,
    /// The node's address in the catalog (`-bind`).
    pub advertise_addr: IpAddr,
    /// The ACL system (`acl { ... }`).
    pub acl: AclConfig,
    /// DNS behaviour.
    pub dns: DnsConfig,
    /// `-data-dir`: accepted for compatibility; state is kept in memory.
    pub data_dir: Option<PathBuf>,
    /// Shortest interval of active checks (Consul: 1s).
    pub min_check_interval: Duration,
    /// Shortest `DeregisterCriticalServiceAfter` (Consul: 1m).
    pub min_deregister_after: Duration,
    /// What one client may cost: the `limits` block.
    pub limits: Limits,
    /// `enable_script_checks`: script checks registered over the HTTP API run.
    pub enable_script_checks: bool,
    /// `enable_local_script_checks`: script checks of config files run.
    pub enable_local_script_checks: bool,
    /// Services (`service`/`services`) and checks (`check`/`checks`) of the
    /// config files, registered at start as local definitions.
    pub definitions: Vec<serde_json::Value>,
    /// The log stream `/v1/agent/monitor` follows (the binary installs its layer).
    pub log_hub: Option<crate::logs::LogHub>,
}

impl std::fmt::Debug for AgentConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AgentConfig")
            .field("node_name", &self.node_name)
            .field("node_id", &self.node_id)
            .field("datacenter", &self.datacenter)
            .field("http_addr", &self.http_addr)
            .field("dns_addr", &self.dns_addr)
            .field("advertise_addr", &self.advertise_addr)
            .field("acl", &self.acl)
            .field("dns", &self.dns)
            .field("data_dir", &self.data_dir)
            .field("min_check_interval", &self.min_check_interval)
            .field("min_deregister_after", &self.min_deregister_after)
            .field("limits", &self.limits)
            .field("enable_script_checks", &self.enable_script_checks)
            .field(
                "enable_local_script_checks",
                &self.enable_local_script_checks,
            )
            .field("definitions", &self.definitions.len())
            .finish()
    }
}

/// The host name, or `devagent` when it cannot be read.
pub fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "devagent".to_string())
}

impl Default for AgentConfig {
    fn default() -> Self {
        let local = IpAddr::V4(Ipv4Addr::LOCALHOST);
        AgentConfig {
            node_name: hostname(),
            node_id: None,
            datacenter: "dc1".into(),
            http_addr: SocketAddr::new(local, 8500),
            dns_addr: Some(SocketAddr::new(local, 8600)),
            advertise_addr: local,
            acl: AclConfig::default(),
            dns: DnsConfig::default(),
            data_dir: None,
            min_check_interval: Duration::from_secs(1),
            min_deregister_after: Duration::from_secs(60),
            limits: Limits::default(),
            enable_script_checks: false,
            enable_local_script_checks: false,
            definitions: Vec::new(),
            log_hub: None,
        }
    }
}

impl AgentConfig {
    /// A [`ConfigBuilder`]: config files and flag values layered as
    /// `consul agent` does.
    pub fn builder() -> ConfigBuilder {
        ConfigBuilder::default()
    }
}

/// `consul agent`'s configuration in layers: the files of the config
/// directories (in lexical order), the config files, the inline HCL, then
/// the values set here (what its flags set) on top. [`ConfigBuilder::build`]
/// reads the files and checks the result; the `devagent` binary's flags
/// fill one in.
///
/// ```
/// let cfg = devagent::AgentConfig::builder()
///     .http_port(0)
///     .dns_port(-1)
///     .hcl("node_name = \"from-hcl\"")
///     .datacenter("east")
///     .build()
///     .unwrap();
/// assert_eq!((cfg.node_name.as_str(), cfg.datacenter.as_str()), ("from-hcl", "east"));
/// assert_eq!(cfg.http_addr.port(), 0);
/// assert!(cfg.dns_addr.is_none());
/// ```
#[derive(Clone, Debug, Default)]
pub struct ConfigBuilder {
    bind: Option<IpAddr>,
    client: Option<IpAddr>,
    http_port: Option<u16>,
    dns_port: Option<i32>,
    node: Option<String>,
    node_id: Option<String>,
    datacenter: Option<String>,
    config_files: Vec<PathBuf>,
    config_dirs: Vec<PathBuf>,
    data_dir: Option<PathBuf>,
    hcl: Vec<String>,
    recursors: Vec<String>,
    acl_token: Option<Secret>,
    enable_script_checks: bool,
    enable_local_script_checks: bool,
}

/// A configuration problem, with the file or flag it came from.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct ConfigError(pub String);

/// Whether a config file names `acl.default_policy` (then the flag keeps it).
fn files_set_default_policy(files: &[PathBuf], dirs: &[PathBuf]) -> bool {
    config_files(dirs, files)
        .unwrap_or_default()
        .iter()
        .any(|f| {
            read_file(f).is_ok_and(|v| {
                v.get("acl").and_then(|a| a.get("default_policy")).is_some()
                    || v.get("acl_default_policy").is_some()
            })
        })
}

impl ConfigBuilder {
    /// `-bind`: the node's address in the catalog.
    pub fn bind(mut self, ip: IpAddr) -> Self {
        self.bind = Some(ip);
        self
    }

    /// `-client`: the address the HTTP and DNS servers listen on.
    pub fn client(mut self, ip: IpAddr) -> Self {
        self.client = Some(ip);
        self
    }

    /// `-http-port` (0 picks a free port).
    pub fn http_port(mut self, port: u16) -> Self {
        self.http_port = Some(port);
        self
    }

    /// `-dns-port` (0 picks a free port, negative turns DNS off).
    pub fn dns_port(mut self, port: i32) -> Self {
        self.dns_port = Some(port);
        self
    }

    /// `-node`: the node name.
    pub fn node(mut self, name: impl Into<String>) -> Self {
        self.node = Some(name.into());
        self
    }

    /// `-node-id`: the node UUID.
    pub fn node_id(mut self, id: impl Into<String>) -> Self {
        self.node_id = Some(id.into());
        self
    }

    /// `-datacenter`.
    pub fn datacenter(mut self, dc: impl Into<String>) -> Self {
        self.datacenter = Some(dc.into());
        self
    }

    /// `-config-file` (repeatable): a JSON or HCL file, read after the
    /// directories.
    pub fn config_file(mut self, path: impl Into<PathBuf>) -> Self {
        self.config_files.push(path.into());
        self
    }

    /// `-config-dir` (repeatable): its `.json` and `.hcl` files, in
    /// lexical order.
    pub fn config_dir(mut self, path: impl Into<PathBuf>) -> Self {
        self.config_dirs.push(path.into());
        self
    }

    /// `-data-dir`: accepted for compatibility; state is kept in memory.
    pub fn data_dir(mut self, path: impl Into<PathBuf>) -> Self {
        self.data_dir = Some(path.into());
        self
    }

    /// `-hcl` (repeatable): inline HCL, applied after the config files.
    pub fn hcl(mut self, text: impl Into<String>) -> Self {
        self.hcl.push(text.into());
        self
    }

    /// `-recursor` (repeatable): an upstream DNS server (IP, optional port)
    /// for names outside `consul.`.
    pub fn recursor(mut self, addr: impl Into<String>) -> Self {
        self.recursors.push(addr.into());
        self
    }

    /// `-acl-initial-management-token`: ACLs on, with default policy
    /// "deny" unless a config file sets one, and this management token
    /// (an empty token is none).
    pub fn acl_token(mut self, token: impl Into<String>) -> Self {
        self.acl_token = Some(Secret::new(token.into()));
        self
    }

    /// `-enable-script-checks`: script checks registered over the HTTP
    /// API run (a config file may turn it on too).
    pub fn enable_script_checks(mut self, on: bool) -> Self {
        self.enable_script_checks = on;
        self
    }

    /// `-enable-local-script-checks`: script checks of config files run
    /// (a config file may turn it on too).
    pub fn enable_local_script_checks(mut self, on: bool) -> Self {
        self.enable_local_script_checks = on;
        self
    }

    /// The configuration: defaults, then the config files, the inline HCL
    /// and the values set here.
    ///
    /// # Errors
    /// A file that cannot be read or parsed, a bad value (a port, an
    /// address, a node ID that is not a UUID, a datacenter name): the
    /// message names the file or flag.
    pub fn build(&self) -> Result<AgentConfig, ConfigError> {
        let mut cfg = AgentConfig::default();
        let mut http_port: i64 = 8500;
        let mut dns_port: i64 = 8600;
        for file in config_files(&self.config_dirs, &self.config_files)? {
            let v = read_file(&file)?;
            apply_file(&mut cfg, &v, &mut http_port, &mut dns_port)
                .map_err(|e| ConfigError(format!("config file {}: {}", file.display(), e.0)))?;
        }
        for (i, text) in self.hcl.iter().enumerate() {
            let v = hcl::from_str::<Value>(text)
                .map_err(|e| ConfigError(format!("-hcl #{}: invalid HCL: {e}", i + 1)))?;
            apply_file(&mut cfg, &v, &mut http_port, &mut dns_port)
                .map_err(|e| ConfigError(format!("-hcl #{}: {}", i + 1, e.0)))?;
        }
        if let Some(ip) = self.bind {
            cfg.advertise_addr = ip;
        }
        if let Some(ip) = self.client {
            cfg.http_addr.set_ip(ip);
            if let Some(d) = cfg.dns_addr.as_mut() {
                d.set_ip(ip);
            }
        }
        if let Some(p) = self.http_port {
            http_port = i64::from(p);
        }
        if let Some(p) = self.dns_port {
            dns_port = i64::from(p);
        }
        cfg.http_addr
            .set_port(port(http_port, "ports.http")?.ok_or_else(|| {
                ConfigError("the HTTP API cannot be turned off: use a port from 0 to 65535".into())
            })?);
        cfg.dns_addr = port(dns_port, "ports.dns")?
            .and_then(|p| cfg.dns_addr.map(|a| SocketAddr::new(a.ip(), p)));
        if let Some(n) = &self.node {
            cfg.node_name = n.clone();
        }
        if let Some(n) = &self.node_id {
            cfg.node_id = Some(n.clone());
        }
        if let Some(dc) = &self.datacenter {
            cfg.datacenter = dc.clone();
        }
        if let Some(d) = &self.data_dir {
            cfg.data_dir = Some(d.clone());
        }
        if !self.recursors.is_empty() {
            cfg.dns.recursors = self
                .recursors
                .iter()
                .map(|r| recursor(r))
                .collect::<Result<_, _>>()?;
        }
        cfg.enable_script_checks |= self.enable_script_checks;
        cfg.enable_local_script_checks |= self.enable_local_script_checks;
        if let Some(t) = self.acl_token.as_ref().filter(|t| !t.expose().is_empty()) {
            let explicit_policy = files_set_default_policy(&self.config_files, &self.config_dirs);
            cfg.acl.enabled = true;
            if !explicit_policy {
                cfg.acl.default_policy = DefaultPolicy::Deny;
            }
            cfg.acl.tokens.initial_management = Some(t.clone());
        }
        if cfg.advertise_addr.is_unspecified() {
            cfg.advertise_addr = IpAddr::V4(Ipv4Addr::LOCALHOST);
        }
        if let Some(id) = &cfg.node_id {
            if uuid::Uuid::parse_str(id).is_err() {
                return Err(ConfigError(format!("node_id {id:?} is not a UUID")));
            }
        }
        if cfg.datacenter.is_empty()
            || !cfg
                .datacenter
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        {
            return Err(ConfigError(format!(
                "datacenter {:?}: use letters, digits, '-' and '_'",
                cfg.datacenter
            )));
        }
        Ok(cfg)
    }
}

#[cfg(test)]
mod tests;
