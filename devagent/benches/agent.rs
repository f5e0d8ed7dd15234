//! Performance figures of the `devagent` binary, run as a separate process so
//! that its memory can be read from `/proc/<pid>/status`:
//!
//! * start to serving: spawn → the `devagent listening` line, and spawn → the
//!   first `200` of `GET /v1/status/leader` (fresh connection every 1 ms), 20 times;
//! * 10,000 concurrent blocking KV queries (9,900 on keys nobody writes, 100
//!   on keys that are then written one at a time): the agent's RSS while they
//!   all wait, how soon a write wakes its waiter, and that nobody else wakes.
//!
//! Run it with `benches/devagent-blocking.sh`, which raises the open-file
//! limit before `cargo bench -p devagent --bench agent`. The results are
//! printed as Markdown and written to `benches/results/devagent-agent.md`
//! at the workspace root.
//!
//! The HTTP client is written by hand over `TcpStream` (request line and
//! headers out, read until the response head is complete) so that 10,000
//! waiting connections cost the bench process little.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::net::SocketAddr;
use std::os::unix::process::ExitStatusExt as _;
use std::path::Path;
use std::process::ExitCode;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use testkit::bench::{self, err, mib, ms, percentile, within, yes_no, Memory, Result};
use tokio::io::{AsyncReadExt, AsyncWriteExt, BufReader, Lines};
use tokio::net::TcpStream;
use tokio::process::{Child, ChildStdout, Command};
use tokio::sync::{mpsc, Semaphore};

const BIN: &str = env!("CARGO_BIN_EXE_devagent");
const RESULTS: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../benches/results/devagent-agent.md"
);

/// Agent starts measured.
const STARTS: usize = 20;
/// Blocking queries on keys that are never written.
const IDLE: usize = 9_900;
/// Blocking queries on keys written during the bench.
const HOT: usize = 100;
const WAITERS: usize = IDLE + HOT;
/// Connections being opened at once (keeps the agent's accept backlog short).
const CONNECTS_IN_FLIGHT: usize = 128;
/// The `wait` of every blocking query; the checks must end well before it.
const BLOCK_WAIT_SECS: u64 = 60;
/// How long getting every query to wait may take (leaves time for the checks).
const SETUP_LIMIT: Duration = Duration::from_secs(45);

const START_TARGET: Duration = Duration::from_millis(50);
const RSS_TARGET_MIB: f64 = 150.0;
const WAKE_P99_TARGET: Duration = Duration::from_millis(10);

/// Turns the per-client connection limit off (`limits.http_max_conns_per_client`).
const UNLIMITED_CLIENT: [&str; 2] = ["-hcl", "limits { http_max_conns_per_client = 0 }"];

/// Bound of every single network operation of the bench.
const IO_TIMEOUT: Duration = Duration::from_secs(10);

fn main() -> ExitCode {
    bench::run_main("agent", tokio::runtime::Builder::new_multi_thread(), run())
}

async fn run() -> Result<()> {
    eprintln!("agent bench: binary {BIN}");
    let starts = start_bench().await?;
    let blocking = blocking_bench().await?;
    let table = report(&starts, &blocking);
    println!("\n{table}");
    let path = Path::new(RESULTS);
    bench::write_results(path, &table)?;
    eprintln!("agent bench: wrote {}", path.display());
    Ok(())
}

// ---------------------------------------------------------------------------
// The agent process

/// A running `devagent agent -dev` child process.
struct Agent {
    child: Child,
    pid: u32,
    http: SocketAddr,
    spawned: Instant,
    /// From spawn to the `devagent listening` line.
    line_after: Duration,
    /// Kept open: the agent must not see a closed stdout.
    _stdout: Lines<BufReader<ChildStdout>>,
}

