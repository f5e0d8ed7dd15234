//! Figures of the example services, measured on the real release binaries
//! (devagent, sensor, worker, demo) as separate processes, on loopback:
//!
//! 1. The app's throughput through dcy discovery against the same app calling
//!    a fixed address: `app::throughput` with `Target::discovery` (one worker
//!    registered) and `Target::fixed` (that worker's address), interleaved
//!    A, B, A, B, ...; then discovery over three workers against the same
//!    fixed worker, interleaved again. Target: within 5 %, as the median
//!    of each discovery run against the fixed runs on either side of it (the
//!    machine's drift over the minutes of the figure cancels out).
//! 2. Failover: three workers, the app (`app::drive`, in this process)
//!    calling them continuously; one worker is killed with SIGKILL. Counted:
//!    failed rounds (target 0), the retries dcy's HTTP client made and when
//!    (its `retrying on another instance` debug events), and the time until
//!    discovery dropped the dead worker (target: at most one check interval).
//! 3. The demo, from the command to its `every service passing` line, 5 times
//!    (target 2 s), on free ports.
//!
//! Before each figure the bench waits (bounded) for the 1-minute load
//! average to be at most `EXAMPLES_BENCH_MAX_LOAD`; a figure started above
//! it is run again (bounded). Results: `benches/results/examples.md` at the
//! workspace root. Run it with `benches/examples.sh`, which builds the
//! binaries first.
//!
//! Settings (environment): `EXAMPLES_BIN_DIR` (default: the directory of
//! this bench's profile, e.g. `target/release`), `EXAMPLES_BENCH_RUNS` (runs
//! per side, 25), `EXAMPLES_BENCH_RUN_SECS` (length of a run, 1),
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

use app::{Stats, Target};
use prometheus_client::metrics::counter::Counter;
use testkit::bench::{self, millis, ms_to, yes_no};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader, Lines};
use tokio::process::{Child, ChildStdout, Command};
use tokio_util::sync::CancellationToken;
use tracing_subscriber::layer::SubscriberExt as _;
use tracing_subscriber::util::SubscriberInitExt as _;
use tracing_subscriber::Layer as _;

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

// ---------------------------------------------------------------------------
// Load average

/// The 1-minute load average, and the whole `/proc/loadavg` line.
fn loadavg() -> (f64, String) {
    let line = bench::loadavg().unwrap_or_default();
    let one = bench::load_fields(&line, 1).parse().unwrap_or(0.0);
    (one, line)
}

/// Waits (at most `limit`) for the 1-minute load average to be at most
/// `max`; returns whether it was and the `/proc/loadavg` line.
async fn wait_quiet(max: f64, limit: Duration, what: &str) -> (bool, String) {
    let deadline = Instant::now() + limit;
    loop {
        let (one, line) = loadavg();
        if one <= max {
            return (true, line);
        }
        if Instant::now() >= deadline {
            eprintln!(
                "examples bench: {what}: load {one} > {max} after waiting {limit:?}; going on"
            );
            return (false, line);
        }
        eprintln!("examples bench: {what}: load {one} > {max}, waiting");
        tokio::time::sleep(Duration::from_secs(15)).await;
    }
}

/// Load at the start and the end of a figure.
#[derive(Clone, Debug, Default)]
struct Load {
    before: String,
    after: String,
    quiet: bool,
    attempt: usize,
}

impl Load {
    fn cell(&self) -> String {
        let first3 = |l: &str| bench::load_fields(l, 3);
        let mut s = format!("{} → {}", first3(&self.before), first3(&self.after));
        if !self.quiet {
            s.push_str(" (above the limit at the start)");
        }
        if self.attempt > 1 {
            let _ = write!(s, " (attempt {})", self.attempt);
        }
        s
    }
}

/// Runs a figure, waiting for a quiet machine first; runs it again (at most
/// [`ATTEMPTS`] times) when the load was above the limit at its start.
async fn figure<T, F, Fut>(s: &Settings, what: &str, mut run: F) -> (T, Load)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = T>,
{
    let mut attempt = 0;
    loop {
        attempt += 1;
        let (quiet, before) = wait_quiet(s.max_load, s.load_wait, what).await;
        eprintln!("examples bench: {what} (attempt {attempt}), /proc/loadavg {before}");
        let out = run().await;
        let (_, after) = loadavg();
        eprintln!("examples bench: {what} done, /proc/loadavg {after}");
        if quiet || attempt >= ATTEMPTS {
            return (
                out,
                Load {
                    before,
                    after,
                    quiet,
                    attempt,
                },
            );
        }
        eprintln!("examples bench: {what}: started above the load limit, running it again");
    }
}

// ---------------------------------------------------------------------------
// Processes

/// A child process, killed when dropped.
struct Proc {
    name: String,
    child: Child,
}

