//! A live, in-memory view of Consul for name-based lookups.
//!
//! [`Discovery::service`] returns a handle whose [`Service::pick`] reads an
//! atomic snapshot: no lock, no allocation, no network on the hot path. One
//! background task per service follows blocking queries (shared through the
//! [`WatchHub`]) and swaps the snapshot when the healthy set changes.
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
//! # Ok(())
//! # }
//! ```

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use arc_swap::ArcSwap;
use tokio::sync::{watch, Notify};
use tokio_util::sync::{CancellationToken, DropGuard};

use crate::balance::schedule;
use crate::client::Client;
use crate::error::{Error, ErrorKind, Result};
use crate::instance::{rewrite, service_host, split_tag};
pub use crate::instance::{Instance, Instances};
use crate::types::{ServiceEntry, Status};
use crate::watch::{Watch, WatchHub, WatchSpec, WatchStatus};

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
struct ServiceShared {
    name: String,
    current: Arc<ArcSwap<Instances>>,
    next: AtomicUsize,
    version: watch::Receiver<u64>,
    watches: Vec<Watch<Vec<ServiceEntry>>>,
    _stop: DropGuard,
}

/// A handle on one service's healthy instances. Cheap to clone; the watch
/// runs until the [`Discovery`] that made it is dropped.
#[derive(Clone, Debug)]
pub struct Service {
    shared: Arc<ServiceShared>,
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

    /// Like [`Service::pick`], returning only the socket address.
    pub fn pick_addr(&self) -> Option<SocketAddr> {
        self.choose_with(|_| true, |_| false, |i| i.socket_addr())
            .flatten()
    }

    /// Waits for the next change of the healthy set.
    pub async fn changed(&self) -> Result<()> {
        let mut rx = self.shared.version.clone();
        rx.mark_unchanged();
        rx.changed()
            .await
            .map_err(|_| Error::new(ErrorKind::Cancelled, "discovery stopped"))
    }

