//! What every endpoint checks with ACLs on, from Consul's "ACL rules"
//! documentation: each rule kind allows and denies its endpoints, lists leave
//! out what the token may not read and say so in
//! `X-Consul-Results-Filtered-By-ACLs`, DNS answers with the `dns` token's
//! rights, and `/v1/status/*` needs no token.
#![allow(clippy::unwrap_used)]

mod support;

use std::time::Duration;

use hickory_proto::op::{Message, MessageType, OpCode, Query, ResponseCode};
use hickory_proto::rr::{Name, RecordType};
use serde_json::{json, Value};
use support::{Reply, TestAgent};

const MGMT: &str = "0f9e8d7c-6b5a-4948-8776-655443322110";

async fn call(a: &TestAgent, method: &str, path: &str, token: &str, body: Option<&str>) -> Reply {
    let m = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
    let mut r = a.http.request(m, format!("{}{}", a.base, path));
    if !token.is_empty() {
        r = r.header("X-Consul-Token", token);
    }
    if let Some(b) = body {
        r = r.body(b.to_string());
    }
    let resp = r.send().await.unwrap();
    Reply {
        status: resp.status().as_u16(),
        headers: resp.headers().clone(),
        body: resp.text().await.unwrap(),
    }
}

async fn mgmt(a: &TestAgent, method: &str, path: &str, body: Option<&str>) -> Reply {
    let r = call(a, method, path, MGMT, body).await;
    assert_eq!(r.status, 200, "{method} {path}: {}", r.body);
    r
}

/// A token holding one policy with `rules`; returns its SecretID.
async fn token(a: &TestAgent, rules: &str) -> String {
    let name = format!("p{}", fastrand_name());
    let p = json!({"Name": name, "Rules": rules}).to_string();
    mgmt(a, "PUT", "/v1/acl/policy", Some(&p)).await;
    let t = json!({"Policies": [{"Name": name}]}).to_string();
    mgmt(a, "PUT", "/v1/acl/token", Some(&t)).await.json()["SecretID"]
        .as_str()
        .unwrap()
        .to_string()
}

fn fastrand_name() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(0);
    N.fetch_add(1, Ordering::Relaxed)
}

async fn agent() -> TestAgent {
    support::start_with(devagent::Agent::builder().initial_management(MGMT)).await
}

