//! Writes, wake-ups and scale of the `devagent` binary (issue 18), each
//! against a fresh agent process:
//!
//! 1. writes per second over 16 keep-alive connections for 3 s:
//!    `PUT /v1/kv/bench/<n>` (a new value each time), `PUT
//!    /v1/agent/check/pass/<id>` as TTL heartbeats send it (no change), and
//!    with `?note=<n>` (a change, so a write, each time);
//! 2. 10,000 watchers blocked on one key (`GET /v1/kv/hot?index=`) and
//!    10,000 on one service of 10 instances (`GET
//!    /v1/health/service/web?index=`): the time from sending the write to the
//!    last of them answered, every answer carrying the new index;
//! 3. a catalog of 100,000 instances (`big` with 10,000 instances, then
//!    9,999 services of 9) registered through `/v1/catalog/register` over 16
//!    connections on 1,000 nodes, in 10 batches: the rate and the agent's
//!    RSS per instance after each batch (is growth linear?), then
//!    `GET /v1/health/service/big` (10,000 instances): the first answer
//!    (rendered) and the next ones (cached).
//!
//! `DEVAGENT_BIN` runs another binary (to compare with an older build).
//! Run it with `benches/devagent-scale.sh` (raises the open-file limit).
//! Writes `benches/results/devagent-scale.md` (`SCALE_RESULTS` overrides).

use std::fmt::Write as _;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use testkit::bench::{self, err, mib, ms_to, Memory, Result};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::Semaphore;
use tokio::task::JoinSet;

const BIN: &str = env!("CARGO_BIN_EXE_devagent");
const RESULTS: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../benches/results/devagent-scale.md"
);
const IO_TIMEOUT: Duration = Duration::from_secs(30);
const CONNS: usize = 16;
const WRITE_FOR: Duration = Duration::from_secs(3);
const WATCHERS: usize = 10_000;
const BIG: usize = 10_000;
const SERVICES: usize = 10_000;
const INSTANCES: usize = BIG + (SERVICES - 1) * 9;
const NODES: usize = 1_000;
const BATCHES: usize = 10;
/// Connections per client and in all raised, as one would on Consul for this.
const UNLIMITED: [&str; 2] = ["-hcl", "limits { http_max_conns_per_client = 0 }"];

fn main() -> ExitCode {
    bench::run_main("scale", tokio::runtime::Builder::new_multi_thread(), run())
}

fn binary() -> PathBuf {
    std::env::var_os("DEVAGENT_BIN").map_or_else(|| PathBuf::from(BIN), PathBuf::from)
}

async fn run() -> Result<()> {
    let bin = binary();
    eprintln!("scale bench: binary {}", bin.display());
    let writes = write_rates(&bin).await?;
    let wake = wake_ups(&bin).await?;
    let catalog = big_catalog(&bin).await?;
    let table = report(&bin, &writes, &wake, &catalog);
    println!("\n{table}");
    let path =
        std::env::var_os("SCALE_RESULTS").map_or_else(|| PathBuf::from(RESULTS), PathBuf::from);
    bench::write_results(&path, &table)?;
    eprintln!("scale bench: wrote {}", path.display());
    Ok(())
}

// ---------------------------------------------------------------------------
// A minimal HTTP/1.1 client: one request at a time per connection.

struct Conn {
    stream: TcpStream,
    host: SocketAddr,
    buf: Vec<u8>,
}

/// Status, `X-Consul-Index` and body length of a response.
struct Answer {
    status: u16,
    index: Option<u64>,
    body: Vec<u8>,
}

impl Conn {
    async fn open(host: SocketAddr) -> Result<Conn> {
        let stream = bench::within(IO_TIMEOUT, "connecting", async {
            Ok(TcpStream::connect(host).await?)
        })
        .await?;
        stream.set_nodelay(true)?;
        Ok(Conn {
            stream,
            host,
            buf: Vec::with_capacity(4096),
        })
    }

    async fn send(&mut self, method: &str, path: &str, body: &[u8]) -> Result<()> {
        let mut req = format!(
            "{method} {path} HTTP/1.1\r\nHost: {}\r\nContent-Length: {}\r\n\r\n",
            self.host,
            body.len()
        )
        .into_bytes();
        req.extend_from_slice(body);
        Ok(self.stream.write_all(&req).await?)
    }

