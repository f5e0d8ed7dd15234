//! The process around an example service: logging to stderr (`RUST_LOG`,
//! default `info`), a runtime, the service until it ends, an exit code.
//!
//! Compiled into each example binary (`#[path = "../../kit/bin/entry.rs"]
//! mod entry;` in its `main.rs`), never into a library: libraries do not
//! install subscribers or start runtimes.

use std::future::Future;
use std::process::ExitCode;

/// Sets up logging, then runs `service` on a new runtime; its error, if
/// any, is printed with its causes and the exit code is 1.
pub(crate) fn run<F, Fut>(service: F) -> ExitCode
where
    F: FnOnce() -> Fut,
    Fut: Future<Output = anyhow::Result<()>>,
{
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,hickory_server=warn"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_writer(std::io::stderr)
        .try_init();
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("starting the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(service()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
