//! The README's main command: everything starts, passes, serves through
//! nginx, and on Ctrl-C stops with nothing left registered or running; on a
//! shared Consul it never uses a `worker` that is not its own; `--chaos`
//! deregisters what it kills.
#![allow(clippy::unwrap_used)]

use std::time::Duration;

use e2e::{devagent, spawn, Proc};
use nix::sys::signal::Signal;
use tokio::io::{AsyncBufReadExt, BufReader, Lines};
use tokio::process::ChildStdout;

/// The demo's banner (up to its `keys:` line) and the rest of its output.
async fn banner(demo: &mut Proc) -> (String, Lines<BufReader<ChildStdout>>) {
    let out = demo.child.stdout.take().unwrap();
    let mut lines = BufReader::new(out).lines();
    let mut text = String::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    while !text.contains("keys:") {
        match tokio::time::timeout_at(deadline, lines.next_line()).await {
            Ok(Ok(Some(l))) => {
                text.push_str(&l);
                text.push('\n');
            }
            _ => panic!("the demo did not print its URLs:\n{text}"),
        }
    }
    assert!(text.contains("every service passing"), "{text}");
    (text, lines)
}

/// The URL on the banner line starting with `label`.
fn url(text: &str, label: &str) -> String {
    let line = text
        .lines()
        .find(|l| l.trim_start().starts_with(label))
        .unwrap_or_else(|| panic!("no {label} line in:\n{text}"));
    line.split_whitespace()
        .find(|w| w.starts_with("http://"))
        .unwrap()
        .trim_end_matches('/')
        .to_string()
}

/// SIGINT, then the exit code and the rest of the output.
async fn interrupt(mut demo: Proc, mut lines: Lines<BufReader<ChildStdout>>) -> String {
    let rest = tokio::spawn(async move {
        let mut tail = String::new();
        while let Ok(Ok(Some(l))) =
            tokio::time::timeout(Duration::from_secs(30), lines.next_line()).await
        {
            tail.push_str(&l);
            tail.push('\n');
        }
        tail
    });
    let pid = demo.child.id().unwrap();
    let children = std::process::Command::new("pgrep")
        .args(["-P", &pid.to_string()])
        .output()
        .unwrap();
    let children: Vec<i32> = String::from_utf8_lossy(&children.stdout)
        .split_whitespace()
        .filter_map(|p| p.parse().ok())
        .collect();
    assert!(
        !children.is_empty(),
        "the demo runs its workers as children"
    );
    demo.signal(Signal::SIGINT);
    let code = demo.wait(Duration::from_secs(20)).await;
    let tail = rest.await.unwrap();
    assert_eq!(code, Some(0), "{tail}");
    let alive: Vec<&i32> = children
        .iter()
        .filter(|p| nix::sys::signal::kill(nix::unistd::Pid::from_raw(**p), None).is_ok())
        .collect();
    assert!(alive.is_empty(), "child processes left running: {alive:?}");
    tail
}

fn http() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(3))
        .build()
        .unwrap()
}

