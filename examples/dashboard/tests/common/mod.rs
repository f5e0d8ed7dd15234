//! What the dashboard's tests share: an in-process devagent, services
//! registered through its HTTP API with TTL checks, the dashboard run
//! in-process, and a small Server-Sent Events reader. Every wait is bounded.
#![allow(dead_code, clippy::unwrap_used)]

use std::net::SocketAddr;
use std::pin::Pin;
use std::time::Duration;

use dashboard::{InstanceView, ServiceView, Snapshot};
use futures_util::{Stream, StreamExt};
use serde_json::{json, Value};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

/// devagent plus the dashboard, both in-process.
pub struct Harness {
    /// The agent; `None` once shut down.
    pub agent: Option<devagent::AgentHandle>,
    /// `http://<agent>`.
    pub consul: String,
    /// Where the dashboard listens.
    pub addr: SocketAddr,
    /// An HTTP client.
    pub http: reqwest::Client,
    stop: CancellationToken,
    dashboard: Option<JoinHandle<anyhow::Result<()>>>,
}

impl Harness {
    /// Starts devagent and the dashboard with `history` samples per service.
    pub async fn start(history: u32) -> Harness {
        let agent = devagent::Agent::builder()
            .http_port(0)
            .without_dns()
            .min_check_interval(Duration::from_millis(200))
            .start()
            .await
            .unwrap();
        let consul = agent.http_url();
        let mut service = kit::ServiceArgs::local(&consul);
        service.check_interval = Duration::from_millis(200);
        let mut args = dashboard::Args::new(service);
        args.watch_wait = Duration::from_secs(2);
        args.history = history;
        let stop = CancellationToken::new();
        let (tx, rx) = tokio::sync::oneshot::channel();
        let s = stop.clone();
        let task = tokio::spawn(async move {
            dashboard::run(args, async move { s.cancelled().await }, move |a| {
                let _ = tx.send(a);
            })
            .await
        });
        let addr = tokio::time::timeout(Duration::from_secs(20), rx)
            .await
            .expect("the dashboard is ready within 20 s")
            .expect("the dashboard started");
        Harness {
            agent: Some(agent),
            consul,
            addr,
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(10))
                .build()
                .unwrap(),
            stop,
            dashboard: Some(task),
        }
    }

    /// `http://<dashboard><path>`.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    async fn put(&self, path: &str, body: Option<Value>) {
        let mut req = self.http.put(format!("{}{path}", self.consul));
        if let Some(b) = body {
            req = req.json(&b);
        }
        let resp = req.send().await.unwrap();
        let status = resp.status();
        let text = resp.text().await.unwrap_or_default();
        assert!(status.is_success(), "PUT {path}: {status}: {text}");
    }

    /// Registers an instance of `name` with a passing TTL check named `heartbeat`.
    pub async fn register(&self, id: &str, name: &str, port: u16, tags: &[&str], note: &str) {
        self.put(
            "/v1/agent/service/register",
            Some(json!({
                "ID": id,
                "Name": name,
                "Address": "127.0.0.1",
                "Port": port,
                "Tags": tags,
                "Check": { "Name": "heartbeat", "TTL": "120s" },
            })),
        )
        .await;
        self.pass(id, note).await;
    }

    async fn check(&self, verb: &str, id: &str, note: &str) {
        let note: String = form_encode(note);
        self.put(
            &format!("/v1/agent/check/{verb}/service:{id}?note={note}"),
            None,
        )
        .await;
    }

    /// Marks the instance's TTL check passing.
    pub async fn pass(&self, id: &str, note: &str) {
        self.check("pass", id, note).await;
    }

    /// Marks the instance's TTL check warning.
    pub async fn warn(&self, id: &str, note: &str) {
        self.check("warn", id, note).await;
    }

    /// Marks the instance's TTL check critical.
    pub async fn fail(&self, id: &str, note: &str) {
        self.check("fail", id, note).await;
    }

    /// Puts the instance in maintenance.
    pub async fn maintenance(&self, id: &str, reason: &str) {
        let reason = form_encode(reason);
        self.put(
            &format!("/v1/agent/service/maintenance/{id}?enable=true&reason={reason}"),
            None,
        )
        .await;
    }

    /// Deregisters the instance.
    pub async fn deregister(&self, id: &str) {
        self.put(&format!("/v1/agent/service/deregister/{id}"), None)
            .await;
    }

    /// `GET /api/snapshot`.
    pub async fn snapshot(&self) -> Result<Snapshot, String> {
        let resp = self
            .http
            .get(self.url("/api/snapshot"))
            .send()
            .await
            .map_err(|e| e.to_string())?;
        resp.json().await.map_err(|e| e.to_string())
    }

    /// Polls `/api/snapshot` every 50 ms until `pred` holds; panics after
    /// 15 s naming `what` and the last snapshot seen.
    pub async fn snapshot_until(&self, what: &str, pred: impl Fn(&Snapshot) -> bool) -> Snapshot {
        let timeout = Duration::from_secs(15);
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let last = match self.snapshot().await {
                Ok(s) if pred(&s) => return s,
                Ok(s) => summary(&s),
                Err(e) => e,
            };
            if tokio::time::Instant::now() >= deadline {
                panic!("timed out after {timeout:?} waiting for {what}; last seen: {last}");
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Stops the agent: Consul becomes unreachable.
    pub async fn stop_agent(&mut self) {
        if let Some(a) = self.agent.take() {
            tokio::time::timeout(Duration::from_secs(15), a.shutdown())
                .await
                .expect("devagent stops within 15 s");
        }
    }

    /// Stops the dashboard and returns what `run` returned.
    pub async fn stop_dashboard(&mut self) -> anyhow::Result<()> {
        self.stop.cancel();
        let task = self.dashboard.take().expect("the dashboard runs");
        tokio::time::timeout(Duration::from_secs(20), task)
            .await
            .expect("the dashboard stops within 20 s")
            .expect("the dashboard task did not panic")
    }

    /// Stops everything.
    pub async fn shutdown(mut self) {
        if self.dashboard.is_some() {
            self.stop_dashboard().await.unwrap();
        }
        self.stop_agent().await;
    }
}

impl Drop for Harness {
    fn drop(&mut self) {
        // On a failed assertion: stop the dashboard's tasks with the test.
        self.stop.cancel();
    }
}

fn form_encode(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(char::from(b))
            }
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

/// A one-line description of a snapshot, for failure messages.
pub fn summary(s: &Snapshot) -> String {
    let services: Vec<String> = s
        .services
        .iter()
        .map(|svc| {
            let inst: Vec<String> = svc
                .instances
                .iter()
                .map(|i| format!("{}={}", i.id, i.status.as_str()))
                .collect();
            format!("{}[{}]", svc.name, inst.join(","))
        })
        .collect();
    format!(
        "v{} ready={} stale={} age={:?} error={:?} services: {}",
        s.version,
        s.freshness.ready,
        s.freshness.stale,
        s.freshness.age_seconds,
        s.freshness.error,
        services.join(" ")
    )
}

/// The service named `name`.
pub fn service<'a>(s: &'a Snapshot, name: &str) -> Option<&'a ServiceView> {
    s.services.iter().find(|v| v.name == name)
}