/// One field of every item of a JSON list answer.
fn field(r: &Reply, name: &str) -> Vec<String> {
    r.json()
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|e| e[name].as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

fn filtered(r: &Reply) -> bool {
    r.header("X-Consul-Results-Filtered-By-ACLs").as_deref() == Some("true")
}

/// Status, message: a denial names the permission and the resource.
fn denied(r: &Reply, perm: &str, name: &str) {
    assert_eq!(r.status, 403, "{}", r.body);
    let want = if name.is_empty() {
        format!("lacks permission '{perm}'")
    } else {
        format!("lacks permission '{perm}' on \"{name}\"")
    };
    assert!(r.body.contains(&want), "{} does not contain {want}", r.body);
}

#[tokio::test]
async fn lists_leave_out_what_the_token_may_not_read() {
    let a = agent().await;
    for body in [
        r#"{"Name":"web","ID":"web1","Port":80,"Check":{"TTL":"10m","Status":"passing"}}"#,
        r#"{"Name":"db","ID":"db1","Port":5432,"Check":{"TTL":"10m","Status":"passing"}}"#,
    ] {
        mgmt(&a, "PUT", "/v1/agent/service/register", Some(body)).await;
    }
    for k in ["app/a", "app/b", "secret/c"] {
        mgmt(&a, "PUT", &format!("/v1/kv/{k}"), Some("v")).await;
    }
    mgmt(&a, "PUT", "/v1/session/create", Some(r#"{"Name":"s"}"#)).await;
    for e in ["deploy", "other"] {
        mgmt(&a, "PUT", &format!("/v1/event/fire/{e}"), Some("")).await;
    }
    let t = token(
        &a,
        r#"
        service_prefix "" { policy = "read" }
        service "db" { policy = "deny" }
        node_prefix "" { policy = "read" }
        key_prefix "app/" { policy = "read" }
        event "deploy" { policy = "read" }"#,
    )
    .await;

    let r = call(&a, "GET", "/v1/catalog/services", &t, None).await;
    assert_eq!(r.json(), json!({"consul": [], "web": []}));
    assert!(filtered(&r));
    let r = call(&a, "GET", "/v1/catalog/service/db", &t, None).await;
    assert!(r.json() == json!([]) && filtered(&r));
    let r = call(&a, "GET", "/v1/health/service/db?passing", &t, None).await;
    assert!(r.json() == json!([]) && filtered(&r));
    let r = call(&a, "GET", "/v1/health/service/web?passing", &t, None).await;
    assert_eq!(r.json().as_array().unwrap().len(), 1);
    assert!(!filtered(&r), "nothing left out: no header");
    let r = call(&a, "GET", "/v1/health/state/any", &t, None).await;
    let names = field(&r, "ServiceName");
    assert!(
        !names.contains(&"db".to_string()) && names.contains(&"web".to_string()) && filtered(&r),
        "{names:?}"
    );
    let r = call(&a, "GET", "/v1/agent/services", &t, None).await;
    assert!(r.json().get("db1").is_none() && r.json().get("web1").is_some() && filtered(&r));
    let r = call(&a, "GET", "/v1/agent/checks", &t, None).await;
    assert_eq!(r.json().as_object().unwrap().len(), 1);
    assert!(filtered(&r));
    let r = call(&a, "GET", "/v1/kv/?recurse", &t, None).await;
    let keys = field(&r, "Key");
    assert_eq!(keys, ["app/a", "app/b"]);
    assert!(filtered(&r));
    let r = call(&a, "GET", "/v1/kv/?keys", &t, None).await;
    assert!(r.json() == json!(["app/a", "app/b"]) && filtered(&r));
    let r = call(&a, "GET", "/v1/kv/secret/?recurse", &t, None).await;
    assert!(
        r.status == 404 && filtered(&r),
        "everything left out reads as missing"
    );
    let r = call(&a, "GET", "/v1/session/list", &t, None).await;
    assert!(
        r.json() == json!([]) && filtered(&r),
        "no session rule: no session"
    );
    let r = call(&a, "GET", "/v1/event/list", &t, None).await;
    let events = field(&r, "Name");
    assert!(events == ["deploy"] && filtered(&r), "{events:?}");
    let r = call(&a, "GET", "/v1/catalog/node/node1", &t, None).await;
    assert!(r.json()["Services"].get("db1").is_none() && filtered(&r));

    // The management token reads everything: no header. Without a token
    // (anonymous, default deny) lists are empty and the header is withheld.
    let r = call(&a, "GET", "/v1/kv/?recurse", MGMT, None).await;
    assert!(r.json().as_array().unwrap().len() == 3 && !filtered(&r));
    let r = call(&a, "GET", "/v1/catalog/services", "", None).await;
    assert!(r.json() == json!({}) && !filtered(&r));
    a.shutdown().await;
}

#[tokio::test]
async fn each_rule_kind_guards_its_endpoints() {
    let a = agent().await;
    // service
    let t = token(&a, r#"service "web" { policy = "write" }"#).await;
    let r = call(
        &a,
        "PUT",
        "/v1/agent/service/register",
        &t,
        Some(r#"{"Name":"web","Port":1}"#),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let r = call(
        &a,
        "PUT",
        "/v1/agent/service/register",
        &t,
        Some(r#"{"Name":"db","Port":1}"#),
    )
    .await;
    denied(&r, "service:write", "db");
    let r = call(&a, "PUT", "/v1/agent/service/deregister/web", &t, None).await;
    assert_eq!(r.status, 200);
    let r = call(
        &a,
        "PUT",
        "/v1/catalog/register",
        &t,
        Some(r#"{"Node":"ext","Address":"10.0.0.1","Service":{"Service":"web"}}"#),
    )
    .await;
    denied(&r, "node:write", "ext");
    // key, with exact beating prefix and tree deletes
    let t = token(
        &a,
        r#"key_prefix "app/" { policy = "write" }
        key "app/locked" { policy = "read" }"#,
    )
    .await;
    assert_eq!(
        call(&a, "PUT", "/v1/kv/app/x", &t, Some("1")).await.status,
        200
    );
    denied(
        &call(&a, "PUT", "/v1/kv/app/locked", &t, Some("1")).await,
        "key:write",
        "app/locked",
    );
    denied(
        &call(&a, "GET", "/v1/kv/other", &t, None).await,
        "key:read",
        "other",
    );
    denied(
        &call(&a, "DELETE", "/v1/kv/app/?recurse", &t, None).await,
        "key:write",
        "app/",
    );
    assert_eq!(
        call(&a, "DELETE", "/v1/kv/app/x?recurse", &t, None)
            .await
            .status,
        200
    );
    // txn: writes checked per operation, reads filtered
    mgmt(&a, "PUT", "/v1/kv/top", Some("1")).await;
    let r = call(&a, "PUT", "/v1/txn", &t, Some(r#"[{"KV":{"Verb":"set","Key":"app/t","Value":"MQ=="}},{"KV":{"Verb":"set","Key":"top","Value":"MQ=="}}]"#)).await;
    assert_eq!(r.status, 409, "{}", r.body);
    assert_eq!(r.json()["Errors"][0]["OpIndex"], 1);
    assert!(r.json()["Errors"][0]["What"]
        .as_str()
        .unwrap()
        .contains("'key:write' on \"top\""));
    let r = call(
        &a,
        "PUT",
        "/v1/txn",
        &t,
        Some(r#"[{"KV":{"Verb":"get-tree","Key":""}}]"#),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(
        r.json()["Results"].as_array().unwrap().is_empty(),
        "{}",
        r.body
    );
    // node
    let t = token(&a, r#"node "node1" { policy = "write" }"#).await;
    assert_eq!(
        call(&a, "PUT", "/v1/agent/maintenance?enable=false", &t, None)
            .await
            .status,
        200
    );
    let none = token(&a, "").await;
    denied(
        &call(&a, "PUT", "/v1/agent/maintenance?enable=false", &none, None).await,
        "node:write",
        "node1",
    );
    // agent
    let t = token(&a, r#"agent "node1" { policy = "read" }"#).await;
    assert_eq!(
        call(&a, "GET", "/v1/agent/self", &t, None).await.status,
        200
    );
    denied(
        &call(&a, "PUT", "/v1/agent/reload", &t, None).await,
        "agent:write",
        "node1",
    );
    denied(
        &call(&a, "GET", "/v1/agent/self", &none, None).await,
        "agent:read",
        "node1",
    );
    // session
    let t = token(&a, r#"session_prefix "node" { policy = "write" }"#).await;
    let s = call(&a, "PUT", "/v1/session/create", &t, Some("{}")).await;
    assert_eq!(s.status, 200, "{}", s.body);
    let id = s.json()["ID"].as_str().unwrap().to_string();
    denied(
        &call(&a, "PUT", &format!("/v1/session/renew/{id}"), &none, None).await,
        "session:write",
        "node1",
    );
    assert_eq!(
        call(&a, "GET", "/v1/session/list", &t, None)
            .await
            .json()
            .as_array()
            .unwrap()
            .len(),
        1
    );
    // event
    let t = token(&a, r#"event_prefix "deploy" { policy = "write" }"#).await;
    assert_eq!(
        call(&a, "PUT", "/v1/event/fire/deploy-web", &t, Some(""))
            .await
            .status,
        200
    );
    denied(
        &call(&a, "PUT", "/v1/event/fire/other", &t, Some("")).await,
        "event:write",
        "other",
    );
    // operator
    let t = token(&a, r#"operator = "read""#).await;
    denied(
        &call(&a, "PUT", "/v1/agent/force-leave/x", &t, None).await,
        "operator:write",
        "",
    );
    let t = token(&a, r#"operator = "write""#).await;
    assert_eq!(
        call(&a, "PUT", "/v1/agent/force-leave/node1", &t, None)
            .await
            .status,
        200
    );
    // acl
    let t = token(&a, r#"acl = "read""#).await;
    assert_eq!(
        call(&a, "GET", "/v1/acl/policies", &t, None).await.status,
        200
    );
    denied(
        &call(&a, "PUT", "/v1/acl/policy", &t, Some(r#"{"Name":"x"}"#)).await,
        "acl:write",
        "",
    );
    a.shutdown().await;
}

#[tokio::test]
async fn key_list_policy_makes_recursion_need_list() {
    let cfg = devagent::AclConfig {
        enabled: true,
        default_policy: devagent::DefaultPolicy::Deny,
        enable_key_list_policy: true,
        tokens: devagent::AclTokens {
            initial_management: Some(devagent::Secret::new(MGMT)),
            ..Default::default()
        },
        ..Default::default()
    };
    let a = support::start_with(devagent::Agent::builder().acl(cfg)).await;
    mgmt(&a, "PUT", "/v1/kv/app/a", Some("1")).await;
    let read = token(&a, r#"key_prefix "app/" { policy = "read" }"#).await;
    assert_eq!(
        call(&a, "GET", "/v1/kv/app/a", &read, None).await.status,
        200
    );
    denied(
        &call(&a, "GET", "/v1/kv/app/?recurse", &read, None).await,
        "key:list",
        "app/",
    );
    denied(
        &call(&a, "GET", "/v1/kv/app/?keys", &read, None).await,
        "key:list",
        "app/",
    );
    let list = token(&a, r#"key_prefix "app/" { policy = "list" }"#).await;
    assert_eq!(
        call(&a, "GET", "/v1/kv/app/?recurse", &list, None)
            .await
            .status,
        200
    );
    denied(
        &call(&a, "PUT", "/v1/kv/app/a", &list, Some("2")).await,
        "key:write",
        "app/a",
    );
    a.shutdown().await;
}

#[tokio::test]
async fn status_and_version_need_no_token() {
    let a = agent().await;
    for p in [
        "/v1/status/leader",
        "/v1/status/peers",
        "/v1/catalog/datacenters",
        "/v1/agent/version",
    ] {
        let r = call(&a, "GET", p, "no-such-token", None).await;
        assert_eq!(r.status, 200, "{p}: {}", r.body);
    }
    let r = call(&a, "GET", "/v1/catalog/nodes", "no-such-token", None).await;
    assert_eq!((r.status, r.body.as_str()), (403, "ACL not found"));
    a.shutdown().await;
}

async fn dns_a(a: &TestAgent, name: &str) -> (ResponseCode, usize) {
    let mut m = Message::new();
    m.set_id(7)
        .set_message_type(MessageType::Query)
        .set_op_code(OpCode::Query)
        .add_query(Query::query(Name::from_ascii(name).unwrap(), RecordType::A));
    let sock = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
    sock.send_to(&m.to_vec().unwrap(), a.handle.dns_addr().unwrap())
        .await
        .unwrap();
    let mut buf = vec![0u8; 4096];
    let (n, _) = tokio::time::timeout(Duration::from_secs(2), sock.recv_from(&mut buf))
        .await
        .unwrap()
        .unwrap();
    let reply = Message::from_vec(&buf[..n]).unwrap();
    (reply.response_code(), reply.answers().len())
}

#[tokio::test]
async fn dns_answers_with_the_rights_of_the_dns_token() {
    let a = agent().await;
    mgmt(
        &a,
        "PUT",
        "/v1/agent/service/register",
        Some(r#"{"Name":"web","Address":"127.0.0.9","Port":80}"#),
    )
    .await;
    assert_eq!(
        dns_a(&a, "web.service.consul.").await.0,
        ResponseCode::NXDomain
    );
    assert_eq!(
        dns_a(&a, "node1.node.consul.").await.0,
        ResponseCode::NXDomain
    );
    // Service read alone is not enough: Consul also needs node read.
    let svc = token(&a, r#"service_prefix "" { policy = "read" }"#).await;
    let body = |t: &str| json!({"Token": t}).to_string();
    mgmt(&a, "PUT", "/v1/agent/token/dns", Some(&body(&svc))).await;
    assert_eq!(
        dns_a(&a, "web.service.consul.").await.0,
        ResponseCode::NXDomain
    );
    let both = token(
        &a,
        r#"service_prefix "" { policy = "read" }
        node_prefix "" { policy = "read" }"#,
    )
    .await;
    mgmt(&a, "PUT", "/v1/agent/token/dns", Some(&body(&both))).await;
    assert_eq!(
        dns_a(&a, "web.service.consul.").await,
        (ResponseCode::NoError, 1)
    );
    assert_eq!(
        dns_a(&a, "node1.node.consul.").await.0,
        ResponseCode::NoError
    );
    // Without a dns token, the default token; a token that does not resolve answers nothing.
    mgmt(&a, "PUT", "/v1/agent/token/dns", Some(&body(""))).await;
    mgmt(&a, "PUT", "/v1/agent/token/default", Some(&body(&both))).await;
    assert_eq!(dns_a(&a, "web.service.consul.").await.1, 1);
    mgmt(
        &a,
        "PUT",
        "/v1/agent/token/dns",
        Some(&body("4c3b2a19-0000-4000-8000-00000000dead")),
    )
    .await;
    assert_eq!(
        dns_a(&a, "web.service.consul.").await.0,
        ResponseCode::NXDomain
    );
    a.shutdown().await;
}

#[tokio::test]
async fn catalog_writes_need_node_and_service_write() {
    let a = agent().await;
    let body = r#"{"Node":"ext","Address":"10.0.0.1","Service":{"ID":"api1","Service":"api","Port":1},"Check":{"CheckID":"c","Name":"c","ServiceID":"api1","Status":"passing"}}"#;
    let svc_only = token(&a, r#"service "api" { policy = "write" }"#).await;
    denied(
        &call(&a, "PUT", "/v1/catalog/register", &svc_only, Some(body)).await,
        "node:write",
        "ext",
    );
    let both = token(
        &a,
        r#"service "api" { policy = "write" }
        node "ext" { policy = "write" }"#,
    )
    .await;
    assert_eq!(
        call(&a, "PUT", "/v1/catalog/register", &both, Some(body))
            .await
            .status,
        200
    );
    // Re-posting the same node needs no node write.
    assert_eq!(
        call(&a, "PUT", "/v1/catalog/register", &svc_only, Some(body))
            .await
            .status,
        200
    );
    let r = call(
        &a,
        "PUT",
        "/v1/catalog/deregister",
        &svc_only,
        Some(r#"{"Node":"ext","ServiceID":"nope"}"#),
    )
    .await;
    assert_eq!(
        (r.status, r.body.as_str()),
        (500, "Unknown service ID 'nope'")
    );
    assert_eq!(
        call(
            &a,
            "PUT",
            "/v1/catalog/deregister",
            &svc_only,
            Some(r#"{"Node":"ext","ServiceID":"api1"}"#)
        )
        .await
        .status,
        200
    );
    denied(
        &call(
            &a,
            "PUT",
            "/v1/catalog/deregister",
            &svc_only,
            Some(r#"{"Node":"ext"}"#),
        )
        .await,
        "node:write",
        "ext",
    );
    let v: Value = call(&a, "GET", "/v1/catalog/nodes", &both, None)
        .await
        .json();
    assert_eq!(v.as_array().unwrap().len(), 1, "node read only on ext: {v}");
    a.shutdown().await;
}