async fn json(http: &reqwest::Client, url: &str) -> serde_json::Value {
    http.get(url).send().await.unwrap().json().await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn demo_starts_everything_and_stops_clean_on_ctrl_c() {
    assert!(
        std::path::Path::new("/usr/sbin/nginx").exists(),
        "nginx is not installed: run .ci/test (it installs what the tests need) or apt-get install -y nginx-light"
    );
    let dir = tempfile::tempdir().unwrap();
    let mut demo = spawn(
        "demo",
        &[
            "--http-port",
            "0",
            "--dns-port",
            "0",
            "--nginx-port",
            "0",
            "--workers",
            "3",
            "--dir",
            &dir.path().display().to_string(),
        ],
    )
    .unwrap();
    let (text, lines) = banner(&mut demo).await;
    let http = http();
    let consul = url(&text, "Consul API");
    let workers = json(
        &http,
        &format!("{consul}/v1/health/service/worker?passing&tag=dcy-demo"),
    )
    .await;
    assert_eq!(workers.as_array().unwrap().len(), 3);
    let dash = http.get(url(&text, "Dashboard")).send().await.unwrap();
    assert_eq!(dash.status(), 200);
    let stats = json(&http, &url(&text, "App stats")).await;
    assert_eq!(stats["failed"], 0);
    let nginx = url(&text, "nginx");
    let proxied = e2e::eventually(5, || async {
        match http.get(&nginx).send().await {
            Ok(r) => r
                .json::<serde_json::Value>()
                .await
                .is_ok_and(|v| v["square"] == 49),
            Err(_) => false,
        }
    })
    .await;
    assert!(proxied, "nginx proxies to a worker: {nginx}");
    let log = std::fs::read_to_string(dir.path().join("demo.log")).unwrap();
    assert!(
        !log.contains("invalid PID"),
        "nginx runs before templater's first reload:\n{log}"
    );
    let tail = interrupt(demo, lines).await;
    assert!(tail.contains("(0 services left registered)"), "{tail}");
    assert!(
        !tail.contains("WARN") && !tail.contains("ERROR"),
        "the services' logs go to the log file:\n{tail}"
    );
    let left = http.get(format!("{consul}/v1/agent/services")).send().await;
    assert!(left.is_err(), "the embedded agent is gone too");
    assert!(dir.path().join("demo.log").exists(), "--dir is kept");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_a_shared_consul_the_demo_uses_only_its_own_services() {
    let (_agent, addr) = devagent(0).await;
    let consul = format!("http://{addr}");
    let http = http();
    // Somebody else's `worker`: it accepts connections and answers nothing useful.
    let foreign = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let foreign_port = foreign.local_addr().unwrap().port();
    tokio::spawn(async move {
        while let Ok((s, _)) = foreign.accept().await {
            drop(s);
        }
    });
    let reg = serde_json::json!({
        "ID": "their-worker", "Name": "worker", "Address": "127.0.0.1", "Port": foreign_port,
        "Check": {"TTL": "1h", "Status": "passing"}
    });
    let r = http
        .put(format!("{consul}/v1/agent/service/register"))
        .json(&reg)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let dir = tempfile::tempdir().unwrap();
    let mut demo = spawn(
        "demo",
        &[
            "--consul",
            &consul,
            "--no-nginx",
            "--dir",
            &dir.path().display().to_string(),
        ],
    )
    .unwrap();
    let (text, lines) = banner(&mut demo).await;
    let stats_url = url(&text, "App stats");
    let enough = e2e::eventually(20, || async {
        json(&http, &stats_url).await["ok"].as_u64().unwrap_or(0) >= 200
    })
    .await;
    let stats = json(&http, &stats_url).await;
    assert!(enough, "the app works: {stats}");
    assert_eq!(stats["failed"], 0, "{stats}");
    let by_worker = stats["by_worker"].as_object().unwrap();
    assert!(
        by_worker.keys().all(|k| k.starts_with("worker-")),
        "only the demo's workers answer: {stats}"
    );
    let upstreams = std::fs::read_to_string(dir.path().join("upstreams.conf")).unwrap();
    assert!(
        !upstreams.contains(&format!(":{foreign_port};")),
        "nginx's upstreams hold only the demo's workers:\n{upstreams}"
    );
    let tail = interrupt(demo, lines).await;
    assert!(
        tail.contains("(0 services left registered)"),
        "the foreign worker is not counted as the demo's: {tail}"
    );
    let services = json(&http, &format!("{consul}/v1/agent/services")).await;
    let ids: Vec<&String> = services.as_object().unwrap().keys().collect();
    assert_eq!(
        ids,
        ["their-worker"],
        "the demo left the foreign service alone"
    );
}

/// A demo on `consul` without nginx, a worker killed every 600 ms and
/// started again 300 ms later, checks every 200 ms.
fn chaos_args(consul: &str) -> [&str; 7] {
    [
        "--consul",
        consul,
        "--no-nginx",
        "--chaos",
        "600ms",
        "--check-interval",
        "200ms",
    ]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chaos_deregisters_the_workers_it_kills() {
    let (_agent, addr) = devagent(0).await;
    let consul = format!("http://{addr}");
    let mut demo = spawn("demo", &chaos_args(&consul)).unwrap();
    let (_text, lines) = banner(&mut demo).await;
    let http = http();
    let url = format!("{consul}/v1/health/service/worker?tag=dcy-demo");
    // Six kills and five restarts in 3.9 s: each killed instance goes when
    // its worker is started again, so at most one is registered but dead.
    tokio::time::sleep(Duration::from_millis(3900)).await;
    let workers = json(&http, &url).await;
    let all = workers.as_array().unwrap();
    let critical = all
        .iter()
        .filter(|e| {
            e["Checks"]
                .as_array()
                .unwrap()
                .iter()
                .any(|c| c["Status"] != "passing")
        })
        .count();
    assert!(
        all.len() <= 3 && critical <= 1,
        "{} registered, {critical} not passing: {workers}",
        all.len()
    );
    let tail = interrupt(demo, lines).await;
    assert!(tail.contains("chaos: killed worker"), "{tail}");
    assert!(tail.contains("(0 services left registered)"), "{tail}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rebuild_while_the_demo_runs_does_not_stop_its_restarts() {
    // `cargo build` while the demo runs replaces its file on disk: the
    // workers it starts after that are still its own program.
    let (_agent, addr) = devagent(0).await;
    let consul = format!("http://{addr}");
    let dir = tempfile::tempdir().unwrap();
    let exe = dir.path().join("demo");
    std::fs::copy(e2e::bin("e2e-demo"), &exe).unwrap();
    let child = tokio::process::Command::new(&exe)
        .args(chaos_args(&consul))
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut demo = Proc {
        child,
        name: "demo (copy)".into(),
    };
    let (_text, lines) = banner(&mut demo).await;
    let next = dir.path().join("demo.new");
    std::fs::copy(&exe, &next).unwrap();
    std::fs::rename(&next, &exe).unwrap();
    // Three kills and restarts, all after the file was replaced.
    tokio::time::sleep(Duration::from_millis(2100)).await;
    let tail = interrupt(demo, lines).await;
    let restarts = tail.matches("started it again").count();
    assert!(
        restarts >= 2,
        "{restarts} restarts after the rebuild:\n{tail}"
    );
    assert!(tail.contains("(0 services left registered)"), "{tail}");
}