    /// Every change of the healthy set, as a stream; none is missed.
    pub fn updates(&self) -> impl futures_util::Stream<Item = Arc<Instances>> + Send + 'static {
        let rx = self.shared.version.clone();
        let current = Arc::clone(&self.shared.current);
        futures_util::stream::unfold((rx, current), |(mut rx, current)| async move {
            rx.changed().await.ok()?;
            let snap = current.load_full();
            Some((snap, (rx, current)))
        })
    }

    /// Waits until at least one healthy instance is known.
    pub async fn ready(&self, timeout: Duration) -> Result<Arc<Instances>> {
        self.ready_within(timeout, timeout).await
    }

    /// [`Service::ready`] with `left` to wait, reporting `total` (the
    /// caller's timeout) when it runs out.
    async fn ready_within(&self, left: Duration, total: Duration) -> Result<Arc<Instances>> {
        let mut rx = self.shared.version.clone();
        let current = Arc::clone(&self.shared.current);
        let outcome = {
            let wait = rx.wait_for(|_| !current.load().is_empty());
            match tokio::time::timeout(left, wait).await {
                Ok(Ok(_)) => Some(true),
                Ok(Err(_)) => Some(false),
                Err(_) => None,
            }
        };
        match outcome {
            Some(true) => Ok(self.instances()),
            Some(false) => Err(Error::new(ErrorKind::Cancelled, "discovery stopped")),
            None => {
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

    /// Freshness of the local datacenter's data (age, error while Consul is unreachable).
    pub fn status(&self) -> WatchStatus {
        self.shared
            .watches
            .first()
            .map(Watch::status)
            .unwrap_or_default()
    }
}

#[derive(Debug)]
struct DiscoveryInner {
    hub: WatchHub,
    /// Every service looked up stays watched for the life of the `Discovery`,
    /// so `discovery.service("x").pick()` per request is as cheap as holding the handle.
    services: Mutex<HashMap<(String, ServiceOptions), Arc<ServiceShared>>>,
}

/// The entry point: service handles, readiness, URL rewriting, an HTTP client.
#[derive(Clone, Debug)]
pub struct Discovery {
    inner: Arc<DiscoveryInner>,
}

impl Discovery {
    /// Discovery through `client`.
    pub fn new(client: Client) -> Discovery {
        Discovery::with_hub(WatchHub::new(client))
    }

    /// Discovery sharing an existing watch hub.
    pub fn with_hub(hub: WatchHub) -> Discovery {
        Discovery {
            inner: Arc::new(DiscoveryInner {
                hub,
                services: Mutex::new(HashMap::new()),
            }),
        }
    }

    /// Discovery configured from the `CONSUL_*` environment.
    pub fn from_env() -> Result<Discovery> {
        Ok(Discovery::new(Client::from_env()?))
    }

    /// The client.
    pub fn client(&self) -> &Client {
        self.inner.hub.client()
    }

    /// The watch hub the service watches run in.
    pub fn hub(&self) -> &WatchHub {
        &self.inner.hub
    }

    /// The passing instances of `name` in the local datacenter.
    pub fn service(&self, name: &str) -> Service {
        self.service_with(name, ServiceOptions::default())
    }

    /// The instances of `name` selected by `options`.
    pub fn service_with(&self, name: &str, options: ServiceOptions) -> Service {
        let key = (name.to_string(), options.clone());
        let mut services = self
            .inner
            .services
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(shared) = services.get(&key) {
            return Service {
                shared: Arc::clone(shared),
            };
        }
        let shared = Arc::new(self.start(name, &options));
        services.insert(key, Arc::clone(&shared));
        Service { shared }
    }

    fn start(&self, name: &str, options: &ServiceOptions) -> ServiceShared {
        let dcs: Vec<Option<String>> = std::iter::once(None)
            .chain(options.fallback_datacenters.iter().cloned().map(Some))
            .collect();
        let watches: Vec<Watch<Vec<ServiceEntry>>> = dcs
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
        let (tx, rx) = watch::channel(0u64);
        let stop = CancellationToken::new();
        let notify = Arc::new(Notify::new());
        for w in &watches {
            let (mut w, notify, stop) = (w.clone(), Arc::clone(&notify), stop.clone());
            tokio::spawn(async move {
                loop {
                    tokio::select! {
                        _ = stop.cancelled() => return,
                        r = w.changed() => if r.is_err() { return },
                    }
                    notify.notify_one();
                }
            });
        }
        let task = Follower {
            watches: watches.clone(),
            dcs,
            allow_warning: options.allow_warning,
            current: Arc::clone(&current),
            tx,
        };
        let follow_stop = stop.clone();
        tokio::spawn(async move {
            task.update();
            loop {
                tokio::select! {
                    _ = follow_stop.cancelled() => return,
                    _ = notify.notified() => task.update(),
                }
            }
        });
        ServiceShared {
            name: name.to_string(),
            current,
            next: AtomicUsize::new(fastrand::usize(..)),
            version: rx,
            watches,
            _stop: stop.drop_guard(),
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

    /// An HTTP client that resolves service names and retries on another
    /// instance, on dcy's default reqwest client (2 s to connect, 30 s a
    /// request).
    pub fn http(&self) -> crate::http::HttpClient {
        self.http_with(crate::http::HttpClient::default_client())
    }

    /// Like [`Discovery::http`], on this reqwest client (its timeouts, TLS,
    /// proxies, connection pool). Building a reqwest client loads its TLS
    /// roots, a few milliseconds: pass one you already have rather than
    /// replacing the default with [`HttpClient::with_client`](crate::http::HttpClient::with_client).
    ///
    /// ```no_run
    /// # fn demo() -> dcy::Result<()> {
    /// let shared = reqwest::Client::new();
    /// let http = dcy::Discovery::from_env()?.http_with(shared.clone());
    /// # Ok(())
    /// # }
    /// ```
    pub fn http_with(&self, http: reqwest::Client) -> crate::http::HttpClient {
        crate::http::HttpClient::new(self.clone(), http)
    }
}

/// Turns watch snapshots into the current [`Instances`].
struct Follower {
    watches: Vec<Watch<Vec<ServiceEntry>>>,
    dcs: Vec<Option<String>>,
    allow_warning: bool,
    current: Arc<ArcSwap<Instances>>,
    tx: watch::Sender<u64>,
}

impl Follower {
    fn update(&self) {
        let mut ready = false;
        let mut chosen: Option<(Vec<Arc<Instance>>, Option<String>)> = None;
        for (w, dc) in self.watches.iter().zip(&self.dcs) {
            let Some(entries) = w.value() else { continue };
            ready = true;
            let list: Vec<Arc<Instance>> = entries
                .iter()
                .filter(|e| match e.aggregated_status() {
                    Status::Passing => true,
                    Status::Warning => self.allow_warning,
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
        let old = self.current.load();
        if old.ready == ready && old.datacenter == datacenter && old.list == list {
            return;
        }
        let weights: Vec<u32> = list
            .iter()
            .map(|i| {
                if i.status == Status::Warning {
                    i.weights.warning
                } else {
                    i.weights.passing
                }
            })
            .collect();
        let order = schedule(&weights);
        self.current.store(Arc::new(Instances {
            list,
            order,
            datacenter,
            ready,
        }));
        self.tx.send_modify(|v| *v += 1);
    }
}
