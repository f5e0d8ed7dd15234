//! How `Discovery::grpc` spreads calls, against real tonic servers and a
//! devagent on loopback: one caller at a time goes round-robin; a call in
//! flight on a stuck instance sends the next calls to the free one instead
//! of every other call waiting behind it.
#![allow(clippy::unwrap_used)]

mod support;

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use support::start;
use tonic_health::pb::{health_client::HealthClient, HealthCheckRequest};
use tonic_health::ServingStatus;

/// A tonic health server whose "who" service answers `status`, so that a
/// call tells which server it reached.
async fn server(status: ServingStatus) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (reporter, health) = tonic_health::server::health_reporter();
    reporter.set_service_status("who", status).await;
    tokio::spawn(async move {
        let _reporter = reporter;
        let _ = tonic::transport::Server::builder()
            .add_service(health)
            .serve_with_incoming(tonic::transport::server::TcpIncoming::from(listener))
            .await;
    });
    addr
}

async fn register(base: &str, id: &str, port: u16) {
    let body = format!(
        r#"{{"Name":"who","ID":"{id}","Address":"127.0.0.1","Port":{port},"Check":{{"CheckID":"{id}","TTL":"1m","Status":"passing"}}}}"#
    );
    testkit::register(&reqwest::Client::new(), base, &body).await;
}

fn ask() -> HealthCheckRequest {
    HealthCheckRequest {
        service: "who".into(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn calls_go_round_robin_and_avoid_an_instance_busy_with_a_stuck_call() {
    let env = start().await;
    let base = format!("http://{}", env.http);
    let serving = server(ServingStatus::Serving).await;
    let not_serving = server(ServingStatus::NotServing).await;
    register(&base, "a", serving.port()).await;
    register(&base, "b", not_serving.port()).await;
    let discovery = dcy::Discovery::new(env.client.clone());
    discovery
        .wait_for(&["who"], Duration::from_secs(10))
        .await
        .unwrap();
    let channel = discovery.grpc("who");
    let mut health = HealthClient::new(channel.clone());

    // One caller at a time: strictly in turn.
    let mut answers = Vec::new();
    for _ in 0..10 {
        answers.push(health.check(ask()).await.unwrap().into_inner().status);
    }
    let serving_n = answers
        .iter()
        .filter(|s| **s == ServingStatus::Serving as i32)
        .count();
    assert_eq!(serving_n, 5, "sequential calls alternate: {answers:?}");
    assert!(
        answers.windows(2).all(|w| w[0] != w[1]),
        "sequential calls alternate: {answers:?}"
    );

    // A third instance that accepts connections and never answers.
    let stuck = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let stuck_port = stuck.local_addr().unwrap().port();
    let holder = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok(Ok((conn, _))) =
            tokio::time::timeout(Duration::from_secs(30), stuck.accept()).await
        {
            held.push(conn);
        }
    });
    register(&base, "stuck", stuck_port).await;
    let service = discovery.service("who");
    let deadline = Instant::now() + Duration::from_secs(10);
    while service.instances().len() < 3 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(service.instances().len(), 3);

    // Calls left in flight until one is stuck on the stuck instance.
    let mut hung = Vec::new();
    for _ in 0..3 {
        let mut h = health.clone();
        hung.push(tokio::spawn(async move {
            let _ = tokio::time::timeout(Duration::from_secs(20), h.check(ask())).await;
        }));
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(
        hung.iter().any(|t| !t.is_finished()),
        "one of three calls in turn reached the stuck instance"
    );

    // From now on the stuck instance is the busier of any two: 30 calls in
    // a row are answered at once, none waits behind it.
    let started = Instant::now();
    for n in 0..30 {
        let answer = tokio::time::timeout(Duration::from_secs(2), health.check(ask())).await;
        assert!(
            matches!(answer, Ok(Ok(_))),
            "call {n} was answered: {answer:?}"
        );
    }
    assert!(started.elapsed() < Duration::from_secs(2));

    for t in hung {
        t.abort();
    }
    holder.abort();
    channel.shutdown().await;
    discovery.shutdown().await;
    env.shutdown().await;
}
