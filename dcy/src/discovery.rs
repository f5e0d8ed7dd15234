//! A live, in-memory view of Consul for name-based lookups.
//!
//! [`Discovery::service`] returns a handle whose [`Service::pick`] reads an
//! atomic snapshot: no lock, no allocation, no network on the hot path.
//! The snapshot is a watch derived from the service's blocking queries in
//! the [`WatchHub`] (one per datacenter asked for), computed in the loop
//! that receives each change: no task per service.
//!
//! # Idle services
//!
//! Every service looked up stays watched while it is used, so that
//! `discovery.service("x").pick()` per request costs what holding the
//! handle costs. A service that nobody holds a handle on and that was not
//! looked up (by [`Discovery::service`], [`Discovery::url`] or the HTTP
//! client) for [`DEFAULT_IDLE_TIMEOUT`] (5 minutes; see
//! [`Discovery::set_idle_timeout`]) stops being watched, so that a process
//! that meets many names (URL hosts) holds only those in use.
//!
//! ```no_run
//! # async fn demo() -> dcy::Result<()> {
//! use std::time::Duration;
//! let discovery = dcy::Discovery::new(dcy::Client::from_env()?);
//! discovery.wait_for(&["worker"], Duration::from_secs(10)).await?;
//! let worker = discovery.service("worker");
//! if let Some(instance) = worker.pick() {
//!     println!("send to {}:{}", instance.address, instance.port);
//! }
//! let url = discovery.url("http://worker/squares?n=4")?;
//! discovery.shutdown().await;
//! # Ok(())
//! # }
//! ```

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError, Weak};
use std::time::Duration;

use arc_swap::ArcSwap;
use tokio::time::Instant;

use crate::balance::schedule;
use crate::client::Client;
use crate::error::{Error, ErrorKind, Result};
use crate::instance::{rewrite, service_host, split_tag};
pub use crate::instance::{Instance, Instances};
use crate::types::{ServiceEntry, Status};
use crate::watch::{Snapshot, Watch, WatchHub, WatchSpec, WatchStatus};

/// How long a service nobody holds and nobody looked up stays watched.
pub const DEFAULT_IDLE_TIMEOUT: Duration = Duration::from_secs(300);

/// Which instances a [`Service`] handle sees.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct ServiceOptions {
    /// Only instances carrying all these tags.
    pub tags: Vec<String>,
    /// Datacenters to fall back to, in order, when the local one has no healthy instance.
    pub fallback_datacenters: Vec<String>,
    /// Count instances with a warning as healthy (weighted by `Weights.Warning`).
    pub allow_warning: bool,
}

impl ServiceOptions {
    /// Adds a required tag.
    pub fn tag(mut self, tag: &str) -> Self {
        self.tags.push(tag.to_string());
        self
    }

    /// Adds a fallback datacenter.
    pub fn fallback(mut self, dc: &str) -> Self {
        self.fallback_datacenters.push(dc.to_string());
        self
    }

    /// Counts warning instances as healthy.
    pub fn allow_warning(mut self) -> Self {
        self.allow_warning = true;
        self
    }
}

#[derive(Debug)]
pub(crate) struct ServiceShared {
    name: String,
    current: Arc<ArcSwap<Instances>>,
    next: AtomicUsize,
    /// The instances as a watch: derived from the per-datacenter queries.
    watch: Watch<Instances>,
    /// Milliseconds since `epoch` of the last lookup.
    last_used: AtomicU64,
    epoch: Instant,
}

