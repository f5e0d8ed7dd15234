//! KV semantics (CAS, flags, keys, recurse, raw, txn) and session locks.
#![allow(clippy::unwrap_used)]

mod support;

use serde_json::{json, Value};
use support::start;

fn b64(s: &str) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(s)
}

#[tokio::test]
async fn kv_reads_and_writes_as_consul() {
    let a = start().await;
    assert_eq!(
        a.put("/v1/kv/app/db/host", "10.0.0.1").await.body.trim(),
        "true"
    );
    assert_eq!(
        a.put("/v1/kv/app/db/port?flags=42", "5432")
            .await
            .body
            .trim(),
        "true"
    );
    assert_eq!(a.put("/v1/kv/app/name", "demo").await.body.trim(), "true");
    let e = a.get("/v1/kv/app/db/port").await.json();
    assert_eq!(e[0]["Value"], b64("5432"));
    assert_eq!(e[0]["Flags"], 42);
    assert_eq!(e[0]["CreateIndex"], e[0]["ModifyIndex"]);
    let raw = a.get("/v1/kv/app/name?raw").await;
    assert_eq!(
        (raw.body.as_str(), raw.header("content-type").as_deref()),
        ("demo", Some("text/plain"))
    );
    let keys = a.get("/v1/kv/app/?keys&separator=/").await.json();
    assert_eq!(keys, json!(["app/db/", "app/name"]));
    let all = a.get("/v1/kv/?keys").await.json();
    assert_eq!(all.as_array().unwrap().len(), 3);
    let tree = a.get("/v1/kv/app/?recurse").await.json();
    let keys: Vec<&str> = tree
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["Key"].as_str().unwrap())
        .collect();
    assert_eq!(keys, ["app/db/host", "app/db/port", "app/name"]);
    assert_eq!(a.get("/v1/kv/nope/?keys").await.status, 404);
    assert_eq!(a.get("/v1/kv/").await.status, 400);

    // Empty value is null; a folder key is allowed.
    a.put("/v1/kv/app/empty", "").await;
    assert_eq!(
        a.get("/v1/kv/app/empty").await.json()[0]["Value"],
        Value::Null
    );

    // CAS: 0 means create-only; N means ModifyIndex must match.
    assert_eq!(
        a.put("/v1/kv/app/name?cas=0", "x").await.body.trim(),
        "false"
    );
    let idx = a.get("/v1/kv/app/name").await.json()[0]["ModifyIndex"]
        .as_u64()
        .unwrap();
    assert_eq!(
        a.put(&format!("/v1/kv/app/name?cas={}", idx + 100), "x")
            .await
            .body
            .trim(),
        "false"
    );
    assert_eq!(
        a.put(&format!("/v1/kv/app/name?cas={idx}"), "renamed")
            .await
            .body
            .trim(),
        "true"
    );
    assert_eq!(
        a.req("DELETE", &format!("/v1/kv/app/name?cas={idx}"), None)
            .await
            .body
            .trim(),
        "false"
    );

    assert_eq!(
        a.req("DELETE", "/v1/kv/app/db?recurse", None)
            .await
            .body
            .trim(),
        "true"
    );
    assert_eq!(a.get("/v1/kv/app/db/host").await.status, 404);
    assert_eq!(
        a.req("DELETE", "/v1/kv/never-existed", None)
            .await
            .body
            .trim(),
        "true"
    );
    a.shutdown().await;
}