impl Agent {
    async fn spawn() -> Result<Agent> {
        // 10,000 waiting queries from one client: over Consul's default of
        // 200 connections per client, raised as it would be on Consul.
        let d =
            bench::spawn_devagent_with(Path::new(BIN), 0, IO_TIMEOUT, &UNLIMITED_CLIENT).await?;
        Ok(Agent {
            child: d.child,
            pid: d.pid,
            http: d.http,
            spawned: d.spawned,
            line_after: d.listening_after,
            _stdout: d.stdout,
        })
    }

    /// Polls `GET /v1/status/leader` on a fresh connection every 1 ms until it
    /// answers 200; returns the time since spawn.
    async fn ready(&self) -> Result<Duration> {
        let mut last = String::from("no attempt");
        // At most 10,000 attempts of at most ~1 s each; normally the first succeeds.
        for _ in 0..10_000 {
            if self.spawned.elapsed() > IO_TIMEOUT {
                break;
            }
            let probe = within(Duration::from_secs(1), "GET /v1/status/leader", async {
                let mut conn = Conn::open(self.http).await?;
                conn.request("GET", "/v1/status/leader", b"").await
            })
            .await;
            match probe {
                Ok((head, _)) if head.status == 200 => return Ok(self.spawned.elapsed()),
                Ok((head, _)) => last = format!("status {}", head.status),
                Err(e) => last = e.to_string(),
            }
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        Err(err(format!(
            "the agent did not serve /v1/status/leader within {IO_TIMEOUT:?}: {last}"
        )))
    }

    fn rss(&self) -> Result<Memory> {
        Ok(Memory::of(Some(self.pid))?)
    }

    /// Sends SIGTERM and waits for the agent to exit.
    ///
    /// A SIGTERM that lands before the agent has installed its handler
    /// kills it instead (`clean: false`); any other exit is an error.
    async fn stop(mut self) -> Result<Stopped> {
        let asked = Instant::now();
        let kill = Command::new("kill")
            .args(["-TERM", &self.pid.to_string()])
            .status()
            .await
            .map_err(|e| err(format!("running kill: {e}")))?;
        if !kill.success() {
            return Err(err(format!("kill -TERM {} failed: {kill}", self.pid)));
        }
        let limit = Duration::from_secs(30);
        let status = tokio::time::timeout(limit, self.child.wait())
            .await
            .map_err(|_| {
                err(format!(
                    "the agent did not exit within {limit:?} of SIGTERM"
                ))
            })?
            .map_err(|e| err(format!("waiting for the agent: {e}")))?;
        let after = asked.elapsed();
        match (status.success(), status.signal()) {
            (true, _) => Ok(Stopped { after, clean: true }),
            (false, Some(SIGTERM)) => Ok(Stopped {
                after,
                clean: false,
            }),
            _ => Err(err(format!("the agent exited with {status} after SIGTERM"))),
        }
    }
}

const SIGTERM: i32 = 15;

/// How the agent stopped after SIGTERM.
#[derive(Clone, Copy, Debug)]
struct Stopped {
    after: Duration,
    /// Exited with status 0 (rather than being killed by the signal).
    clean: bool,
}

// ---------------------------------------------------------------------------
// A minimal HTTP/1.1 client

/// The parts of a response head the bench looks at.
#[derive(Debug)]
struct Head {
    status: u16,
    content_length: Option<usize>,
    consul_index: Option<u64>,
}

const MAX_HEAD: usize = 16 * 1024;
const MAX_BODY: usize = 16 * 1024 * 1024;

fn parse_head(raw: &[u8]) -> Result<Head> {
    let text = std::str::from_utf8(raw).map_err(|_| err("response head is not UTF-8"))?;
    let mut lines = text.split("\r\n");
    let status_line = lines.next().unwrap_or_default();
    let status = status_line
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| err(format!("bad status line {status_line:?}")))?;
    let mut head = Head {
        status,
        content_length: None,
        consul_index: None,
    };
    for line in lines {
        let Some((name, value)) = line.split_once(':') else {
            continue;
        };
        let value = value.trim();
        if name.eq_ignore_ascii_case("content-length") {
            head.content_length = value.parse().ok();
        } else if name.eq_ignore_ascii_case("x-consul-index") {
            head.consul_index = value.parse().ok();
        }
    }
    Ok(head)
}

