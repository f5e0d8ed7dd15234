//! The two streams and their consumers.
//!
//! | Stream | Subject | From → to | Consumer |
//! |---|---|---|---|
//! | `READINGS` | `readings` | sensor → workers | `workers`, shared by every worker |
//! | `SQUARES` | `squares` | workers → app | `app` |
//!
//! Both are work queues (a message is gone once acknowledged), on files,
//! replicated on [`REPLICAS`] nodes, with a duplicate window of
//! [`DUPLICATE_WINDOW`] over the `Nats-Msg-Id` header, and bounded
//! ([`MAX_MESSAGES`], [`MAX_BYTES`]: past them a publish is refused, so the
//! sensor slows down instead of anything being dropped). The consumers are
//! durable pull consumers with explicit acks: a message a worker took and
//! did not acknowledge (it was killed) goes to another after
//! [`WORKERS_ACK_WAIT`]. The workers pulling from the one `workers` consumer
//! are JetStream's queue group: each reading goes to one of them.

use std::time::Duration;

use async_nats::jetstream::consumer::{pull, AckPolicy, DeliverPolicy};
use async_nats::jetstream::stream::{self, DiscardPolicy, RetentionPolicy, StorageType};
use async_nats::jetstream::Context;

/// The readings stream.
pub const READINGS: &str = "READINGS";
/// Its subject.
pub const READINGS_SUBJECT: &str = "readings";
/// The squares stream.
pub const SQUARES: &str = "SQUARES";
/// Its subject.
pub const SQUARES_SUBJECT: &str = "squares";
/// The workers' consumer on [`READINGS`].
pub const WORKERS: &str = "workers";
/// The app's consumer on [`SQUARES`].
pub const APP: &str = "app";
/// Replicas of each stream (a majority survives one node's death).
pub const REPLICAS: usize = 3;
/// How long a second publish with the same message ID is dropped.
pub const DUPLICATE_WINDOW: Duration = Duration::from_secs(120);
/// Most messages a stream holds.
pub const MAX_MESSAGES: i64 = 1_000_000;
/// Most bytes a stream holds.
pub const MAX_BYTES: i64 = 512 * 1024 * 1024;
/// How long a worker has to acknowledge a reading before it goes to another.
pub const WORKERS_ACK_WAIT: Duration = Duration::from_secs(3);
/// How long the app has to acknowledge a square.
pub const APP_ACK_WAIT: Duration = Duration::from_secs(5);
/// Most unacknowledged messages of a consumer.
pub const MAX_ACK_PENDING: i64 = 4096;

/// The configuration of stream `name` on `subject`.
pub fn stream_config(name: &str, subject: &str) -> stream::Config {
    stream::Config {
        name: name.to_string(),
        subjects: vec![subject.to_string()],
        retention: RetentionPolicy::WorkQueue,
        storage: StorageType::File,
        num_replicas: REPLICAS,
        duplicate_window: DUPLICATE_WINDOW,
        max_messages: MAX_MESSAGES,
        max_bytes: MAX_BYTES,
        discard: DiscardPolicy::New,
        ..stream::Config::default()
    }
}

/// The configuration of durable consumer `name`.
pub fn consumer_config(name: &str, ack_wait: Duration) -> pull::Config {
    pull::Config {
        durable_name: Some(name.to_string()),
        ack_policy: AckPolicy::Explicit,
        deliver_policy: DeliverPolicy::All,
        ack_wait,
        max_ack_pending: MAX_ACK_PENDING,
        ..pull::Config::default()
    }
}

/// Makes sure stream `name` exists (any service may be first; a stream
/// another created is used as it is). Retries until `deadline`: right
/// after the cluster formed, a replicated stream may not be placed yet.
pub async fn ensure_stream(
    js: &Context,
    name: &str,
    subject: &str,
    deadline: tokio::time::Instant,
) -> anyhow::Result<stream::Stream> {
    loop {
        let last = match js.get_or_create_stream(stream_config(name, subject)).await {
            Ok(s) => return Ok(s),
            Err(e) => e.to_string(),
        };
        if tokio::time::Instant::now() >= deadline {
            anyhow::bail!(
                "creating the JetStream stream {name} ({REPLICAS} replicas): {last} (are {REPLICAS} broker nodes up, each with -js?)"
            );
        }
        tracing::debug!(stream = name, error = %last, "the stream is not there yet: retrying");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Makes sure durable consumer `consumer` of stream `name` exists; returns it.
pub async fn ensure_consumer(
    js: &Context,
    name: &str,
    subject: &str,
    consumer: &str,
    ack_wait: Duration,
    deadline: tokio::time::Instant,
) -> anyhow::Result<async_nats::jetstream::consumer::PullConsumer> {
    loop {
        let stream = ensure_stream(js, name, subject, deadline).await?;
        let last = match stream
            .get_or_create_consumer(consumer, consumer_config(consumer, ack_wait))
            .await
        {
            Ok(c) => return Ok(c),
            Err(e) => e.to_string(),
        };
        if tokio::time::Instant::now() >= deadline {
            anyhow::bail!("creating the consumer {consumer} of the stream {name}: {last}");
        }
        tracing::debug!(consumer, error = %last, "the consumer is not there yet: retrying");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}
