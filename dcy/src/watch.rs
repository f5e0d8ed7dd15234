//! The watch engine: one blocking-query loop per unique query, shared by any
//! number of subscribers.
//!
//! Each loop follows Consul's index rules (first call at index 0, then the
//! returned `X-Consul-Index`; reset to 0 when it goes backwards; never block
//! on an index below 1), rate-limits queries that return at once with an
//! unchanged index, publishes only when the decoded value changed, and on
//! errors keeps the last good value while it backs off with jitter, capped,
//! forever. It stops when the last [`Watch`] is dropped or the hub is shut
//! down, so no task outlives its owner.
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
//! # Ok(())
//! # }
//! ```

use std::any::{Any, TypeId};
use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use backon::BackoffBuilder;
use serde::de::DeserializeOwned;
use tokio::sync::watch;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::client::{key_path, segment, Client, Consistency, QueryOptions};
use crate::error::{Error, ErrorKind, Result};
use crate::metrics::Metrics;

/// What a loop fetches: `index` in, the decoded value and the new index out.
pub type FetchFn<T> =
    Arc<dyn Fn(u64) -> Pin<Box<dyn Future<Output = Result<(T, u64)>> + Send>> + Send + Sync>;

/// A query to watch: an endpoint path and its parameters.
#[derive(Clone, Debug)]
pub struct WatchSpec {
    path: String,
    params: Vec<(String, String)>,
    options: QueryOptions,
    not_found_empty: bool,
}

impl WatchSpec {
    /// Any blocking endpoint, e.g. `/v1/catalog/services`.
    pub fn new(path: impl Into<String>) -> WatchSpec {
        WatchSpec {
            path: path.into(),
            params: Vec::new(),
            options: QueryOptions::default(),
            not_found_empty: false,
        }
    }

    /// `/v1/health/service/:name`.
    pub fn health_service(name: &str) -> WatchSpec {
        WatchSpec::new(format!("/v1/health/service/{}", segment(name)))
    }

    /// `/v1/health/checks/:service`.
    pub fn health_checks(service: &str) -> WatchSpec {
        WatchSpec::new(format!("/v1/health/checks/{}", segment(service)))
    }

    /// `/v1/health/state/:state`.
    pub fn health_state(state: &str) -> WatchSpec {
        WatchSpec::new(format!("/v1/health/state/{}", segment(state)))
    }

    /// `/v1/catalog/services`.
    pub fn catalog_services() -> WatchSpec {
        WatchSpec::new("/v1/catalog/services")
    }

    /// `/v1/catalog/service/:name`.
    pub fn catalog_service(name: &str) -> WatchSpec {
        WatchSpec::new(format!("/v1/catalog/service/{}", segment(name)))
    }

    /// `/v1/catalog/nodes`.
    pub fn catalog_nodes() -> WatchSpec {
        WatchSpec::new("/v1/catalog/nodes")
    }

    /// `/v1/catalog/node/:name`.
    pub fn catalog_node(name: &str) -> WatchSpec {
        WatchSpec::new(format!("/v1/catalog/node/{}", segment(name)))
    }

    /// One KV key; a missing key reads as `[]`.
    pub fn kv_key(key: &str) -> WatchSpec {
        let mut s = WatchSpec::new(format!("/v1/kv/{}", key_path(key)));
        s.not_found_empty = true;
        s
    }

    /// Every KV entry under a prefix; none reads as `[]`.
    pub fn kv_prefix(prefix: &str) -> WatchSpec {
        WatchSpec::kv_key(prefix).param("recurse", "")
    }

    /// The keys under a prefix, cut after `separator` when it is not empty.
    pub fn kv_keys(prefix: &str, separator: &str) -> WatchSpec {
        let s = WatchSpec::kv_key(prefix).param("keys", "");
        if separator.is_empty() {
            s
        } else {
            s.param("separator", separator)
        }
    }

