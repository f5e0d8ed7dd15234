//! dcy's figures that are not micro-benchmarks, measured on loopback:
//!
//! * **1,000 services watched** by one `Discovery`: the devagent runs as a
//!   separate process (the release binary), so the RSS and CPU read from
//!   `/proc/self` are the watching process's own. After every handle is
//!   ready the agent must count exactly 1,000 blocking queries waiting; then
//!   the process idles 10 s and its CPU time and VmRSS are read.
//! * **change → subscriber**: a TTL check flipped between pass and fail, an
//!   instance registered and deregistered, a KV key written; from just before
//!   the write is sent to the moment the subscriber (a task following
//!   `Service::updates()` / `Watch::changed()`) wakes. p50 / p99 / max.
//! * **service start → registered and passing**: `Registration::register`
//!   with a TTL check until `GET /v1/health/service/<name>?passing` lists it.
//!
//! Run with `cargo bench -p dcy --bench figures` (or `benches/dcy-bench.sh`,
//! which builds the devagent binary first and raises the open-file limit).
//! The table is printed and written to `benches/results/dcy-figures.md`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::fmt::Write as _;
use std::net::SocketAddr;
use std::process::{ExitCode, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{load1, IO_TIMEOUT};
use dcy::registry::{Check, Registration};
use dcy::Discovery;
use futures_util::StreamExt;
use testkit::bench::{self, mib, ms, percentile, yes_no, Memory};
use tokio::process::{Child, Command};
use tokio::sync::mpsc;

const DEVAGENT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../target/release/devagent");

const SERVICES: usize = 1_000;
const REGISTER_IN_FLIGHT: usize = 32;
const IDLE: Duration = Duration::from_secs(10);
const RSS_TARGET_MIB: f64 = 50.0;
/// "Near zero": below 1% of one core.
const IDLE_CPU_TARGET_PCT: f64 = 1.0;

const FLIPS: usize = 200;
const REG_CYCLES: usize = 100;
const KV_WRITES: usize = 200;
const CHANGE_P99_TARGET: Duration = Duration::from_millis(10);
/// Bound of one wait for a change to arrive.
const CHANGE_TIMEOUT: Duration = Duration::from_secs(5);

const STARTS: usize = 50;
const START_TARGET: Duration = Duration::from_millis(100);
const PASSING_POLL_LIMIT: Duration = Duration::from_secs(2);

type Result<T> = std::result::Result<T, String>;

/// One line of the report.
struct Row {
    figure: String,
    target: String,
    measured: String,
    met: Option<bool>,
    load: String,
}

fn row(figure: &str, target: &str, measured: String, met: Option<bool>) -> Row {
    Row {
        figure: figure.to_string(),
        target: target.to_string(),
        measured,
        met,
        load: load1(),
    }
}

fn failed(figure: &str, e: &str) -> Row {
    row(figure, "", format!("failed: {e}"), Some(false))
}

/// Re-executed as `figures --register-services <base>`: registers `svc-0`..`svc-999`.
const REGISTER_FLAG: &str = "--register-services";

fn register_services(base: String) -> ExitCode {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("building the registering runtime");
    let outcome = rt.block_on(async move {
        let http = common::raw_client();
        let next = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let mut tasks: tokio::task::JoinSet<Result<()>> = tokio::task::JoinSet::new();
        for _ in 0..REGISTER_IN_FLIGHT {
            let (http, base, next) = (http.clone(), base.clone(), Arc::clone(&next));
            tasks.spawn(async move {
                loop {
                    let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    if i >= SERVICES {
                        return Ok(());
                    }
                    let name = format!("svc-{i}");
                    let addr = format!("10.2.{}.{}", i / 250, 1 + i % 250);
                    let port = 30_000 + u16::try_from(i).map_err(|e| e.to_string())?;
                    common::register(&http, &base, &name, &name, &addr, port).await?;
                }
            });
        }
        let all = async {
            while let Some(r) = tasks.join_next().await {
                r.map_err(|e| format!("registering task: {e}"))??;
            }
            Ok::<(), String>(())
        };
        tokio::time::timeout(Duration::from_secs(60), all)
            .await
            .map_err(|_| "registering took over 60 s".to_string())?
    });
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("figures {REGISTER_FLAG}: {e}");
            ExitCode::FAILURE
        }
    }
}

