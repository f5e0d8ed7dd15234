//! `dcy::net` against real TCP and UDP listeners, and the tower `Discover`
//! of a service, against a devagent on loopback.
#![allow(clippy::unwrap_used)]

mod support;

use std::collections::HashSet;
use std::time::Duration;

use futures_util::StreamExt;
use support::start;
use tower::discover::Change;

async fn register(base: &str, body: String) {
    testkit::register(&reqwest::Client::new(), base, &body).await;
}

fn ttl_instance(name: &str, id: &str, port: u16, weight: u32) -> String {
    format!(
        r#"{{"Name":"{name}","ID":"{id}","Address":"127.0.0.1","Port":{port},"Weights":{{"Passing":{weight},"Warning":1}},"Check":{{"CheckID":"{id}","TTL":"1m","Status":"passing"}}}}"#
    )
}

#[tokio::test]
async fn connect_tcp_skips_refusing_instances_and_fails_bounded() {
    let env = start().await;
    let base = format!("http://{}", env.http);
    let live = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let live_port = live.local_addr().unwrap().port();
    let accepted = tokio::spawn(async move {
        let mut n = 0;
        while let Ok(Ok(_)) = tokio::time::timeout(Duration::from_secs(2), live.accept()).await {
            n += 1;
        }
        n
    });
    register(
        &base,
        ttl_instance("ledger", "dead", testkit::free_port(), 1),
    )
    .await;
    register(&base, ttl_instance("ledger", "live", live_port, 1)).await;
    let discovery = dcy::Discovery::new(env.client.clone());
    discovery
        .wait_for(&["ledger"], Duration::from_secs(5))
        .await
        .unwrap();
    let net = discovery.net();
    for _ in 0..10 {
        let stream = net.connect_tcp("ledger").await.unwrap();
        assert_eq!(stream.peer_addr().unwrap().port(), live_port);
    }
    assert_eq!(accepted.await.unwrap(), 10);

    // Only refusing instances: an error naming the service and an
    // instance, within the deadline.
    register(
        &base,
        ttl_instance("gone", "gone-1", testkit::free_port(), 1),
    )
    .await;
    register(
        &base,
        ttl_instance("gone", "gone-2", testkit::free_port(), 1),
    )
    .await;
    let started = std::time::Instant::now();
    let err = net.connect_tcp("gone").await.unwrap_err();
    assert!(started.elapsed() < Duration::from_secs(5));
    assert_eq!(err.kind(), dcy::ErrorKind::Connect, "{err}");
    assert!(
        err.to_string()
            .contains("connecting to gone via 127.0.0.1:"),
        "{err}"
    );
    // A name nobody registered: no data, after at most the deadline.
    let short = discovery.net().deadline(Duration::from_millis(300));
    let err = short.connect_tcp("nobody").await.unwrap_err();
    assert_eq!(err.kind(), dcy::ErrorKind::NoData, "{err}");
    discovery.shutdown().await;
}

#[tokio::test]
async fn send_udp_spreads_datagrams_over_the_instances() {
    let env = start().await;
    let base = format!("http://{}", env.http);
    let a = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let b = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
    register(
        &base,
        ttl_instance("stats", "a", a.local_addr().unwrap().port(), 1),
    )
    .await;
    register(
        &base,
        ttl_instance("stats", "b", b.local_addr().unwrap().port(), 1),
    )
    .await;
    let discovery = dcy::Discovery::new(env.client.clone());
    discovery
        .wait_for(&["stats"], Duration::from_secs(5))
        .await
        .unwrap();
    let net = discovery.net();
    let socket = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let mut to = HashSet::new();
    for i in 0..10u8 {
        let addr = if i % 2 == 0 {
            net.send_udp("stats", &[i]).await.unwrap()
        } else {
            net.send_udp_with(&socket, "stats", &[i]).await.unwrap()
        };
        to.insert(addr);
    }
    assert_eq!(to.len(), 2, "round-robin over both: {to:?}");
    let mut got = Vec::new();
    let mut buf = [0u8; 8];
    for s in [&a, &b] {
        for _ in 0..5 {
            let (n, _) = tokio::time::timeout(Duration::from_secs(2), s.recv_from(&mut buf))
                .await
                .unwrap()
                .unwrap();
            got.extend_from_slice(&buf[..n]);
        }
    }
    got.sort();
    assert_eq!(got, (0..10).collect::<Vec<u8>>());
    discovery.shutdown().await;
}

type Key = dcy::discover::InstanceKey;

async fn next<S>(changes: &mut S) -> Change<Key, u16>
where
    S: futures_util::Stream<Item = Result<Change<Key, u16>, std::convert::Infallible>> + Unpin,
{
    match tokio::time::timeout(Duration::from_secs(5), changes.next()).await {
        Ok(Some(Ok(c))) => c,
        Ok(Some(Err(e))) => match e {},
        Ok(None) => panic!("the stream ended"),
        Err(_) => panic!("no change in 5 s"),
    }
}

#[tokio::test]
async fn discover_inserts_removes_at_once_and_copies_for_weights() {
    let env = start().await;
    let base = format!("http://{}", env.http);
    register(&base, ttl_instance("api", "api-1", 9001, 1)).await;
    register(&base, ttl_instance("api", "api-2", 9002, 3)).await;
    let discovery = dcy::Discovery::new(env.client.clone());
    let service = discovery.service("api");
    service.ready(Duration::from_secs(5)).await.unwrap();
    let mut changes = service.discover(|i| Some(i.port));
    // Weights 1 and 3: one key for api-1, three for api-2.
    let mut inserted = Vec::new();
    for _ in 0..4 {
        match next(&mut changes).await {
            Change::Insert(k, port) => inserted.push((k.to_string(), port)),
            Change::Remove(k) => panic!("unexpected removal of {k}"),
        }
    }
    inserted.sort();
    assert_eq!(
        inserted,
        [
            ("api-1".to_string(), 9001),
            ("api-2".to_string(), 9002),
            ("api-2#1".to_string(), 9002),
            ("api-2#2".to_string(), 9002)
        ]
    );
    // api-2 turns critical: its three keys are removed, and nothing else.
    env.client
        .update_ttl("api-2", dcy::Status::Critical, "down")
        .await
        .unwrap();
    let mut removed = Vec::new();
    for _ in 0..3 {
        match next(&mut changes).await {
            Change::Remove(k) => removed.push(k.to_string()),
            Change::Insert(k, _) => panic!("unexpected insert of {k}"),
        }
    }
    removed.sort();
    assert_eq!(removed, ["api-2", "api-2#1", "api-2#2"]);
    // A new instance is inserted.
    register(&base, ttl_instance("api", "api-3", 9003, 1)).await;
    match next(&mut changes).await {
        Change::Insert(k, port) => assert_eq!((k.to_string(), port), ("api-3".into(), 9003)),
        Change::Remove(k) => panic!("unexpected removal of {k}"),
    }
    // The stream ends when discovery shuts down.
    discovery.shutdown().await;
    let end = tokio::time::timeout(Duration::from_secs(5), changes.next())
        .await
        .unwrap();
    assert!(end.is_none());
}
