//! The in-memory state store: catalog, agent-local services and checks, KV,
//! sessions and events, with Consul's index rules and blocking queries.
//!
//! Everything lives behind one `std::sync::Mutex` that is only ever held for
//! short, synchronous sections; records are `Arc`s so readers copy pointers,
//! not data, and serialize after the lock is gone.
//!
//! Blocking queries subscribe to a [`Topic`] while they hold the lock, so a
//! write that lands between the read and the wait is never missed. A write
//! wakes only the topics it touches: a KV write to `a/b/c` wakes watchers of
//! `a/b/c`, `a/b/`, `a/` and the root, and nobody else.

mod agent;
mod catalog;
mod checkdef;
#[cfg(test)]
mod churn_tests;
mod health;
mod kv;
mod mesh;
mod register;
mod session;
mod snapshot;

use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};
use std::future::Future;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use tokio::sync::{watch, Notify};
use tokio_util::sync::CancellationToken;

pub use catalog::{AgentHealth, RunnerSpawn};
pub use kv::{KvWrite, TxnOp};
pub(crate) use snapshot::StoreSnapshot;

use crate::types::{Check, Event, KvEntry, Node, Service, Session};

/// What a blocking query waits on.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Topic {
    /// Any change to nodes, services or checks.
    Catalog,
    /// A change to instances or health of one service name.
    Service(String),
    /// A change to one agent-local service definition.
    AgentService(String),
    /// Any session change.
    Sessions,
    /// A new user event.
    Events,
}

/// Settings of the store that come from the agent configuration.
#[derive(Clone, Debug)]
pub struct StoreConfig {
    /// Name of the agent's node.
    pub node_name: String,
    /// UUID of the agent's node.
    pub node_id: String,
    /// Address of the agent's node.
    pub node_address: String,
    /// The agent's datacenter.
    pub datacenter: String,
    /// Consul version the agent reports.
    pub version: String,
    /// Shortest interval an active check may run at (Consul: 1s).
    pub min_check_interval: Duration,
    /// Shortest `DeregisterCriticalServiceAfter` (Consul: 1m).
    pub min_deregister_after: Duration,
    /// `enable_script_checks`: script checks from the HTTP API run.
    pub enable_script_checks: bool,
    /// `enable_local_script_checks`: script checks from config files run.
    pub enable_local_script_checks: bool,
}

/// Options of one blocking query.
#[derive(Clone, Copy, Debug, Default)]
pub struct BlockingOpts {
    /// `?index=`: block while the result index is at most this.
    pub index: u64,
    /// How long to block at most (already capped and jittered).
    pub wait: Duration,
}

#[derive(Debug, Default)]
pub(crate) struct Tables {
    pub(crate) nodes: u64,
    pub(crate) services: u64,
    pub(crate) checks: u64,
    pub(crate) kv: u64,
    pub(crate) sessions: u64,
}

/// Per-check runtime state of agent-owned checks.
#[derive(Debug, Default)]
pub(crate) struct CheckRuntime {
    /// When a TTL check expires.
    pub(crate) ttl_deadline: Option<Instant>,
    /// Since when the check has been critical.
    pub(crate) critical_since: Option<Instant>,
    /// Stops the HTTP/TCP runner task.
    pub(crate) runner: Option<CancellationToken>,
    /// Consecutive successes (for `SuccessBeforePassing`).
    pub(crate) successes: u32,
    /// Consecutive failures (for `FailuresBefore*`).
    pub(crate) failures: u32,
}

/// The lock-protected state.
#[derive(Debug, Default)]
pub(crate) struct Inner {
    pub(crate) own_node: String,
    pub(crate) index: u64,
    pub(crate) tables: Tables,
    pub(crate) service_index: HashMap<String, u64>,
    pub(crate) nodes: BTreeMap<String, Arc<Node>>,
    /// Keyed by (node, service ID).
    pub(crate) services: BTreeMap<(String, String), Arc<Service>>,
    pub(crate) by_name: HashMap<String, BTreeSet<(String, String)>>,
    /// Keyed by (node, check ID).
    pub(crate) checks: BTreeMap<(String, String), Arc<Check>>,
    /// The same checks by node, then by service ID (`""`: the node's own
    /// checks), sorted by check ID: an instance's checks without a scan of
    /// every check on its node.
    pub(crate) checks_by_owner: HashMap<String, HashMap<String, Vec<Arc<Check>>>>,
    pub(crate) agent_services: BTreeSet<String>,
    /// Moves with every change to a service or to the set of agent services
    /// (the version of `/v1/agent/services`, which has no index of its own).
    pub(crate) agent_services_version: u64,
    pub(crate) agent_checks: HashMap<String, CheckRuntime>,
    pub(crate) kv: BTreeMap<String, Arc<KvEntry>>,
    pub(crate) tombstones: BTreeMap<String, u64>,
    pub(crate) reaped_floor: u64,
    pub(crate) lock_delays: HashMap<String, Instant>,
    pub(crate) sessions: BTreeMap<String, Arc<Session>>,
    pub(crate) session_expiry: HashMap<String, Instant>,
    pub(crate) events: VecDeque<Arc<Event>>,
    pub(crate) ltime: u64,
    topics: HashMap<Topic, watch::Sender<()>>,
    kv_topics: HashMap<String, watch::Sender<()>>,
    subscriptions: u64,
    /// Earliest deadline the timer task is sleeping towards.
    pub(crate) scheduled: Option<Instant>,
}

