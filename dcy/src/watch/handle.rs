//! What subscribers hold: [`Watch`] handles on a loop's latest
//! [`Snapshot`], its freshness ([`WatchStatus`]), and watches derived from
//! others ([`Watch::map`], [`Watch::merge`]) and functions called on every
//! change ([`Watch::for_each`]), all run in the loop that publishes, with no
//! task of their own.

use std::any::Any;
use std::fmt;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError, Weak};
use std::time::Duration;

use tokio::sync::watch;
use tokio::time::Instant;

use crate::error::{Error, ErrorKind, Result};

/// The latest value of a watch.
#[derive(Debug)]
pub struct Snapshot<T> {
    /// The value; `None` until the first answer.
    pub value: Option<Arc<T>>,
    /// `X-Consul-Index` of the answer (0 for hash-blocking queries).
    pub index: u64,
    /// Bumped on every published change.
    pub version: u64,
}

impl<T> Snapshot<T> {
    pub(crate) fn empty() -> Snapshot<T> {
        Snapshot {
            value: None,
            index: 0,
            version: 0,
        }
    }
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
    /// The last error, while the watch is failing: ask it
    /// [`Error::is_permission_denied`], [`Error::is_rate_limited`],
    /// [`Error::is_retryable`], ... (the loop retries whatever it is).
    pub error: Option<Error>,
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

/// Something computed from a watch when it publishes: a derived watch.
pub(crate) trait Hook: Send + Sync {
    /// The watch published a new value.
    fn changed(&self);
    /// The watch stopped for good.
    fn stopped(&self);
}

/// What a loop shares with its watches: freshness and derived watches.
#[derive(Default)]
pub(crate) struct State {
    status: Mutex<WatchStatus>,
    /// Woken on every status update.
    updated: tokio::sync::Notify,
    hooks: Mutex<Vec<Weak<dyn Hook>>>,
    stopped: AtomicBool,
}

impl fmt::Debug for State {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("State")
            .field("status", &self.status())
            .finish_non_exhaustive()
    }
}

impl State {
    pub(crate) fn status(&self) -> WatchStatus {
        self.status
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    pub(crate) fn update<R>(&self, f: impl FnOnce(&mut WatchStatus) -> R) -> R {
        let r = f(&mut self.status.lock().unwrap_or_else(PoisonError::into_inner));
        self.updated.notify_waiters();
        r
    }

    /// Adds a derived watch; `false` when this one already stopped.
    fn add_hook(&self, hook: Weak<dyn Hook>) -> bool {
        let mut hooks = self.hooks.lock().unwrap_or_else(PoisonError::into_inner);
        if self.stopped.load(Ordering::Acquire) {
            return false;
        }
        hooks.retain(|h| h.strong_count() > 0);
        hooks.push(hook);
        true
    }

    fn live_hooks(&self) -> Vec<Arc<dyn Hook>> {
        let mut hooks = self.hooks.lock().unwrap_or_else(PoisonError::into_inner);
        hooks.retain(|h| h.strong_count() > 0);
        hooks.iter().filter_map(Weak::upgrade).collect()
    }

    /// Recomputes the derived watches (called after a publication).
    pub(crate) fn notify(&self) {
        for h in self.live_hooks() {
            h.changed();
        }
    }

    /// Stops the derived watches (called once, when the loop ends).
    pub(crate) fn stop(&self) {
        let hooks = {
            let mut hooks = self.hooks.lock().unwrap_or_else(PoisonError::into_inner);
            self.stopped.store(true, Ordering::Release);
            std::mem::take(&mut *hooks)
        };
        for h in hooks.iter().filter_map(Weak::upgrade) {
            h.stopped();
        }
    }
}

/// A subscription to a watched query, or to a watch derived from others.
/// Cloning subscribes again; dropping the last subscription of a query
/// stops its loop.
pub struct Watch<T> {
    pub(crate) rx: watch::Receiver<Snapshot<T>>,
    /// Derived watches hang here.
    pub(crate) state: Arc<State>,
    /// Where the freshness is kept (the loop's, or a derived watch's first source's).
    pub(crate) status: Arc<State>,
    /// What a derived watch is computed from, kept alive with it.
    pub(crate) keep: Option<Arc<dyn Any + Send + Sync>>,
}

impl<T> fmt::Debug for Watch<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Watch")
            .field("version", &self.rx.borrow().version)
            .field("status", &self.status.status())
            .finish_non_exhaustive()
    }
}

impl<T> Clone for Watch<T> {
    fn clone(&self) -> Self {
        Watch {
            rx: self.rx.clone(),
            state: Arc::clone(&self.state),
            status: Arc::clone(&self.status),
            keep: self.keep.clone(),
        }
    }
}

