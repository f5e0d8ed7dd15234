//! `demo`: see the library (`cargo run --release --bin demo`).
//!
//! The process: flags, logging into the demo's log file, the runtime, the
//! terminal's keys and exit codes; and the binary's internal roles, run as
//! the demo's child processes: a worker (so it can really be killed), and
//! registrar (`demo registrar run ...`, registrar's own process, `bin.rs`,
//! compiled in) wrapping each broker node.

use std::process::ExitCode;
use std::sync::Mutex;
use std::time::Duration;

use clap::Parser;
use demo::{Args, Keys, Log, Role, WorkDir};
use tokio::sync::mpsc;

#[path = "../../kit/bin/entry.rs"]
mod entry;
#[path = "../../../registrar/src/bin.rs"]
mod registrar_bin;

/// Dies with the demo, even if the demo is killed.
fn die_with_parent() {
    let _ = nix::sys::prctl::set_pdeathsig(nix::sys::signal::Signal::SIGTERM);
}

/// The demo, or one of its roles (`pub(crate)`: the end-to-end tests'
/// `e2e-demo` compiles this file too).
pub(crate) fn main() -> ExitCode {
    // `demo registrar ...`: registrar's own command line, as its binary.
    if std::env::args().nth(1).as_deref() == Some("registrar") {
        die_with_parent();
        return registrar_bin::main_with(std::env::args().skip(1));
    }
    let args = Args::parse_from(gocompat::flags::normalize(std::env::args()));
    if let Some(Role::Worker(w)) = args.role {
        die_with_parent();
        return entry::run(|| {
            worker::run(w, kit::shutdown_signal(), |addr| {
                println!("worker listening on {addr}")
            })
        });
    }
    let dir = match WorkDir::new(args.dir.as_deref()) {
        Ok(d) => d,
        Err(e) => {
            let which = args
                .dir
                .as_ref()
                .map_or("a temporary directory".to_string(), |d| {
                    d.display().to_string()
                });
            eprintln!("error: creating {which}: {e}");
            return ExitCode::FAILURE;
        }
    };
    let log_path = dir.path().join("demo.log");
    let log = match Log::create(&log_path) {
        Ok(l) => l,
        Err(e) => {
            eprintln!("error: creating {}: {e}", log_path.display());
            return ExitCode::FAILURE;
        }
    };
    // What the demo's own services log goes to the file, not over the
    // progress line (`RUST_LOG`, default `info`).
    match log.writer() {
        Ok(file) => {
            let filter = tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,hickory_server=warn"));
            let _ = tracing_subscriber::fmt()
                .with_env_filter(filter)
                .with_ansi(false)
                .with_writer(Mutex::new(file))
                .try_init();
        }
        Err(e) => {
            eprintln!("error: logging to {}: {e}", log.path().display());
            return ExitCode::FAILURE;
        }
    }
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: starting the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let (tx, rx) = mpsc::unbounded_channel();
    let terminal = Keys::start(tx);
    let keys = terminal.as_ref().map(|_| rx);
    let result = runtime.block_on(demo::run(args, dir.path(), &log, keys));
    // Nothing the demo waits for is left; do not wait for blocking reads.
    runtime.shutdown_timeout(Duration::from_millis(100));
    drop(terminal);
    let code = match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            let tail = log.tail(20);
            if !tail.is_empty() {
                let kept = match &dir {
                    WorkDir::Given(_) => "kept",
                    WorkDir::Temporary(_) => "removed now with its directory; --dir DIR keeps it",
                };
                eprintln!("the log's last lines ({}, {kept}):", log.path().display());
                for l in tail {
                    eprintln!("  {l}");
                }
            }
            ExitCode::FAILURE
        }
    };
    drop(dir);
    code
}