fn main() -> ExitCode {
    let mut args = std::env::args().skip(1);
    if let (Some(flag), Some(base)) = (args.next(), args.next()) {
        if flag == REGISTER_FLAG {
            return register_services(base);
        }
    }
    // `cargo test --benches` runs this without `--bench`: nothing to check then.
    if !std::env::args().any(|a| a == "--bench") {
        println!("figures: a benchmark; run it with `cargo bench -p dcy --bench figures`");
        return ExitCode::SUCCESS;
    }
    let load_start = load1();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("building the bench runtime");

    let mut rows: Vec<Row> = Vec::new();
    let mut notes: Vec<String> = Vec::new();

    // First, while nothing else lives in this process: 1,000 watched services.
    match rt.block_on(async {
        tokio::time::timeout(Duration::from_secs(180), thousand_services(&mut notes)).await
    }) {
        Ok(Ok(mut r)) => rows.append(&mut r),
        Ok(Err(e)) => rows.push(failed("1,000 services watched", &e)),
        Err(_) => rows.push(failed("1,000 services watched", "took over 180 s")),
    }

    // Then an in-process agent for the latency figures.
    let agent = common::InProcessAgent::start(false);
    match rt.block_on(async {
        tokio::time::timeout(Duration::from_secs(120), change_latency(agent.http)).await
    }) {
        Ok(Ok(mut r)) => rows.append(&mut r),
        Ok(Err(e)) => rows.push(failed("change → subscriber", &e)),
        Err(_) => rows.push(failed("change → subscriber", "took over 120 s")),
    }
    match rt.block_on(async {
        tokio::time::timeout(Duration::from_secs(120), start_to_passing(agent.http)).await
    }) {
        Ok(Ok(mut r)) => rows.append(&mut r),
        Ok(Err(e)) => rows.push(failed("start → registered and passing", &e)),
        Err(_) => rows.push(failed("start → registered and passing", "took over 120 s")),
    }
    drop(rt);
    agent.stop();

    let md = report(&load_start, &rows, &notes);
    println!("\n{md}");
    let path = common::results_path("dcy-figures.md");
    if let Err(e) = std::fs::write(&path, &md) {
        eprintln!("figures: writing {}: {e}", path.display());
        return ExitCode::FAILURE;
    }
    println!("written to {}", path.display());
    if rows.iter().any(|r| r.measured.starts_with("failed")) {
        return ExitCode::FAILURE;
    }
    ExitCode::SUCCESS
}

fn report(load_start: &str, rows: &[Row], notes: &[String]) -> String {
    let mut md = String::new();
    let _ = writeln!(md, "# dcy figures\n");
    let _ = writeln!(
        md,
        "`cargo bench -p dcy --bench figures` (via `benches/dcy-bench.sh`), release build, loopback. \
         Machine: {}; 1-minute load average {load_start} before the run; the last column is the \
         1-minute load average when each figure was taken. The 1,000-services figure uses the release \
         devagent as a separate process; the others an in-process devagent on its own 2-thread runtime.\n",
        common::machine()
    );
    let _ = writeln!(md, "| Figure | Target | Measured | Met | 1-min load |");
    let _ = writeln!(md, "|---|---|---|---|---|");
    for r in rows {
        let met = r.met.map_or("", yes_no);
        let _ = writeln!(
            md,
            "| {} | {} | {} | {met} | {} |",
            r.figure, r.target, r.measured, r.load
        );
    }
    if !notes.is_empty() {
        md.push('\n');
        for n in notes {
            let _ = writeln!(md, "- {n}");
        }
    }
    md
}

// ---------------------------------------------------------------------------
// 1,000 services watched by one process

/// The devagent binary as a child process; killed by PID when dropped.
struct ChildAgent {
    child: Child,
    http: SocketAddr,
}

