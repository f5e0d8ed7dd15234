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
//! `TEMPLATER_BENCH_BURSTS` (default 5 of each shape), `BENCH_COMMIT`.

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

const TEMPLATER: &str = env!("CARGO_BIN_EXE_templater");
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
        None => Path::new(TEMPLATER)
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
        "templater bench: templater {TEMPLATER}, devagent {}, work dir {} ({})",
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

// ---------------------------------------------------------------------------
// The layout: 1,000 templates over 100 keys

fn key_name(k: usize) -> String {
    format!("bench/k{k:02}")
}

/// The keys template `i` reads: distinct, and `i % 100` among them so every key is read.
fn keys_of(i: usize) -> [usize; KEYS_PER_TEMPLATE] {
    let a = i % DEPS;
    let mut b = (i * 37 + 11) % DEPS;
    if b == a {
        b = (b + 1) % DEPS;
    }
    let mut c = (i * 53 + 29) % DEPS;
    // At most two steps: only a and b are taken.
    for _ in 0..3 {
        if c != a && c != b {
            break;
        }
        c = (c + 1) % DEPS;
    }
    [a, b, c]
}

/// The line of template output that shows key `k` holds `value`.
fn marker(k: usize, value: &str) -> String {
    format!("k{k:02}={value}\n")
}

/// Templates reading each key.
fn users() -> Vec<Vec<usize>> {
    let mut users = vec![Vec::new(); DEPS];
    for i in 0..TEMPLATES {
        for k in keys_of(i) {
            users[k].push(i);
        }
    }
    users
}

struct Layout {
    config: PathBuf,
    out: PathBuf,
}

impl Layout {
    fn dest(&self, i: usize) -> PathBuf {
        self.out.join(format!("t{i:04}.conf"))
    }

    /// Writes the templates and the config file; `command` and `wait` go into every template block
    /// and the top level respectively.
    fn create(dir: &Path, command: Option<&str>, wait: bool) -> Result<Layout> {
        let tmpl = dir.join("tmpl");
        let out = dir.join("out");
        let cfg = dir.join("cfg");
        for d in [&tmpl, &out, &cfg] {
            std::fs::create_dir_all(d)
                .map_err(|e| err(format!("creating {}: {e}", d.display())))?;
        }
        let layout = Layout {
            config: cfg.join("templater.hcl"),
            out,
        };
        let mut hcl = String::new();
        if wait {
            let _ = writeln!(
                hcl,
                "wait {{\n  min = \"{WAIT_MIN}\"\n  max = \"{WAIT_MAX}\"\n}}\n"
            );
        }
        for i in 0..TEMPLATES {
            let src = tmpl.join(format!("t{i:04}.tmpl"));
            let mut text = format!("# template {i}\n");
            for k in keys_of(i) {
                let _ = writeln!(text, "k{k:02}={{{{ key(path=\"{}\") }}}}", key_name(k));
            }
            std::fs::write(&src, text)
                .map_err(|e| err(format!("writing {}: {e}", src.display())))?;
            let _ = writeln!(
                hcl,
                "template {{\n  source = \"{}\"\n  destination = \"{}\"",
                src.display(),
                layout.dest(i).display()
            );
            if let Some(c) = command {
                let _ = writeln!(hcl, "  command = \"{c}\"");
            }
            hcl.push_str("}\n");
        }
        std::fs::write(&layout.config, hcl)
            .map_err(|e| err(format!("writing {}: {e}", layout.config.display())))?;
        Ok(layout)
    }

    /// Whether template `i`'s output shows every key at `value(k)`.
    fn shows(&self, i: usize, value: &dyn Fn(usize) -> String) -> bool {
        let Ok(text) = std::fs::read_to_string(self.dest(i)) else {
            return false;
        };
        keys_of(i)
            .iter()
            .all(|&k| text.contains(&marker(k, &value(k))))
    }

