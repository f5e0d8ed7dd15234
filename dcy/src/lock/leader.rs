//! Leader election: a task that contends for a [`Lock`] for as long as the
//! election runs, says who leads, and resigns when it is shut down.

use std::time::Duration;

use tokio::sync::watch;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::Lock;
use crate::client::Client;
use crate::watch::backoff;

/// Leader election: contends for a lock until shut down and says who leads.
///
/// ```no_run
/// # async fn demo() -> dcy::Result<()> {
/// let election = dcy::LeaderElection::start(dcy::Client::from_env()?, "service/app/leader", "app-1");
/// let mut leading = election.subscribe();
/// leading.wait_for(|l| *l).await.ok();
/// println!("I lead");
/// election.resign().await;
/// # Ok(())
/// # }
/// ```
#[derive(Debug)]
pub struct LeaderElection {
    state: watch::Receiver<bool>,
    stop: CancellationToken,
    tasks: TaskTracker,
}

impl LeaderElection {
    /// Starts contending for `key`, storing `value` (this candidate's name) while leading.
    ///
    /// # Panics
    ///
    /// Outside a Tokio runtime.
    pub fn start(client: Client, key: &str, value: &str) -> LeaderElection {
        let lock = Lock::new(client, key).value(value.to_string());
        let (tx, rx) = watch::channel(false);
        let stop = CancellationToken::new();
        let tasks = TaskTracker::new();
        tasks.spawn(elect(lock, tx, stop.clone()));
        tasks.close();
        LeaderElection {
            state: rx,
            stop,
            tasks,
        }
    }

    /// Whether this process leads now.
    pub fn is_leader(&self) -> bool {
        *self.state.borrow()
    }

    /// Leadership changes, as a `watch` receiver.
    pub fn subscribe(&self) -> watch::Receiver<bool> {
        self.state.clone()
    }

    /// Stops contending, gives up leadership (releasing the lock), and
    /// waits until the election's task has ended.
    pub async fn resign(self) {
        self.shutdown().await;
    }

    /// The same as [`LeaderElection::resign`], by reference.
    pub async fn shutdown(&self) {
        self.stop.cancel();
        self.tasks.wait().await;
    }
}

impl Drop for LeaderElection {
    fn drop(&mut self) {
        // A signal only: the task releases the lock and ends.
        self.stop.cancel();
    }
}

async fn elect(lock: Lock, tx: watch::Sender<bool>, stop: CancellationToken) {
    let mut retry = backoff(Duration::from_millis(500), Duration::from_secs(30));
    loop {
        match lock.acquire_until(&stop).await {
            Err(_) if stop.is_cancelled() => return,
            Ok(mut guard) => {
                retry = backoff(Duration::from_millis(500), Duration::from_secs(30));
                tracing::info!(key = %lock.key, "became leader");
                tx.send_replace(true);
                tokio::select! {
                    _ = stop.cancelled() => {
                        tx.send_replace(false);
                        let _ = guard.release().await;
                        return;
                    }
                    _ = guard.lost() => {
                        tracing::warn!(key = %lock.key, "lost leadership");
                        tx.send_replace(false);
                        let _ = guard.release().await;
                    }
                }
            }
            Err(e) => {
                tracing::warn!(key = %lock.key, error = %e, "leader election: acquiring failed; retrying");
                let delay = retry.next().unwrap_or(Duration::from_secs(30));
                tokio::select! {
                    _ = stop.cancelled() => return,
                    _ = tokio::time::sleep(delay) => {}
                }
            }
        }
    }
}