impl Inner {
    /// Moves with every write (the raft index, and the agent's services,
    /// which can change without one): see [`Store::generation`].
    pub(crate) fn generation(&self) -> u64 {
        self.index.wrapping_add(self.agent_services_version)
    }

    /// Allocates the next raft index.
    pub(crate) fn next_index(&mut self) -> u64 {
        self.index += 1;
        self.index
    }

    /// Wakes the blocking queries waiting on `topic`.
    pub(crate) fn notify(&mut self, topic: &Topic) {
        if let Some(tx) = self.topics.get(topic) {
            if tx.receiver_count() == 0 {
                self.topics.remove(topic);
            } else {
                tx.send_replace(());
            }
        }
    }

    /// Wakes the KV queries whose key or prefix covers `key`.
    pub(crate) fn notify_kv(&mut self, key: &str) {
        if self.kv_topics.is_empty() {
            return;
        }
        let mut dead = Vec::new();
        let boundaries = key
            .char_indices()
            .map(|(i, _)| i)
            .chain(std::iter::once(key.len()));
        for end in boundaries {
            let prefix = &key[..end];
            if let Some(tx) = self.kv_topics.get(prefix) {
                if tx.receiver_count() == 0 {
                    dead.push(prefix.to_string());
                } else {
                    tx.send_replace(());
                }
            }
        }
        for d in dead {
            self.kv_topics.remove(&d);
        }
    }

    fn subscribe(&mut self, topic: &Subscription) -> watch::Receiver<()> {
        self.subscriptions += 1;
        if self.subscriptions % 4096 == 0 {
            self.topics.retain(|_, tx| tx.receiver_count() > 0);
            self.kv_topics.retain(|_, tx| tx.receiver_count() > 0);
        }
        match topic {
            Subscription::Topic(t) => self
                .topics
                .entry(t.clone())
                .or_insert_with(|| watch::channel(()).0)
                .subscribe(),
            Subscription::KvPrefix(p) => self
                .kv_topics
                .entry(p.clone())
                .or_insert_with(|| watch::channel(()).0)
                .subscribe(),
        }
    }

    /// Records a deadline; returns true when the timer must wake earlier.
    pub(crate) fn schedule(&mut self, at: Instant) -> bool {
        match self.scheduled {
            Some(s) if s <= at => false,
            _ => {
                self.scheduled = Some(at);
                true
            }
        }
    }
}

/// What a blocking query subscribes to.
#[derive(Clone, Debug)]
pub enum Subscription {
    /// A catalog, session or event topic.
    Topic(Topic),
    /// A KV key or prefix.
    KvPrefix(String),
}

/// The agent's state. Cheap to share behind an `Arc`.
#[derive(Debug)]
pub struct Store {
    inner: Mutex<Inner>,
    cfg: StoreConfig,
    timer: Notify,
    /// Blocking queries waiting for a change.
    pub(crate) waiting: AtomicI64,
    /// Cancelled when the agent stops: every blocking query answers at once.
    closing: CancellationToken,
    /// [`Inner::generation`] as of the last lock released: a cached answer
    /// confirmed at this generation is still current without locking.
    written: AtomicU64,
}

/// The locked state; publishes the generation when released.
pub(crate) struct StoreGuard<'a> {
    inner: MutexGuard<'a, Inner>,
    written: &'a AtomicU64,
}

impl std::ops::Deref for StoreGuard<'_> {
    type Target = Inner;

    fn deref(&self) -> &Inner {
        &self.inner
    }
}

impl std::ops::DerefMut for StoreGuard<'_> {
    fn deref_mut(&mut self) -> &mut Inner {
        &mut self.inner
    }
}

impl Drop for StoreGuard<'_> {
    fn drop(&mut self) {
        // Still under the lock: a reader that sees the old generation runs
        // before this write in every order a client can observe.
        let generation = self.inner.generation();
        if self.written.load(Ordering::Relaxed) != generation {
            self.written.store(generation, Ordering::Release);
        }
    }
}

/// Counts a waiting query for as long as it lives.
struct Waiting<'a>(&'a AtomicI64);