impl ServiceShared {
    fn now_ms(&self) -> u64 {
        u64::try_from(self.epoch.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    /// Records a lookup (a write only when the last one is 100 ms old).
    pub(crate) fn touch(&self) {
        let now = self.now_ms();
        if now.saturating_sub(self.last_used.load(Ordering::Relaxed)) >= 100 {
            self.last_used.store(now, Ordering::Relaxed);
        }
    }

    /// How long since the last lookup.
    pub(crate) fn idle_for(&self) -> Duration {
        Duration::from_millis(
            self.now_ms()
                .saturating_sub(self.last_used.load(Ordering::Relaxed)),
        )
    }
}

/// A handle on one service's healthy instances. Cheap to clone; the
/// service stays watched while a handle lives (and for the idle timeout
/// after its last lookup), or until the [`Discovery`] shuts down.
#[derive(Clone, Debug)]
pub struct Service {
    pub(crate) shared: Arc<ServiceShared>,
}

impl Service {
    /// The service name.
    pub fn name(&self) -> &str {
        &self.shared.name
    }

    /// The current healthy instances.
    pub fn instances(&self) -> Arc<Instances> {
        self.shared.current.load_full()
    }

    /// The next instance in weighted round-robin order, or `None` when there
    /// is none (or no data yet). Lock-free and allocation-free.
    pub fn pick(&self) -> Option<Arc<Instance>> {
        self.choose_with(|_| true, |_| false, Arc::clone)
    }

    /// Whether the first answer from Consul has arrived.
    pub fn is_ready(&self) -> bool {
        self.shared.current.load().ready
    }

    /// The next instance in round-robin order that `accept`s, trying each
    /// at most twice; failing that, the first in the list that `fallback`
    /// accepts; given to `f` in place (one snapshot, no clone).
    pub(crate) fn choose_with<R>(
        &self,
        accept: impl Fn(&Instance) -> bool,
        fallback: impl Fn(&Instance) -> bool,
        f: impl FnOnce(&Arc<Instance>) -> R,
    ) -> Option<R> {
        let snap = self.shared.current.load();
        let n = snap.order.len();
        for _ in 0..n * 2 {
            let i = self.shared.next.fetch_add(1, Ordering::Relaxed) % n;
            match snap.list.get(snap.order[i] as usize) {
                Some(inst) if accept(inst) => return Some(f(inst)),
                _ => {}
            }
        }
        snap.list.iter().find(|i| fallback(i)).map(f)
    }

    /// Like [`Service::choose_with`], with a second candidate: the next
    /// other instance that `accept`s after the first in the order (looking
    /// at most 8 places ahead), for callers that choose between two.
    #[cfg(feature = "tonic")]
    pub(crate) fn choose_two_with<R>(
        &self,
        accept: impl Fn(&Instance) -> bool,
        fallback: impl Fn(&Instance) -> bool,
        f: impl Fn(&Arc<Instance>) -> R,
    ) -> Option<(R, Option<R>)> {
        let snap = self.shared.current.load();
        let n = snap.order.len();
        let at = |i: usize| snap.list.get(snap.order[i % n] as usize);
        for _ in 0..n * 2 {
            let i = self.shared.next.fetch_add(1, Ordering::Relaxed) % n;
            let Some(first) = at(i).filter(|inst| accept(inst)) else {
                continue;
            };
            let second = (i + 1..i + n.min(9))
                .filter_map(at)
                .find(|inst| inst.id != first.id && accept(inst));
            return Some((f(first), second.map(&f)));
        }
        snap.list.iter().find(|i| fallback(i)).map(|i| (f(i), None))
    }

    /// Like [`Service::pick`], returning only the socket address.
    pub fn pick_addr(&self) -> Option<SocketAddr> {
        self.choose_with(|_| true, |_| false, |i| i.socket_addr())
            .flatten()
    }

    /// Waits for the next change of the healthy set.
    pub async fn changed(&self) -> Result<()> {
        self.shared
            .watch
            .next_change()
            .await
            .map_err(|_| Error::new(ErrorKind::Cancelled, "discovery stopped"))
    }

    /// Every change of the healthy set, as a stream; none is missed.
    pub fn updates(&self) -> impl futures_util::Stream<Item = Arc<Instances>> + Send + 'static {
        let mut watch = self.shared.watch.clone();
        watch.rx.mark_unchanged();
        futures_util::stream::unfold(watch, |mut w| async move {
            w.changed().await.ok()?;
            let snap = w.value()?;
            Some((snap, w))
        })
    }

    /// Waits until at least one healthy instance is known.
    pub async fn ready(&self, timeout: Duration) -> Result<Arc<Instances>> {
        self.ready_within(timeout, timeout).await
    }

    /// [`Service::ready`] with `left` to wait, reporting `total` (the
    /// caller's timeout) when it runs out.
    async fn ready_within(&self, left: Duration, total: Duration) -> Result<Arc<Instances>> {
        let wait = self
            .shared
            .watch
            .wait_for(|s: &Snapshot<Instances>| s.value.as_ref().is_some_and(|v| !v.is_empty()));
        match tokio::time::timeout(left, wait).await {
            Ok(Ok(_)) => Ok(self.instances()),
            Ok(Err(_)) => Err(Error::new(ErrorKind::Cancelled, "discovery stopped")),
            Err(_) => {
                let why = match self.status().error {
                    Some(e) => format!("Consul is failing: {e}"),
                    None if !self.instances().is_ready() => "no data yet".to_string(),
                    None => "no healthy instance".to_string(),
                };
                Err(Error::new(
                    ErrorKind::NoData,
                    format!(
                        "{}: {why} after {}",
                        self.name(),
                        gocompat::duration::human(total)
                    ),
                ))
            }
        }
    }

    /// Waits, at most `timeout`, for Consul's first answer or its first
    /// failure; whether the handle has data.
    pub(crate) async fn answered(&self, timeout: Duration) -> bool {
        self.shared.watch.answered(timeout).await
    }

    /// Freshness of the local datacenter's data (age, error while Consul is unreachable).
    pub fn status(&self) -> WatchStatus {
        self.shared.watch.status()
    }
}

type Key = (String, ServiceOptions);

/// The services an HTTP client for services remembers by name.
pub(crate) type ServiceCache = ArcSwap<HashMap<String, Service>>;

#[derive(Debug)]
pub(crate) struct DiscoveryInner {
    hub: WatchHub,
    services: Mutex<HashMap<Key, Arc<ServiceShared>>>,
    /// The HTTP clients' caches, swept with the services.
    caches: Mutex<Vec<Weak<ServiceCache>>>,
    idle_timeout_ms: AtomicU64,
    /// Whether the idle sweeper runs (started with the first service).
    sweeping: std::sync::Once,
    epoch: Instant,
}

impl DiscoveryInner {
    fn idle_timeout(&self) -> Duration {
        Duration::from_millis(self.idle_timeout_ms.load(Ordering::Relaxed))
    }

