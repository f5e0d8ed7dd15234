//! The HTTP API answers as Consul does: bootstrap state, registration,
//! check IDs, status codes and error bodies.
#![allow(clippy::unwrap_used)]

mod support;

use serde_json::json;
use support::start;

#[tokio::test]
async fn fresh_agent_has_its_node_serf_health_and_the_consul_service() {
    let a = start().await;
    let r = a.get("/v1/catalog/services").await;
    assert_eq!(r.status, 200);
    assert_eq!(r.json(), json!({"consul": []}));
    assert!(r.index() >= 2, "index after bootstrap is {}", r.index());
    assert_eq!(r.header("X-Consul-KnownLeader").as_deref(), Some("true"));
    assert_eq!(r.header("X-Consul-LastContact").as_deref(), Some("0"));
    assert_eq!(
        r.header("X-Consul-Default-ACL-Policy").as_deref(),
        Some("allow")
    );

    let state = a.get("/v1/health/state/any").await.json();
    let ids: Vec<&str> = state
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["CheckID"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["serfHealth"]);
    assert_eq!(state[0]["Output"], "Agent alive and reachable");

    assert_eq!(
        a.get("/v1/status/leader").await.json(),
        json!("127.0.0.1:8300")
    );
    let me = a.get("/v1/agent/self").await.json();
    assert_eq!(me["Config"]["NodeName"], "node1");
    assert_eq!(me["Config"]["Datacenter"], "dc1");
    assert_eq!(me["Config"]["Server"], true);
    assert_eq!(me["DebugConfig"]["DNSDomain"], "consul.");
    assert_eq!(a.get("/v1/agent/checks").await.json(), json!({}));
    a.shutdown().await;
}

