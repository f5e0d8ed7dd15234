//! Faults a real agent cannot produce on demand, from a wiremock server:
//! slow and hung answers, malformed JSON, indexes going backwards, 500
//! storms and ACL refusals. Each gives a typed error or a bounded retry.
#![allow(clippy::unwrap_used)]

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use dcy::watch::{WatchHub, WatchOptions, WatchSpec};
use dcy::{Client, Config, QueryOptions, ServiceEntry};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

fn client(server: &MockServer, timeout: Duration) -> Client {
    let cfg = Config::builder()
        .address(&server.uri())
        .request_timeout(timeout)
        .watch_wait(Duration::from_secs(1))
        .build()
        .unwrap();
    Client::new(cfg).unwrap()
}

fn entries(id: &str) -> serde_json::Value {
    serde_json::json!([{"Node": {"Node": "n1", "Address": "10.0.0.1"},
                        "Service": {"ID": id, "Service": "web", "Port": 80},
                        "Checks": [{"CheckID": "serfHealth", "Status": "passing"}]}])
}

/// Answers from a list in order, repeating the last one.
struct Sequence {
    answers: Vec<ResponseTemplate>,
    n: AtomicUsize,
}

impl Respond for Sequence {
    fn respond(&self, _: &Request) -> ResponseTemplate {
        let i = self.n.fetch_add(1, Ordering::SeqCst);
        self.answers[i.min(self.answers.len() - 1)].clone()
    }
}

fn ok(body: serde_json::Value, index: u64) -> ResponseTemplate {
    ResponseTemplate::new(200)
        .insert_header("X-Consul-Index", index.to_string().as_str())
        .set_body_json(body)
}

fn hub(c: Client) -> WatchHub {
    WatchHub::with_options(
        c,
        WatchOptions {
            wait: Duration::from_secs(1),
            min_interval: Duration::from_millis(20),
            min_backoff: Duration::from_millis(100),
            max_backoff: Duration::from_millis(800),
        },
    )
}

#[tokio::test]
async fn a_hung_agent_times_out_with_a_timeout_error() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(200).set_delay(Duration::from_secs(10)))
        .mount(&server)
        .await;
    let c = client(&server, Duration::from_millis(300));
    let started = Instant::now();
    let err = c
        .catalog_services(&QueryOptions::default())
        .await
        .unwrap_err();
    assert!(err.is_timeout() && err.is_retryable(), "{err}");
    assert!(started.elapsed() < Duration::from_secs(3));
}

#[tokio::test]
async fn blocking_queries_are_not_cut_by_the_request_timeout() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(ok(entries("a"), 7).set_delay(Duration::from_millis(800)))
        .mount(&server)
        .await;
    let c = client(&server, Duration::from_millis(200));
    let q = QueryOptions::blocking(6, Duration::from_secs(1));
    let (list, meta) = c
        .health_service("web", &q)
        .await
        .expect("wait + wait/16 + margin covers it");
    assert_eq!((list.len(), meta.last_index), (1, 7));
}

