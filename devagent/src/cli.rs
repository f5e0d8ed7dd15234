//! The `devagent` command line: `devagent agent -dev ...` and `devagent
//! version`: the flags (`consul agent`'s), the process's logging, runtime,
//! signals and exit codes (the binary's own; the end-to-end tests'
//! `e2e-devagent` compiles this file too). What the flags set is the
//! library's [`devagent::config::ConfigBuilder`].

use std::io::Write;
use std::net::IpAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};
use devagent::config::{AgentConfig, ConfigBuilder, ConfigError, CONSUL_VERSION};

/// From SIGTERM or Ctrl-C to the end of `run`, whatever the load: answers in
/// flight get most of it (see `http::serve`), then everything is dropped.
const SHUTDOWN_DEADLINE: Duration = Duration::from_millis(800);
/// What the runtime's leftover tasks get after that.
const RUNTIME_GRACE: Duration = Duration::from_millis(100);

/// `devagent`: a Consul-compatible development agent.
#[derive(Debug, Parser)]
#[command(name = "devagent", version, about, long_about = None)]
pub(crate) struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub(crate) command: Command,
}

/// The subcommands, as `consul`'s.
#[derive(Debug, Subcommand)]
#[allow(clippy::large_enum_variant)] // parsed once at start-up
pub(crate) enum Command {
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
#[derive(Debug, Args)]
pub(crate) struct AgentArgs {
    /// Development mode (always on: devagent keeps its state in memory).
    #[arg(long)]
    #[allow(dead_code)] // accepted for compatibility, ignored
    pub(crate) dev: bool,
    /// Address the node advertises in the catalog.
    #[arg(long)]
    pub(crate) bind: Option<IpAddr>,
    /// Address the HTTP and DNS servers listen on.
    #[arg(long)]
    pub(crate) client: Option<IpAddr>,
    /// HTTP API port (0 picks a free port).
    #[arg(long = "http-port")]
    pub(crate) http_port: Option<u16>,
    /// DNS port (0 picks a free port, -1 turns DNS off).
    #[arg(long = "dns-port", allow_negative_numbers = true)]
    pub(crate) dns_port: Option<i32>,
    /// Node name.
    #[arg(long)]
    pub(crate) node: Option<String>,
    /// Node UUID.
    #[arg(long = "node-id")]
    pub(crate) node_id: Option<String>,
    /// Datacenter.
    #[arg(long)]
    pub(crate) datacenter: Option<String>,
    /// JSON or HCL config file (repeatable).
    #[arg(long = "config-file")]
    pub(crate) config_file: Vec<PathBuf>,
    /// Directory of JSON or HCL config files, read in lexical order (repeatable).
    #[arg(long = "config-dir")]
    pub(crate) config_dir: Vec<PathBuf>,
    /// Accepted for compatibility; devagent keeps its state in memory.
    #[arg(long = "data-dir")]
    pub(crate) data_dir: Option<PathBuf>,
    /// Accepted for compatibility: devagent is always a server.
    #[arg(long)]
    #[allow(dead_code)] // accepted for compatibility, ignored
    pub(crate) server: bool,
    /// Accepted for compatibility: devagent always bootstraps itself.
    #[arg(long)]
    #[allow(dead_code)] // accepted for compatibility, ignored
    pub(crate) bootstrap: bool,
    /// Log level: trace, debug, info, warn or error.
    #[arg(long = "log-level")]
    pub(crate) log_level: Option<String>,
    /// Inline HCL configuration, applied after the config files (repeatable).
    #[arg(long)]
    pub(crate) hcl: Vec<String>,
    /// Accepted for compatibility: devagent has no UI.
    #[arg(long)]
    #[allow(dead_code)] // accepted for compatibility, ignored
    pub(crate) ui: bool,
    /// Upstream DNS server for names outside `consul.` (repeatable).
    #[arg(long)]
    pub(crate) recursor: Vec<String>,
    /// Turn ACLs on with default_policy "deny" and this management token
    /// (`acl.tokens.initial_management`; a config file may set default_policy).
    #[arg(
        long = "acl-initial-management-token",
        env = "DEVAGENT_ACL_TOKEN",
        hide_env_values = true
    )]
    pub(crate) acl_token: Option<String>,
    /// Run script checks registered over the HTTP API (`enable_script_checks`).
    #[arg(long = "enable-script-checks")]
    pub(crate) enable_script_checks: bool,
    /// Run script checks of config files only (`enable_local_script_checks`).
    #[arg(long = "enable-local-script-checks")]
    pub(crate) enable_local_script_checks: bool,
}

