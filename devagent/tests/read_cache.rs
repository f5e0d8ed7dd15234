//! Reads are rendered once per change and served from the cache after that
//! (issue 18): a cached answer is never stale and never another caller's.
//! Every test reads twice first (the second read is answered from the
//! cache, before routing), then changes what the read depends on.
#![allow(clippy::unwrap_used)]

mod support;

use std::collections::HashSet;
use std::net::SocketAddr;
use std::time::Duration;

use hickory_proto::op::{Message, MessageType, OpCode, Query};
use hickory_proto::rr::{Name, RData, RecordType};
use serde_json::{json, Value};
use support::{start, Reply, TestAgent};
use tokio::net::UdpSocket;

const MGMT: &str = "5a4b3c2d-1e0f-4a9b-8c7d-6e5f4a3b2c1d";

/// Reads `path` twice (the second answer comes from the cache) and checks
/// that both are the same; returns the second.
async fn cached(a: &TestAgent, path: &str) -> Reply {
    let first = a.get(path).await;
    let second = a.get(path).await;
    assert_eq!(first.status, second.status, "{path}");
    assert_eq!(first.body, second.body, "{path}");
    assert_eq!(
        first.header("X-Consul-Index"),
        second.header("X-Consul-Index"),
        "{path}"
    );
    second
}

fn names(r: &Reply, field: &str) -> Vec<String> {
    let mut v: Vec<String> = r
        .json()
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            e.pointer(field)
                .and_then(Value::as_str)
                .unwrap()
                .to_string()
        })
        .collect();
    v.sort();
    v
}

async fn web(a: &TestAgent, i: usize, status: &str) {
    a.register(&format!(
        r#"{{"Name":"web","ID":"web{i}","Address":"127.0.0.{}","Port":{},"Tags":["t{i}"],"Check":{{"CheckID":"web{i}-ttl","TTL":"10m","Status":"{status}"}}}}"#,
        i + 10,
        8000 + i
    ))
    .await;
}

#[tokio::test]
async fn a_write_changes_every_cached_read_it_touches() {
    let a = start().await;
    web(&a, 0, "passing").await;
    a.put("/v1/kv/app/a", "1").await;

    // Each read, then the write that changes it, then what the read must see.
    let h = cached(&a, "/v1/health/service/web?passing").await;
    assert_eq!(names(&h, "/Service/ID"), ["web0"]);
    web(&a, 1, "passing").await;
    let h2 = cached(&a, "/v1/health/service/web?passing").await;
    assert_eq!(names(&h2, "/Service/ID"), ["web0", "web1"]);
    assert!(h2.index() > h.index());

    // A check turning critical takes the instance out of ?passing.
    let r = a.put("/v1/agent/check/fail/web1-ttl", "").await;
    assert_eq!(r.status, 200);
    assert_eq!(
        names(
            &cached(&a, "/v1/health/service/web?passing").await,
            "/Service/ID"
        ),
        ["web0"]
    );
    assert_eq!(
        names(&cached(&a, "/v1/health/state/critical").await, "/CheckID"),
        ["web1-ttl"]
    );
    assert_eq!(
        names(&cached(&a, "/v1/health/checks/web").await, "/Status"),
        ["critical", "passing"]
    );
    a.put("/v1/agent/check/pass/web1-ttl", "").await;
    assert!(cached(&a, "/v1/health/state/critical").await.json() == json!([]));
    assert_eq!(
        names(&cached(&a, "/v1/health/node/node1").await, "/Status"),
        ["passing", "passing", "passing"]
    );

    // Catalog: a new tag shows in catalog/service and catalog/services.
    let c = cached(&a, "/v1/catalog/service/web").await;
    assert_eq!(names(&c, "/ServiceID"), ["web0", "web1"]);
    let s = cached(&a, "/v1/catalog/services").await;
    assert_eq!(s.json()["web"], json!(["t0", "t1"]));
    web(&a, 2, "passing").await;
    assert_eq!(
        names(&cached(&a, "/v1/catalog/service/web").await, "/ServiceID"),
        ["web0", "web1", "web2"]
    );
    assert_eq!(
        cached(&a, "/v1/catalog/services").await.json()["web"],
        json!(["t0", "t1", "t2"])
    );
    let agent_services = cached(&a, "/v1/agent/services").await.json();
    assert_eq!(agent_services.as_object().unwrap().len(), 3);
    let r = a.put("/v1/agent/service/deregister/web2", "").await;
    assert_eq!(r.status, 200);
    assert_eq!(
        cached(&a, "/v1/agent/services")
            .await
            .json()
            .as_object()
            .unwrap()
            .len(),
        2
    );

    // KV: one key, raw, a prefix and its keys.
    let k = cached(&a, "/v1/kv/app/a").await;
    assert_eq!(k.json()[0]["Value"], "MQ==");
    assert_eq!(cached(&a, "/v1/kv/app/a?raw").await.body, "1");
    assert_eq!(
        names(&cached(&a, "/v1/kv/app?recurse").await, "/Key"),
        ["app/a"]
    );
    assert_eq!(
        cached(&a, "/v1/kv/app/?keys").await.json(),
        json!(["app/a"])
    );
    a.put("/v1/kv/app/a", "2").await;
    a.put("/v1/kv/app/b", "3").await;
    let k2 = cached(&a, "/v1/kv/app/a").await;
    assert_eq!(k2.json()[0]["Value"], "Mg==");
    assert!(k2.index() > k.index());
    assert_eq!(cached(&a, "/v1/kv/app/a?raw").await.body, "2");
    assert_eq!(
        names(&cached(&a, "/v1/kv/app?recurse").await, "/Key"),
        ["app/a", "app/b"]
    );
    assert_eq!(
        cached(&a, "/v1/kv/app/?keys").await.json(),
        json!(["app/a", "app/b"])
    );
    // A delete: the key is gone (404 with the index), the prefix shrinks.
    a.req("DELETE", "/v1/kv/app/a", None).await;
    let gone = cached(&a, "/v1/kv/app/a").await;
    assert_eq!(gone.status, 404);
    assert!(gone.index() > k2.index());
    assert_eq!(cached(&a, "/v1/kv/app/a?raw").await.status, 404);
    assert_eq!(
        names(&cached(&a, "/v1/kv/app?recurse").await, "/Key"),
        ["app/b"]
    );
    a.shutdown().await;
}

