//! A devagent on port 0 and helpers to run templater in-process or as a binary.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::time::Duration;

use clap::Parser;
use devagent::{Agent, AgentHandle};
use templater::runner::Event;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

pub async fn agent_on(port: u16) -> AgentHandle {
    let mut last = None;
    for _ in 0..100 {
        match Agent::builder()
            .http_port(port)
            .dns_port(0)
            .node_name("node1")
            .min_check_interval(Duration::from_millis(100))
            .start()
            .await
        {
            Ok(a) => return a,
            Err(e) => last = Some(e),
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("devagent did not start: {last:?}");
}

pub struct Templater {
    pub tx: mpsc::UnboundedSender<Event>,
    pub stop: CancellationToken,
    pub task: tokio::task::JoinHandle<templater::Result<i32>>,
}

/// Runs templater in-process with these arguments (Go-style flags allowed).
pub fn spawn(args: &[&str]) -> Templater {
    let argv = templater::cli::normalize(
        std::iter::once("templater".to_string()).chain(args.iter().map(|s| s.to_string())),
    )
    .unwrap();
    let cli = templater::Cli::try_parse_from(argv).unwrap();
    let (tx, rx) = mpsc::unbounded_channel();
    let stop = CancellationToken::new();
    let (t2, s2) = (tx.clone(), stop.clone());
    let task = tokio::spawn(async move { templater::run(&cli.run, t2, rx, s2).await });
    Templater { tx, stop, task }
}

impl Templater {
    pub async fn stop(self) -> templater::Result<i32> {
        let _ = self.tx.send(Event::Stop(0));
        tokio::time::timeout(Duration::from_secs(10), self.task)
            .await
            .expect("templater stops")
            .unwrap()
    }
}

pub async fn eventually<F, Fut>(secs: u64, mut f: F) -> bool
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + Duration::from_secs(secs);
    while tokio::time::Instant::now() < deadline {
        if f().await {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    false
}

pub fn read(p: &Path) -> String {
    std::fs::read_to_string(p).unwrap_or_default()
}

pub async fn file_contains(p: &Path, needle: &str, secs: u64) -> bool {
    let p: PathBuf = p.to_path_buf();
    let needle = needle.to_string();
    eventually(secs, || {
        let (p, needle) = (p.clone(), needle.clone());
        async move { read(&p).contains(&needle) }
    })
    .await
}

pub async fn register(client: &reqwest::Client, base: &str, body: &str) {
    let r = client
        .put(format!("{base}/v1/agent/service/register"))
        .body(body.to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
}

pub async fn put(client: &reqwest::Client, url: &str, body: &str) -> u16 {
    client
        .put(url)
        .body(body.to_string())
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

pub fn trace() {
    let _ = tracing_subscriber::fmt()
        .with_env_filter("debug,hyper=info,reqwest=info,hickory_server=warn")
        .with_test_writer()
        .try_init();
}