    /// Stops watching the services nobody holds and nobody looked up for
    /// the idle timeout.
    fn sweep(&self) {
        let idle = self.idle_timeout();
        let caches: Vec<Arc<ServiceCache>> = {
            let mut caches = self.caches.lock().unwrap_or_else(PoisonError::into_inner);
            caches.retain(|c| c.strong_count() > 0);
            caches.iter().filter_map(Weak::upgrade).collect()
        };
        for cache in caches {
            if cache.load().values().any(|s| s.shared.idle_for() >= idle) {
                cache.rcu(|map| {
                    map.iter()
                        .filter(|(_, s)| s.shared.idle_for() < idle)
                        .map(|(k, s)| (k.clone(), s.clone()))
                        .collect::<HashMap<_, _>>()
                });
            }
        }
        let evicted: Vec<Arc<ServiceShared>> = {
            let mut services = self.services.lock().unwrap_or_else(PoisonError::into_inner);
            let mut out = Vec::new();
            services.retain(|_, s| {
                let keep = Arc::strong_count(s) > 1 || s.idle_for() < idle;
                if !keep {
                    out.push(Arc::clone(s));
                }
                keep
            });
            out
        };
        if !evicted.is_empty() {
            tracing::debug!(
                count = evicted.len(),
                "stopped watching services idle for {idle:?}"
            );
        }
    }
}

/// The entry point: service handles, readiness, URL rewriting; the HTTP
/// client is [`Discovery::http`].
#[derive(Clone, Debug)]
pub struct Discovery {
    pub(crate) inner: Arc<DiscoveryInner>,
}

impl Discovery {
    /// Discovery through `client`, on a watch hub of its own. Nothing
    /// starts until the first lookup.
    pub fn new(client: Client) -> Discovery {
        Discovery::with_hub(WatchHub::new(client))
    }

    /// Discovery on an existing watch hub (its loops are shared with the
    /// hub's other users; [`Discovery::shutdown`] shuts the hub down).
    pub fn with_hub(hub: WatchHub) -> Discovery {
        let idle = u64::try_from(DEFAULT_IDLE_TIMEOUT.as_millis()).unwrap_or(u64::MAX);
        Discovery {
            inner: Arc::new(DiscoveryInner {
                hub,
                services: Mutex::new(HashMap::new()),
                caches: Mutex::new(Vec::new()),
                idle_timeout_ms: AtomicU64::new(idle),
                sweeping: std::sync::Once::new(),
                epoch: Instant::now(),
            }),
        }
    }

