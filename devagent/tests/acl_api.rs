//! The `/v1/acl/*` API as Consul's "ACL tokens", "ACL policies", "ACL roles"
//! and "/v1/acl HTTP API" documentation describe it: bootstrap once, token,
//! policy and role CRUD, clone, `token/self`, expiry, the anonymous token,
//! the agent's own tokens, and default allow against default deny.
#![allow(clippy::unwrap_used)]

mod support;

use std::time::Duration;

use devagent::{AclConfig, DefaultPolicy};
use serde_json::{json, Value};
use support::{Reply, TestAgent};

const MGMT: &str = "8c1e3f4a-5b6d-4e7f-8a9b-0c1d2e3f4a5b";

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

/// A JSON answer that must be 200.
async fn ok(a: &TestAgent, method: &str, path: &str, token: &str, body: Option<&str>) -> Value {
    let r = call(a, method, path, token, body).await;
    assert_eq!(r.status, 200, "{method} {path}: {}", r.body);
    r.json()
}

fn deny() -> AclConfig {
    AclConfig {
        enabled: true,
        default_policy: DefaultPolicy::Deny,
        ..AclConfig::default()
    }
}

async fn with_mgmt() -> TestAgent {
    support::start_with(devagent::Agent::builder().initial_management(MGMT)).await
}

/// A policy and a token holding it; returns the token's JSON.
async fn token_with(a: &TestAgent, name: &str, rules: &str) -> Value {
    let p = json!({"Name": name, "Rules": rules}).to_string();
    ok(a, "PUT", "/v1/acl/policy", MGMT, Some(&p)).await;
    let t = json!({"Description": name, "Policies": [{"Name": name}]}).to_string();
    ok(a, "PUT", "/v1/acl/token", MGMT, Some(&t)).await
}

fn secret(t: &Value) -> String {
    t["SecretID"].as_str().unwrap().to_string()
}

#[tokio::test]
async fn acls_off_answer_401_and_ignore_tokens() {
    let a = support::start().await;
    for (m, p) in [
        ("GET", "/v1/acl/tokens"),
        ("PUT", "/v1/acl/bootstrap"),
        ("GET", "/v1/acl/policies"),
        ("PUT", "/v1/agent/token/default"),
    ] {
        let r = call(&a, m, p, "", Some("{}")).await;
        assert_eq!(
            (r.status, r.body.as_str()),
            (401, "ACL support disabled"),
            "{p}"
        );
    }
    let r = call(&a, "PUT", "/v1/kv/x", "no-such-token", Some("v")).await;
    assert_eq!(r.status, 200, "a token is ignored when ACLs are off");
    assert_eq!(
        r.header("X-Consul-Default-ACL-Policy").as_deref(),
        Some("allow")
    );
    a.shutdown().await;
}

#[tokio::test]
async fn bootstrap_works_once_then_answers_consuls_403_with_the_reset_index() {
    let a = support::start_with(devagent::Agent::builder().acl(deny())).await;
    // Before bootstrap nothing can be read: an empty list, not an error.
    let r = call(&a, "GET", "/v1/catalog/nodes", "", None).await;
    assert_eq!((r.status, r.json()), (200, json!([])));
    assert_eq!(r.header("X-Consul-Results-Filtered-By-ACLs"), None);
    let t = ok(&a, "PUT", "/v1/acl/bootstrap", "", None).await;
    assert_eq!(t["ID"], t["SecretID"]);
    assert_eq!(t["Description"], "Bootstrap Token (Global Management)");
    assert_eq!(
        t["Policies"],
        json!([{"ID": "00000000-0000-0000-0000-000000000001", "Name": "global-management"}])
    );
    let r = call(&a, "PUT", "/v1/acl/bootstrap", "", None).await;
    assert_eq!(r.status, 403);
    assert_eq!(
        r.body,
        format!(
            "Permission denied: ACL bootstrap no longer allowed (reset index: {})",
            t["CreateIndex"]
        )
    );
    let nodes = ok(&a, "GET", "/v1/catalog/nodes", &secret(&t), None).await;
    assert_eq!(nodes[0]["Node"], "node1");
    a.shutdown().await;

    // An initial management token is the bootstrap.
    let a = with_mgmt().await;
    let r = call(&a, "PUT", "/v1/acl/bootstrap", "", None).await;
    assert_eq!(r.status, 403);
    assert!(
        r.body.contains("ACL bootstrap no longer allowed"),
        "{}",
        r.body
    );
    let me = ok(&a, "GET", "/v1/acl/token/self", MGMT, None).await;
    assert_eq!(me["Description"], "Initial Management Token");
    a.shutdown().await;
}

