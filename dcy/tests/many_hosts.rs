//! A process that meets many distinct service names in URLs holds only
//! those in use: idle services stop being watched, the HTTP client's cache
//! stays capped. (Memory over 1,000,000 names: `cargo bench -p dcy --bench hosts`.)
#![allow(clippy::unwrap_used)]

use std::time::Duration;

use dcy::{Client, Config, Discovery};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn thousands_of_distinct_url_hosts_leave_nothing_behind() {
    // An agent that refuses connections: every name fails fast, as an
    // unknown one would, and no socket stays open.
    let refused = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap()
    };
    let cfg = Config::builder()
        .address(&refused.to_string())
        .request_timeout(Duration::from_secs(2))
        .build()
        .unwrap();
    let discovery = Discovery::new(Client::new(cfg).unwrap());
    discovery.set_idle_timeout(Duration::from_millis(100));
    let http = discovery.http().unwrap();
    let kept = discovery.service("kept");
    let mut most = 0;
    for i in 0..4_000 {
        let url = format!("http://host-{i}/x");
        if i % 2 == 0 {
            let err = http.get(&url).await.unwrap_err();
            assert!(err.to_string().contains("Consul is failing"), "{err}");
        } else {
            assert!(discovery.url(&url).is_err());
        }
        assert!(http.cached_services() <= dcy::http::MAX_CACHED_SERVICES);
        most = most.max(discovery.watched());
    }
    // Swept within two idle periods: only the service with a live handle stays.
    let swept = async {
        while discovery.watched() > 1 || http.cached_services() > 0 {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    };
    tokio::time::timeout(Duration::from_secs(2), swept)
        .await
        .unwrap_or_else(|_| {
            panic!(
                "{} services watched, {} cached, 1 s after the last request",
                discovery.watched(),
                http.cached_services()
            )
        });
    assert_eq!(discovery.hub().len(), 1, "one loop left: the held handle's");
    assert_eq!(kept.name(), "kept");
    assert!(
        most < 4_000,
        "idle names were swept while requests went on ({most} at most)"
    );
    discovery.shutdown().await;
}
