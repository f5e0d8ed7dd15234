//! The `devagent` command line: `devagent agent -dev ...` and `devagent
//! version`, with the process's logging, runtime, signals and exit codes
//! (the binary's own; the end-to-end tests' `e2e-devagent` compiles this
//! file too). The flags themselves are the library's
//! ([`devagent::config::Cli`]).

use std::io::Write;
use std::process::ExitCode;

use std::time::Duration;

use clap::Parser;
use devagent::config::{Cli, Command, CONSUL_VERSION};

/// From SIGTERM or Ctrl-C to the end of `run`, whatever the load: answers in
/// flight get most of it (see `http::serve`), then everything is dropped.
const SHUTDOWN_DEADLINE: Duration = Duration::from_millis(800);
/// What the runtime's leftover tasks get after that.
const RUNTIME_GRACE: Duration = Duration::from_millis(100);

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
