//! Discovery keeps a live view: picks rotate by weight, changes arrive at
//! subscribers, stale data keeps serving while Consul is away, URLs and the
//! HTTP client resolve service names.
#![allow(clippy::unwrap_used)]

mod support;

use std::collections::HashMap;
use std::time::{Duration, Instant};

use dcy::registry::{Check, Registration};
use dcy::{Discovery, ServiceOptions};
use futures_util::StreamExt;
use support::{eventually, start};

async fn worker(client: &dcy::Client, id: &str, port: u16, weight: u32) -> dcy::Registered {
    Registration::new("worker")
        .id(id)
        .address("127.0.0.1")
        .port(port)
        .weights(weight, 1)
        .check(Check::ttl(Duration::from_secs(30)))
        .register(client)
        .await
        .unwrap()
}

#[tokio::test]
async fn picks_rotate_by_weight_over_healthy_instances() {
    let env = start().await;
    let _a = worker(&env.client, "w1", 1001, 2).await;
    let _b = worker(&env.client, "w2", 1002, 1).await;
    let _c = worker(&env.client, "w3", 1003, 1).await;
    let d = Discovery::new(env.client.clone());
    let svc = d.service("worker");
    svc.ready(Duration::from_secs(5)).await.unwrap();
    assert!(eventually(5, || async { svc.instances().len() == 3 }).await);
    let mut counts: HashMap<String, usize> = HashMap::new();
    for _ in 0..400 {
        *counts.entry(svc.pick().unwrap().id.clone()).or_default() += 1;
    }
    assert_eq!(
        (counts["w1"], counts["w2"], counts["w3"]),
        (200, 100, 100),
        "{counts:?}"
    );
    assert!(svc.pick_addr().is_some());
    // Same handle for the same name.
    assert_eq!(d.service("worker").instances().len(), 3);
    env.shutdown().await;
}

#[tokio::test]
async fn changes_reach_subscribers_quickly_and_unhealthy_instances_leave() {
    let env = start().await;
    let a = worker(&env.client, "w1", 1001, 1).await;
    let d = Discovery::new(env.client.clone());
    let svc = d.service("worker");
    svc.ready(Duration::from_secs(5)).await.unwrap();
    let mut updates = Box::pin(svc.updates());

    let b = worker(&env.client, "w2", 1002, 1).await;
    let started = Instant::now();
    let snap = tokio::time::timeout(Duration::from_secs(5), updates.next())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(snap.len(), 2);
    assert!(
        started.elapsed() < Duration::from_secs(1),
        "change took {:?}",
        started.elapsed()
    );

    b.fail("broken").await.unwrap();
    let snap = tokio::time::timeout(Duration::from_secs(5), updates.next())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        snap.as_slice()
            .iter()
            .map(|i| i.id.as_str())
            .collect::<Vec<_>>(),
        ["w1"]
    );

    b.warn("slow").await.unwrap();
    let waiting = tokio::spawn({
        let svc = svc.clone();
        async move { svc.changed().await }
    });
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(
        !waiting.is_finished(),
        "warning instances stay out by default"
    );
    waiting.abort();
    let lenient = d.service_with("worker", ServiceOptions::default().allow_warning());
    lenient.ready(Duration::from_secs(5)).await.unwrap();
    assert!(eventually(5, || async { lenient.instances().len() == 2 }).await);

    a.deregister().await.unwrap();
    assert!(eventually(5, || async { svc.instances().is_empty() }).await);
    assert!(svc.pick().is_none());
    env.shutdown().await;
}

#[tokio::test]
async fn tags_select_instances() {
    let env = start().await;
    let _v1 = Registration::new("api")
        .id("a1")
        .port(1)
        .tag("v1")
        .check(Check::ttl(Duration::from_secs(30)))
        .register(&env.client)
        .await
        .unwrap();
    let _v2 = Registration::new("api")
        .id("a2")
        .port(2)
        .tag("v2")
        .check(Check::ttl(Duration::from_secs(30)))
        .register(&env.client)
        .await
        .unwrap();
    let d = Discovery::new(env.client.clone());
    let v2 = d.service_with("api", ServiceOptions::default().tag("v2"));
    let inst = v2.ready(Duration::from_secs(5)).await.unwrap();
    assert_eq!(
        inst.as_slice()
            .iter()
            .map(|i| i.id.as_str())
            .collect::<Vec<_>>(),
        ["a2"]
    );
    env.shutdown().await;
}

