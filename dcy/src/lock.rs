//! Distributed locks on a KV key, held by a session that is renewed at
//! TTL/2, with a signal when the lock is lost; and leader election on top.
//!
//! The algorithm is the Go client's `api.Lock`: acquire with a blocking wait
//! on the key, the lock flag `0x2ddccbc058a50c18`, lock-delay retries, and a
//! consistent blocking monitor that reports loss.
//!
//! ```no_run
//! # async fn demo() -> dcy::Result<()> {
//! let client = dcy::Client::from_env()?;
//! let mut held = dcy::Lock::new(client, "locks/nightly-job").acquire().await?;
//! tokio::select! {
//!     _ = held.lost() => eprintln!("lock lost: stop working"),
//!     _ = tokio::time::sleep(std::time::Duration::from_secs(1)) => {}
//! }
//! held.release().await?;
//! # Ok(())
//! # }
//! ```

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use crate::client::{Client, Consistency, QueryOptions};
use crate::error::{Error, ErrorKind, Result};
use crate::kv::KvWrite;
use crate::session::{Behavior, SessionRequest};

/// The flag the Go client marks lock keys with.
pub const LOCK_FLAG_VALUE: u64 = 0x2ddc_cbc0_58a5_0c18;

/// A lock on one key, not yet held.
#[derive(Clone, Debug)]
pub struct Lock {
    client: Client,
    key: String,
    value: Bytes,
    session_name: String,
    session_ttl: Duration,
    lock_delay: Duration,
    wait: Duration,
    retry: Duration,
}

impl Lock {
    /// A lock on `key` with the Go client's defaults (session TTL 15s, wait 15s).
    pub fn new(client: Client, key: &str) -> Lock {
        Lock {
            client,
            key: key.trim_start_matches('/').to_string(),
            value: Bytes::new(),
            session_name: "Consul API Lock".into(),
            session_ttl: Duration::from_secs(15),
            lock_delay: Duration::from_secs(15),
            wait: Duration::from_secs(15),
            retry: Duration::from_secs(5),
        }
    }

    /// The value stored in the key while held (for example the holder's name).
    pub fn value(mut self, value: impl Into<Bytes>) -> Lock {
        self.value = value.into();
        self
    }

    /// TTL of the lock's session (10s–24h).
    pub fn session_ttl(mut self, ttl: Duration) -> Lock {
        self.session_ttl = ttl;
        self
    }

    /// How long the key stays unavailable after the holder's session dies.
    pub fn lock_delay(mut self, d: Duration) -> Lock {
        self.lock_delay = d;
        self
    }

    /// Name of the lock's session.
    pub fn session_name(mut self, name: &str) -> Lock {
        self.session_name = name.to_string();
        self
    }

    /// Waits until the lock is held. Wrap in `tokio::time::timeout` to bound it.
    pub async fn acquire(&self) -> Result<LockGuard> {
        self.acquire_inner(false)
            .await?
            .ok_or_else(|| Error::new(ErrorKind::Lock, "lock not acquired"))
    }

    /// One attempt, without waiting: `None` if someone else holds it.
    pub async fn try_acquire(&self) -> Result<Option<LockGuard>> {
        self.acquire_inner(true).await
    }

    async fn acquire_inner(&self, once: bool) -> Result<Option<LockGuard>> {
        let session = self
            .client
            .session_create(&SessionRequest {
                name: self.session_name.clone(),
                ttl: Some(self.session_ttl),
                behavior: Behavior::Release,
                lock_delay: self.lock_delay,
                node_checks: None,
            })
            .await?;
        match self.contend(&session, once).await {
            Ok(true) => Ok(Some(LockGuard::start(self, session))),
            Ok(false) => {
                let _ = self.client.session_destroy(&session).await;
                Ok(None)
            }
            Err(e) => {
                let _ = self.client.session_destroy(&session).await;
                Err(e)
            }
        }
    }

    /// The acquire loop; true once held.
    async fn contend(&self, session: &str, once: bool) -> Result<bool> {
        let mut index = 0;
        loop {
            let q = QueryOptions::blocking(index, self.wait);
            let (entry, meta) = self.client.kv_get(&self.key, &q).await?;
            if let Some(e) = &entry {
                if e.flags != LOCK_FLAG_VALUE && !e.value.is_empty() {
                    return Err(Error::new(
                        ErrorKind::Lock,
                        format!(
                            "Existing key {:?} does not match lock use (flags {})",
                            self.key, e.flags
                        ),
                    ));
                }
                match e.session.as_deref() {
                    Some(s) if s == session => return Ok(true),
                    Some(_) => {
                        if once {
                            return Ok(false);
                        }
                        index = meta.last_index;
                        continue;
                    }
                    None => {}
                }
            }
            let w = KvWrite {
                flags: LOCK_FLAG_VALUE,
                acquire: Some(session.to_string()),
                ..KvWrite::default()
            };
            if self
                .client
                .kv_put_with(&self.key, self.value.clone(), &w)
                .await?
            {
                return Ok(true);
            }
            if once {
                return Ok(false);
            }
            // Held by someone else, or inside a lock delay: wait and retry.
            let (entry, meta) = self
                .client
                .kv_get(&self.key, &QueryOptions::default())
                .await?;
            if entry.as_ref().and_then(|e| e.session.as_ref()).is_none() {
                tokio::time::sleep(self.retry).await;
            }
            index = meta.last_index;
        }
    }
}

/// A held lock. Dropping it releases the lock in the background; prefer
/// [`LockGuard::release`].
#[derive(Debug)]
pub struct LockGuard {
    client: Client,
    key: String,
    session: String,
    lost: watch::Receiver<bool>,
    stop: CancellationToken,
    released: bool,
}