#[tokio::test]
async fn malformed_json_is_a_decode_error_and_watches_keep_the_last_value() {
    let server = MockServer::start().await;
    let seq = Sequence {
        answers: vec![
            ok(entries("a"), 10),
            ResponseTemplate::new(200)
                .insert_header("X-Consul-Index", "11")
                .set_body_string("[{\"Node\": {"),
        ],
        n: AtomicUsize::new(0),
    };
    Mock::given(path("/v1/health/service/web"))
        .respond_with(seq)
        .mount(&server)
        .await;
    let c = client(&server, Duration::from_secs(2));
    let err = {
        let (list, _) = c
            .health_service("web", &QueryOptions::default())
            .await
            .unwrap();
        assert_eq!(list.len(), 1);
        c.health_service("web", &QueryOptions::default())
            .await
            .unwrap_err()
    };
    assert_eq!(err.kind(), dcy::ErrorKind::Decode, "{err}");

    server.reset().await;
    let seq = Sequence {
        answers: vec![
            ok(entries("a"), 10),
            ResponseTemplate::new(200)
                .insert_header("X-Consul-Index", "11")
                .set_body_string("garbage"),
        ],
        n: AtomicUsize::new(0),
    };
    Mock::given(path("/v1/health/service/web"))
        .respond_with(seq)
        .mount(&server)
        .await;
    let h = hub(c);
    let mut w = h.watch::<Vec<ServiceEntry>>(WatchSpec::health_service("web"));
    w.ready(Duration::from_secs(5)).await.unwrap();
    let stale = async {
        for _ in 0..100 {
            if w.status().is_stale() {
                return true;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        false
    };
    assert!(stale.await);
    let err = w.status().error.unwrap();
    assert!(err.to_string().contains("decoding") && err.kind() == dcy::ErrorKind::Decode);
    assert_eq!(
        w.value().unwrap()[0].service.id,
        "a",
        "the last good value stays"
    );
}

#[tokio::test]
async fn an_index_going_backwards_resets_to_zero() {
    let server = MockServer::start().await;
    let seq = Sequence {
        answers: vec![
            ok(entries("a"), 50),
            ok(entries("b"), 60),
            ok(entries("c"), 5),
            ok(entries("c"), 6),
        ],
        n: AtomicUsize::new(0),
    };
    Mock::given(path("/v1/health/service/web"))
        .respond_with(seq)
        .mount(&server)
        .await;
    let h = hub(client(&server, Duration::from_secs(2)));
    let w = h.watch::<Vec<ServiceEntry>>(WatchSpec::health_service("web"));
    tokio::time::sleep(Duration::from_millis(600)).await;
    let sent: Vec<String> = server
        .received_requests()
        .await
        .unwrap()
        .iter()
        .map(|r| {
            r.url
                .query_pairs()
                .find(|(k, _)| k == "index")
                .map(|(_, v)| v.to_string())
                .unwrap_or_else(|| "0".into())
        })
        .take(5)
        .collect();
    assert_eq!(sent, ["0", "50", "60", "0", "6"]);
    assert_eq!(w.value().unwrap()[0].service.id, "c");
}

#[tokio::test]
async fn a_500_storm_backs_off_instead_of_spinning() {
    let server = MockServer::start().await;
    let hits = Arc::new(AtomicUsize::new(0));
    struct Count(Arc<AtomicUsize>);
    impl Respond for Count {
        fn respond(&self, _: &Request) -> ResponseTemplate {
            self.0.fetch_add(1, Ordering::SeqCst);
            ResponseTemplate::new(500).set_body_string("rpc error: no leader")
        }
    }
    Mock::given(method("GET"))
        .respond_with(Count(Arc::clone(&hits)))
        .mount(&server)
        .await;
    let c = client(&server, Duration::from_secs(2));
    let err = c
        .catalog_services(&QueryOptions::default())
        .await
        .unwrap_err();
    assert!(err.is_retryable() && err.status_code() == Some(500));
    assert!(err.to_string().contains("no leader"), "{err}");
    hits.store(0, Ordering::SeqCst);
    let h = hub(c.clone());
    let w = h.watch::<serde_json::Value>(WatchSpec::catalog_services());
    tokio::time::sleep(Duration::from_secs(3)).await;
    let n = hits.load(Ordering::SeqCst);
    // Backoff 100ms doubling to 800ms (with jitter): well under 20 requests in 3s.
    assert!((3..=20).contains(&n), "{n} requests in 3s");
    assert!(w.status().consecutive_failures >= 3);
    assert!(c.metrics().watch_errors.get() >= 3);
    assert_eq!(c.metrics().watches_failing.get(), 1);
}

#[tokio::test]
async fn an_acl_refusal_is_a_clear_permission_error() {
    let server = MockServer::start().await;
    Mock::given(method("PUT"))
        .respond_with(
            ResponseTemplate::new(403)
                .set_body_string("Permission denied: token lacks service:write"),
        )
        .mount(&server)
        .await;
    let c = client(&server, Duration::from_secs(2));
    let err = dcy::Registration::new("web")
        .register(&c)
        .await
        .unwrap_err();
    assert!(err.is_permission_denied() && !err.is_retryable(), "{err}");
    assert!(
        err.to_string().contains("403") && err.to_string().contains("service:write"),
        "{err}"
    );
}

#[tokio::test]
async fn the_token_never_appears_in_errors_or_debug_output() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(500).set_body_string("boom"))
        .mount(&server)
        .await;
    let cfg = Config::builder()
        .address(&server.uri())
        .token("super-secret-token")
        .build()
        .unwrap();
    let c = Client::new(cfg).unwrap();
    let err = c
        .catalog_services(&QueryOptions::default())
        .await
        .unwrap_err();
    assert!(!err.to_string().contains("super-secret-token"));
    assert!(!format!("{err:?}").contains("super-secret-token"));
    assert!(!format!("{c:?}").contains("super-secret-token"));
    let req = &server.received_requests().await.unwrap()[0];
    assert_eq!(
        req.headers.get("X-Consul-Token").unwrap(),
        "super-secret-token"
    );
    let refused = Client::new(
        Config::builder()
            .address("127.0.0.1:1")
            .token("super-secret-token")
            .build()
            .unwrap(),
    )
    .unwrap();
    let err = refused.status_leader().await.unwrap_err();
    assert!(err.is_connect(), "{err}");
    assert!(!err.to_string().contains("super-secret-token"));
}

