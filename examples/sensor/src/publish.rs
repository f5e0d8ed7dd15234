//! The sensor over the broker: readings published to the `READINGS`
//! stream, each with its message ID, retried (same ID) until the stream
//! acknowledges it; the stream's duplicate window drops a retry of one it
//! had stored already.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_nats::jetstream::message::PublishMessage;
use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use futures_util::stream::{FuturesUnordered, StreamExt};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::registry::Registry;
use serde::{Deserialize, Serialize};
use tokio_util::sync::CancellationToken;

use crate::Args;

/// What the sensor has published, for `GET /stats`.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct SensorStats {
    /// The sensor's name in its messages (its instance ID and start time).
    pub sensor: String,
    /// Readings made (`seq` 0 to this, not included).
    pub made: u64,
    /// Readings the stream acknowledged: sent, never to be lost.
    pub published: u64,
    /// Publishes tried again (no acknowledgement in time, a node died).
    pub retries: u64,
    /// Acknowledgements that said the stream had the reading already.
    pub duplicates: u64,
    /// Whether it stopped making readings (`--count` reached).
    pub done: bool,
    /// The broker connection.
    pub broker: bus::BrokerStatus,
}

#[derive(Default)]
struct Counts {
    made: AtomicU64,
    published: AtomicU64,
    retries: AtomicU64,
    duplicates: AtomicU64,
    done: std::sync::atomic::AtomicBool,
}

/// Publishes one reading until the stream acknowledges it (or `stop`);
/// returns whether the stream said it was a duplicate.
async fn publish(
    js: &async_nats::jetstream::Context,
    reading: &bus::Reading,
    counts: &Counts,
    stop: &CancellationToken,
) -> Option<bool> {
    let body = bytes::Bytes::from(serde_json::to_vec(reading).ok()?);
    let id = reading.id();
    let mut backoff = Duration::from_millis(50);
    loop {
        let attempt = async {
            let ack = js
                .send_publish(
                    bus::streams::READINGS_SUBJECT,
                    PublishMessage::build()
                        .payload(body.clone())
                        .message_id(&id),
                )
                .await?;
            anyhow::Ok(ack.await?)
        };
        let outcome = tokio::select! {
            _ = stop.cancelled() => return None,
            r = attempt => r,
        };
        match outcome {
            Ok(ack) => return Some(ack.duplicate),
            Err(e) => {
                counts.retries.fetch_add(1, Ordering::Relaxed);
                tracing::debug!(id = %id, error = %e, "publish not acknowledged: again");
            }
        }
        tokio::select! {
            _ = stop.cancelled() => return None,
            _ = tokio::time::sleep(backoff) => {}
        }
        backoff = (backoff * 2).min(Duration::from_secs(1));
    }
}

/// Makes readings at `rate` a second (0: as fast as acknowledged), at most
/// `in_flight` unacknowledged, `count` of them (0: no end), until `stop`.
async fn produce(
    broker: bus::Broker,
    sensor: String,
    args: Args,
    counts: Arc<Counts>,
    metric: Counter,
    stop: CancellationToken,
) {
    let js = broker.jetstream().clone();
    let mut pending = FuturesUnordered::new();
    let started = tokio::time::Instant::now();
    let mut seq = 0u64;
    let in_flight = args.in_flight.max(1) as usize;
    loop {
        let more = args.count == 0 || seq < args.count;
        let room = pending.len() < in_flight;
        let next_at =
            (args.rate > 0.0).then(|| started + Duration::from_secs_f64(seq as f64 / args.rate));
        if !more && pending.is_empty() {
            counts.done.store(true, Ordering::Relaxed);
            tracing::info!(sensor = %sensor, readings = seq, "every reading published and acknowledged");
            return;
        }
        tokio::select! {
            biased;
            _ = stop.cancelled() => return,
            Some(dup) = pending.next(), if !pending.is_empty() => {
                if let Some(dup) = dup {
                    counts.published.fetch_add(1, Ordering::Relaxed);
                    metric.inc();
                    if dup {
                        counts.duplicates.fetch_add(1, Ordering::Relaxed);
                    }
                }
            }
            _ = async {
                if let Some(t) = next_at {
                    tokio::time::sleep_until(t).await;
                }
            }, if more && room => {
                let reading = bus::Reading {
                    sensor: sensor.clone(),
                    seq,
                    value: fastrand::i64(-10_000..10_000),
                    sent_us: bus::message::now_us(),
                };
                seq += 1;
                counts.made.store(seq, Ordering::Relaxed);
                let (js, counts, stop) = (js.clone(), Arc::clone(&counts), stop.clone());
                pending.push(async move { publish(&js, &reading, &counts, &stop).await });
            }
        }
    }
}

/// Publishes readings until `shutdown`; `ready` gets the address once
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
        "sensor",
        args.wait_for,
    )
    .await?;
    let deadline = tokio::time::Instant::now() + args.wait_for;
    bus::streams::ensure_stream(
        broker.jetstream(),
        bus::streams::READINGS,
        bus::streams::READINGS_SUBJECT,
        deadline,
    )
    .await?;
    let mut registry = Registry::with_prefix("sensor");
    let readings = Counter::default();
    registry.register(
        "readings",
        "Readings the broker acknowledged",
        readings.clone(),
    );
    broker.register_metrics(&mut registry);
    let counts = Arc::new(Counts::default());
    let stop = CancellationToken::new();
    let started_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis())
        .unwrap_or(0);
    let (b, c, s, a) = (
        broker.clone(),
        Arc::clone(&counts),
        stop.clone(),
        args.clone(),
    );
    let task = Arc::new(Mutex::new(None));
    let slot = Arc::clone(&task);
    let router = move |id: &str| {
        // Unique across restarts of the same instance ID: its sequence
        // numbers start again at 0.
        let sensor = format!("{id}@{started_ms}");
        let producer = tokio::spawn(produce(
            b.clone(),
            sensor.clone(),
            a,
            Arc::clone(&c),
            readings,
            s.clone(),
        ));
        *slot
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(producer);
        let state = (b, c, Arc::new(sensor));
        Router::new().route(
            "/stats",
            get(
                |State((b, c, sensor)): State<(bus::Broker, Arc<Counts>, Arc<String>)>| async move {
                    Json(SensorStats {
                        sensor: sensor.to_string(),
                        made: c.made.load(Ordering::Relaxed),
                        published: c.published.load(Ordering::Relaxed),
                        retries: c.retries.load(Ordering::Relaxed),
                        duplicates: c.duplicates.load(Ordering::Relaxed),
                        done: c.done.load(Ordering::Relaxed),
                        broker: b.status(),
                    })
                },
            )
            .with_state(state),
        )
    };
    let result = kit::Service::new("sensor", &args.service, &client)
        .metrics(registry)
        .serve(router, shutdown, ready)
        .await;
    stop.cancel();
    let producer = task
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .take();
    if let Some(p) = producer {
        let _ = tokio::time::timeout(Duration::from_secs(1), p).await;
    }
    result
}