    /// Polls (every 50 ms, at most `limit`) until every output shows `value`.
    async fn wait_all(&self, limit: Duration, value: &dyn Fn(usize) -> String) -> Result<()> {
        let started = Instant::now();
        let mut done = vec![false; TEMPLATES];
        let mut left = TEMPLATES;
        while started.elapsed() < limit {
            for (i, d) in done.iter_mut().enumerate() {
                if !*d && self.shows(i, value) {
                    *d = true;
                    left -= 1;
                }
            }
            if left == 0 {
                return Ok(());
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        Err(err(format!(
            "{left} of {TEMPLATES} outputs in {} did not show the expected values within {limit:?}",
            self.out.display()
        )))
    }
}

// ---------------------------------------------------------------------------
// Scenario 1-3: steady state, one change at a time

struct Steady {
    /// Where the outputs were.
    fs: String,
    startup: Duration,
    agent_blocking: Vec<i64>,
    agent_blocking_end: i64,
    conns: usize,
    conns_end: usize,
    conns_all: usize,
    t_blocking: i64,
    t_deps: i64,
    t_blocking_end: i64,
    users_min: usize,
    users_max: usize,
    changes: usize,
    /// PUT returned → every file reading the key has the new value.
    all: Vec<Duration>,
    /// PUT returned → the first of them.
    first: Vec<Duration>,
    /// PUT sent → every file.
    all_from_send: Vec<Duration>,
    put_rtt: Vec<Duration>,
    /// Files seen updated before the PUT's response arrived.
    before_put_returned: usize,
    /// Files found updated without an inotify event (read after a 10 ms lull).
    missed_events: usize,
    mem_start: Memory,
    mem_early: Memory,
    mem_end: Memory,
    idle_ticks: u64,
    busy_ticks: u64,
    busy_wall: Duration,
    t_writes: i64,
    t_renders: i64,
    log_problems: usize,
}

async fn steady_bench(
    agent: &Agent,
    kv: &Kv,
    http: &reqwest::Client,
    dir: &Path,
    changes: usize,
    idle: bool,
) -> Result<Steady> {
    for k in 0..DEPS {
        kv.put(k, "init").await?;
    }
    let layout = Layout::create(&dir.join("steady"), None, false)?;
    let users = users();
    let spawned = Instant::now();
    let t = Templater::spawn(&layout.config, agent.http).await?;
    layout
        .wait_all(STARTUP_TIMEOUT, &|_| "init".to_string())
        .await?;
    let startup = spawned.elapsed();
    eprintln!("templater bench: 1,000 templates rendered {startup:?} after spawn");

    // Figure 1: the blocking queries once the watches settle (bounded wait for 100).
    let mut agent_blocking = Vec::new();
    for _ in 0..100 {
        if agent.gauge(http, "devagent_blocking_queries").await? == DEPS as i64 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    for _ in 0..5 {
        agent_blocking.push(agent.gauge(http, "devagent_blocking_queries").await?);
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let conns = connections(t.pid, agent.http.port())?;
    let conns_all = connections_all(t.pid)?;
    let metrics = t.metrics(http).await?;
    let t_blocking = metric(&metrics, "templater_blocking_queries")?;
    let t_deps = metric(&metrics, "templater_dependencies")?;
    let mem_start = Memory::of(Some(t.pid))?;

    // Figures 2-3: one change at a time.
    let names: HashMap<OsString, usize> = (0..TEMPLATES)
        .filter_map(|i| Some((layout.dest(i).file_name()?.to_os_string(), i)))
        .collect();
    let mut watch = OutWatch::start(&layout.out, names)?;
    let mut all = Vec::with_capacity(changes);
    let mut first = Vec::with_capacity(changes);
    let mut all_from_send = Vec::with_capacity(changes);
    let mut put_rtt = Vec::with_capacity(changes);
    let mut before_put_returned = 0;
    let mut missed_events = 0;
    let mut mem_early = mem_start;
    let ticks_before = bench::cpu_ticks(Some(t.pid))?;
    let busy_started = Instant::now();
    for n in 0..changes {
        let k = n % DEPS;
        let value = format!("c{n}");
        let want = marker(k, &value);
        while watch.rx.try_recv().is_ok() {}
        let sent = Instant::now();
        kv.put(k, &value).await?;
        let returned = Instant::now();
        put_rtt.push(returned - sent);
        let mut pending: BTreeSet<usize> = users[k].iter().copied().collect();
        let mut seen: Vec<Instant> = Vec::with_capacity(pending.len());
        let deadline = returned + CHANGE_TIMEOUT;
        // Every round either takes an event or ends (deadline or lull).
        while !pending.is_empty() {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                break;
            }
            // A lull of 10 ms: look at the files themselves, in case inotify overflowed.
            match tokio::time::timeout(left.min(Duration::from_millis(10)), watch.rx.recv()).await {
                Ok(Some((i, at))) => {
                    if pending.contains(&i) && file_has(&layout.dest(i), &want) {
                        pending.remove(&i);
                        seen.push(at);
                    }
                }
                Ok(None) => return Err(err("the inotify watcher stopped")),
                Err(_) => {
                    let now = Instant::now();
                    let found: Vec<usize> = pending
                        .iter()
                        .copied()
                        .filter(|&i| file_has(&layout.dest(i), &want))
                        .collect();
                    for i in found {
                        pending.remove(&i);
                        seen.push(now);
                        missed_events += 1;
                    }
                }
            }
        }
        if !pending.is_empty() {
            return Err(err(format!(
                "change {n} (key {}): {} of {} outputs did not show it within {CHANGE_TIMEOUT:?}, e.g. {}",
                key_name(k),
                pending.len(),
                users[k].len(),
                pending
                    .first()
                    .map(|&i| layout.dest(i).display().to_string())
                    .unwrap_or_default()
            )));
        }
        let (Some(&lo), Some(&hi)) = (seen.iter().min(), seen.iter().max()) else {
            return Err(err(format!("change {n}: no output reads {}", key_name(k))));
        };
        before_put_returned += seen.iter().filter(|&&s| s < returned).count();
        first.push(lo.saturating_duration_since(returned));
        all.push(hi.saturating_duration_since(returned));
        all_from_send.push(hi.saturating_duration_since(sent));
        if n + 1 == EARLY_CHANGES {
            mem_early = Memory::of(Some(t.pid))?;
        }
        if (n + 1) % 1000 == 0 {
            eprintln!(
                "templater bench: {} changes, last {:.1} ms, RSS {:.1} MiB",
                n + 1,
                all[n].as_secs_f64() * 1e3,
                mib(Memory::of(Some(t.pid))?.rss_kib)
            );
        }
    }
    let busy_wall = busy_started.elapsed();
    let busy_ticks = bench::cpu_ticks(Some(t.pid))?.saturating_sub(ticks_before);
    drop(watch);
    let mem_end = Memory::of(Some(t.pid))?;

    // Idle: nothing changes for IDLE.
    let mut idle_ticks = 0;
    if idle {
        tokio::time::sleep(Duration::from_secs(1)).await;
        let before = bench::cpu_ticks(Some(t.pid))?;
        tokio::time::sleep(IDLE).await;
        idle_ticks = bench::cpu_ticks(Some(t.pid))?.saturating_sub(before);
    }

    let agent_blocking_end = agent.gauge(http, "devagent_blocking_queries").await?;
    let conns_end = connections(t.pid, agent.http.port())?;
    let metrics = t.metrics(http).await?;
    let t_blocking_end = metric(&metrics, "templater_blocking_queries")?;
    let t_writes = metric(&metrics, "templater_writes_total")?;
    let t_renders = metric(&metrics, "templater_renders_total")?;
    let log_problems = t.problems.load(Ordering::Relaxed);
    t.stop().await?;
    let counts: Vec<usize> = users.iter().map(Vec::len).collect();
    Ok(Steady {
        fs: fs_type(&layout.out),
        startup,
        agent_blocking,
        agent_blocking_end,
        conns,
        conns_end,
        conns_all,
        t_blocking,
        t_deps,
        t_blocking_end,
        users_min: counts.iter().copied().min().unwrap_or(0),
        users_max: counts.iter().copied().max().unwrap_or(0),
        changes,
        all,
        first,
        all_from_send,
        put_rtt,
        before_put_returned,
        missed_events,
        mem_start,
        mem_early,
        mem_end,
        idle_ticks,
        busy_ticks,
        busy_wall,
        t_writes,
        t_renders,
        log_problems,
    })
}

fn file_has(path: &Path, want: &str) -> bool {
    std::fs::read_to_string(path).is_ok_and(|t| t.contains(want))
}

/// inotify (`IN_MOVED_TO`: templater renames a finished temporary file over
/// the destination) on the output directory, read by a thread of its own:
/// the template index of each destination renamed into place, stamped when
/// the event was read.
struct OutWatch {
    inotify: Arc<Inotify>,
    wd: WatchDescriptor,
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
    rx: mpsc::UnboundedReceiver<(usize, Instant)>,
}

impl OutWatch {
    fn start(dir: &Path, names: HashMap<OsString, usize>) -> Result<OutWatch> {
        let inotify = Arc::new(
            Inotify::init(InitFlags::IN_CLOEXEC)
                .map_err(|e| err(format!("starting inotify: {e}")))?,
        );
        let wd = inotify
            .add_watch(dir, AddWatchFlags::IN_MOVED_TO)
            .map_err(|e| err(format!("watching {}: {e}", dir.display())))?;
        let (tx, rx) = mpsc::unbounded_channel();
        let stop = Arc::new(AtomicBool::new(false));
        let (ino, stop2) = (Arc::clone(&inotify), Arc::clone(&stop));
        // Ends when `stop` is set: dropping the watch wakes the read with IN_IGNORED.
        let thread = std::thread::spawn(move || {
            while !stop2.load(Ordering::Relaxed) {
                let Ok(events) = ino.read_events() else {
                    return;
                };
                let at = Instant::now();
                for ev in events {
                    if let Some(&i) = ev.name.as_ref().and_then(|n| names.get(n)) {
                        if tx.send((i, at)).is_err() {
                            return;
                        }
                    }
                }
            }
        });
        Ok(OutWatch {
            inotify,
            wd,
            stop,
            thread: Some(thread),
            rx,
        })
    }
}

impl Drop for OutWatch {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if self.inotify.rm_watch(self.wd).is_ok() {
            if let Some(t) = self.thread.take() {
                let _ = t.join();
            }
        }
    }
}

// ---------------------------------------------------------------------------
// Scenario 4: one shared command, wait 100ms..500ms, bursts of 100 changes

#[derive(Debug)]
struct Burst {
    spread: bool,
    /// From the first PUT sent to the last PUT returned.
    span: Duration,
    runs: usize,
    /// Start of each command run, after the first PUT was sent.
    run_at: Vec<Duration>,
    /// Template writes the burst caused (templater_writes_total).
    writes: i64,
}

struct Bursts {
    bursts: Vec<Burst>,
    startup_runs: usize,
    log_problems: usize,
}

async fn burst_bench(kv: &Kv, dir: &Path, bursts: usize) -> Result<Bursts> {
    let dir = dir.join("bursts");
    std::fs::create_dir_all(&dir).map_err(|e| err(format!("creating {}: {e}", dir.display())))?;
    let counter = dir.join("command-runs");
    let command = format!("date +%s%N >> {}", counter.display());
    let layout = Layout::create(&dir, Some(&command), true)?;
    let http = &kv.http;
    // Start from the values the steady scenario left: set them all to one known value.
    for k in 0..DEPS {
        kv.put(k, "start").await?;
    }
    let t = Templater::spawn(&layout.config, kv.addr()?).await?;
    layout
        .wait_all(STARTUP_TIMEOUT, &|_| "start".to_string())
        .await?;
    let runs_now = || -> Vec<u128> {
        std::fs::read_to_string(&counter)
            .unwrap_or_default()
            .lines()
            .filter_map(|l| l.trim().parse().ok())
            .collect()
    };
    // Settle: no new command run for 2 × wait.max (bounded at 30 s).
    settle(&runs_now, Duration::from_secs(30)).await;
    let startup_runs = runs_now().len();
    let mut out = Vec::new();
    for b in 0..2 * bursts {
        let spread = b % 2 == 1;
        let value = format!("b{b}");
        let before = runs_now().len();
        let writes_before = metric(&t.metrics(http).await?, "templater_writes_total")?;
        let wall0 = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_err(|e| err(format!("the clock is before 1970: {e}")))?
            .as_nanos();
        let started = Instant::now();
        for k in 0..DEPS {
            if spread {
                let at = started + SPREAD_GAP * k as u32;
                tokio::time::sleep_until(at.into()).await;
            }
            kv.put(k, &value).await?;
        }
        let span = started.elapsed();
        let v = value.clone();
        layout
            .wait_all(Duration::from_secs(20), &move |_| v.clone())
            .await?;
        settle(&runs_now, Duration::from_secs(30)).await;
        let runs = runs_now();
        let run_at: Vec<Duration> = runs[before..]
            .iter()
            .map(|&ns| Duration::from_nanos(ns.saturating_sub(wall0) as u64))
            .collect();
        let writes = metric(&t.metrics(http).await?, "templater_writes_total")? - writes_before;
        eprintln!(
            "templater bench: burst {b} ({}): {} PUTs in {span:?}, {} command run(s) at {:?}, {writes} writes",
            if spread { "spread" } else { "fast" },
            DEPS,
            run_at.len(),
            run_at
        );
        out.push(Burst {
            spread,
            span,
            runs: run_at.len(),
            run_at,
            writes,
        });
    }
    let log_problems = t.problems.load(Ordering::Relaxed);
    t.stop().await?;
    Ok(Bursts {
        bursts: out,
        startup_runs,
        log_problems,
    })
}

/// Waits until `count` has not changed for 2 × wait.max (checked every 50 ms), at most `limit`.
async fn settle(count: &dyn Fn() -> Vec<u128>, limit: Duration) {
    let started = Instant::now();
    let mut last = count().len();
    let mut since = Instant::now();
    while started.elapsed() < limit {
        tokio::time::sleep(Duration::from_millis(50)).await;
        let n = count().len();
        if n != last {
            last = n;
            since = Instant::now();
        } else if since.elapsed() >= 2 * WAIT_MAX_DUR {
            return;
        }
    }
}

// ---------------------------------------------------------------------------
// Processes

/// A `devagent agent -dev` child process.
struct Agent {
    child: Child,
    pid: u32,
    http: SocketAddr,
}

impl Agent {
    async fn spawn(bin: &Path) -> Result<Agent> {
        let d = bench::spawn_devagent(bin, 0, IO_TIMEOUT).await?;
        // Keep reading stdout so the agent never blocks on a full pipe.
        bench::drain(d.stdout);
        Ok(Agent {
            child: d.child,
            pid: d.pid,
            http: d.http,
        })
    }

    async fn gauge(&self, http: &reqwest::Client, name: &str) -> Result<i64> {
        // devagent's Prometheus text (`/v1/agent/metrics` is Consul's JSON form).
        let text = get_text(http, &format!("http://{}/metrics", self.http)).await?;
        metric(&text, name)
    }

    async fn stop(mut self) {
        let _ = nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(self.pid as i32),
            nix::sys::signal::Signal::SIGTERM,
        );
        if tokio::time::timeout(Duration::from_secs(10), self.child.wait())
            .await
            .is_err()
        {
            let _ = self.child.kill().await;
        }
    }
}

async fn get_text(http: &reqwest::Client, url: &str) -> Result<String> {
    let r = http
        .get(url)
        .send()
        .await
        .map_err(|e| err(format!("GET {url}: {e}")))?;
    if !r.status().is_success() {
        return Err(err(format!("GET {url}: status {}", r.status())));
    }
    r.text()
        .await
        .map_err(|e| err(format!("GET {url}: reading the body: {e}")))
}

/// The value of an unlabelled metric in Prometheus/OpenMetrics text.
fn metric(text: &str, name: &str) -> Result<i64> {
    bench::metric(text, name).ok_or_else(|| err(format!("no metric {name} in:\n{text}")))
}

/// The KV store of the agent.
struct Kv {
    http: reqwest::Client,
    base: String,
}

impl Kv {
    async fn put(&self, k: usize, value: &str) -> Result<()> {
        let url = format!("{}/v1/kv/{}", self.base, key_name(k));
        let r = self
            .http
            .put(&url)
            .body(value.to_string())
            .send()
            .await
            .map_err(|e| err(format!("PUT {url}: {e}")))?;
        if !r.status().is_success() {
            return Err(err(format!("PUT {url}: status {}", r.status())));
        }
        // Read the body: the response is complete when this returns.
        r.bytes()
            .await
            .map_err(|e| err(format!("PUT {url}: reading the body: {e}")))?;
        Ok(())
    }

