//! Figures of the `templater` binary against a real `devagent`, both run as
//! separate release processes (run it with `benches/templater.sh`):
//!
//! 1. 1,000 templates over 100 KV keys (each template reads 3 keys; every key
//!    is read by some): how many blocking queries the agent holds open
//!    (`devagent_blocking_queries`), the established TCP connections of the
//!    templater process to the agent (`/proc/<pid>/fd` × `/proc/<pid>/net/tcp`),
//!    and templater's own `/metrics` figures.
//! 2. One KV PUT → every template reading that key re-rendered and written:
//!    the time from the moment the PUT's response arrived to the moment the
//!    destination files hold the new value (inotify on the output directory,
//!    the event stamped on arrival, the file read to confirm the content),
//!    one change at a time, no quiescence.
//! 3. The RSS of templater (`/proc/<pid>/status`) after start, after 1,000
//!    and after 10,000 changes, and its CPU (utime + stime from
//!    `/proc/<pid>/stat`) over 10 s of idleness.
//! 4. A second templater in which all 1,000 templates share one command and a
//!    `wait { min = "100ms" max = "500ms" }`: bursts of 100 changes (one per
//!    key), and how many times the command ran per burst.
//!
//! Results: printed as Markdown and written to
//! `benches/results/templater.md` at the workspace root.
//!
//! Environment: `DEVAGENT_BIN` (default: `devagent` next to the templater
//! binary cargo built for this bench), `TEMPLATER_BENCH_DIR` (where the
//! templates and outputs go; default the system temporary directory),
//! `TEMPLATER_BENCH_CHANGES` (default 10,000, at least 1,000),
//! `TEMPLATER_BENCH_BURSTS` (default 5 of each shape), `BENCH_COMMIT`,
//! `TEMPLATER_BIN` (another templater binary to measure, e.g. an older
//! build to compare with).
//!
//! While templater renders 1,000 templates (its first pass, and each fast
//! burst), a thread of the bench probes its `/health` every 2 ms: the
//! status listener must not wait for the renders.

use std::collections::{BTreeSet, HashMap};
use std::ffi::OsString;
use std::fmt::Write as _;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{ExitCode, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use nix::sys::inotify::{AddWatchFlags, InitFlags, Inotify, WatchDescriptor};
use testkit::bench::{self, err, mib, percentile, within, yes_no, Memory, Result};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};
use tokio::sync::{mpsc, oneshot};

mod burst;
mod health;
mod layout;
mod procs;
mod report;
mod steady;
mod sys;

use burst::*;
use health::*;
use layout::*;
use procs::*;
use report::*;
use steady::*;
use sys::*;

const BUILT_TEMPLATER: &str = env!("CARGO_BIN_EXE_templater");

/// `TEMPLATER_BIN` (another build to compare), else the one cargo built.
fn templater_bin() -> PathBuf {
    std::env::var_os("TEMPLATER_BIN").map_or_else(|| PathBuf::from(BUILT_TEMPLATER), PathBuf::from)
}
const RESULTS: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../benches/results/templater.md"
);

/// Templates rendered by one templater.
const TEMPLATES: usize = 1_000;
/// Unique dependencies (KV keys) behind them.
const DEPS: usize = 100;
/// Keys each template reads.
const KEYS_PER_TEMPLATE: usize = 3;
/// Changes measured for latency and memory growth (overridable, at least this much).
const CHANGES: usize = 10_000;
/// The RSS taken as the baseline for growth, after this many changes.
const EARLY_CHANGES: usize = 1_000;
/// How long the idle CPU is measured.
const IDLE: Duration = Duration::from_secs(10);
/// Changes of the latency run on tmpfs.
const TMPFS_CHANGES: usize = 1_000;
/// Bursts of each shape in the command-run scenario (overridable).
const BURSTS: usize = 5;
/// Spacing of the PUTs of a spread burst (100 of them span ~400 ms < wait.max).
const SPREAD_GAP: Duration = Duration::from_millis(4);
/// Quiescence of the command-run scenario.
const WAIT_MIN: &str = "100ms";
const WAIT_MAX: &str = "500ms";
const WAIT_MAX_DUR: Duration = Duration::from_millis(500);

const LATENCY_P99_TARGET: Duration = Duration::from_millis(50);
const RSS_TARGET_MIB: f64 = 30.0;

