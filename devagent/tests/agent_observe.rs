//! `/v1/agent/metrics`, `/v1/agent/monitor`, `/v1/agent/host` and
//! `force-leave`, as Consul 1.21 answers them.
#![allow(clippy::unwrap_used)]

mod support;

use std::time::Duration;

use support::acl::{acl_agent, call, denied, token};
use support::start;

#[tokio::test]
async fn metrics_in_json_and_prometheus() {
    let a = start().await;
    a.register(r#"{"Name":"web","Port":80}"#).await;
    let r = a.get("/v1/agent/metrics").await;
    assert_eq!(r.status, 200, "{}", r.body);
    let m = r.json();
    for key in ["Timestamp", "Gauges", "Points", "Counters", "Samples"] {
        assert!(m.get(key).is_some(), "{key} missing: {m}");
    }
    let gauge = |name: &str| {
        m["Gauges"]
            .as_array()
            .unwrap()
            .iter()
            .find(|g| g["Name"] == name)
            .cloned()
            .unwrap_or_else(|| panic!("{name} missing"))
    };
    // The consul service and web.
    assert_eq!(gauge("consul.state.services")["Value"], 2.0);
    assert_eq!(gauge("consul.state.nodes")["Value"], 1.0);
    let r = a.get("/v1/agent/metrics?format=prometheus").await;
    assert_eq!(r.status, 200);
    assert!(r
        .header("content-type")
        .unwrap()
        .starts_with("text/plain; version=0.0.4"));
    assert!(
        r.body.contains("# TYPE consul_state_services gauge"),
        "{}",
        r.body
    );
    assert!(r.body.contains("\nconsul_state_services 2\n"), "{}", r.body);
    assert!(
        r.body.contains("consul_catalog_checks{status=\"passing\"}"),
        "{}",
        r.body
    );
    let r = a.get("/v1/agent/metrics?format=xml").await;
    assert_eq!(r.status, 400, "{}", r.body);
    a.shutdown().await;
}

#[tokio::test]
async fn monitor_streams_log_lines_at_the_level_asked() {
    let a = start().await;
    let r = a.get("/v1/agent/monitor?loglevel=loud").await;
    assert_eq!(r.status, 400);
    assert_eq!(r.body, "Unknown log level: loud");
    let mut resp = a
        .http
        .get(format!("{}/v1/agent/monitor?loglevel=debug", a.base))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    // A request made while the monitor listens is logged at DEBUG.
    a.get("/v1/kv/some/key").await;
    let mut seen = String::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    while !seen.contains("url=/v1/kv/some/key") {
        let chunk = tokio::time::timeout_at(deadline, resp.chunk())
            .await
            .expect("a log line within 5 s")
            .unwrap()
            .expect("the stream stays open");
        seen.push_str(&String::from_utf8_lossy(&chunk));
        a.get("/v1/kv/some/key").await;
    }
    let line = seen
        .lines()
        .find(|l| l.contains("url=/v1/kv/some/key"))
        .unwrap();
    assert!(
        line.contains("[DEBUG] agent.http: Request finished: method=GET url=/v1/kv/some/key"),
        "{line}"
    );
    // At the default level (INFO) the DEBUG request lines are not sent.
    let mut info = a
        .http
        .get(format!("{}/v1/agent/monitor?logjson", a.base))
        .send()
        .await
        .unwrap();
    a.get("/v1/kv/other").await;
    let nothing = tokio::time::timeout(Duration::from_millis(300), info.chunk()).await;
    assert!(nothing.is_err(), "no INFO line was logged: {nothing:?}");
    a.shutdown().await;
}

#[tokio::test]
async fn host_describes_the_machine() {
    let a = start().await;
    let r = a.get("/v1/agent/host").await;
    assert_eq!(r.status, 200, "{}", r.body);
    let h = r.json();
    assert!(h["Memory"]["total"].as_u64().unwrap() > 0, "{h}");
    assert!(!h["CPU"].as_array().unwrap().is_empty(), "{h}");
    assert_eq!(h["Host"]["os"], "linux");
    assert!(h["Host"]["uptime"].as_u64().unwrap() > 0);
    assert!(h["Disk"]["total"].as_u64().unwrap() > 0, "{h}");
    assert!(h["CollectionTime"].as_u64().unwrap() > 0);
    a.shutdown().await;
}

#[tokio::test]
async fn force_leave_of_an_unknown_node_is_an_error() {
    let a = start().await;
    let r = a.put("/v1/agent/force-leave/ghost", "").await;
    assert_eq!(r.status, 500);
    assert_eq!(r.body, "agent: No node found with name 'ghost'");
    let r = a.put("/v1/agent/force-leave/node1", "").await;
    assert_eq!(r.status, 200, "{}", r.body);
    a.shutdown().await;
}

#[tokio::test]
async fn acl_rules_of_metrics_monitor_and_host() {
    let a = acl_agent().await;
    let none = token(&a, r#"key_prefix "" { policy = "read" }"#).await;
    denied(
        &call(&a, "GET", "/v1/agent/metrics", &none, None).await,
        "agent:read",
        "node1",
    );
    denied(
        &call(&a, "GET", "/v1/agent/monitor", &none, None).await,
        "agent:read",
        "node1",
    );
    denied(
        &call(&a, "GET", "/v1/agent/host", &none, None).await,
        "operator:read",
        "",
    );
    let agent = token(&a, r#"agent_prefix "" { policy = "read" }"#).await;
    assert_eq!(
        call(&a, "GET", "/v1/agent/metrics", &agent, None)
            .await
            .status,
        200
    );
    denied(
        &call(&a, "GET", "/v1/agent/host", &agent, None).await,
        "operator:read",
        "",
    );
    let op = token(&a, r#"operator = "read""#).await;
    assert_eq!(
        call(&a, "GET", "/v1/agent/host", &op, None).await.status,
        200
    );
    a.shutdown().await;
}

#[tokio::test]
async fn monitors_are_bounded() {
    let a = start().await;
    let mut open = Vec::new();
    for _ in 0..64 {
        let r = a
            .http
            .get(format!("{}/v1/agent/monitor", a.base))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        open.push(r);
    }
    let r = a.get("/v1/agent/monitor").await;
    assert_eq!(r.status, 429, "{}", r.body);
    assert!(r.body.contains("64 monitors"), "{}", r.body);
    // Closing one frees its place.
    drop(open.pop());
    let ok = support::eventually(5, || async {
        let r = a
            .http
            .get(format!("{}/v1/agent/monitor", a.base))
            .timeout(Duration::from_millis(300))
            .send()
            .await;
        matches!(r, Ok(r) if r.status() == 200)
    })
    .await;
    assert!(ok, "a monitor opens again once one closed");
    drop(open);
    a.shutdown().await;
}