/// Reads from `stream` into `buf` until the response head is complete;
/// returns it and the number of bytes of `buf` it took.
async fn read_head(stream: &mut TcpStream, buf: &mut Vec<u8>) -> Result<(Head, usize)> {
    // Every round reads at least one byte, and `buf` is bounded.
    loop {
        if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            return Ok((parse_head(&buf[..end])?, end + 4));
        }
        if buf.len() > MAX_HEAD {
            return Err(err(format!("response head over {MAX_HEAD} bytes")));
        }
        if stream.read_buf(buf).await? == 0 {
            return Err(err(
                "connection closed before the response head was complete",
            ));
        }
    }
}

fn request_bytes(method: &str, path: &str, host: SocketAddr, body: &[u8]) -> Vec<u8> {
    let mut req = format!(
        "{method} {path} HTTP/1.1\r\nHost: {host}\r\nContent-Length: {}\r\n\r\n",
        body.len()
    )
    .into_bytes();
    req.extend_from_slice(body);
    req
}

/// A keep-alive connection for one request at a time.
struct Conn {
    stream: TcpStream,
    host: SocketAddr,
    buf: Vec<u8>,
}

impl Conn {
    async fn open(addr: SocketAddr) -> Result<Conn> {
        let stream = within(IO_TIMEOUT, "connecting", async {
            Ok(TcpStream::connect(addr).await?)
        })
        .await?;
        stream.set_nodelay(true)?;
        Ok(Conn {
            stream,
            host: addr,
            buf: Vec::with_capacity(4096),
        })
    }

    async fn send(&mut self, method: &str, path: &str, body: &[u8]) -> Result<()> {
        let req = request_bytes(method, path, self.host, body);
        self.stream
            .write_all(&req)
            .await
            .map_err(|e| err(format!("sending {method} {path}: {e}")))
    }

    /// Reads one response (head and `Content-Length` body).
    async fn response(&mut self) -> Result<(Head, Vec<u8>)> {
        let (head, used) = read_head(&mut self.stream, &mut self.buf).await?;
        let len = match head.content_length {
            Some(n) if n <= MAX_BODY => n,
            Some(n) => return Err(err(format!("response body of {n} bytes is too large"))),
            None if matches!(head.status, 204 | 304) => 0,
            None => return Err(err("response without Content-Length")),
        };
        // Every round reads at least one byte, up to `len`.
        while self.buf.len() < used + len {
            if self.stream.read_buf(&mut self.buf).await? == 0 {
                return Err(err("connection closed in the middle of a response body"));
            }
        }
        let body = self.buf[used..used + len].to_vec();
        self.buf.drain(..used + len);
        Ok((head, body))
    }

    async fn request(&mut self, method: &str, path: &str, body: &[u8]) -> Result<(Head, Vec<u8>)> {
        let what = format!("{method} {path}");
        within(IO_TIMEOUT, &what, async {
            self.send(method, path, body).await?;
            self.response().await
        })
        .await
    }

    /// The `devagent_blocking_queries` gauge of `GET /metrics`.
    async fn blocking_gauge(&mut self) -> Result<u64> {
        let (head, body) = self.request("GET", "/metrics", b"").await?;
        if head.status != 200 {
            return Err(err(format!("GET /metrics: status {}", head.status)));
        }
        bench::metric(&String::from_utf8_lossy(&body), "devagent_blocking_queries")
            .and_then(|v| u64::try_from(v).ok())
            .ok_or_else(|| err("no devagent_blocking_queries in /metrics"))
    }
}

// ---------------------------------------------------------------------------
// Start to serving

struct StartSample {
    line: Duration,
    ready: Duration,
    rss: Memory,
    stop: Stopped,
}