#[tokio::test]
async fn policies_roles_and_tokens_crud_clone_and_self() {
    let a = with_mgmt().await;
    // Policies: create, duplicate name, bad rules, read by ID and name, list.
    let p = ok(
        &a,
        "PUT",
        "/v1/acl/policy",
        MGMT,
        Some(r#"{"Name":"kv-app","Description":"app keys","Rules":"key_prefix \"app/\" { policy = \"write\" }"}"#),
    )
    .await;
    let pid = p["ID"].as_str().unwrap().to_string();
    assert!(p["Hash"].as_str().is_some_and(|h| !h.is_empty()));
    let r = call(
        &a,
        "PUT",
        "/v1/acl/policy",
        MGMT,
        Some(r#"{"Name":"kv-app"}"#),
    )
    .await;
    assert_eq!(r.status, 500);
    assert_eq!(
        r.body,
        "Invalid Policy: A Policy with Name \"kv-app\" already exists"
    );
    let r = call(
        &a,
        "PUT",
        "/v1/acl/policy",
        MGMT,
        Some(r#"{"Name":"bad","Rules":"service \"x\" { policy = \"list\" }"}"#),
    )
    .await;
    assert_eq!(r.status, 500);
    assert!(
        r.body.starts_with("Failed to parse ACL rules:"),
        "{}",
        r.body
    );
    assert_eq!(
        ok(&a, "GET", &format!("/v1/acl/policy/{pid}"), MGMT, None).await["Rules"],
        p["Rules"]
    );
    assert_eq!(
        ok(&a, "GET", "/v1/acl/policy/name/kv-app", MGMT, None).await["ID"],
        pid.as_str()
    );
    let list = ok(&a, "GET", "/v1/acl/policies", MGMT, None).await;
    let names: Vec<&str> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["Name"].as_str().unwrap())
        .collect();
    assert!(
        names.contains(&"global-management") && names.contains(&"kv-app"),
        "{names:?}"
    );
    assert!(list[0].get("Rules").is_none(), "list stubs carry no rules");

    // A role holding the policy (linked by name), and a token holding the role.
    let role = ok(
        &a,
        "PUT",
        "/v1/acl/role",
        MGMT,
        Some(r#"{"Name":"app","Policies":[{"Name":"kv-app"}]}"#),
    )
    .await;
    let rid = role["ID"].as_str().unwrap().to_string();
    assert_eq!(role["Policies"], json!([{"ID": pid, "Name": "kv-app"}]));
    assert_eq!(
        ok(&a, "GET", "/v1/acl/role/name/app", MGMT, None).await["ID"],
        rid.as_str()
    );
    let t = ok(
        &a,
        "PUT",
        "/v1/acl/token",
        MGMT,
        Some(r#"{"Description":"app","Roles":[{"Name":"app"}]}"#),
    )
    .await;
    let (acc, sec) = (t["AccessorID"].as_str().unwrap().to_string(), secret(&t));
    assert_eq!(t["Roles"], json!([{"ID": rid, "Name": "app"}]));
    assert_eq!(
        call(&a, "PUT", "/v1/kv/app/x", &sec, Some("1"))
            .await
            .status,
        200
    );
    let r = call(&a, "PUT", "/v1/kv/other", &sec, Some("1")).await;
    assert_eq!(r.status, 403);
    assert_eq!(
        r.body,
        format!("Permission denied: token with AccessorID '{acc}' lacks permission 'key:write' on \"other\"")
    );
    assert_eq!(
        ok(&a, "GET", "/v1/acl/token/self", &sec, None).await["AccessorID"],
        acc.as_str()
    );

    // Reading a token needs acl:read; its secret needs acl:write.
    let reader = token_with(&a, "acl-read", r#"acl = "read""#).await;
    let seen = ok(
        &a,
        "GET",
        &format!("/v1/acl/token/{acc}"),
        &secret(&reader),
        None,
    )
    .await;
    assert_eq!(seen["SecretID"], "<hidden>");
    assert_eq!(
        ok(&a, "GET", &format!("/v1/acl/token/{acc}"), MGMT, None).await["SecretID"],
        sec.as_str()
    );
    let r = call(&a, "GET", "/v1/acl/tokens", &sec, None).await;
    assert_eq!(r.status, 403);
    assert!(
        r.body.ends_with("lacks permission 'acl:read'"),
        "{}",
        r.body
    );
    let r = call(&a, "PUT", "/v1/acl/token", &secret(&reader), Some("{}")).await;
    assert!(
        r.status == 403 && r.body.contains("'acl:write'"),
        "{}",
        r.body
    );

    // Clone keeps the roles with new IDs and the new description.
    let c = ok(
        &a,
        "PUT",
        &format!("/v1/acl/token/{acc}/clone"),
        MGMT,
        Some(r#"{"Description":"copy"}"#),
    )
    .await;
    assert_ne!(c["AccessorID"], acc.as_str());
    assert_eq!(
        (c["Description"].as_str(), &c["Roles"]),
        (Some("copy"), &t["Roles"])
    );
    assert_eq!(
        call(&a, "PUT", "/v1/kv/app/y", &secret(&c), Some("1"))
            .await
            .status,
        200
    );
    let by_role = ok(&a, "GET", &format!("/v1/acl/tokens?role={rid}"), MGMT, None).await;
    assert_eq!(by_role.as_array().unwrap().len(), 2);
    let r = call(
        &a,
        "PUT",
        "/v1/acl/token/3a8a6e7e-0000-4000-8000-00000000000f/clone",
        MGMT,
        Some("{}"),
    )
    .await;
    assert_eq!((r.status, r.body.as_str()), (403, "ACL not found"));

    // An update replaces the token's links, and takes effect at once.
    let upd = json!({"Description": "app, no rights"}).to_string();
    let u = ok(&a, "PUT", &format!("/v1/acl/token/{acc}"), MGMT, Some(&upd)).await;
    assert_eq!(u["SecretID"], sec.as_str());
    assert!(u["ModifyIndex"].as_u64() > t["ModifyIndex"].as_u64());
    assert_eq!(
        call(&a, "PUT", "/v1/kv/app/x", &sec, Some("2"))
            .await
            .status,
        403
    );

    // Deleting the policy removes the rights of everything that held it.
    assert_eq!(
        call(&a, "PUT", "/v1/kv/app/z", &secret(&c), Some("1"))
            .await
            .status,
        200
    );
    assert_eq!(
        ok(&a, "DELETE", &format!("/v1/acl/policy/{pid}"), MGMT, None).await,
        json!(true)
    );
    assert_eq!(
        call(&a, "PUT", "/v1/kv/app/z", &secret(&c), Some("2"))
            .await
            .status,
        403
    );
    let r = call(&a, "DELETE", &format!("/v1/acl/policy/{pid}"), MGMT, None).await;
    assert_eq!(
        (r.status, r.body.as_str()),
        (404, "Cannot find policy to delete")
    );
    let r = call(
        &a,
        "DELETE",
        "/v1/acl/policy/00000000-0000-0000-0000-000000000001",
        MGMT,
        None,
    )
    .await;
    assert_eq!(
        r.body,
        "Delete operation not permitted on the builtin global-management policy"
    );

    // Deleting tokens: not your own, not the anonymous one; a deleted token is unknown.
    let me = ok(&a, "GET", "/v1/acl/token/self", MGMT, None).await;
    let r = call(
        &a,
        "DELETE",
        &format!("/v1/acl/token/{}", me["AccessorID"].as_str().unwrap()),
        MGMT,
        None,
    )
    .await;
    assert_eq!(
        r.body,
        "Deletion of the request's authorization token is not permitted"
    );
    let r = call(
        &a,
        "DELETE",
        "/v1/acl/token/00000000-0000-0000-0000-000000000002",
        MGMT,
        None,
    )
    .await;
    assert_eq!(
        r.body,
        "Delete operation not permitted on the anonymous token"
    );
    assert_eq!(
        ok(&a, "DELETE", &format!("/v1/acl/token/{acc}"), MGMT, None).await,
        json!(true)
    );
    let r = call(&a, "GET", "/v1/kv/app/x", &sec, None).await;
    assert_eq!((r.status, r.body.as_str()), (403, "ACL not found"));
    let r = call(&a, "GET", &format!("/v1/acl/token/{acc}"), MGMT, None).await;
    assert_eq!(
        (r.status, r.body.as_str()),
        (404, "Requested token does not exist: ACL not found")
    );
    let r = call(&a, "GET", "/v1/acl/token/self", &sec, None).await;
    assert_eq!(
        (r.status, r.body.as_str()),
        (404, "Supplied token does not exist")
    );
    assert_eq!(
        ok(&a, "DELETE", &format!("/v1/acl/role/{rid}"), MGMT, None).await,
        json!(true)
    );
    a.shutdown().await;
}

#[tokio::test]
async fn chosen_ids_are_checked_and_expired_tokens_are_refused() {
    let cfg = AclConfig {
        token_min_expiration_ttl: Duration::from_millis(1),
        ..deny()
    };
    let a = support::start_with(devagent::Agent::builder().initial_management(MGMT).acl(
        AclConfig {
            tokens: devagent::AclTokens {
                initial_management: Some(devagent::Secret::new(MGMT)),
                ..Default::default()
            },
            ..cfg
        },
    ))
    .await;
    let chosen = r#"{"AccessorID":"11111111-2222-4333-8444-555555555555","SecretID":"66666666-7777-4888-9999-aaaaaaaaaaaa"}"#;
    let t = ok(&a, "PUT", "/v1/acl/token", MGMT, Some(chosen)).await;
    assert_eq!(t["SecretID"], "66666666-7777-4888-9999-aaaaaaaaaaaa");
    let r = call(&a, "PUT", "/v1/acl/token", MGMT, Some(chosen)).await;
    assert_eq!(r.body, "Invalid Token: AccessorID is already in use");
    let r = call(
        &a,
        "PUT",
        "/v1/acl/token",
        MGMT,
        Some(r#"{"SecretID":"not-a-uuid"}"#),
    )
    .await;
    assert_eq!(r.body, "Invalid Token: SecretID - not a valid UUID");

    let p = json!({"Name": "ro", "Rules": "node_prefix \"\" { policy = \"read\" }"}).to_string();
    ok(&a, "PUT", "/v1/acl/policy", MGMT, Some(&p)).await;
    let t = ok(
        &a,
        "PUT",
        "/v1/acl/token",
        MGMT,
        Some(r#"{"Policies":[{"Name":"ro"}],"ExpirationTTL":"400ms"}"#),
    )
    .await;
    assert!(
        t["ExpirationTime"]
            .as_str()
            .is_some_and(|s| s.ends_with('Z')),
        "{t}"
    );
    let s = secret(&t);
    assert_eq!(
        ok(&a, "GET", "/v1/catalog/nodes", &s, None).await[0]["Node"],
        "node1"
    );
    tokio::time::sleep(Duration::from_millis(500)).await;
    let r = call(&a, "GET", "/v1/catalog/nodes", &s, None).await;
    assert_eq!((r.status, r.body.as_str()), (403, "ACL not found"));
    let list = ok(&a, "GET", "/v1/acl/tokens", MGMT, None).await;
    assert!(!list
        .as_array()
        .unwrap()
        .iter()
        .any(|x| x["AccessorID"] == t["AccessorID"]));
    let r = call(
        &a,
        "PUT",
        "/v1/acl/token",
        MGMT,
        Some(r#"{"ExpirationTTL":"48h"}"#),
    )
    .await;
    assert_eq!(r.status, 500);
    assert!(
        r.body
            .starts_with("ExpirationTime cannot be more than 24h0m0s in the future"),
        "{}",
        r.body
    );
    a.shutdown().await;
}

#[tokio::test]
async fn the_anonymous_and_default_tokens_serve_requests_without_a_token() {
    let a = with_mgmt().await;
    let r = call(
        &a,
        "PUT",
        "/v1/agent/service/register",
        MGMT,
        Some(r#"{"Name":"web","Port":80}"#),
    )
    .await;
    assert_eq!(r.status, 200);
    let anon = "/v1/acl/token/00000000-0000-0000-0000-000000000002";
    let t = ok(&a, "GET", anon, MGMT, None).await;
    assert_eq!(
        (t["SecretID"].as_str(), t["Description"].as_str()),
        (Some("anonymous"), Some("Anonymous Token"))
    );
    assert_eq!(
        ok(&a, "GET", "/v1/catalog/services", "", None).await,
        json!({})
    );

    // Rights given to the anonymous token apply to requests without one.
    let p = json!({"Name": "see-services", "Rules": "service_prefix \"\" { policy = \"read\" }"})
        .to_string();
    ok(&a, "PUT", "/v1/acl/policy", MGMT, Some(&p)).await;
    ok(
        &a,
        "PUT",
        anon,
        MGMT,
        Some(r#"{"Policies":[{"Name":"see-services"}]}"#),
    )
    .await;
    let r = call(&a, "GET", "/v1/catalog/services", "", None).await;
    assert_eq!(r.json(), json!({"consul": [], "web": []}));
    let r = call(&a, "GET", "/v1/kv/?recurse", "", None).await;
    assert_eq!(r.status, 404);

    // The agent's default token wins over anonymous (set through the API).
    let kv = token_with(&a, "kv-read", r#"key_prefix "" { policy = "read" }"#).await;
    ok(&a, "PUT", "/v1/kv/k", MGMT, Some("v")).await;
    let body = json!({"Token": secret(&kv)}).to_string();
    let r = call(&a, "PUT", "/v1/agent/token/default", MGMT, Some(&body)).await;
    assert_eq!(r.status, 200);
    assert_eq!(call(&a, "GET", "/v1/kv/k", "", None).await.status, 200);
    assert_eq!(
        call(&a, "GET", "/v1/catalog/services", "", None)
            .await
            .json(),
        json!({})
    );
    let r = call(&a, "PUT", "/v1/agent/token/nope", MGMT, Some("{}")).await;
    assert_eq!(
        (r.status, r.body.as_str()),
        (404, "Token \"nope\" is unknown")
    );
    let r = call(&a, "PUT", "/v1/agent/token/dns", &secret(&kv), Some(&body)).await;
    assert!(
        r.status == 403 && r.body.contains("'agent:write' on \"node1\""),
        "{}",
        r.body
    );
    a.shutdown().await;
}

#[tokio::test]
async fn default_allow_permits_everything_but_acl_management() {
    let cfg = AclConfig {
        enabled: true,
        ..AclConfig::default()
    };
    let a = support::start_with(devagent::Agent::builder().acl(cfg)).await;
    let r = call(&a, "PUT", "/v1/kv/open", "", Some("1")).await;
    assert_eq!(r.status, 200);
    assert_eq!(
        r.header("X-Consul-Default-ACL-Policy").as_deref(),
        Some("allow")
    );
    a.register(r#"{"Name":"web","Port":80}"#).await;
    let r = call(&a, "GET", "/v1/acl/tokens", "", None).await;
    assert_eq!(r.status, 403);
    assert!(
        r.body
            .starts_with("Permission denied: anonymous token lacks permission 'acl:read'"),
        "{}",
        r.body
    );
    // A token's deny rules still apply on top of default allow.
    let t = ok(&a, "PUT", "/v1/acl/bootstrap", "", None).await;
    let m = secret(&t);
    ok(
        &a,
        "PUT",
        "/v1/acl/policy",
        &m,
        Some(r#"{"Name":"no-web","Rules":"service \"web\" { policy = \"deny\" }"}"#),
    )
    .await;
    let d = ok(
        &a,
        "PUT",
        "/v1/acl/token",
        &m,
        Some(r#"{"Policies":[{"Name":"no-web"}]}"#),
    )
    .await;
    let r = call(&a, "GET", "/v1/catalog/services", &secret(&d), None).await;
    assert_eq!(r.json(), json!({"consul": []}));
    assert_eq!(
        r.header("X-Consul-Results-Filtered-By-ACLs").as_deref(),
        Some("true")
    );
    a.shutdown().await;
}

#[tokio::test]
async fn service_and_node_identities_grant_what_consul_synthesizes() {
    let a = with_mgmt().await;
    let t = ok(&a, "PUT", "/v1/acl/token", MGMT, Some(r#"{"ServiceIdentities":[{"ServiceName":"web"}],"NodeIdentities":[{"NodeName":"node1","Datacenter":"dc1"}]}"#)).await;
    assert_eq!(t["ServiceIdentities"], json!([{"ServiceName": "web"}]));
    let s = secret(&t);
    let r = call(
        &a,
        "PUT",
        "/v1/agent/service/register",
        &s,
        Some(r#"{"Name":"web","Port":80}"#),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let r = call(
        &a,
        "PUT",
        "/v1/agent/service/register",
        &s,
        Some(r#"{"Name":"db","Port":5432}"#),
    )
    .await;
    assert!(
        r.status == 403 && r.body.contains("'service:write' on \"db\""),
        "{}",
        r.body
    );
    assert_eq!(
        call(&a, "PUT", "/v1/agent/maintenance?enable=false", &s, None)
            .await
            .status,
        200
    );
    let e = ok(&a, "GET", "/v1/health/service/web", &s, None).await;
    assert_eq!(e[0]["Service"]["Service"], "web");
    let r = call(
        &a,
        "PUT",
        "/v1/acl/token",
        MGMT,
        Some(r#"{"ServiceIdentities":[{"ServiceName":"Web!"}]}"#),
    )
    .await;
    assert!(r.body.contains("has an invalid name"), "{}", r.body);
    a.shutdown().await;
}