    fn addr(&self) -> Result<SocketAddr> {
        self.base
            .trim_start_matches("http://")
            .parse()
            .map_err(|e| err(format!("bad agent address {}: {e}", self.base)))
    }
}

/// A `templater` child process with its status listener.
struct Templater {
    child: Child,
    pid: u32,
    status: SocketAddr,
    /// Warnings and errors it logged.
    problems: Arc<AtomicUsize>,
}

impl Templater {
    async fn spawn(config: &Path, agent: SocketAddr) -> Result<Templater> {
        let mut child = Command::new(TEMPLATER)
            .args([
                "-config",
                &config.display().to_string(),
                "-consul-addr",
                &agent.to_string(),
                "-status-addr",
                "127.0.0.1:0",
                // The status line is info in `templater`; per-file lines are info in `templater::runner`.
                "-log-level",
                "warn,templater=info,templater::runner=warn,templater::command=warn",
            ])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .map_err(|e| err(format!("spawning {TEMPLATER}: {e}")))?;
        let pid = child.id().ok_or_else(|| err("templater exited at once"))?;
        let stderr = child
            .stderr
            .take()
            .ok_or_else(|| err("templater's stderr is not piped"))?;
        let problems = Arc::new(AtomicUsize::new(0));
        let (tx, rx) = oneshot::channel();
        let p2 = Arc::clone(&problems);
        tokio::spawn(async move {
            let mut tx = Some(tx);
            let mut lines = BufReader::new(stderr).lines();
            while let Ok(Some(line)) = lines.next_line().await {
                if line.contains("status listener") {
                    let addr = line
                        .split_whitespace()
                        .find_map(|w| w.strip_prefix("addr="))
                        .map(str::to_string);
                    if let (Some(tx), Some(a)) = (tx.take(), addr) {
                        let _ = tx.send(a);
                    }
                } else if line.contains("WARN") || line.contains("ERROR") {
                    p2.fetch_add(1, Ordering::Relaxed);
                    eprintln!("templater[{pid}]: {line}");
                }
            }
        });
        let addr = within(IO_TIMEOUT, "templater's status listener line", async {
            rx.await
                .map_err(|_| err("templater exited before logging its status listener"))
        })
        .await?;
        let status = addr
            .parse()
            .map_err(|e| err(format!("bad status address {addr:?}: {e}")))?;
        Ok(Templater {
            child,
            pid,
            status,
            problems,
        })
    }

