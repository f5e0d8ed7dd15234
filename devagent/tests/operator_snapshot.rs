//! `/v1/operator/raft/configuration`, `/v1/operator/autopilot/*`,
//! `/v1/internal/ui/services` and `/v1/snapshot` (save, then restore into an
//! empty agent with everything back and indexes kept).
#![allow(clippy::unwrap_used)]

mod support;

use support::acl::{acl_agent, call, denied, token, MGMT};
use support::start;

#[tokio::test]
async fn raft_and_autopilot_describe_one_healthy_leader() {
    let a = start().await;
    let r = a.get("/v1/operator/raft/configuration").await.json();
    assert_eq!(r["Servers"].as_array().unwrap().len(), 1);
    assert_eq!(r["Servers"][0]["Node"], "node1");
    assert_eq!(r["Servers"][0]["Leader"], true);
    assert_eq!(r["Servers"][0]["Voter"], true);
    let h = a.get("/v1/operator/autopilot/health").await.json();
    assert_eq!(h["Healthy"], true);
    assert_eq!(h["FailureTolerance"], 0);
    assert_eq!(h["Servers"][0]["Leader"], true);
    let s = a.get("/v1/operator/autopilot/state").await.json();
    let leader = s["Leader"].as_str().unwrap();
    assert_eq!(s["Servers"][leader]["Status"], "leader");
    let c = a.get("/v1/operator/autopilot/configuration").await.json();
    assert_eq!(c["CleanupDeadServers"], true);
    assert_eq!(c["LastContactThreshold"], "200ms");
    let idx = c["ModifyIndex"].as_u64().unwrap();
    let body = r#"{"CleanupDeadServers":false,"LastContactThreshold":"1s","MaxTrailingLogs":100}"#;
    assert_eq!(
        a.put("/v1/operator/autopilot/configuration?cas=999999", body)
            .await
            .body,
        "false\n"
    );
    assert_eq!(
        a.put(
            &format!("/v1/operator/autopilot/configuration?cas={idx}"),
            body
        )
        .await
        .body,
        "true\n"
    );
    let c = a.get("/v1/operator/autopilot/configuration").await.json();
    assert_eq!(c["CleanupDeadServers"], false);
    assert_eq!(c["MaxTrailingLogs"], 100);
    let r = a
        .put(
            "/v1/operator/autopilot/configuration",
            r#"{"LastContactThreshold":"soon"}"#,
        )
        .await;
    assert_eq!(r.status, 400, "{}", r.body);
    a.shutdown().await;
}

