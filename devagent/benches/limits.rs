//! What hostile and heavy requests cost the `devagent` binary (issue 14),
//! measured against the release binary as a separate process:
//!
//! 1. one EDNS (4096) SRV query for a service of 10, 100, 1,000 and 10,000
//!    instances: time per query, from one client, one query at a time;
//! 2. the p99 of `GET /v1/status/leader` (one keep-alive client, every 5 ms)
//!    while 8 clients flood SRV queries for the 1,000-instance service;
//! 3. the agent's peak RSS (`VmHWM`) while 50 clients each send a 40 MB
//!    `/v1/txn` body, with `Content-Length` and then chunked without one;
//! 4. the time from SIGTERM to exit while all of that runs at once, plus
//!    1,000 idle connections, 50 slow bodies and 100 blocking queries.
//!
//! Run it with `benches/devagent-limits.sh`. The results are printed as
//! Markdown and written to `benches/results/devagent-limits.md`.

use std::fmt::Write as _;
use std::net::{IpAddr, SocketAddr};
use std::path::Path;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use hickory_proto::op::{Edns, Message, MessageType, OpCode, Query};
use hickory_proto::rr::{Name, RecordType};
use testkit::bench::{self, err, mib, ms_to, percentile, yes_no, Memory, Result};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream, UdpSocket};
use tokio::task::JoinSet;

const BIN: &str = env!("CARGO_BIN_EXE_devagent");
const RESULTS: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../benches/results/devagent-limits.md"
);
const SIZES: [usize; 4] = [10, 100, 1_000, 10_000];
const IO_TIMEOUT: Duration = Duration::from_secs(10);
const FLOODERS: usize = 8;
const FLOOD_FOR: Duration = Duration::from_secs(10);
const TXN_CLIENTS: usize = 50;
const TXN_BODY: usize = 40 << 20;
const SIGTERM_ROUNDS: usize = 5;

const SRV_10K_TARGET: Duration = Duration::from_millis(20);
const LEADER_P99_TARGET: Duration = Duration::from_millis(10);
const RSS_TARGET_MIB: f64 = 200.0;
const SIGTERM_TARGET: Duration = Duration::from_secs(1);

fn main() -> ExitCode {
    bench::run_main("limits", tokio::runtime::Builder::new_multi_thread(), run())
}

async fn run() -> Result<()> {
    eprintln!("limits bench: binary {BIN}");
    let dns = dns_sizes().await?;
    let flood = flood().await?;
    let rss = txn_memory().await?;
    let stops = sigterm_under_load().await?;
    let table = report(&dns, &flood, &rss, &stops);
    println!("\n{table}");
    bench::write_results(Path::new(RESULTS), &table)?;
    eprintln!("limits bench: wrote {RESULTS}");
    Ok(())
}

// ---------------------------------------------------------------------------
// Helpers

struct Agent {
    d: bench::Devagent,
    dns: SocketAddr,
}

async fn spawn() -> Result<Agent> {
    let d = bench::spawn_devagent(Path::new(BIN), 0, IO_TIMEOUT).await?;
    let dns = d
        .dns
        .ok_or_else(|| err("the agent printed no dns= address"))?;
    Ok(Agent { d, dns })
}

impl Agent {
    fn memory(&self) -> Result<Memory> {
        Ok(Memory::of(Some(self.d.pid))?)
    }

    /// `count` instances of `name`, each on a node of its own (SRV targets
    /// `<node>.node.dc1.consul.`, as most catalogs have them).
    async fn register(&self, name: &str, count: usize) -> Result<()> {
        let client = reqwest::Client::new();
        let base = format!("http://{}", self.d.http);
        let mut set = JoinSet::new();
        for w in 0..16 {
            let (client, base, name) = (client.clone(), base.clone(), name.to_string());
            set.spawn(async move {
                for i in (w..count).step_by(16) {
                    let body = format!(
                        r#"{{"Node":"{name}-{i}","Address":"10.{}.{}.{}","Service":{{"Service":"{name}","ID":"{name}{i}","Port":8080}}}}"#,
                        i >> 16,
                        (i >> 8) & 255,
                        i & 255
                    );
                    let r = client
                        .put(format!("{base}/v1/catalog/register"))
                        .body(body)
                        .send()
                        .await?;
                    if !r.status().is_success() {
                        return Err(err(format!("register: {}", r.status())));
                    }
                }
                Ok(())
            });
        }
        while let Some(r) = set.join_next().await {
            r??;
        }
        Ok(())
    }
}

fn srv_query(name: &str, id: u16) -> Vec<u8> {
    let mut m = Message::new();
    let mut e = Edns::new();
    e.set_max_payload(4096);
    m.set_id(id)
        .set_message_type(MessageType::Query)
        .set_op_code(OpCode::Query)
        .add_query(Query::query(
            Name::from_ascii(format!("{name}.service.consul.")).unwrap_or_else(|_| Name::root()),
            RecordType::SRV,
        ))
        .set_edns(e);
    m.to_vec().unwrap_or_default()
}

