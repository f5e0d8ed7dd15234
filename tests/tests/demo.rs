//! The README's main command: everything starts, passes, serves through
//! nginx, and on Ctrl-C stops with nothing left registered or running.
#![allow(clippy::unwrap_used)]

use std::time::Duration;

use e2e::spawn;
use nix::sys::signal::Signal;
use tokio::io::{AsyncBufReadExt, BufReader};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn demo_starts_everything_and_stops_clean_on_ctrl_c() {
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
    let url = |label: &str| -> String {
        let line = text
            .lines()
            .find(|l| l.trim_start().starts_with(label))
            .unwrap_or_else(|| panic!("no {label} line in:\n{text}"));
        line.split_whitespace()
            .find(|w| w.starts_with("http://"))
            .unwrap()
            .trim_end_matches('/')
            .to_string()
    };
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(3))
        .build()
        .unwrap();
    let consul = url("Consul API");
    let workers: serde_json::Value = http
        .get(format!("{consul}/v1/health/service/worker?passing"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(workers.as_array().unwrap().len(), 3);
    let dash = http.get(url("Dashboard")).send().await.unwrap();
    assert_eq!(dash.status(), 200);
    let stats: serde_json::Value = http
        .get(url("App stats"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(stats["failed"], 0);
    if text.contains("nginx       http://") {
        let sq: serde_json::Value = http
            .get(url("nginx"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(sq["square"], 49, "nginx proxies to a worker: {sq}");
    }
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
    demo.signal(Signal::SIGINT);
    let code = demo.wait(Duration::from_secs(20)).await;
    assert_eq!(code, Some(0));
    let tail = rest.await.unwrap();
    assert!(
        tail.contains("stopped (0 services left registered)"),
        "{tail}"
    );
    let left = http.get(format!("{consul}/v1/agent/services")).send().await;
    assert!(left.is_err(), "the embedded agent is gone too");
    let stray = std::process::Command::new("pgrep")
        .args(["-f", "e2e-demo worker"])
        .output()
        .unwrap();
    assert!(
        stray.stdout.is_empty(),
        "worker processes left running: {}",
        String::from_utf8_lossy(&stray.stdout)
    );
}
