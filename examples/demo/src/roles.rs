//! The demo binary's internal roles, run as its child processes: a worker
//! (so it can really be killed), and registrar (`demo registrar run ...`,
//! registrar's own command line and code) wrapping each broker node.

use std::process::ExitCode;

use clap::Parser;

/// Dies with the demo, even if the demo is killed.
fn die_with_parent() {
    let _ = nix::sys::prctl::set_pdeathsig(nix::sys::signal::Signal::SIGTERM);
}

/// One worker.
pub(crate) fn worker(args: worker::Args) -> ExitCode {
    die_with_parent();
    kit::main(|| {
        worker::run(args, kit::shutdown_signal(), |addr| {
            println!("worker listening on {addr}")
        })
    })
}

/// `registrar ARGS...` as registrar's binary runs it (`args[0]` is
/// `registrar`): its flags, its log level, its exit codes. SIGTERM from
/// the demo (or the demo dying) reaches it; it passes it on to its program
/// and deregisters it.
pub(crate) fn registrar(args: Vec<String>) -> ExitCode {
    die_with_parent();
    let cli = match registrar::cli::Cli::try_parse_from(gocompat::flags::normalize(args)) {
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
    let filter = match cli.log_level() {
        Some(l) => tracing_subscriber::EnvFilter::new(l.to_lowercase()),
        None => tracing_subscriber::EnvFilter::try_from_default_env()
            .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
    };
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(false)
        .try_init();
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
