//! A held lock: a task that renews the session at TTL/2 and follows the
//! key through a `?consistent` watch, reporting loss; released when the
//! guard is done.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use tokio::sync::watch;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::{release, Lock};
use crate::client::Client;
use crate::error::Result;
use crate::types::KvPair;
use crate::watch::{Watch, WatchHub, WatchSpec};

/// A held lock. [`LockGuard::release`] releases it and waits until its task
/// ended; dropping the guard signals that task to release it, best effort.
#[derive(Debug)]
pub struct LockGuard {
    session: String,
    lost: watch::Receiver<bool>,
    stop: CancellationToken,
    tasks: TaskTracker,
    outcome: Arc<Mutex<Option<Result<()>>>>,
}

impl LockGuard {
    pub(super) fn start(lock: &Lock, session: String, hub: WatchHub) -> LockGuard {
        let (tx, rx) = watch::channel(false);
        let stop = CancellationToken::new();
        let tasks = TaskTracker::new();
        let outcome = Arc::new(Mutex::new(None));
        let monitor = hub.watch::<Vec<KvPair>>(WatchSpec::kv_key(&lock.key).consistent());
        tasks.spawn(hold(Held {
            client: lock.client.clone(),
            key: lock.key.clone(),
            session: session.clone(),
            ttl: lock.session_ttl,
            monitor,
            hub,
            lost: tx,
            stop: stop.clone(),
            outcome: Arc::clone(&outcome),
        }));
        tasks.close();
        LockGuard {
            session,
            lost: rx,
            stop,
            tasks,
            outcome,
        }
    }

    /// The session holding the lock.
    pub fn session(&self) -> &str {
        &self.session
    }

    /// Whether the lock is still held, as far as this process knows.
    pub fn is_held(&self) -> bool {
        !*self.lost.borrow()
    }

    /// Resolves when the lock is lost (session invalidated, key taken or
    /// deleted, or Consul unreachable for longer than the session TTL).
    pub async fn lost(&mut self) {
        let _ = self.lost.wait_for(|l| *l).await;
    }

    /// Releases the lock, destroys its session, and waits until the
    /// guard's task has ended.
    pub async fn release(self) -> Result<()> {
        self.stop.cancel();
        self.tasks.wait().await;
        self.outcome
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take()
            .unwrap_or(Ok(()))
    }
}

impl Drop for LockGuard {
    fn drop(&mut self) {
        // A signal only: the guard's task releases and ends.
        self.stop.cancel();
    }
}

struct Held {
    client: Client,
    key: String,
    session: String,
    ttl: Duration,
    monitor: Watch<Vec<KvPair>>,
    hub: WatchHub,
    lost: watch::Sender<bool>,
    stop: CancellationToken,
    outcome: Arc<Mutex<Option<Result<()>>>>,
}

impl Held {
    /// Whether the key still names our session.
    fn ours(&self) -> bool {
        self.monitor.value().is_none_or(|entries| {
            entries
                .first()
                .and_then(|e| e.session.as_deref())
                .is_some_and(|s| s == self.session)
        })
    }

    /// Whether the monitor has been failing for longer than the session TTL.
    fn blind(&self) -> bool {
        self.monitor
            .status()
            .failing_since
            .is_some_and(|t| t.elapsed() >= self.ttl)
    }
}

/// Renews, monitors, and on stop releases.
async fn hold(h: Held) {
    let every = (h.ttl / 2).max(Duration::from_millis(500));
    let mut renew = tokio::time::interval_at(tokio::time::Instant::now() + every, every);
    let mut monitor = h.monitor.clone();
    while !*h.lost.borrow() {
        tokio::select! {
            _ = h.stop.cancelled() => break,
            _ = renew.tick() => {
                match h.client.session_renew(&h.session).await {
                    Ok(Some(_)) => {}
                    Ok(None) => {
                        tracing::warn!(session = %h.session, key = %h.key, "lock session expired");
                        h.lost.send_replace(true);
                    }
                    Err(e) => tracing::debug!(session = %h.session, error = %e, "renewing the lock session failed; retrying"),
                }
                if h.blind() {
                    tracing::warn!(key = %h.key, "Consul unreachable for longer than the session TTL: reporting the lock as lost");
                    h.lost.send_replace(true);
                }
            }
            r = monitor.changed() => {
                if r.is_err() || !h.ours() {
                    tracing::warn!(key = %h.key, "lock lost");
                    h.lost.send_replace(true);
                }
            }
        }
    }
    // The monitor's loop ends now; the owner decides when this task does.
    h.hub.shutdown().await;
    h.stop.cancelled().await;
    let outcome = tokio::time::timeout(
        h.client.config().request_timeout,
        release(&h.client, &h.key, &h.session),
    )
    .await
    .unwrap_or_else(|_| {
        Err(crate::Error::timeout(
            &format!("releasing lock {}", h.key),
            h.client.config().request_timeout,
        ))
    });
    if let Err(e) = &outcome {
        tracing::warn!(key = %h.key, error = %e, "releasing the lock failed; its session TTL will free it");
    }
    h.lost.send_replace(true);
    *h.outcome.lock().unwrap_or_else(PoisonError::into_inner) = Some(outcome);
}
