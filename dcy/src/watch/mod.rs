//! The watch engine: one blocking-query loop per unique query, shared by any
//! number of subscribers; everything in dcy that follows Consul runs on it
//! (discovery, KV watches, the registration keeper, locks, leader election,
//! and templater's dependencies).
//!
//! Each loop follows Consul's blocking rules: index-blocking queries start
//! at index 0, then send the returned `X-Consul-Index`, reset to 0 when it
//! goes backwards and never block on an index below 1; hash-blocking agent
//! endpoints send the returned `X-Consul-ContentHash` ([`WatchSpec::agent_service`]).
//! `?stale` and `?consistent` are [`WatchSpec::stale`] and [`WatchSpec::consistent`].
//! A loop rate-limits queries that return at once unchanged, publishes
//! only when the decoded value changed, and on errors keeps the last good
//! value while it backs off with jitter, capped, forever; the error is in
//! [`Watch::status`] as a [`crate::Error`] (a 429 from an agent's
//! per-client connection limit is one of them: see
//! [`crate::Error::is_rate_limited`]).
//!
//! Watches derived from others ([`Watch::map`], [`Watch::merge`]) are
//! computed in the loop that publishes, without a task of their own.
//!
//! A loop stops when the last [`Watch`] on it is dropped, or when its hub
//! is shut down: [`WatchHub::shutdown`] waits until every loop has ended.
//!
//! ```no_run
//! # async fn demo() -> dcy::Result<()> {
//! use dcy::watch::{WatchHub, WatchSpec};
//! use dcy::ServiceEntry;
//!
//! let hub = WatchHub::new(dcy::Client::from_env()?);
//! let mut web = hub.watch::<Vec<ServiceEntry>>(WatchSpec::health_service("web").passing(true));
//! let first = web.ready(std::time::Duration::from_secs(5)).await?;
//! println!("{} healthy instances", first.len());
//! web.changed().await?;
//! hub.shutdown().await;
//! # Ok(())
//! # }
//! ```

mod handle;
mod run;
mod spec;

use std::any::{Any, TypeId};
use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use serde::de::DeserializeOwned;
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::client::Client;
use crate::error::{Error, Result};

pub(crate) use handle::State;
pub use handle::{Snapshot, Subscription, Watch, WatchStatus};
use run::Loop;
pub(crate) use run::{backoff, Cursor, Fetch};
pub use spec::{Blocking, WatchSpec};

/// What a custom loop fetches: `index` in, the decoded value and the new index out.
pub type FetchFn<T> =
    Arc<dyn Fn(u64) -> Pin<Box<dyn Future<Output = Result<(T, u64)>> + Send>> + Send + Sync>;

/// Tuning of the loops.
#[derive(Clone, Debug)]
pub struct WatchOptions {
    /// `wait` of each blocking query.
    pub wait: Duration,
    /// Shortest spacing of queries that return at once unchanged.
    pub min_interval: Duration,
    /// First retry delay after an error.
    pub min_backoff: Duration,
    /// Longest retry delay.
    pub max_backoff: Duration,
}

impl Default for WatchOptions {
    fn default() -> Self {
        WatchOptions {
            wait: Duration::from_secs(300),
            min_interval: Duration::from_millis(100),
            min_backoff: Duration::from_millis(250),
            max_backoff: Duration::from_secs(30),
        }
    }
}

type Entries = HashMap<(TypeId, String), Box<dyn Any + Send + Sync>>;

#[derive(Debug)]
pub(crate) struct HubInner {
    client: Client,
    options: WatchOptions,
    pub(crate) entries: Mutex<Entries>,
    cancel: CancellationToken,
    tasks: TaskTracker,
}

/// Owns the loops; equal queries share one. Cheap to clone.
#[derive(Clone, Debug)]
pub struct WatchHub {
    inner: Arc<HubInner>,
}

pub(crate) struct Entry<T> {
    pub(crate) tx: watch::Sender<Snapshot<T>>,
    state: Arc<State>,
}

impl WatchHub {
    /// A hub whose loops use `client` and the configured `watch_wait`.
    /// Nothing starts until the first [`WatchHub::watch`].
    pub fn new(client: Client) -> WatchHub {
        let options = WatchOptions {
            wait: client.config().watch_wait,
            ..WatchOptions::default()
        };
        WatchHub::with_options(client, options)
    }

    /// A hub with explicit loop tuning.
    pub fn with_options(client: Client, options: WatchOptions) -> WatchHub {
        WatchHub {
            inner: Arc::new(HubInner {
                client,
                options,
                entries: Mutex::new(HashMap::new()),
                cancel: CancellationToken::new(),
                tasks: TaskTracker::new(),
            }),
        }
    }

    /// The client the loops use.
    pub fn client(&self) -> &Client {
        &self.inner.client
    }

    /// The loop tuning.
    pub fn options(&self) -> &WatchOptions {
        &self.inner.options
    }

