//! Shared helpers: a devagent on 127.0.0.1 port 0 and a small HTTP client.
#![allow(dead_code, unused_imports, clippy::unwrap_used, clippy::expect_used)]

pub mod acl;

use std::time::Duration;

use devagent::{Agent, AgentHandle};
use serde_json::Value;
pub use testkit::eventually;

pub struct TestAgent {
    pub handle: AgentHandle,
    pub http: reqwest::Client,
    pub base: String,
}

pub async fn start() -> TestAgent {
    start_with(Agent::builder()).await
}

pub async fn start_with(builder: devagent::AgentBuilder) -> TestAgent {
    let handle = builder
        .http_port(0)
        .dns_port(0)
        .node_name("node1")
        .min_check_interval(Duration::from_millis(100))
        .start()
        .await
        .expect("devagent starts");
    let base = handle.http_url();
    TestAgent {
        handle,
        http: reqwest::Client::new(),
        base,
    }
}

pub struct Reply {
    pub status: u16,
    pub headers: reqwest::header::HeaderMap,
    pub body: String,
}

impl Reply {
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.body))
    }

    pub fn header(&self, name: &str) -> Option<String> {
        self.headers
            .get(name)
            .map(|v| v.to_str().unwrap().to_string())
    }

    pub fn index(&self) -> u64 {
        self.header("X-Consul-Index")
            .expect("X-Consul-Index")
            .parse()
            .unwrap()
    }
}

impl TestAgent {
    pub async fn req(&self, method: &str, path: &str, body: Option<&str>) -> Reply {
        let m = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
        let mut r = self.http.request(m, format!("{}{}", self.base, path));
        if let Some(b) = body {
            r = r.body(b.to_string());
        }
        let resp = r.send().await.expect("request sent");
        Reply {
            status: resp.status().as_u16(),
            headers: resp.headers().clone(),
            body: resp.text().await.unwrap(),
        }
    }

    pub async fn get(&self, path: &str) -> Reply {
        self.req("GET", path, None).await
    }

    pub async fn put(&self, path: &str, body: &str) -> Reply {
        self.req("PUT", path, Some(body)).await
    }

    pub async fn register(&self, body: &str) {
        let r = self.put("/v1/agent/service/register", body).await;
        assert_eq!(r.status, 200, "register failed: {}", r.body);
    }

    pub async fn shutdown(self) {
        self.handle.shutdown().await;
    }
}