/// The instance `id` of any service.
pub fn instance<'a>(s: &'a Snapshot, id: &str) -> Option<&'a InstanceView> {
    s.services
        .iter()
        .flat_map(|v| &v.instances)
        .find(|i| i.id == id)
}

type ByteStream = Pin<Box<dyn Stream<Item = reqwest::Result<Vec<u8>>> + Send>>;

/// A reader of a Server-Sent Events stream.
pub struct EventStream {
    stream: ByteStream,
    buf: String,
}

/// One event: its type and its data.
#[derive(Debug)]
pub struct Event {
    /// `event:` (`message` when absent).
    pub kind: String,
    /// `data:`, lines joined.
    pub data: String,
}

impl Event {
    /// The data as JSON.
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.data)
            .unwrap_or_else(|e| panic!("{} event is not JSON ({e}): {}", self.kind, self.data))
    }

    /// The data as a snapshot.
    pub fn snapshot(&self) -> Snapshot {
        assert_eq!(self.kind, "snapshot");
        serde_json::from_str(&self.data)
            .unwrap_or_else(|e| panic!("not a snapshot ({e}): {}", self.data))
    }
}

impl EventStream {
    /// `GET url` and checks it is an event stream.
    pub async fn connect(url: &str) -> EventStream {
        let resp = reqwest::Client::new()
            .get(url)
            .header("accept", "text/event-stream")
            .send()
            .await
            .unwrap();
        assert!(resp.status().is_success(), "GET {url}: {}", resp.status());
        let ctype = resp
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_string();
        assert!(
            ctype.starts_with("text/event-stream"),
            "content-type {ctype}"
        );
        EventStream {
            stream: Box::pin(resp.bytes_stream().map(|r| r.map(|b| b.to_vec()))),
            buf: String::new(),
        }
    }