impl Proc {
    fn pid(&self) -> nix::unistd::Pid {
        nix::unistd::Pid::from_raw(
            self.child
                .id()
                .and_then(|p| i32::try_from(p).ok())
                .expect("a running child has a pid"),
        )
    }

    fn signal(&self, sig: nix::sys::signal::Signal) {
        let _ = nix::sys::signal::kill(self.pid(), sig);
    }

    /// SIGTERM, then SIGKILL after 10 s.
    async fn stop(mut self) {
        if self.child.id().is_some() {
            self.signal(nix::sys::signal::Signal::SIGTERM);
        }
        if tokio::time::timeout(Duration::from_secs(10), self.child.wait())
            .await
            .is_err()
        {
            eprintln!("examples bench: {} ignored SIGTERM; killing it", self.name);
            let _ = self.child.kill().await;
        }
    }
}

/// Spawns `bin args`, waits (bounded) for a stdout line containing `needle`
/// and returns it; the rest of stdout is drained.
async fn spawn(bin: &Path, args: &[&str], needle: &str) -> (Proc, String) {
    let name = bin
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let mut child = Command::new(bin)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap_or_else(|e| panic!("spawning {}: {e}", bin.display()));
    let mut lines = BufReader::new(child.stdout.take().expect("piped stdout")).lines();
    let line = read_until(&mut lines, needle, LIMIT)
        .await
        .unwrap_or_else(|| panic!("{name} printed no {needle:?} line within {LIMIT:?}"));
    bench::drain(lines);
    (Proc { name, child }, line)
}

async fn read_until(
    lines: &mut Lines<BufReader<ChildStdout>>,
    needle: &str,
    limit: Duration,
) -> Option<String> {
    let deadline = tokio::time::Instant::now() + limit;
    loop {
        match tokio::time::timeout_at(deadline, lines.next_line()).await {
            Ok(Ok(Some(l))) if l.contains(needle) => return Some(l),
            Ok(Ok(Some(_))) => {}
            _ => return None,
        }
    }
}

/// `devagent agent -dev` on free ports; returns it and `http://host:port`.
async fn agent(s: &Settings) -> (Proc, String) {
    let (p, line) = spawn(
        &s.bin("devagent"),
        &[
            "agent",
            "-dev",
            "-http-port",
            "0",
            "-dns-port",
            "0",
            "-node",
            "bench",
            "-log-level",
            "warn",
        ],
        "devagent listening",
    )
    .await;
    let http = line
        .split_whitespace()
        .find_map(|w| w.strip_prefix("http="))
        .expect("http= in the listening line");
    (p, format!("http://{http}"))
}

/// A sensor or worker process; returns it, its address and its service ID.
async fn service(s: &Settings, name: &str, consul: &str) -> (Proc, String, String) {
    let interval = format!("{}ms", CHECK_INTERVAL.as_millis());
    let (p, line) = spawn(
        &s.bin(name),
        &["--http-addr", consul, "--check-interval", &interval],
        &format!("{name} listening on"),
    )
    .await;
    let addr = line
        .rsplit(' ')
        .next()
        .expect("an address at the end")
        .to_string();
    let port = addr.rsplit(':').next().expect("a port").to_string();
    (p, addr, format!("{name}-{port}"))
}

fn discovery(consul: &str) -> dcy::Discovery {
    let config = dcy::Config::builder()
        .address(consul)
        .build()
        .expect("a Consul config");
    dcy::Discovery::new(dcy::Client::new(config).expect("a Consul client"))
}

/// Waits (bounded) until discovery's healthy `worker` set satisfies `f`;
/// returns how long that took. Polls the snapshot every millisecond (a
/// lock-free load): `Service::changed` subscribes only when first polled, so
/// a change between a look and the wait could be missed.
async fn until_workers(
    d: &dcy::Discovery,
    limit: Duration,
    f: impl Fn(&dcy::Instances) -> bool,
) -> Option<Duration> {
    let started = Instant::now();
    let svc = d.service("worker");
    while started.elapsed() < limit {
        if f(&svc.instances()) {
            return Some(started.elapsed());
        }
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    None
}

// ---------------------------------------------------------------------------
// What dcy's HTTP client and the app log

/// When, and the error.
type Logged = (Instant, String);

#[derive(Debug, Default)]
struct Events {
    /// `retrying on another instance` (dcy::http, debug).
    retries: Vec<Logged>,
    /// `round failed` (app, warn).
    failures: Vec<Logged>,
}

#[derive(Clone, Debug, Default)]
struct Recorder(Arc<Mutex<Events>>);

#[derive(Default)]
struct Fields {
    message: String,
    error: String,
}

impl tracing::field::Visit for Fields {
    fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn std::fmt::Debug) {
        match field.name() {
            "message" => self.message = format!("{value:?}"),
            "error" => self.error = format!("{value:?}"),
            _ => {}
        }
    }

    fn record_str(&mut self, field: &tracing::field::Field, value: &str) {
        match field.name() {
            "message" => self.message = value.to_string(),
            "error" => self.error = value.to_string(),
            _ => {}
        }
    }
}