    async fn metrics(&self, http: &reqwest::Client) -> Result<String> {
        get_text(http, &format!("http://{}/metrics", self.status)).await
    }

    async fn stop(mut self) -> Result<()> {
        let _ = nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(self.pid as i32),
            nix::sys::signal::Signal::SIGTERM,
        );
        match tokio::time::timeout(Duration::from_secs(10), self.child.wait()).await {
            Ok(Ok(s)) if s.success() => Ok(()),
            Ok(Ok(s)) => Err(err(format!("templater exited with {s} after SIGTERM"))),
            Ok(Err(e)) => Err(err(format!("waiting for templater: {e}"))),
            Err(_) => {
                let _ = self.child.kill().await;
                Err(err("templater did not exit within 10 s of SIGTERM"))
            }
        }
    }
}

// ---------------------------------------------------------------------------
// /proc

/// Socket inodes the process holds.
fn socket_inodes(pid: u32) -> Result<BTreeSet<u64>> {
    let dir = format!("/proc/{pid}/fd");
    let mut out = BTreeSet::new();
    for e in std::fs::read_dir(&dir).map_err(|e| err(format!("reading {dir}: {e}")))? {
        let Ok(e) = e else { continue };
        if let Ok(target) = std::fs::read_link(e.path()) {
            let t = target.to_string_lossy();
            if let Some(n) = t
                .strip_prefix("socket:[")
                .and_then(|s| s.strip_suffix(']'))
                .and_then(|s| s.parse().ok())
            {
                out.insert(n);
            }
        }
    }
    Ok(out)
}

