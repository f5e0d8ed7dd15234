//! What the workspace's tests share: a real devagent on a loopback port,
//! bounded polling, and the small HTTP helpers tests use to drive it.
//!
//! Test-only code: it panics with a message where a test should fail.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::future::Future;
use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use devagent::{Agent, AgentHandle};

pub mod bench;

/// A devagent on `port` (0: any free one) with test-friendly minimums
/// (check interval 100 ms, deregister-critical-after 500 ms), retrying for
/// up to 5 s while a previous agent on that port releases it.
pub async fn agent_on(port: u16) -> AgentHandle {
    let mut last = None;
    for _ in 0..200 {
        match Agent::builder()
            .http_port(port)
            .dns_port(0)
            .node_name("node1")
            .min_check_interval(Duration::from_millis(100))
            .min_deregister_after(Duration::from_millis(500))
            .start()
            .await
        {
            Ok(a) => return a,
            Err(e) => last = Some(e),
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("devagent did not start on port {port}: {last:?}");
}

/// Polls `f` every 10 ms for up to `secs` seconds; whether it became true.
pub async fn eventually<F, Fut>(secs: u64, mut f: F) -> bool
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + Duration::from_secs(secs);
    while tokio::time::Instant::now() < deadline {
        if f().await {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    false
}

/// A file's text, or empty when it cannot be read (yet).
pub fn read(p: &Path) -> String {
    std::fs::read_to_string(p).unwrap_or_default()
}

/// Whether `p` comes to contain `needle` within `secs` seconds.
pub async fn file_contains(p: &Path, needle: &str, secs: u64) -> bool {
    eventually(secs, || async { read(p).contains(needle) }).await
}

/// Registers a service through the agent API at `base` (`http://host:port`).
pub async fn register(client: &reqwest::Client, base: &str, body: &str) {
    let r = client
        .put(format!("{base}/v1/agent/service/register"))
        .body(body.to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
}

/// `PUT url` with `body`; the status code.
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

/// A loopback port that was free a moment ago.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A tiny HTTP server answering `200 <name>` on every path; its address and task.
pub async fn http_server(name: &'static str) -> (SocketAddr, tokio::task::JoinHandle<()>) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let task = tokio::spawn(async move {
        while let Ok((mut sock, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut buf = [0u8; 4096];
                loop {
                    match sock.read(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(_) => {
                            let resp = format!(
                                "HTTP/1.1 200 OK\r\ncontent-length: {}\r\n\r\n{name}",
                                name.len()
                            );
                            if sock.write_all(resp.as_bytes()).await.is_err() {
                                return;
                            }
                        }
                    }
                }
            });
        }
    });
    (addr, task)
}
