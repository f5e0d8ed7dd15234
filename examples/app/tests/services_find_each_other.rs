//! The sensor, two workers and the app find each other only through dcy.
#![allow(clippy::unwrap_used)]

use std::time::Duration;

use tokio_util::sync::CancellationToken;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_app_squares_readings_on_every_worker() {
    let agent = devagent::Agent::builder()
        .http_port(0)
        .without_dns()
        .min_check_interval(Duration::from_millis(200))
        .start()
        .await
        .unwrap();
    let consul = agent.http_url();
    let stop = CancellationToken::new();
    let svc = |consul: &str| {
        let mut s = kit::ServiceArgs::local(consul);
        s.check_interval = Duration::from_millis(200);
        s
    };
    let mut tasks = Vec::new();
    let s = stop.clone();
    let args = sensor::Args::new(svc(&consul));
    tasks.push(tokio::spawn(async move {
        sensor::run(args, async move { s.cancelled().await }, |_| {}).await
    }));
    for _ in 0..2 {
        let s = stop.clone();
        let args = worker::Args::new(svc(&consul));
        tasks.push(tokio::spawn(async move {
            worker::run(args, async move { s.cancelled().await }, |_| {}).await
        }));
    }
    let (tx, rx) = tokio::sync::oneshot::channel();
    let s = stop.clone();
    let args = app::Args {
        interval: Duration::from_millis(5),
        concurrency: 2,
        wait_for: Duration::from_secs(10),
        ..app::Args::new(svc(&consul))
    };
    tasks.push(tokio::spawn(async move {
        app::run(args, async move { s.cancelled().await }, move |a| {
            let _ = tx.send(a);
        })
        .await
    }));
    let app_addr = tokio::time::timeout(Duration::from_secs(15), rx)
        .await
        .unwrap()
        .unwrap();
    let http = reqwest::Client::new();
    let mut stats = app::Stats::default();
    for _ in 0..100 {
        stats = http
            .get(format!("http://{app_addr}/stats"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        if stats.by_worker.len() == 2 && stats.ok > 20 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(
        stats.by_worker.len(),
        2,
        "answers came from both workers: {stats:?}"
    );
    assert_eq!((stats.failed, stats.wrong), (0, 0), "{stats:?}");
    assert!(stats.last.iter().all(|s| s.square == s.n * s.n));
    stop.cancel();
    for t in tasks {
        t.await.unwrap().unwrap();
    }
    let services = reqwest::get(format!("{consul}/v1/agent/services"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(services.trim(), "{}", "everything deregistered on shutdown");
    agent.shutdown().await;
}
