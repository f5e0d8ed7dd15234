//! KV helpers and watches, locks with loss detection, leader election.
#![allow(clippy::unwrap_used)]

mod support;

use std::time::Duration;

use dcy::{Kv, LeaderElection, Lock};
use serde::{Deserialize, Serialize};
use support::{eventually, start};

#[derive(Debug, PartialEq, Serialize, Deserialize)]
struct AppConfig {
    workers: u32,
    name: String,
}

#[tokio::test]
async fn kv_values_as_bytes_strings_and_json_with_cas_and_trees() {
    let env = start().await;
    let kv = Kv::new(env.client.clone());
    assert_eq!(kv.get("app/missing").await.unwrap(), None);
    kv.put_string("app/name", "demo").await.unwrap();
    assert_eq!(
        kv.get_string("app/name").await.unwrap().as_deref(),
        Some("demo")
    );
    let cfg = AppConfig {
        workers: 4,
        name: "x".into(),
    };
    kv.put_json("app/config", &cfg).await.unwrap();
    assert_eq!(
        kv.get_json::<AppConfig>("app/config").await.unwrap(),
        Some(cfg)
    );
    kv.put("app/raw", vec![0u8, 159, 146, 150]).await.unwrap();
    assert!(
        kv.get_string("app/raw").await.is_err(),
        "invalid UTF-8 is a clear error"
    );
    assert!(
        kv.get_json::<AppConfig>("app/name").await.is_err(),
        "not JSON is a clear error"
    );

    let entry = kv.entry("app/name").await.unwrap().unwrap();
    assert!(!kv
        .cas("app/name", "stale", entry.modify_index + 1000)
        .await
        .unwrap());
    assert!(kv
        .cas("app/name", "fresh", entry.modify_index)
        .await
        .unwrap());
    assert!(kv.cas("app/new", "created", 0).await.unwrap());
    assert!(!kv.cas("app/new", "again", 0).await.unwrap());

    assert_eq!(
        kv.keys("app/").await.unwrap(),
        ["app/config", "app/name", "app/new", "app/raw"]
    );
    assert_eq!(kv.tree("app/").await.unwrap().len(), 4);
    kv.delete("app/new").await.unwrap();
    kv.delete_tree("app/").await.unwrap();
    assert!(kv.tree("app/").await.unwrap().is_empty());
    env.shutdown().await;
}

#[tokio::test]
async fn kv_watches_follow_a_key_and_a_prefix() {
    let env = start().await;
    let kv = Kv::new(env.client.clone());
    let mut key = kv.watch_key("cfg/flag");
    let first = key.ready(Duration::from_secs(5)).await.unwrap();
    assert!(first.is_empty(), "missing key reads as empty");
    let mut prefix = kv.watch_prefix("cfg/");
    prefix.ready(Duration::from_secs(5)).await.unwrap();

    kv.put_string("cfg/flag", "on").await.unwrap();
    tokio::time::timeout(Duration::from_secs(5), key.changed())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(&key.value().unwrap()[0].value[..], b"on");
    tokio::time::timeout(Duration::from_secs(5), prefix.changed())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(prefix.value().unwrap().len(), 1);

    kv.delete("cfg/flag").await.unwrap();
    tokio::time::timeout(Duration::from_secs(5), key.changed())
        .await
        .unwrap()
        .unwrap();
    assert!(key.value().unwrap().is_empty());
    env.shutdown().await;
}

#[tokio::test]
async fn a_lock_excludes_others_and_signals_loss() {
    let env = start().await;
    let lock = Lock::new(env.client.clone(), "locks/job")
        .value("me")
        .session_ttl(Duration::from_secs(10))
        .lock_delay(Duration::ZERO);
    let mut held = lock.acquire().await.unwrap();
    assert!(held.is_held());
    let other = Lock::new(env.client.clone(), "locks/job").lock_delay(Duration::ZERO);
    assert!(
        other.try_acquire().await.unwrap().is_none(),
        "a second holder is refused"
    );

    // Someone destroys our session: the lock is lost and we hear about it.
    env.client.session_destroy(held.session()).await.unwrap();
    tokio::time::timeout(Duration::from_secs(5), held.lost())
        .await
        .unwrap();
    assert!(!held.is_held());
    drop(held);

    let held2 = tokio::time::timeout(Duration::from_secs(10), other.acquire())
        .await
        .unwrap()
        .unwrap();
    held2.release().await.unwrap();
    let entry = env
        .client
        .kv_get("locks/job", &Default::default())
        .await
        .unwrap()
        .0
        .unwrap();
    assert!(entry.session.is_none(), "released");
    assert_eq!(entry.flags, dcy::lock::LOCK_FLAG_VALUE);

    env.client
        .kv_put("locks/plain", "not a lock")
        .await
        .unwrap();
    let err = Lock::new(env.client.clone(), "locks/plain")
        .acquire()
        .await
        .unwrap_err();
    assert!(err.to_string().contains("does not match lock use"), "{err}");
    env.shutdown().await;
}

#[tokio::test]
async fn leadership_moves_when_the_leader_resigns() {
    let env = start().await;
    let a = LeaderElection::start(env.client.clone(), "service/app/leader", "a");
    assert!(eventually(5, || async { a.is_leader() }).await);
    let b = LeaderElection::start(env.client.clone(), "service/app/leader", "b");
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(!b.is_leader(), "only one leader");
    a.resign().await;
    // Release starts no lock-delay, so b takes over at once.
    assert!(eventually(10, || async { b.is_leader() }).await);
    let holder = env
        .client
        .kv_get("service/app/leader", &Default::default())
        .await
        .unwrap()
        .0
        .unwrap();
    assert_eq!(&holder.value[..], b"b");
    b.resign().await;
    env.shutdown().await;
}

#[tokio::test]
async fn consul_dns_resolves_srv_to_socket_addresses() {
    let env = start().await;
    let mut keep = Vec::new();
    for (id, port) in [("w1", 7001), ("w2", 7002)] {
        keep.push(
            dcy::Registration::new("worker")
                .id(id)
                .address("127.0.0.3")
                .port(port)
                .tag("blue")
                .check(dcy::Check::ttl(Duration::from_secs(30)))
                .register(&env.client)
                .await
                .unwrap(),
        );
    }
    let dns = dcy::dns::ConsulDns::new(env.dns());
    let mut addrs = dns.service("worker", None, None).await.unwrap();
    addrs.sort();
    assert_eq!(
        addrs,
        [
            "127.0.0.3:7001".parse().unwrap(),
            "127.0.0.3:7002".parse().unwrap()
        ]
    );
    assert_eq!(
        dns.service("worker", Some("blue"), Some("dc1"))
            .await
            .unwrap()
            .len(),
        2
    );
    assert_eq!(dns.addresses("worker", None, None).await.unwrap().len(), 2);
    let err = dns.service("nobody", None, None).await.unwrap_err();
    assert!(err.is_not_found(), "{err}");
    env.shutdown().await;
}