#[tokio::test]
async fn ui_services_summarize_each_service() {
    let a = start().await;
    a.register(r#"{"Name":"web","ID":"web-1","Tags":["a"],"Check":{"TTL":"60s","Status":"passing"},"Connect":{"SidecarService":{}}}"#)
        .await;
    a.register(r#"{"Name":"web","ID":"web-2","Tags":["b"],"Check":{"TTL":"60s"}}"#)
        .await;
    let list = a.get("/v1/internal/ui/services").await.json();
    let web = list
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["Name"] == "web")
        .unwrap();
    assert_eq!(web["InstanceCount"], 2);
    assert_eq!(web["Tags"], serde_json::json!(["a", "b"]));
    assert_eq!(web["Nodes"], serde_json::json!(["node1"]));
    assert_eq!(web["ChecksCritical"], 1);
    assert_eq!(web["ChecksPassing"], 3, "two serfHealth + one passing TTL");
    assert_eq!(web["ConnectedWithProxy"], true);
    assert!(
        list.as_array()
            .unwrap()
            .iter()
            .all(|s| s["Name"] != "web-sidecar-proxy"),
        "proxies are folded into their service: {list}"
    );
    a.shutdown().await;
}

#[tokio::test]
async fn snapshot_restores_everything_into_an_empty_agent() {
    let a = acl_agent().await;
    let put = |path: &'static str, body: &'static str| {
        let a = &a;
        async move {
            let r = call(a, "PUT", path, MGMT, Some(body)).await;
            assert_eq!(r.status, 200, "{path}: {}", r.body);
            r
        }
    };
    put(
        "/v1/catalog/register",
        r#"{"Node":"ext","Address":"10.1.1.1","Service":{"Service":"db","Port":5432},
            "Check":{"CheckID":"db-ok","Name":"db","Status":"passing","ServiceID":"db"}}"#,
    )
    .await;
    put("/v1/kv/app/config", "hello").await;
    let sess = put("/v1/session/create", r#"{"Name":"s1","TTL":"60s"}"#)
        .await
        .json()["ID"]
        .as_str()
        .unwrap()
        .to_string();
    let r = call(
        &a,
        "PUT",
        &format!("/v1/kv/app/lock?acquire={sess}"),
        MGMT,
        Some("x"),
    )
    .await;
    assert_eq!(r.body.trim(), "true");
    put(
        "/v1/config",
        r#"{"Kind":"service-defaults","Name":"db","Protocol":"tcp"}"#,
    )
    .await;
    let q = call(
        &a,
        "POST",
        "/v1/query",
        MGMT,
        Some(r#"{"Name":"db-q","Service":{"Service":"db"}}"#),
    )
    .await;
    assert_eq!(q.status, 200, "{}", q.body);
    let reader = token(&a, r#"key_prefix "app/" { policy = "read" }"#).await;
    let before_kv = call(&a, "GET", "/v1/kv/app/config", MGMT, None)
        .await
        .json();
    let before_svc = call(&a, "GET", "/v1/catalog/service/db", MGMT, None)
        .await
        .json();

    let r = call(&a, "GET", "/v1/snapshot", MGMT, None).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let snap_index = r.index();
    let archive = r.body.clone();
    denied(
        &call(&a, "GET", "/v1/snapshot", &reader, None).await,
        "acl:write",
        "",
    );

    // An empty agent, with its own management token.
    let b = acl_agent().await;
    let r = call(&b, "PUT", "/v1/snapshot", MGMT, Some(&archive)).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let kv = call(&b, "GET", "/v1/kv/app/config", MGMT, None)
        .await
        .json();
    assert_eq!(kv, before_kv, "the key, its value and indexes");
    let lock = call(&b, "GET", "/v1/kv/app/lock", MGMT, None).await.json();
    assert_eq!(lock[0]["Session"], sess.as_str());
    let svc = call(&b, "GET", "/v1/catalog/service/db", MGMT, None)
        .await
        .json();
    assert_eq!(svc, before_svc);
    let h = call(&b, "GET", "/v1/health/service/db?passing", MGMT, None)
        .await
        .json();
    assert_eq!(h.as_array().unwrap().len(), 1);
    let e = call(&b, "GET", "/v1/config/service-defaults/db", MGMT, None).await;
    assert_eq!(e.status, 200);
    assert_eq!(e.json()["Protocol"], "tcp");
    let x = call(&b, "GET", "/v1/query/db-q/execute", MGMT, None).await;
    assert_eq!(x.status, 200, "{}", x.body);
    assert_eq!(x.json()["Nodes"].as_array().unwrap().len(), 1);
    // The token made on the first agent works on the second.
    assert_eq!(
        call(&b, "GET", "/v1/kv/app/config", &reader, None)
            .await
            .status,
        200
    );
    let s = call(&b, "GET", &format!("/v1/session/info/{sess}"), MGMT, None).await;
    assert_eq!(s.json()[0]["Name"], "s1");
    // Indexes carry on from the snapshot's.
    let r = call(&b, "GET", "/v1/catalog/services", MGMT, None).await;
    assert!(r.index() >= snap_index, "{} < {snap_index}", r.index());
    let kv_index = before_kv[0]["ModifyIndex"].as_u64().unwrap();
    assert_eq!(kv[0]["ModifyIndex"], kv_index);
    // A damaged archive is refused and changes nothing.
    let mut bad = archive.clone().into_bytes();
    let last = bad.len() - 3;
    bad[last] ^= 1;
    let r = b
        .http
        .put(format!("{}/v1/snapshot", b.base))
        .header("X-Consul-Token", MGMT)
        .body(bad)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 500);
    assert!(r.text().await.unwrap().contains("checksum mismatch"));
    let r = call(&b, "PUT", "/v1/snapshot", MGMT, Some("not a snapshot")).await;
    assert_eq!(r.status, 500);
    assert!(r.body.contains("not a devagent snapshot"), "{}", r.body);
    assert_eq!(
        call(&b, "GET", "/v1/kv/app/config", MGMT, None)
            .await
            .status,
        200
    );
    a.shutdown().await;
    b.shutdown().await;
}

#[tokio::test]
async fn a_huge_snapshot_is_refused_before_it_is_read() {
    let a = start().await;
    // Content-Length says 65 MiB: 413 at once, nothing read.
    let len = 65u64 << 20;
    let addr = a.handle.http_addr();
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    s.write_all(
        format!("PUT /v1/snapshot HTTP/1.1\r\nHost: x\r\nContent-Length: {len}\r\n\r\n").as_bytes(),
    )
    .await
    .unwrap();
    let mut buf = vec![0u8; 1024];
    let n = tokio::time::timeout(std::time::Duration::from_secs(5), s.read(&mut buf))
        .await
        .unwrap()
        .unwrap();
    let head = String::from_utf8_lossy(&buf[..n]);
    assert!(head.starts_with("HTTP/1.1 413"), "{head}");
    a.shutdown().await;
}
