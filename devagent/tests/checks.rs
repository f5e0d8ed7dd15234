//! The agent runs HTTP, TCP and TTL checks the way Consul does.
#![allow(clippy::unwrap_used)]

mod support;

use std::sync::atomic::{AtomicU16, Ordering};
use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;
use support::{eventually, start, start_with, TestAgent};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

/// A tiny HTTP server answering every request with the current status code.
async fn status_server(status: Arc<AtomicU16>) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((mut sock, _)) = listener.accept().await {
            let code = status.load(Ordering::SeqCst);
            tokio::spawn(async move {
                let mut buf = [0u8; 2048];
                let _ = sock.read(&mut buf).await;
                let body = format!("status {code}");
                let resp = format!(
                    "HTTP/1.1 {code} X\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = sock.write_all(resp.as_bytes()).await;
            });
        }
    });
    format!("http://{addr}/health")
}

async fn check(a: &TestAgent, id: &str) -> Value {
    a.get("/v1/agent/checks").await.json()[id].clone()
}

async fn wait_status(a: &TestAgent, id: &str, status: &str) -> Value {
    let ok = eventually(5, || async { check(a, id).await["Status"] == status }).await;
    let c = check(a, id).await;
    assert!(ok, "check {id} never became {status}: {c}");
    c
}

#[tokio::test]
async fn http_checks_map_status_codes_and_report_output() {
    let a = start().await;
    let code = Arc::new(AtomicU16::new(200));
    let url = status_server(code.clone()).await;
    a.register(&format!(
        r#"{{"Name":"web","Check":{{"HTTP":"{url}","Interval":"100ms"}}}}"#
    ))
    .await;
    let c = wait_status(&a, "service:web", "passing").await;
    assert_eq!(
        c["Output"],
        format!("HTTP GET {url}: 200 OK Output: status 200")
    );
    assert_eq!(c["Type"], "http");
    code.store(429, Ordering::SeqCst);
    wait_status(&a, "service:web", "warning").await;
    code.store(503, Ordering::SeqCst);
    let c = wait_status(&a, "service:web", "critical").await;
    assert!(c["Output"].as_str().unwrap().contains("503"));
    a.shutdown().await;
}

#[tokio::test]
async fn tcp_checks_pass_while_the_port_accepts() {
    let a = start().await;
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    a.register(&format!(
        r#"{{"Name":"db","Check":{{"TCP":"{addr}","Interval":"100ms","Timeout":"1s"}}}}"#
    ))
    .await;
    let c = wait_status(&a, "service:db", "passing").await;
    assert_eq!(c["Output"], format!("TCP connect {addr}: Success"));
    drop(listener);
    wait_status(&a, "service:db", "critical").await;
    a.shutdown().await;
}

#[tokio::test]
async fn ttl_checks_expire_with_consuls_output() {
    let a = start().await;
    a.register(r#"{"Name":"job","Check":{"TTL":"300ms"}}"#)
        .await;
    a.put("/v1/agent/check/pass/service:job?note=working", "")
        .await;
    assert_eq!(check(&a, "service:job").await["Status"], "passing");
    let c = wait_status(&a, "service:job", "critical").await;
    assert_eq!(
        c["Output"],
        "TTL expired (last output before timeout follows): working"
    );
    a.shutdown().await;
}

#[tokio::test]
async fn long_critical_services_are_deregistered() {
    let a = start_with(devagent::Agent::builder().min_deregister_after(Duration::from_millis(100)))
        .await;
    a.register(
        r#"{"Name":"flaky","Check":{"TTL":"10s","DeregisterCriticalServiceAfter":"300ms"}}"#,
    )
    .await;
    let gone = eventually(5, || async {
        a.get("/v1/agent/service/flaky").await.status == 404
    })
    .await;
    assert!(
        gone,
        "a service critical for longer than DeregisterCriticalServiceAfter is removed"
    );
    a.shutdown().await;
}

#[tokio::test]
async fn intervals_below_the_minimum_are_raised() {
    // A builder left alone keeps Consul's 1s minimum.
    let agent = devagent::Agent::builder()
        .http_port(0)
        .without_dns()
        .start()
        .await
        .unwrap();
    let http = reqwest::Client::new();
    let base = agent.http_url();
    http.put(format!("{base}/v1/agent/service/register"))
        .body(r#"{"Name":"x","Check":{"TCP":"127.0.0.1:1","Interval":"10ms"}}"#)
        .send()
        .await
        .unwrap();
    let checks: Value = http
        .get(format!("{base}/v1/agent/checks"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(checks["service:x"]["Interval"], "1s");
    agent.shutdown().await;
}