#[tokio::test]
async fn blocked_queries_wake_with_the_new_body() {
    let a = start().await;
    web(&a, 0, "passing").await;
    a.put("/v1/kv/cfg", "old").await;
    let h = cached(&a, "/v1/health/service/web").await;
    let k = cached(&a, "/v1/kv/cfg").await;
    // Many watchers of each, blocked on the cached index.
    let mut health = Vec::new();
    let mut kv = Vec::new();
    for _ in 0..20 {
        let (http, base) = (a.http.clone(), a.base.clone());
        let url = format!("{base}/v1/health/service/web?index={}&wait=10s", h.index());
        health.push(tokio::spawn(async move {
            http.get(url).send().await.unwrap().text().await.unwrap()
        }));
        let (http, base) = (a.http.clone(), a.base.clone());
        let url = format!("{base}/v1/kv/cfg?index={}&wait=10s&raw", k.index());
        kv.push(tokio::spawn(async move {
            http.get(url).send().await.unwrap().text().await.unwrap()
        }));
    }
    let all_waiting = support::eventually(5, || async {
        let m = a.get("/metrics").await.body;
        m.lines()
            .find(|l| l.starts_with("devagent_blocking_queries "))
            .is_some_and(|l| l.ends_with(" 40"))
    })
    .await;
    assert!(all_waiting, "40 blocking queries waiting");
    web(&a, 1, "passing").await;
    a.put("/v1/kv/cfg", "new").await;
    for t in health {
        let body: Value = serde_json::from_str(&t.await.unwrap()).unwrap();
        assert_eq!(
            body.as_array().unwrap().len(),
            2,
            "woken with the new instance"
        );
    }
    for t in kv {
        assert_eq!(t.await.unwrap(), "new");
    }
    a.shutdown().await;
}

#[tokio::test]
async fn filter_near_and_pretty_are_separate_answers() {
    let a = start().await;
    for i in 0..3 {
        web(&a, i, "passing").await;
    }
    let variants = [
        "/v1/health/service/web",
        "/v1/health/service/web?pretty",
        "/v1/health/service/web?filter=Service.Port%20%3D%3D%208001",
        "/v1/health/service/web?filter=Service.Port%20%3D%3D%208002&pretty",
        "/v1/health/service/web?near=_agent",
        "/v1/health/service/web?tag=t0",
    ];
    // In turn, several times: each keeps its own answer.
    for round in 0..3 {
        let mut bodies = Vec::new();
        for v in variants {
            let r = a.get(v).await;
            assert_eq!(r.status, 200, "{v}");
            bodies.push(r.body);
        }
        let ports = |b: &str| -> Vec<u64> {
            serde_json::from_str::<Value>(b)
                .unwrap()
                .as_array()
                .unwrap()
                .iter()
                .map(|e| e["Service"]["Port"].as_u64().unwrap())
                .collect()
        };
        assert!(!bodies[0].contains('\n') || bodies[0].ends_with('\n'));
        assert_eq!(bodies[0].lines().count(), 1, "compact (round {round})");
        assert!(
            bodies[1].starts_with("[\n    {\n        \"Node\": {"),
            "indented in Consul's order"
        );
        assert_eq!(
            serde_json::from_str::<Value>(&bodies[0]).unwrap(),
            serde_json::from_str::<Value>(&bodies[1]).unwrap()
        );
        assert_eq!(ports(&bodies[2]), [8001]);
        assert_eq!(ports(&bodies[3]), [8002]);
        assert!(bodies[3].contains("\n    "));
        let mut all = ports(&bodies[4]);
        all.sort();
        assert_eq!(all, [8000, 8001, 8002], "near sorts, never filters");
        assert_eq!(ports(&bodies[5]), [8000]);
    }
    a.shutdown().await;
}

