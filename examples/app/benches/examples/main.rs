//! Figures of the example services, measured on the real release binaries
//! (devagent, sensor, worker, demo) as separate processes, on loopback:
//!
//! 1. The app's throughput through dcy discovery against the same app calling
//!    a fixed address, side by side in one run: in each window half the
//!    callers go through `Target::discovery` (one worker registered) and half
//!    to `Target::fixed` (that worker's address) at the same time
//!    (`load::side_by_side`). Target: the median of the windows' difference
//!    within 5 %. Also reported: the same comparison in separate runs,
//!    interleaved A, B, A, B, ... (`load::throughput`, with CPU per request),
//!    and both again with discovery over three workers.
//! 2. Failover: three workers, the app (`app::drive`, in this process)
//!    calling them continuously; one worker is killed with SIGKILL. Counted:
//!    failed rounds (target 0), the retries dcy's HTTP client made and when
//!    (its `retrying on another instance` debug events), and the time until
//!    discovery dropped the dead worker (target: at most one check interval).
//! 3. The demo, from the command to its `every service passing` line, 5 times
//!    (target 2 s), on free ports.
//! 4. and 5. The messaging mode against HTTP, and under worker and broker
//!    node kills (see `messaging.rs`; `EXAMPLES_BENCH_NATS_READINGS`,
//!    `EXAMPLES_BENCH_NATS_RATE`).
//!
//! Before each figure the bench waits (bounded) for the 1-minute load
//! average to be at most `EXAMPLES_BENCH_MAX_LOAD`; a figure started above
//! it is run again (bounded). Results: `benches/results/examples.md` at the
//! workspace root. Run it with `benches/examples.sh`, which builds the
//! binaries first.
//!
//! Settings (environment): `EXAMPLES_BIN_DIR` (default: the directory of
//! this bench's profile, e.g. `target/release`), `EXAMPLES_BENCH_RUNS` (windows,
//! and runs per side, 25), `EXAMPLES_BENCH_RUN_SECS` (length of each, 1),
//! `EXAMPLES_BENCH_CONCURRENCY` (8), `EXAMPLES_BENCH_TRIALS` (kills, 5),
//! `EXAMPLES_BENCH_DEMO_RUNS` (5), `EXAMPLES_BENCH_MAX_LOAD` (3),
//! `EXAMPLES_BENCH_LOAD_WAIT_SECS` (600), `EXAMPLES_BENCH_COMMIT`,
//! `EXAMPLES_BENCH_DIRTY` (uncommitted files, for the report),
//! `EXAMPLES_BENCH_ONLY` (e.g. `1,3`: only those figures, printed, not written).
#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::collections::VecDeque;
use std::fmt::Write as _;
use std::future::Future;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use app::Stats;
use prometheus_client::metrics::counter::Counter;
use testkit::bench::{self, millis, ms_to, yes_no};
use tokio::io::{AsyncBufReadExt, BufReader, Lines};
use tokio::process::{Child, ChildStdout, Command};
use tokio_util::sync::CancellationToken;
use tracing_subscriber::layer::SubscriberExt as _;
use tracing_subscriber::util::SubscriberInitExt as _;
use tracing_subscriber::Layer as _;

mod demo;
mod events;
mod failover;
mod load;
mod machine;
mod messaging;
mod procs;
mod stats;
mod target;
mod throughput;

use demo::{demo, report_demo};
use events::Recorder;
use failover::{failover, report_failover};
use machine::{figure, Load};
use procs::{agent, discovery, read_until, service, until_workers, Proc};
use stats::{list, max, median, min};
use target::Target;
use throughput::{report_throughput, throughput};

const RESULTS: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../benches/results/examples.md"
);

/// The check interval of every service (devagent's minimum is 1 s).
const CHECK_INTERVAL: Duration = Duration::from_secs(1);
/// Target of figure 1: |discovery − fixed| / fixed.
const THROUGHPUT_TARGET_PCT: f64 = 5.0;
/// Target of figure 3.
const DEMO_TARGET: Duration = Duration::from_secs(2);
/// Figure 2: the app's callers and their pause (as the demo runs the app).
const DRIVE_CONCURRENCY: usize = 4;
const DRIVE_INTERVAL: Duration = Duration::from_millis(2);
/// Figure 2: how long the app keeps going after the worker is dropped.
const SETTLE: Duration = Duration::from_secs(2);
/// Attempts of a figure started above the load limit.
const ATTEMPTS: usize = 2;
/// Bound of any start, readiness wait or single measurement.
const LIMIT: Duration = Duration::from_secs(30);

fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

struct Settings {
    bins: PathBuf,
    runs: usize,
    run_secs: f64,
    concurrency: usize,
    trials: usize,
    demo_runs: usize,
    max_load: f64,
    load_wait: Duration,
}

