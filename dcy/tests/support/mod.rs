//! A devagent on 127.0.0.1 port 0 and a dcy client pointed at it.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::net::SocketAddr;
use std::time::Duration;

use devagent::{Agent, AgentHandle};

pub struct Env {
    pub agent: Option<AgentHandle>,
    pub client: dcy::Client,
    pub http: SocketAddr,
}

pub async fn agent_on(port: u16) -> AgentHandle {
    // After a restart the old socket may linger for a moment: retry briefly.
    let mut last = None;
    for _ in 0..100 {
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
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("devagent did not start: {last:?}");
}

pub fn client_for(addr: SocketAddr) -> dcy::Client {
    let cfg = dcy::Config::builder()
        .address(&format!("http://{addr}"))
        .watch_wait(Duration::from_secs(10))
        .request_timeout(Duration::from_secs(5))
        .build()
        .unwrap();
    dcy::Client::new(cfg).unwrap()
}

pub async fn start() -> Env {
    let agent = agent_on(0).await;
    let http = agent.http_addr();
    Env {
        client: client_for(http),
        agent: Some(agent),
        http,
    }
}

impl Env {
    /// Stops the agent (all state is lost, as with a real agent restart in dev mode).
    pub async fn stop_agent(&mut self) {
        if let Some(a) = self.agent.take() {
            a.shutdown().await;
        }
    }

    /// Starts a fresh agent on the same port.
    pub async fn restart_agent(&mut self) {
        self.stop_agent().await;
        self.agent = Some(agent_on(self.http.port()).await);
    }

    pub fn dns(&self) -> SocketAddr {
        self.agent.as_ref().unwrap().dns_addr().unwrap()
    }

    pub async fn shutdown(mut self) {
        self.stop_agent().await;
    }
}

/// Polls `f` every 10 ms for up to `secs` seconds.
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
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    false
}

/// A tiny HTTP server answering `200 <name>` on every path; returns its address.
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
