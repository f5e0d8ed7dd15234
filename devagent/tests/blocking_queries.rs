//! Blocking queries wake on the writes that concern them, and only on those.
#![allow(clippy::unwrap_used)]

mod support;

use std::time::{Duration, Instant};

use support::start;

#[tokio::test]
async fn a_write_wakes_the_matching_query_quickly() {
    let a = start().await;
    a.register(r#"{"Name":"web","ID":"w1","Check":{"TTL":"30s","Status":"passing"}}"#)
        .await;
    let first = a.get("/v1/health/service/web").await;
    let index = first.index();
    let base = a.base.clone();
    let http = a.http.clone();
    let waiter = tokio::spawn(async move {
        let url = format!("{base}/v1/health/service/web?index={index}&wait=30s");
        let resp = http.get(url).send().await.unwrap();
        let idx: u64 = resp.headers()["X-Consul-Index"]
            .to_str()
            .unwrap()
            .parse()
            .unwrap();
        (Instant::now(), idx, resp.text().await.unwrap())
    });
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(
        !waiter.is_finished(),
        "the query must block while nothing changes"
    );
    let wrote = Instant::now();
    a.put("/v1/agent/check/fail/service:w1", "").await;
    let (woke, new_index, body) = waiter.await.unwrap();
    assert!(new_index > index);
    assert!(body.contains("critical"));
    let latency = woke.duration_since(wrote);
    assert!(
        latency < Duration::from_millis(100),
        "woke after {latency:?}"
    );
    a.shutdown().await;
}

#[tokio::test]
async fn unrelated_writes_leave_other_queries_asleep() {
    let a = start().await;
    a.register(r#"{"Name":"web","Check":{"TTL":"30s","Status":"passing"}}"#)
        .await;
    let index = a.get("/v1/health/service/web").await.index();
    let base = a.base.clone();
    let http = a.http.clone();
    let waiter = tokio::spawn(async move {
        let url = format!("{base}/v1/health/service/web?index={index}&wait=1s");
        let start = Instant::now();
        let resp = http.get(url).send().await.unwrap();
        let idx: u64 = resp.headers()["X-Consul-Index"]
            .to_str()
            .unwrap()
            .parse()
            .unwrap();
        (start.elapsed(), idx)
    });
    for i in 0..20 {
        a.register(&format!(r#"{{"Name":"other{i}"}}"#)).await;
        a.put(&format!("/v1/kv/unrelated/{i}"), "x").await;
    }
    let (elapsed, idx) = waiter.await.unwrap();
    assert_eq!(idx, index, "the index of web must not move");
    assert!(
        elapsed >= Duration::from_millis(950),
        "returned early after {elapsed:?}"
    );
    a.shutdown().await;
}

#[tokio::test]
async fn wait_times_out_with_the_same_index_and_never_zero() {
    let a = start().await;
    let r = a.get("/v1/health/service/nothing-here").await;
    assert!(r.index() >= 1);
    let start = Instant::now();
    let again = a
        .get(&format!(
            "/v1/health/service/nothing-here?index={}&wait=300ms",
            r.index()
        ))
        .await;
    let took = start.elapsed();
    assert_eq!(again.index(), r.index());
    // 300ms plus at most 1/16 of jitter.
    assert!(
        took >= Duration::from_millis(290) && took < Duration::from_millis(800),
        "took {took:?}"
    );
    assert_eq!(again.body.trim(), "[]");
    let kv = a.get("/v1/kv/missing").await;
    assert_eq!(kv.status, 404);
    assert!(kv.index() >= 1);
    assert_eq!(kv.header("X-Consul-KnownLeader").as_deref(), Some("true"));
    a.shutdown().await;
}

#[tokio::test]
async fn kv_watch_on_a_missing_key_wakes_when_it_is_created_and_deleted() {
    let a = start().await;
    let r = a.get("/v1/kv/app/config").await;
    assert_eq!(r.status, 404);
    let index = r.index();
    let base = a.base.clone();
    let http = a.http.clone();
    let waiter = tokio::spawn(async move {
        let resp = http
            .get(format!("{base}/v1/kv/app/config?index={index}&wait=10s"))
            .send()
            .await
            .unwrap();
        let idx: u64 = resp.headers()["X-Consul-Index"]
            .to_str()
            .unwrap()
            .parse()
            .unwrap();
        (resp.status().as_u16(), idx)
    });
    tokio::time::sleep(Duration::from_millis(100)).await;
    a.put("/v1/kv/app/config", "v1").await;
    let (status, created) = waiter.await.unwrap();
    assert_eq!(status, 200);
    assert!(created > index);

    let prefix_index = a.get("/v1/kv/app/?recurse").await.index();
    let base = a.base.clone();
    let http = a.http.clone();
    let waiter = tokio::spawn(async move {
        let resp = http
            .get(format!(
                "{base}/v1/kv/app/?recurse&index={prefix_index}&wait=10s"
            ))
            .send()
            .await
            .unwrap();
        let idx: u64 = resp.headers()["X-Consul-Index"]
            .to_str()
            .unwrap()
            .parse()
            .unwrap();
        (resp.status().as_u16(), idx)
    });
    tokio::time::sleep(Duration::from_millis(100)).await;
    a.req("DELETE", "/v1/kv/app/config", None).await;
    let (status, deleted) = waiter.await.unwrap();
    assert_eq!(status, 404, "the prefix is empty after the delete");
    assert!(
        deleted > prefix_index,
        "a delete moves the prefix index forward"
    );
    a.shutdown().await;
}

#[tokio::test]
async fn hash_blocking_on_an_agent_service_returns_when_it_goes_away() {
    let a = start().await;
    a.register(r#"{"Name":"svc","Port":1}"#).await;
    let r = a.get("/v1/agent/service/svc").await;
    let hash = r.header("X-Consul-ContentHash").unwrap();
    let base = a.base.clone();
    let http = a.http.clone();
    let waiter = tokio::spawn(async move {
        http.get(format!("{base}/v1/agent/service/svc?hash={hash}&wait=10s"))
            .send()
            .await
            .unwrap()
            .status()
            .as_u16()
    });
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert!(!waiter.is_finished());
    a.put("/v1/agent/service/deregister/svc", "").await;
    assert_eq!(waiter.await.unwrap(), 404);
    a.shutdown().await;
}

#[tokio::test]
async fn shutdown_ends_blocked_queries_at_once() {
    let a = start().await;
    let index = a.get("/v1/catalog/services").await.index();
    let base = a.base.clone();
    let http = a.http.clone();
    let waiter = tokio::spawn(async move {
        let start = Instant::now();
        let _ = http
            .get(format!("{base}/v1/catalog/services?index={index}&wait=5m"))
            .send()
            .await;
        start.elapsed()
    });
    tokio::time::sleep(Duration::from_millis(100)).await;
    a.shutdown().await;
    let took = waiter.await.unwrap();
    assert!(
        took < Duration::from_secs(3),
        "blocked query held shutdown for {took:?}"
    );
}
