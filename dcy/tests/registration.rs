//! Registration keeps a service registered through TTLs, agent restarts and
//! lost registrations, and removes it on deregister or drop.
#![allow(clippy::unwrap_used)]

mod support;

use std::time::Duration;

use dcy::registry::{Check, Registration};
use dcy::{QueryOptions, Status};
use support::{eventually, start};

async fn status_of(client: &dcy::Client, check: &str) -> Option<(Status, String)> {
    let checks = client.agent_checks().await.ok()?;
    checks.get(check).map(|c| (c.status, c.output.clone()))
}

#[tokio::test]
async fn a_ttl_registration_is_passing_at_once_and_reports_warn_and_fail() {
    let env = start().await;
    let reg = Registration::new("api")
        .id("api-1")
        .address("127.0.0.9")
        .port(9000)
        .tag("v1")
        .meta("team", "core")
        .weights(3, 1)
        .check(Check::ttl(Duration::from_secs(2)))
        .register(&env.client)
        .await
        .unwrap();
    assert!(reg.is_registered());
    let (entries, _) = env
        .client
        .health_service(
            "api",
            &QueryOptions {
                passing: true,
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(entries.len(), 1, "passing right after register()");
    let svc = &entries[0].service;
    assert_eq!(
        (svc.port, svc.tags.clone(), svc.weights.passing),
        (9000, vec!["v1".to_string()], 3)
    );
    assert_eq!(svc.meta.get("team").map(String::as_str), Some("core"));

    reg.warn("queue long").await.unwrap();
    assert_eq!(
        status_of(&env.client, "service:api-1").await,
        Some((Status::Warning, "queue long".into()))
    );
    reg.fail("db down").await.unwrap();
    assert_eq!(
        status_of(&env.client, "service:api-1").await.unwrap().0,
        Status::Critical
    );
    reg.pass("").await.unwrap();
    // The heartbeat keeps the TTL check passing well past its TTL.
    tokio::time::sleep(Duration::from_millis(2500)).await;
    assert_eq!(
        status_of(&env.client, "service:api-1").await.unwrap().0,
        Status::Passing
    );

    reg.deregister().await.unwrap();
    assert!(!env
        .client
        .agent_services()
        .await
        .unwrap()
        .contains_key("api-1"));
    env.shutdown().await;
}

#[tokio::test]
async fn a_lost_registration_comes_back_within_one_ttl() {
    let env = start().await;
    let reg = Registration::new("job")
        .check(Check::ttl(Duration::from_secs(1)))
        .register(&env.client)
        .await
        .unwrap();
    env.client.deregister_service("job").await.unwrap();
    let back = eventually(2, || async {
        env.client
            .agent_services()
            .await
            .unwrap()
            .contains_key("job")
    })
    .await;
    assert!(back, "re-registered after the agent lost it");
    assert!(env.client.metrics().reregistrations.get() >= 1);
    drop(reg);
    let gone = eventually(2, || async {
        !env.client
            .agent_services()
            .await
            .unwrap()
            .contains_key("job")
    })
    .await;
    assert!(gone, "dropping the handle deregisters");
    env.shutdown().await;
}

#[tokio::test]
async fn an_agent_restart_leads_to_re_registration() {
    let mut env = start().await;
    let (addr, _server) = support::http_server("ok").await;
    let reg = Registration::new("web")
        .port(addr.port())
        .address("127.0.0.1")
        .check(Check::http(
            &format!("http://{addr}/health"),
            Duration::from_millis(200),
        ))
        .register(&env.client)
        .await
        .unwrap();
    env.restart_agent().await;
    let back = eventually(5, || async {
        env.client
            .agent_services()
            .await
            .map(|s| s.contains_key("web"))
            .unwrap_or(false)
    })
    .await;
    assert!(back, "the service reappears on the new agent");
    let passing = eventually(5, || async {
        let q = QueryOptions {
            passing: true,
            ..Default::default()
        };
        env.client
            .health_service("web", &q)
            .await
            .map(|(e, _)| e.len() == 1)
            .unwrap_or(false)
    })
    .await;
    assert!(passing, "and its HTTP check passes again");
    reg.deregister().await.unwrap();
    env.shutdown().await;
}

#[tokio::test]
async fn consul_down_at_start_registers_in_the_background() {
    let mut env = start().await;
    env.stop_agent().await;
    let reg = Registration::new("late")
        .check(Check::ttl(Duration::from_secs(5)))
        .register(&env.client)
        .await
        .expect("an unreachable agent is not an error at start");
    assert!(!reg.is_registered());
    let failing = eventually(3, || async { reg.keeper_health().last_error.is_some() }).await;
    assert!(failing, "the keeper reports that it cannot reach the agent");
    env.agent = Some(support::agent_on(env.http.port()).await);
    reg.registered(Duration::from_secs(5)).await.unwrap();
    assert!(eventually(3, || async { reg.keeper_health().last_error.is_none() }).await);
    assert!(env
        .client
        .agent_services()
        .await
        .unwrap()
        .contains_key("late"));
    reg.deregister().await.unwrap();
    env.shutdown().await;
}

#[tokio::test]
async fn invalid_definitions_are_rejected_with_the_agents_message() {
    let env = start().await;
    let err = Registration::new("bad")
        .address("0.0.0.0")
        .register(&env.client)
        .await
        .unwrap_err();
    assert_eq!(err.status_code(), Some(400));
    assert!(err.to_string().contains("Invalid service address"), "{err}");
    assert!(!err.is_retryable());
    env.shutdown().await;
}

/// `devagent_blocking_queries` from the agent's `/metrics`.
async fn blocking_queries(http: std::net::SocketAddr) -> i64 {
    let text = reqwest::get(format!("http://{http}/metrics"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    text.lines()
        .find_map(|l| l.strip_prefix("devagent_blocking_queries "))
        .and_then(|v| v.trim().parse().ok())
        .unwrap()
}

#[tokio::test]
async fn heartbeats_leave_the_keepers_blocking_query_alone() {
    let env = start().await;
    let reg = Registration::new("beat")
        .check(Check::ttl(Duration::from_millis(300)))
        .register(&env.client)
        .await
        .unwrap();
    // The keeper's watch of the agent's copy settles on its blocking query.
    assert!(eventually(3, || async { blocking_queries(env.http).await == 1 }).await);
    let m = env.client.metrics();
    let (requests, watch_fetches) = (m.requests.get(), m.watch_requests.get());
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let heartbeats = m.requests.get() - requests;
    assert!(heartbeats >= 10, "a heartbeat every 100 ms: {heartbeats}");
    assert_eq!(
        m.watch_requests.get(),
        watch_fetches,
        "the blocking query was never cut short by {heartbeats} heartbeats"
    );
    assert_eq!(blocking_queries(env.http).await, 1);
    assert!(reg.keeper_health().last_error.is_none());
    reg.deregister().await.unwrap();
    assert!(
        eventually(3, || async { blocking_queries(env.http).await == 0 }).await,
        "deregister() stops the keeper's query"
    );
    env.shutdown().await;
}
