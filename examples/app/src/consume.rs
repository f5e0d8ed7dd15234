//! The app over the broker: squares pulled from the `app` consumer of
//! `SQUARES`, each counted once by its message ID (a square delivered again
//! is acknowledged and dropped), checked, and acknowledged after it is
//! counted.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_nats::jetstream::AckKind;
use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use futures_util::StreamExt;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::registry::Registry;
use tokio_util::sync::CancellationToken;

use crate::{Args, Served, Stats};

/// Counts one square in `stats`; `false` when it was a duplicate.
pub fn record(stats: &mut Stats, sq: bus::Squared, now_us: u64) -> bool {
    if !stats.seen.insert(&sq.sensor, sq.seq) {
        stats.duplicates += 1;
        return false;
    }
    match sq.square {
        Some(square) if sq.is_right() => {
            stats.latencies.record_since(sq.sent_us, now_us);
            stats.served(Served {
                n: sq.n,
                square,
                worker: sq.worker,
            });
        }
        Some(square) => {
            stats.wrong += 1;
            stats.last_error = Some(format!("{} answered {square} for {}", sq.worker, sq.n));
        }
        None => {
            stats.failed += 1;
            stats.last_error = sq.error;
        }
    }
    true
}

/// Pulls squares until `stop`, starting again (bounded backoff) whenever
/// the pull breaks.
async fn consume(
    broker: bus::Broker,
    stats: Arc<Mutex<Stats>>,
    rounds: Counter,
    stop: CancellationToken,
) {
    let js = broker.jetstream().clone();
    let mut backoff = Duration::from_millis(100);
    while !stop.is_cancelled() {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        let consumer = tokio::select! {
            _ = stop.cancelled() => return,
            c = bus::streams::ensure_consumer(
                &js,
                bus::streams::SQUARES,
                bus::streams::SQUARES_SUBJECT,
                bus::streams::APP,
                bus::streams::APP_ACK_WAIT,
                deadline,
            ) => c,
        };
        let messages = match consumer {
            Ok(c) => c
                .stream()
                .max_messages_per_batch(256)
                .expires(Duration::from_secs(2))
                .heartbeat(Duration::from_millis(500))
                .messages()
                .await
                .map_err(anyhow::Error::from),
            Err(e) => Err(e),
        };
        let mut messages = match messages {
            Ok(m) => m,
            Err(e) => {
                tracing::warn!(error = %format!("{e:#}"), "pulling squares: trying again");
                tokio::select! {
                    _ = stop.cancelled() => return,
                    _ = tokio::time::sleep(backoff) => {}
                }
                backoff = (backoff * 2).min(Duration::from_secs(2));
                continue;
            }
        };
        backoff = Duration::from_millis(100);
        loop {
            let next = tokio::select! {
                _ = stop.cancelled() => return,
                m = messages.next() => m,
            };
            let msg = match next {
                Some(Ok(m)) => m,
                Some(Err(e)) => {
                    tracing::info!(error = %e, "the pull of squares broke: pulling again");
                    break;
                }
                None => break,
            };
            let sq: bus::Squared = match bus::message::parse(&msg.payload) {
                Ok(sq) => sq,
                Err(e) => {
                    let text = format!("a square that is not one on {}: {e}", msg.subject);
                    tracing::warn!("{text}");
                    {
                        let mut s = stats
                            .lock()
                            .unwrap_or_else(std::sync::PoisonError::into_inner);
                        s.failed += 1;
                        s.last_error = Some(text);
                    }
                    let _ = msg.ack_with(AckKind::Term).await;
                    continue;
                }
            };
            rounds.inc();
            {
                let mut s = stats
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner);
                record(&mut s, sq, bus::message::now_us());
            }
            // Counted: acknowledged. An ack lost with a node brings the
            // square back, and the ID set drops it.
            if let Err(e) = msg.ack().await {
                tracing::debug!(error = %e, "acknowledging a square");
            }
        }
    }
}

/// Consumes squares until `shutdown`; `ready` gets the address once
/// registered.
pub async fn run(
    args: Args,
    shutdown: impl Future<Output = ()> + Send + 'static,
    ready: impl FnOnce(SocketAddr),
) -> anyhow::Result<()> {
    let client = args.service.client()?;
    let discovery = dcy::Discovery::new(client.clone());
    let broker = bus::Broker::connect(
        &discovery,
        args.service.service_options(),
        "app",
        args.wait_for,
    )
    .await?;
    let deadline = tokio::time::Instant::now() + args.wait_for;
    bus::streams::ensure_consumer(
        broker.jetstream(),
        bus::streams::SQUARES,
        bus::streams::SQUARES_SUBJECT,
        bus::streams::APP,
        bus::streams::APP_ACK_WAIT,
        deadline,
    )
    .await?;
    let stats = Arc::new(Mutex::new(Stats {
        transport: bus::Transport::Nats.to_string(),
        ..Stats::default()
    }));
    let mut registry = Registry::with_prefix("app");
    let rounds = Counter::default();
    registry.register("rounds", "Squares received", rounds.clone());
    broker.register_metrics(&mut registry);
    let stop = CancellationToken::new();
    let consumer = tokio::spawn(consume(
        broker.clone(),
        Arc::clone(&stats),
        rounds,
        stop.clone(),
    ));
    let st = (Arc::clone(&stats), broker.clone());
    let router = move |_: &str| {
        Router::new()
            .route(
                "/stats",
                get(
                    |State((s, b)): State<(Arc<Mutex<Stats>>, bus::Broker)>| async move {
                        let mut view = s
                            .lock()
                            .unwrap_or_else(std::sync::PoisonError::into_inner)
                            .view();
                        view.broker = Some(b.status());
                        Json(view)
                    },
                ),
            )
            .with_state(st)
    };
    let result = kit::Service::new("app", &args.service, &client)
        .metrics(registry)
        .serve(router, shutdown, ready)
        .await;
    stop.cancel();
    let _ = tokio::time::timeout(Duration::from_secs(1), consumer).await;
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sq(seq: u64, n: i64, square: Option<i64>) -> bus::Squared {
        bus::Squared {
            sensor: "s".into(),
            seq,
            n,
            square,
            error: square.is_none().then(|| "overflows".to_string()),
            worker: "w".into(),
            sent_us: 1_000,
        }
    }

    #[test]
    fn a_square_counts_once() {
        let mut s = Stats::default();
        assert!(record(&mut s, sq(0, 3, Some(9)), 3_000));
        assert!(record(&mut s, sq(1, 4, Some(16)), 3_000));
        assert!(!record(&mut s, sq(0, 3, Some(9)), 4_000), "redelivered");
        assert!(record(&mut s, sq(2, 4, Some(15)), 3_000));
        assert!(record(&mut s, sq(3, 4, None), 3_000));
        assert_eq!((s.ok, s.duplicates, s.wrong, s.failed), (2, 1, 1, 1));
        let v = s.view();
        assert_eq!(v.received["s"].count, 4);
        assert_eq!(v.received["s"].ranges, [[0, 3]]);
        assert_eq!(v.latency.count, 2);
        assert!((v.latency.p50_ms - 2.0).abs() < 0.01, "{:?}", v.latency);
        assert_eq!(v.by_worker["w"], 2);
    }
}
