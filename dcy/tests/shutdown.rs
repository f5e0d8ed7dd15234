//! Every dcy component drains on `shutdown()`: all of its tasks end within
//! a second, deregistration and lock release included. The agent runs on a
//! runtime of its own, so the test runtime's live tasks are dcy's alone.
#![allow(clippy::unwrap_used)]

mod support;

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use dcy::registry::{Check, Registration};
use dcy::watch::{WatchHub, WatchSpec};
use dcy::{Discovery, Kv, KvPair, LeaderElection, Lock, ServiceOptions};

/// A devagent on its own thread and runtime.
struct AgentThread {
    http: SocketAddr,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl AgentThread {
    fn start() -> AgentThread {
        let (ready_tx, ready_rx) = std::sync::mpsc::channel();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let thread = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(1)
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async move {
                let agent = support::agent_on(0).await;
                ready_tx.send(agent.http_addr()).unwrap();
                let _ = tokio::time::timeout(Duration::from_secs(60), stopped).await;
                agent.shutdown().await;
            });
        });
        let http = ready_rx.recv_timeout(Duration::from_secs(10)).unwrap();
        AgentThread {
            http,
            stop: Some(stop),
            thread: Some(thread),
        }
    }
}

impl Drop for AgentThread {
    fn drop(&mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn alive() -> usize {
    tokio::runtime::Handle::current()
        .metrics()
        .num_alive_tasks()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_dcy_task_ends_within_a_second_of_shutdown() {
    let agent = AgentThread::start();
    let client = support::client_for(agent.http);
    let base = alive();

    let reg = Registration::new("web")
        .address("127.0.0.1")
        .port(8080)
        .check(Check::ttl(Duration::from_secs(5)))
        .register(&client)
        .await
        .unwrap();
    let discovery = Discovery::new(client.clone());
    let web = discovery.service("web");
    let _fallback = discovery.service_with("web", ServiceOptions::default().fallback("dc2"));
    web.ready(Duration::from_secs(5)).await.unwrap();
    let http = discovery.http().unwrap();
    let _ = http.get("http://nobody-home/x").await;
    let hub = WatchHub::new(client.clone());
    let mut key = hub.watch::<Vec<KvPair>>(WatchSpec::kv_key("cfg/x"));
    key.ready(Duration::from_secs(5)).await.unwrap();
    let kv = Kv::new(client.clone());
    let mut flag = kv.watch_key("cfg/flag");
    flag.ready(Duration::from_secs(5)).await.unwrap();
    let guard = Lock::new(client.clone(), "locks/job")
        .lock_delay(Duration::ZERO)
        .acquire()
        .await
        .unwrap();
    let leader = LeaderElection::start(client.clone(), "service/web/leader", "a");
    assert!(support::eventually(5, || async { leader.is_leader() }).await);
    let follower = LeaderElection::start(client.clone(), "service/web/leader", "b");
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(!follower.is_leader());
    assert!(alive() > base + 5, "{} tasks running", alive() - base);

    let t0 = Instant::now();
    let (deregistered, (), (), (), released, (), ()) = tokio::join!(
        reg.deregister(),
        discovery.shutdown(),
        hub.shutdown(),
        kv.shutdown(),
        guard.release(),
        leader.shutdown(),
        follower.shutdown(),
    );
    let took = t0.elapsed();
    deregistered.unwrap();
    released.unwrap();
    // A task whose future has returned is counted until the runtime has
    // reaped it: allow what is left of the second for that.
    while alive() > base && t0.elapsed() < Duration::from_secs(1) {
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    let ended = t0.elapsed();
    assert!(took < Duration::from_secs(1), "shutdown took {took:?}");
    assert_eq!(
        alive(),
        base,
        "every dcy task ended within 1 s of shutdown ({ended:?})"
    );
    eprintln!("shutdown returned after {took:?}; every task ended after {ended:?}");

    // What they held is gone from the agent.
    assert!(client.agent_services().await.unwrap().is_empty());
    for k in ["locks/job", "service/web/leader"] {
        let (entry, _) = client.kv_get(k, &Default::default()).await.unwrap();
        assert!(entry.and_then(|e| e.session).is_none(), "{k} released");
    }
    let (sessions, _) = client.session_list(&Default::default()).await.unwrap();
    assert!(sessions.is_empty(), "sessions destroyed: {sessions:?}");
    // Handles stay usable for reading, and report the stop.
    assert_eq!(web.instances().len(), 1);
    assert!(web.changed().await.is_err());
    drop((web, key, flag, http, leader, follower));
    assert_eq!(alive(), base);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dropped_handles_clean_up_through_their_tasks() {
    let agent = AgentThread::start();
    let client = support::client_for(agent.http);
    let base = alive();
    let reg = Registration::new("dropped")
        .check(Check::ttl(Duration::from_secs(5)))
        .register(&client)
        .await
        .unwrap();
    let guard = Lock::new(client.clone(), "locks/dropped")
        .acquire()
        .await
        .unwrap();
    drop((reg, guard));
    let clean = support::eventually(2, || async {
        let services = client.agent_services().await.unwrap();
        let (entry, _) = client
            .kv_get("locks/dropped", &Default::default())
            .await
            .unwrap();
        services.is_empty() && entry.and_then(|e| e.session).is_none() && alive() == base
    })
    .await;
    assert!(
        clean,
        "drop signals the tasks, which deregister, release and end"
    );
}