#[tokio::test]
async fn registration_forms_check_ids_and_defaults_as_consul() {
    let a = start().await;
    a.register(r#"{"Name":"foo","ID":"foo1","Port":81,"Checks":[{"TTL":"10s"},{"TTL":"20s","Status":"passing"}]}"#).await;
    let checks = a.get("/v1/agent/checks").await.json();
    let one = &checks["service:foo1:1"];
    assert_eq!(one["Status"], "critical", "new checks start critical");
    assert_eq!(one["Name"], "Service 'foo' check");
    assert_eq!(one["Type"], "ttl");
    assert_eq!(checks["service:foo1:2"]["Status"], "passing");

    a.register(r#"{"name":"bar","port":82,"check":{"ttl":"10s"},"enable_tag_override":true}"#)
        .await;
    let svc = a.get("/v1/agent/service/bar").await;
    assert_eq!(svc.status, 200);
    let svc_json = svc.json();
    assert_eq!(svc_json["EnableTagOverride"], true);
    assert_eq!(svc_json["Weights"], json!({"Passing": 1, "Warning": 1}));
    assert!(svc.header("X-Consul-ContentHash").is_some());
    assert!(a.get("/v1/agent/checks").await.json()["service:bar"].is_object());

    let r = a
        .put("/v1/agent/check/pass/service:bar?note=all%20good", "")
        .await;
    assert_eq!(r.status, 200);
    let h = a.get("/v1/health/checks/bar").await.json();
    assert_eq!(h[0]["Status"], "passing");
    assert_eq!(h[0]["Output"], "all good");

    let r = a
        .put(
            "/v1/agent/check/update/service:bar",
            r#"{"Status":"warning","Output":"slow"}"#,
        )
        .await;
    assert_eq!(r.status, 200);
    assert_eq!(
        a.get("/v1/health/checks/bar").await.json()[0]["Status"],
        "warning"
    );

    let r = a.put("/v1/agent/service/deregister/bar", "").await;
    assert_eq!(r.status, 200);
    assert_eq!(a.get("/v1/health/service/bar").await.json(), json!([]));
    assert!(a
        .get("/v1/agent/checks")
        .await
        .json()
        .get("service:bar")
        .is_none());
    a.shutdown().await;
}

#[tokio::test]
async fn re_registration_keeps_checks_unless_replace_existing_checks() {
    let a = start().await;
    a.register(
        r#"{"Name":"web","Checks":[{"CheckID":"a","TTL":"10s"},{"CheckID":"b","TTL":"10s"}]}"#,
    )
    .await;
    a.register(r#"{"Name":"web","Checks":[{"CheckID":"a","TTL":"10s"}]}"#)
        .await;
    assert_eq!(
        a.get("/v1/health/checks/web")
            .await
            .json()
            .as_array()
            .unwrap()
            .len(),
        2
    );
    let r = a
        .put(
            "/v1/agent/service/register?replace-existing-checks",
            r#"{"Name":"web","Checks":[{"CheckID":"a","TTL":"10s"}]}"#,
        )
        .await;
    assert_eq!(r.status, 200);
    assert_eq!(
        a.get("/v1/health/checks/web")
            .await
            .json()
            .as_array()
            .unwrap()
            .len(),
        1
    );
    a.shutdown().await;
}

/// Consul's decoder ignores fields it does not know, on every endpoint: a
/// newer client's field, or a field of another endpoint's body, is no error.
#[tokio::test]
async fn unknown_fields_are_ignored_as_consul_does() {
    let a = start().await;
    let ok: &[(&str, &str)] = &[
        (
            "/v1/agent/service/register",
            r#"{"Name":"web","ID":"web1","Colour":"red","Check":{"TTL":"10s","Shade":1}}"#,
        ),
        (
            "/v1/catalog/register",
            r#"{"Node":"n2","Address":"127.0.0.2","Future":{"a":[1]},"Service":{"Service":"db","Flavour":"x"}}"#,
        ),
        (
            "/v1/catalog/deregister",
            r#"{"Node":"n2","Address":"127.0.0.2","ServiceID":"db"}"#,
        ),
        ("/v1/session/create", r#"{"Name":"s","Mood":"calm"}"#),
        (
            "/v1/agent/check/register",
            r#"{"Name":"c","TTL":"10s","Unheard":true}"#,
        ),
    ];
    for (path, body) in ok {
        let r = a.put(path, body).await;
        assert_eq!(r.status, 200, "{path} {body}: {}", r.body);
    }
    let services = a.get("/v1/agent/services").await.json();
    assert!(services.get("web1").is_some(), "{services}");
    // The deregistration with an Address removed the catalog service.
    let db = a.get("/v1/catalog/service/db").await.json();
    assert_eq!(db.as_array().map(Vec::len), Some(0), "{db}");
    a.shutdown().await;
}

#[tokio::test]
async fn bad_input_gets_consul_status_and_a_message() {
    let a = start().await;
    let cases: &[(&str, &str, &str, u16, &str)] = &[
        (
            "PUT",
            "/v1/agent/service/register",
            "{not json",
            400,
            "Request decode failed",
        ),
        (
            "PUT",
            "/v1/agent/service/register",
            r#"{"Name":"x","Port":"eighty"}"#,
            400,
            "Request decode failed",
        ),
        (
            "PUT",
            "/v1/agent/service/register",
            r#"{"Port":80}"#,
            400,
            "Missing service name",
        ),
        (
            "PUT",
            "/v1/agent/service/register",
            r#"{"Name":"x","Address":"0.0.0.0"}"#,
            400,
            "Invalid service address",
        ),
        (
            "PUT",
            "/v1/agent/service/register",
            r#"{"Name":"x","Check":{"TTL":"soon"}}"#,
            400,
            "invalid duration",
        ),
        (
            "PUT",
            "/v1/agent/service/register",
            r#"{"Name":"x","Check":{"HTTP":"http://x/"}}"#,
            400,
            "Interval must be > 0",
        ),
        (
            "PUT",
            "/v1/agent/service/register",
            r#"{"Name":"x","Check":{"TTL":"1s","Interval":"1s"}}"#,
            400,
            "cannot both",
        ),
        (
            "PUT",
            "/v1/agent/service/register",
            r#"{"Name":"x","Check":{"TTL":"1s","Status":"ok"}}"#,
            400,
            "Status for checks",
        ),
        (
            "PUT",
            "/v1/agent/service/register",
            r#"{"Name":"x","Meta":{"consul-x":"1"}}"#,
            400,
            "Invalid Service Meta",
        ),
        (
            "PUT",
            "/v1/agent/service/register",
            r#"{"Name":"x","Weights":{"Passing":0,"Warning":1}}"#,
            400,
            "Invalid Weights",
        ),
        (
            "PUT",
            "/v1/agent/service/deregister/nope",
            "",
            404,
            "Unknown service ID \"nope\"",
        ),
        (
            "PUT",
            "/v1/agent/check/pass/nope",
            "",
            404,
            "Unknown check ID \"nope\"",
        ),
        (
            "PUT",
            "/v1/agent/check/register",
            r#"{"TTL":"10s"}"#,
            400,
            "Missing check name",
        ),
        (
            "PUT",
            "/v1/agent/check/register",
            r#"{"Name":"c","TTL":"10s","ServiceID":"ghost"}"#,
            404,
            "ServiceID \"ghost\" does not exist",
        ),
        (
            "PUT",
            "/v1/agent/check/update/serfHealth",
            r#"{"Status":"bogus"}"#,
            400,
            "Invalid check status",
        ),
        (
            "GET",
            "/v1/agent/service/nope",
            "",
            404,
            "unknown service ID: nope",
        ),
        (
            "GET",
            "/v1/health/service/web?index=abc",
            "",
            400,
            "Invalid index",
        ),
        (
            "GET",
            "/v1/health/service/web?wait=forever",
            "",
            400,
            "Invalid wait time",
        ),
        (
            "GET",
            "/v1/health/service/web?stale&consistent",
            "",
            400,
            "conflicting semantics",
        ),
        (
            "GET",
            "/v1/health/service/web?dc=elsewhere",
            "",
            500,
            "No path to datacenter",
        ),
        (
            "GET",
            "/v1/health/service/web?passing=maybe",
            "",
            400,
            "Invalid value for ?passing",
        ),
        (
            "GET",
            "/v1/health/service/web?filter=Service.Nope%20%3D%3D%20x",
            "",
            400,
            "Failed to create boolean expression evaluator",
        ),
        ("GET", "/v1/health/state/", "", 400, "Missing check state"),
        (
            "GET",
            "/v1/nope",
            "",
            404,
            "Invalid URL path: not a recognized HTTP API endpoint",
        ),
        (
            "POST",
            "/v1/agent/service/register",
            "{}",
            405,
            "method POST not allowed",
        ),
        (
            "PUT",
            "/v1/agent/service/maintenance/x",
            "",
            400,
            "Missing value for enable",
        ),
        (
            "PUT",
            "/v1/agent/service/maintenance/x?enable=yes",
            "",
            400,
            "Invalid value for enable",
        ),
        (
            "PUT",
            "/v1/agent/service/maintenance/x?enable=true",
            "",
            404,
            "No service registered with ID \"x\"",
        ),
        (
            "PUT",
            "/v1/session/renew/nope",
            "",
            404,
            "Session id 'nope' not found",
        ),
        (
            "PUT",
            "/v1/catalog/register",
            r#"{"Address":"1.2.3.4"}"#,
            500,
            "Must provide node",
        ),
    ];
    for (method, path, body, status, text) in cases {
        let r = a.req(method, path, Some(body)).await;
        assert_eq!(r.status, *status, "{method} {path}: {}", r.body);
        assert!(
            r.body.contains(text),
            "{method} {path}: expected {text:?} in {:?}",
            r.body
        );
    }
    let r = a
        .req("POST", "/v1/agent/service/register", Some("{}"))
        .await;
    assert_eq!(r.header("Allow").as_deref(), Some("OPTIONS,PUT"));
    let r = a.req("OPTIONS", "/v1/kv/x", None).await;
    assert_eq!(
        (r.status, r.header("Allow").as_deref()),
        (200, Some("OPTIONS,GET,PUT,DELETE"))
    );
    let big = format!(r#"{{"Name":"x","Meta":{{"k":"{}"}}}}"#, "a".repeat(2 << 20));
    assert_eq!(a.put("/v1/agent/service/register", &big).await.status, 413);
    // After all of that, the agent still serves.
    assert_eq!(a.get("/v1/status/leader").await.status, 200);
    a.shutdown().await;
}

#[tokio::test]
async fn health_filters_by_passing_tags_node_meta_and_expression() {
    let a = start().await;
    a.register(r#"{"Name":"web","ID":"w1","Port":1,"Tags":["v1","eu"],"Meta":{"env":"prod"},"Check":{"TTL":"30s","Status":"passing"}}"#).await;
    a.register(r#"{"Name":"web","ID":"w2","Port":2,"Tags":["v1"],"Check":{"TTL":"30s","Status":"warning"}}"#).await;
    a.register(r#"{"Name":"web","ID":"w3","Port":3,"Tags":["v2"],"Check":{"TTL":"30s"}}"#)
        .await;
    let ids = |v: serde_json::Value| -> Vec<String> {
        let mut ids: Vec<String> = v
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["Service"]["ID"].as_str().unwrap().to_string())
            .collect();
        ids.sort();
        ids
    };
    assert_eq!(
        ids(a.get("/v1/health/service/web").await.json()),
        ["w1", "w2", "w3"]
    );
    assert_eq!(
        ids(a.get("/v1/health/service/web?passing").await.json()),
        ["w1"]
    );
    assert_eq!(
        ids(a.get("/v1/health/service/web?passing=false").await.json()),
        ["w1", "w2", "w3"]
    );
    assert_eq!(
        ids(a.get("/v1/health/service/web?tag=v1").await.json()),
        ["w1", "w2"]
    );
    assert_eq!(
        ids(a.get("/v1/health/service/web?tag=v1&tag=eu").await.json()),
        ["w1"]
    );
    assert_eq!(
        ids(a.get("/v1/health/service/web?near=_agent").await.json()).len(),
        3
    );
    let f = "/v1/health/service/web?filter=Service.Meta.env%20%3D%3D%20prod%20or%20Service.Port%20%3D%3D%203";
    assert_eq!(ids(a.get(f).await.json()), ["w1", "w3"]);
    let f = "/v1/health/service/web?filter=Checks.Status%20%3D%3D%20warning";
    assert_eq!(ids(a.get(f).await.json()), ["w2"]);
    let f = "/v1/health/service/web?filter=%22v2%22%20not%20in%20Service.Tags%20and%20not%20Service.ID%20%3D%3D%20w1";
    assert_eq!(ids(a.get(f).await.json()), ["w2"]);
    let cat = a.get("/v1/catalog/service/web?tag=v2").await.json();
    assert_eq!(cat[0]["ServiceID"], "w3");
    assert_eq!(cat[0]["ServicePort"], 3);
    assert_eq!(cat[0]["Address"], "127.0.0.1");
    assert_eq!(
        a.get("/v1/catalog/services").await.json()["web"],
        json!(["eu", "v1", "v2"])
    );
    let nodes = a
        .get("/v1/catalog/nodes?node-meta=consul-version:1.21.0")
        .await
        .json();
    assert_eq!(nodes.as_array().unwrap().len(), 1);
    assert_eq!(
        a.get("/v1/catalog/nodes?node-meta=rack:r9").await.json(),
        json!([])
    );
    let node = a.get("/v1/catalog/node/node1").await.json();
    assert_eq!(node["Services"]["w1"]["Port"], 1);
    assert_eq!(a.get("/v1/catalog/node/ghost").await.body.trim(), "null");
    a.shutdown().await;
}

#[tokio::test]
async fn maintenance_takes_instances_out_and_agent_health_reports_it() {
    let a = start().await;
    a.register(r#"{"Name":"api","ID":"api1","Check":{"TTL":"30s","Status":"passing"}}"#)
        .await;
    let r = a.get("/v1/agent/health/service/name/api").await;
    assert_eq!(
        (r.status, r.header("X-Consul-Reason").as_deref()),
        (200, Some("passing"))
    );
    assert_eq!(r.json()[0]["AggregatedStatus"], "passing");

    assert_eq!(
        a.put(
            "/v1/agent/service/maintenance/api1?enable=true&reason=deploy",
            ""
        )
        .await
        .status,
        200
    );
    assert_eq!(
        a.get("/v1/health/service/api?passing").await.json(),
        json!([])
    );
    let checks = a.get("/v1/agent/checks").await.json();
    assert_eq!(checks["_service_maintenance:api1"]["Notes"], "deploy");
    let r = a.get("/v1/agent/health/service/id/api1?format=text").await;
    assert_eq!((r.status, r.body.as_str()), (503, "maintenance"));
    assert_eq!(
        a.put("/v1/agent/service/maintenance/api1?enable=false", "")
            .await
            .status,
        200
    );
    assert_eq!(
        a.get("/v1/health/service/api?passing")
            .await
            .json()
            .as_array()
            .unwrap()
            .len(),
        1
    );

    assert_eq!(
        a.put("/v1/agent/maintenance?enable=1", "").await.status,
        200
    );
    assert_eq!(
        a.get("/v1/health/service/api?passing").await.json(),
        json!([])
    );
    assert_eq!(
        a.put("/v1/agent/maintenance?enable=0", "").await.status,
        200
    );

    let r = a.get("/v1/agent/health/service/name/ghost").await;
    assert_eq!((r.status, r.body.trim()), (404, "[]"));
    a.shutdown().await;
}

#[tokio::test]
async fn catalog_register_and_deregister_external_nodes() {
    let a = start().await;
    let r = a
        .put(
            "/v1/catalog/register",
            r#"{"Node":"db-host","Address":"10.1.2.3","NodeMeta":{"rack":"r1"},
        "Service":{"Service":"db","Port":5432,"Tags":["primary"]},
        "Check":{"CheckID":"db-alive","Name":"db","ServiceID":"db","Status":"passing"}}"#,
        )
        .await;
    assert_eq!((r.status, r.body.trim()), (200, "true"));
    let h = a.get("/v1/health/service/db?passing").await.json();
    assert_eq!(h[0]["Node"]["Address"], "10.1.2.3");
    assert_eq!(h[0]["Service"]["Port"], 5432);
    assert_eq!(
        a.get("/v1/catalog/nodes?node-meta=rack:r1").await.json()[0]["Node"],
        "db-host"
    );
    let r = a
        .put("/v1/catalog/deregister", r#"{"Node":"db-host"}"#)
        .await;
    assert_eq!(r.status, 200);
    assert_eq!(a.get("/v1/health/service/db").await.json(), json!([]));
    assert_eq!(a.get("/v1/catalog/node/db-host").await.body.trim(), "null");
    a.shutdown().await;
}

#[tokio::test]
async fn the_initial_management_token_is_read_from_query_header_and_bearer() {
    let a = support::start_with(devagent::Agent::builder().initial_management("s3cret")).await;
    // Without a token the anonymous token reads nothing: an empty list, as Consul.
    let r = a.get("/v1/catalog/services").await;
    assert_eq!((r.status, r.json()), (200, json!({})));
    assert_eq!(
        r.header("X-Consul-Default-ACL-Policy").as_deref(),
        Some("deny")
    );
    let r = a.get("/v1/catalog/services?token=wrong").await;
    assert_eq!((r.status, r.body.as_str()), (403, "ACL not found"));
    let r = a.get("/v1/catalog/services?token=s3cret").await;
    assert_eq!(r.json()["consul"], json!([]));
    let url = format!("{}/v1/kv/x", a.base);
    let with_header = a
        .http
        .put(&url)
        .header("X-Consul-Token", "s3cret")
        .body("1")
        .send()
        .await
        .unwrap();
    assert_eq!(with_header.status(), 200);
    let bearer = a.http.get(&url).bearer_auth("s3cret").send().await.unwrap();
    assert_eq!(bearer.status(), 200);
    let anonymous = a.http.get(&url).send().await.unwrap();
    assert_eq!(anonymous.status(), 403);
    a.shutdown().await;
}

#[tokio::test]
async fn events_fire_and_list_with_an_opaque_index() {
    let a = start().await;
    let r = a.get("/v1/event/list").await;
    assert_eq!((r.json(), r.index()), (json!([]), 1));
    let fired = a
        .put("/v1/event/fire/deploy?service=web", "v42")
        .await
        .json();
    assert_eq!(fired["Name"], "deploy");
    assert_eq!(fired["Payload"], "djQy");
    let r = a.get("/v1/event/list?name=deploy").await;
    assert_eq!(r.json()[0]["ID"], fired["ID"]);
    assert!(r.index() > 1);
    assert_eq!(a.req("PUT", "/v1/event/fire/", Some("")).await.status, 400);
    a.shutdown().await;
}