#[tokio::test]
async fn kv_rejects_bad_input() {
    let a = start().await;
    let r = a.put("/v1/kv/x?cas=1&acquire=abc", "v").await;
    assert_eq!(r.status, 400);
    assert_eq!(r.body, "Conflicting flags: acquire=abc&cas=1");
    assert_eq!(a.put("/v1/kv/x?flags=banana", "v").await.status, 500);
    let r = a.put("/v1/kv/a%2F..%2Fb", "v").await;
    assert_eq!(r.status, 400);
    assert!(r.body.contains(".."), "{}", r.body);
    assert_eq!(a.put("/v1/kv/nul%00byte", "v").await.status, 400);
    let big = "x".repeat(512 * 1024 + 1);
    let r = a.put("/v1/kv/big", &big).await;
    assert_eq!(r.status, 413);
    assert!(r.body.contains("524288"), "{}", r.body);
    assert_eq!(
        a.req("DELETE", "/v1/kv/?recurse&cas=1", None).await.status,
        400
    );
    let r = a.put("/v1/kv/x?acquire=not-a-session", "v").await;
    assert_eq!(r.status, 500);
    assert!(r.body.contains("invalid session"), "{}", r.body);
    a.shutdown().await;
}

#[tokio::test]
async fn transactions_apply_all_or_nothing() {
    let a = start().await;
    let ops = json!([
        {"KV": {"Verb": "set", "Key": "t/a", "Value": b64("1")}},
        {"KV": {"Verb": "set", "Key": "t/b", "Value": b64("2")}},
        {"KV": {"Verb": "get", "Key": "t/a"}}
    ]);
    let r = a.put("/v1/txn", &ops.to_string()).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let v = r.json();
    assert_eq!(v["Results"].as_array().unwrap().len(), 3);
    assert_eq!(v["Results"][0]["KV"]["Value"], Value::Null);
    assert_eq!(v["Results"][2]["KV"]["Value"], b64("1"));

    let ops = json!([
        {"KV": {"Verb": "set", "Key": "t/c", "Value": b64("3")}},
        {"KV": {"Verb": "cas", "Key": "t/a", "Index": 1, "Value": b64("x")}}
    ]);
    let r = a.put("/v1/txn", &ops.to_string()).await;
    assert_eq!(r.status, 409);
    assert_eq!(r.json()["Errors"][0]["OpIndex"], 1);
    assert_eq!(
        a.get("/v1/kv/t/c").await.status,
        404,
        "the failed transaction left nothing behind"
    );
    let too_many: Vec<Value> = (0..65)
        .map(|i| json!({"KV": {"Verb": "set", "Key": format!("k{i}")}}))
        .collect();
    assert_eq!(
        a.put("/v1/txn", &Value::Array(too_many).to_string())
            .await
            .status,
        413
    );
    a.shutdown().await;
}

#[tokio::test]
async fn sessions_hold_locks_and_release_them_when_invalidated() {
    let a = start().await;
    // A node-level TTL check the session depends on.
    a.put(
        "/v1/agent/check/register",
        r#"{"Name":"lease","CheckID":"lease","TTL":"30s","Status":"passing"}"#,
    )
    .await;
    let s = a
        .put(
            "/v1/session/create",
            r#"{"Name":"leader","NodeChecks":["serfHealth","lease"],"LockDelay":"0s","TTL":"15s"}"#,
        )
        .await;
    assert_eq!(s.status, 200, "{}", s.body);
    let id = s.json()["ID"].as_str().unwrap().to_string();
    let other = a.put("/v1/session/create", "").await.json()["ID"]
        .as_str()
        .unwrap()
        .to_string();

    assert_eq!(
        a.put(
            &format!("/v1/kv/lock?acquire={id}&flags=3304740253564472344"),
            "me"
        )
        .await
        .body
        .trim(),
        "true"
    );
    let e = a.get("/v1/kv/lock").await.json();
    assert_eq!(e[0]["Session"], id.as_str());
    assert_eq!(e[0]["LockIndex"], 1);
    assert_eq!(e[0]["Flags"], 3_304_740_253_564_472_344u64);
    assert_eq!(
        a.put(&format!("/v1/kv/lock?acquire={other}"), "them")
            .await
            .body
            .trim(),
        "false"
    );

    let info = a.get(&format!("/v1/session/info/{id}")).await.json();
    assert_eq!(info[0]["Name"], "leader");
    assert_eq!(info[0]["TTL"], "15s");
    assert_eq!(info[0]["Behavior"], "release");
    assert_eq!(info[0]["LockDelay"], 0);
    assert_eq!(
        a.put(&format!("/v1/session/renew/{id}"), "").await.json()[0]["ID"],
        id.as_str()
    );

    // The linked check fails: the session goes and the lock is released.
    a.put("/v1/agent/check/fail/lease", "").await;
    assert_eq!(
        a.get(&format!("/v1/session/info/{id}")).await.json(),
        json!([])
    );
    let e = a.get("/v1/kv/lock").await.json();
    assert!(e[0].get("Session").is_none(), "lock released: {e}");
    assert_eq!(e[0]["Value"], b64("me"));
    assert_eq!(
        a.put(&format!("/v1/kv/lock?acquire={other}"), "them")
            .await
            .body
            .trim(),
        "true"
    );
    assert_eq!(
        a.put(&format!("/v1/kv/lock?release={other}"), "")
            .await
            .body
            .trim(),
        "true"
    );
    assert_eq!(
        a.put(&format!("/v1/kv/lock?release={other}"), "")
            .await
            .body
            .trim(),
        "false"
    );
    a.shutdown().await;
}