impl Settings {
    fn from_env() -> Settings {
        let bins = std::env::var_os("EXAMPLES_BIN_DIR")
            .map(PathBuf::from)
            .unwrap_or_else(|| {
                // target/<profile>/deps/examples-<hash> → target/<profile>
                let exe = std::env::current_exe().expect("the bench's own path");
                let deps = exe.parent().expect("the deps directory");
                deps.parent().expect("the profile directory").to_path_buf()
            });
        Settings {
            bins,
            runs: env_or("EXAMPLES_BENCH_RUNS", 25usize).clamp(5, 200),
            run_secs: env_or("EXAMPLES_BENCH_RUN_SECS", 1.0f64).clamp(0.2, 30.0),
            concurrency: env_or("EXAMPLES_BENCH_CONCURRENCY", 8usize).clamp(1, 256),
            trials: env_or("EXAMPLES_BENCH_TRIALS", 5usize).clamp(1, 50),
            demo_runs: env_or("EXAMPLES_BENCH_DEMO_RUNS", 5usize).clamp(1, 50),
            max_load: env_or("EXAMPLES_BENCH_MAX_LOAD", 3.0f64),
            load_wait: Duration::from_secs(env_or("EXAMPLES_BENCH_LOAD_WAIT_SECS", 600u64)),
        }
    }

    fn bin(&self, name: &str) -> PathBuf {
        let p = self.bins.join(name);
        assert!(
            p.is_file(),
            "no {} (build it: cargo build --release -p devagent -p sensor -p worker -p demo)",
            p.display()
        );
        p
    }
}

fn commit() -> String {
    match std::env::var("EXAMPLES_BENCH_COMMIT") {
        Ok(c) if !c.is_empty() => c,
        _ => bench::git_head(env!("CARGO_MANIFEST_DIR")).unwrap_or_else(|| "unknown".into()),
    }
}

fn header(s: &Settings, commit: &str) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "# Example services: discovery cost, failover, demo start\n"
    );
    let _ = writeln!(
        out,
        "`benches/examples.sh` (`cargo bench -p app --bench examples`), release binaries of devagent, sensor, worker and demo as separate processes on loopback, at commit {commit}. \
         Machine: {} cores shared with other builds and benchmarks; the bench waits (bounded) for a 1-minute load average ≤ {} before each figure and runs a figure again when it started above; the table has `/proc/loadavg` (1, 5, 15 min) at the start → the end of each figure. \
         Check interval of every service: {} ms (devagent's minimum).\n",
        std::thread::available_parallelism().map_or(0, |n| n.get()),
        s.max_load,
        CHECK_INTERVAL.as_millis()
    );
    if let Ok(dirty) = std::env::var("EXAMPLES_BENCH_DIRTY") {
        if !dirty.is_empty() {
            let _ = writeln!(
                out,
                "The working tree is shared and had uncommitted changes in what the binaries are built from: {dirty}.\n"
            );
        }
    }
    let _ = writeln!(
        out,
        "| Figure | Measured | Target | Met? | Load average | Commit |"
    );
    let _ = writeln!(out, "|---|---|---|---|---|---|");
    out
}

fn main() {
    let settings = Settings::from_env();
    // EXAMPLES_BENCH_ONLY=1,3: only these figures, and no results file.
    let only: Option<Vec<String>> = std::env::var("EXAMPLES_BENCH_ONLY")
        .ok()
        .filter(|v| !v.is_empty())
        .map(|v| v.split(',').map(|f| f.trim().to_string()).collect());
    let wanted = |n: &str| only.as_ref().is_none_or(|o| o.iter().any(|f| f == n));
    let recorder = Recorder::install();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime");
    let commit = commit();
    let table = runtime.block_on(async {
        let s = &settings;
        eprintln!("examples bench: binaries from {}", s.bins.display());
        let mut sections = Vec::new();
        if wanted("1") {
            let tp = figure(s, "figure 1: discovery vs fixed", || throughput(s)).await;
            sections.push(report_throughput(s, &tp, &commit));
        }
        if wanted("2") {
            let fo = figure(s, "figure 2: failover", || failover(s, &recorder)).await;
            sections.push(report_failover(&fo, &commit));
        }
        if wanted("3") {
            let dm = figure(s, "figure 3: demo start", || demo(s)).await;
            sections.push(report_demo(&dm, &commit));
        }
        if wanted("4") {
            let c = figure(s, "figure 4: NATS vs HTTP", || messaging::compare(s)).await;
            sections.push(messaging::report_compare(&c, &commit));
        }
        if wanted("5") {
            let c = figure(s, "figure 5: NATS under kills", || messaging::chaos(s)).await;
            sections.push(messaging::report_chaos(&c, &commit));
        }
        let mut out = header(s, &commit);
        for (rows, _) in &sections {
            out.push_str(rows);
        }
        out.push_str("\n## Details\n");
        for (_, details) in &sections {
            out.push('\n');
            out.push_str(details);
        }
        out
    });
    println!("\n{table}");
    if only.is_some() {
        eprintln!("examples bench: EXAMPLES_BENCH_ONLY is set: {RESULTS} left as it was");
        return;
    }
    let path = Path::new(RESULTS);
    bench::write_results(path, &table).expect("writing the results");
    eprintln!("examples bench: wrote {}", path.display());
}