impl<S: tracing::Subscriber> tracing_subscriber::Layer<S> for Recorder {
    fn on_event(&self, event: &tracing::Event<'_>, _: tracing_subscriber::layer::Context<'_, S>) {
        let now = Instant::now();
        let mut f = Fields::default();
        event.record(&mut f);
        let target = event.metadata().target();
        let mut ev = self
            .0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if target.starts_with("dcy::http") && f.message.contains("retrying") {
            ev.retries.push((now, f.error));
        } else if target.starts_with("app") && f.message.contains("round failed") {
            ev.failures.push((now, f.error));
        }
    }
}

impl Recorder {
    fn install() -> Recorder {
        let r = Recorder::default();
        let only = tracing_subscriber::filter::Targets::new()
            .with_target("dcy::http", tracing::Level::DEBUG)
            .with_target("app", tracing::Level::WARN);
        tracing_subscriber::registry()
            .with(r.clone().with_filter(only))
            .init();
        r
    }

    /// Events from `since` on: (retries, failures).
    fn since(&self, since: Instant) -> (Vec<Logged>, Vec<Logged>) {
        let ev = self
            .0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let pick = |v: &Vec<Logged>| {
            v.iter()
                .filter(|(t, _)| *t >= since)
                .cloned()
                .collect::<Vec<_>>()
        };
        (pick(&ev.retries), pick(&ev.failures))
    }
}

// ---------------------------------------------------------------------------
// Statistics

fn median(v: &[f64]) -> f64 {
    let mut v = v.to_vec();
    v.sort_by(f64::total_cmp);
    match v.len() {
        0 => f64::NAN,
        n if n % 2 == 1 => v[n / 2],
        n => (v[n / 2 - 1] + v[n / 2]) / 2.0,
    }
}

fn max(v: &[f64]) -> f64 {
    v.iter().copied().fold(f64::NAN, f64::max)
}

fn list(v: &[f64], digits: usize) -> String {
    v.iter()
        .map(|x| format!("{x:.digits$}"))
        .collect::<Vec<_>>()
        .join(", ")
}

// ---------------------------------------------------------------------------
// Figure 1: discovery vs fixed address

#[derive(Debug, Default)]
struct Compare {
    /// HTTP requests per second (2 per round: the reading, the square).
    a: Vec<f64>,
    b: Vec<f64>,
    /// The app's (this process's) CPU µs per request.
    a_cpu: Vec<f64>,
    b_cpu: Vec<f64>,
    /// The servers' (devagent, sensor, workers) CPU µs per request.
    a_srv: Vec<f64>,
    b_srv: Vec<f64>,
}

struct Run {
    req_s: f64,
    app_us: f64,
    servers_us: f64,
}

impl Compare {
    fn diff_pct(&self) -> f64 {
        (median(&self.a) / median(&self.b) - 1.0) * 100.0
    }

    /// Median over the A runs of A against its neighbours in the sequence
    /// A, B, A, B, ... (the B before and the B after): symmetric in time,
    /// so a drift of the machine's load cancels out.
    fn paired_pct(&self) -> f64 {
        let d: Vec<f64> = self
            .a
            .iter()
            .enumerate()
            .filter_map(|(i, a)| {
                let near: Vec<f64> = [i.checked_sub(1), Some(i)]
                    .into_iter()
                    .flatten()
                    .filter_map(|j| self.b.get(j).copied())
                    .collect();
                (!near.is_empty())
                    .then(|| (a / (near.iter().sum::<f64>() / near.len() as f64) - 1.0) * 100.0)
            })
            .collect();
        median(&d)
    }
}

#[derive(Debug, Default)]
struct Throughput {
    rounds: u64,
    concurrency: usize,
    one: Compare,
    three: Compare,
    /// URL work per request, µs: (discovery, fixed).
    prep: (f64, f64),
}

/// CPU time (user + system) of a process so far, in clock ticks (100 per
/// second); `None` is this process, 0 if it cannot be read.
fn cpu_ticks(pid: Option<u32>) -> u64 {
    bench::cpu_ticks(pid).unwrap_or(0)
}