impl<T: Send + Sync + 'static> Watch<T> {
    /// A watch that has stopped: no value, and `changed()` fails at once.
    pub(crate) fn stopped(why: Error) -> Watch<T> {
        let (tx, rx) = watch::channel(Snapshot::empty());
        drop(tx);
        let state = Arc::new(State::default());
        state.update(|s| s.error = Some(why));
        state.stop();
        Watch {
            rx,
            status: Arc::clone(&state),
            state,
            keep: None,
        }
    }

    /// The latest snapshot (cheap: it clones an `Arc`).
    pub fn snapshot(&self) -> Snapshot<T> {
        self.rx.borrow().clone()
    }

    /// The latest value, if any answer arrived yet.
    pub fn value(&self) -> Option<Arc<T>> {
        self.rx.borrow().value.clone()
    }

    /// Waits for the next published change. Fails once the watch stopped
    /// (its hub shut down).
    pub async fn changed(&mut self) -> Result<()> {
        self.rx
            .changed()
            .await
            .map_err(|_| Error::new(ErrorKind::Cancelled, "the watch was stopped"))
    }

    /// Like [`Watch::changed`], for a shared handle: waits for the next
    /// change after this call.
    pub async fn next_change(&self) -> Result<()> {
        let mut rx = self.rx.clone();
        rx.mark_unchanged();
        rx.changed()
            .await
            .map_err(|_| Error::new(ErrorKind::Cancelled, "the watch was stopped"))
    }

    /// Waits until the latest snapshot satisfies `f`.
    pub async fn wait_for(&self, f: impl FnMut(&Snapshot<T>) -> bool) -> Result<Snapshot<T>> {
        let mut rx = self.rx.clone();
        let found = rx.wait_for(f).await.map(|s| s.clone());
        found.map_err(|_| Error::new(ErrorKind::Cancelled, "the watch was stopped"))
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
                        "no data yet after {}{}",
                        gocompat::duration::human(timeout),
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
        self.status.status()
    }

    /// Waits, at most `timeout`, until the watch has a value or is failing;
    /// whether it has a value.
    pub(crate) async fn answered(&self, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        let mut rx = self.rx.clone();
        loop {
            let updated = self.status.updated.notified();
            tokio::pin!(updated);
            updated.as_mut().enable();
            if rx.borrow_and_update().value.is_some() {
                return true;
            }
            if self.status.status().error.is_some() {
                return false;
            }
            tokio::select! {
                () = &mut updated => {}
                r = rx.changed() => if r.is_err() { return false },
                () = tokio::time::sleep_until(deadline) => return false,
            }
        }
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

    /// A watch of `f(value)`, computed once per change of this one, in the
    /// loop that publishes it (no task of its own); it publishes when the
    /// result changes, and its status is this watch's.
    ///
    /// ```no_run
    /// # async fn demo() -> dcy::Result<()> {
    /// use dcy::watch::{WatchHub, WatchSpec};
    /// let hub = WatchHub::new(dcy::Client::from_env()?);
    /// let entries = hub.watch::<Vec<dcy::ServiceEntry>>(WatchSpec::health_service("web"));
    /// let mut count = entries.map(|list| list.len());
    /// count.ready(std::time::Duration::from_secs(5)).await?;
    /// # Ok(())
    /// # }
    /// ```
    pub fn map<U, F>(&self, f: F) -> Watch<U>
    where
        U: PartialEq + Send + Sync + 'static,
        F: Fn(&T) -> U + Send + Sync + 'static,
    {
        Watch::merge(std::slice::from_ref(self), move |values| {
            values[0].as_deref().map(&f)
        })
    }

    /// A watch computed from several: `f` gets each source's latest value
    /// (`None` before its first answer) and returns the merged value, or
    /// `None` for none yet. It runs whenever a source publishes, in that
    /// source's loop; the result is published when it changes. The merged
    /// watch stops when a source stops; its status is the first source's.
    pub fn merge<U, F>(sources: &[Watch<T>], f: F) -> Watch<U>
    where
        U: PartialEq + Send + Sync + 'static,
        F: Fn(&[Option<Arc<T>>]) -> Option<U> + Send + Sync + 'static,
    {
        Watch::derive(sources, move |snaps, current| {
            let values: Vec<Option<Arc<T>>> = snaps.iter().map(|s| s.value.clone()).collect();
            let next = f(&values)?;
            if current.is_some_and(|c| **c == next) {
                return None;
            }
            Some(Arc::new(next))
        })
    }

    /// Calls `f` with the current value (if any) and then with every value
    /// this watch publishes, in the loop that publishes it: no task of its
    /// own, one call at a time, in order. Dropping the returned
    /// [`Subscription`] stops the calls; while it lives, it keeps the watch
    /// running. `f` runs on the watch's loop: keep it short and never block
    /// in it (hand the value on, e.g. to a channel).
    ///
    /// ```no_run
    /// # async fn demo() -> dcy::Result<()> {
    /// use dcy::watch::{WatchHub, WatchSpec};
    /// let hub = WatchHub::new(dcy::Client::from_env()?);
    /// let entries = hub.watch::<Vec<dcy::ServiceEntry>>(WatchSpec::health_service("web"));
    /// let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    /// let _sub = entries.for_each(move |list| {
    ///     let _ = tx.send(list.len());
    /// });
    /// while let Some(n) = rx.recv().await {
    ///     println!("web: {n} instances passing");
    /// }
    /// # Ok(())
    /// # }
    /// ```
    #[must_use = "dropping the subscription stops the calls"]
    pub fn for_each<F>(&self, f: F) -> Subscription
    where
        F: Fn(&Arc<T>) + Send + Sync + 'static,
    {
        let node = Arc::new(Each {
            source: self.clone(),
            seen: Mutex::new(0),
            f,
        });
        let hook: Arc<dyn Hook> = node.clone();
        // A watch that stopped already takes no hook: `f` gets its last
        // value once, below, and nothing after.
        let _live = self.state.add_hook(Arc::downgrade(&hook));
        node.changed();
        Subscription { _keep: node }
    }

    /// The general form: `f` gets the sources' snapshots and the derived
    /// watch's current value, and returns a value to publish, or `None` to
    /// publish nothing.
    pub(crate) fn derive<U, F>(sources: &[Watch<T>], f: F) -> Watch<U>
    where
        U: Send + Sync + 'static,
        F: Fn(&[Snapshot<T>], Option<&Arc<U>>) -> Option<Arc<U>> + Send + Sync + 'static,
    {
        let (tx, rx) = watch::channel(Snapshot::empty());
        let state = Arc::new(State::default());
        let node = Arc::new(Node {
            sources: sources.to_vec(),
            f: Box::new(f),
            tx: Mutex::new(Some(tx)),
            state: Arc::clone(&state),
        });
        let status = sources
            .first()
            .map_or_else(|| Arc::clone(&state), |s| Arc::clone(&s.status));
        let hook: Arc<dyn Hook> = node.clone();
        let mut live = true;
        for s in sources {
            live &= s.state.add_hook(Arc::downgrade(&hook));
        }
        if live {
            node.changed();
        } else {
            node.stopped();
        }
        Watch {
            rx,
            state,
            status,
            keep: Some(node),
        }
    }
}