#[tokio::test]
async fn invalidated_delete_sessions_delete_keys_and_lock_delay_applies() {
    let a = start().await;
    a.put(
        "/v1/agent/check/register",
        r#"{"Name":"c","TTL":"30s","Status":"passing"}"#,
    )
    .await;
    let del = a
        .put(
            "/v1/session/create",
            r#"{"Behavior":"delete","NodeChecks":["c"],"LockDelay":"0s"}"#,
        )
        .await
        .json()["ID"]
        .as_str()
        .unwrap()
        .to_string();
    let rel = a
        .put(
            "/v1/session/create",
            r#"{"NodeChecks":["c"],"LockDelay":"15s"}"#,
        )
        .await
        .json()["ID"]
        .as_str()
        .unwrap()
        .to_string();
    let fresh = a.put("/v1/session/create", "{}").await.json()["ID"]
        .as_str()
        .unwrap()
        .to_string();
    a.put(&format!("/v1/kv/ephemeral?acquire={del}"), "x").await;
    a.put(&format!("/v1/kv/delayed?acquire={rel}"), "y").await;
    a.put("/v1/agent/check/fail/c", "").await;
    assert_eq!(a.get("/v1/kv/ephemeral").await.status, 404);
    // Within the lock delay nobody can take the released key.
    assert_eq!(
        a.put(&format!("/v1/kv/delayed?acquire={fresh}"), "z")
            .await
            .body
            .trim(),
        "false"
    );
    assert_eq!(
        a.put(&format!("/v1/session/destroy/{fresh}"), "")
            .await
            .body
            .trim(),
        "true"
    );
    a.shutdown().await;
}

#[tokio::test]
async fn session_create_validates_as_consul() {
    let a = start().await;
    for (body, text) in [
        (r#"{"TTL":"5s"}"#, "Invalid Session TTL '5s'"),
        (r#"{"TTL":"25h"}"#, "Invalid Session TTL"),
        (
            r#"{"Behavior":"explode"}"#,
            "Invalid Behavior setting 'explode'",
        ),
        (r#"{"Node":"ghost"}"#, "Missing node registration"),
        (
            r#"{"NodeChecks":["ghost"]}"#,
            "Missing check 'ghost' registration",
        ),
    ] {
        let r = a.put("/v1/session/create", body).await;
        assert_eq!(r.status, 500, "{body}: {}", r.body);
        assert!(r.body.contains(text), "{body}: {}", r.body);
    }
    assert_eq!(a.get("/v1/session/info/nope").await.json(), json!([]));
    assert_eq!(a.get("/v1/session/list").await.json(), json!([]));
    a.shutdown().await;
}