    /// Subscribes to a query, starting its loop if none runs yet.
    ///
    /// # Panics
    ///
    /// When a loop must be started outside a Tokio runtime.
    pub fn watch<T>(&self, spec: WatchSpec) -> Watch<T>
    where
        T: DeserializeOwned + PartialEq + Send + Sync + 'static,
    {
        let key = spec.key();
        let client = self.inner.client.clone();
        let wait = self.inner.options.wait;
        let spec = Arc::new(spec);
        let start = match spec.blocking {
            Blocking::Index => Cursor::Index(0),
            Blocking::Hash => Cursor::Hash(None),
        };
        let fetch: Fetch<T> = Arc::new(move |cursor| {
            let (client, spec) = (client.clone(), Arc::clone(&spec));
            Box::pin(async move {
                let (raw, next) = match cursor {
                    Cursor::Index(index) => {
                        let mut q = spec.options.clone();
                        q.index = index;
                        q.wait = Some(wait);
                        let raw = client
                            .read(&spec.path, &spec.params, &q, spec.not_found.is_some())
                            .await?;
                        let index = raw.meta.last_index;
                        (raw, Cursor::Index(index))
                    }
                    Cursor::Hash(hash) => {
                        let raw = client
                            .read_hash(&spec.path, &spec.params, hash.as_deref(), wait)
                            .await?;
                        let hash = raw.content_hash.clone().filter(|h| !h.is_empty());
                        (raw, Cursor::Hash(hash))
                    }
                };
                let body: &[u8] = match spec.not_found {
                    Some(empty) if raw.status == http::StatusCode::NOT_FOUND => empty,
                    _ => &raw.body,
                };
                let v = serde_json::from_slice(body)
                    .map_err(|e| Error::decode(&format!("GET {}", spec.path), e))?;
                Ok((v, next))
            })
        });
        self.start(key, start, fetch)
    }

    /// Subscribes to a loop driven by a custom index-blocking fetch
    /// function, shared by `key`.
    ///
    /// # Panics
    ///
    /// When a loop must be started outside a Tokio runtime.
    pub fn watch_fn<T>(&self, key: String, fetch: FetchFn<T>) -> Watch<T>
    where
        T: PartialEq + Send + Sync + 'static,
    {
        let fetch: Fetch<T> = Arc::new(move |cursor| {
            let index = match cursor {
                Cursor::Index(i) => i,
                Cursor::Hash(_) => 0,
            };
            let fut = fetch(index);
            Box::pin(async move {
                let (v, index) = fut.await?;
                Ok((v, Cursor::Index(index)))
            })
        });
        self.start(key, Cursor::Index(0), fetch)
    }

    fn start<T>(&self, key: String, start: Cursor, fetch: Fetch<T>) -> Watch<T>
    where
        T: PartialEq + Send + Sync + 'static,
    {
        if self.inner.cancel.is_cancelled() {
            return Watch::stopped(Error::new(
                crate::ErrorKind::Cancelled,
                format!("{key}: the watch hub was shut down"),
            ));
        }
        let mut entries = self
            .inner
            .entries
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let id = (TypeId::of::<T>(), key);
        if let Some(e) = entries.get(&id).and_then(|b| b.downcast_ref::<Entry<T>>()) {
            return Watch {
                rx: e.tx.subscribe(),
                status: Arc::clone(&e.state),
                state: Arc::clone(&e.state),
                keep: None,
            };
        }
        let (tx, rx) = watch::channel(Snapshot::empty());
        let state = Arc::new(State::default());
        entries.insert(
            id.clone(),
            Box::new(Entry {
                tx: tx.clone(),
                state: Arc::clone(&state),
            }),
        );
        drop(entries);
        let task = Loop {
            fetch,
            start,
            tx,
            state: Arc::clone(&state),
            hub: Arc::downgrade(&self.inner),
            id,
            options: self.inner.options.clone(),
            cancel: self.inner.cancel.clone(),
            metrics: Arc::clone(self.inner.client.metrics()),
        };
        self.inner.tasks.spawn(task.run());
        Watch {
            rx,
            status: Arc::clone(&state),
            state,
            keep: None,
        }
    }

    /// Loops running now.
    pub fn len(&self) -> usize {
        self.inner
            .entries
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .len()
    }

    /// Whether no loop runs.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Whether [`WatchHub::shutdown`] was called.
    pub fn is_shut_down(&self) -> bool {
        self.inner.cancel.is_cancelled()
    }

    /// A token cancelled when the hub shuts down, for work that lives as
    /// long as the hub's loops.
    pub(crate) fn cancel_token(&self) -> &CancellationToken {
        &self.inner.cancel
    }

    /// The tracker of the hub's tasks.
    pub(crate) fn tasks(&self) -> &TaskTracker {
        &self.inner.tasks
    }

    /// Stops every loop and waits until each has ended (a query in flight
    /// is dropped, not awaited). Their watches keep their last values and
    /// report the stop from `changed()`; watches asked for afterwards come
    /// back stopped. Idempotent.
    pub async fn shutdown(&self) {
        self.inner.cancel.cancel();
        self.inner.tasks.close();
        self.inner.tasks.wait().await;
    }
}

#[cfg(test)]
pub(crate) use run::next_index;

#[cfg(test)]
mod tests;
