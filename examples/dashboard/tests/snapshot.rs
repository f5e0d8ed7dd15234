//! The dashboard against a real devagent: `/api/snapshot` and `/events`
//! follow registrations, checks going critical, deregistrations and Consul
//! going away.
#![allow(clippy::unwrap_used)]

mod common;

use std::time::Duration;

use common::{instance, service, EventStream, Harness};
use dcy::Status;

const WAIT: Duration = Duration::from_secs(15);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_snapshot_and_the_stream_follow_consul() {
    let mut h = Harness::start(120).await;
    h.register("worker-1", "worker", 7101, &["v1"], "squares: 12 computed")
        .await;
    h.register("worker-2", "worker", 7102, &["v1"], "squares: 7 computed")
        .await;

    // The snapshot lists every service, sorted, the dashboard itself included.
    let s = h
        .snapshot_until("two passing workers and the dashboard", |s| {
            service(s, "worker").is_some_and(|w| w.counts.passing == 2)
                && service(s, "dashboard").is_some_and(|d| d.counts.total == 1)
        })
        .await;
    assert!(s.freshness.ready && !s.freshness.stale, "{s:?}");
    assert_eq!(s.freshness.error, None);
    let names: Vec<&str> = s.services.iter().map(|v| v.name.as_str()).collect();
    let mut sorted = names.clone();
    sorted.sort();
    assert_eq!(names, sorted, "services sorted by name");
    let w = service(&s, "worker").unwrap();
    assert_eq!(w.tags, ["v1"]);
    assert_eq!(w.status, Some(Status::Passing));
    let ids: Vec<&str> = w.instances.iter().map(|i| i.id.as_str()).collect();
    assert_eq!(ids, ["worker-1", "worker-2"]);
    let w1 = &w.instances[0];
    assert_eq!((w1.address.as_str(), w1.port), ("127.0.0.1", 7101));
    assert!(!w1.node.is_empty());
    let hb = &w1.checks[0];
    assert_eq!(
        (
            hb.id.as_str(),
            hb.name.as_str(),
            hb.status,
            hb.output.as_str()
        ),
        (
            "service:worker-1",
            "heartbeat",
            Status::Passing,
            "squares: 12 computed"
        )
    );
    assert!(
        s.totals.services >= 2 && s.totals.instances.total >= 3,
        "{s:?}"
    );

    // The stream starts with the full snapshot, then ticks every second.
    let mut events = EventStream::connect(&h.url("/events")).await;
    let first = events.next(WAIT).await.expect("a first event");
    let first = first.snapshot();
    assert_eq!(service(&first, "worker").unwrap().counts.passing, 2);
    let tick = events.until(WAIT, "a tick", |e| e.kind == "tick").await;
    let tick = tick.json();
    assert_eq!(tick["freshness"]["stale"], false, "{tick}");
    assert_eq!(tick["samples"]["worker"]["passing"], 2, "{tick}");

    // A check goes critical: a snapshot tells at once, output included.
    let long = format!(
        "HTTP GET http://127.0.0.1:7102/health: 503 {} Connection refused",
        "x".repeat(400)
    );
    h.fail("worker-2", &long).await;
    let s = events
        .until_snapshot("worker-2 critical", |s| {
            instance(s, "worker-2").is_some_and(|i| i.status == Status::Critical)
        })
        .await;
    let w = service(&s, "worker").unwrap();
    assert_eq!((w.counts.passing, w.counts.critical), (1, 1));
    assert_eq!(w.status, Some(Status::Critical));
    let out = &instance(&s, "worker-2").unwrap().checks[0].output;
    assert!(
        out.starts_with("HTTP GET http://127.0.0.1:7102/health: 503"),
        "{out}"
    );
    assert!(
        out.ends_with("Connection refused"),
        "the whole output, its useful end included: {out}"
    );
    assert!(s.version > first.version);

    // The history follows, one sample a second, kept on the server.
    let s = h
        .snapshot_until("the history shows the critical worker", |s| {
            service(s, "worker")
                .and_then(|w| w.history.last())
                .is_some_and(|x| x.critical == 1 && x.passing == 1)
        })
        .await;
    let history = &service(&s, "worker").unwrap().history;
    assert!(history.iter().any(|x| x.passing == 2), "{history:?}");
    assert!(history.windows(2).all(|p| p[0].t < p[1].t), "{history:?}");
    assert_eq!(s.history_capacity, 120);

    // Deregistration removes the instance; the last one gone, the service goes.
    h.deregister("worker-1").await;
    let s = events
        .until_snapshot("worker-1 gone", |s| instance(s, "worker-1").is_none())
        .await;
    assert_eq!(service(&s, "worker").unwrap().counts.total, 1);
    h.deregister("worker-2").await;
    events
        .until_snapshot("the worker service gone", |s| {
            service(s, "worker").is_none()
        })
        .await;
    h.register("worker-3", "worker", 7103, &["v2"], "ok").await;
    let s = events
        .until_snapshot("worker back with v2", |s| {
            service(s, "worker").is_some_and(|w| w.counts.passing == 1)
        })
        .await;
    assert_eq!(service(&s, "worker").unwrap().tags, ["v2"]);

    // Consul goes away: the last good data stays, marked stale, and ages.
    h.stop_agent().await;
    let tick = events
        .until(WAIT, "a stale tick", |e| {
            e.kind == "tick" && e.json()["freshness"]["stale"] == true
        })
        .await;
    let tick = tick.json();
    assert!(tick["freshness"]["error"].is_string(), "{tick}");
    let s = h
        .snapshot_until("a stale snapshot", |s| s.freshness.stale)
        .await;
    assert!(s.freshness.error.as_deref().is_some_and(|e| !e.is_empty()));
    assert_eq!(
        instance(&s, "worker-3").map(|i| i.status),
        Some(Status::Passing),
        "the last good data is still served"
    );
    let age = s.freshness.age_seconds.unwrap();
    tokio::time::sleep(Duration::from_millis(2100)).await;
    let later = h.snapshot().await.unwrap();
    let older = later.freshness.age_seconds.unwrap();
    assert!(
        older >= age + 1.5,
        "the age grows while Consul is down: {age} then {older}"
    );
    assert!(later.freshness.failing_seconds.is_some());
    let stale_tick = events
        .until(WAIT, "a later stale tick", |e| {
            e.kind == "tick"
                && e.json()["freshness"]["age_seconds"]
                    .as_f64()
                    .is_some_and(|a| a >= older)
        })
        .await;
    assert_eq!(stale_tick.json()["freshness"]["stale"], true);

    // The dashboard stops although a page is connected; its stream ends.
    h.stop_dashboard().await.unwrap();
    let end = tokio::time::timeout(Duration::from_secs(5), async {
        loop {
            if events.next(WAIT).await.is_none() {
                break;
            }
        }
    })
    .await;
    assert!(end.is_ok(), "the event stream ends with the dashboard");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn warning_maintenance_and_a_bounded_history() {
    let h = Harness::start(3).await;
    h.register("sensor-1", "sensor", 7001, &["v1", "temp"], "ok")
        .await;
    h.register("sensor-2", "sensor", 7002, &["v1"], "ok").await;
    h.register("sensor-3", "sensor", 7003, &["v1"], "ok").await;
    h.warn("sensor-2", "p99 latency 840 ms").await;
    h.maintenance("sensor-3", "disk swap").await;
    let s = h
        .snapshot_until("one of each", |s| {
            service(s, "sensor").is_some_and(|v| {
                v.counts.passing == 1 && v.counts.warning == 1 && v.counts.maintenance == 1
            })
        })
        .await;
    let v = service(&s, "sensor").unwrap();
    assert_eq!(v.tags, ["temp", "v1"]);
    assert_eq!(v.status, Some(Status::Maintenance));
    let maint = instance(&s, "sensor-3").unwrap();
    assert_eq!(maint.status, Status::Maintenance);
    assert!(
        maint
            .checks
            .iter()
            .any(|c| c.id == "_service_maintenance:sensor-3" && c.output.contains("disk swap")),
        "{maint:?}"
    );
    assert_eq!(
        instance(&s, "sensor-2").unwrap().checks[0].output,
        "p99 latency 840 ms"
    );

    // Three samples at most, however long it runs.
    let s = h
        .snapshot_until("a full history", |s| {
            service(s, "sensor").is_some_and(|v| v.history.len() == 3)
        })
        .await;
    let first = service(&s, "sensor").unwrap().history[0].t;
    let s = h
        .snapshot_until("a rolled history", |s| {
            service(s, "sensor").is_some_and(|v| v.history[0].t > first)
        })
        .await;
    assert_eq!(service(&s, "sensor").unwrap().history.len(), 3);
    assert_eq!(s.history_capacity, 3);

    // The page and the metrics are served too.
    let page = h.http.get(h.url("/")).send().await.unwrap();
    assert!(page
        .headers()
        .get("content-type")
        .is_some_and(|v| v.as_bytes().starts_with(b"text/html")));
    let page = page.text().await.unwrap();
    assert!(page.contains("new EventSource('/events')"));
    let metrics = h
        .http
        .get(h.url("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(metrics.contains("dashboard_services "), "{metrics}");
    assert!(metrics.contains("dashboard_snapshots_total"), "{metrics}");
    h.shutdown().await;
}