async fn connect_from(from: IpAddr, to: SocketAddr) -> Option<TcpStream> {
    let sock = TcpSocket::new_v4().ok()?;
    sock.bind(SocketAddr::new(from, 0)).ok()?;
    tokio::time::timeout(IO_TIMEOUT, sock.connect(to))
        .await
        .ok()?
        .ok()
}

/// 8 clients asking for `name` over and over; counts the answers.
fn start_flood(
    dns: SocketAddr,
    name: &str,
    stop: &Arc<AtomicBool>,
    answered: &Arc<AtomicUsize>,
) -> JoinSet<()> {
    let mut set = JoinSet::new();
    for c in 0..FLOODERS {
        let (stop, answered, q) = (
            Arc::clone(stop),
            Arc::clone(answered),
            srv_query(name, c as u16),
        );
        set.spawn(async move {
            let Ok(sock) = UdpSocket::bind("127.0.0.1:0").await else {
                return;
            };
            let mut buf = vec![0u8; 65_535];
            while !stop.load(Ordering::Relaxed) {
                if sock.send_to(&q, dns).await.is_err() {
                    return;
                }
                if let Ok(Ok(_)) =
                    tokio::time::timeout(Duration::from_millis(500), sock.recv_from(&mut buf)).await
                {
                    answered.fetch_add(1, Ordering::Relaxed);
                }
            }
        });
    }
    set
}

// ---------------------------------------------------------------------------
// 1. Time per SRV query

struct DnsSize {
    instances: usize,
    queries: usize,
    median: Duration,
    p99: Duration,
    answers: usize,
    bytes: usize,
}

async fn dns_sizes() -> Result<Vec<DnsSize>> {
    let agent = spawn().await?;
    for n in SIZES {
        agent.register(&format!("s{n}"), n).await?;
    }
    let sock = UdpSocket::bind("127.0.0.1:0").await?;
    let mut buf = vec![0u8; 65_535];
    let mut out = Vec::new();
    for n in SIZES {
        let q = srv_query(&format!("s{n}"), 1);
        let queries = if n >= 10_000 { 300 } else { 1_000 };
        let mut times = Vec::with_capacity(queries);
        let (mut answers, mut bytes) = (0, 0);
        for i in 0..queries + 20 {
            let t = Instant::now();
            sock.send_to(&q, agent.dns).await?;
            let (len, _) = tokio::time::timeout(IO_TIMEOUT, sock.recv_from(&mut buf))
                .await
                .map_err(|_| err(format!("no answer for s{n} within {IO_TIMEOUT:?}")))??;
            let took = t.elapsed();
            if i >= 20 {
                times.push(took);
            }
            let m = Message::from_vec(&buf[..len])?;
            answers = m.answers().len();
            bytes = len;
        }
        eprintln!("limits bench: s{n}: median {:?}", percentile(&times, 50));
        out.push(DnsSize {
            instances: n,
            queries,
            median: percentile(&times, 50),
            p99: percentile(&times, 99),
            answers,
            bytes,
        });
    }
    Ok(out)
}

// ---------------------------------------------------------------------------
// 2. HTTP latency under a DNS flood

struct Flood {
    samples: usize,
    p50: Duration,
    p99: Duration,
    max: Duration,
    quiet_p99: Duration,
    dns_per_sec: f64,
}