    /// Adds a query parameter.
    pub fn param(mut self, key: &str, value: &str) -> WatchSpec {
        self.params.push((key.to_string(), value.to_string()));
        self
    }

    /// Only instances whose checks all pass.
    pub fn passing(mut self, on: bool) -> WatchSpec {
        self.options.passing = on;
        self
    }

    /// Only instances with this tag (repeatable: all must match).
    pub fn tag(mut self, tag: &str) -> WatchSpec {
        self.options.tags.push(tag.to_string());
        self
    }

    /// Query another datacenter.
    pub fn datacenter(mut self, dc: &str) -> WatchSpec {
        self.options.datacenter = Some(dc.to_string());
        self
    }

    /// A `filter` expression.
    pub fn filter(mut self, expr: &str) -> WatchSpec {
        self.options.filter = Some(expr.to_string());
        self
    }

    /// Allow stale reads from any server.
    pub fn stale(mut self) -> WatchSpec {
        self.options.consistency = Consistency::Stale;
        self
    }

    /// The identity of the query: equal keys share one loop.
    pub fn key(&self) -> String {
        let mut p = self.params.clone();
        self.options.params(&mut p);
        p.sort();
        let q: Vec<String> = p.iter().map(|(k, v)| format!("{k}={v}")).collect();
        format!("{}?{}", self.path, q.join("&"))
    }

    /// The path of the endpoint.
    pub fn path(&self) -> &str {
        &self.path
    }
}

/// The latest value of a watch.
#[derive(Debug)]
pub struct Snapshot<T> {
    /// The value; `None` until the first answer.
    pub value: Option<Arc<T>>,
    /// `X-Consul-Index` of the answer.
    pub index: u64,
    /// Bumped on every published change.
    pub version: u64,
}

impl<T> Clone for Snapshot<T> {
    fn clone(&self) -> Self {
        Snapshot {
            value: self.value.clone(),
            index: self.index,
            version: self.version,
        }
    }
}

/// How fresh a watch's data is.
#[derive(Clone, Debug, Default)]
pub struct WatchStatus {
    /// When Consul last answered.
    pub last_success: Option<Instant>,
    /// The last error, while the watch is failing.
    pub error: Option<String>,
    /// Since when it has been failing.
    pub failing_since: Option<Instant>,
    /// Failures in a row.
    pub consecutive_failures: u32,
}

impl WatchStatus {
    /// Time since Consul last answered (`None` before the first answer).
    pub fn age(&self) -> Option<Duration> {
        self.last_success.map(|t| t.elapsed())
    }

    /// Whether the data is being served from a failed watch.
    pub fn is_stale(&self) -> bool {
        self.error.is_some()
    }
}

#[derive(Debug, Default)]
struct State {
    status: Mutex<WatchStatus>,
}

impl State {
    fn status(&self) -> WatchStatus {
        self.status
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    fn update(&self, f: impl FnOnce(&mut WatchStatus)) {
        f(&mut self
            .status
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner));
    }
}

/// A subscription to a watched query. Cloning subscribes again; dropping the
/// last subscription stops the loop.
#[derive(Debug)]
pub struct Watch<T> {
    rx: watch::Receiver<Snapshot<T>>,
    state: Arc<State>,
}

impl<T> Clone for Watch<T> {
    fn clone(&self) -> Self {
        Watch {
            rx: self.rx.clone(),
            state: Arc::clone(&self.state),
        }
    }
}

