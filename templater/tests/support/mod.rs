//! A devagent on port 0 and helpers to run templater in-process or as a binary.
#![allow(dead_code, unused_imports, clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use clap::Parser;
use templater::Event;
pub use testkit::{agent_on, eventually, file_contains, put, read, register};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

/// templater running in-process.
pub struct Templater {
    pub tx: mpsc::UnboundedSender<Event>,
    pub stop: CancellationToken,
    pub task: tokio::task::JoinHandle<templater::Result<i32>>,
}

/// Runs templater in-process with these arguments (Go-style flags allowed).
pub fn spawn(args: &[&str]) -> Templater {
    let argv = templater::normalize(
        std::iter::once("templater".to_string()).chain(args.iter().map(|s| s.to_string())),
    )
    .unwrap();
    let cli = templater::Cli::try_parse_from(argv.args).unwrap();
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

pub fn trace() {
    let _ = tracing_subscriber::fmt()
        .with_env_filter("debug,hyper=info,reqwest=info,hickory_server=warn")
        .with_test_writer()
        .try_init();
}