/// Established TCP connections of `pid` to `port` (any address), or to any port when `None`.
fn established(pid: u32, port: Option<u16>) -> Result<usize> {
    let inodes = socket_inodes(pid)?;
    let mut n = 0;
    for table in ["tcp", "tcp6"] {
        let path = format!("/proc/{pid}/net/{table}");
        let Ok(text) = std::fs::read_to_string(&path) else {
            continue;
        };
        for line in text.lines().skip(1) {
            let f: Vec<&str> = line.split_whitespace().collect();
            // sl local rem st tx:rx tr:when retrnsmt uid timeout inode
            let (Some(rem), Some(st), Some(inode)) = (f.get(2), f.get(3), f.get(9)) else {
                continue;
            };
            let rem_port = rem
                .rsplit_once(':')
                .and_then(|(_, p)| u16::from_str_radix(p, 16).ok());
            let ours = inode.parse::<u64>().is_ok_and(|i| inodes.contains(&i));
            if *st == "01" && ours && (port.is_none() || rem_port == port) {
                n += 1;
            }
        }
    }
    Ok(n)
}

fn connections(pid: u32, port: u16) -> Result<usize> {
    established(pid, Some(port))
}

fn connections_all(pid: u32) -> Result<usize> {
    established(pid, None)
}

/// The load averages (1/5/15 min).
fn loadavg() -> String {
    bench::loadavg().map_or_else(|e| format!("unknown ({e})"), |l| bench::load_fields(&l, 3))
}