#[tokio::test]
async fn fallback_datacenters_are_used_when_the_local_one_has_nobody() {
    let server = MockServer::start().await;
    Mock::given(path("/v1/health/service/web"))
        .and(wiremock::matchers::query_param("dc", "dc2"))
        .respond_with(ok(entries("remote"), 3))
        .with_priority(1)
        .mount(&server)
        .await;
    Mock::given(path("/v1/health/service/web"))
        .respond_with(ok(serde_json::json!([]), 3))
        .with_priority(2)
        .mount(&server)
        .await;
    let d = dcy::Discovery::new(client(&server, Duration::from_secs(2)));
    let svc = d.service_with("web", dcy::ServiceOptions::default().fallback("dc2"));
    let inst = svc.ready(Duration::from_secs(5)).await.unwrap();
    assert_eq!(inst.datacenter(), Some("dc2"));
    assert_eq!(svc.pick().unwrap().id, "remote");
}

#[tokio::test]
async fn over_the_agents_connection_limit_watches_back_off_and_say_why() {
    // A real agent allowing 3 connections per client IP.
    let limits = devagent::Limits {
        http_max_conns_per_client: 3,
        ..devagent::Limits::default()
    };
    let agent = devagent::Agent::builder()
        .http_port(0)
        .without_dns()
        .limits(limits)
        .start()
        .await
        .unwrap();
    let cfg = Config::builder()
        .address(&agent.http_addr().to_string())
        .watch_wait(Duration::from_secs(30))
        .build()
        .unwrap();
    let h = hub(Client::new(cfg).unwrap());
    let watches: Vec<_> = (0..6)
        .map(|i| h.watch::<serde_json::Value>(WatchSpec::kv_key(&format!("k{i}"))))
        .collect();
    let limited = async {
        loop {
            let refused = watches.iter().find_map(|w| {
                w.status()
                    .error
                    .filter(|e| e.is_rate_limited() && e.is_retryable())
            });
            if let Some(e) = refused {
                return e;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    };
    let e = tokio::time::timeout(Duration::from_secs(5), limited)
        .await
        .expect("a watch over the limit reports the 429");
    let text = e.to_string();
    assert!(
        text.contains("429") && text.contains("http_max_conns_per_client"),
        "{text}"
    );
    // Backing off, not spinning: a few attempts a second at most.
    let failing = watches
        .iter()
        .map(|w| w.status().consecutive_failures)
        .max()
        .unwrap();
    tokio::time::sleep(Duration::from_secs(1)).await;
    let later = watches
        .iter()
        .map(|w| w.status().consecutive_failures)
        .max()
        .unwrap();
    assert!(later - failing <= 6, "{failing} -> {later} failures in 1 s");
    // Fewer watches: the ones left recover.
    let kept: Vec<_> = watches.into_iter().take(2).collect();
    let recovered = async {
        while kept
            .iter()
            .any(|w| w.value().is_none() || w.status().is_stale())
        {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    };
    tokio::time::timeout(Duration::from_secs(5), recovered)
        .await
        .expect("the watches under the limit recover");
    h.shutdown().await;
    agent.shutdown().await;
}
