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
use crate::types::{ServiceEntry, Status, Weights};
use crate::watch::{Watch, WatchHub, WatchSpec, WatchStatus};

/// One healthy instance.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Instance {
    /// Instance ID.
    pub id: String,
    /// Service name.
    pub service: String,
    /// Node name.
    pub node: String,
    /// Address to dial (service address, else node address).
    pub address: String,
    /// Port.
    pub port: u16,
    /// Tags.
    pub tags: Vec<String>,
    /// Metadata.
    pub meta: std::collections::BTreeMap<String, String>,
    /// Weights.
    pub weights: Weights,
    /// Passing or warning.
    pub status: Status,
    /// Datacenter it was found in.
    pub datacenter: String,
    socket: Option<SocketAddr>,
    /// `host:port` for a URL, made once when the instance is seen, when the
    /// address can go in a URL as it is (an IP, or a plain host name);
    /// `None` when it must go through the URL parser.
    dial: Option<Box<str>>,
}

impl Instance {
    fn from_entry(e: &ServiceEntry) -> Instance {
        let address = e.address().to_string();
        let port = e.service.port;
        Instance {
            socket: socket_of(&address, port),
            dial: dial_of(&address, port),
            id: e.service.id.clone(),
            service: e.service.service.clone(),
            node: e.node.node.clone(),
            address,
            port: e.service.port,
            tags: e.service.tags.clone(),
            meta: e.service.meta.clone(),
            weights: e.service.weights,
            status: e.aggregated_status(),
            datacenter: e.node.datacenter.clone(),
        }
    }

    /// An instance at `address:port`, for tests.
    #[cfg(test)]
    pub(crate) fn for_test(address: &str, port: u16) -> Instance {
        Instance {
            id: format!("{address}:{port}"),
            service: "worker".into(),
            node: "n".into(),
            address: address.into(),
            port,
            tags: Vec::new(),
            meta: Default::default(),
            weights: Weights::default(),
            status: Status::Passing,
            datacenter: "dc1".into(),
            socket: socket_of(address, port),
            dial: dial_of(address, port),
        }
    }

    /// The socket address, when the address is an IP.
    pub fn socket_addr(&self) -> Option<SocketAddr> {
        self.socket
    }

    /// `host:port` (IPv6 in brackets), for URLs.
    pub fn authority(&self) -> String {
        let mut out = String::with_capacity(self.address.len() + 8);
        self.push_authority(&mut out);
        out
    }

    /// Appends [`Instance::authority`] to `out` (no intermediate string).
    pub(crate) fn push_authority(&self, out: &mut String) {
        push_authority(out, &self.address, self.port);
    }

    /// [`Instance::authority`], made when the instance was seen, if its
    /// address can go in a URL without the URL parser (an IP or a plain
    /// host name).
    pub(crate) fn dial(&self) -> Option<&str> {
        self.dial.as_deref()
    }
}

fn socket_of(address: &str, port: u16) -> Option<SocketAddr> {
    address
        .parse::<std::net::IpAddr>()
        .ok()
        .map(|ip| SocketAddr::new(ip, port))
}

/// `host:port` when `address` is an IP or a plain host name (letters,
/// digits, `-` and `.`): what can be put in a URL by concatenation.
fn dial_of(address: &str, port: u16) -> Option<Box<str>> {
    let plain = !address.is_empty()
        && address
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.');
    (plain || socket_of(address, port).is_some()).then(|| {
        let mut out = String::with_capacity(address.len() + 8);
        push_authority(&mut out, address, port);
        out.into_boxed_str()
    })
}

/// Appends `address:port` to `out`, an IPv6 address in brackets.
fn push_authority(out: &mut String, address: &str, port: u16) {
    let ipv6 = address.contains(':');
    if ipv6 {
        out.push('[');
    }
    out.push_str(address);
    if ipv6 {
        out.push(']');
    }
    out.push(':');
    out.push_str(itoa::Buffer::new().format(port));
}

/// The healthy instances of a service at one moment.
#[derive(Debug, Default)]
pub struct Instances {
    list: Vec<Arc<Instance>>,
    /// Weighted round-robin order: indexes into `list`.
    order: Vec<u32>,
    datacenter: Option<String>,
    ready: bool,
}

impl Instances {
    /// The instances, in Consul's order.
    pub fn as_slice(&self) -> &[Arc<Instance>] {
        &self.list
    }

    /// Number of instances.
    pub fn len(&self) -> usize {
        self.list.len()
    }

    /// Whether there is none.
    pub fn is_empty(&self) -> bool {
        self.list.is_empty()
    }

    /// The datacenter they come from (`None`: the local one).
    pub fn datacenter(&self) -> Option<&str> {
        self.datacenter.as_deref()
    }

