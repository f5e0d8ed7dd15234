//! Agent configuration: the `consul agent` command line and the JSON/HCL
//! config files it reads, layered as Consul does (defaults < files < flags).

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::time::Duration;

use clap::{Args, Parser, Subcommand};
use serde_json::Value;

use crate::acl::{AclConfig, DefaultPolicy, Secret};
use crate::dns::DnsConfig;
use crate::limits::Limits;

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

/// `devagent`: a Consul-compatible development agent.
#[derive(Debug, Parser)]
#[command(name = "devagent", version, about, long_about = None)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands, as `consul`'s.
#[derive(Debug, Subcommand)]
#[allow(clippy::large_enum_variant)] // parsed once at start-up
pub enum Command {
    /// Run the agent (as `consul agent -dev`).
    Agent(AgentArgs),
    /// Print the version (`-format=json` for scripts).
    Version {
        /// `pretty` or `json`.
        #[arg(long, default_value = "pretty")]
        format: String,
    },
}

/// Flags of `consul agent` that devagent honours.
#[derive(Debug, Default, Args)]
pub struct AgentArgs {
    /// Development mode (always on: devagent keeps its state in memory).
    #[arg(long)]
    pub dev: bool,
    /// Address the node advertises in the catalog.
    #[arg(long)]
    pub bind: Option<IpAddr>,
    /// Address the HTTP and DNS servers listen on.
    #[arg(long)]
    pub client: Option<IpAddr>,
    /// HTTP API port (0 picks a free port).
    #[arg(long = "http-port")]
    pub http_port: Option<u16>,
    /// DNS port (0 picks a free port, -1 turns DNS off).
    #[arg(long = "dns-port", allow_negative_numbers = true)]
    pub dns_port: Option<i32>,
    /// Node name.
    #[arg(long)]
    pub node: Option<String>,
    /// Node UUID.
    #[arg(long = "node-id")]
    pub node_id: Option<String>,
    /// Datacenter.
    #[arg(long)]
    pub datacenter: Option<String>,
    /// JSON or HCL config file (repeatable).
    #[arg(long = "config-file")]
    pub config_file: Vec<PathBuf>,
    /// Directory of JSON or HCL config files, read in lexical order (repeatable).
    #[arg(long = "config-dir")]
    pub config_dir: Vec<PathBuf>,
    /// Accepted for compatibility; devagent keeps its state in memory.
    #[arg(long = "data-dir")]
    pub data_dir: Option<PathBuf>,
    /// Accepted for compatibility: devagent is always a server.
    #[arg(long)]
    pub server: bool,
    /// Accepted for compatibility: devagent always bootstraps itself.
    #[arg(long)]
    pub bootstrap: bool,
    /// Log level: trace, debug, info, warn or error.
    #[arg(long = "log-level")]
    pub log_level: Option<String>,
    /// Inline HCL configuration, applied after the config files (repeatable).
    #[arg(long)]
    pub hcl: Vec<String>,
    /// Accepted for compatibility: devagent has no UI.
    #[arg(long)]
    pub ui: bool,
    /// Upstream DNS server for names outside `consul.` (repeatable).
    #[arg(long)]
    pub recursor: Vec<String>,
    /// Turn ACLs on with default_policy "deny" and this management token
    /// (`acl.tokens.initial_management`; a config file may set default_policy).
    #[arg(
        long = "acl-initial-management-token",
        env = "DEVAGENT_ACL_TOKEN",
        hide_env_values = true
    )]
    pub acl_token: Option<String>,
    /// Run script checks registered over the HTTP API (`enable_script_checks`).
    #[arg(long = "enable-script-checks")]
    pub enable_script_checks: bool,
    /// Run script checks of config files only (`enable_local_script_checks`).
    #[arg(long = "enable-local-script-checks")]
    pub enable_local_script_checks: bool,
}

/// A configuration problem, with the file or flag it came from.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct ConfigError(pub String);

fn read_file(path: &Path) -> Result<Value, ConfigError> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| ConfigError(format!("reading config file {}: {e}", path.display())))?;
    let is_hcl = path.extension().is_some_and(|e| e == "hcl");
    if is_hcl {
        hcl::from_str::<Value>(&text)
            .map_err(|e| ConfigError(format!("config file {}: invalid HCL: {e}", path.display())))
    } else {
        serde_json::from_str(&text).map_err(|e| {
            ConfigError(format!(
                "config file {}: invalid JSON at line {} column {}: {e}",
                path.display(),
                e.line(),
                e.column()
            ))
        })
    }
}