    /// Discovery configured from the `CONSUL_*` environment.
    pub fn from_env() -> Result<Discovery> {
        Ok(Discovery::new(Client::from_env()?))
    }

    /// How long a service nobody holds a handle on stays watched after its
    /// last lookup (default [`DEFAULT_IDLE_TIMEOUT`], at least 10 ms).
    pub fn set_idle_timeout(&self, idle: Duration) {
        let ms = u64::try_from(idle.as_millis()).unwrap_or(u64::MAX).max(10);
        self.inner.idle_timeout_ms.store(ms, Ordering::Relaxed);
    }

    /// A cache of services by name that the idle sweeper keeps clean.
    pub(crate) fn new_cache(&self) -> Arc<ServiceCache> {
        let cache = Arc::new(ArcSwap::from_pointee(HashMap::new()));
        self.inner
            .caches
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(Arc::downgrade(&cache));
        cache
    }

    /// The client.
    pub fn client(&self) -> &Client {
        self.inner.hub.client()
    }

    /// The watch hub the service watches run in.
    pub fn hub(&self) -> &WatchHub {
        &self.inner.hub
    }

    /// How many services (name and options) are watched now.
    pub fn watched(&self) -> usize {
        self.inner
            .services
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .len()
    }

    /// The passing instances of `name` in the local datacenter.
    ///
    /// # Panics
    ///
    /// When a new service must be watched outside a Tokio runtime.
    pub fn service(&self, name: &str) -> Service {
        self.service_with(name, ServiceOptions::default())
    }

    /// The instances of `name` selected by `options`.
    ///
    /// # Panics
    ///
    /// When a new service must be watched outside a Tokio runtime.
    pub fn service_with(&self, name: &str, options: ServiceOptions) -> Service {
        let key = (name.to_string(), options);
        let mut services = self
            .inner
            .services
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if let Some(shared) = services.get(&key) {
            shared.touch();
            return Service {
                shared: Arc::clone(shared),
            };
        }
        let shared = Arc::new(self.start(name, &key.1));
        services.insert(key, Arc::clone(&shared));
        drop(services);
        self.start_sweeper();
        Service { shared }
    }

    /// Starts the task that evicts idle services, once, in the hub's tracker.
    fn start_sweeper(&self) {
        self.inner.sweeping.call_once(|| {
            let weak: Weak<DiscoveryInner> = Arc::downgrade(&self.inner);
            let stop = self.inner.hub.cancel_token().clone();
            self.inner.hub.tasks().spawn(async move {
                loop {
                    let every = match weak.upgrade() {
                        Some(inner) => (inner.idle_timeout() / 2)
                            .clamp(Duration::from_millis(5), Duration::from_secs(30)),
                        None => return,
                    };
                    tokio::select! {
                        _ = stop.cancelled() => return,
                        _ = tokio::time::sleep(every) => {}
                    }
                    match weak.upgrade() {
                        Some(inner) => inner.sweep(),
                        None => return,
                    }
                }
            });
        });
    }

    fn start(&self, name: &str, options: &ServiceOptions) -> ServiceShared {
        let dcs: Vec<Option<String>> = std::iter::once(None)
            .chain(options.fallback_datacenters.iter().cloned().map(Some))
            .collect();
        let sources: Vec<Watch<Vec<ServiceEntry>>> = dcs
            .iter()
            .map(|dc| {
                let mut spec = WatchSpec::health_service(name).passing(!options.allow_warning);
                for t in &options.tags {
                    spec = spec.tag(t);
                }
                if let Some(dc) = dc {
                    spec = spec.datacenter(dc);
                }
                self.inner.hub.watch(spec)
            })
            .collect();
        let current = Arc::new(ArcSwap::from_pointee(Instances::default()));
        let swap = Arc::clone(&current);
        let allow_warning = options.allow_warning;
        let watch = Watch::derive(&sources, move |snaps, _| {
            let next = instances(snaps, &dcs, allow_warning);
            let old = swap.load();
            if old.ready == next.ready && old.datacenter == next.datacenter && old.list == next.list
            {
                return None;
            }
            let next = Arc::new(next);
            swap.store(Arc::clone(&next));
            Some(next)
        });
        let epoch = self.inner.epoch;
        ServiceShared {
            name: name.to_string(),
            current,
            next: AtomicUsize::new(fastrand::usize(..)),
            watch,
            last_used: AtomicU64::new(
                u64::try_from(epoch.elapsed().as_millis()).unwrap_or(u64::MAX),
            ),
            epoch,
        }
    }