impl<T: Send + Sync + 'static> Watch<T> {
    /// The latest snapshot (cheap: it clones an `Arc`).
    pub fn snapshot(&self) -> Snapshot<T> {
        self.rx.borrow().clone()
    }

    /// The latest value, if any answer arrived yet.
    pub fn value(&self) -> Option<Arc<T>> {
        self.rx.borrow().value.clone()
    }

    /// Waits for the next published change.
    pub async fn changed(&mut self) -> Result<()> {
        self.rx
            .changed()
            .await
            .map_err(|_| Error::new(ErrorKind::Cancelled, "the watch was stopped"))
    }

    /// Waits until a value is present (the first answer) or `timeout` passes.
    pub async fn ready(&mut self, timeout: Duration) -> Result<Arc<T>> {
        let outcome = {
            let wait = self.rx.wait_for(|s| s.value.is_some());
            match tokio::time::timeout(timeout, wait).await {
                Ok(Ok(s)) => Ok(s.value.clone()),
                Ok(Err(_)) => Err(true),
                Err(_) => Err(false),
            }
        };
        match outcome {
            Ok(Some(v)) => Ok(v),
            Ok(None) => Err(Error::new(ErrorKind::NoData, "no data yet")),
            Err(true) => Err(Error::new(ErrorKind::Cancelled, "the watch was stopped")),
            Err(false) => {
                let status = self.status();
                Err(Error::new(
                    ErrorKind::NoData,
                    format!(
                        "no data yet after {timeout:?}{}",
                        status
                            .error
                            .map(|e| format!(" (last error: {e})"))
                            .unwrap_or_default()
                    ),
                ))
            }
        }
    }

    /// Freshness: age of the data and the current error, if failing.
    pub fn status(&self) -> WatchStatus {
        self.state.status()
    }

    /// The changes as a stream, starting with the current value if present.
    pub fn into_stream(self) -> impl futures_util::Stream<Item = Arc<T>> {
        futures_util::stream::unfold((self, true), |(mut w, first)| async move {
            if first {
                if let Some(v) = w.value() {
                    return Some((v, (w, false)));
                }
            }
            loop {
                w.changed().await.ok()?;
                if let Some(v) = w.value() {
                    return Some((v, (w, false)));
                }
            }
        })
    }
}

/// Tuning of the loops.
#[derive(Clone, Debug)]
pub struct WatchOptions {
    /// `wait` of each blocking query.
    pub wait: Duration,
    /// Shortest spacing of queries that return at once with an unchanged index.
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
struct HubInner {
    client: Client,
    options: WatchOptions,
    entries: Mutex<Entries>,
    cancel: CancellationToken,
}

/// Owns the loops; equal queries share one. Cheap to clone.
#[derive(Clone, Debug)]
pub struct WatchHub {
    inner: Arc<HubInner>,
}

struct Entry<T> {
    tx: watch::Sender<Snapshot<T>>,
    state: Arc<State>,
}

/// The next index to send after an answer with `got`, given the previous one.
pub(crate) fn next_index(prev: u64, got: u64) -> u64 {
    if got < prev {
        0
    } else {
        got.max(1)
    }
}

impl WatchHub {
    /// A hub whose loops use `client` and the configured `watch_wait`.
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
            }),
        }
    }

    /// The client the loops use.
    pub fn client(&self) -> &Client {
        &self.inner.client
    }

    /// Subscribes to a query, starting its loop if none runs yet.
    pub fn watch<T>(&self, spec: WatchSpec) -> Watch<T>
    where
        T: DeserializeOwned + PartialEq + Send + Sync + 'static,
    {
        let key = spec.key();
        let client = self.inner.client.clone();
        let wait = self.inner.options.wait;
        let fetch: FetchFn<T> = Arc::new(move |index| {
            let client = client.clone();
            let spec = spec.clone();
            Box::pin(async move {
                let mut q = spec.options.clone();
                q.index = index;
                q.wait = Some(wait);
                let raw = client
                    .read(&spec.path, &spec.params, &q, spec.not_found_empty)
                    .await?;
                let body: &[u8] = if raw.status == http::StatusCode::NOT_FOUND {
                    b"[]"
                } else {
                    &raw.body
                };
                let v = serde_json::from_slice(body)
                    .map_err(|e| Error::decode(&format!("GET {}", spec.path), e))?;
                Ok((v, raw.meta.last_index))
            })
        });
        self.watch_fn(key, fetch)
    }

    /// Subscribes to a loop driven by a custom fetch function, shared by `key`.
    pub fn watch_fn<T>(&self, key: String, fetch: FetchFn<T>) -> Watch<T>
    where
        T: PartialEq + Send + Sync + 'static,
    {
        let mut entries = self
            .inner
            .entries
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let id = (TypeId::of::<T>(), key.clone());
        if let Some(e) = entries.get(&id).and_then(|b| b.downcast_ref::<Entry<T>>()) {
            return Watch {
                rx: e.tx.subscribe(),
                state: Arc::clone(&e.state),
            };
        }
        let (tx, rx) = watch::channel(Snapshot {
            value: None,
            index: 0,
            version: 0,
        });
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
            tx,
            state: Arc::clone(&state),
            hub: Arc::downgrade(&self.inner),
            id,
            options: self.inner.options.clone(),
            cancel: self.inner.cancel.clone(),
            metrics: Arc::clone(self.inner.client.metrics()),
        };
        tokio::spawn(task.run());
        Watch { rx, state }
    }

    /// Loops running now.
    pub fn len(&self) -> usize {
        self.inner
            .entries
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .len()
    }

    /// Whether no loop runs.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Stops every loop; their watches keep their last values.
    pub fn shutdown(&self) {
        self.inner.cancel.cancel();
    }
}

