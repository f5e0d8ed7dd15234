//! gRPC figures on real `grpc-worker` processes (release builds) and a
//! devagent on loopback; writes `benches/results/grpc.md`.
//!
//! 1. Unary calls per second through dcy's balanced channel against a fixed
//!    endpoint, side by side in one run, counted in windows of 1 s: first
//!    with 1 worker registered (4 callers on one `GrpcChannel`,
//!    `Discovery::grpc`, and 4 on a plain tonic `Channel` to that worker:
//!    dcy's own cost), then over 2 workers (the fixed side one plain
//!    `Channel` per worker, callers split over the two), with controls
//!    without discovery.
//! 2. Failover: 3 workers, gRPC check every 1 s, 4 callers through the
//!    balanced channel (retrying transport failures, as the app does);
//!    SIGKILL one worker, time until discovery drops it (the balancer gets
//!    the removal as its next change), calls retried and failed.
//!
//! Settings (environment): GRPC_BENCH_WINDOWS=15, GRPC_BENCH_KILLS=5,
//! GRPC_BENCH_RESULTS=<path> (default benches/results/grpc.md).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[path = "../tests/fleet/mod.rs"]
mod fleet;

use std::fmt::Write as _;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use grpc_worker::caller::Caller;
use grpc_worker::client::SquaresClient;
use testkit::bench::{self, Result};
use tokio::time::Instant;