    /// Whether Consul has answered at least once (else: no data yet).
    pub fn is_ready(&self) -> bool {
        self.ready
    }
}

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
        self.choose_with(|_| true, |_| false, |i| i.socket)
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
        let mut rx = self.shared.version.clone();
        let current = Arc::clone(&self.shared.current);
        let outcome = {
            let wait = rx.wait_for(|_| !current.load().is_empty());
            match tokio::time::timeout(timeout, wait).await {
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
                    format!("{}: {why} after {timeout:?}", self.name()),
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

    /// Waits until every named service has a healthy instance (start-up ordering).
    pub async fn wait_for(&self, names: &[&str], timeout: Duration) -> Result<()> {
        let deadline = tokio::time::Instant::now() + timeout;
        for name in names {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            self.service(name).ready(left).await?;
        }
        Ok(())
    }

    /// Rewrites a URL whose host is a service name (`http://worker/x`, or
    /// `http://worker.service.consul/x`) to a picked instance's `host:port`.
    /// Other URLs (IPs, dotted names, `localhost`) come back unchanged.
    pub fn url(&self, url: &str) -> Result<String> {
        let mut parsed = url::Url::parse(url).map_err(|e| {
            Error::new(ErrorKind::InvalidInput, format!("invalid URL {url:?}: {e}"))
        })?;
        let Some(name) = service_host(&parsed) else {
            return Ok(url.to_string());
        };
        let svc = self.service(&name);
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
            self.service(&name).ready(timeout).await?;
        }
        self.url(url)
    }

    /// An HTTP client that resolves service names and retries on another instance.
    pub fn http(&self) -> crate::http::HttpClient {
        crate::http::HttpClient::new(self.clone())
    }
}

/// The service name in a URL's host, if it names one.
pub(crate) fn service_host(url: &url::Url) -> Option<String> {
    match url.host()? {
        url::Host::Domain(d) => service_name(&d.to_ascii_lowercase()).map(str::to_string),
        _ => None,
    }
}

/// The service a lowercase host names: `worker`, `worker.service.consul`,
/// `worker.service.dc1.consul` (a trailing dot allowed on the last two), or
/// none (`localhost`, `www.example.com`).
pub(crate) fn service_name(host: &str) -> Option<&str> {
    if host == "localhost" || host.is_empty() {
        return None;
    }
    if !host.contains('.') {
        return Some(host);
    }
    let trimmed = host.strip_suffix('.').unwrap_or(host);
    let mut labels = trimmed.split('.');
    let name = labels.next().filter(|n| !n.is_empty())?;
    match (labels.next(), labels.next(), labels.next(), labels.next()) {
        (Some("service"), Some("consul"), None, _) => Some(name),
        (Some("service"), Some(_), Some("consul"), None) => Some(name),
        _ => None,
    }
}

/// Puts `inst`'s address and port in `url`, or says why it cannot.
pub(crate) fn rewrite(url: &mut url::Url, inst: &Instance) -> Result<()> {
    let bad = || {
        Error::new(
            ErrorKind::InvalidInput,
            format!("cannot set {} as the URL host", inst.address),
        )
    };
    match inst.address.parse::<std::net::IpAddr>() {
        Ok(ip) => url.set_ip_host(ip).map_err(|()| bad())?,
        Err(_) => url.set_host(Some(&inst.address)).map_err(|_| bad())?,
    }
    url.set_port(Some(inst.port))
        .map_err(|()| Error::new(ErrorKind::InvalidInput, "this URL cannot carry a port"))
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn service_hosts() {
        let host = |u: &str| service_host(&url::Url::parse(u).unwrap());
        assert_eq!(host("http://worker/squares"), Some("worker".into()));
        assert_eq!(host("http://worker:9/x"), Some("worker".into()));
        assert_eq!(
            host("http://worker.service.consul/x"),
            Some("worker".into())
        );
        assert_eq!(
            host("http://worker.service.dc2.consul/x"),
            Some("worker".into())
        );
        assert_eq!(host("http://localhost/x"), None);
        assert_eq!(host("http://127.0.0.1/x"), None);
        assert_eq!(host("http://example.com/x"), None);
        assert_eq!(
            host("http://worker./x"),
            None,
            "a trailing dot is a DNS name"
        );
        assert_eq!(host("http://localhost./x"), None);
        assert_eq!(
            host("http://worker.service.consul./x"),
            Some("worker".into())
        );
    }

    #[test]
    fn rewrite_puts_ip_addresses_in_whole() {
        let mut url = url::Url::parse("http://worker/x").unwrap();
        rewrite(&mut url, &Instance::for_test("2001:db8::1", 8080)).unwrap();
        assert_eq!(url.as_str(), "http://[2001:db8::1]:8080/x");
        let mut url = url::Url::parse("http://worker/x").unwrap();
        assert!(rewrite(&mut url, &Instance::for_test("a/?", 1)).is_err());
    }
}
