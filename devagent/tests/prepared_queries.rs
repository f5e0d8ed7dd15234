//! `/v1/query` (prepared queries: CRUD, execute, explain, templates) and
//! `<name>.query.consul` in DNS, as Consul 1.21 serves them.
#![allow(clippy::unwrap_used)]

mod support;

use std::net::IpAddr;

use hickory_proto::op::{Message, MessageType, OpCode, Query, ResponseCode};
use hickory_proto::rr::{Name, RData, RecordType};
use support::acl::{acl_agent, call, denied, token};
use support::{start, TestAgent};
use tokio::net::UdpSocket;

async fn dns_a(a: &TestAgent, name: &str) -> (ResponseCode, Vec<IpAddr>) {
    let mut m = Message::new();
    m.set_id(7)
        .set_message_type(MessageType::Query)
        .set_op_code(OpCode::Query)
        .add_query(Query::query(Name::from_ascii(name).unwrap(), RecordType::A));
    let sock = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    sock.send_to(&m.to_vec().unwrap(), a.handle.dns_addr().unwrap())
        .await
        .unwrap();
    let mut buf = vec![0u8; 4096];
    let n = tokio::time::timeout(std::time::Duration::from_secs(2), sock.recv(&mut buf))
        .await
        .unwrap()
        .unwrap();
    let r = Message::from_vec(&buf[..n]).unwrap();
    let ips = r
        .answers()
        .iter()
        .filter_map(|rec| match rec.data() {
            RData::A(a) => Some(IpAddr::V4(a.0)),
            _ => None,
        })
        .collect();
    (r.response_code(), ips)
}