impl AgentArgs {
    /// The configuration these flags and their config files describe.
    pub(crate) fn to_config(&self) -> Result<AgentConfig, ConfigError> {
        fn set<T: Clone>(
            b: ConfigBuilder,
            v: &Option<T>,
            f: fn(ConfigBuilder, T) -> ConfigBuilder,
        ) -> ConfigBuilder {
            match v {
                Some(v) => f(b, v.clone()),
                None => b,
            }
        }
        let mut b = AgentConfig::builder()
            .enable_script_checks(self.enable_script_checks)
            .enable_local_script_checks(self.enable_local_script_checks);
        b = set(b, &self.bind, ConfigBuilder::bind);
        b = set(b, &self.client, ConfigBuilder::client);
        b = set(b, &self.http_port, ConfigBuilder::http_port);
        b = set(b, &self.dns_port, ConfigBuilder::dns_port);
        b = set(b, &self.node, |b, v| b.node(v));
        b = set(b, &self.node_id, |b, v| b.node_id(v));
        b = set(b, &self.datacenter, |b, v| b.datacenter(v));
        b = set(b, &self.data_dir, |b, v| b.data_dir(v));
        b = set(b, &self.acl_token, |b, v| b.acl_token(v));
        for d in &self.config_dir {
            b = b.config_dir(d);
        }
        for f in &self.config_file {
            b = b.config_file(f);
        }
        for h in &self.hcl {
            b = b.hcl(h);
        }
        for r in &self.recursor {
            b = b.recursor(r);
        }
        b.build()
    }
}

/// The `devagent` command: parses `consul agent`-style flags and runs.
pub(crate) fn main() -> ExitCode {
    let args = gocompat::flags::normalize(std::env::args());
    let cli = match Cli::try_parse_from(args) {
        Ok(c) => c,
        Err(e) => {
            let _ = e.print();
            return if e.use_stderr() {
                ExitCode::from(1)
            } else {
                ExitCode::SUCCESS
            };
        }
    };
    match cli.command {
        Command::Version { format } => version(&format),
        Command::Agent(args) => {
            let hub = init_tracing(args.log_level.as_deref());
            let open_files = devagent::limits::raise_open_file_limit();
            tracing::debug!(open_files, "open-file limit");
            let config = match args.to_config() {
                Ok(mut c) => {
                    c.log_hub = Some(hub);
                    c
                }
                Err(e) => {
                    eprintln!("devagent: {e}");
                    return ExitCode::from(1);
                }
            };
            let runtime = match tokio::runtime::Runtime::new() {
                Ok(r) => r,
                Err(e) => {
                    eprintln!("devagent: starting the runtime: {e}");
                    return ExitCode::from(1);
                }
            };
            let code = runtime.block_on(run(config));
            // Whatever is still running (a check's command, a forwarded DNS
            // query) does not hold the exit up.
            runtime.shutdown_timeout(RUNTIME_GRACE);
            code
        }
    }
}

fn version(format: &str) -> ExitCode {
    let rev = format!("devagent-{}", env!("CARGO_PKG_VERSION"));
    match format {
        "json" => println!(
            "{{\n    \"Version\": \"{CONSUL_VERSION}\",\n    \"Revision\": \"{rev}\",\n    \"Prerelease\": \"\",\n    \"FIPS\": \"\",\n    \"BuildDate\": \"2026-01-01T00:00:00Z\",\n    \"RPC\": {{\n        \"Default\": 2,\n        \"Min\": 2,\n        \"Max\": 3\n    }}\n}}"
        ),
        "pretty" => println!(
            "Consul v{CONSUL_VERSION}\nRevision {rev}\nBuild Date 2026-01-01T00:00:00Z\nProtocol 2 spoken by default, understands 2 to 3 (agent will automatically use protocol >2 when speaking to compatible agents)"
        ),
        other => {
            eprintln!("devagent: unknown -format {other:?}: use pretty or json");
            return ExitCode::from(1);
        }
    }
    ExitCode::SUCCESS
}