#[tokio::test]
async fn a_tag_in_a_url_reaches_only_the_instances_carrying_it() {
    let env = start().await;
    let (ours, _s1) = support::http_server("ours").await;
    let (theirs, _s2) = support::http_server("theirs").await;
    let _ours = Registration::new("worker")
        .id("ours")
        .address("127.0.0.1")
        .port(ours.port())
        .tag("dcy-demo")
        .check(Check::ttl(Duration::from_secs(30)))
        .register(&env.client)
        .await
        .unwrap();
    let _theirs = Registration::new("worker")
        .id("theirs")
        .address("127.0.0.1")
        .port(theirs.port())
        .check(Check::ttl(Duration::from_secs(30)))
        .register(&env.client)
        .await
        .unwrap();
    let d = Discovery::new(env.client.clone());
    let url = "http://dcy-demo.worker.service.consul/x";
    let resolved = d.resolve_url(url, Duration::from_secs(5)).await.unwrap();
    assert_eq!(resolved, format!("http://127.0.0.1:{}/x", ours.port()));
    let http = d.http().unwrap();
    for _ in 0..6 {
        let body = http.get(url).await.unwrap().text().await.unwrap();
        assert_eq!(
            body, "ours",
            "an untagged instance of the same name is never used"
        );
    }
    let err = http
        .get("http://other.worker.service.consul/x")
        .await
        .unwrap_err();
    assert!(err.to_string().contains("other.worker"), "{err}");
    env.shutdown().await;
}

#[tokio::test]
async fn stale_data_keeps_serving_while_consul_is_away() {
    let mut env = start().await;
    let _w = worker(&env.client, "w1", 1001, 1).await;
    let d = Discovery::new(env.client.clone());
    let svc = d.service("worker");
    svc.ready(Duration::from_secs(5)).await.unwrap();
    env.stop_agent().await;
    let failing = eventually(10, || async { svc.status().is_stale() }).await;
    assert!(failing, "the outage is visible");
    assert_eq!(
        svc.pick().unwrap().id,
        "w1",
        "the last known instances keep serving"
    );
    let st = svc.status();
    assert!(st.error.is_some() && st.age().is_some());
    env.restart_agent().await;
    let _w2 = worker(&env.client, "w9", 1009, 1).await;
    assert!(
        eventually(10, || async {
            !svc.status().is_stale() && svc.instances().as_slice().iter().any(|i| i.id == "w9")
        })
        .await
    );
    env.shutdown().await;
}

#[tokio::test]
async fn wait_for_orders_start_up() {
    let env = start().await;
    let d = Discovery::new(env.client.clone());
    let err = d
        .wait_for(&["sensor"], Duration::from_millis(300))
        .await
        .unwrap_err();
    assert!(err.to_string().contains("sensor"), "{err}");
    assert!(
        err.to_string().ends_with("after 300ms"),
        "the timeout as it was given, not what was left of it: {err}"
    );
    let client = env.client.clone();
    let later = tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(200)).await;
        Registration::new("sensor")
            .check(Check::ttl(Duration::from_secs(30)))
            .register(&client)
            .await
            .unwrap()
    });
    d.wait_for(&["sensor"], Duration::from_secs(5))
        .await
        .unwrap();
    let _keep = later.await.unwrap();
    env.shutdown().await;
}

#[tokio::test]
async fn urls_and_the_http_client_resolve_names_and_retry_elsewhere() {
    let env = start().await;
    let (good, _server) = support::http_server("alive").await;
    let dead = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let _g = worker(&env.client, "good", good.port(), 1).await;
    let _b = worker(&env.client, "dead", dead, 1).await;
    let d = Discovery::new(env.client.clone());
    d.service("worker")
        .ready(Duration::from_secs(5))
        .await
        .unwrap();
    assert!(eventually(5, || async { d.service("worker").instances().len() == 2 }).await);

    let u = d.url("http://worker/squares?n=3").unwrap();
    assert!(
        u == format!("http://127.0.0.1:{}/squares?n=3", good.port())
            || u == format!("http://127.0.0.1:{dead}/squares?n=3"),
        "{u}"
    );
    assert_eq!(
        d.url("http://127.0.0.1:80/x").unwrap(),
        "http://127.0.0.1:80/x"
    );
    assert!(d.url("http://nobody/x").is_err());

    let http = d.http().unwrap();
    for _ in 0..10 {
        let resp = http.get("http://worker/x").await.unwrap();
        assert_eq!(resp.text().await.unwrap(), "alive");
    }
    let post = http
        .post_json(
            "http://worker.service.consul/x",
            &serde_json::json!({"n": 1}),
        )
        .await
        .unwrap();
    assert_eq!(post.status(), 200);
    env.shutdown().await;
}