    /// Reads one response; bounded by the head and body sizes.
    async fn answer(&mut self) -> Result<Answer> {
        let head_end = loop {
            if let Some(end) = self.buf.windows(4).position(|w| w == b"\r\n\r\n") {
                break end;
            }
            if self.buf.len() > 64 << 10 {
                return Err(err("response head over 64 KiB"));
            }
            if self.stream.read_buf(&mut self.buf).await? == 0 {
                return Err(err("connection closed before a response"));
            }
        };
        let head = String::from_utf8_lossy(&self.buf[..head_end]).to_string();
        let status = head
            .split_whitespace()
            .nth(1)
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| err(format!("bad response head {head:?}")))?;
        let field = |name: &str| {
            head.lines().find_map(|l| {
                let (n, v) = l.split_once(':')?;
                n.eq_ignore_ascii_case(name).then(|| v.trim().to_string())
            })
        };
        let len: usize = field("content-length")
            .and_then(|v| v.parse().ok())
            .ok_or_else(|| err(format!("no Content-Length in {head:?}")))?;
        if len > 256 << 20 {
            return Err(err(format!("a body of {len} bytes")));
        }
        let index = field("x-consul-index").and_then(|v| v.parse().ok());
        let total = head_end + 4 + len;
        while self.buf.len() < total {
            if self.stream.read_buf(&mut self.buf).await? == 0 {
                return Err(err("connection closed in a response body"));
            }
        }
        let body = self.buf[head_end + 4..total].to_vec();
        self.buf.drain(..total);
        Ok(Answer {
            status,
            index,
            body,
        })
    }

    async fn call(&mut self, method: &str, path: &str, body: &[u8]) -> Result<Answer> {
        let what = format!("{method} {path}");
        let a = bench::within(IO_TIMEOUT, &what, async {
            self.send(method, path, body).await?;
            self.answer().await
        })
        .await?;
        if !(200..300).contains(&a.status) {
            return Err(err(format!("{what}: status {}", a.status)));
        }
        Ok(a)
    }
}

async fn spawn(bin: &Path) -> Result<bench::Devagent> {
    bench::spawn_devagent_with(bin, -1, IO_TIMEOUT, &UNLIMITED).await
}

async fn stop(mut d: bench::Devagent) {
    let _ = d.child.start_kill();
    let _ = d.child.wait().await;
}

// ---------------------------------------------------------------------------
// 1. Writes per second

struct WriteRates {
    kv: f64,
    pass: f64,
    pass_note: f64,
}

/// Requests per second of `CONNS` connections sending `path(n)` for `WRITE_FOR`.
async fn rate(
    http: SocketAddr,
    path: impl Fn(usize, usize) -> String + Send + Sync + 'static,
) -> Result<f64> {
    let path = Arc::new(path);
    let done = Arc::new(AtomicUsize::new(0));
    let start = Instant::now();
    let mut set = JoinSet::new();
    for c in 0..CONNS {
        let (path, done) = (Arc::clone(&path), Arc::clone(&done));
        set.spawn(async move {
            let mut conn = Conn::open(http).await?;
            let mut n = 0;
            // Bounded by WRITE_FOR.
            while start.elapsed() < WRITE_FOR {
                conn.call("PUT", &path(c, n), b"v").await?;
                n += 1;
                done.fetch_add(1, Ordering::Relaxed);
            }
            Ok::<_, bench::Error>(())
        });
    }
    while let Some(r) = set.join_next().await {
        r??;
    }
    Ok(done.load(Ordering::Relaxed) as f64 / start.elapsed().as_secs_f64())
}

async fn write_rates(bin: &Path) -> Result<WriteRates> {
    eprintln!("scale bench: writes");
    let d = spawn(bin).await?;
    let mut ctl = Conn::open(d.http).await?;
    for c in 0..CONNS {
        let body = format!(
            r#"{{"Name":"hb","ID":"hb{c}","Port":80,"Check":{{"CheckID":"hb{c}","TTL":"10m","Status":"passing"}}}}"#
        );
        ctl.call("PUT", "/v1/agent/service/register", body.as_bytes())
            .await?;
    }
    let kv = rate(d.http, |c, n| format!("/v1/kv/bench/{c}/{n}")).await?;
    let pass = rate(d.http, |c, _| format!("/v1/agent/check/pass/hb{c}")).await?;
    let pass_note = rate(d.http, |c, n| {
        format!("/v1/agent/check/pass/hb{c}?note={n}")
    })
    .await?;
    stop(d).await;
    Ok(WriteRates {
        kv,
        pass,
        pass_note,
    })
}

