//! registrar's process: its command line, logging, runtime and exit codes
//! (the binary's own; the end-to-end tests' `e2e-registrar` and the demo's
//! `demo registrar ...` compile this file too, so they run registrar
//! exactly as its binary does).

use std::process::ExitCode;

use clap::Parser;
use registrar::cli::Cli;

/// Runs registrar with `args` (`args[0]` is the program name).
pub(crate) fn main_with(args: impl IntoIterator<Item = String>) -> ExitCode {
    let args = gocompat::flags::normalize(args);
    let cli = match Cli::try_parse_from(args) {
        Ok(c) => c,
        Err(e) => {
            let _ = e.print();
            return if e.use_stderr() {
                ExitCode::from(2)
            } else {
                ExitCode::SUCCESS
            };
        }
    };
    init_tracing(cli.log_level());
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("registrar: starting the runtime: {e}");
            return ExitCode::from(1);
        }
    };
    match runtime.block_on(registrar::app::execute(cli)) {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            eprintln!("registrar: {e}");
            ExitCode::from(e.exit_code())
        }
    }
}

fn init_tracing(level: Option<&str>) {
    let filter = match level {
        Some(l) => tracing_subscriber::EnvFilter::new(l.to_lowercase()),
        None => tracing_subscriber::EnvFilter::try_from_default_env()
            .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
    };
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
}