async fn call(a: &TestAgent, path: &str, token: &str) -> Reply {
    let mut r = a.http.get(format!("{}{}", a.base, path));
    if !token.is_empty() {
        r = r.header("X-Consul-Token", token);
    }
    let resp = r.send().await.unwrap();
    Reply {
        status: resp.status().as_u16(),
        headers: resp.headers().clone(),
        body: resp.text().await.unwrap(),
    }
}

async fn mgmt_put(a: &TestAgent, path: &str, body: &str) -> Value {
    let r = a
        .http
        .put(format!("{}{}", a.base, path))
        .header("X-Consul-Token", MGMT)
        .body(body.to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "{path}");
    r.json().await.unwrap_or(Value::Null)
}

/// A token with one policy `name` holding `rules`; its SecretID.
async fn token(a: &TestAgent, name: &str, rules: &str) -> String {
    let p = json!({"Name": name, "Rules": rules}).to_string();
    mgmt_put(a, "/v1/acl/policy", &p).await;
    let t = json!({"Policies": [{"Name": name}]}).to_string();
    mgmt_put(a, "/v1/acl/token", &t).await["SecretID"]
        .as_str()
        .unwrap()
        .to_string()
}

#[tokio::test]
async fn tokens_with_different_rights_get_their_own_answers() {
    let a = support::start_with(devagent::Agent::builder().initial_management(MGMT)).await;
    for (name, id) in [("web", "web0"), ("db", "db0")] {
        let body = format!(r#"{{"Name":"{name}","ID":"{id}","Port":80}}"#);
        mgmt_put(&a, "/v1/agent/service/register", &body).await;
    }
    mgmt_put(&a, "/v1/kv/secret/x", "s3cr3t").await;
    mgmt_put(&a, "/v1/kv/public/x", "hello").await;
    let all = token(
        &a,
        "all",
        "service_prefix \"\" { policy = \"read\" }\nnode_prefix \"\" { policy = \"read\" }\nkey_prefix \"\" { policy = \"read\" }",
    )
    .await;
    let web_only = token(
        &a,
        "web-only",
        "service \"web\" { policy = \"read\" }\nnode_prefix \"\" { policy = \"read\" }\nkey_prefix \"public/\" { policy = \"read\" }",
    )
    .await;
    let services = |r: &Reply| -> Vec<String> {
        let mut v: Vec<String> = r.json().as_object().unwrap().keys().cloned().collect();
        v.sort();
        v
    };
    // In turn, several times, so that each answer is served from the cache.
    for _ in 0..3 {
        let r = call(&a, "/v1/catalog/services", &all).await;
        assert_eq!(services(&r), ["consul", "db", "web"]);
        assert!(r.header("X-Consul-Results-Filtered-By-ACLs").is_none());
        let r = call(&a, "/v1/catalog/services", &web_only).await;
        assert_eq!(services(&r), ["web"]);
        assert_eq!(
            r.header("X-Consul-Results-Filtered-By-ACLs").as_deref(),
            Some("true")
        );
        let r = call(&a, "/v1/catalog/services", "").await;
        assert_eq!(r.json(), json!({}), "anonymous reads nothing");
        assert!(r.header("X-Consul-Results-Filtered-By-ACLs").is_none());
        assert_eq!(
            call(&a, "/v1/health/service/db", &all)
                .await
                .json()
                .as_array()
                .unwrap()
                .len(),
            1
        );
        assert_eq!(
            call(&a, "/v1/health/service/db", &web_only).await.json(),
            json!([])
        );
        assert_eq!(
            names(&call(&a, "/v1/kv/?recurse", &all).await, "/Key"),
            ["public/x", "secret/x"]
        );
        assert_eq!(
            names(&call(&a, "/v1/kv/?recurse", &web_only).await, "/Key"),
            ["public/x"]
        );
        // One key: the same answer for whoever may read it, a 403 for the others.
        assert_eq!(call(&a, "/v1/kv/secret/x?raw", &all).await.body, "s3cr3t");
        assert_eq!(call(&a, "/v1/kv/secret/x?raw", &web_only).await.status, 403);
        assert_eq!(call(&a, "/v1/kv/secret/x?raw", "").await.status, 403);
        assert_eq!(
            call(&a, "/v1/kv/secret/x?raw", "no-such-token")
                .await
                .status,
            403
        );
    }
    // DNS answers with the `dns` token's rights, and follows a change of token.
    let dns = a.handle.dns_addr().unwrap();
    let q = dns_query("db.service.consul.", RecordType::SRV);
    mgmt_put(
        &a,
        "/v1/agent/token/dns",
        &json!({"Token": web_only}).to_string(),
    )
    .await;
    for _ in 0..3 {
        assert_eq!(
            udp(dns, &q).await.answers().len(),
            0,
            "web-only may not read db"
        );
    }
    mgmt_put(
        &a,
        "/v1/agent/token/dns",
        &json!({"Token": all}).to_string(),
    )
    .await;
    for _ in 0..3 {
        assert_eq!(udp(dns, &q).await.answers().len(), 1);
    }
    // Rights change: the same token's cached answers follow its new policy.
    let p = json!({"Name": "web-only", "Rules": "service_prefix \"\" { policy = \"read\" }\nnode_prefix \"\" { policy = \"read\" }"});
    let listed = call(&a, "/v1/acl/policy/name/web-only", MGMT).await.json();
    let pid = listed["ID"].as_str().unwrap().to_string();
    mgmt_put(&a, &format!("/v1/acl/policy/{pid}"), &p.to_string()).await;
    for _ in 0..2 {
        let r = call(&a, "/v1/catalog/services", &web_only).await;
        assert_eq!(services(&r), ["consul", "db", "web"]);
    }
    a.shutdown().await;
}

fn dns_query(name: &str, qtype: RecordType) -> Vec<u8> {
    let mut m = Message::new();
    m.set_id(7)
        .set_message_type(MessageType::Query)
        .set_op_code(OpCode::Query)
        .set_recursion_desired(true)
        .add_query(Query::query(Name::from_ascii(name).unwrap(), qtype));
    m.to_vec().unwrap()
}

async fn udp(addr: SocketAddr, q: &[u8]) -> Message {
    let sock = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    sock.send_to(q, addr).await.unwrap();
    let mut buf = vec![0u8; 4096];
    let (n, _) = tokio::time::timeout(Duration::from_secs(2), sock.recv_from(&mut buf))
        .await
        .unwrap()
        .unwrap();
    Message::from_vec(&buf[..n]).unwrap()
}

fn ports(m: &Message) -> Vec<u16> {
    m.answers()
        .iter()
        .filter_map(|r| match r.data() {
            RData::SRV(s) => Some(s.port()),
            _ => None,
        })
        .collect()
}

#[tokio::test]
async fn dns_answers_still_shuffle_and_follow_writes() {
    let a = start().await;
    for i in 0..10 {
        web(&a, i, "passing").await;
    }
    let dns = a.handle.dns_addr().unwrap();
    let q = dns_query("web.service.consul.", RecordType::SRV);
    let mut firsts = HashSet::new();
    let mut seen = HashSet::new();
    for _ in 0..60 {
        let m = udp(dns, &q).await;
        let p = ports(&m);
        assert_eq!(p.len(), 3, "udp_answer_limit");
        assert_eq!(m.additionals().len(), 3, "one A per target");
        firsts.insert(p[0]);
        seen.extend(p);
    }
    assert!(firsts.len() >= 5, "the first answer rotates: {firsts:?}");
    assert_eq!(seen.len(), 10, "every instance is answered: {seen:?}");
    // A check turning critical takes the instance out of the next answer.
    for i in 1..10 {
        a.put(&format!("/v1/agent/check/fail/web{i}-ttl"), "").await;
    }
    for _ in 0..5 {
        assert_eq!(ports(&udp(dns, &q).await), [8000]);
    }
    // A new instance is answered at once; an A question too.
    web(&a, 20, "passing").await;
    let mut p = ports(&udp(dns, &q).await);
    p.sort();
    assert_eq!(p, [8000, 8020]);
    let m = udp(dns, &dns_query("web.service.consul.", RecordType::A)).await;
    assert_eq!(m.answers().len(), 2);
    // Deregistered: NXDOMAIN.
    for i in 0..10 {
        a.put(&format!("/v1/agent/service/deregister/web{i}"), "")
            .await;
    }
    a.put("/v1/agent/service/deregister/web20", "").await;
    let m = udp(dns, &q).await;
    assert_eq!(m.response_code(), hickory_proto::op::ResponseCode::NXDomain);
    a.shutdown().await;
}