    /// The next event (`Some(None)`: the stream ended), or `None` at `deadline`.
    async fn next_by(&mut self, deadline: tokio::time::Instant) -> Option<Option<Event>> {
        loop {
            while let Some(end) = self.buf.find("\n\n") {
                let block: String = self.buf.drain(..end + 2).collect();
                let mut kind = String::from("message");
                let mut data: Vec<&str> = Vec::new();
                for line in block.lines() {
                    if let Some(v) = line.strip_prefix("event:") {
                        kind = v.trim_start().to_string();
                    } else if let Some(v) = line.strip_prefix("data:") {
                        data.push(v.strip_prefix(' ').unwrap_or(v));
                    }
                }
                if !data.is_empty() {
                    return Some(Some(Event {
                        kind,
                        data: data.join("\n"),
                    }));
                }
            }
            match tokio::time::timeout_at(deadline, self.stream.next()).await {
                Err(_) => return None,
                Ok(None) => return Some(None),
                Ok(Some(Err(e))) => panic!("reading the event stream: {e}"),
                Ok(Some(Ok(bytes))) => {
                    self.buf
                        .push_str(&String::from_utf8_lossy(&bytes).replace("\r\n", "\n"));
                }
            }
        }
    }

    /// The next event, `None` when the stream ended; panics after `timeout`.
    pub async fn next(&mut self, timeout: Duration) -> Option<Event> {
        self.next_by(tokio::time::Instant::now() + timeout)
            .await
            .unwrap_or_else(|| panic!("no event within {timeout:?}"))
    }

    /// Reads events until `pred` holds for one, within `timeout`.
    pub async fn until(
        &mut self,
        timeout: Duration,
        what: &str,
        mut pred: impl FnMut(&Event) -> bool,
    ) -> Event {
        let deadline = tokio::time::Instant::now() + timeout;
        let mut last = String::from("nothing");
        loop {
            let ev = self
                .next_by(deadline)
                .await
                .unwrap_or_else(|| {
                    panic!("timed out after {timeout:?} waiting for {what}; last event: {last}")
                })
                .unwrap_or_else(|| panic!("the stream ended while waiting for {what}"));
            if pred(&ev) {
                return ev;
            }
            last = if ev.kind == "snapshot" {
                summary(&ev.snapshot())
            } else {
                format!("{}: {}", ev.kind, ev.data)
            };
        }
    }

    /// Reads events until a snapshot for which `pred` holds.
    pub async fn until_snapshot(
        &mut self,
        what: &str,
        pred: impl Fn(&Snapshot) -> bool,
    ) -> Snapshot {
        self.until(Duration::from_secs(15), what, |ev| {
            ev.kind == "snapshot" && pred(&ev.snapshot())
        })
        .await
        .snapshot()
    }
}
