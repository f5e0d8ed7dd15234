//! The worker over the broker: readings pulled from the `workers` consumer
//! of `READINGS` (shared by every worker), squared, the square published to
//! `SQUARES` with the reading's message ID and acknowledged by the stream,
//! and only then the reading acknowledged. A worker killed in between
//! leaves its readings unacknowledged: after the consumer's ack wait they
//! go to another worker, and a square published twice is dropped by the
//! stream's duplicate window (and by the app).

use std::future::Future;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_nats::jetstream::message::PublishMessage;
use async_nats::jetstream::AckKind;
use axum::routing::get;
use axum::{Json, Router};
use futures_util::StreamExt;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::registry::Registry;
use tokio_util::sync::CancellationToken;

use crate::Args;

/// Counters of a worker over the broker.
#[derive(Clone, Debug, Default)]
struct Counts {
    squares: Counter,
    rejected: Counter,
}

/// Publishes `sq` until the stream acknowledges it (or `stop`).
async fn publish(
    js: &async_nats::jetstream::Context,
    sq: &bus::Squared,
    stop: &CancellationToken,
) -> bool {
    let Ok(body) = serde_json::to_vec(sq) else {
        return false;
    };
    let body = bytes::Bytes::from(body);
    let id = sq.id();
    let mut backoff = Duration::from_millis(50);
    loop {
        let attempt = async {
            let ack = js
                .send_publish(
                    bus::streams::SQUARES_SUBJECT,
                    PublishMessage::build()
                        .payload(body.clone())
                        .message_id(&id),
                )
                .await?;
            anyhow::Ok(ack.await?)
        };
        let outcome = tokio::select! {
            _ = stop.cancelled() => return false,
            r = attempt => r,
        };
        match outcome {
            Ok(_) => return true,
            Err(e) => tracing::debug!(id = %id, error = %e, "square not acknowledged: again"),
        }
        tokio::select! {
            _ = stop.cancelled() => return false,
            _ = tokio::time::sleep(backoff) => {}
        }
        backoff = (backoff * 2).min(Duration::from_secs(1));
    }
}

/// One reading: squared, published, acknowledged.
async fn handle(
    js: &async_nats::jetstream::Context,
    id: &str,
    msg: async_nats::jetstream::Message,
    counts: &Counts,
    stop: &CancellationToken,
) {
    let reading: bus::Reading = match bus::message::parse(&msg.payload) {
        Ok(r) => r,
        Err(e) => {
            // Never squarable: taken off the stream, not redelivered forever.
            tracing::warn!(subject = %msg.subject, error = %e, "a reading that is not one: dropped");
            counts.rejected.inc();
            let _ = msg.ack_with(AckKind::Term).await;
            return;
        }
    };
    let sq = reading.square(id);
    if !publish(js, &sq, stop).await {
        // Stopping: unacknowledged, it goes to another worker.
        return;
    }
    counts.squares.inc();
    if let Err(e) = msg.ack().await {
        // Redelivered later; the square's ID drops the second one.
        tracing::debug!(error = %e, "acknowledging a reading");
    }
}

/// Pulls and squares readings until `stop`, starting again (bounded
/// backoff) whenever the pull breaks (a node died, a leader moved).
async fn work(
    broker: bus::Broker,
    id: String,
    concurrency: usize,
    counts: Counts,
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
                bus::streams::READINGS,
                bus::streams::READINGS_SUBJECT,
                bus::streams::WORKERS,
                bus::streams::WORKERS_ACK_WAIT,
                deadline,
            ) => c,
        };
        let messages = match consumer {
            Ok(c) => {
                c.stream()
                    .max_messages_per_batch(concurrency.max(1))
                    .expires(Duration::from_secs(2))
                    .heartbeat(Duration::from_millis(500))
                    .messages()
                    .await
            }
            Err(e) => {
                tracing::warn!(error = %format!("{e:#}"), "the workers' consumer: trying again");
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(Duration::from_secs(2));
                continue;
            }
        };
        let messages = match messages {
            Ok(m) => m,
            Err(e) => {
                tracing::warn!(error = %e, "pulling readings: trying again");
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(Duration::from_secs(2));
                continue;
            }
        };
        backoff = Duration::from_millis(100);
        let (js, id, counts, stop2) = (&js, &id, &counts, &stop);
        let run = messages
            .take_while(|m| {
                let go = match m {
                    Ok(_) => true,
                    Err(e) => {
                        tracing::info!(error = %e, "the pull of readings broke: pulling again");
                        false
                    }
                };
                std::future::ready(go)
            })
            .filter_map(|m| std::future::ready(m.ok()))
            .for_each_concurrent(concurrency.max(1), |msg| async move {
                handle(js, id, msg, counts, stop2).await;
            });
        tokio::select! {
            _ = stop.cancelled() => return,
            _ = run => {}
        }
    }
}

/// Squares readings from the broker until `shutdown`; `ready` gets the
/// address once registered.
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
        "worker",
        args.wait_for,
    )
    .await?;
    let deadline = tokio::time::Instant::now() + args.wait_for;
    bus::streams::ensure_stream(
        broker.jetstream(),
        bus::streams::SQUARES,
        bus::streams::SQUARES_SUBJECT,
        deadline,
    )
    .await?;
    bus::streams::ensure_consumer(
        broker.jetstream(),
        bus::streams::READINGS,
        bus::streams::READINGS_SUBJECT,
        bus::streams::WORKERS,
        bus::streams::WORKERS_ACK_WAIT,
        deadline,
    )
    .await?;
    let mut registry = Registry::with_prefix("worker");
    let counts = Counts::default();
    registry.register("squares", "Squares published", counts.squares.clone());
    registry.register(
        "rejected",
        "Messages that were not readings",
        counts.rejected.clone(),
    );
    broker.register_metrics(&mut registry);
    let stop = CancellationToken::new();
    let task = Arc::new(Mutex::new(None));
    let (slot, b, c, s) = (
        Arc::clone(&task),
        broker.clone(),
        counts.clone(),
        stop.clone(),
    );
    let concurrency = args.concurrency as usize;
    let router = move |id: &str| {
        let handle = tokio::spawn(work(b.clone(), id.to_string(), concurrency, c, s));
        *slot
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(handle);
        Router::new().route(
            "/stats",
            get(move || async move { Json(serde_json::json!({ "broker": b.status() })) }),
        )
    };
    let result = kit::Service::new("worker", &args.service, &client)
        .tags(&["v1"])
        .metrics(registry)
        .serve(router, shutdown, ready)
        .await;
    stop.cancel();
    let worker = task
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .take();
    if let Some(w) = worker {
        let _ = tokio::time::timeout(Duration::from_secs(1), w).await;
    }
    result
}