impl<'a> Waiting<'a> {
    fn new(counter: &'a AtomicI64) -> Self {
        counter.fetch_add(1, Ordering::Relaxed);
        Waiting(counter)
    }
}

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

impl Store {
    /// A store for unit tests: node `agent` in `dc1`, Consul's minimum
    /// intervals, no script checks.
    #[cfg(test)]
    pub(crate) fn for_tests() -> Arc<Store> {
        Store::new(StoreConfig {
            node_name: "agent".into(),
            node_id: "00000000-0000-0000-0000-000000000001".into(),
            node_address: "127.0.0.1".into(),
            datacenter: "dc1".into(),
            version: "1.21.0".into(),
            min_check_interval: Duration::from_secs(1),
            min_deregister_after: Duration::from_secs(60),
            enable_script_checks: false,
            enable_local_script_checks: false,
        })
    }

    /// A store holding the agent's node, its `serfHealth` check and the `consul` service.
    pub fn new(cfg: StoreConfig) -> Arc<Store> {
        // Indexes start at the wall clock in milliseconds, so an agent that
        // restarts (all state is in memory) never reissues an index a client
        // saw before: blocked clients wake at once instead of waiting out
        // their `wait`.
        let epoch_ms = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(0));
        let inner = Inner {
            index: epoch_ms,
            ..Inner::default()
        };
        let store = Arc::new(Store {
            inner: Mutex::new(inner),
            cfg,
            timer: Notify::new(),
            waiting: AtomicI64::new(0),
            closing: CancellationToken::new(),
            written: AtomicU64::new(0),
        });
        store.bootstrap();
        store
    }

    /// The configuration.
    pub fn config(&self) -> &StoreConfig {
        &self.cfg
    }

    /// Locks the state. Never held across an `.await`.
    pub(crate) fn lock(&self) -> StoreGuard<'_> {
        // A panic while holding the lock would leave the maps consistent
        // (every write finishes before it publishes), so keep serving.
        StoreGuard {
            inner: self
                .inner
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner),
            written: &self.written,
        }
    }

    /// The generation of the state as of the last lock released: equal to
    /// the one a cached answer was confirmed at, nothing was written since.
    pub(crate) fn generation(&self) -> u64 {
        self.written.load(Ordering::Acquire)
    }

    /// Ends every blocking query: the agent is stopping.
    pub fn close(&self) {
        self.closing.cancel();
    }

    /// Waits for a topic change until `deadline`; false on timeout or close.
    async fn wait_change(
        &self,
        rx: &mut watch::Receiver<()>,
        deadline: tokio::time::Instant,
    ) -> bool {
        let _count = Waiting::new(&self.waiting);
        tokio::select! {
            r = tokio::time::timeout_at(deadline, rx.changed()) => r.is_ok(),
            _ = self.closing.cancelled() => false,
        }
    }

    /// Wakes the timer task if a new deadline is earlier than what it sleeps towards.
    pub(crate) fn kick_timer(&self) {
        self.timer.notify_one();
    }

    /// Resolves when the agent shuts down (streams end then).
    pub(crate) async fn closed(&self) {
        self.closing.cancelled().await;
    }

    /// The current raft index (at least 1).
    pub fn last_index(&self) -> u64 {
        self.lock().index.max(1)
    }

    /// Runs `query` until its index passes `opts.index` or `opts.wait` runs out.
    ///
    /// Returns the index (at least 1) and the value of the last run.
    pub async fn blocking<T, F>(&self, opts: BlockingOpts, sub: Subscription, query: F) -> (u64, T)
    where
        F: Fn(&Inner) -> (u64, T),
    {
        let deadline = tokio::time::Instant::now() + opts.wait;
        loop {
            let (index, value, rx) = {
                let mut inner = self.lock();
                let (index, value) = query(&inner);
                let index = index.max(1);
                // An index beyond anything this agent has issued comes from a
                // previous life (an agent restart): answer at once so the
                // client sees the index go backwards and resets.
                let from_the_past = opts.index <= inner.index.max(1);
                let rx = (opts.index > 0
                    && index <= opts.index
                    && from_the_past
                    && !opts.wait.is_zero())
                .then(|| inner.subscribe(&sub));
                (index, value, rx)
            };
            let Some(mut rx) = rx else {
                return (index, value);
            };
            drop(value);
            if !self.wait_change(&mut rx, deadline).await {
                let inner = self.lock();
                let (index, value) = query(&inner);
                return (index.max(1), value);
            }
        }
    }

    /// [`Store::blocking`] on the index alone: waits until `index` passes
    /// `opts.index` (or the wait ends) and returns it (at least 1). The
    /// value is read afterwards, at that index or a newer one, if it is not
    /// cached.
    pub async fn wait_index<F>(&self, opts: BlockingOpts, sub: Subscription, index: F) -> u64
    where
        F: Fn(&Inner) -> u64,
    {
        self.blocking(opts, sub, |inner| (index(inner), ())).await.0
    }

    /// Runs `query` on the current state (one short lock).
    pub(crate) fn read<T>(&self, query: impl FnOnce(&Inner) -> T) -> T {
        query(&self.lock())
    }

    /// Like [`Store::blocking`] for queries that return when their value
    /// differs from a hash (`/v1/agent/service/:id?hash=`).
    pub async fn blocking_hash<T, F>(
        &self,
        wait: Duration,
        hash: Option<String>,
        sub: Subscription,
        query: F,
    ) -> T
    where
        F: Fn(&Inner) -> (Option<String>, T),
    {
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            let (value, rx) = {
                let mut inner = self.lock();
                let (current, value) = query(&inner);
                let rx = match (&hash, current) {
                    (Some(h), Some(c)) if *h == c && !wait.is_zero() => Some(inner.subscribe(&sub)),
                    _ => None,
                };
                (value, rx)
            };
            let Some(mut rx) = rx else {
                return value;
            };
            drop(value);
            if !self.wait_change(&mut rx, deadline).await {
                let inner = self.lock();
                return query(&inner).1;
            }
        }
    }

    /// Runs the store's timers (TTL checks, session TTLs, critical-service
    /// reaping) until `shutdown` completes.
    pub fn run_timers(
        self: &Arc<Self>,
        shutdown: impl Future<Output = ()>,
    ) -> impl Future<Output = ()> {
        let store = Arc::clone(self);
        async move {
            tokio::pin!(shutdown);
            loop {
                let now = Instant::now();
                let next = store.expire(now);
                let sleep = match next {
                    Some(at) => tokio::time::sleep_until(at.into()),
                    None => tokio::time::sleep(Duration::from_secs(3600)),
                };
                tokio::select! {
                    _ = &mut shutdown => return,
                    _ = sleep => {}
                    _ = store.timer.notified() => {}
                }
            }
        }
    }

    /// Applies every deadline that has passed; returns the next one.
    fn expire(&self, now: Instant) -> Option<Instant> {
        let mut inner = self.lock();
        self.expire_ttl_checks(&mut inner, now);
        self.reap_critical_services(&mut inner, now);
        self.expire_sessions(&mut inner, now);
        inner.lock_delays.retain(|_, until| *until > now);
        let next = self.next_deadline(&inner);
        inner.scheduled = next;
        next
    }

    fn next_deadline(&self, inner: &Inner) -> Option<Instant> {
        let ttl = inner.agent_checks.values().filter_map(|rt| rt.ttl_deadline);
        let reap = inner.agent_checks.iter().filter_map(|(id, rt)| {
            let since = rt.critical_since?;
            let check = inner
                .checks
                .get(&(self.cfg.node_name.clone(), id.clone()))?;
            Some(since + check.spec.deregister_critical_after?)
        });
        let sessions = inner.session_expiry.values().copied();
        let delays = inner.lock_delays.values().copied();
        ttl.chain(reap).chain(sessions).chain(delays).min()
    }

    /// Records a user event and returns it.
    pub fn fire_event(&self, mut event: Event) -> Arc<Event> {
        let mut inner = self.lock();
        inner.ltime += 1;
        event.ltime = inner.ltime;
        let event = Arc::new(event);
        inner.events.push_back(Arc::clone(&event));
        while inner.events.len() > 256 {
            inner.events.pop_front();
        }
        inner.notify(&Topic::Events);
        event
    }

    /// The recent events, oldest first, optionally only those named `name`.
    pub(crate) fn events_in(inner: &Inner, name: Option<&str>) -> Vec<Arc<Event>> {
        inner
            .events
            .iter()
            .filter(|e| name.is_none_or(|n| e.name == n))
            .cloned()
            .collect()
    }

    /// The opaque event index: XOR of the halves of the last event's UUID, or 1.
    pub(crate) fn event_index(events: &[Arc<Event>]) -> u64 {
        let Some(last) = events.last() else {
            return 1;
        };
        match uuid::Uuid::parse_str(&last.id) {
            Ok(id) => {
                let (hi, lo) = id.as_u64_pair();
                (hi ^ lo).max(1)
            }
            Err(_) => 1,
        }
    }

    /// Counts for `/v1/agent/self` `Stats.agent`.
    pub fn agent_stats(&self) -> (usize, usize, usize) {
        let inner = self.lock();
        let ttl = inner
            .agent_checks
            .keys()
            .filter(|id| {
                inner
                    .checks
                    .get(&(self.cfg.node_name.clone(), (*id).clone()))
                    .is_some_and(|c| c.spec.ttl.is_some())
            })
            .count();
        (inner.agent_services.len(), inner.agent_checks.len(), ttl)
    }
}
