//! Real components for registrar's tests: an in-process devagent on a free
//! loopback port, the registrar binary, and bounded waits.
#![allow(dead_code, unused_imports, clippy::unwrap_used, clippy::expect_used)]

use std::net::SocketAddr;
use std::path::Path;
use std::process::{ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

pub use testkit::{agent_on, eventually, free_port};

/// The agent's HTTP API, as a test reads it.
#[derive(Clone)]
pub struct Api {
    pub base: String,
    http: reqwest::Client,
}

impl Api {
    pub fn new(addr: SocketAddr) -> Api {
        Api {
            base: format!("http://{addr}"),
            http: reqwest::Client::builder()
                .no_proxy()
                .timeout(Duration::from_secs(5))
                .build()
                .unwrap(),
        }
    }

    pub async fn get(&self, path: &str) -> Option<serde_json::Value> {
        let r = self
            .http
            .get(format!("{}{path}", self.base))
            .send()
            .await
            .ok()?;
        if !r.status().is_success() {
            return None;
        }
        r.json().await.ok()
    }

    /// `/v1/health/service/<name>?passing`: the instances passing.
    pub async fn passing(&self, name: &str) -> Vec<serde_json::Value> {
        match self
            .get(&format!("/v1/health/service/{name}?passing"))
            .await
        {
            Some(serde_json::Value::Array(v)) => v,
            _ => Vec::new(),
        }
    }

    /// `/v1/agent/services`.
    pub async fn services(&self) -> serde_json::Map<String, serde_json::Value> {
        match self.get("/v1/agent/services").await {
            Some(serde_json::Value::Object(m)) => m,
            _ => serde_json::Map::new(),
        }
    }

    pub async fn put_json(&self, path: &str, body: &serde_json::Value) -> u16 {
        self.http
            .put(format!("{}{path}", self.base))
            .json(body)
            .send()
            .await
            .map(|r| r.status().as_u16())
            .unwrap_or(0)
    }
}

/// `dig @127.0.0.1 -p PORT <name> SRV +short`: the answer lines.
pub async fn dig_srv(dns: SocketAddr, name: &str) -> Vec<String> {
    let out = Command::new("dig")
        .args([
            &format!("@{}", dns.ip()),
            "-p",
            &dns.port().to_string(),
            name,
            "SRV",
            "+short",
            "+time=1",
            "+tries=1",
        ])
        .output()
        .await
        .expect("dig is not installed: run .ci/test, which installs what the tests need (or apt-get install dnsutils)");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with(';'))
        .map(str::to_string)
        .collect()
}

/// The registrar binary, running; killed on drop.
pub struct Registrar {
    pub child: Child,
    pub stderr: Arc<Mutex<String>>,
}

impl Registrar {
    /// Starts `registrar ARGS` against the agent at `http`.
    pub fn start(http: SocketAddr, args: &[&str]) -> Registrar {
        Registrar::start_in(http, args, None)
    }

    pub fn start_in(http: SocketAddr, args: &[&str], cwd: Option<&Path>) -> Registrar {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_registrar"));
        cmd.args(args)
            .env("CONSUL_HTTP_ADDR", http.to_string())
            .env_remove("CONSUL_HTTP_TOKEN")
            .env("RUST_LOG", "info")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        if let Some(d) = cwd {
            cmd.current_dir(d);
        }
        let mut child = cmd.spawn().expect("registrar starts");
        let stderr = Arc::new(Mutex::new(String::new()));
        let sink = Arc::clone(&stderr);
        let pipe = child.stderr.take().unwrap();
        tokio::spawn(async move {
            let mut lines = BufReader::new(pipe).lines();
            while let Ok(Some(line)) = lines.next_line().await {
                eprintln!("[registrar] {line}");
                let mut s = sink.lock().unwrap();
                s.push_str(&line);
                s.push('\n');
            }
        });
        Registrar { child, stderr }
    }

    pub fn pid(&self) -> i32 {
        self.child.id().unwrap() as i32
    }

    pub fn signal(&self, sig: nix::sys::signal::Signal) {
        nix::sys::signal::kill(nix::unistd::Pid::from_raw(self.pid()), sig).unwrap();
    }

    /// Waits (bounded) for the process to exit.
    pub async fn wait(&mut self, secs: u64) -> ExitStatus {
        tokio::time::timeout(Duration::from_secs(secs), self.child.wait())
            .await
            .expect("registrar exits in time")
            .unwrap()
    }

    pub fn log(&self) -> String {
        self.stderr.lock().unwrap().clone()
    }

    /// Waits until the log holds `text`.
    pub async fn logged(&self, secs: u64, text: &str) -> bool {
        eventually(secs, || async { self.log().contains(text) }).await
    }
}