/// Logs to stderr at `level`, and everything down to DEBUG to the monitors
/// of `/v1/agent/monitor` (through the returned hub) while one listens.
fn init_tracing(level: Option<&str>) -> devagent::logs::LogHub {
    use tracing_subscriber::layer::SubscriberExt as _;
    use tracing_subscriber::util::SubscriberInitExt as _;
    use tracing_subscriber::Layer as _;
    let filter = match level {
        Some(l) => {
            tracing_subscriber::EnvFilter::new(format!("{},hickory_server=warn", l.to_lowercase()))
        }
        None => tracing_subscriber::EnvFilter::try_from_default_env()
            .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,hickory_server=warn")),
    };
    let hub = devagent::logs::LogHub::new();
    let stderr = tracing_subscriber::fmt::layer()
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_writer(std::io::stderr)
        .with_filter(filter);
    let monitor = hub.layer().with_filter(tracing_subscriber::EnvFilter::new(
        "debug,hyper=info,h2=info,rustls=info,reqwest=info,hickory_server=warn,hickory_proto=warn",
    ));
    tracing_subscriber::registry()
        .with(stderr)
        .with(monitor)
        .init();
    hub
}

async fn run(config: devagent::AgentConfig) -> ExitCode {
    let agent = match devagent::Agent::new(config.clone()).start().await {
        Ok(a) => a,
        Err(e) => {
            eprintln!("devagent: {e}");
            return ExitCode::from(1);
        }
    };
    // Signal handlers go in before the listening line: a script that reads
    // the line and sends SIGTERM at once must get a clean shutdown.
    let signals = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .and_then(|t| {
            tokio::signal::unix::signal(tokio::signal::unix::SignalKind::interrupt())
                .map(|i| (t, i))
        });
    let (mut term, mut int) = match signals {
        Ok(s) => s,
        Err(e) => {
            eprintln!("devagent: installing the SIGTERM/SIGINT handlers: {e}");
            agent.shutdown().await;
            return ExitCode::from(1);
        }
    };
    let dns = agent
        .dns_addr()
        .map_or_else(|| "off".to_string(), |a| a.to_string());
    // One line a script can parse for the ports that were picked.
    println!(
        "devagent listening http={} dns={dns} node={} datacenter={}",
        agent.http_addr(),
        config.node_name,
        config.datacenter
    );
    let _ = std::io::stdout().flush();
    tokio::select! {
        _ = int.recv() => tracing::info!("interrupt: shutting down"),
        _ = term.recv() => tracing::info!("terminated: shutting down"),
        _ = agent.left() => tracing::info!("left: shutting down"),
    }
    tokio::select! {
        _ = agent.shutdown() => {}
        _ = tokio::time::sleep(SHUTDOWN_DEADLINE) => {
            tracing::warn!("still shutting down after {SHUTDOWN_DEADLINE:?}: exiting");
        }
        _ = int.recv() => tracing::warn!("second interrupt: exiting now"),
        _ = term.recv() => tracing::warn!("second SIGTERM: exiting now"),
    }
    ExitCode::SUCCESS
}

#[cfg(test)]
mod tests {
    use super::*;

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
            "-hcl",
            "limits { http_max_conns_per_client = 7 }",
            "-enable-script-checks",
        ]);
        let cfg = a.to_config().unwrap();
        assert_eq!(cfg.http_addr.port(), 0);
        assert_eq!(cfg.dns_addr.unwrap().port(), 0);
        assert_eq!(cfg.node_name, "n1");
        assert_eq!(cfg.datacenter, "east");
        assert_eq!(cfg.limits.http_max_conns_per_client, 7);
        assert!(cfg.enable_script_checks);
        let off = agent(&["devagent", "agent", "-dns-port=-1"])
            .to_config()
            .unwrap();
        assert!(off.dns_addr.is_none());
        let err = agent(&["devagent", "agent", "-datacenter", "d c"])
            .to_config()
            .unwrap_err();
        assert!(err.0.contains("datacenter"), "{err}");
    }

    #[test]
    fn version_format() {
        match parse(&["devagent", "version", "-format=json"]).command {
            Command::Version { format } => assert_eq!(format, "json"),
            Command::Agent(_) => panic!(),
        }
    }
}