// ---------------------------------------------------------------------------
// 2. 10,000 watchers woken by one write

struct Wake {
    what: &'static str,
    setup: Duration,
    /// From sending the write to the last watcher answered.
    last: Duration,
    /// ... to the first.
    first: Duration,
    answered: usize,
    rss_waiting: Memory,
}

/// `WATCHERS` connections blocked on `path` at `index`; then `write`.
async fn wake(
    http: SocketAddr,
    pid: u32,
    what: &'static str,
    path: String,
    write: (&'static str, String, Vec<u8>),
) -> Result<Wake> {
    let mut ctl = Conn::open(http).await?;
    let index = ctl
        .call("GET", &path, b"")
        .await?
        .index
        .ok_or_else(|| err(format!("{path}: no X-Consul-Index")))?;
    let blocking = format!(
        "{path}{}index={index}&wait=120s",
        if path.contains('?') { '&' } else { '?' }
    );
    let opening = Arc::new(Semaphore::new(128));
    let sent = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    for _ in 0..WATCHERS {
        let (opening, sent, tx, blocking) = (
            Arc::clone(&opening),
            Arc::clone(&sent),
            tx.clone(),
            blocking.clone(),
        );
        tokio::spawn(async move {
            let result = async {
                let mut conn = {
                    let _permit = opening.acquire().await.map_err(|_| err("closed"))?;
                    let mut conn = Conn::open(http).await?;
                    conn.send("GET", &blocking, b"").await?;
                    sent.fetch_add(1, Ordering::Relaxed);
                    conn
                };
                let a = bench::within(Duration::from_secs(150), "a watcher", conn.answer()).await?;
                Ok::<_, bench::Error>((a.index.unwrap_or(0), Instant::now()))
            }
            .await;
            let _ = tx.send(result);
        });
    }
    drop(tx);
    // Every watcher sent its query, and the agent counts them all waiting.
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let gauge = ctl.call("GET", "/metrics", b"").await?;
        let waiting = bench::metric(
            &String::from_utf8_lossy(&gauge.body),
            "devagent_blocking_queries",
        )
        .unwrap_or(0);
        if sent.load(Ordering::Relaxed) == WATCHERS && waiting >= WATCHERS as i64 {
            break;
        }
        if Instant::now() > deadline {
            return Err(err(format!(
                "{what}: only {waiting} of {WATCHERS} watchers waiting after 60 s"
            )));
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let setup = started.elapsed();
    let rss_waiting = Memory::of(Some(pid))?;
    let (method, wpath, body) = write;
    let sent_at = Instant::now();
    ctl.call(method, &wpath, &body).await?;
    let (mut first, mut last, mut answered) = (Duration::MAX, Duration::ZERO, 0);
    // The channel ends when every watcher task has sent its result.
    while let Some(r) = rx.recv().await {
        let (got, at) = r?;
        if got <= index {
            return Err(err(format!(
                "{what}: a watcher answered with index {got}, not past {index}"
            )));
        }
        let after = at.saturating_duration_since(sent_at);
        first = first.min(after);
        last = last.max(after);
        answered += 1;
    }
    Ok(Wake {
        what,
        setup,
        last,
        first,
        answered,
        rss_waiting,
    })
}

async fn wake_ups(bin: &Path) -> Result<Vec<Wake>> {
    let limit = bench::open_file_limit().unwrap_or(0);
    if limit < (WATCHERS + 512) as u64 {
        return Err(err(format!(
            "the open-file limit is {limit}: run benches/devagent-scale.sh (it raises `ulimit -n`)"
        )));
    }
    let mut out = Vec::new();
    eprintln!("scale bench: {WATCHERS} watchers of one key");
    let d = spawn(bin).await?;
    let mut ctl = Conn::open(d.http).await?;
    ctl.call("PUT", "/v1/kv/hot", b"old").await?;
    out.push(
        wake(
            d.http,
            d.pid,
            "10,000 watchers of one key (`GET /v1/kv/hot`)",
            "/v1/kv/hot".into(),
            ("PUT", "/v1/kv/hot".into(), b"new".to_vec()),
        )
        .await?,
    );
    stop(d).await;
    eprintln!("scale bench: {WATCHERS} watchers of one service");
    let d = spawn(bin).await?;
    let mut ctl = Conn::open(d.http).await?;
    for i in 0..10 {
        let body = format!(
            r#"{{"Name":"web","ID":"web{i}","Address":"127.0.0.{}","Port":8000,"Check":{{"CheckID":"web{i}","TTL":"10m","Status":"passing"}}}}"#,
            i + 1
        );
        ctl.call("PUT", "/v1/agent/service/register", body.as_bytes())
            .await?;
    }
    out.push(
        wake(
            d.http,
            d.pid,
            "10,000 watchers of one service (`GET /v1/health/service/web`, 10 instances)",
            "/v1/health/service/web".into(),
            ("PUT", "/v1/agent/check/warn/web3".into(), Vec::new()),
        )
        .await?,
    );
    stop(d).await;
    Ok(out)
}

// ---------------------------------------------------------------------------
// 3. 100,000 instances

struct Batch {
    instances: usize,
    took: Duration,
    rss: Memory,
}

struct Catalog {
    idle: Memory,
    batches: Vec<Batch>,
    first: Duration,
    cached: Vec<Duration>,
    body: usize,
    listed: usize,
}

/// The registration of instance `i` (0-based over the whole catalog).
fn registration(i: usize) -> String {
    let (service, id) = if i < BIG {
        ("big".to_string(), format!("big-{i}"))
    } else {
        let j = i - BIG;
        (
            format!("s{}", j / 9 + 1),
            format!("s{}-{}", j / 9 + 1, j % 9),
        )
    };
    let node = i % NODES;
    format!(
        r#"{{"Node":"node{node}","Address":"10.0.{}.{}","Service":{{"Service":"{service}","ID":"{id}","Port":{},"Tags":["v1"]}},"Check":{{"CheckID":"c-{id}","Name":"alive","Status":"passing","ServiceID":"{id}"}}}}"#,
        node / 250,
        node % 250 + 1,
        8000 + i % 1000
    )
}

async fn register(http: SocketAddr, range: std::ops::Range<usize>) -> Result<()> {
    let mut set = JoinSet::new();
    for c in 0..CONNS {
        let range = range.clone();
        set.spawn(async move {
            let mut conn = Conn::open(http).await?;
            for i in range.skip(c).step_by(CONNS) {
                conn.call("PUT", "/v1/catalog/register", registration(i).as_bytes())
                    .await?;
            }
            Ok::<_, bench::Error>(())
        });
    }
    while let Some(r) = set.join_next().await {
        r??;
    }
    Ok(())
}

async fn big_catalog(bin: &Path) -> Result<Catalog> {
    eprintln!("scale bench: {INSTANCES} instances of {SERVICES} services");
    let d = spawn(bin).await?;
    let idle = Memory::of(Some(d.pid))?;
    let mut batches = Vec::new();
    let per = INSTANCES.div_ceil(BATCHES);
    for b in 0..BATCHES {
        let range = b * per..((b + 1) * per).min(INSTANCES);
        let start = Instant::now();
        register(d.http, range.clone()).await?;
        batches.push(Batch {
            instances: range.end,
            took: start.elapsed(),
            rss: Memory::of(Some(d.pid))?,
        });
        eprintln!("scale bench: {} instances", range.end);
    }
    let mut ctl = Conn::open(d.http).await?;
    let path = "/v1/health/service/big?passing";
    let start = Instant::now();
    let a = ctl.call("GET", path, b"").await?;
    let first = start.elapsed();
    let listed = serde_json::from_slice::<serde_json::Value>(&a.body)
        .ok()
        .and_then(|v| v.as_array().map(Vec::len))
        .unwrap_or(0);
    if listed != BIG {
        return Err(err(format!("{path}: {listed} instances, want {BIG}")));
    }
    let mut cached = Vec::new();
    for _ in 0..20 {
        let start = Instant::now();
        ctl.call("GET", path, b"").await?;
        cached.push(start.elapsed());
    }
    cached.sort();
    stop(d).await;
    Ok(Catalog {
        idle,
        batches,
        first,
        cached,
        body: a.body.len(),
        listed,
    })
}

// ---------------------------------------------------------------------------

fn report(bin: &Path, w: &WriteRates, wake: &[Wake], c: &Catalog) -> String {
    let mut t = String::new();
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let commit = bench::git_head(&root).unwrap_or_else(|| "unknown".into());
    let dirty = if bench::git_dirty(&root, "devagent/src").unwrap_or(false) {
        " with uncommitted changes in devagent/src"
    } else {
        ""
    };
    let _ = writeln!(
        t,
        "# devagent: writes, wake-ups and a catalog of 100,000 instances\n"
    );
    let _ = writeln!(
        t,
        "`cargo bench -p devagent --bench scale` (via `benches/devagent-scale.sh`), binary `{}` at commit {commit}{dirty}; \
         the agent is a separate process. Machine: {}, 1-minute load average {}. The bench client shares the cores.\n",
        bin.file_name().map_or_else(|| bin.display().to_string(), |f| f.to_string_lossy().into_owned()),
        bench::machine(),
        bench::load1(),
    );
    let _ = writeln!(t, "| Measure | Result |");
    let _ = writeln!(t, "|---|---|");
    let _ = writeln!(
        t,
        "| `PUT /v1/kv/bench/<c>/<n>`, {CONNS} connections, {} s | {:.0}/s |",
        WRITE_FOR.as_secs(),
        w.kv
    );
    let _ = writeln!(
        t,
        "| `PUT /v1/agent/check/pass/<id>` (TTL heartbeat, no change) | {:.0}/s |",
        w.pass
    );
    let _ = writeln!(
        t,
        "| `PUT /v1/agent/check/pass/<id>?note=<n>` (a write each) | {:.0}/s |",
        w.pass_note
    );
    for k in wake {
        let _ = writeln!(
            t,
            "| {}: write sent → first / last answered; all answered with the new index | {} / {}; {} of {WATCHERS} (set-up {:.1} s, agent RSS while waiting {:.1} MiB) |",
            k.what,
            ms_to(k.first, 2),
            ms_to(k.last, 1),
            k.answered,
            k.setup.as_secs_f64(),
            mib(k.rss_waiting.rss_kib),
        );
    }
    let _ = writeln!(t, "| Agent RSS, idle | {:.1} MiB |", mib(c.idle.rss_kib));
    let mut prev = (0usize, c.idle.rss_kib);
    for b in &c.batches {
        let added = b.instances - prev.0;
        let _ = writeln!(
            t,
            "| Register instances {}–{} (`/v1/catalog/register`, {CONNS} connections) | {:.2} s ({:.0}/s); RSS {:.1} MiB, {:.0} bytes per instance in all, {:.0} for this batch |",
            prev.0 + 1,
            b.instances,
            b.took.as_secs_f64(),
            added as f64 / b.took.as_secs_f64(),
            mib(b.rss.rss_kib),
            (b.rss.rss_kib.saturating_sub(c.idle.rss_kib) * 1024) as f64 / b.instances as f64,
            (b.rss.rss_kib.saturating_sub(prev.1) * 1024) as f64 / added as f64,
        );
        prev = (b.instances, b.rss.rss_kib);
    }
    let total: Duration = c.batches.iter().map(|b| b.took).sum();
    let _ = writeln!(
        t,
        "| All {INSTANCES} instances of {SERVICES} services on {NODES} nodes | {:.1} s ({:.0}/s) |",
        total.as_secs_f64(),
        INSTANCES as f64 / total.as_secs_f64()
    );
    let _ = writeln!(
        t,
        "| `GET /v1/health/service/big?passing` ({} instances, {:.1} MB body): first (rendered) / cached median, max of {} | {} / {}, {} |",
        c.listed,
        c.body as f64 / 1e6,
        c.cached.len(),
        ms_to(c.first, 1),
        ms_to(bench::percentile(&c.cached, 50), 1),
        ms_to(c.cached.last().copied().unwrap_or_default(), 1),
    );
    t
}