async fn start_bench() -> Result<Vec<StartSample>> {
    eprintln!("agent bench: starting the agent {STARTS} times");
    let mut samples = Vec::with_capacity(STARTS);
    for _ in 0..STARTS {
        let agent = Agent::spawn().await?;
        let ready = agent.ready().await?;
        let rss = agent.rss()?;
        let line = agent.line_after;
        let stop = agent.stop().await?;
        samples.push(StartSample {
            line,
            ready,
            rss,
            stop,
        });
    }
    Ok(samples)
}

// ---------------------------------------------------------------------------
// 10,000 blocking queries

/// A waiting query got its response (or failed).
struct Arrival {
    waiter: usize,
    at: Instant,
    result: Result<Head>,
}

struct BlockingResult {
    all_waiting_after: Duration,
    rss_before: Memory,
    rss_waiting: Memory,
    bench_rss_waiting: Option<Memory>,
    /// Waiter response after the PUT response was read (0 when it came first).
    wake_after_put: Vec<Duration>,
    /// How many waiter responses came before their PUT's response.
    woke_before_put_returned: usize,
    /// From sending the PUT to the waiter's response.
    wake_after_send: Vec<Duration>,
    put_round_trip: Vec<Duration>,
    hot_answered: usize,
    others_answered: usize,
    gauge_after: u64,
    checked_after: Duration,
    stop: Duration,
    idle_answered_at_stop: usize,
}

fn key_of(waiter: usize) -> String {
    if waiter < IDLE {
        format!("idle/{waiter}")
    } else {
        format!("hot/{}", waiter - IDLE)
    }
}

/// Paces the opening of the waiting connections and counts them.
struct Opening {
    permits: Semaphore,
    sent: AtomicUsize,
}

/// One blocking query: connect, send, wait for the response head.
async fn wait_once(
    addr: SocketAddr,
    path: String,
    opening: Arc<Opening>,
) -> Result<(Head, Instant)> {
    let mut stream = {
        let _permit = opening
            .permits
            .acquire()
            .await
            .map_err(|_| err("connection permits closed"))?;
        let mut stream = within(IO_TIMEOUT, "connecting a waiter", async {
            Ok(TcpStream::connect(addr).await?)
        })
        .await?;
        stream.set_nodelay(true)?;
        let req = request_bytes("GET", &path, addr, b"");
        within(IO_TIMEOUT, "sending a blocking query", async {
            Ok(stream.write_all(&req).await?)
        })
        .await?;
        opening.sent.fetch_add(1, Ordering::Relaxed);
        stream
    };
    let mut buf = Vec::with_capacity(512);
    // Longer than the query's wait plus Consul's jitter (wait / 16).
    let limit = Duration::from_secs(2 * BLOCK_WAIT_SECS);
    let (head, _) = within(limit, "waiting for a blocking query", async {
        read_head(&mut stream, &mut buf).await
    })
    .await?;
    Ok((head, Instant::now()))
}

async fn waiter(
    waiter: usize,
    addr: SocketAddr,
    index: u64,
    opening: Arc<Opening>,
    tx: mpsc::UnboundedSender<Arrival>,
) {
    let path = format!(
        "/v1/kv/{}?index={index}&wait={BLOCK_WAIT_SECS}s",
        key_of(waiter)
    );
    let (result, at) = match wait_once(addr, path, opening).await {
        Ok((head, at)) => (Ok(head), at),
        Err(e) => (Err(e), Instant::now()),
    };
    // The receiver is gone only when the bench has already failed.
    let _ = tx.send(Arrival { waiter, at, result });
}

/// Waits for the response of `want`, keeping any other that comes first.
async fn arrival_of(
    rx: &mut mpsc::UnboundedReceiver<Arrival>,
    early: &mut HashMap<usize, Arrival>,
    want: usize,
) -> Result<Arrival> {
    if let Some(a) = early.remove(&want) {
        return Ok(a);
    }
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    // Bounded by the deadline and by the channel, which ends after WAITERS arrivals.
    loop {
        let a = tokio::time::timeout_at(deadline, rx.recv())
            .await
            .map_err(|_| {
                err(format!(
                    "{} was not answered within 5 s of its PUT",
                    key_of(want)
                ))
            })?
            .ok_or_else(|| err("every waiter ended before the PUTs were done"))?;
        if a.waiter == want {
            return Ok(a);
        }
        early.insert(a.waiter, a);
    }
}

