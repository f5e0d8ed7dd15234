//! The benches' load generators (`benches/examples/load.rs`, with their
//! targets), tested here so that `cargo test -p app` runs their tests.
#![allow(clippy::unwrap_used)]

// The bench binary uses all of them; these tests, part.
#[allow(dead_code)]
#[path = "../benches/examples/load.rs"]
mod load;
#[allow(dead_code)]
#[path = "../benches/examples/target.rs"]
mod target;

use target::Target;

#[tokio::test]
async fn both_targets_use_the_same_http_client_settings() {
    let config = dcy::Config::builder()
        .address("http://127.0.0.1:9")
        .build()
        .unwrap();
    let discovery = dcy::Discovery::new(dcy::Client::new(config).unwrap());
    let settings = format!("{:?}", app::http_client());
    match Target::fixed("127.0.0.1:1", "127.0.0.1:2") {
        Target::Fixed { http, .. } => assert_eq!(format!("{http:?}"), settings),
        other => panic!("{other:?}"),
    }
    match Target::discovery(&discovery) {
        Target::Discovery(t) => {
            let d = format!("{t:?}");
            assert!(d.contains(&format!("http: {settings}")), "{d}");
        }
        other => panic!("{other:?}"),
    }
}

mod generators {
    #![allow(clippy::unwrap_used)]

    use std::net::SocketAddr;
    use std::sync::atomic::{AtomicU64, Ordering};

    use axum::extract::Query;
    use axum::routing::get;
    use axum::{Json, Router};
    use serde::Deserialize;
    use worker::Square;

    use std::sync::Arc;
    use std::time::Duration;

    use crate::load::*;
    use crate::target::Target;

    #[derive(Default)]
    struct Counts {
        readings: AtomicU64,
        squares: AtomicU64,
    }

    #[derive(Deserialize)]
    struct N {
        n: i64,
    }

    /// A sensor and a worker in one server, counting what they serve; each
    /// answer waits `delay` first.
    async fn sensor_and_worker(delay: Duration) -> (SocketAddr, Arc<Counts>) {
        let counts = Arc::new(Counts::default());
        let (c1, c2) = (Arc::clone(&counts), Arc::clone(&counts));
        let router = Router::new()
            .route(
                "/reading",
                get(move || async move {
                    c1.readings.fetch_add(1, Ordering::Relaxed);
                    tokio::time::sleep(delay).await;
                    Json(serde_json::json!({ "value": 7 }))
                }),
            )
            .route(
                "/square",
                get(move |Query(q): Query<N>| async move {
                    c2.squares.fetch_add(1, Ordering::Relaxed);
                    Json(Square {
                        n: q.n,
                        square: q.n * q.n,
                        worker: "w".into(),
                    })
                }),
            );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, router).await });
        (addr, counts)
    }

    #[tokio::test]
    async fn throughput_counts_rounds_after_one_warm_up_round_per_caller() {
        let (addr, counts) = sensor_and_worker(Duration::ZERO).await;
        let a = addr.to_string();
        let rate = tokio::time::timeout(
            Duration::from_secs(20),
            throughput(Target::fixed(&a, &a), 10, 2),
        )
        .await
        .unwrap()
        .unwrap();
        assert!(rate > 0.0, "{rate}");
        // 10 timed rounds, plus one warm-up round for each of the 2 callers.
        assert_eq!(counts.readings.load(Ordering::Relaxed), 12);
        assert_eq!(counts.squares.load(Ordering::Relaxed), 12);
    }

    #[tokio::test]
    async fn throughput_fails_when_a_round_fails() {
        // Nothing listens on port 9 of loopback: the warm-up round fails.
        let r = tokio::time::timeout(
            Duration::from_secs(20),
            throughput(Target::fixed("127.0.0.1:9", "127.0.0.1:9"), 10, 3),
        )
        .await
        .unwrap();
        assert!(r.is_err());
    }

    #[tokio::test]
    async fn side_by_side_counts_each_side_and_sees_the_slower_one() {
        // Side A's sensor takes 20 ms a reading, side B's none: in the same
        // window B completes many more rounds.
        let (slow, slow_counts) = sensor_and_worker(Duration::from_millis(20)).await;
        let (fast, fast_counts) = sensor_and_worker(Duration::ZERO).await;
        let (slow, fast) = (slow.to_string(), fast.to_string());
        let r = tokio::time::timeout(
            Duration::from_secs(20),
            side_by_side(
                Target::fixed(&slow, &slow),
                Target::fixed(&fast, &fast),
                2,
                Duration::from_millis(300),
            ),
        )
        .await
        .unwrap()
        .unwrap();
        // 2 callers × 300 ms / ≥ 20 ms a round: at most 30 rounds.
        assert!(r.a >= 2 && r.a <= 30, "{r:?}");
        assert!(r.b > 3 * r.a, "{r:?}");
        assert!(r.diff_pct() < -60.0, "{r:?}");
        // Counted rounds, plus one warm-up round per caller, plus at most
        // one uncounted round in flight at the end per caller.
        let served = slow_counts.readings.load(Ordering::Relaxed);
        assert!((r.a + 2..=r.a + 4).contains(&served), "{served} {r:?}");
        let served = fast_counts.squares.load(Ordering::Relaxed);
        assert!((r.b + 2..=r.b + 4).contains(&served), "{served} {r:?}");
        assert!((r.a_per_sec() - r.a as f64 / 0.3).abs() < 1e-6);
    }

    #[tokio::test]
    async fn side_by_side_fails_when_either_side_fails() {
        let (addr, _) = sensor_and_worker(Duration::ZERO).await;
        let a = addr.to_string();
        let r = tokio::time::timeout(
            Duration::from_secs(20),
            side_by_side(
                Target::fixed(&a, &a),
                Target::fixed("127.0.0.1:9", "127.0.0.1:9"),
                1,
                Duration::from_millis(100),
            ),
        )
        .await
        .unwrap();
        assert!(r.is_err());
    }
}