fn env_num(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn ids(v: &[String]) -> Vec<&str> {
    v.iter().map(String::as_str).collect()
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    if v.is_empty() {
        return 0.0;
    }
    v[v.len() / 2]
}

/// Calls/s in each of `windows` windows of 1 s: 4 callers on `balanced`
/// and 4 on `fixed` (split over its channels) at the same time.
async fn side_by_side<T>(
    balanced: T,
    fixed: &[tonic::transport::Channel],
    windows: usize,
) -> Result<Vec<(f64, f64)>>
where
    T: tonic::client::GrpcService<tonic::body::Body> + Clone + Send + 'static,
    T::Future: Send,
    T::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    T::ResponseBody: http_body::Body<Data = bytes::Bytes> + Send + 'static,
    <T::ResponseBody as http_body::Body>::Error:
        Into<Box<dyn std::error::Error + Send + Sync>> + Send,
{
    let counts = [Arc::new(AtomicU64::new(0)), Arc::new(AtomicU64::new(0))];
    let stop = Arc::new(AtomicBool::new(false));
    let mut tasks = Vec::new();
    for c in 0..4 {
        let bal = SquaresClient::new(balanced.clone());
        let fix = SquaresClient::new(fixed[c % fixed.len()].clone());
        for (side, n_calls) in counts.iter().enumerate() {
            let (stop, n_calls) = (stop.clone(), n_calls.clone());
            let mut bal = bal.clone();
            let mut fix = fix.clone();
            tasks.push(tokio::spawn(async move {
                let mut n = 0i64;
                while !stop.load(Ordering::Relaxed) {
                    let ok = if side == 0 {
                        bal.square(n % 1000).await.is_ok()
                    } else {
                        fix.square(n % 1000).await.is_ok()
                    };
                    if ok {
                        n_calls.fetch_add(1, Ordering::Relaxed);
                    }
                    n += 1;
                }
            }));
        }
    }
    tokio::time::sleep(Duration::from_secs(1)).await; // warm-up
    let mut per_window = Vec::new();
    for _ in 0..windows {
        let b0 = counts[0].load(Ordering::Relaxed);
        let f0 = counts[1].load(Ordering::Relaxed);
        let t0 = Instant::now();
        tokio::time::sleep(Duration::from_secs(1)).await;
        let secs = t0.elapsed().as_secs_f64();
        let b = (counts[0].load(Ordering::Relaxed) - b0) as f64 / secs;
        let f = (counts[1].load(Ordering::Relaxed) - f0) as f64 / secs;
        per_window.push((b, f));
    }
    stop.store(true, Ordering::Relaxed);
    for t in tasks {
        t.await?;
    }
    Ok(per_window)
}

/// Controls without discovery: plain tonic channels to the same workers,
/// each caller's own channel (`sticky`: the same split as the fixed side,
/// showing the measurement's own bias) or taken in strict turn, call by
/// call (showing what alternating between connections costs).
struct Turns {
    channels: Vec<tonic::transport::Channel>,
    next: Arc<std::sync::atomic::AtomicUsize>,
    picked: usize,
    sticky: bool,
}

impl Turns {
    fn new(channels: Vec<tonic::transport::Channel>, sticky: bool) -> Self {
        Turns {
            channels,
            next: Arc::default(),
            picked: 0,
            sticky,
        }
    }
}

impl Clone for Turns {
    fn clone(&self) -> Self {
        Turns {
            channels: self.channels.clone(),
            next: self.next.clone(),
            picked: self.next.fetch_add(1, Ordering::Relaxed) % self.channels.len(),
            sticky: self.sticky,
        }
    }
}

impl tower_service::Service<http::Request<tonic::body::Body>> for Turns {
    type Response = http::Response<tonic::body::Body>;
    type Error = tonic::transport::Error;
    type Future = tonic::transport::channel::ResponseFuture;

    fn poll_ready(
        &mut self,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::result::Result<(), Self::Error>> {
        if !self.sticky {
            self.picked = self.next.fetch_add(1, Ordering::Relaxed) % self.channels.len();
        }
        self.channels[self.picked].poll_ready(cx)
    }

    fn call(&mut self, req: http::Request<tonic::body::Body>) -> Self::Future {
        self.channels[self.picked].call(req)
    }
}

/// Median difference (%), and the medians of each side's calls/s.
/// One plain tonic channel per worker (connected on first use).
fn channels(workers: &[fleet::Worker]) -> Vec<tonic::transport::Channel> {
    workers
        .iter()
        .map(|w| {
            tonic::transport::Endpoint::from_shared(format!("http://{}", w.addr))
                .unwrap()
                .connect_lazy()
        })
        .collect()
}

/// The windows of a side-by-side run, `balanced/fixed` calls/s each.
fn per_windows(w: &[(f64, f64)]) -> String {
    w.iter()
        .map(|(b, f)| format!("{b:.0}/{f:.0}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// A side-by-side run read as the table does.
struct SideBySide {
    /// Median of the windows' differences, %.
    med_diff: f64,
    /// Smallest and largest window difference, %.
    lo: f64,
    hi: f64,
    /// Medians of the windows, calls/s.
    med_b: f64,
    med_f: f64,
    /// All windows pooled, %.
    pooled: f64,
    windows: usize,
}

fn summarize(per_window: &[(f64, f64)]) -> SideBySide {
    let diffs: Vec<f64> = per_window
        .iter()
        .map(|(b, f)| (b / f - 1.0) * 100.0)
        .collect();
    let (lo, hi) = diffs
        .iter()
        .fold((f64::MAX, f64::MIN), |(l, h), d| (l.min(*d), h.max(*d)));
    SideBySide {
        med_diff: median(diffs),
        lo,
        hi,
        med_b: median(per_window.iter().map(|p| p.0).collect()),
        med_f: median(per_window.iter().map(|p| p.1).collect()),
        pooled: (per_window.iter().map(|p| p.0).sum::<f64>()
            / per_window.iter().map(|p| p.1).sum::<f64>()
            - 1.0)
            * 100.0,
        windows: per_window.len(),
    }
}

fn main() -> std::process::ExitCode {
    bench::run_main("grpc", tokio::runtime::Builder::new_multi_thread(), run())
}

async fn run() -> Result<()> {
    let windows = env_num("GRPC_BENCH_WINDOWS", 15) as usize;
    let kills = env_num("GRPC_BENCH_KILLS", 5) as usize;
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
    let commit = bench::git_head(&root).unwrap_or_else(|| "?".into());
    let load_before = bench::loadavg()?;
    let agent = testkit::agent_on(0).await;
    let consul = agent.http_addr();

    // 1. Throughput, side by side.
    let interval = Duration::from_secs(1);
    let mut workers = vec![fleet::spawn(consul, "gb-1", interval).await];
    let discovery = dcy::Discovery::new(fleet::client(consul));
    let service = discovery.service(grpc_worker::SERVICE);
    if !fleet::wait_for_ids(&service, &["gb-1"], 20).await {
        return Err(bench::err("the first worker did not pass its gRPC check"));
    }
    let balanced = discovery.grpc(grpc_worker::SERVICE);
    // dcy's own cost: one worker registered, the balanced channel against a
    // fixed channel to that worker (as the app's HTTP figure 1).
    let one_windows = side_by_side(balanced.clone(), &channels(&workers), windows).await?;
    let one = summarize(&one_windows);
    workers.push(fleet::spawn(consul, "gb-2", interval).await);
    if !fleet::wait_for_ids(&service, &["gb-1", "gb-2"], 20).await {
        return Err(bench::err("the workers did not pass their gRPC checks"));
    }
    let fixed = channels(&workers);
    tokio::time::sleep(Duration::from_secs(1)).await;
    let per_window = side_by_side(balanced.clone(), &fixed, windows).await?;
    let p2c = discovery.grpc_p2c(grpc_worker::SERVICE, |e| e);
    let p2c_windows = side_by_side(p2c.clone(), &fixed, windows.div_ceil(3)).await?;
    p2c.shutdown().await;
    let p2c_sum = summarize(&p2c_windows);
    let plain = channels(&workers);
    let short = windows.div_ceil(3);
    let same = summarize(&side_by_side(Turns::new(plain.clone(), true), &fixed, short).await?);
    let turns = summarize(&side_by_side(Turns::new(plain, false), &fixed, short).await?);
    let two = summarize(&per_window);
    let load_mid = bench::loadavg()?;
    eprintln!(
        "grpc bench: throughput, 1 worker {:+.1} % ({:.0} vs {:.0} calls/s), 2 workers {:+.1} %",
        one.med_diff, one.med_b, one.med_f, two.med_diff
    );

    // 2. Failover.
    workers.push(fleet::spawn(consul, "gb-3", interval).await);
    let mut alive: Vec<String> = vec!["gb-1".into(), "gb-2".into(), "gb-3".into()];

    if !fleet::wait_for_ids(&service, &ids(&alive), 20).await {
        return Err(bench::err("the third worker did not pass"));
    }
    let caller = Caller::new(balanced.clone(), 3);
    let retry_times: Arc<Mutex<Vec<Instant>>> = Arc::default();
    let stop = Arc::new(AtomicBool::new(false));
    let mut tasks = Vec::new();
    for c in 0..4 {
        let (mut caller, stop, times) = (caller.clone(), stop.clone(), retry_times.clone());
        tasks.push(tokio::spawn(async move {
            let mut n = c as i64;
            while !stop.load(Ordering::Relaxed) {
                let before = caller.counts.retried.load(Ordering::Relaxed);
                let _ = caller.square(n % 1000).await;
                if caller.counts.retried.load(Ordering::Relaxed) != before {
                    times.lock().unwrap().push(Instant::now());
                }
                n += 1;
            }
        }));
    }
    tokio::time::sleep(Duration::from_secs(1)).await;
    let mut trials = Vec::new();
    for k in 0..kills {
        let victim = k % workers.len();
        let id = workers[victim].id.clone();
        let retried0 = caller.counts.retried.load(Ordering::Relaxed);
        let failed0 = caller.counts.failed.load(Ordering::Relaxed);
        let ok0 = caller.counts.ok.load(Ordering::Relaxed);
        retry_times.lock().unwrap().clear();
        workers[victim].kill().await;
        let killed = Instant::now();
        alive.retain(|a| *a != id);
        let mut dropped = None;
        while killed.elapsed() < Duration::from_secs(10) {
            if !service.instances().as_slice().iter().any(|i| i.id == id) {
                dropped = Some(killed.elapsed());
                break;
            }
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        let dropped = dropped.ok_or_else(|| bench::err(format!("{id} never dropped")))?;
        tokio::time::sleep(Duration::from_secs(2)).await;
        let times = retry_times.lock().unwrap().clone();
        let last_retry = times.iter().map(|t| t.duration_since(killed)).max();
        trials.push((
            id.clone(),
            dropped,
            caller.counts.retried.load(Ordering::Relaxed) - retried0,
            last_retry,
            caller.counts.failed.load(Ordering::Relaxed) - failed0,
            caller.counts.ok.load(Ordering::Relaxed) - ok0,
        ));
        let new_id = format!("gb-{}", 4 + k);
        workers[victim] = fleet::spawn(consul, &new_id, interval).await;
        alive.push(new_id);
        if !fleet::wait_for_ids(&service, &ids(&alive), 20).await {
            return Err(bench::err("a replacement worker did not pass"));
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    stop.store(true, Ordering::Relaxed);
    for t in tasks {
        t.await?;
    }
    let load_after = bench::loadavg()?;
    balanced.shutdown().await;
    discovery.shutdown().await;
    for w in &mut workers {
        w.kill().await;
    }
    agent.shutdown().await;

    // The report.
    let drops: Vec<Duration> = trials.iter().map(|t| t.1).collect();
    let failed: u64 = trials.iter().map(|t| t.4).sum();
    let oks: u64 = trials.iter().map(|t| t.5).sum();
    let retries: u64 = trials.iter().map(|t| t.2).sum();
    let last: Vec<Duration> = trials.iter().filter_map(|t| t.3).collect();
    let drop_med = bench::percentile(&drops, 50);
    let drop_max = drops.iter().max().copied().unwrap_or_default();
    let last_max = last.iter().max().copied().unwrap_or_default();
    let mut out = String::new();
    writeln!(
        out,
        "# gRPC through dcy's balanced channel: throughput and failover\n"
    )?;
    writeln!(
        out,
        "`benches/grpc.sh` (`cargo bench -p grpc-worker --bench grpc`), release builds: `grpc-worker` processes (tonic, `grpc.health.v1`, registered with a gRPC check every 1000 ms) and the bench process (callers, and devagent in-process) on loopback, at commit {commit}. Machine: {}; 2 cores shared with other builds and benchmarks. Load average (1, 5, 15 min): {} before, {} between the figures, {} after.\n",
        bench::machine(),
        load_before.trim(),
        load_mid.trim(),
        load_after.trim()
    )?;
    writeln!(
        out,
        "| Figure | Measured | Target | Met? |\n|---|---|---|---|"
    )?;
    writeln!(
        out,
        "| 1. Unary calls/s side by side in one run, dcy's cost: 4 callers through `Discovery::grpc` (1 worker registered) and 4 on a fixed tonic `Channel` to the same worker at the same time, {} windows of 1 s: median of the windows' difference | **{:+.1} %**: balanced {:.0} calls/s, fixed {:.0} calls/s (medians of the windows); all windows pooled {:+.1} %; windows from {:+.1} to {:+.1} % | within 5 % | {} |",
        one.windows,
        one.med_diff,
        one.med_b,
        one.med_f,
        one.pooled,
        one.lo,
        one.hi,
        bench::yes_no(one.med_diff.abs() <= 5.0)
    )?;
    writeln!(
        out,
        "| 1a. The same over 2 workers: 4 callers through `Discovery::grpc` (one tonic `Channel` per instance; of the next two instances in dcy's weighted round-robin order, the one with fewer calls in flight) and 4 on fixed tonic `Channel`s, 2 callers on each worker, {} windows | {:+.1} %: balanced {:.0} calls/s, fixed {:.0} calls/s (medians of the windows); all windows pooled {:+.1} %; windows from {:+.1} to {:+.1} % (a caller's calls alternate between connections: see 1d) | (reported) | |",
        two.windows,
        two.med_diff,
        two.med_b,
        two.med_f,
        two.pooled,
        two.lo,
        two.hi
    )?;
    writeln!(
        out,
        "| 1b. The same with `Discovery::grpc_p2c` (tonic's `balance_channel`, tower's p2c, fed by dcy's `Discover`) against the same fixed channels, {} windows | {:+.1} %: p2c {:.0} calls/s, fixed {:.0} calls/s | (reported) | |",
        p2c_sum.windows,
        p2c_sum.med_diff,
        p2c_sum.med_b,
        p2c_sum.med_f
    )?;
    writeln!(
        out,
        "| 1c. Control: 4 callers on their own plain tonic `Channel`s, split as the fixed side is, against the fixed side, {short} windows (the measurement's own bias) | {:+.1} %: {:.0} vs {:.0} calls/s | (reported) | |",
        same.med_diff, same.med_b, same.med_f
    )?;
    writeln!(
        out,
        "| 1d. Control: 4 callers on plain tonic `Channel`s taken in strict turn, call by call (round-robin alone, no discovery), against the fixed side, {short} windows | {:+.1} %: {:.0} vs {:.0} calls/s | (reported) | |",
        turns.med_diff, turns.med_b, turns.med_f
    )?;
    writeln!(
        out,
        "| 2a. Failover: failed calls, {kills} SIGKILLs of 1 of 3 workers under load (4 callers, a transport failure retried on another instance, at most 3 attempts) | {failed} failed of {oks} calls | 0 | {} |",
        bench::yes_no(failed == 0)
    )?;
    writeln!(
        out,
        "| 2b. Failover: kill → discovery dropped the worker (no call goes to it from then on), median / max | {} / {} | ≤ 1 check interval (1000 ms) | {} |",
        bench::ms(drop_med),
        bench::ms(drop_max),
        bench::yes_no(drop_max <= Duration::from_millis(1000))
    )?;
    writeln!(
        out,
        "| 2c. Failover: calls retried, and the last retry after a kill (a call that failed at the transport ejects its instance before its error returns) | {retries} retries in all; kill → last retry max {} | (reported) | |\n",
        bench::ms(last_max)
    )?;
    writeln!(out, "## Details\n")?;
    writeln!(
        out,
        "**1.** Calls per window (balanced/fixed), 1 worker: {}\n\n**1a.** 2 workers: {}\n",
        per_windows(&one_windows),
        per_windows(&per_window)
    )?;
    writeln!(out, "**2.**\n\n| Kill | Dropped after | Retries | Kill → last retry | Failed | Calls ok in the trial |\n|---|---|---|---|---|---|")?;
    for (id, dropped, retried, last, failed, ok) in &trials {
        writeln!(
            out,
            "| {id} | {} | {retried} | {} | {failed} | {ok} |",
            bench::ms(*dropped),
            last.map_or("-".to_string(), bench::ms)
        )?;
    }
    let path = std::env::var("GRPC_BENCH_RESULTS")
        .map(PathBuf::from)
        .unwrap_or_else(|_| root.join("benches/results/grpc.md"));
    bench::write_results(&path, &out)?;
    println!("{out}");
    Ok(())
}