struct Loop<T> {
    fetch: FetchFn<T>,
    tx: watch::Sender<Snapshot<T>>,
    state: Arc<State>,
    hub: Weak<HubInner>,
    id: (TypeId, String),
    options: WatchOptions,
    cancel: CancellationToken,
    metrics: Arc<Metrics>,
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
        let mut entries = hub
            .entries
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
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

    fn backoff(&self) -> backon::ExponentialBackoff {
        backon::ExponentialBuilder::default()
            .with_min_delay(self.options.min_backoff)
            .with_max_delay(self.options.max_backoff)
            .with_jitter()
            .without_max_times()
            .build()
    }

    async fn run(self) {
        let what = self.id.1.clone();
        let mut index = 0u64;
        let mut backoff = self.backoff();
        let mut first = true;
        loop {
            let started = Instant::now();
            let result = match self.guard((self.fetch)(index)).await {
                Wake::Done(r) => r,
                Wake::Stop => return,
            };
            self.metrics.watch_requests.inc();
            match result {
                Ok((value, got)) => {
                    let was_failing = self.state.status().error.is_some();
                    if was_failing {
                        tracing::info!(query = %what, "watch recovered");
                        self.metrics.watches_failing.dec();
                    }
                    backoff = self.backoff();
                    self.state.update(|s| {
                        s.last_success = Some(Instant::now());
                        s.error = None;
                        s.failing_since = None;
                        s.consecutive_failures = 0;
                    });
                    let changed = self.tx.send_if_modified(|snap| {
                        snap.index = got;
                        if snap.value.as_deref() == Some(&value) {
                            return false;
                        }
                        snap.value = Some(Arc::new(value));
                        snap.version += 1;
                        true
                    });
                    if changed {
                        self.metrics.watch_changes.inc();
                        tracing::debug!(query = %what, index = got, "watch changed");
                    }
                    let unchanged = got == index;
                    if got < index {
                        tracing::debug!(query = %what, from = index, to = got, "index went backwards: resetting");
                    }
                    index = next_index(index, got);
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
                    let mut first_failure = false;
                    self.state.update(|s| {
                        first_failure = s.error.is_none();
                        s.consecutive_failures += 1;
                        s.failing_since.get_or_insert_with(Instant::now);
                        s.error = Some(e.to_string());
                    });
                    if first_failure {
                        self.metrics.watches_failing.inc();
                        tracing::warn!(query = %what, error = %e, "watch failing; keeping the last good value and retrying");
                    } else {
                        tracing::debug!(query = %what, error = %e, "watch still failing");
                    }
                    let delay = backoff.next().unwrap_or(self.options.max_backoff);
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
    }
}

#[cfg(test)]
mod tests;
