//! The app's gRPC side calls real `grpc-worker` processes through dcy's
//! balanced channel; one is killed with SIGKILL under load: no call fails
//! (a call that hit the dead worker is retried on another), the worker
//! leaves the balancer once its gRPC check fails, and a new worker joins.
#![allow(clippy::unwrap_used)]

mod fleet;

use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use grpc_worker::caller::Caller;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_worker_costs_no_failed_call() {
    let agent = testkit::agent_on(0).await;
    let consul = agent.http_addr();
    let interval = Duration::from_millis(200);
    let mut workers = Vec::new();
    for id in ["gw-1", "gw-2", "gw-3"] {
        workers.push(fleet::spawn(consul, id, interval).await);
    }
    let discovery = dcy::Discovery::new(fleet::client(consul));
    let service = discovery.service(grpc_worker::SERVICE);
    assert!(
        fleet::wait_for_ids(&service, &["gw-1", "gw-2", "gw-3"], 15).await,
        "the workers' gRPC checks pass: {:?}",
        service.instances()
    );

    let channel = discovery.grpc(grpc_worker::SERVICE);
    let mut caller = Caller::new(channel.clone(), 3);
    let mut seen = HashSet::new();
    for n in 0..60 {
        let reply = caller.square(n).await.unwrap();
        assert_eq!(reply.square, n * n);
        seen.insert(reply.worker);
    }
    assert_eq!(seen.len(), 3, "calls are spread over the workers: {seen:?}");
    let overflow = caller.square(i64::MAX).await.unwrap_err();
    assert_eq!(overflow.code(), tonic::Code::OutOfRange);

    // Load, then a SIGKILL.
    let stop = Arc::new(AtomicBool::new(false));
    let mut callers = Vec::new();
    for c in 0..4 {
        let mut caller = caller.clone();
        let stop = Arc::clone(&stop);
        callers.push(tokio::spawn(async move {
            let mut workers = Vec::new();
            let mut n = c;
            while !stop.load(Ordering::Relaxed) {
                match caller.square(n % 1000).await {
                    Ok(reply) => workers.push(reply.worker),
                    Err(e) => panic!("a call failed: {e:?}"),
                }
                n += 1;
            }
            workers
        }));
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    workers[0].kill().await;
    let killed = tokio::time::Instant::now();
    assert!(
        fleet::wait_for_ids(&service, &["gw-2", "gw-3"], 10).await,
        "the killed worker leaves discovery"
    );
    let removed = killed.elapsed();
    tokio::time::sleep(Duration::from_millis(300)).await;
    let before = caller.counts.ok.load(Ordering::Relaxed);
    tokio::time::sleep(Duration::from_millis(300)).await;
    stop.store(true, Ordering::Relaxed);
    for c in callers {
        c.await.unwrap();
    }
    let counts = Arc::clone(&caller.counts);
    eprintln!("{counts:?}, removed after {removed:?}");
    assert_eq!(counts.failed.load(Ordering::Relaxed), 0, "no call failed");
    assert!(counts.ok.load(Ordering::Relaxed) > before, "calls went on");
    assert!(
        removed < Duration::from_secs(5),
        "removed after {removed:?}"
    );

    // After the removal, calls reach only the living; a new worker joins.
    workers.push(fleet::spawn(consul, "gw-4", interval).await);
    assert!(fleet::wait_for_ids(&service, &["gw-2", "gw-3", "gw-4"], 15).await);
    let mut seen = HashSet::new();
    for n in 0..90 {
        seen.insert(caller.square(n).await.unwrap().worker);
    }
    assert_eq!(
        seen,
        ["gw-2", "gw-3", "gw-4"]
            .map(String::from)
            .into_iter()
            .collect(),
        "the dead worker gets nothing, the new one its share"
    );
    assert_eq!(counts.failed.load(Ordering::Relaxed), 0);

    channel.shutdown().await;
    discovery.shutdown().await;
    for w in &mut workers {
        w.kill().await;
    }
    agent.shutdown().await;
}
