//! Real `grpc-worker` processes registered with a devagent on loopback:
//! what the failover test and the benchmark share.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::net::SocketAddr;
use std::process::Stdio;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

/// One worker process.
pub struct Worker {
    pub id: String,
    pub addr: SocketAddr,
    pub child: Child,
}

impl Worker {
    /// Kills it with SIGKILL (no deregistration: its gRPC check fails).
    pub async fn kill(&mut self) {
        let _ = self.child.start_kill();
        let _ = self.child.wait().await;
    }
}

/// Starts `grpc-worker --id id` against the agent at `consul`, with a gRPC
/// check every `interval`; returns once it is registered.
pub async fn spawn(consul: SocketAddr, id: &str, interval: Duration) -> Worker {
    let mut child = Command::new(env!("CARGO_BIN_EXE_grpc-worker"))
        .arg("--id")
        .arg(id)
        .arg("--check-interval")
        .arg(format!("{}ms", interval.as_millis()))
        .env("CONSUL_HTTP_ADDR", format!("http://{consul}"))
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .kill_on_drop(true)
        .spawn()
        .expect("starting grpc-worker");
    let stdout = child.stdout.take().unwrap();
    let mut lines = BufReader::new(stdout).lines();
    let line = tokio::time::timeout(Duration::from_secs(20), lines.next_line())
        .await
        .expect("grpc-worker did not start in 20 s")
        .unwrap()
        .expect("grpc-worker exited");
    let addr: SocketAddr = line
        .rsplit(' ')
        .next()
        .and_then(|a| a.parse().ok())
        .unwrap_or_else(|| panic!("unexpected first line {line:?}"));
    Worker {
        id: id.to_string(),
        addr,
        child,
    }
}

/// A dcy client for the agent at `addr`.
pub fn client(addr: SocketAddr) -> dcy::Client {
    let cfg = dcy::Config::builder()
        .address(&format!("http://{addr}"))
        .build()
        .unwrap();
    dcy::Client::new(cfg).unwrap()
}

/// Waits until discovery lists exactly `ids` (sorted) as passing.
pub async fn wait_for_ids(service: &dcy::Service, ids: &[&str], secs: u64) -> bool {
    let mut want: Vec<String> = ids.iter().map(|s| s.to_string()).collect();
    want.sort();
    testkit::eventually(secs, || {
        let mut now: Vec<String> = service
            .instances()
            .as_slice()
            .iter()
            .map(|i| i.id.clone())
            .collect();
        now.sort();
        let done = now == want;
        async move { done }
    })
    .await
}
