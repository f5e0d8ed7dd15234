//! The figures in registrar's README, measured against an in-process devagent:
//!
//! 1. `registrar run`: from the moment the child's port accepts connections to
//!    the moment `/v1/health/service/x?passing` lists it (median and max of
//!    10 runs, both ends polled every 1 ms).
//! 2. `registrar sync` of 1,000 definition files: time until all are
//!    registered, then the HTTP requests devagent receives when one file is
//!    edited, touched, added and removed (from `devagent_http_requests_total`,
//!    minus the bench's own requests).
//!
//! `cargo bench -p registrar --bench figures` prints a Markdown table and
//! writes it to `benches/results/registrar.md` at the workspace root.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::net::SocketAddr;
use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

use tokio::process::{Child, Command};

const RUNS: usize = 10;
const FILES: usize = 1000;

use testkit::free_port;

fn http() -> reqwest::Client {
    reqwest::Client::builder()
        .no_proxy()
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap()
}

fn registrar(agent: SocketAddr, args: &[&str]) -> Child {
    Command::new(env!("CARGO_BIN_EXE_registrar"))
        .args(args)
        .env("CONSUL_HTTP_ADDR", agent.to_string())
        .env("RUST_LOG", "warn")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .kill_on_drop(true)
        .spawn()
        .expect("registrar starts")
}

async fn stop(mut child: Child) {
    if let Some(pid) = child.id() {
        let _ = nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(pid as i32),
            nix::sys::signal::Signal::SIGTERM,
        );
    }
    let _ = tokio::time::timeout(Duration::from_secs(15), child.wait()).await;
}

/// Polls `f` every `every` until it is true (or 60 s pass); returns when.
async fn when<F, Fut>(every: Duration, mut f: F) -> Instant
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if f().await {
            return Instant::now();
        }
        assert!(Instant::now() < deadline, "timed out");
        tokio::time::sleep(every).await;
    }
}

async fn passing(client: &reqwest::Client, agent: SocketAddr, name: &str) -> bool {
    let url = format!("http://{agent}/v1/health/service/{name}?passing");
    match client.get(url).send().await {
        Ok(r) => r
            .json::<Vec<serde_json::Value>>()
            .await
            .is_ok_and(|v| !v.is_empty()),
        Err(_) => false,
    }
}

/// Port open → passing, over `RUNS` runs of a server that opens its port after 1 s.
async fn run_latency(agent: SocketAddr) -> Vec<Duration> {
    let client = http();
    let mut out = Vec::new();
    for i in 0..RUNS {
        let port = free_port();
        let name = format!("late-{i}");
        let server = format!(
            "import socket, time\ntime.sleep(1.0)\ns = socket.socket()\ns.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)\ns.bind(('127.0.0.1', {port}))\ns.listen(64)\nwhile True:\n    c, _ = s.accept()\n    c.close()\n"
        );
        let check = format!("127.0.0.1:{port}");
        let port_arg = port.to_string();
        let child = registrar(
            agent,
            &[
                "run",
                "-name",
                &name,
                "-port",
                &port_arg,
                "-check-tcp",
                &check,
                "-check-interval",
                "1s",
                "--",
                "python3",
                "-c",
                &server,
            ],
        );
        let opened = when(Duration::from_millis(1), || async {
            tokio::net::TcpStream::connect(("127.0.0.1", port))
                .await
                .is_ok()
        });
        let passed = when(Duration::from_millis(1), || passing(&client, agent, &name));
        let (opened, passed) = tokio::join!(opened, passed);
        out.push(passed.saturating_duration_since(opened));
        stop(child).await;
    }
    out
}