/// One bounded `app::throughput` run: HTTP requests per second, and CPU
/// microseconds per request of this process (the app) and of `servers`.
async fn rate(target: &Target, rounds: u64, concurrency: usize, servers: &[u32]) -> Run {
    let servers_cpu = || servers.iter().map(|p| cpu_ticks(Some(*p))).sum::<u64>();
    let (app0, srv0) = (cpu_ticks(None), servers_cpu());
    let r = tokio::time::timeout(
        LIMIT * 4,
        app::throughput(target.clone(), rounds, concurrency),
    )
    .await
    .expect("a throughput run within its time limit")
    .expect("a throughput run without a failed round");
    let (app1, srv1) = (cpu_ticks(None), servers_cpu());
    // Ticks are 10 ms; two requests per round.
    let per_req = |ticks: u64| ticks as f64 * 10_000.0 / (2 * rounds) as f64;
    Run {
        req_s: 2.0 * r,
        app_us: per_req(app1 - app0),
        servers_us: per_req(srv1 - srv0),
    }
}

/// `runs` runs of each, A, B, A, B, ...
async fn interleave(
    a: &Target,
    b: &Target,
    s: &Settings,
    rounds: u64,
    servers: &[u32],
    what: &str,
) -> Compare {
    let mut c = Compare::default();
    for i in 0..s.runs {
        let ra = rate(a, rounds, s.concurrency, servers).await;
        let rb = rate(b, rounds, s.concurrency, servers).await;
        eprintln!(
            "examples bench: {what} run {}: A {:.0} req/s ({:.1} + {:.1} µs CPU/req), B {:.0} req/s ({:.1} + {:.1} µs CPU/req)",
            i + 1,
            ra.req_s,
            ra.app_us,
            ra.servers_us,
            rb.req_s,
            rb.app_us,
            rb.servers_us,
        );
        c.a.push(ra.req_s);
        c.b.push(rb.req_s);
        c.a_cpu.push(ra.app_us);
        c.b_cpu.push(rb.app_us);
        c.a_srv.push(ra.servers_us);
        c.b_srv.push(rb.servers_us);
    }
    c
}

async fn throughput(s: &Settings) -> Throughput {
    let (agent, consul) = agent(s).await;
    let (sensor, sensor_addr, _) = service(s, "sensor", &consul).await;
    let (w1, w1_addr, w1_id) = service(s, "worker", &consul).await;
    let d = discovery(&consul);
    d.wait_for(&["sensor", "worker"], LIMIT)
        .await
        .expect("discovery sees the sensor and the worker");
    let seen = until_workers(&d, LIMIT, |i| i.len() == 1 && i.as_slice()[0].id == w1_id).await;
    assert!(seen.is_some(), "discovery sees exactly the one worker");

    let disc = Target::discovery(&d);
    let fixed = Target::fixed(&sensor_addr, &w1_addr);
    let pid = |p: &Proc| p.child.id().expect("a running child");
    let mut servers = vec![pid(&agent), pid(&sensor), pid(&w1)];
    // Warm both up, then size the runs to about `run_secs` each.
    let probe = s.concurrency as u64 * 50;
    rate(&disc, probe, s.concurrency, &servers).await;
    let r = rate(&fixed, probe, s.concurrency, &servers).await.req_s / 2.0;
    let rounds = ((r * s.run_secs) as u64).clamp(200, 500_000);
    let rounds = rounds - rounds % s.concurrency as u64;
    eprintln!(
        "examples bench: {rounds} rounds per run ({:.0} rounds/s in the probe), {} callers",
        r, s.concurrency
    );
    let one = interleave(
        &disc,
        &fixed,
        s,
        rounds,
        &servers,
        "discovery (1 worker) vs fixed",
    )
    .await;

    let prep = prep_cost(&d, &w1_addr);

    let (w2, _, _) = service(s, "worker", &consul).await;
    let (w3, _, _) = service(s, "worker", &consul).await;
    servers.extend([pid(&w2), pid(&w3)]);
    let seen = until_workers(&d, LIMIT, |i| i.len() == 3).await;
    assert!(seen.is_some(), "discovery sees the three workers");
    rate(&disc, probe, s.concurrency, &servers).await;
    let three = interleave(
        &disc,
        &fixed,
        s,
        rounds,
        &servers,
        "discovery (3 workers) vs fixed",
    )
    .await;

    for p in [w1, w2, w3, sensor, agent] {
        p.stop().await;
    }
    Throughput {
        rounds,
        concurrency: s.concurrency,
        one,
        three,
        prep,
    }
}

/// Iterations of each side of [`prep_cost`].
const PREP_ITERATIONS: u32 = 100_000;

