//! The loop behind each watched query: Consul's blocking rules, publishing,
//! and errors with backoff. One per unique query, in its hub's task tracker.

use std::any::TypeId;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, PoisonError, Weak};
use std::time::Duration;

use backon::BackoffBuilder;
use tokio::sync::watch;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::handle::{Snapshot, State};
use super::{Entry, HubInner, WatchOptions};
use crate::error::Result;
use crate::metrics::Metrics;

/// Where a blocking query resumes: the index, or the content hash.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Cursor {
    /// `?index=` (0: answer at once).
    Index(u64),
    /// `?hash=` (`None`: answer at once).
    Hash(Option<String>),
}

/// What a loop runs: one fetch from a cursor, to a value and the next cursor.
pub(crate) type Fetch<T> =
    Arc<dyn Fn(Cursor) -> Pin<Box<dyn Future<Output = Result<(T, Cursor)>> + Send>> + Send + Sync>;

/// The next index to send after an answer with `got`, given the previous one.
pub(crate) fn next_index(prev: u64, got: u64) -> u64 {
    if got < prev {
        0
    } else {
        got.max(1)
    }
}

/// Capped exponential backoff with jitter, never giving up: what every
/// retry in dcy waits (watches, the registration keeper, locks).
pub(crate) fn backoff(min: Duration, max: Duration) -> backon::ExponentialBackoff {
    backon::ExponentialBuilder::default()
        .with_min_delay(min)
        .with_max_delay(max)
        .with_jitter()
        .without_max_times()
        .build()
}

pub(crate) struct Loop<T> {
    pub(crate) fetch: Fetch<T>,
    pub(crate) start: Cursor,
    pub(crate) tx: watch::Sender<Snapshot<T>>,
    pub(crate) state: Arc<State>,
    pub(crate) hub: Weak<HubInner>,
    pub(crate) id: (TypeId, String),
    pub(crate) options: WatchOptions,
    pub(crate) cancel: CancellationToken,
    pub(crate) metrics: Arc<Metrics>,
}

/// Why the loop stops waiting.
enum Wake<R> {
    Done(R),
    Stop,
}

impl<T: PartialEq + Send + Sync + 'static> Loop<T> {
    /// Removes the hub entry when nobody listens any more; true to exit.
    fn release(&self, force: bool) -> bool {
        let Some(hub) = self.hub.upgrade() else {
            return true;
        };
        let mut entries = hub.entries.lock().unwrap_or_else(PoisonError::into_inner);
        if force || self.tx.receiver_count() == 0 {
            let ours = entries
                .get(&self.id)
                .and_then(|b| b.downcast_ref::<Entry<T>>())
                .is_some_and(|e| e.tx.same_channel(&self.tx));
            if ours {
                entries.remove(&self.id);
            }
            return true;
        }
        false
    }

    /// Runs `fut` unless the loop is cancelled or abandoned first.
    async fn guard<R>(&self, fut: impl Future<Output = R>) -> Wake<R> {
        tokio::pin!(fut);
        loop {
            tokio::select! {
                biased;
                _ = self.cancel.cancelled() => {
                    self.release(true);
                    return Wake::Stop;
                }
                _ = self.tx.closed() => {
                    if self.release(false) {
                        return Wake::Stop;
                    }
                }
                r = &mut fut => return Wake::Done(r),
            }
        }
    }

    pub(crate) async fn run(self) {
        let what = self.id.1.clone();
        let mut cursor = self.start.clone();
        let mut retry = backoff(self.options.min_backoff, self.options.max_backoff);
        let mut first = true;
        loop {
            let started = Instant::now();
            let result = match self.guard((self.fetch)(cursor.clone())).await {
                Wake::Done(r) => r,
                Wake::Stop => return,
            };
            self.metrics.watch_requests.inc();
            match result {
                Ok((value, got)) => {
                    let was_failing = self.state.update(|s| {
                        let was = s.error.is_some();
                        s.last_success = Some(Instant::now());
                        s.error = None;
                        s.failing_since = None;
                        s.consecutive_failures = 0;
                        was
                    });
                    if was_failing {
                        tracing::info!(query = %what, "watch recovered");
                        self.metrics.watches_failing.dec();
                    }
                    retry = backoff(self.options.min_backoff, self.options.max_backoff);
                    let index = match &got {
                        Cursor::Index(i) => *i,
                        Cursor::Hash(_) => 0,
                    };
                    let changed = self.tx.send_if_modified(|snap| {
                        snap.index = index;
                        if snap.value.as_deref() == Some(&value) {
                            return false;
                        }
                        snap.value = Some(Arc::new(value));
                        snap.version += 1;
                        true
                    });
                    if changed {
                        self.metrics.watch_changes.inc();
                        tracing::debug!(query = %what, index, "watch changed");
                        self.state.notify();
                    }
                    let unchanged = got == cursor;
                    cursor = match (cursor, got) {
                        (Cursor::Index(prev), Cursor::Index(got)) => {
                            if got < prev {
                                tracing::debug!(query = %what, from = prev, to = got, "index went backwards: resetting");
                            }
                            Cursor::Index(next_index(prev, got))
                        }
                        (_, got) => got,
                    };
                    if !first && unchanged && started.elapsed() < self.options.min_interval {
                        let jitter = Duration::from_millis(fastrand::u64(0..=20));
                        let until = started + self.options.min_interval + jitter;
                        if let Wake::Stop = self.guard(tokio::time::sleep_until(until)).await {
                            return;
                        }
                    }
                    first = false;
                }
                Err(e) => {
                    self.metrics.watch_errors.inc();
                    let first_failure = self.state.update(|s| {
                        let first = s.error.is_none();
                        s.consecutive_failures += 1;
                        s.failing_since.get_or_insert_with(Instant::now);
                        s.error = Some(e.clone());
                        first
                    });
                    if first_failure {
                        self.metrics.watches_failing.inc();
                        tracing::warn!(query = %what, error = %e, "watch failing; keeping the last good value and retrying with backoff");
                    } else {
                        tracing::debug!(query = %what, error = %e, "watch still failing");
                    }
                    let delay = retry.next().unwrap_or(self.options.max_backoff);
                    if let Wake::Stop = self.guard(tokio::time::sleep(delay)).await {
                        return;
                    }
                }
            }
        }
    }
}

impl<T> Drop for Loop<T> {
    fn drop(&mut self) {
        if self.state.status().error.is_some() {
            self.metrics.watches_failing.dec();
        }
        self.state.stop();
    }
}