fn config_files(args: &AgentArgs) -> Result<Vec<PathBuf>, ConfigError> {
    let mut files = Vec::new();
    for dir in &args.config_dir {
        let entries = std::fs::read_dir(dir)
            .map_err(|e| ConfigError(format!("reading config dir {}: {e}", dir.display())))?;
        let mut found: Vec<PathBuf> = entries
            .filter_map(Result::ok)
            .map(|e| e.path())
            .filter(|p| p.is_file() && p.extension().is_some_and(|e| e == "json" || e == "hcl"))
            .collect();
        found.sort();
        files.extend(found);
    }
    files.extend(args.config_file.iter().cloned());
    Ok(files)
}

fn str_at<'a>(v: &'a Value, path: &[&str]) -> Option<&'a str> {
    path.iter().try_fold(v, |cur, k| cur.get(k))?.as_str()
}

fn u64_at(v: &Value, path: &[&str]) -> Option<i64> {
    let x = path.iter().try_fold(v, |cur, k| cur.get(k))?;
    x.as_i64().or_else(|| x.as_str()?.parse().ok())
}

fn bool_at(v: &Value, path: &[&str]) -> Option<bool> {
    path.iter().try_fold(v, |cur, k| cur.get(k))?.as_bool()
}

fn parse_ip(s: &str, what: &str) -> Result<IpAddr, ConfigError> {
    s.parse()
        .map_err(|_| ConfigError(format!("{what}: {s:?} is not an IP address")))
}

fn port(v: i64, what: &str) -> Result<Option<u16>, ConfigError> {
    if v < 0 {
        return Ok(None);
    }
    u16::try_from(v)
        .map(Some)
        .map_err(|_| ConfigError(format!("{what}: {v} is not a port (0-65535)")))
}

fn recursor(s: &str) -> Result<SocketAddr, ConfigError> {
    s.parse::<SocketAddr>()
        .or_else(|_| s.parse::<IpAddr>().map(|ip| SocketAddr::new(ip, 53)))
        .map_err(|_| {
            ConfigError(format!(
                "recursor {s:?}: use an IP address with an optional port"
            ))
        })
}