async fn setup(a: &TestAgent) {
    for (id, addr, tags, status) in [
        ("redis-1", "10.0.0.1", r#"["primary","v1"]"#, "passing"),
        ("redis-2", "10.0.0.2", r#"["v1"]"#, "warning"),
        ("redis-3", "10.0.0.3", r#"["v2"]"#, "critical"),
    ] {
        a.register(&format!(
            r#"{{"Name":"redis","ID":"{id}","Address":"{addr}","Tags":{tags},
                 "Check":{{"CheckID":"{id}-ttl","TTL":"60s","Status":"{status}"}}}}"#
        ))
        .await;
    }
}

fn ids(r: &serde_json::Value) -> Vec<String> {
    let mut v: Vec<String> = r["Nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["Service"]["ID"].as_str().unwrap().to_string())
        .collect();
    v.sort();
    v
}

#[tokio::test]
async fn create_read_update_delete_and_execute() {
    let a = start().await;
    setup(&a).await;
    let r = a
        .req(
            "POST",
            "/v1/query",
            Some(r#"{"Name":"redis-any","Service":{"Service":"redis","Failover":{"NearestN":3,"Datacenters":["dc2"]}},"DNS":{"TTL":"10s"}}"#),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let id = r.json()["ID"].as_str().unwrap().to_string();
    let got = a.get(&format!("/v1/query/{id}")).await.json();
    assert_eq!(got[0]["ID"], id.as_str());
    assert_eq!(got[0]["Name"], "redis-any");
    assert_eq!(got[0]["Service"]["Failover"]["NearestN"], 3);
    assert_eq!(got[0]["DNS"]["TTL"], "10s");
    assert_eq!(a.get("/v1/query").await.json().as_array().unwrap().len(), 1);
    // Execute by ID and by name: critical left out, warning kept.
    let r = a.get(&format!("/v1/query/{id}/execute")).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let x = r.json();
    assert_eq!(x["Service"], "redis");
    assert_eq!(x["Datacenter"], "dc1");
    assert_eq!(x["Failovers"], 0);
    assert_eq!(x["DNS"]["TTL"], "10s");
    assert_eq!(ids(&x), ["redis-1", "redis-2"]);
    let x = a.get("/v1/query/redis-any/execute?limit=1").await.json();
    assert_eq!(x["Nodes"].as_array().unwrap().len(), 1);
    // Update: OnlyPassing and tags (with negation).
    let r = a
        .put(
            &format!("/v1/query/{id}"),
            r#"{"Name":"redis-any","Service":{"Service":"redis","OnlyPassing":true,"Tags":["v1","!v2"]}}"#,
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let x = a.get("/v1/query/redis-any/execute").await.json();
    assert_eq!(ids(&x), ["redis-1"]);
    // IgnoreCheckIDs turns a critical instance healthy.
    let r = a
        .req(
            "POST",
            "/v1/query",
            Some(r#"{"Name":"redis-v2","Service":{"Service":"redis","Tags":["v2"],"IgnoreCheckIDs":["redis-3-ttl"]}}"#),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let x = a.get("/v1/query/redis-v2/execute").await.json();
    assert_eq!(ids(&x), ["redis-3"]);
    // Errors as Consul words them.
    let r = a
        .req("POST", "/v1/query", Some(r#"{"Name":"x","Service":{}}"#))
        .await;
    assert_eq!(r.status, 400);
    assert!(
        r.body.contains("Must provide a Service name to query"),
        "{}",
        r.body
    );
    let r = a
        .req(
            "POST",
            "/v1/query",
            Some(r#"{"Name":"redis-any","Service":{"Service":"redis"}}"#),
        )
        .await;
    assert_eq!(r.status, 400);
    assert!(r.body.contains("already in use"), "{}", r.body);
    let r = a.get("/v1/query/nope/execute").await;
    assert_eq!((r.status, r.body.as_str()), (404, "Query not found"));
    // Delete.
    assert_eq!(
        a.req("DELETE", &format!("/v1/query/{id}"), None)
            .await
            .status,
        200
    );
    assert_eq!(a.get(&format!("/v1/query/{id}")).await.status, 404);
    a.shutdown().await;
}

#[tokio::test]
async fn templates_render_for_the_name_asked() {
    let a = start().await;
    setup(&a).await;
    a.register(r#"{"Name":"geo-db","Address":"10.9.9.9"}"#)
        .await;
    // Consul's documented template: everything after the prefix is the service.
    let r = a
        .req(
            "POST",
            "/v1/query",
            Some(r#"{"Name":"","Template":{"Type":"name_prefix_match"},"Service":{"Service":"${name.full}"}}"#),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let r = a
        .req(
            "POST",
            "/v1/query",
            Some(r#"{"Name":"geo-","Template":{"Type":"name_prefix_match","Regexp":"^geo-(.+?)-(primary|v1)$"},
                    "Service":{"Service":"${match(1)}","Tags":["${match(2)}"]}}"#),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let e = a.get("/v1/query/geo-redis-primary/explain").await.json();
    assert_eq!(e["Query"]["Service"]["Service"], "redis", "{e}");
    assert_eq!(e["Query"]["Service"]["Tags"][0], "primary");
    let x = a.get("/v1/query/geo-redis-primary/execute").await.json();
    assert_eq!(ids(&x), ["redis-1"]);
    // The catch-all template answers any other name with that service.
    let x = a.get("/v1/query/redis/execute").await.json();
    assert_eq!(ids(&x), ["redis-1", "redis-2"]);
    // DNS: <name>.query.consul.
    let (rc, mut ips) = dns_a(&a, "redis.query.consul.").await;
    assert_eq!(rc, ResponseCode::NoError);
    ips.sort();
    assert_eq!(
        ips,
        [
            "10.0.0.1".parse::<IpAddr>().unwrap(),
            "10.0.0.2".parse().unwrap()
        ]
    );
    let (_, ips) = dns_a(&a, "geo-redis-primary.query.dc1.consul.").await;
    assert_eq!(ips, ["10.0.0.1".parse::<IpAddr>().unwrap()]);
    let (rc, _) = dns_a(&a, "missing-service.query.consul.").await;
    assert_eq!(rc, ResponseCode::NXDomain);
    a.shutdown().await;
}

#[tokio::test]
async fn prepared_query_acls() {
    let a = acl_agent().await;
    let body = r#"{"Name":"redis-any","Service":{"Service":"redis"}}"#;
    let t = token(&a, r#"query "other" { policy = "write" }"#).await;
    denied(
        &call(&a, "POST", "/v1/query", &t, Some(body)).await,
        "query:write",
        "redis-any",
    );
    let w = token(&a, "query_prefix \"redis\" { policy = \"write\" }\nservice \"redis\" { policy = \"read\" }\nnode_prefix \"\" { policy = \"read\" }").await;
    let r = call(&a, "POST", "/v1/query", &w, Some(body)).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let id = r.json()["ID"].as_str().unwrap().to_string();
    let r = call(&a, "GET", "/v1/query", &t, None).await;
    assert_eq!(r.body, "[]\n");
    assert_eq!(
        r.header("X-Consul-Results-Filtered-By-ACLs").as_deref(),
        Some("true")
    );
    denied(
        &call(&a, "GET", &format!("/v1/query/{id}"), &t, None).await,
        "query:read",
        "redis-any",
    );
    assert_eq!(
        call(&a, "GET", &format!("/v1/query/{id}"), &w, None)
            .await
            .status,
        200
    );
    assert_eq!(
        call(&a, "GET", "/v1/query/redis-any/execute", &w, None)
            .await
            .status,
        200
    );
    a.shutdown().await;
}