/// Bound of one HTTP request of the bench.
const IO_TIMEOUT: Duration = Duration::from_secs(10);
/// Bound of one change reaching every file that reads its key.
const CHANGE_TIMEOUT: Duration = Duration::from_secs(10);
/// Bound of the first full render of 1,000 templates.
const STARTUP_TIMEOUT: Duration = Duration::from_secs(120);

fn main() -> ExitCode {
    // One thread: the bench should take as little CPU from templater as it can.
    let runtime = tokio::runtime::Builder::new_current_thread();
    bench::run_main("templater", runtime, run())
}

fn env_count(name: &str, default: usize, min: usize) -> Result<usize> {
    match std::env::var(name) {
        Ok(v) => {
            let n: usize = v
                .trim()
                .parse()
                .map_err(|e| err(format!("{name}={v:?}: not a count: {e}")))?;
            if n < min {
                return Err(err(format!("{name}={n}: at least {min} please")));
            }
            Ok(n)
        }
        Err(_) => Ok(default),
    }
}

/// `TEMPLATER_BENCH_TMPFS`, else `/dev/shm` if it is a tmpfs; `none` skips the tmpfs run.
fn tmpfs_dir() -> Option<PathBuf> {
    match std::env::var_os("TEMPLATER_BENCH_TMPFS") {
        Some(d) if d == "none" => None,
        Some(d) => Some(PathBuf::from(d)),
        None => {
            let shm = Path::new("/dev/shm");
            fs_type(shm)
                .starts_with("tmpfs ")
                .then(|| shm.to_path_buf())
        }
    }
}

fn devagent_bin() -> PathBuf {
    match std::env::var_os("DEVAGENT_BIN") {
        Some(p) => PathBuf::from(p),
        None => Path::new(BUILT_TEMPLATER)
            .parent()
            .map(|d| d.join("devagent"))
            .unwrap_or_else(|| PathBuf::from("devagent")),
    }
}

async fn run() -> Result<()> {
    let changes = env_count("TEMPLATER_BENCH_CHANGES", CHANGES, EARLY_CHANGES)?;
    let bursts = env_count("TEMPLATER_BENCH_BURSTS", BURSTS, 1)?;
    let base = match std::env::var_os("TEMPLATER_BENCH_DIR") {
        Some(d) => PathBuf::from(d),
        None => std::env::temp_dir(),
    };
    let work = tempfile::Builder::new()
        .prefix("templater-bench-")
        .tempdir_in(&base)
        .map_err(|e| err(format!("creating a directory in {}: {e}", base.display())))?;
    let devagent = devagent_bin();
    if !devagent.is_file() {
        return Err(err(format!(
            "{} is missing: build it with `cargo build --release -p devagent` or set DEVAGENT_BIN",
            devagent.display()
        )));
    }
    eprintln!(
        "templater bench: templater {}, devagent {}, work dir {} ({})",
        templater_bin().display(),
        devagent.display(),
        work.path().display(),
        fs_type(work.path())
    );
    let load_before = loadavg();
    let agent = Agent::spawn(&devagent).await?;
    let http = reqwest::Client::builder()
        .no_proxy()
        .timeout(IO_TIMEOUT)
        .build()
        .map_err(|e| err(format!("building the HTTP client: {e}")))?;
    let kv = Kv {
        http: http.clone(),
        base: format!("http://{}", agent.http),
    };
    let steady = steady_bench(&agent, &kv, &http, work.path(), changes, true).await?;
    // The same on tmpfs: templater's own share of the latency, without the disk's.
    let tmpfs = match tmpfs_dir() {
        Some(d) => {
            let w = tempfile::Builder::new()
                .prefix("templater-bench-")
                .tempdir_in(&d)
                .map_err(|e| err(format!("creating a directory in {}: {e}", d.display())))?;
            Some(steady_bench(&agent, &kv, &http, w.path(), TMPFS_CHANGES, false).await?)
        }
        None => None,
    };
    let bursts = burst_bench(&kv, work.path(), bursts).await?;
    let load_after = loadavg();
    let agent_cpu = bench::cpu_ticks(Some(agent.pid)).unwrap_or(0);
    agent.stop().await;

    let r = Report {
        steady,
        tmpfs,
        bursts,
        load_before,
        load_after,
        fs: fs_type(work.path()),
        agent_cpu,
    };
    let table = r.render();
    println!("\n{table}");
    let path = Path::new(RESULTS);
    bench::write_results(path, &table)?;
    eprintln!("templater bench: wrote {}", path.display());
    Ok(())
}