/// Applies one config file's keys to `cfg`. Unknown keys are ignored.
fn apply_file(
    cfg: &mut AgentConfig,
    v: &Value,
    http_port: &mut i64,
    dns_port: &mut i64,
) -> Result<(), ConfigError> {
    if let Some(s) = str_at(v, &["node_name"]) {
        cfg.node_name = s.to_string();
    }
    if let Some(s) = str_at(v, &["node_id"]) {
        cfg.node_id = Some(s.to_string());
    }
    if let Some(s) = str_at(v, &["datacenter"]) {
        cfg.datacenter = s.to_string();
    }
    if let Some(s) = str_at(v, &["data_dir"]) {
        cfg.data_dir = Some(PathBuf::from(s));
    }
    if let Some(s) = str_at(v, &["bind_addr"]) {
        cfg.advertise_addr = parse_ip(s, "bind_addr")?;
    }
    if let Some(s) = str_at(v, &["advertise_addr"]) {
        cfg.advertise_addr = parse_ip(s, "advertise_addr")?;
    }
    if let Some(s) = str_at(v, &["client_addr"]) {
        let ip = parse_ip(s, "client_addr")?;
        cfg.http_addr.set_ip(ip);
        if let Some(d) = cfg.dns_addr.as_mut() {
            d.set_ip(ip);
        }
    }
    if let Some(s) = str_at(v, &["addresses", "http"]) {
        cfg.http_addr.set_ip(parse_ip(s, "addresses.http")?);
    }
    if let Some(s) = str_at(v, &["addresses", "dns"]) {
        let ip = parse_ip(s, "addresses.dns")?;
        if let Some(d) = cfg.dns_addr.as_mut() {
            d.set_ip(ip);
        }
    }
    if let Some(p) = u64_at(v, &["ports", "http"]) {
        *http_port = p;
    }
    if let Some(p) = u64_at(v, &["ports", "dns"]) {
        *dns_port = p;
    }
    for empty in cfg.acl.apply_file(v).map_err(ConfigError)? {
        tracing::warn!("{empty} is empty: an empty token is not a token, ignored");
    }
    if let Some(list) = v.get("recursors").and_then(Value::as_array) {
        cfg.dns.recursors = list
            .iter()
            .filter_map(Value::as_str)
            .map(recursor)
            .collect::<Result<_, _>>()?;
    }
    if let Some(n) = u64_at(v, &["dns_config", "udp_answer_limit"]) {
        cfg.dns.udp_answer_limit = usize::try_from(n).unwrap_or(3);
    }
    if let Some(n) = u64_at(v, &["dns_config", "a_record_limit"]) {
        cfg.dns.a_record_limit = usize::try_from(n).unwrap_or(0);
    }
    if let Some(b) = bool_at(v, &["dns_config", "only_passing"]) {
        cfg.dns.only_passing = b;
    }
    if let Some(b) = bool_at(v, &["dns_config", "enable_truncate"]) {
        cfg.dns.enable_truncate = b;
    }
    crate::limits::apply(&mut cfg.limits, v).map_err(ConfigError)?;
    if let Some(b) = bool_at(v, &["enable_script_checks"]) {
        cfg.enable_script_checks = b;
    }
    if let Some(b) = bool_at(v, &["enable_local_script_checks"]) {
        cfg.enable_local_script_checks = b;
    }
    for key in ["service", "services", "check", "checks"] {
        match v.get(key) {
            None => {}
            Some(Value::Array(items)) => {
                for item in items {
                    cfg.definitions.push(serde_json::json!({ key: item }));
                }
            }
            Some(item) => cfg.definitions.push(serde_json::json!({ key: item })),
        }
    }
    Ok(())
}

/// Whether a config file names `acl.default_policy` (then the flag keeps it).
fn files_set_default_policy(files: &[PathBuf], dirs: &[PathBuf]) -> bool {
    let args = AgentArgs {
        config_file: files.to_vec(),
        config_dir: dirs.to_vec(),
        ..AgentArgs::default()
    };
    config_files(&args).unwrap_or_default().iter().any(|f| {
        read_file(f).is_ok_and(|v| {
            v.get("acl").and_then(|a| a.get("default_policy")).is_some()
                || v.get("acl_default_policy").is_some()
        })
    })
}

