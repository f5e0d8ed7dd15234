//! The command line: `registrar run`, `registrar sync`, `registrar check`,
//! with Consul's connection flags (`-http-addr`, `-token`, ... and their
//! `CONSUL_*` variables) on the commands that talk to Consul. Go's
//! single-dash spelling works too (see `gocompat::flags::normalize`).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};
use dcy::agent::{CheckRegistration, ServiceRegistration};

use crate::definition::{self, Severity};
use crate::error::{Error, Result};
use crate::run::{Restart, RunConfig};
use crate::sync::SyncConfig;
use crate::validate;

/// Registers programs that cannot link dcy with Consul.
#[derive(Debug, Parser)]
#[command(name = "registrar", version)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Start a program, register it once it is ready, deregister it when it exits.
    Run(Box<RunArgs>),
    /// Keep Consul in step with a directory of service-definition files.
    Sync(Box<SyncArgs>),
    /// Validate service-definition files offline; report every problem as file:line.
    Check(CheckArgs),
}

impl Cli {
    /// The `--log-level` given, if any.
    pub fn log_level(&self) -> Option<&str> {
        match &self.command {
            Command::Run(a) => a.common.log_level.as_deref(),
            Command::Sync(a) => a.common.log_level.as_deref(),
            Command::Check(_) => None,
        }
    }
}

/// Flags shared by the commands that talk to Consul.
#[derive(Debug, Args)]
pub struct Common {
    /// Consul connection (each flag falls back to its CONSUL_* variable).
    #[command(flatten)]
    pub consul: dcy::cli::ConsulArgs,
    /// Log level: trace, debug, info, warn or error (default: RUST_LOG, else info).
    #[arg(long = "log-level", value_name = "LEVEL")]
    pub log_level: Option<String>,
    /// Serve /health and /metrics on this address, e.g. 127.0.0.1:9500 (port 0 picks one).
    #[arg(long = "status-addr", value_name = "ADDR")]
    pub status_addr: Option<SocketAddr>,
}

impl Common {
    /// A Consul client from the flags and the environment.
    pub fn client(&self) -> Result<dcy::Client> {
        Ok(dcy::Client::new(self.consul.to_config()?)?)
    }
}

fn go_duration(s: &str) -> std::result::Result<Duration, String> {
    gocompat::duration::parse(s)
}

fn key_value(s: &str) -> std::result::Result<(String, String), String> {
    match s.split_once('=') {
        Some((k, v)) if !k.is_empty() => Ok((k.to_string(), v.to_string())),
        _ => Err(format!("expected KEY=VALUE, found {s:?}")),
    }
}

/// `registrar run [options] -- CMD ARGS...`
#[derive(Debug, Args)]
pub struct RunArgs {
    /// Consul and status flags.
    #[command(flatten)]
    pub common: Common,
    /// Service name.
    #[arg(long, value_name = "NAME", required_unless_present = "service_file")]
    pub name: Option<String>,
    /// Service ID, unique on the agent (default: the name).
    #[arg(long, value_name = "ID")]
    pub id: Option<String>,
    /// Address clients should dial (default: the node address); the readiness probe dials it too (127.0.0.1 without it).
    #[arg(long, value_name = "IP")]
    pub address: Option<String>,
    /// Port the program listens on; registrar waits until it accepts connections.
    #[arg(long, value_name = "PORT")]
    pub port: Option<u16>,
    /// A tag (repeat for more).
    #[arg(long = "tag", value_name = "TAG")]
    pub tags: Vec<String>,
    /// Metadata KEY=VALUE (repeat for more).
    #[arg(long = "meta", value_name = "KEY=VALUE", value_parser = key_value)]
    pub meta: Vec<(String, String)>,
    /// HTTP check URL (2xx passes); registrar also waits for it before registering.
    #[arg(long = "check-http", value_name = "URL")]
    pub check_http: Option<String>,
    /// TCP check address host:port.
    #[arg(long = "check-tcp", value_name = "ADDR")]
    pub check_tcp: Option<String>,
    /// TTL check that registrar keeps passing while the program runs, e.g. 10s.
    #[arg(long = "check-ttl", value_name = "DURATION", value_parser = go_duration)]
    pub check_ttl: Option<Duration>,
    /// Interval of the HTTP and TCP checks.
    #[arg(long = "check-interval", value_name = "DURATION", value_parser = go_duration, default_value = "10s")]
    pub check_interval: Duration,
    /// Timeout of the HTTP and TCP checks (Consul's default: 10s).
    #[arg(long = "check-timeout", value_name = "DURATION", value_parser = go_duration)]
    pub check_timeout: Option<Duration>,
    /// Let the agent remove the service after a check has been critical this long.
    #[arg(long = "deregister-critical-after", value_name = "DURATION", value_parser = go_duration)]
    pub deregister_critical_after: Option<Duration>,
    /// A Consul service-definition file (JSON or HCL) with one service, instead of the flags above.
    #[arg(
        long = "service-file",
        value_name = "FILE",
        conflicts_with_all = ["name", "id", "address", "port", "tags", "meta", "check_http", "check_tcp", "check_ttl"]
    )]
    pub service_file: Option<PathBuf>,
    /// How long the program may take to open its port (or pass its check).
    #[arg(long = "ready-timeout", value_name = "DURATION", value_parser = go_duration, default_value = "60s")]
    pub ready_timeout: Duration,
    /// Restart the program when it fails (1s backoff doubling to 30s).
    #[arg(long, value_enum, default_value_t = Restart::No)]
    pub restart: Restart,
    /// Failed restarts in a row before giving up (0: no limit).
    #[arg(long = "max-restarts", value_name = "N", default_value_t = 10)]
    pub max_restarts: u32,
    /// The program and its arguments, after `--`.
    #[arg(last = true, required = true, value_name = "CMD")]
    pub command: Vec<String>,
}