    /// The handle a URL's service host names: `worker`, or `worker` tagged
    /// `v1` for `v1.worker` (from `http://v1.worker.service.consul/`).
    pub(crate) fn service_by_host(&self, key: &str) -> Service {
        match split_tag(key) {
            (name, Some(tag)) => self.service_with(name, ServiceOptions::default().tag(tag)),
            (name, None) => self.service(name),
        }
    }

    /// Waits until every named service has a healthy instance (start-up ordering).
    pub async fn wait_for(&self, names: &[&str], timeout: Duration) -> Result<()> {
        let deadline = tokio::time::Instant::now() + timeout;
        for name in names {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            self.service(name).ready_within(left, timeout).await?;
        }
        Ok(())
    }

    /// Rewrites a URL whose host is a service name (`http://worker/x`, or
    /// `http://worker.service.consul/x`, or with a tag as in Consul's DNS,
    /// `http://v1.worker.service.consul/x`) to a picked instance's
    /// `host:port`. Other URLs (IPs, dotted names, `localhost`) come back
    /// unchanged.
    ///
    /// # Panics
    ///
    /// When a new service must be watched outside a Tokio runtime.
    pub fn url(&self, url: &str) -> Result<String> {
        let mut parsed = url::Url::parse(url).map_err(|e| {
            Error::new(ErrorKind::InvalidInput, format!("invalid URL {url:?}: {e}"))
        })?;
        let Some(name) = service_host(&parsed) else {
            return Ok(url.to_string());
        };
        let svc = self.service_by_host(&name);
        let inst = svc.pick().ok_or_else(|| {
            let why = if svc.instances().is_ready() {
                "no healthy instance"
            } else {
                "no data yet"
            };
            Error::new(
                ErrorKind::NoData,
                format!("{name}: {why} (rewriting {url})"),
            )
        })?;
        rewrite(&mut parsed, &inst)?;
        Ok(parsed.into())
    }

    /// Like [`Discovery::url`], waiting up to `timeout` for a healthy instance.
    pub async fn resolve_url(&self, url: &str, timeout: Duration) -> Result<String> {
        let parsed = url::Url::parse(url).map_err(|e| {
            Error::new(ErrorKind::InvalidInput, format!("invalid URL {url:?}: {e}"))
        })?;
        if let Some(name) = service_host(&parsed) {
            self.service_by_host(&name).ready(timeout).await?;
        }
        self.url(url)
    }

    /// Stops watching and waits until every watch loop (and the idle
    /// sweeper) has ended: shuts the hub down. Handles keep their last
    /// instances; `changed()` and `updates()` end.
    pub async fn shutdown(&self) {
        self.inner.hub.shutdown().await;
        let services = std::mem::take(
            &mut *self
                .inner
                .services
                .lock()
                .unwrap_or_else(PoisonError::into_inner),
        );
        drop(services);
    }
}

/// The current instances from the per-datacenter snapshots: the first
/// datacenter (local first) with a healthy instance.
fn instances(
    snaps: &[Snapshot<Vec<ServiceEntry>>],
    dcs: &[Option<String>],
    allow_warning: bool,
) -> Instances {
    let mut ready = false;
    let mut chosen: Option<(Vec<Arc<Instance>>, Option<String>)> = None;
    for (snap, dc) in snaps.iter().zip(dcs) {
        let Some(entries) = &snap.value else { continue };
        ready = true;
        let list: Vec<Arc<Instance>> = entries
            .iter()
            .filter(|e| match e.aggregated_status() {
                Status::Passing => true,
                Status::Warning => allow_warning,
                _ => false,
            })
            .map(|e| Arc::new(Instance::from_entry(e)))
            .collect();
        if !list.is_empty() {
            chosen = Some((list, dc.clone()));
            break;
        }
    }
    let (list, datacenter) = chosen.unwrap_or_default();
    let weights: Vec<u32> = list.iter().map(|i| i.weight()).collect();
    let order = schedule(&weights);
    Instances {
        list,
        order,
        datacenter,
        ready,
    }
}