async fn blocking_bench() -> Result<BlockingResult> {
    let limit = bench::open_file_limit()
        .ok_or_else(|| err("no \"Max open files\" in /proc/self/limits"))?;
    let needed = (WAITERS + 256) as u64;
    if limit < needed {
        return Err(err(format!(
            "the open-file limit is {limit}, the blocking bench needs {needed}: \
             run benches/devagent-blocking.sh (it raises `ulimit -n`)"
        )));
    }
    eprintln!("agent bench: {WAITERS} blocking queries (open-file limit {limit})");
    let agent = Agent::spawn().await?;
    agent.ready().await?;
    let addr = agent.http;
    let mut ctl = Conn::open(addr).await?;
    let (head, _) = ctl.request("GET", "/v1/kv/idle/0", b"").await?;
    if head.status != 404 {
        return Err(err(format!(
            "GET /v1/kv/idle/0: status {}, want 404",
            head.status
        )));
    }
    let index = head
        .consul_index
        .ok_or_else(|| err("GET /v1/kv/idle/0: no X-Consul-Index"))?;
    let rss_before = agent.rss()?;

    let (tx, mut rx) = mpsc::unbounded_channel();
    let opening = Arc::new(Opening {
        permits: Semaphore::new(CONNECTS_IN_FLIGHT),
        sent: AtomicUsize::new(0),
    });
    let opened = Instant::now();
    for i in 0..WAITERS {
        tokio::spawn(waiter(i, addr, index, Arc::clone(&opening), tx.clone()));
    }
    drop(tx);

    // Poll the gauge every 50 ms until they all wait, for at most SETUP_LIMIT.
    let mut gauge = 0;
    for round in 1..=(SETUP_LIMIT.as_millis() / 50) {
        if let Ok(a) = rx.try_recv() {
            let why = match a.result {
                Ok(head) => format!(
                    "answered {} (X-Consul-Index {:?}) {:?} after the first query, before any write",
                    head.status,
                    head.consul_index,
                    a.at - opened
                ),
                Err(e) => e.to_string(),
            };
            return Err(err(format!("{}: {why}", key_of(a.waiter))));
        }
        gauge = ctl.blocking_gauge().await?;
        if gauge >= WAITERS as u64 || opened.elapsed() > SETUP_LIMIT {
            break;
        }
        if round % 40 == 0 {
            eprintln!(
                "agent bench: {} sent, {gauge} waiting after {:.1} s",
                opening.sent.load(Ordering::Relaxed),
                opened.elapsed().as_secs_f64()
            );
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    if gauge != WAITERS as u64 {
        return Err(err(format!(
            "only {gauge} of {WAITERS} blocking queries were waiting after {:?}",
            opened.elapsed()
        )));
    }
    let all_waiting_after = opened.elapsed();
    let rss_waiting = agent.rss()?;
    let bench_rss_waiting = Memory::of(None).ok();
    eprintln!(
        "agent bench: all {WAITERS} waiting after {all_waiting_after:?}; agent RSS {:.1} MiB",
        mib(rss_waiting.rss_kib)
    );

    let mut early = HashMap::new();
    let mut wake_after_put = Vec::with_capacity(HOT);
    let mut wake_after_send = Vec::with_capacity(HOT);
    let mut put_round_trip = Vec::with_capacity(HOT);
    let mut woke_before_put_returned = 0;
    for j in 0..HOT {
        let path = format!("/v1/kv/hot/{j}");
        let sent = Instant::now();
        let (head, body) = ctl.request("PUT", &path, b"hot").await?;
        let returned = Instant::now();
        if head.status != 200 || body != b"true\n" {
            return Err(err(format!(
                "PUT {path}: status {} body {:?}",
                head.status,
                String::from_utf8_lossy(&body)
            )));
        }
        let a = arrival_of(&mut rx, &mut early, IDLE + j).await?;
        let woke = a.result?;
        if woke.status != 200 || woke.consul_index.is_none_or(|i| i <= index) {
            return Err(err(format!(
                "hot/{j} woke with status {} index {:?}, want 200 and an index above {index}",
                woke.status, woke.consul_index
            )));
        }
        if a.at < returned {
            woke_before_put_returned += 1;
        }
        wake_after_put.push(a.at.saturating_duration_since(returned));
        wake_after_send.push(a.at.saturating_duration_since(sent));
        put_round_trip.push(returned - sent);
    }

    // Give a stray wake-up time to show, then check that nothing else answered.
    tokio::time::sleep(Duration::from_millis(200)).await;
    let mut others_answered = early.len();
    while rx.try_recv().is_ok() {
        others_answered += 1;
    }
    let gauge_after = ctl.blocking_gauge().await?;
    let checked_after = opened.elapsed();
    if checked_after >= Duration::from_secs(BLOCK_WAIT_SECS) {
        return Err(err(format!(
            "the checks ended {checked_after:?} after the first query, past its wait of \
             {BLOCK_WAIT_SECS} s: the idle queries may have timed out"
        )));
    }
    drop(ctl);

    // Stopping answers every waiting query.
    let stopped = agent.stop().await?;
    if !stopped.clean {
        return Err(err(
            "the agent was killed by SIGTERM instead of shutting down",
        ));
    }
    let stop = stopped.after;
    let mut idle_answered_at_stop = 0;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    // Bounded by the deadline and by the channel, which ends when every waiter has.
    while let Ok(Some(a)) = tokio::time::timeout_at(deadline, rx.recv()).await {
        if a.waiter < IDLE && a.result.is_ok() {
            idle_answered_at_stop += 1;
        }
    }

    Ok(BlockingResult {
        all_waiting_after,
        rss_before,
        rss_waiting,
        bench_rss_waiting,
        wake_after_put,
        woke_before_put_returned,
        wake_after_send,
        put_round_trip,
        hot_answered: HOT,
        others_answered,
        gauge_after,
        checked_after,
        stop,
        idle_answered_at_stop,
    })
}

// ---------------------------------------------------------------------------
// Report

fn spread(v: &[Duration]) -> String {
    bench::spread(v, 2)
}

/// This machine, and its load when the report is written.
fn machine() -> String {
    format!(
        "{}, 1-minute load average {} at the end",
        bench::machine(),
        bench::load1()
    )
}

/// The commit measured, and whether `devagent/src` had uncommitted changes.
fn source_state() -> String {
    let dir = env!("CARGO_MANIFEST_DIR");
    match (bench::git_head(dir), bench::git_dirty(dir, "src")) {
        (Some(head), Some(false)) => format!("commit {head}"),
        (Some(head), Some(true)) => {
            format!("commit {head} with uncommitted changes in devagent/src")
        }
        _ => "an unknown commit".to_string(),
    }
}

fn report(starts: &[StartSample], b: &BlockingResult) -> String {
    let line: Vec<_> = starts.iter().map(|s| s.line).collect();
    let ready: Vec<_> = starts.iter().map(|s| s.ready).collect();
    let stop: Vec<_> = starts.iter().map(|s| s.stop.after).collect();
    let killed = starts.iter().filter(|s| !s.stop.clean).count();
    let idle_rss = starts.iter().map(|s| s.rss.rss_kib).max().unwrap_or(0);
    let ready_max = percentile(&ready, 100);
    let rss = mib(b.rss_waiting.rss_kib);
    let per_conn =
        (b.rss_waiting.rss_kib.saturating_sub(b.rss_before.rss_kib) * 1024) as f64 / WAITERS as f64;
    let wake_p99 = percentile(&b.wake_after_put, 99);
    let exact = b.hot_answered == HOT && b.others_answered == 0;

    let mut t = String::new();
    let _ = writeln!(t, "# devagent: start-up and blocking-query figures\n");
    let _ = writeln!(
        t,
        "`cargo bench -p devagent --bench agent` (via `benches/devagent-blocking.sh`), \
         release build of devagent at {}, the agent is a separate process. Machine: {}; \
         the bench client and the agent share the cores.\n",
        source_state(),
        machine()
    );
    let _ = writeln!(t, "| Measure | Result | Target | Met |");
    let _ = writeln!(t, "|---|---|---|---|");
    let _ = writeln!(
        t,
        "| Spawn → `listening` line, median / max of {} | {} / {} | | |",
        starts.len(),
        ms(percentile(&line, 50)),
        ms(percentile(&line, 100))
    );
    let _ = writeln!(
        t,
        "| Spawn → first 200 of `/v1/status/leader`, median / max of {} | {} / {} | < 50 ms | {} |",
        starts.len(),
        ms(percentile(&ready, 50)),
        ms(ready_max),
        yes_no(ready_max < START_TARGET)
    );
    let _ = writeln!(
        t,
        "| SIGTERM right after ready → exit, median / max; killed by the signal instead of a clean exit | {} / {}; {killed} of {} | 0 killed | {} |",
        ms(percentile(&stop, 50)),
        ms(percentile(&stop, 100)),
        starts.len(),
        yes_no(killed == 0)
    );
    let _ = writeln!(
        t,
        "| Agent RSS, idle (max over starts) | {:.1} MiB | | |",
        mib(idle_rss)
    );
    let _ = writeln!(
        t,
        "| Time to get {WAITERS} blocking queries waiting ({CONNECTS_IN_FLIGHT} connects in flight) | {:.1} s ({:.0} connections/s) | | |",
        b.all_waiting_after.as_secs_f64(),
        WAITERS as f64 / b.all_waiting_after.as_secs_f64()
    );
    let _ = writeln!(
        t,
        "| Agent RSS with {WAITERS} waiting (VmRSS; peak VmHWM) | {rss:.1} MiB ({:.1} MiB) | < 150 MB | {} |",
        mib(b.rss_waiting.peak_kib),
        yes_no(rss < RSS_TARGET_MIB)
    );
    let _ = writeln!(
        t,
        "| Agent memory per waiting query (RSS growth / {WAITERS}) | {per_conn:.0} bytes | | |"
    );
    let _ = writeln!(
        t,
        "| Wake after the PUT returned, p50 / p99 / max of {HOT} | {} | p99 < 10 ms | {} |",
        spread(&b.wake_after_put),
        yes_no(wake_p99 < WAKE_P99_TARGET)
    );
    let _ = writeln!(
        t,
        "| Wake after the PUT was sent, p50 / p99 / max | {} | | |",
        spread(&b.wake_after_send)
    );
    let _ = writeln!(
        t,
        "| PUT round trip, p50 / p99 / max | {} | | |",
        spread(&b.put_round_trip)
    );
    let _ = writeln!(
        t,
        "| Responses after the {HOT} PUTs | {} hot, {} other | exactly the {HOT} hot | {} |",
        b.hot_answered,
        b.others_answered,
        yes_no(exact)
    );
    let _ = writeln!(
        t,
        "| `devagent_blocking_queries` after the PUTs ({} after the first query) | {} | {IDLE} | {} |",
        ms(b.checked_after),
        b.gauge_after,
        yes_no(b.gauge_after == IDLE as u64)
    );
    let _ = writeln!(
        t,
        "| SIGTERM → exit with {IDLE} waiting; idle queries answered | {}; {} | | |",
        ms(b.stop),
        b.idle_answered_at_stop
    );
    if let Some(m) = b.bench_rss_waiting {
        let _ = writeln!(
            t,
            "\nThe bench process itself held {:.1} MiB with its {WAITERS} client connections.",
            mib(m.rss_kib)
        );
    }
    let _ = writeln!(
        t,
        "\"Wake after the PUT returned\" counts a waiter answered before its PUT's own \
         response as 0 ({} of {HOT} were). Percentiles are nearest-rank.",
        b.woke_before_put_returned
    );
    t
}
