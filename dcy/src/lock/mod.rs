//! Distributed locks on a KV key, held by a session that is renewed at
//! TTL/2, with a signal when the lock is lost; and leader election on top.
//!
//! The algorithm is the Go client's `api.Lock`: contend by watching the key
//! (a blocking query on the watch engine) and acquiring it whenever it is
//! free, with the lock flag `0x2ddccbc058a50c18` and lock-delay retries; then
//! a `?consistent` watch of the key reports loss. Nothing here runs a
//! blocking loop of its own.
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

mod guard;
mod leader;

use std::time::Duration;

use bytes::Bytes;
use tokio_util::sync::CancellationToken;

use crate::client::Client;
use crate::error::{Error, ErrorKind, Result};
use crate::kv::KvWrite;
use crate::session::{Behavior, SessionRequest};
use crate::types::KvPair;
use crate::watch::{Watch, WatchHub, WatchSpec};

pub use guard::LockGuard;
pub use leader::LeaderElection;

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
    retry: Duration,
}

/// What the holder of a key is, as far as contending goes.
enum Holder {
    Us,
    Other,
    Nobody,
}

impl Lock {
    /// A lock on `key` with the Go client's defaults (session TTL 15s,
    /// lock delay 15s).
    pub fn new(client: Client, key: &str) -> Lock {
        Lock {
            client,
            key: key.trim_start_matches('/').to_string(),
            value: Bytes::new(),
            session_name: "Consul API Lock".into(),
            session_ttl: Duration::from_secs(15),
            lock_delay: Duration::from_secs(15),
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

    /// The key.
    pub fn key(&self) -> &str {
        &self.key
    }

    /// Waits until the lock is held. Wrap in `tokio::time::timeout` to
    /// bound it. Consul being unreachable is waited out (with the watch
    /// engine's backoff); an error Consul gives (an ACL refusal, a key used
    /// for something else) ends the wait.
    pub async fn acquire(&self) -> Result<LockGuard> {
        self.acquire_inner(false, &CancellationToken::new())
            .await?
            .ok_or_else(|| Error::new(ErrorKind::Lock, "lock not acquired"))
    }

    /// Like [`Lock::acquire`], giving up (with a cancelled error, after
    /// cleaning up its session and watch) when `stop` is cancelled.
    pub(crate) async fn acquire_until(&self, stop: &CancellationToken) -> Result<LockGuard> {
        self.acquire_inner(false, stop)
            .await?
            .ok_or_else(|| Error::new(ErrorKind::Lock, "lock not acquired"))
    }

    /// One attempt, without waiting: `None` if someone else holds it.
    pub async fn try_acquire(&self) -> Result<Option<LockGuard>> {
        self.acquire_inner(true, &CancellationToken::new()).await
    }

    async fn acquire_inner(
        &self,
        once: bool,
        stop: &CancellationToken,
    ) -> Result<Option<LockGuard>> {
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
        let hub = WatchHub::new(self.client.clone());
        let outcome = {
            let key = hub.watch::<Vec<KvPair>>(WatchSpec::kv_key(&self.key));
            tokio::select! {
                _ = stop.cancelled() => Err(Error::new(ErrorKind::Cancelled, "contending for the lock was stopped")),
                r = self.contend(key, &session, once) => r,
            }
        };
        match outcome {
            Ok(true) => Ok(Some(LockGuard::start(self, session, hub))),
            other => {
                hub.shutdown().await;
                let _ = self.client.session_destroy(&session).await;
                other.map(|_| None)
            }
        }
    }

    /// Who holds the key in `entries`, or an error if it is not a lock.
    fn holder(&self, entries: &[KvPair], session: &str) -> Result<Holder> {
        let Some(e) = entries.first() else {
            return Ok(Holder::Nobody);
        };
        if e.flags != LOCK_FLAG_VALUE && !e.value.is_empty() {
            return Err(Error::new(
                ErrorKind::Lock,
                format!(
                    "Existing key {:?} does not match lock use (flags {})",
                    self.key, e.flags
                ),
            ));
        }
        Ok(match e.session.as_deref() {
            Some(s) if s == session => Holder::Us,
            Some(_) => Holder::Other,
            None => Holder::Nobody,
        })
    }

    /// Contends on the watched key; true once held.
    async fn contend(
        &self,
        mut key: Watch<Vec<KvPair>>,
        session: &str,
        once: bool,
    ) -> Result<bool> {
        loop {
            let entries = match key.value() {
                Some(v) => v,
                None => {
                    wait_answer(&mut key, once).await?;
                    continue;
                }
            };
            match self.holder(&entries, session)? {
                Holder::Us => return Ok(true),
                Holder::Other if once => return Ok(false),
                Holder::Other => {
                    key.changed().await?;
                    continue;
                }
                Holder::Nobody => {}
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
            // Taken meanwhile (the watch will say), or inside a lock delay:
            // try again after a change, or after `retry` at the latest.
            let _ = tokio::time::timeout(self.retry, key.changed()).await;
        }
    }
}

/// Waits for a watch's first answer; an error Consul gave (not a
/// transport failure, which the watch retries) ends it, as does any error
/// when `once`.
async fn wait_answer<T: Send + Sync + 'static>(w: &mut Watch<T>, once: bool) -> Result<()> {
    loop {
        if w.value().is_some() {
            return Ok(());
        }
        if let Some(e) = w.status().error {
            if once || !e.is_retryable() {
                return Err(e);
            }
        }
        // The loop publishes the first value; errors are polled gently.
        let _ = tokio::time::timeout(Duration::from_millis(50), w.changed()).await;
    }
}

/// Releases `key` held by `session` and destroys the session.
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