impl ChildAgent {
    async fn spawn() -> Result<ChildAgent> {
        if !std::path::Path::new(DEVAGENT).is_file() {
            return Err(format!(
                "{DEVAGENT} is missing: build it first with `cargo build --release -p devagent` \
                 (benches/dcy-bench.sh does)"
            ));
        }
        let limit = Duration::from_secs(10);
        // 1,000 blocking queries from one process: over Consul's default of
        // 200 connections per client, raised as it would be on Consul.
        let unlimited = ["-hcl", "limits { http_max_conns_per_client = 0 }"];
        let d = bench::spawn_devagent_with(std::path::Path::new(DEVAGENT), -1, limit, &unlimited)
            .await
            .map_err(|e| e.to_string())?;
        Ok(ChildAgent {
            child: d.child,
            http: d.http,
        })
    }

    async fn kill(mut self) {
        // By its PID: Child::kill sends SIGKILL to this child and reaps it.
        let _ = tokio::time::timeout(Duration::from_secs(5), self.child.kill()).await;
    }
}

/// `devagent_blocking_queries` from the agent's `/metrics`.
async fn blocking_queries(http: &reqwest::Client, base: &str) -> Result<i64> {
    let text = http
        .get(format!("{base}/metrics"))
        .send()
        .await
        .map_err(|e| format!("GET /metrics: {e}"))?
        .text()
        .await
        .map_err(|e| format!("GET /metrics: {e}"))?;
    bench::metric(&text, "devagent_blocking_queries")
        .ok_or_else(|| "no devagent_blocking_queries in /metrics".to_string())
}

async fn thousand_services(notes: &mut Vec<String>) -> Result<Vec<Row>> {
    let fd_limit = bench::open_file_limit();
    if fd_limit.is_some_and(|l| l < 2 * SERVICES as u64) {
        notes.push(format!(
            "The open-file limit is {fd_limit:?}: 1,000 blocking queries need 1,000 connections (raise it with `ulimit -n`)."
        ));
    }
    let agent = ChildAgent::spawn().await?;
    let out = thousand_services_on(&agent, notes).await;
    agent.kill().await;
    out
}