impl RunArgs {
    /// The validated run settings (reads `--service-file`).
    pub async fn to_config(&self) -> Result<RunConfig> {
        let service = match &self.service_file {
            Some(file) => from_file(file).await?,
            None => self.service_from_flags()?,
        };
        Ok(RunConfig {
            command: self.command.clone(),
            service,
            ready_timeout: self.ready_timeout,
            restart: self.restart,
            max_restarts: self.max_restarts,
        })
    }

    fn service_from_flags(&self) -> Result<ServiceRegistration> {
        let name = self.name.clone().unwrap_or_default();
        let active = |http: &str, tcp: &str| CheckRegistration {
            http: http.to_string(),
            tcp: tcp.to_string(),
            interval: Some(self.check_interval),
            timeout: self.check_timeout,
            deregister_critical_service_after: self.deregister_critical_after,
            ..CheckRegistration::default()
        };
        let mut checks = Vec::new();
        if let Some(url) = &self.check_http {
            checks.push(active(url, ""));
        }
        if let Some(addr) = &self.check_tcp {
            checks.push(active("", addr));
        }
        if let Some(ttl) = self.check_ttl {
            checks.push(CheckRegistration {
                ttl: Some(ttl),
                deregister_critical_service_after: self.deregister_critical_after,
                ..CheckRegistration::default()
            });
        }
        let reg = ServiceRegistration {
            id: self.id.clone().unwrap_or_else(|| name.clone()),
            name,
            tags: self.tags.clone(),
            address: self.address.clone().unwrap_or_default(),
            port: self.port.unwrap_or_default(),
            meta: self.meta.iter().cloned().collect(),
            checks,
            ..ServiceRegistration::default()
        };
        let (errors, warnings) = validate::registration(&reg, validate::RUN_MARKS);
        for w in warnings {
            tracing::warn!("{w}");
        }
        if !errors.is_empty() {
            return Err(Error::Usage(format!(
                "invalid service: {}",
                errors.join("; ")
            )));
        }
        Ok(reg)
    }
}

/// The one service of a definition file.
async fn from_file(file: &std::path::Path) -> Result<ServiceRegistration> {
    let text = tokio::fs::read_to_string(file)
        .await
        .map_err(|e| Error::io(file, e))?;
    let defs = definition::parse(file, &text);
    if defs.has_errors() {
        return Err(Error::Definition(defs.problems));
    }
    for p in defs
        .problems
        .iter()
        .filter(|p| p.severity == Severity::Warning)
    {
        tracing::warn!("{p}");
    }
    let mut services = defs.services;
    match services.len() {
        1 => Ok(services.remove(0).registration),
        n => Err(Error::Usage(format!(
            "{}: `registrar run` registers one service and the file defines {n}",
            file.display()
        ))),
    }
}

/// `registrar sync [options] DIR`
#[derive(Debug, Args)]
pub struct SyncArgs {
    /// Consul and status flags.
    #[command(flatten)]
    pub common: Common,
    /// How often to compare the agent and the directory with the files (re-registers what an agent restart lost).
    #[arg(long = "sync-interval", value_name = "DURATION", value_parser = go_duration, default_value = "10s")]
    pub sync_interval: Duration,
    /// Quiet time after a change before files are read.
    #[arg(long, value_name = "DURATION", value_parser = go_duration, default_value = "200ms")]
    pub debounce: Duration,
    /// Calls to Consul in flight at once.
    #[arg(long, value_name = "N", default_value_t = 32)]
    pub concurrency: usize,
    /// Directory of service-definition files (*.json, *.hcl).
    #[arg(value_name = "DIR")]
    pub dir: PathBuf,
}

impl SyncArgs {
    /// The sync settings.
    pub fn to_config(&self) -> Result<SyncConfig> {
        if self.sync_interval.is_zero() {
            return Err(Error::Usage("--sync-interval must be > 0".into()));
        }
        Ok(SyncConfig {
            dir: self.dir.clone(),
            interval: self.sync_interval,
            debounce: self.debounce,
            concurrency: self.concurrency.max(1),
        })
    }
}

/// `registrar check PATH`
#[derive(Debug, Args)]
pub struct CheckArgs {
    /// A directory of definition files, or one file.
    #[arg(value_name = "DIR")]
    pub path: PathBuf,
}