/// The file system type of the mount holding `path`, from `/proc/mounts`.
fn fs_type(path: &Path) -> String {
    let path = std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf());
    let mounts = std::fs::read_to_string("/proc/mounts").unwrap_or_default();
    mounts
        .lines()
        .filter_map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            Some((*f.get(1)?, *f.get(2)?, *f.first()?))
        })
        .filter(|(mnt, _, _)| path.starts_with(mnt))
        .max_by_key(|(mnt, _, _)| mnt.len())
        .map(|(mnt, ty, dev)| format!("{ty} on {dev} at {mnt}"))
        .unwrap_or_else(|| "unknown file system".into())
}

fn commit() -> String {
    if let Ok(c) = std::env::var("BENCH_COMMIT") {
        return c;
    }
    let dir = env!("CARGO_MANIFEST_DIR");
    let head = bench::git_head(dir).unwrap_or_else(|| "unknown".into());
    if bench::git_dirty(dir, ".") == Some(true) {
        format!("{head} + uncommitted changes in templater/")
    } else {
        head
    }
}

// ---------------------------------------------------------------------------
// The report

fn ms(d: Duration) -> String {
    bench::ms_to(d, 1)
}

fn pcts(v: &[Duration]) -> String {
    bench::spread(v, 1)
}

struct Report {
    steady: Steady,
    tmpfs: Option<Steady>,
    bursts: Bursts,
    load_before: String,
    load_after: String,
    fs: String,
    agent_cpu: u64,
}