/// CPU cost per request of the URL work before the request is handed to
/// reqwest, in this process, no network, one task: for discovery,
/// `Discovery::url` (parse `http://worker/...`, look the service up, pick,
/// rewrite: what `HttpClient::send` does besides sending); for the fixed
/// address, parsing `http://<addr>/...` (what reqwest does with a `&str`).
/// Returns (discovery µs, fixed µs).
fn prep_cost(d: &dcy::Discovery, addr: &str) -> (f64, f64) {
    let fixed = format!("http://{addr}/square?n=1234");
    let started = Instant::now();
    for _ in 0..PREP_ITERATIONS {
        std::hint::black_box(d.url(std::hint::black_box("http://worker/square?n=1234")))
            .expect("a worker to pick");
    }
    let a = started.elapsed().as_secs_f64() * 1e6 / f64::from(PREP_ITERATIONS);
    let started = Instant::now();
    for _ in 0..PREP_ITERATIONS {
        std::hint::black_box(reqwest::Url::parse(std::hint::black_box(&fixed)))
            .expect("a valid URL");
    }
    let b = started.elapsed().as_secs_f64() * 1e6 / f64::from(PREP_ITERATIONS);
    eprintln!("examples bench: URL work per request: discovery {a:.2} µs, fixed {b:.2} µs");
    (a, b)
}

// ---------------------------------------------------------------------------
// Figure 2: failover

#[derive(Debug, Default)]
struct Trial {
    /// Kill → discovery's healthy set without the worker.
    dropped: Option<Duration>,
    retries: usize,
    /// Kill → first and last retry.
    retry_first: Option<Duration>,
    retry_last: Option<Duration>,
    retry_errors: Vec<String>,
    failed: u64,
    wrong: u64,
    failure_texts: Vec<String>,
    /// Correct rounds from the kill to the end of the trial.
    ok: u64,
    trial_time: Duration,
}