async fn thousand_services_on(agent: &ChildAgent, notes: &mut Vec<String>) -> Result<Vec<Row>> {
    let base = format!("http://{}", agent.http);
    // Register from a child process (this binary, re-executed), so that the
    // registration client's connections and buffers never touch this process.
    let exe = std::env::current_exe().map_err(|e| format!("current_exe: {e}"))?;
    let mut registrar = Command::new(&exe)
        .args([REGISTER_FLAG, &base])
        .stdin(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| format!("spawning {} {REGISTER_FLAG}: {e}", exe.display()))?;
    let status = tokio::time::timeout(Duration::from_secs(90), registrar.wait())
        .await
        .map_err(|_| "registering 1,000 services took over 90 s".to_string())?
        .map_err(|e| format!("waiting for the registering process: {e}"))?;
    if !status.success() {
        return Err(format!("the registering process failed: {status}"));
    }
    // A client that keeps no connection: the metrics polls must not add sockets.
    let probe = reqwest::Client::builder()
        .timeout(IO_TIMEOUT)
        .pool_max_idle_per_host(0)
        .build()
        .map_err(|e| format!("probe client: {e}"))?;
    let before_watch = blocking_queries(&probe, &base).await?;

    let own_memory = || Memory::of(None).map_err(|e| e.to_string());
    let rss_before = own_memory()?.rss_kib;
    let client = common::dcy_client(agent.http, Duration::from_secs(300));
    let started = Instant::now();
    let discovery = Discovery::new(client.clone());
    let services: Vec<dcy::Service> = (0..SERVICES)
        .map(|i| discovery.service(&format!("svc-{i}")))
        .collect();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    for s in &services {
        let left = deadline.saturating_duration_since(tokio::time::Instant::now());
        s.ready(left)
            .await
            .map_err(|e| format!("{}: {e}", s.name()))?;
    }
    let all_ready = started.elapsed();

    // Every loop has its second (blocking) query in flight once the agent counts 1,000.
    let mut waiting = 0;
    let poll_deadline = Instant::now() + Duration::from_secs(30);
    while Instant::now() < poll_deadline {
        waiting = blocking_queries(&probe, &base).await? - before_watch;
        if waiting >= SERVICES as i64 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let settled = started.elapsed();
    // Let anything still in motion (connection set-up, allocator) come to rest.
    tokio::time::sleep(Duration::from_millis(500)).await;

    let m = client.metrics();
    let (req0, watch0) = (m.requests.get(), m.watch_requests.get());
    let own_cpu = || bench::cpu_ticks(None).map_err(|e| e.to_string());
    let tck = bench::clk_tck();
    let cpu0 = own_cpu()?;
    let t0 = Instant::now();
    tokio::time::sleep(IDLE).await;
    let idle = t0.elapsed();
    let cpu1 = own_cpu()?;
    let (req1, watch1) = (m.requests.get(), m.watch_requests.get());
    let Memory {
        rss_kib: rss,
        peak_kib: hwm,
    } = own_memory()?;
    let waiting_after = blocking_queries(&probe, &base).await? - before_watch;

    let cpu_secs = (cpu1 - cpu0) as f64 / tck as f64;
    let cpu_pct = cpu_secs / idle.as_secs_f64() * 100.0;
    let rss_mib = mib(rss);
    let ready = services.iter().filter(|s| s.instances().len() == 1).count();
    notes.push(format!(
        "1,000 services: the agent counted {before_watch} blocking queries before the watches started; \
         the figures above are net of them. The process's RSS before `Discovery::new` was {:.1} MiB \
         (runtime and allocator; the services were registered by a child process).",
        mib(rss_before)
    ));
    drop(services);
    drop(discovery);

    Ok(vec![
        row(
            "1,000 services: handles ready (one instance each)",
            "",
            format!("{ready} of {SERVICES} in {}", ms(all_ready)),
            Some(ready == SERVICES),
        ),
        row(
            "1,000 services: blocking queries waiting at the agent (`devagent_blocking_queries`)",
            "exactly 1000",
            format!(
                "{waiting} ({} after start); {waiting_after} after {} s idle",
                ms(settled),
                IDLE.as_secs()
            ),
            Some(waiting == SERVICES as i64 && waiting_after == SERVICES as i64),
        ),
        row(
            "1,000 services: dcy requests during the idle period (sent; completed watch fetches)",
            "0",
            format!("{}; {}", req1 - req0, watch1 - watch0),
            Some(req1 == req0 && watch1 == watch0),
        ),
        row(
            "1,000 services: process CPU while idle (utime+stime over the idle period)",
            "near 0 (< 1% of a core)",
            format!(
                "{cpu_pct:.2}% of one core ({} ticks at {tck}/s over {:.1} s)",
                cpu1 - cpu0,
                idle.as_secs_f64()
            ),
            Some(cpu_pct < IDLE_CPU_TARGET_PCT),
        ),
        row(
            "1,000 services: RSS growth from `Discovery::new` to all watching, per watched service",
            "",
            format!(
                "{:.1} MiB in all; {:.1} KiB per service",
                mib(rss.saturating_sub(rss_before)),
                rss.saturating_sub(rss_before) as f64 / SERVICES as f64
            ),
            None,
        ),
        row(
            "1,000 services: process VmRSS (peak VmHWM)",
            "< 50 MB (47.7 MiB)",
            format!("{rss_mib:.1} MiB ({:.1} MiB)", mib(hwm)),
            Some(rss as f64 * 1024.0 < RSS_TARGET_MIB * 1e6),
        ),
    ])
}

// ---------------------------------------------------------------------------
// change → subscriber

fn summary(mut samples: Vec<Duration>) -> (Duration, Duration, Duration) {
    samples.sort_unstable();
    (
        percentile(&samples, 50),
        percentile(&samples, 99),
        samples.last().copied().unwrap_or_default(),
    )
}

fn latency_row(figure: &str, samples: Vec<Duration>) -> Row {
    let n = samples.len();
    let (p50, p99, max) = summary(samples);
    row(
        figure,
        "p99 ≤ 10 ms",
        format!(
            "p50 {} / p99 {} / max {} (n={n})",
            ms(p50),
            ms(p99),
            ms(max)
        ),
        Some(p99 <= CHANGE_P99_TARGET),
    )
}

/// Waits for the subscriber's next wake-up; fails on timeout or a stream end.
async fn next_wake<T>(rx: &mut mpsc::UnboundedReceiver<(Instant, T)>) -> Result<(Instant, T)> {
    tokio::time::timeout(CHANGE_TIMEOUT, rx.recv())
        .await
        .map_err(|_| format!("no change arrived within {CHANGE_TIMEOUT:?}"))?
        .ok_or_else(|| "the subscriber stopped".to_string())
}

async fn change_latency(http: SocketAddr) -> Result<Vec<Row>> {
    let base = format!("http://{http}");
    let raw = common::raw_client();
    common::register(&raw, &base, "worker", "worker-stable", "10.3.0.1", 9001).await?;
    common::register(&raw, &base, "worker", "worker-flip", "10.3.0.2", 9002).await?;

    let client = common::dcy_client(http, Duration::from_secs(300));
    let discovery = Discovery::new(client.clone());
    let svc = discovery.service("worker");
    svc.ready(Duration::from_secs(10))
        .await
        .map_err(|e| e.to_string())?;
    let deadline = Instant::now() + Duration::from_secs(10);
    while svc.instances().len() < 2 {
        if Instant::now() > deadline {
            return Err("worker: 2 instances not seen within 10 s".into());
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }

    // The subscriber: records when each change reaches it, and what it saw.
    let (tx, mut rx) = mpsc::unbounded_channel::<(Instant, usize)>();
    let mut updates = Box::pin(svc.updates());
    let follower = tokio::spawn(async move {
        while let Some(snap) = updates.next().await {
            if tx.send((Instant::now(), snap.len())).is_err() {
                return;
            }
        }
    });

    // a. TTL check flips.
    let mut flips = Vec::with_capacity(FLIPS);
    for i in 0..FLIPS {
        let (verb, want) = if i % 2 == 0 { ("fail", 1) } else { ("pass", 2) };
        tokio::time::sleep(Duration::from_millis(5)).await;
        while rx.try_recv().is_ok() {}
        let url = format!("{base}/v1/agent/check/{verb}/service:worker-flip");
        let t0 = Instant::now();
        common::put(&raw, &url).await?;
        let (at, len) = next_wake(&mut rx).await?;
        if len != want {
            return Err(format!("after {verb}: {len} instances, expected {want}"));
        }
        flips.push(at.saturating_duration_since(t0));
    }

    // b. An instance registered, then deregistered.
    let mut regs = Vec::with_capacity(REG_CYCLES * 2);
    for _ in 0..REG_CYCLES {
        for (register, want) in [(true, 3), (false, 2)] {
            tokio::time::sleep(Duration::from_millis(5)).await;
            while rx.try_recv().is_ok() {}
            let t0 = Instant::now();
            if register {
                common::register(&raw, &base, "worker", "worker-extra", "10.3.0.3", 9003).await?;
            } else {
                common::put(
                    &raw,
                    &format!("{base}/v1/agent/service/deregister/worker-extra"),
                )
                .await?;
            }
            let (at, len) = next_wake(&mut rx).await?;
            if len != want {
                return Err(format!(
                    "after (de)registering: {len} instances, expected {want}"
                ));
            }
            regs.push(at.saturating_duration_since(t0));
        }
    }
    follower.abort();
    drop(svc);
    drop(discovery);

    // c. A KV key written.
    let kv = dcy::Kv::new(client.clone());
    kv.put_string("bench/latency", "v-start")
        .await
        .map_err(|e| e.to_string())?;
    let mut watch = kv.watch_key("bench/latency");
    watch
        .ready(Duration::from_secs(10))
        .await
        .map_err(|e| e.to_string())?;
    let (ktx, mut krx) = mpsc::unbounded_channel::<(Instant, String)>();
    let kv_follower = tokio::spawn(async move {
        while watch.changed().await.is_ok() {
            let v = watch
                .value()
                .and_then(|v| {
                    v.first()
                        .and_then(|p| p.value_str().ok().map(str::to_string))
                })
                .unwrap_or_default();
            if ktx.send((Instant::now(), v)).is_err() {
                return;
            }
        }
    });
    let mut kvs = Vec::with_capacity(KV_WRITES);
    for i in 0..KV_WRITES {
        tokio::time::sleep(Duration::from_millis(5)).await;
        while krx.try_recv().is_ok() {}
        let value = format!("v{i}");
        let t0 = Instant::now();
        kv.put_string("bench/latency", &value)
            .await
            .map_err(|e| e.to_string())?;
        let (at, seen) = next_wake(&mut krx).await?;
        if seen != value {
            return Err(format!("KV watch saw {seen:?}, expected {value:?}"));
        }
        kvs.push(at.saturating_duration_since(t0));
    }
    kv_follower.abort();

    Ok(vec![
        latency_row(
            "change → `Service::updates()`: TTL check pass/fail (`PUT /v1/agent/check/*`, write sent → subscriber wakes)",
            flips,
        ),
        latency_row(
            "change → `Service::updates()`: instance registered / deregistered",
            regs,
        ),
        latency_row("change → `Kv::watch_key` subscriber: key written", kvs),
    ])
}

// ---------------------------------------------------------------------------
// start → registered and passing

/// Polls `?passing` every 1 ms until `name` is listed; the time it was seen.
async fn until_passing(raw: &reqwest::Client, base: &str, name: &str) -> Result<Instant> {
    let url = format!("{base}/v1/health/service/{name}?passing=1");
    let deadline = Instant::now() + PASSING_POLL_LIMIT;
    while Instant::now() < deadline {
        let resp = raw
            .get(&url)
            .send()
            .await
            .map_err(|e| format!("GET {url}: {e}"))?;
        let body: serde_json::Value = resp.json().await.map_err(|e| format!("GET {url}: {e}"))?;
        if body.as_array().is_some_and(|a| !a.is_empty()) {
            return Ok(Instant::now());
        }
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    Err(format!("{name} not passing within {PASSING_POLL_LIMIT:?}"))
}

async fn start_to_passing(http: SocketAddr) -> Result<Vec<Row>> {
    let base = format!("http://{http}");
    let raw = common::raw_client();
    // Warm the poller's connection.
    until_passing(&raw, &base, "consul").await?;
    let mut fresh_total = Vec::with_capacity(STARTS);
    let mut fresh_register = Vec::with_capacity(STARTS);
    let mut reused_total = Vec::with_capacity(STARTS);
    let shared = common::dcy_client(http, Duration::from_secs(300));
    for i in 0..STARTS {
        for fresh in [true, false] {
            let name = format!("starter-{}-{i}", if fresh { "fresh" } else { "reused" });
            // A fresh client is a fresh process: its first request pays the TCP connect.
            let client = if fresh {
                common::dcy_client(http, Duration::from_secs(300))
            } else {
                shared.clone()
            };
            let port = 40_000 + u16::try_from(i).map_err(|e| e.to_string())?;
            let t0 = Instant::now();
            let reg = Registration::new(&name)
                .address("127.0.0.1")
                .port(port)
                .check(Check::ttl(Duration::from_secs(10)))
                .register(&client)
                .await
                .map_err(|e| format!("registering {name}: {e}"))?;
            let registered = t0.elapsed();
            let seen = until_passing(&raw, &base, &name).await?;
            let total = seen.saturating_duration_since(t0);
            if fresh {
                fresh_total.push(total);
                fresh_register.push(registered);
            } else {
                reused_total.push(total);
            }
            tokio::time::timeout(IO_TIMEOUT, reg.deregister())
                .await
                .map_err(|_| format!("deregistering {name}: timed out"))?
                .map_err(|e| format!("deregistering {name}: {e}"))?;
        }
    }
    let median_max = |v: Vec<Duration>| {
        let (p50, _, max) = summary(v);
        (p50, max)
    };
    let (f50, fmax) = median_max(fresh_total);
    let (r50, rmax) = median_max(fresh_register);
    let (u50, umax) = median_max(reused_total);
    Ok(vec![
        row(
            "start → registered and passing (TTL check), fresh client: `register()` called → listed by `?passing`",
            "≤ 100 ms",
            format!("median {} / max {} (n={STARTS})", ms(f50), ms(fmax)),
            Some(fmax <= START_TARGET),
        ),
        row(
            "… of which `register()` itself returned after",
            "",
            format!("median {} / max {}", ms(r50), ms(rmax)),
            None,
        ),
        row(
            "start → registered and passing, client reused (connection warm)",
            "",
            format!("median {} / max {} (n={STARTS})", ms(u50), ms(umax)),
            None,
        ),
    ])
}