impl AgentArgs {
    /// The configuration these flags and their config files describe.
    pub fn to_config(&self) -> Result<AgentConfig, ConfigError> {
        let mut cfg = AgentConfig::default();
        let mut http_port: i64 = 8500;
        let mut dns_port: i64 = 8600;
        for file in config_files(self)? {
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
        if !self.recursor.is_empty() {
            cfg.dns.recursors = self
                .recursor
                .iter()
                .map(|r| recursor(r))
                .collect::<Result<_, _>>()?;
        }
        cfg.enable_script_checks |= self.enable_script_checks;
        cfg.enable_local_script_checks |= self.enable_local_script_checks;
        if let Some(t) = self.acl_token.as_ref().filter(|t| !t.is_empty()) {
            let explicit_policy = files_set_default_policy(&self.config_file, &self.config_dir);
            cfg.acl.enabled = true;
            if !explicit_policy {
                cfg.acl.default_policy = DefaultPolicy::Deny;
            }
            cfg.acl.tokens.initial_management = Some(Secret::new(t.clone()));
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
mod tests {
    use super::*;
    use std::io::Write;

    fn parse(args: &[&str]) -> Cli {
        let args = gocompat::flags::normalize(args.iter().map(|s| s.to_string()));
        Cli::try_parse_from(args).unwrap()
    }

    fn agent(args: &[&str]) -> AgentArgs {
        match parse(args).command {
            Command::Agent(a) => a,
            Command::Version { .. } => panic!("not agent"),
        }
    }

    #[test]
    fn consul_dev_flags() {
        let a = agent(&[
            "devagent",
            "agent",
            "-dev",
            "-http-port=0",
            "-dns-port",
            "0",
            "-node=n1",
            "-datacenter=east",
            "-client",
            "127.0.0.1",
        ]);
        let cfg = a.to_config().unwrap();
        assert_eq!(cfg.http_addr.port(), 0);
        assert_eq!(cfg.dns_addr.unwrap().port(), 0);
        assert_eq!(cfg.node_name, "n1");
        assert_eq!(cfg.datacenter, "east");
        let off = agent(&["devagent", "agent", "-dns-port=-1"])
            .to_config()
            .unwrap();
        assert!(off.dns_addr.is_none());
    }

    #[test]
    fn config_files_layer_under_flags() {
        let dir = tempfile::tempdir().unwrap();
        let mut f = std::fs::File::create(dir.path().join("a.json")).unwrap();
        write!(f, r#"{{"ports": {{"http": 9500, "dns": 9600}}, "node_name": "from-file", "datacenter": "dc9",
                     "acl": {{"enabled": true, "tokens": {{"initial_management": "s3cret"}}}}, "unknown": 1}}"#).unwrap();
        let mut h = std::fs::File::create(dir.path().join("b.hcl")).unwrap();
        writeln!(h, "node_name = \"from-hcl\"").unwrap();
        let d = dir.path().to_str().unwrap();
        let cfg = agent(&["devagent", "agent", "-config-dir", d, "-datacenter=dc2"])
            .to_config()
            .unwrap();
        assert_eq!(cfg.http_addr.port(), 9500);
        assert_eq!(cfg.dns_addr.unwrap().port(), 9600);
        assert_eq!(cfg.node_name, "from-hcl");
        assert_eq!(cfg.datacenter, "dc2");
        assert!(cfg.acl.enabled);
        assert_eq!(
            cfg.acl
                .tokens
                .initial_management
                .as_ref()
                .map(Secret::expose),
            Some("s3cret")
        );
        assert!(!format!("{cfg:?}").contains("s3cret"));
    }

    #[test]
    fn inline_hcl_applies_after_files() {
        let cfg = agent(&[
            "devagent",
            "agent",
            "-hcl",
            "limits { http_max_conns_per_client = 0 }",
            "-hcl",
            "node_name = \"inline\"",
        ])
        .to_config()
        .unwrap();
        assert_eq!(cfg.limits.http_max_conns_per_client, 0);
        assert_eq!(cfg.node_name, "inline");
        let err = agent(&["devagent", "agent", "-hcl", "limits {"])
            .to_config()
            .unwrap_err();
        assert!(err.0.contains("-hcl #1"), "{err}");
        let err = agent(&[
            "devagent",
            "agent",
            "-hcl",
            "limits { kv_max_value_size = \"big\" }",
        ])
        .to_config()
        .unwrap_err();
        assert!(err.0.contains("limits.kv_max_value_size"), "{err}");
    }

    #[test]
    fn bad_input_names_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("bad.json");
        std::fs::write(&p, "{\"ports\": ").unwrap();
        let err = agent(&["devagent", "agent", "-config-file", p.to_str().unwrap()])
            .to_config()
            .unwrap_err();
        assert!(
            err.0.contains("bad.json") && err.0.contains("line"),
            "{err}"
        );
        let err = agent(&["devagent", "agent", "-datacenter", "d c"])
            .to_config()
            .unwrap_err();
        assert!(err.0.contains("datacenter"), "{err}");
    }

    #[test]
    fn script_checks_from_flags_and_files() {
        let cfg = agent(&["devagent", "agent", "-enable-script-checks"])
            .to_config()
            .unwrap();
        assert!(cfg.enable_script_checks && !cfg.enable_local_script_checks);
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("s.json");
        std::fs::write(
            &p,
            r#"{"enable_local_script_checks": true,
                "services": [{"name": "a"}, {"name": "b"}], "check": {"name": "c", "ttl": "5s"}}"#,
        )
        .unwrap();
        let cfg = agent(&["devagent", "agent", "-config-file", p.to_str().unwrap()])
            .to_config()
            .unwrap();
        assert!(cfg.enable_local_script_checks && !cfg.enable_script_checks);
        assert_eq!(cfg.definitions.len(), 3);
    }

    #[test]
    fn version_format() {
        match parse(&["devagent", "version", "-format=json"]).command {
            Command::Version { format } => assert_eq!(format, "json"),
            Command::Agent(_) => panic!(),
        }
    }
}