async fn failover(s: &Settings, rec: &Recorder) -> Vec<Trial> {
    let (agent, consul) = agent(s).await;
    let (sensor, _, _) = service(s, "sensor", &consul).await;
    let mut workers = VecDeque::new();
    for _ in 0..3 {
        workers.push_back(service(s, "worker", &consul).await);
    }
    let d = discovery(&consul);
    d.wait_for(&["sensor", "worker"], LIMIT)
        .await
        .expect("discovery sees the sensor and a worker");
    assert!(until_workers(&d, LIMIT, |i| i.len() == 3).await.is_some());

    let stats = Arc::new(Mutex::new(Stats::default()));
    let snapshot = |stats: &Arc<Mutex<Stats>>| {
        stats
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    };
    let stop = CancellationToken::new();
    let driver = tokio::spawn(app::drive(
        Target::discovery(&d),
        Arc::clone(&stats),
        DRIVE_CONCURRENCY,
        DRIVE_INTERVAL,
        stop.clone(),
        Counter::default(),
    ));
    tokio::time::sleep(Duration::from_secs(1)).await;
    let warm = snapshot(&stats);
    assert!(
        warm.ok > 0 && warm.failed == 0,
        "the app works before any kill: {warm:?}"
    );

    let mut trials = Vec::new();
    for n in 0..s.trials {
        assert!(
            until_workers(&d, LIMIT, |i| i.len() == 3).await.is_some(),
            "three healthy workers before kill {}",
            n + 1
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
        let (mut victim, _, victim_id) = workers.pop_front().expect("a worker to kill");
        let before = snapshot(&stats);
        let killed = Instant::now();
        victim.signal(nix::sys::signal::Signal::SIGKILL);
        let dropped = until_workers(&d, LIMIT, |i| {
            i.as_slice().iter().all(|w| w.id != victim_id)
        })
        .await;
        tokio::time::sleep(SETTLE).await;
        let after = snapshot(&stats);
        let (retries, failures) = rec.since(killed);
        let mut retry_errors: Vec<String> = retries.iter().map(|(_, e)| e.clone()).collect();
        retry_errors.sort();
        retry_errors.dedup();
        let t = Trial {
            dropped,
            retries: retries.len(),
            retry_first: retries.first().map(|(t, _)| *t - killed),
            retry_last: retries.last().map(|(t, _)| *t - killed),
            retry_errors,
            failed: after.failed - before.failed,
            wrong: after.wrong - before.wrong,
            failure_texts: failures.iter().map(|(_, e)| e.clone()).collect(),
            ok: after.ok - before.ok,
            trial_time: killed.elapsed(),
        };
        eprintln!("examples bench: kill {}: {t:?}", n + 1);
        trials.push(t);
        let _ = tokio::time::timeout(Duration::from_secs(5), victim.child.wait()).await;
        // The killed instance never deregistered itself.
        let _ = d.client().deregister_service(&victim_id).await;
        workers.push_back(service(s, "worker", &consul).await);
    }
    stop.cancel();
    let _ = tokio::time::timeout(LIMIT, driver).await;
    for (p, _, _) in workers {
        p.stop().await;
    }
    sensor.stop().await;
    agent.stop().await;
    trials
}

// ---------------------------------------------------------------------------
// Figure 3: the demo

#[derive(Debug, Default)]
struct DemoRun {
    /// Spawn → the `every service passing` line.
    line: Duration,
    /// What the line says (ms since the demo's `run` started).
    reported_ms: Option<u64>,
    /// Spawn → every service check has run at least once and passes.
    probed: Option<Duration>,
    /// `q` and end of input → exit, and the demo's last line.
    stopped: Option<Duration>,
    last_line: String,
}

async fn demo_once(s: &Settings) -> DemoRun {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let started = Instant::now();
    let mut child = Command::new(s.bin("demo"))
        .args([
            "--http-port",
            "0",
            "--dns-port",
            "0",
            "--nginx-port",
            "0",
            "--dir",
            &dir.path().display().to_string(),
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("spawning the demo");
    let mut lines = BufReader::new(child.stdout.take().expect("piped stdout")).lines();
    let passing = read_until(&mut lines, "every service passing", LIMIT * 2)
        .await
        .expect("the demo's `every service passing` line");
    let line = started.elapsed();
    let reported_ms = passing
        .split("passing ")
        .nth(1)
        .and_then(|r| r.split_whitespace().next())
        .and_then(|v| v.parse().ok());
    let consul = read_until(&mut lines, "Consul API", LIMIT)
        .await
        .and_then(|l| {
            l.split_whitespace()
                .find(|w| w.starts_with("http://"))
                .map(str::to_string)
        })
        .expect("the demo's Consul API line");
    // The rest of stdout, to a channel: the last line tells what was left.
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    tokio::spawn(async move {
        while let Ok(Some(l)) = lines.next_line().await {
            let _ = tx.send(l);
        }
    });

    // Sensor, 2 workers, app, dashboard: each check run at least once.
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(2))
        .build()
        .expect("an HTTP client");
    let url = format!("{consul}/v1/health/state/passing");
    let mut probed = None;
    let deadline = Instant::now() + LIMIT;
    while Instant::now() < deadline {
        let checks: serde_json::Value = match http.get(&url).send().await {
            Ok(r) => r.json().await.unwrap_or_default(),
            Err(_) => serde_json::Value::Null,
        };
        let ran = checks
            .as_array()
            .map(|a| {
                a.iter()
                    .filter(|c| c["ServiceID"].as_str().is_some_and(|s| !s.is_empty()))
                    .filter(|c| c["Output"].as_str().is_some_and(|o| o.contains("HTTP GET")))
                    .count()
            })
            .unwrap_or(0);
        if ran >= 5 {
            probed = Some(started.elapsed());
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }

    // `q`, then end of input: the demo reads stdin with tokio's blocking
    // stdin, and its runtime does not exit while that read is pending.
    let mut stdin = child.stdin.take().expect("piped stdin");
    let _ = stdin.write_all(b"q\n").await;
    let _ = stdin.flush().await;
    drop(stdin);
    let quit = Instant::now();
    let stopped = match tokio::time::timeout(LIMIT, child.wait()).await {
        Ok(_) => Some(quit.elapsed()),
        Err(_) => {
            eprintln!("examples bench: the demo did not stop on q; killing it");
            let _ = child.kill().await;
            None
        }
    };
    let mut last_line = String::new();
    while let Ok(Some(l)) = tokio::time::timeout(Duration::from_secs(2), rx.recv()).await {
        let l = l.trim().to_string();
        if !l.is_empty() {
            last_line = l;
        }
    }
    DemoRun {
        line,
        reported_ms,
        probed,
        stopped,
        last_line,
    }
}

async fn demo(s: &Settings) -> Vec<DemoRun> {
    let mut runs = Vec::new();
    for i in 0..s.demo_runs {
        let r = demo_once(s).await;
        eprintln!("examples bench: demo run {}: {r:?}", i + 1);
        runs.push(r);
    }
    runs
}

// ---------------------------------------------------------------------------
// Report

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

/// Figure 1: (table rows, details).
fn report_throughput(
    s: &Settings,
    (tp, load): &(Throughput, Load),
    commit: &str,
) -> (String, String) {
    let (mut rows, mut details) = (String::new(), String::new());
    let (one, three) = (&tp.one, &tp.three);
    let d1 = one.paired_pct();
    let cpu = |c: &Compare| {
        let (a, b) = (median(&c.a_cpu), median(&c.b_cpu));
        let (sa, sb) = (median(&c.a_srv), median(&c.b_srv));
        format!(
            "CPU per request, median: app {a:.1} vs {b:.1} µs ({:+.1} %), servers {sa:.1} vs {sb:.1} µs",
            (a / b - 1.0) * 100.0
        )
    };
    let _ = writeln!(
        rows,
        "| 1. App throughput, discovery (1 worker registered) vs fixed address of that worker, {} interleaved runs each: median of each discovery run against its neighbouring fixed runs (the machine's drift cancels) | **{:+.1} %** (medians of the runs: discovery {:.0} req/s, fixed {:.0} req/s, {:+.1} %); {} | within {} % | {} | {} | {commit} |",
        one.a.len(),
        d1,
        median(&one.a),
        median(&one.b),
        one.diff_pct(),
        cpu(one),
        THROUGHPUT_TARGET_PCT,
        yes_no(d1.abs() <= THROUGHPUT_TARGET_PCT),
        load.cell()
    );
    let _ = writeln!(
        rows,
        "| 1b. App throughput, discovery over 3 workers vs the same fixed worker; interleaved | discovery {:.0} req/s, fixed {:.0} req/s: {:+.1} % (paired {:+.1} %); {} | (reported) | | {} | {commit} |",
        median(&three.a),
        median(&three.b),
        three.diff_pct(),
        three.paired_pct(),
        cpu(three),
        load.cell()
    );
    let (pa, pb) = tp.prep;
    let _ = writeln!(
        rows,
        "| 1c. URL work per request before the request goes to reqwest, one task, no network ({PREP_ITERATIONS} each) | discovery (`Discovery::url`: parse `http://worker/…`, look up, pick, rewrite) {pa:.2} µs, fixed (parse `http://127.0.0.1:port/…`) {pb:.2} µs | (reported) | | {} | {commit} |",
        load.cell()
    );
    let _ = writeln!(
        details,
        "**1.** `app::throughput`, {} rounds per run, {} concurrent callers, in the bench process; a round is 2 HTTP GETs (the sensor's reading, a worker's square), so req/s = 2 × rounds/s. \
         A = `Target::discovery` (dcy's HTTP client: resolve `sensor` and `worker` by name, pick, rewrite), B = `Target::fixed` (the sensor's and worker #1's `host:port`); both use `app::http_client()`. Order A, B, A, B, ... ({} each). \
         CPU per request is from `/proc/<pid>/stat` (10 ms ticks) over each run: the app is the bench process; the servers are devagent, the sensor and the workers. The settings of this run: EXAMPLES_BENCH_RUN_SECS={}.\n",
        tp.rounds, tp.concurrency, s.runs, s.run_secs
    );
    for (label, c) in [("1 worker", one), ("3 workers", three)] {
        let _ = writeln!(
            details,
            "- {label}, A (discovery): req/s {}; app CPU µs/req {}; servers CPU µs/req {}",
            list(&c.a, 0),
            list(&c.a_cpu, 1),
            list(&c.a_srv, 1)
        );
        let _ = writeln!(
            details,
            "- {label}, B (fixed): req/s {}; app CPU µs/req {}; servers CPU µs/req {}",
            list(&c.b, 0),
            list(&c.b_cpu, 1),
            list(&c.b_srv, 1)
        );
    }
    (rows, details)
}

/// Figure 2: (table rows, details).
fn report_failover((fo, load): &(Vec<Trial>, Load), commit: &str) -> (String, String) {
    let (mut rows, mut details) = (String::new(), String::new());
    let failed: u64 = fo.iter().map(|t| t.failed + t.wrong).sum();
    let ok: u64 = fo.iter().map(|t| t.ok).sum();
    let _ = writeln!(
        rows,
        "| 2a. Failover: failed (or wrong) app rounds, {} SIGKILLs of 1 of 3 workers under load | {failed} of {} rounds | 0 | {} | {} | {commit} |",
        fo.len(),
        ok + failed,
        yes_no(failed == 0),
        load.cell()
    );
    let drops: Vec<f64> = fo.iter().filter_map(|t| t.dropped.map(millis)).collect();
    let all_dropped = drops.len() == fo.len();
    let drop_max = max(&drops);
    let _ = writeln!(
        rows,
        "| 2b. Failover: kill → discovery dropped the dead worker, median / max | {:.0} ms / {:.0} ms{} | ≤ 1 check interval ({} ms) | {} | {} | {commit} |",
        median(&drops),
        drop_max,
        if all_dropped { String::new() } else { format!(" ({} of {} never dropped)", fo.len() - drops.len(), fo.len()) },
        CHECK_INTERVAL.as_millis(),
        yes_no(all_dropped && drop_max <= millis(CHECK_INTERVAL)),
        load.cell()
    );
    let retries: usize = fo.iter().map(|t| t.retries).sum();
    let last: Vec<f64> = fo.iter().filter_map(|t| t.retry_last.map(millis)).collect();
    let window = if last.is_empty() {
        "no retries".to_string()
    } else {
        format!(
            "{retries} retries in all; kill → last retry median {:.1} ms, max {:.1} ms",
            median(&last),
            max(&last)
        )
    };
    let _ = writeln!(
        rows,
        "| 2c. Failover: window in which requests needed a retry | {window} | ≤ 1 check interval ({} ms) | {} | {} | {commit} |",
        CHECK_INTERVAL.as_millis(),
        yes_no(last.iter().all(|l| *l <= millis(CHECK_INTERVAL))),
        load.cell()
    );
    let _ = writeln!(
        details,
        "**2.** The app's `drive` in the bench process, {DRIVE_CONCURRENCY} callers, {} ms pause (as the demo runs it), `Target::discovery`; each trial: three healthy workers, SIGKILL one, wait until discovery drops it, {} s more, then a replacement worker. \
         Retries are dcy::http's `retrying on another instance` events; a failed round is one that failed after dcy's retries.\n",
        DRIVE_INTERVAL.as_millis(),
        SETTLE.as_secs()
    );
    let _ = writeln!(details, "| Kill | Dropped after | Retries | Kill → first / last retry | Failed | Rounds ok in the trial | Retry errors |");
    let _ = writeln!(details, "|---|---|---|---|---|---|---|");
    for (i, t) in fo.iter().enumerate() {
        let o = |d: Option<Duration>| d.map_or("-".to_string(), |d| ms_to(d, 1));
        // The request URLs differ only in n: keep the kind of error.
        let errors: Vec<String> = t
            .retry_errors
            .iter()
            .map(|e| {
                e.split_once(": ")
                    .map_or(e.as_str(), |(_, r)| r)
                    .to_string()
            })
            .collect::<std::collections::BTreeSet<_>>()
            .into_iter()
            .collect();
        let _ = writeln!(
            details,
            "| {} | {} | {} | {} / {} | {} | {} in {:.1} s | {} |",
            i + 1,
            o(t.dropped),
            t.retries,
            o(t.retry_first),
            o(t.retry_last),
            t.failed + t.wrong,
            t.ok,
            t.trial_time.as_secs_f64(),
            errors.join("; ").replace('|', "/")
        );
    }
    let failures: Vec<&String> = fo.iter().flat_map(|t| &t.failure_texts).collect();
    if !failures.is_empty() {
        let _ = writeln!(details, "\nFailed rounds: {failures:?}");
    }
    (rows, details)
}

/// Figure 3: (table rows, details).
fn report_demo((dm, load): &(Vec<DemoRun>, Load), commit: &str) -> (String, String) {
    let (mut rows, mut details) = (String::new(), String::new());
    let lines: Vec<f64> = dm.iter().map(|r| millis(r.line)).collect();
    let _ = writeln!(
        rows,
        "| 3. Demo: command → `every service passing` line, median / max of {} | {:.0} ms / {:.0} ms | ≤ {} ms | {} | {} | {commit} |",
        dm.len(),
        median(&lines),
        max(&lines),
        DEMO_TARGET.as_millis(),
        yes_no(max(&lines) <= millis(DEMO_TARGET)),
        load.cell()
    );
    let probed: Vec<f64> = dm.iter().filter_map(|r| r.probed.map(millis)).collect();
    let _ = writeln!(
        rows,
        "| 3b. Demo: command → every service's check has actually run and passes, median / max | {:.0} ms / {:.0} ms{} | (reported) | | {} | {commit} |",
        median(&probed),
        max(&probed),
        if probed.len() == dm.len() { String::new() } else { format!(" ({} of {} never)", dm.len() - probed.len(), dm.len()) },
        load.cell()
    );
    let _ = writeln!(
        details,
        "**3.** `demo --http-port 0 --dns-port 0 --nginx-port 0 --dir <tmp>` (2 workers; nginx {}), then `q` and end of input on stdin. \
         \"Line\" is spawn → the `every service passing` line; the demo counts a service as passing as soon as it is registered (initial status passing). \
         \"Checks ran\" is spawn → every service check (sensor, 2 workers, app, dashboard) has an HTTP result and passes (the agent staggers each check's first run within its interval).\n",
        if Path::new("/usr/sbin/nginx").exists() || Path::new("/usr/bin/nginx").exists() {
            "installed, so started"
        } else {
            "not installed"
        }
    );
    let _ = writeln!(
        details,
        "| Run | Line | Demo says | Checks ran | `q` → exit | Last line |"
    );
    let _ = writeln!(details, "|---|---|---|---|---|---|");
    for (i, r) in dm.iter().enumerate() {
        let o = |d: Option<Duration>| d.map_or("-".to_string(), |d| ms_to(d, 0));
        let _ = writeln!(
            details,
            "| {} | {:.0} ms | {} | {} | {} | {} |",
            i + 1,
            millis(r.line),
            r.reported_ms.map_or("-".into(), |v| format!("{v} ms")),
            o(r.probed),
            o(r.stopped),
            r.last_line
        );
    }
    (rows, details)
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
