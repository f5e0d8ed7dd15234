//! The `registrar` binary, for the end-to-end tests (its `main`, which the
//! registrar crate keeps in its binary).
use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let args = gocompat::flags::normalize(std::env::args());
    let cli = match registrar::cli::Cli::try_parse_from(args) {
        Ok(c) => c,
        Err(e) => {
            let _ = e.print();
            return ExitCode::from(2);
        }
    };
    let filter =
        tracing_subscriber::EnvFilter::new(cli.log_level().unwrap_or("info").to_lowercase());
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();
    let Ok(runtime) = tokio::runtime::Runtime::new() else {
        eprintln!("registrar: cannot start the runtime");
        return ExitCode::from(1);
    };
    match runtime.block_on(registrar::app::execute(cli)) {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            eprintln!("registrar: {e}");
            ExitCode::from(e.exit_code())
        }
    }
}