type DeriveFn<T, U> = dyn Fn(&[Snapshot<T>], Option<&Arc<U>>) -> Option<Arc<U>> + Send + Sync;

/// A derived watch: its sources, its function and its channel.
struct Node<T, U> {
    sources: Vec<Watch<T>>,
    f: Box<DeriveFn<T, U>>,
    /// `None` once stopped.
    tx: Mutex<Option<watch::Sender<Snapshot<U>>>>,
    state: Arc<State>,
}

impl<T: Send + Sync + 'static, U: Send + Sync + 'static> Hook for Node<T, U> {
    fn changed(&self) {
        let published = {
            // One computation at a time, each from the latest of every source.
            let guard = self.tx.lock().unwrap_or_else(PoisonError::into_inner);
            let Some(tx) = guard.as_ref() else { return };
            let snaps: Vec<Snapshot<T>> = self.sources.iter().map(|s| s.snapshot()).collect();
            let current = tx.borrow().value.clone();
            match (self.f)(&snaps, current.as_ref()) {
                Some(v) => {
                    let index = snaps.iter().map(|s| s.index).max().unwrap_or(0);
                    tx.send_modify(|s| {
                        s.value = Some(v);
                        s.index = index;
                        s.version += 1;
                    });
                    true
                }
                None => false,
            }
        };
        if published {
            self.state.notify();
        }
    }

    fn stopped(&self) {
        let tx = self
            .tx
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        drop(tx);
        self.state.stop();
    }
}

/// Calls from a watch's loop to a function, while held (see
/// [`Watch::for_each`]); dropping it stops them.
#[must_use = "dropping the subscription stops the calls"]
pub struct Subscription {
    _keep: Arc<dyn Any + Send + Sync>,
}

impl fmt::Debug for Subscription {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Subscription").finish_non_exhaustive()
    }
}

/// The hook behind [`Watch::for_each`].
struct Each<T, F> {
    source: Watch<T>,
    /// The last version passed to `f`; the lock keeps the calls in order.
    seen: Mutex<u64>,
    f: F,
}

impl<T, F> Hook for Each<T, F>
where
    T: Send + Sync + 'static,
    F: Fn(&Arc<T>) + Send + Sync + 'static,
{
    fn changed(&self) {
        let mut seen = self.seen.lock().unwrap_or_else(PoisonError::into_inner);
        let snap = self.source.snapshot();
        if snap.version <= *seen {
            return;
        }
        *seen = snap.version;
        if let Some(v) = snap.value {
            (self.f)(&v);
        }
    }

    fn stopped(&self) {}
}
