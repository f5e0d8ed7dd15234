//! `/v1/config` (config entries, CAS, blocking, ACLs), gateway services from
//! gateway entries, and coordinates, as Consul 1.21 serves them.
#![allow(clippy::unwrap_used)]

mod support;

use std::time::Duration;

use support::acl::{acl_agent, call, denied, token};
use support::start;

#[tokio::test]
async fn config_entries_are_stored_listed_and_deleted() {
    let a = start().await;
    assert_eq!(a.get("/v1/config/service-defaults").await.body, "[]\n");
    let r = a
        .put(
            "/v1/config",
            r#"{"kind":"service-defaults","name":"web","protocol":"http","SomethingNew":true}"#,
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body, "true\n");
    let r = a.get("/v1/config/service-defaults/web").await;
    assert_eq!(r.status, 200, "{}", r.body);
    let e = r.json();
    assert_eq!(e["Kind"], "service-defaults");
    assert_eq!(e["Name"], "web");
    assert_eq!(e["Protocol"], "http");
    assert!(
        e.get("SomethingNew").is_none(),
        "unknown fields are ignored: {e}"
    );
    let modify = e["ModifyIndex"].as_u64().unwrap();
    assert_eq!(e["CreateIndex"], modify);
    assert_eq!(r.index(), modify);
    // CAS: a stale index loses, the current one wins.
    let body = r#"{"Kind":"service-defaults","Name":"web","Protocol":"grpc"}"#;
    let r = a.put("/v1/config?cas=1", body).await;
    assert_eq!(r.body, "false\n");
    let r = a.put(&format!("/v1/config?cas={modify}"), body).await;
    assert_eq!(r.body, "true\n");
    let e = a.get("/v1/config/service-defaults/web").await.json();
    assert_eq!(e["Protocol"], "grpc");
    assert_eq!(e["CreateIndex"], modify);
    // Validation by kind.
    let r = a
        .put("/v1/config", r#"{"Kind":"service-widgets","Name":"x"}"#)
        .await;
    assert_eq!(r.status, 400);
    assert!(
        r.body
            .contains("invalid config entry kind: service-widgets"),
        "{}",
        r.body
    );
    let r = a
        .put("/v1/config", r#"{"Kind":"proxy-defaults","Name":"mine"}"#)
        .await;
    assert_eq!(r.status, 400, "{}", r.body);
    let r = a
        .put(
            "/v1/config",
            r#"{"Kind":"proxy-defaults","Name":"global","Config":{"protocol":"http"}}"#,
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let r = a
        .put(
            "/v1/config",
            r#"{"Kind":"service-splitter","Name":"web","Splits":[{"Weight":90},{"Weight":20}]}"#,
        )
        .await;
    assert_eq!(r.status, 400);
    assert!(r.body.contains("must be 100"), "{}", r.body);
    // A tcp service cannot be split.
    a.put(
        "/v1/config",
        r#"{"Kind":"service-defaults","Name":"db","Protocol":"tcp"}"#,
    )
    .await;
    let r = a
        .put(
            "/v1/config",
            r#"{"Kind":"service-splitter","Name":"db","Splits":[{"Weight":100}]}"#,
        )
        .await;
    assert_eq!(r.status, 500);
    assert!(
        r.body
            .contains("does not permit advanced routing or splitting"),
        "{}",
        r.body
    );
    for body in [
        r#"{"Kind":"service-resolver","Name":"web","ConnectTimeout":"5s","DefaultSubset":"v1","Subsets":{"v1":{"Filter":"Service.Meta.version == v1"}}}"#,
        r#"{"Kind":"service-splitter","Name":"web","Splits":[{"Weight":50,"ServiceSubset":"v1"},{"Weight":50}]}"#,
        r#"{"Kind":"service-router","Name":"web","Routes":[{"Match":{"HTTP":{"PathPrefix":"/admin"}}}]}"#,
        r#"{"Kind":"ingress-gateway","Name":"ing","Listeners":[{"Port":8080,"Protocol":"http","Services":[{"Name":"web"}]}]}"#,
    ] {
        let r = a.put("/v1/config", body).await;
        assert_eq!(r.status, 200, "{body}: {}", r.body);
    }
    let list = a.get("/v1/config/service-defaults").await.json();
    assert_eq!(list.as_array().unwrap().len(), 2);
    let r = a.get("/v1/config/service-defaults/nope").await;
    assert_eq!(r.status, 404);
    assert_eq!(
        r.body,
        "Config entry not found for \"service-defaults\" / \"nope\""
    );
    // Delete: `{}`, or the CAS outcome.
    let r = a
        .req("DELETE", "/v1/config/service-defaults/db", None)
        .await;
    assert_eq!((r.status, r.body.as_str()), (200, "{}\n"));
    let r = a
        .req("DELETE", "/v1/config/service-router/web?cas=1", None)
        .await;
    assert_eq!(r.body, "false\n");
    assert_eq!(a.get("/v1/config/service-defaults/db").await.status, 404);
    a.shutdown().await;
}

#[tokio::test]
async fn config_entry_lists_block_until_a_change() {
    let a = start().await;
    let r = a.get("/v1/config/service-defaults").await;
    let index = r.index();
    let base = a.base.clone();
    let waiter = tokio::spawn(async move {
        reqwest::get(format!(
            "{base}/v1/config/service-defaults?index={index}&wait=5s"
        ))
        .await
        .unwrap()
        .text()
        .await
        .unwrap()
    });
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(!waiter.is_finished(), "blocks while nothing changes");
    a.put("/v1/config", r#"{"Kind":"service-defaults","Name":"web"}"#)
        .await;
    let body = tokio::time::timeout(Duration::from_secs(2), waiter)
        .await
        .expect("wakes on the write")
        .unwrap();
    assert!(body.contains("\"Name\":\"web\""), "{body}");
    a.shutdown().await;
}

#[tokio::test]
async fn gateway_services_come_from_gateway_entries() {
    let a = start().await;
    a.register(r#"{"Name":"billing"}"#).await;
    a.register(r#"{"Name":"ledger"}"#).await;
    let r = a
        .put(
            "/v1/config",
            r#"{"Kind":"terminating-gateway","Name":"term","Services":[{"Name":"billing","CAFile":"/ca.pem","SNI":"b.example"}]}"#,
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let g = a.get("/v1/catalog/gateway-services/term").await.json();
    assert_eq!(g.as_array().unwrap().len(), 1, "{g}");
    assert_eq!(g[0]["Gateway"]["Name"], "term");
    assert_eq!(g[0]["Service"]["Name"], "billing");
    assert_eq!(g[0]["GatewayKind"], "terminating-gateway");
    assert_eq!(g[0]["CAFile"], "/ca.pem");
    assert_eq!(g[0]["SNI"], "b.example");
    assert_eq!(g[0]["FromWildcard"], false);
    a.put(
        "/v1/config",
        r#"{"Kind":"terminating-gateway","Name":"term","Services":[{"Name":"*"}]}"#,
    )
    .await;
    let g = a.get("/v1/catalog/gateway-services/term").await.json();
    let names: Vec<&str> = g
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["Service"]["Name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["billing", "ledger"]);
    assert_eq!(g[0]["FromWildcard"], true);
    a.put(
        "/v1/config",
        r#"{"Kind":"ingress-gateway","Name":"ing","Listeners":[{"Port":8080,"Protocol":"http","Services":[{"Name":"billing","Hosts":["b.local"]}]}]}"#,
    )
    .await;
    let g = a.get("/v1/catalog/gateway-services/ing").await.json();
    assert_eq!(g[0]["GatewayKind"], "ingress-gateway", "{g}");
    assert_eq!(g[0]["Port"], 8080);
    assert_eq!(g[0]["Protocol"], "http");
    assert_eq!(g[0]["Hosts"][0], "b.local");
    a.shutdown().await;
}

#[tokio::test]
async fn config_entry_acls() {
    let a = acl_agent().await;
    let read = token(&a, r#"service "web" { policy = "read" }"#).await;
    let write = token(&a, r#"service "web" { policy = "write" }"#).await;
    let body = r#"{"Kind":"service-defaults","Name":"web","Protocol":"http"}"#;
    denied(
        &call(&a, "PUT", "/v1/config", &read, Some(body)).await,
        "service:write",
        "web",
    );
    assert_eq!(
        call(&a, "PUT", "/v1/config", &write, Some(body))
            .await
            .status,
        200
    );
    assert_eq!(
        call(&a, "GET", "/v1/config/service-defaults/web", &read, None)
            .await
            .status,
        200
    );
    let other = token(&a, r#"service "api" { policy = "read" }"#).await;
    denied(
        &call(&a, "GET", "/v1/config/service-defaults/web", &other, None).await,
        "service:read",
        "web",
    );
    let r = call(&a, "GET", "/v1/config/service-defaults", &other, None).await;
    assert_eq!(r.body, "[]\n");
    assert_eq!(
        r.header("X-Consul-Results-Filtered-By-ACLs").as_deref(),
        Some("true")
    );
    let pd = r#"{"Kind":"proxy-defaults","Name":"global"}"#;
    denied(
        &call(&a, "PUT", "/v1/config", &write, Some(pd)).await,
        "mesh:write",
        "",
    );
    let op = token(&a, r#"operator = "write""#).await;
    assert_eq!(
        call(&a, "PUT", "/v1/config", &op, Some(pd)).await.status,
        200
    );
    // proxy-defaults is readable by anyone.
    assert_eq!(
        call(&a, "GET", "/v1/config/proxy-defaults/global", &other, None)
            .await
            .status,
        200
    );
    a.shutdown().await;
}

#[tokio::test]
async fn coordinates_of_the_agent_and_updates() {
    let a = start().await;
    let list = a.get("/v1/coordinate/nodes").await.json();
    assert_eq!(list.as_array().unwrap().len(), 1, "{list}");
    assert_eq!(list[0]["Node"], "node1");
    assert_eq!(list[0]["Coord"]["Vec"].as_array().unwrap().len(), 8);
    let coord = r#"{"Node":"node1","Segment":"","Coord":{"Vec":[0.1,0.2,0,0,0,0,0,0],"Error":0.2,"Adjustment":0.01,"Height":0.0001}}"#;
    let r = a.put("/v1/coordinate/update", coord).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let one = a.get("/v1/coordinate/node/node1").await.json();
    assert_eq!(one[0]["Coord"]["Vec"][1], 0.2, "{one}");
    assert_eq!(one[0]["Coord"]["Error"], 0.2);
    let r = a
        .put(
            "/v1/coordinate/update",
            r#"{"Node":"node1","Coord":{"Vec":[1,2]}}"#,
        )
        .await;
    assert_eq!(r.status, 400);
    assert!(r.body.contains("8"), "{}", r.body);
    assert_eq!(a.get("/v1/coordinate/node/ghost").await.status, 404);
    a.shutdown().await;
}