async fn leader_latencies(http: SocketAddr, for_: Duration) -> Result<Vec<Duration>> {
    let client = reqwest::Client::new();
    let url = format!("http://{http}/v1/status/leader");
    let mut lat = Vec::new();
    let until = Instant::now() + for_;
    while Instant::now() < until {
        let t = Instant::now();
        let r = client.get(&url).send().await?;
        let _ = r.bytes().await?;
        lat.push(t.elapsed());
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    Ok(lat)
}

async fn flood() -> Result<Flood> {
    let agent = spawn().await?;
    agent.register("s1000", 1_000).await?;
    let quiet = leader_latencies(agent.d.http, Duration::from_secs(3)).await?;
    let stop = Arc::new(AtomicBool::new(false));
    let answered = Arc::new(AtomicUsize::new(0));
    let mut flooders = start_flood(agent.dns, "s1000", &stop, &answered);
    tokio::time::sleep(Duration::from_millis(500)).await;
    let before = answered.load(Ordering::Relaxed);
    let t = Instant::now();
    let lat = leader_latencies(agent.d.http, FLOOD_FOR).await?;
    let dns_per_sec =
        (answered.load(Ordering::Relaxed) - before) as f64 / t.elapsed().as_secs_f64();
    stop.store(true, Ordering::Relaxed);
    while flooders.join_next().await.is_some() {}
    Ok(Flood {
        samples: lat.len(),
        p50: percentile(&lat, 50),
        p99: percentile(&lat, 99),
        max: percentile(&lat, 100),
        quiet_p99: percentile(&quiet, 99),
        dns_per_sec,
    })
}

// ---------------------------------------------------------------------------
// 3. Memory with 50 × 40 MB transaction bodies

struct TxnRss {
    idle: Memory,
    peak_with_length: Memory,
    peak_chunked: Memory,
    statuses: Vec<String>,
    took: Duration,
}

/// Sends one 40 MB body (declared or chunked) and reads the answer's status line.
async fn send_big_txn(http: SocketAddr, chunked: bool) -> String {
    let Ok(mut s) = TcpStream::connect(http).await else {
        return "connect failed".into();
    };
    let head = if chunked {
        "PUT /v1/txn HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n".to_string()
    } else {
        format!("PUT /v1/txn HTTP/1.1\r\nHost: x\r\nContent-Length: {TXN_BODY}\r\n\r\n")
    };
    let (mut rd, mut wr) = s.split();
    let send = async {
        wr.write_all(head.as_bytes()).await?;
        let chunk = vec![b' '; 64 * 1024];
        for _ in 0..TXN_BODY / chunk.len() {
            if chunked {
                wr.write_all(format!("{:x}\r\n", chunk.len()).as_bytes())
                    .await?;
                wr.write_all(&chunk).await?;
                wr.write_all(b"\r\n").await?;
            } else {
                wr.write_all(&chunk).await?;
            }
        }
        if chunked {
            wr.write_all(b"0\r\n\r\n").await?;
        }
        Ok::<_, std::io::Error>(())
    };
    let read = async {
        let mut buf = vec![0u8; 4096];
        let n = rd.read(&mut buf).await.unwrap_or(0);
        String::from_utf8_lossy(&buf[..n])
            .lines()
            .next()
            .unwrap_or("closed")
            .to_string()
    };
    let (_, status) =
        tokio::time::timeout(Duration::from_secs(60), async { tokio::join!(send, read) })
            .await
            .unwrap_or((Ok(()), "timeout".into()));
    status
}

async fn txn_round(http: SocketAddr, chunked: bool) -> Vec<String> {
    let mut set = JoinSet::new();
    for _ in 0..TXN_CLIENTS {
        set.spawn(send_big_txn(http, chunked));
    }
    let mut statuses = Vec::new();
    while let Some(r) = set.join_next().await {
        statuses.push(r.unwrap_or_else(|e| e.to_string()));
    }
    statuses
}

async fn txn_memory() -> Result<TxnRss> {
    let agent = spawn().await?;
    let idle = agent.memory()?;
    let t = Instant::now();
    let mut statuses = txn_round(agent.d.http, false).await;
    let peak_with_length = agent.memory()?;
    statuses.extend(txn_round(agent.d.http, true).await);
    let peak_chunked = agent.memory()?;
    statuses.sort();
    statuses.dedup();
    Ok(TxnRss {
        idle,
        peak_with_length,
        peak_chunked,
        statuses,
        took: t.elapsed(),
    })
}

// ---------------------------------------------------------------------------
// 4. SIGTERM under all of it

async fn sigterm_under_load() -> Result<Vec<Duration>> {
    let mut stops = Vec::new();
    for round in 0..SIGTERM_ROUNDS {
        let mut agent = spawn().await?;
        agent.register("s1000", 1_000).await?;
        let http = agent.d.http;
        let stop = Arc::new(AtomicBool::new(false));
        let answered = Arc::new(AtomicUsize::new(0));
        let mut load = start_flood(agent.dns, "s1000", &stop, &answered);
        let mut held = Vec::new();
        for i in 0..1_000u32 {
            if let Some(s) = connect_from(IpAddr::from([127, 0, 3, (i % 5 + 1) as u8]), http).await
            {
                held.push(s);
            }
        }
        for i in 0..100u32 {
            if let Some(mut s) =
                connect_from(IpAddr::from([127, 0, 4, (i % 2 + 1) as u8]), http).await
            {
                let _ = s
                    .write_all(b"GET /v1/kv/none?index=1000&wait=10m HTTP/1.1\r\nHost: x\r\n\r\n")
                    .await;
                held.push(s);
            }
        }
        for i in 0..50 {
            load.spawn(async move {
                let Some(mut s) = connect_from(IpAddr::from([127, 0, 5, 1]), http).await else {
                    return;
                };
                let head = format!(
                    "PUT /v1/kv/slow{i} HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n"
                );
                let _ = s.write_all(head.as_bytes()).await;
                while s.write_all(b"x").await.is_ok() {
                    tokio::time::sleep(Duration::from_secs(1)).await;
                }
            });
        }
        for _ in 0..TXN_CLIENTS {
            load.spawn(async move {
                loop {
                    send_big_txn(http, true).await;
                }
            });
        }
        tokio::time::sleep(Duration::from_secs(2)).await;
        let t = Instant::now();
        let status = tokio::process::Command::new("kill")
            .args(["-TERM", &agent.d.pid.to_string()])
            .status()
            .await?;
        if !status.success() {
            return Err(err("kill -TERM failed"));
        }
        let exit = tokio::time::timeout(IO_TIMEOUT, agent.d.child.wait())
            .await
            .map_err(|_| err("the agent did not exit within 10 s of SIGTERM"))??;
        let took = t.elapsed();
        stop.store(true, Ordering::Relaxed);
        load.abort_all();
        drop(held);
        if !exit.success() {
            return Err(err(format!("round {round}: the agent exited with {exit}")));
        }
        eprintln!("limits bench: SIGTERM round {round}: {took:?}");
        stops.push(took);
    }
    Ok(stops)
}

// ---------------------------------------------------------------------------
// Report

fn report(dns: &[DnsSize], flood: &Flood, rss: &TxnRss, stops: &[Duration]) -> String {
    let mut t = String::new();
    let head = bench::git_head(env!("CARGO_MANIFEST_DIR")).unwrap_or_else(|| "unknown".into());
    let _ = writeln!(t, "# devagent: limits figures (issue 14)\n");
    let _ = writeln!(
        t,
        "`cargo bench -p devagent --bench limits` (via `benches/devagent-limits.sh`), release build \
         of devagent at {head}, a separate process. Machine: {}; the bench's clients and the agent \
         share the cores.\n",
        bench::machine()
    );
    let _ = writeln!(
        t,
        "## One EDNS (4096) SRV query, one client, one at a time\n"
    );
    let _ = writeln!(
        t,
        "| Instances | Queries | Median | p99 | Median per 1,000 instances | Answers / bytes |"
    );
    let _ = writeln!(t, "|---|---|---|---|---|---|");
    for d in dns {
        let _ = writeln!(
            t,
            "| {} | {} | {} | {} | {} | {} / {} |",
            d.instances,
            d.queries,
            ms_to(d.median, 3),
            ms_to(d.p99, 3),
            ms_to(d.median.mul_f64(1000.0 / d.instances as f64), 3),
            d.answers,
            d.bytes
        );
    }
    let ten_k = dns
        .iter()
        .find(|d| d.instances == 10_000)
        .map_or(Duration::MAX, |d| d.median);
    let _ = writeln!(t);
    let _ = writeln!(t, "| Figure | Measured | Target | Met |");
    let _ = writeln!(t, "|---|---|---|---|");
    let _ = writeln!(
        t,
        "| SRV query, 10,000 instances, median | {} | ≤ 20 ms | {} |",
        ms_to(ten_k, 2),
        yes_no(ten_k <= SRV_10K_TARGET)
    );
    let _ = writeln!(
        t,
        "| `GET /v1/status/leader` p99 while {FLOODERS} clients flood 1,000-instance SRV queries ({:.0} answers/s), {} samples over {FLOOD_FOR:?} | {} (p50 {}, max {}; without the flood p99 {}) | ≤ 10 ms | {} |",
        flood.dns_per_sec,
        flood.samples,
        ms_to(flood.p99, 2),
        ms_to(flood.p50, 2),
        ms_to(flood.max, 2),
        ms_to(flood.quiet_p99, 2),
        yes_no(flood.p99 <= LEADER_P99_TARGET)
    );
    let peak = mib(rss.peak_chunked.peak_kib.max(rss.peak_with_length.peak_kib));
    let _ = writeln!(
        t,
        "| Peak RSS (VmHWM) while {TXN_CLIENTS} clients each send a 40 MB `/v1/txn` body: with `Content-Length`, then chunked | {:.1} MiB after the declared bodies, {:.1} MiB after the chunked ones (idle {:.1} MiB; answers: {}; {:.1} s) | < 200 MB | {} |",
        mib(rss.peak_with_length.peak_kib),
        mib(rss.peak_chunked.peak_kib),
        mib(rss.idle.rss_kib),
        rss.statuses.join(", "),
        rss.took.as_secs_f64(),
        yes_no(peak < RSS_TARGET_MIB)
    );
    let worst = percentile(stops, 100);
    let _ = writeln!(
        t,
        "| SIGTERM → exit under all of it at once (8 flooders, 1,000 idle connections, 100 blocking queries, 50 slow bodies, 50 looping chunked 40 MB bodies), {} rounds | median {}, max {} | ≤ 1 s | {} |",
        stops.len(),
        ms_to(percentile(stops, 50), 0),
        ms_to(worst, 0),
        yes_no(worst <= SIGTERM_TARGET)
    );
    t
}
