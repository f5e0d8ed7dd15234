//! `/v1/agent/self`'s shape and the parameters Consul honours on every
//! endpoint: `?dc=` of another datacenter, `?peer=`, `?cached`,
//! `?merge-central-config`.
#![allow(clippy::unwrap_used)]

mod support;

use support::start;

#[tokio::test]
async fn agent_self_has_consuls_keys() {
    let a = start().await;
    let s = a.get("/v1/agent/self").await.json();
    assert_eq!(s["Config"]["AdvertiseAddr"], "127.0.0.1", "{s}");
    assert_eq!(s["Config"]["Datacenter"], "dc1");
    for key in ["DebugConfig", "Member", "Meta", "xDS", "Stats", "Coord"] {
        assert!(s.get(key).is_some(), "{key} missing");
    }
    assert_eq!(s["xDS"]["Port"], 8502);
    assert_eq!(s["Member"]["Name"], "node1");
    a.shutdown().await;
}

#[tokio::test]
async fn an_unknown_dc_has_no_path_on_every_forwarding_endpoint() {
    let a = start().await;
    for (method, path) in [
        ("GET", "/v1/catalog/services?dc=dc9"),
        ("GET", "/v1/health/service/web?dc=dc9"),
        ("GET", "/v1/kv/a?dc=dc9"),
        ("PUT", "/v1/session/create?dc=dc9"),
        ("GET", "/v1/session/list?dc=dc9"),
        ("GET", "/v1/query?dc=dc9"),
        ("GET", "/v1/config/service-defaults?dc=dc9"),
        ("GET", "/v1/operator/raft/configuration?dc=dc9"),
        ("GET", "/v1/connect/ca/roots?dc=dc9"),
        ("GET", "/v1/acl/policies?dc=dc9"),
    ] {
        let r = a.req(method, path, None).await;
        assert_eq!(
            (r.status, r.body.as_str()),
            (500, "No path to datacenter"),
            "{method} {path}"
        );
    }
    assert_eq!(a.get("/v1/catalog/services?dc=dc1").await.status, 200);
    a.shutdown().await;
}

#[tokio::test]
async fn a_peer_has_no_services_here() {
    let a = start().await;
    a.register(r#"{"Name":"web"}"#).await;
    assert_eq!(
        a.get("/v1/health/service/web")
            .await
            .json()
            .as_array()
            .unwrap()
            .len(),
        1
    );
    let r = a.get("/v1/health/service/web?peer=other").await;
    assert_eq!((r.status, r.body.as_str()), (200, "[]\n"));
    assert!(r.header("X-Consul-Index").is_some());
    assert_eq!(
        a.get("/v1/catalog/service/web?peer=other").await.body,
        "[]\n"
    );
    assert_eq!(a.get("/v1/catalog/services?peer=other").await.body, "{}\n");
    a.shutdown().await;
}

#[tokio::test]
async fn cached_reads_say_miss_then_hit_with_an_age() {
    let a = start().await;
    a.register(r#"{"Name":"web"}"#).await;
    let r = a.get("/v1/health/service/web?cached").await;
    assert_eq!(r.header("X-Cache").as_deref(), Some("MISS"));
    assert_eq!(r.header("Age").as_deref(), Some("0"));
    let r = a.get("/v1/health/service/web?cached").await;
    assert_eq!(r.header("X-Cache").as_deref(), Some("HIT"));
    assert!(r.header("Age").is_some());
    // A change makes the next read a miss.
    a.register(r#"{"Name":"web","ID":"web2"}"#).await;
    let r = a.get("/v1/health/service/web?cached").await;
    assert_eq!(r.header("X-Cache").as_deref(), Some("MISS"));
    // Without ?cached there is no X-Cache.
    assert!(a
        .get("/v1/health/service/web")
        .await
        .header("X-Cache")
        .is_none());
    let r = a.get("/v1/health/service/web?cached&consistent").await;
    assert_eq!(r.status, 400);
    a.shutdown().await;
}

#[tokio::test]
async fn merge_central_config_applies_service_and_proxy_defaults() {
    let a = start().await;
    a.register(
        r#"{"Name":"web-proxy","Kind":"connect-proxy","Port":21000,
            "Proxy":{"DestinationServiceName":"web","Config":{"bind_port":21000}}}"#,
    )
    .await;
    let r = a
        .put(
            "/v1/config",
            r#"{"Kind":"service-defaults","Name":"web","Protocol":"http"}"#,
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let r = a
        .put(
            "/v1/config",
            r#"{"Kind":"proxy-defaults","Name":"global","Config":{"local_connect_timeout_ms":1000,"protocol":"tcp"},"MeshGateway":{"Mode":"local"}}"#,
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let plain = a.get("/v1/health/service/web-proxy").await.json();
    assert!(plain[0]["Service"]["Proxy"]["Config"]
        .get("protocol")
        .is_none());
    let h = a
        .get("/v1/health/service/web-proxy?merge-central-config")
        .await
        .json();
    let p = &h[0]["Service"]["Proxy"];
    assert_eq!(p["Config"]["protocol"], "http", "service-defaults win: {p}");
    assert_eq!(p["Config"]["local_connect_timeout_ms"], 1000);
    assert_eq!(
        p["Config"]["bind_port"], 21000,
        "the instance's own config stays"
    );
    assert_eq!(p["MeshGateway"]["Mode"], "local");
    let c = a
        .get("/v1/catalog/service/web-proxy?merge-central-config")
        .await
        .json();
    assert_eq!(c[0]["ServiceProxy"]["Config"]["protocol"], "http");
    let s = a
        .get("/v1/agent/service/web-proxy?merge-central-config")
        .await
        .json();
    assert_eq!(s["Proxy"]["Config"]["protocol"], "http");
    a.shutdown().await;
}

#[tokio::test]
async fn merge_central_config_is_accepted() {
    let a = start().await;
    a.register(r#"{"Name":"web"}"#).await;
    for path in [
        "/v1/health/service/web?merge-central-config",
        "/v1/catalog/service/web?merge-central-config",
        "/v1/agent/service/web?merge-central-config",
    ] {
        let r = a.get(path).await;
        assert_eq!(r.status, 200, "{path}: {}", r.body);
    }
    a.shutdown().await;
}