impl LockGuard {
    fn start(lock: &Lock, session: String) -> LockGuard {
        let (tx, rx) = watch::channel(false);
        let tx = Arc::new(tx);
        let stop = CancellationToken::new();
        tokio::spawn(renew(
            lock.client.clone(),
            session.clone(),
            lock.session_ttl / 2,
            Arc::clone(&tx),
            stop.clone(),
        ));
        tokio::spawn(monitor(
            lock.client.clone(),
            lock.key.clone(),
            session.clone(),
            tx,
            stop.clone(),
        ));
        LockGuard {
            client: lock.client.clone(),
            key: lock.key.clone(),
            session,
            lost: rx,
            stop,
            released: false,
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

    /// Resolves when the lock is lost (session invalidated, key taken or deleted).
    pub async fn lost(&mut self) {
        let _ = self.lost.wait_for(|l| *l).await;
    }

    /// Releases the lock and destroys its session.
    pub async fn release(mut self) -> Result<()> {
        self.released = true;
        self.stop.cancel();
        release(&self.client, &self.key, &self.session).await
    }
}

async fn release(client: &Client, key: &str, session: &str) -> Result<()> {
    let w = KvWrite {
        flags: LOCK_FLAG_VALUE,
        release: Some(session.to_string()),
        ..KvWrite::default()
    };
    let released = client.kv_put_with(key, Bytes::new(), &w).await;
    let destroyed = client.session_destroy(session).await;
    released.and(destroyed)
}

impl Drop for LockGuard {
    fn drop(&mut self) {
        self.stop.cancel();
        if self.released {
            return;
        }
        if let Ok(handle) = tokio::runtime::Handle::try_current() {
            let (client, key, session) =
                (self.client.clone(), self.key.clone(), self.session.clone());
            handle.spawn(async move {
                if let Err(e) = release(&client, &key, &session).await {
                    tracing::warn!(key = %key, error = %e, "releasing a dropped lock failed; its session TTL will free it");
                }
            });
        }
    }
}

/// Renews the session every `every`; reports loss when it is gone.
async fn renew(
    client: Client,
    session: String,
    every: Duration,
    lost: Arc<watch::Sender<bool>>,
    stop: CancellationToken,
) {
    let every = every.max(Duration::from_millis(500));
    loop {
        tokio::select! {
            _ = stop.cancelled() => return,
            _ = tokio::time::sleep(every) => {}
        }
        match client.session_renew(&session).await {
            Ok(Some(_)) => {}
            Ok(None) => {
                tracing::warn!(session = %session, "lock session expired");
                lost.send_replace(true);
                return;
            }
            Err(e) => {
                tracing::debug!(session = %session, error = %e, "renewing the lock session failed; retrying")
            }
        }
    }
}

/// Watches the key until it is no longer held by `session`.
async fn monitor(
    client: Client,
    key: String,
    session: String,
    lost: Arc<watch::Sender<bool>>,
    stop: CancellationToken,
) {
    let mut index = 0;
    let mut failures = 0u32;
    loop {
        let q = QueryOptions {
            consistency: Consistency::Consistent,
            ..QueryOptions::blocking(index, Duration::from_secs(60))
        };
        let r = tokio::select! {
            _ = stop.cancelled() => return,
            r = client.kv_get(&key, &q) => r,
        };
        match r {
            Ok((entry, meta)) => {
                failures = 0;
                if entry.and_then(|e| e.session).as_deref() != Some(session.as_str()) {
                    tracing::warn!(key = %key, "lock lost");
                    lost.send_replace(true);
                    return;
                }
                index = meta.last_index;
            }
            Err(e) if e.is_retryable() && failures < 5 => {
                failures += 1;
                index = 0;
                tokio::select! {
                    _ = stop.cancelled() => return,
                    _ = tokio::time::sleep(Duration::from_secs(2)) => {}
                }
            }
            Err(e) => {
                tracing::warn!(key = %key, error = %e, "lock monitor failed: reporting the lock as lost");
                lost.send_replace(true);
                return;
            }
        }
    }
}

/// Leader election: contends for a lock forever and says who leads.
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
    task: Option<tokio::task::JoinHandle<()>>,
}

impl LeaderElection {
    /// Starts contending for `key`, storing `value` (this candidate's name) while leading.
    pub fn start(client: Client, key: &str, value: &str) -> LeaderElection {
        let lock = Lock::new(client, key).value(value.to_string());
        let (tx, rx) = watch::channel(false);
        let stop = CancellationToken::new();
        let task = tokio::spawn(elect(lock, tx, stop.clone()));
        LeaderElection {
            state: rx,
            stop,
            task: Some(task),
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

    /// Stops contending and gives up leadership.
    pub async fn resign(mut self) {
        self.stop.cancel();
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }
}

impl Drop for LeaderElection {
    fn drop(&mut self) {
        self.stop.cancel();
    }
}

async fn elect(lock: Lock, tx: watch::Sender<bool>, stop: CancellationToken) {
    let mut backoff = Duration::from_millis(500);
    loop {
        let held = tokio::select! {
            _ = stop.cancelled() => return,
            r = lock.acquire() => r,
        };
        match held {
            Ok(mut guard) => {
                backoff = Duration::from_millis(500);
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
                    }
                }
            }
            Err(e) => {
                tracing::warn!(key = %lock.key, error = %e, "leader election: acquiring failed; retrying");
                tokio::select! {
                    _ = stop.cancelled() => return,
                    _ = tokio::time::sleep(backoff) => {}
                }
                backoff = (backoff * 2).min(Duration::from_secs(30));
            }
        }
    }
}