impl Report {
    fn render(&self) -> String {
        let s = &self.steady;
        let tck = bench::clk_tck();
        let ticks_ms = |t: u64| t as f64 * 1000.0 / tck as f64;
        let mut t = String::new();
        let _ = writeln!(t, "# templater: figures\n");
        let _ = writeln!(
            t,
            "`benches/templater.sh` (`cargo bench -p templater --bench templater`), release builds of \
             templater and devagent at commit {}, each a separate process on 127.0.0.1 (devagent \
             `agent -dev -http-port=0`). Machine: {} cores, shared with other builds; load average \
             (1/5/15 min) {} at the start, {} at the end. Outputs on {}: every write is fsync'd.\n",
            commit(),
            std::thread::available_parallelism().map_or(0, |n| n.get()),
            self.load_before,
            self.load_after,
            self.fs
        );
        let _ = writeln!(
            t,
            "Layout: {TEMPLATES} templates, each reading {KEYS_PER_TEMPLATE} of {DEPS} KV keys \
             (`k07={{{{ key(path=\"bench/k07\") }}}}`); every key is read by {} to {} templates.\n",
            s.users_min, s.users_max
        );
        let _ = writeln!(
            t,
            "| Figure | Measured | Target | Met? |\n|---|---|---|---|"
        );
        let ab = &s.agent_blocking;
        let ab_ok = ab.iter().all(|&v| v == DEPS as i64) && s.agent_blocking_end == DEPS as i64;
        let _ = writeln!(
            t,
            "| 1. Blocking queries open at devagent (`devagent_blocking_queries`), 5 samples after start; after {} changes and 10 s idle | {:?}; {} | exactly {DEPS} | {} |",
            s.changes,
            ab,
            s.agent_blocking_end,
            yes_no(ab_ok)
        );
        let _ = writeln!(
            t,
            "| 1. Established TCP connections templater → devagent (`/proc/<pid>/net/tcp`), after start; at the end | {}; {} | {DEPS} (one per dependency) | {} |",
            s.conns,
            s.conns_end,
            yes_no(s.conns == DEPS && s.conns_end == DEPS)
        );
        let _ = writeln!(
            t,
            "| 1. templater `/metrics`: `templater_dependencies`, `templater_blocking_queries` (at the end) | {}, {} ({}) | {DEPS}, {DEPS} | {} |",
            s.t_deps,
            s.t_blocking,
            s.t_blocking_end,
            yes_no(s.t_deps == DEPS as i64 && s.t_blocking == DEPS as i64 && s.t_blocking_end == DEPS as i64)
        );
        let p99 = percentile(&s.all, 99);
        let _ = writeln!(
            t,
            "| 2. PUT returned → **every** affected file ({}–{} files) has the new value, p50 / p99 / max of {} changes | {} | p99 ≤ {} | {} |",
            s.users_min,
            s.users_max,
            s.changes,
            pcts(&s.all),
            ms(LATENCY_P99_TARGET),
            yes_no(p99 <= LATENCY_P99_TARGET)
        );
        let _ = writeln!(
            t,
            "| 2. PUT returned → the **first** affected file has it, p50 / p99 / max | {} | | |",
            pcts(&s.first)
        );
        let _ = writeln!(
            t,
            "| 2. PUT sent → every affected file, p50 / p99 / max | {} | | |",
            pcts(&s.all_from_send)
        );
        let _ = writeln!(
            t,
            "| 2. PUT round trip, p50 / p99 / max | {} | | |",
            pcts(&s.put_rtt)
        );
        let peak = s.mem_start.peak_kib.max(s.mem_end.peak_kib);
        let _ = writeln!(
            t,
            "| 3. templater RSS after start; after {EARLY_CHANGES} changes; after {} (VmRSS); peak (VmHWM) | {:.1}; {:.1}; {:.1} MiB; {:.1} MiB | < {RSS_TARGET_MIB} MB | {} |",
            s.changes,
            mib(s.mem_start.rss_kib),
            mib(s.mem_early.rss_kib),
            mib(s.mem_end.rss_kib),
            mib(peak),
            yes_no(mib(peak) * 1.048_576 < RSS_TARGET_MIB)
        );
        let growth = s.mem_end.rss_kib as i64 - s.mem_early.rss_kib as i64;
        let _ = writeln!(
            t,
            "| 3. RSS growth from change {EARLY_CHANGES} to change {} | {:+} KiB ({:+.1} %) | none | {} |",
            s.changes,
            growth,
            growth as f64 * 100.0 / s.mem_early.rss_kib.max(1) as f64,
            // Allocator noise below 5 % (or 512 KiB) is not growth.
            yes_no(growth <= (s.mem_early.rss_kib as i64 / 20).max(512))
        );
        let _ = writeln!(
            t,
            "| 3. templater CPU (utime + stime) over {} s idle | {} ticks = {:.0} ms ({:.2} % of one core) | near zero | {} |",
            IDLE.as_secs(),
            s.idle_ticks,
            ticks_ms(s.idle_ticks),
            ticks_ms(s.idle_ticks) / IDLE.as_secs_f64() / 10.0,
            yes_no(ticks_ms(s.idle_ticks) <= IDLE.as_secs_f64() * 1000.0 * 0.005)
        );
        let _ = writeln!(
            t,
            "| 3. templater CPU during the {} changes | {:.1} s over {:.1} s wall ({:.0} % of one core; {:.2} ms per change) | | |",
            s.changes,
            ticks_ms(s.busy_ticks) / 1000.0,
            s.busy_wall.as_secs_f64(),
            ticks_ms(s.busy_ticks) / 10.0 / s.busy_wall.as_secs_f64(),
            ticks_ms(s.busy_ticks) / s.changes as f64
        );
        if let Some(m) = &self.tmpfs {
            let _ = writeln!(
                t,
                "| 2. Same on tmpfs ({}): PUT returned → every affected file, p50 / p99 / max of {} changes | {} | p99 ≤ {} | {} |",
                m.fs,
                m.changes,
                pcts(&m.all),
                ms(LATENCY_P99_TARGET),
                yes_no(percentile(&m.all, 99) <= LATENCY_P99_TARGET)
            );
            let _ = writeln!(
                t,
                "| 2. Same on tmpfs: PUT returned → the first affected file | {} | | |",
                pcts(&m.first)
            );
            let _ = writeln!(
                t,
                "| 3. Same on tmpfs: RSS after start; after {} changes; peak; CPU per change | {:.1}; {:.1} MiB; {:.1} MiB; {:.2} ms | | |",
                m.changes,
                mib(m.mem_start.rss_kib),
                mib(m.mem_end.rss_kib),
                mib(m.mem_start.peak_kib.max(m.mem_end.peak_kib)),
                ticks_ms(m.busy_ticks) / m.changes as f64
            );
        }
        let _ = writeln!(
            t,
            "| 4. Connections per dependency: templater (measured) | {:.2} ({} connections / {} dependencies) | 1 | {} |",
            s.conns as f64 / DEPS as f64,
            s.conns,
            DEPS,
            yes_no(s.conns == DEPS)
        );
        let _ = writeln!(
            t,
            "| 4. Connections per dependency: consul-template (reference, not measured) | 1 per unique dependency by design, de-duplicated across templates in one process (`watch/view.go`, §4.1); observed: 64 templates → 982 TCP connections, 133 right after a restart (#830, #1086, §5.1) | | |"
        );
        let b = &self.bursts;
        for (spread, name) in [(false, "fast"), (true, "spread")] {
            let these: Vec<&Burst> = b.bursts.iter().filter(|x| x.spread == spread).collect();
            let runs: Vec<usize> = these.iter().map(|x| x.runs).collect();
            let spans: Vec<Duration> = these.iter().map(|x| x.span).collect();
            let writes: Vec<i64> = these.iter().map(|x| x.writes).collect();
            let _ = writeln!(
                t,
                "| 4. Command runs per burst of {DEPS} changes ({name}: PUTs over {} – {}), one command shared by all {TEMPLATES} templates, `wait {{ min = \"{WAIT_MIN}\" max = \"{WAIT_MAX}\" }}`; writes per burst | runs {:?}; writes {:?} | 1 per burst | {} |",
                ms(spans.iter().min().copied().unwrap_or_default()),
                ms(spans.iter().max().copied().unwrap_or_default()),
                runs,
                writes,
                yes_no(runs.iter().all(|&r| r == 1))
            );
        }
        let _ = writeln!(
            t,
            "| 4. Command runs per burst: consul-template (reference, not measured) | each template has its own quiescence timer and commands are de-duplicated only within one pass, so a shared command runs several times per burst with `wait` (#1799, #2030 open; §4.3, §5.2) | | |"
        );
        let _ = writeln!(t);
        let _ = writeln!(
            t,
            "- Start: the 1,000 templates were all written {:.2} s after templater was spawned. \
             In the command scenario the command ran {} times while the first render arrived \
             (before any burst).",
            s.startup.as_secs_f64(),
            b.startup_runs
        );
        let _ = writeln!(
            t,
            "- templater rendered {} times and wrote {} files in the steady scenario; it held {} established TCP connections in all (the agent's port and others).",
            s.t_renders, s.t_writes, s.conns_all
        );
        let _ = writeln!(
            t,
            "- Latencies are taken from inotify events stamped on arrival in the bench, each confirmed by reading the file; \
             an update that lands before the PUT's response counts as 0 ({} file updates did). {} updates were found by reading \
             the files after a 10 ms lull with no event (stamped then, so an over-estimate). Percentiles are nearest-rank.",
            s.before_put_returned, s.missed_events
        );
        for x in &b.bursts {
            let _ = writeln!(
                t,
                "- Burst ({}, {} PUTs in {}): command runs started at {:?} after the first PUT; {} writes.",
                if x.spread { "spread" } else { "fast" },
                DEPS,
                ms(x.span),
                x.run_at.iter().map(|d| ms(*d)).collect::<Vec<_>>(),
                x.writes
            );
        }
        let _ = writeln!(
            t,
            "- Warnings or errors logged by templater: {} (steady), {} (command scenario). devagent used {:.1} s of CPU in all.",
            s.log_problems,
            b.log_problems,
            ticks_ms(self.agent_cpu) / 1000.0
        );
        t
    }
}