async fn requests_total(client: &reqwest::Client, agent: SocketAddr) -> u64 {
    let text = client
        .get(format!("http://{agent}/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    text.lines()
        .find_map(|l| l.strip_prefix("devagent_http_requests_total "))
        .and_then(|v| v.trim().parse::<f64>().ok())
        .expect("devagent_http_requests_total in /metrics") as u64
}

async fn service_count(client: &reqwest::Client, agent: SocketAddr) -> usize {
    match client
        .get(format!("http://{agent}/v1/agent/services"))
        .send()
        .await
    {
        Ok(r) => r
            .json::<serde_json::Map<String, serde_json::Value>>()
            .await
            .map(|m| m.len())
            .unwrap_or(0),
        Err(_) => 0,
    }
}

fn definition(i: usize, tag: &str) -> String {
    format!(
        r#"{{"service": {{"name": "svc-{i}", "port": {}, "tags": ["{tag}"], "meta": {{"n": "{i}"}}, "check": {{"ttl": "1h"}}}}}}"#,
        10000 + i
    )
}

fn write(dir: &Path, name: &str, text: &str) {
    let tmp = dir.join(format!(".{name}.tmp"));
    std::fs::write(&tmp, text).unwrap();
    std::fs::rename(&tmp, dir.join(name)).unwrap();
}

struct SyncFigures {
    all_registered: Duration,
    edit: u64,
    touch: u64,
    add: u64,
    remove: u64,
}

/// Requests devagent received while `change` happened and `done` became
/// true, minus the bench's own: `done` returns whether the change shows and
/// how many requests it sent to find out; the closing /metrics read is
/// calibrated.
async fn calls_for<C, D, Fut>(
    client: &reqwest::Client,
    agent: SocketAddr,
    change: C,
    mut done: D,
) -> u64
where
    C: FnOnce(),
    D: FnMut() -> Fut,
    Fut: std::future::Future<Output = (bool, u64)>,
{
    // What one /metrics read itself adds to the counter.
    let a = requests_total(client, agent).await;
    let b = requests_total(client, agent).await;
    let per_read = b - a;
    let before = requests_total(client, agent).await;
    change();
    let mut polls = 0u64;
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let (shown, sent) = done().await;
        polls += sent;
        if shown {
            break;
        }
        assert!(Instant::now() < deadline, "the change never showed");
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    // Let stragglers (debounce, retries) arrive before counting.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let after = requests_total(client, agent).await;
    after - before - polls - per_read
}

async fn sync_figures(agent: SocketAddr) -> SyncFigures {
    let client = http();
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().to_path_buf();
    for i in 0..FILES {
        write(&dir, &format!("svc-{i}.json"), &definition(i, "v1"));
    }
    let d = dir.display().to_string();
    let started = Instant::now();
    let child = registrar(agent, &["sync", "-sync-interval", "10m", &d]);
    let done = when(Duration::from_millis(5), || async {
        service_count(&client, agent).await >= FILES
    })
    .await;
    let all_registered = done - started;
    tokio::time::sleep(Duration::from_millis(500)).await;

    let svc = |id: &'static str| {
        let client = client.clone();
        async move {
            let url = format!("http://{agent}/v1/agent/service/{id}");
            match client.get(url).send().await {
                Ok(r) if r.status().is_success() => r.json::<serde_json::Value>().await.ok(),
                _ => None,
            }
        }
    };
    let edit = calls_for(
        &client,
        agent,
        || write(&dir, "svc-5.json", &definition(5, "v2")),
        || async { (svc("svc-5").await.is_some_and(|s| s["Tags"][0] == "v2"), 1) },
    )
    .await;
    // Touch: same content, new mtime. Nothing to send; wait past the debounce.
    let touch = calls_for(
        &client,
        agent,
        || write(&dir, "svc-6.json", &definition(6, "v1")),
        || async {
            tokio::time::sleep(Duration::from_millis(600)).await;
            (true, 0)
        },
    )
    .await;
    let add = calls_for(
        &client,
        agent,
        || write(&dir, "new.json", &definition(FILES, "v1")),
        || async { (svc("svc-1000").await.is_some(), 1) },
    )
    .await;
    let remove = calls_for(
        &client,
        agent,
        || std::fs::remove_file(dir.join("svc-7.json")).unwrap(),
        || async { (svc("svc-7").await.is_none(), 1) },
    )
    .await;
    stop(child).await;
    SyncFigures {
        all_registered,
        edit,
        touch,
        add,
        remove,
    }
}

fn ms(d: Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1000.0)
}

fn main() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let agent = devagent::Agent::builder()
            .http_port(0)
            .dns_port(0)
            .start()
            .await
            .expect("devagent starts");
        let mut lat = run_latency(agent.http_addr()).await;
        agent.shutdown().await;
        lat.sort();
        let median = lat[lat.len() / 2];
        let max = *lat.last().unwrap();

        let agent = devagent::Agent::builder()
            .http_port(0)
            .dns_port(0)
            .start()
            .await
            .expect("devagent starts");
        let s = sync_figures(agent.http_addr()).await;
        agent.shutdown().await;

        let table = format!(
            "# registrar figures\n\n\
             Measured by `cargo bench -p registrar --bench figures` (release build) against an in-process devagent on loopback.\n\n\
             | Figure | Target | Measured |\n|---|---|---|\n\
             | `run`: child's port opening → passing in `/v1/health/service/x?passing` ({RUNS} runs, 1 ms polling) | ≤ 200 ms | median {}, max {} |\n\
             | `sync`: {FILES} definition files, registrar start → all registered | < 2 s | {} |\n\
             | `sync`: requests after editing one file | 1 | {} |\n\
             | `sync`: requests after touching one file (same content) | ≤ 1 | {} |\n\
             | `sync`: requests after adding one file (ID checked, then registered) | - | {} |\n\
             | `sync`: requests after removing one file | 1 | {} |\n",
            ms(median),
            ms(max),
            ms(s.all_registered),
            s.edit,
            s.touch,
            s.add,
            s.remove,
        );
        println!("{table}");
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("the workspace root");
        let out = root.join("benches/results");
        std::fs::create_dir_all(&out).unwrap();
        std::fs::write(out.join("registrar.md"), &table).unwrap();
        println!("written to {}", out.join("registrar.md").display());
    });
}
