//! A devagent on 127.0.0.1 port 0 and a dcy client pointed at it.
#![allow(dead_code, unused_imports, clippy::unwrap_used, clippy::expect_used)]

use std::net::SocketAddr;
use std::time::Duration;

use devagent::AgentHandle;
pub use testkit::{agent_on, eventually, http_server};

pub struct Env {
    pub agent: Option<AgentHandle>,
    pub client: dcy::Client,
    pub http: SocketAddr,
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
