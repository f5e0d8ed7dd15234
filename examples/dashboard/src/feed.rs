//! The feed: follows Consul through dcy's watches and publishes a
//! [`Snapshot`] on every change, plus a [`Tick`] every second.
//!
//! One watch follows `/v1/catalog/services`; for each service it lists, one
//! watch follows `/v1/health/service/:name` with every instance and check
//! (no passing filter). Watches start and stop as services come and go
//! (dropping a [`Watch`] stops its loop). Every second the feed samples the
//! instance counts into a bounded history per service (not while the data is
//! stale: the history is what Consul said) and refreshes the freshness of the
//! data, whose age keeps counting while Consul is unreachable.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::Duration;

use dcy::watch::{Watch, WatchHub, WatchSpec};
use dcy::ServiceEntry;
use futures_util::stream::{FuturesUnordered, StreamExt};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::gauge::Gauge;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::broker::BrokerView;
use crate::snapshot::{
    differs, now_ms, seconds, service_view, Counts, Freshness, History, Sample, Snapshot, Tick,
    Totals,
};

/// `/v1/catalog/services`: service name → tags.
type Catalog = BTreeMap<String, Option<Vec<String>>>;

/// Tuning of the feed.
#[derive(Clone, Debug)]
pub struct FeedOptions {
    /// Samples kept per service (one a tick).
    pub history: usize,
    /// Most services watched; the rest are counted in
    /// [`Snapshot::omitted_services`].
    pub max_services: usize,
    /// Spacing of ticks: samples, freshness refreshes and `tick` events.
    pub tick: Duration,
}

impl Default for FeedOptions {
    fn default() -> Self {
        FeedOptions {
            history: 120,
            max_services: 500,
            tick: Duration::from_secs(1),
        }
    }
}

/// Counters the feed and the web handlers keep, for `/metrics`.
#[derive(Clone, Debug, Default)]
pub struct FeedMetrics {
    /// Snapshots published with a change.
    pub snapshots: Counter,
    /// Services watched now.
    pub services: Gauge,
    /// Pages connected to `/events` now.
    pub clients: Gauge,
}

impl FeedMetrics {
    /// Registers the metrics in `registry`.
    pub fn register(&self, registry: &mut prometheus_client::registry::Registry) {
        registry.register(
            "snapshots",
            "Snapshots published with a change",
            self.snapshots.clone(),
        );
        registry.register("services", "Services watched", self.services.clone());
        registry.register(
            "clients",
            "Pages connected to /events",
            self.clients.clone(),
        );
    }
}

/// The published state of a running feed. Cheap to clone.
#[derive(Clone, Debug)]
pub struct Feed {
    snapshots: watch::Receiver<Arc<Snapshot>>,
    ticks: watch::Receiver<Arc<Tick>>,
    cancel: CancellationToken,
    metrics: FeedMetrics,
}

impl Feed {
    /// Starts following Consul through `hub` until `cancel` fires; the task
    /// ends then (await the handle to be sure it did).
    pub fn spawn(
        hub: WatchHub,
        options: FeedOptions,
        metrics: FeedMetrics,
        broker: watch::Receiver<Option<BrokerView>>,
        cancel: CancellationToken,
    ) -> (Feed, JoinHandle<()>) {
        let (snap_tx, snapshots) = watch::channel(Arc::new(Snapshot::default()));
        let (tick_tx, ticks) = watch::channel(Arc::new(Tick::default()));
        let catalog = hub.watch::<Catalog>(WatchSpec::catalog_services());
        let follower = Follower {
            hub,
            options,
            catalog,
            services: BTreeMap::new(),
            histories: HashMap::new(),
            omitted: 0,
            updated_at_ms: 0,
            version: 0,
            snap_tx,
            tick_tx,
            metrics: metrics.clone(),
            broker,
        };
        let task = tokio::spawn(follower.run(cancel.clone()));
        (
            Feed {
                snapshots,
                ticks,
                cancel,
                metrics,
            },
            task,
        )
    }

    /// The latest snapshot, with history and freshness as of the last tick.
    pub fn snapshot(&self) -> Arc<Snapshot> {
        Arc::clone(&self.snapshots.borrow())
    }

    /// Snapshots: `changed()` fires on every real change.
    pub fn subscribe(&self) -> watch::Receiver<Arc<Snapshot>> {
        self.snapshots.clone()
    }

    /// Ticks: `changed()` fires every tick.
    pub fn ticks(&self) -> watch::Receiver<Arc<Tick>> {
        self.ticks.clone()
    }

    /// Fires when the feed stops (streams end then).
    pub fn cancelled(&self) -> tokio_util::sync::WaitForCancellationFutureOwned {
        self.cancel.clone().cancelled_owned()
    }

    /// The metrics.
    pub fn metrics(&self) -> &FeedMetrics {
        &self.metrics
    }
}

/// What woke the loop.
enum Wake {
    Stop,
    Catalog,
    Service,
    Tick,
}

struct Follower {
    hub: WatchHub,
    options: FeedOptions,
    catalog: Watch<Catalog>,
    services: BTreeMap<String, Watch<Vec<ServiceEntry>>>,
    histories: HashMap<String, History>,
    omitted: usize,
    updated_at_ms: u64,
    version: u64,
    snap_tx: watch::Sender<Arc<Snapshot>>,
    tick_tx: watch::Sender<Arc<Tick>>,
    metrics: FeedMetrics,
    broker: watch::Receiver<Option<BrokerView>>,
}

impl Follower {
    async fn run(mut self, cancel: CancellationToken) {
        let mut tick = tokio::time::interval(self.options.tick.max(Duration::from_millis(10)));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
        loop {
            let wake = {
                let mut changes: FuturesUnordered<_> =
                    self.services.values_mut().map(|w| w.changed()).collect();
                tokio::select! {
                    _ = cancel.cancelled() => Wake::Stop,
                    r = self.catalog.changed() => if r.is_ok() { Wake::Catalog } else { Wake::Stop },
                    Some(r) = changes.next() => if r.is_ok() { Wake::Service } else { Wake::Stop },
                    _ = tick.tick() => Wake::Tick,
                }
            };
            match wake {
                Wake::Stop => break,
                Wake::Catalog => {
                    self.sync();
                    self.changed();
                }
                Wake::Service => self.changed(),
                Wake::Tick => self.tick(),
            }
        }
        // Dropping the watches stops their loops; the hub's owner shuts it down.
        self.services.clear();
        self.metrics.services.set(0);
        tracing::debug!("dashboard feed stopped");
    }

    /// Starts and stops health watches to match the catalog.
    fn sync(&mut self) {
        let Some(catalog) = self.catalog.value() else {
            return;
        };
        let max = self.options.max_services;
        let omitted = catalog.len().saturating_sub(max);
        let was = std::mem::replace(&mut self.omitted, omitted);
        if omitted > 0 && omitted != was {
            tracing::warn!(
                services = catalog.len(),
                max,
                "more services than the dashboard watches: showing the first by name"
            );
        }
        let wanted: Vec<&String> = catalog.keys().take(max).collect();
        self.services
            .retain(|name, _| wanted.binary_search(&name).is_ok());
        self.histories
            .retain(|name, _| wanted.binary_search(&name).is_ok());
        for name in wanted {
            if !self.services.contains_key(name) {
                tracing::debug!(service = %name, "watching");
                let w = self.hub.watch(WatchSpec::health_service(name));
                self.services.insert(name.clone(), w);
            }
        }
        self.metrics
            .services
            .set(i64::try_from(self.services.len()).unwrap_or(i64::MAX));
    }

    fn freshness(&self) -> Freshness {
        let status = self.catalog.status();
        let stale = status.is_stale();
        Freshness {
            ready: self.catalog.value().is_some(),
            stale,
            age_seconds: status.age().map(seconds),
            failing_seconds: status
                .failing_since
                .filter(|_| stale)
                .map(|t| seconds(t.elapsed())),
            error: status.error.map(|e| e.to_string()),
        }
    }

    fn build(&self) -> Snapshot {
        let catalog = self.catalog.value();
        let mut totals = Totals::default();
        let services: Vec<_> = self
            .services
            .iter()
            .map(|(name, w)| {
                let tags = catalog
                    .as_ref()
                    .and_then(|c| c.get(name).cloned().flatten())
                    .unwrap_or_default();
                let entries = w.value();
                let view = service_view(
                    name,
                    &tags,
                    entries.as_deref().map(Vec::as_slice),
                    w.status().is_stale(),
                    self.histories.get(name),
                );
                totals.instances.merge(&view.counts);
                view
            })
            .collect();
        totals.services = services.len();
        Snapshot {
            version: self.version,
            generated_at_ms: now_ms(),
            updated_at_ms: self.updated_at_ms,
            freshness: self.freshness(),
            totals,
            services,
            omitted_services: self.omitted,
            history_capacity: self.options.history.max(2),
            broker: self.broker.borrow().clone(),
        }
    }

    /// A watch published new data: tell every page.
    fn changed(&mut self) {
        self.updated_at_ms = now_ms();
        self.publish(self.build());
    }

    fn publish(&mut self, mut snap: Snapshot) {
        self.version += 1;
        snap.version = self.version;
        self.metrics.snapshots.inc();
        self.snap_tx.send_replace(Arc::new(snap));
    }

    /// Samples counts, refreshes freshness, sends a tick; a snapshot too if
    /// something besides ages and history changed (Consul started or
    /// stopped failing).
    fn tick(&mut self) {
        let t = now_ms();
        let mut samples = BTreeMap::new();
        let catalog_stale = self.catalog.status().is_stale();
        for (name, w) in &self.services {
            // History is what Consul said: no samples of stale data.
            if catalog_stale || w.status().is_stale() {
                continue;
            }
            let Some(entries) = w.value() else { continue };
            let mut counts = Counts::default();
            for e in entries.iter() {
                counts.add(e.aggregated_status());
            }
            let sample = Sample::new(t, &counts);
            self.histories
                .entry(name.clone())
                .or_insert_with(|| History::new(self.options.history))
                .push(sample);
            samples.insert(name.clone(), sample);
        }
        let snap = self.build();
        let tick = Tick {
            t,
            freshness: snap.freshness.clone(),
            samples,
            broker: snap.broker.clone(),
        };
        let news = differs(&self.snap_tx.borrow(), &snap);
        if news {
            self.publish(snap);
        } else {
            // Refresh history and ages for new pages and /api/snapshot
            // without waking the streams: the tick carries the news.
            self.snap_tx.send_if_modified(|s| {
                let mut snap = snap;
                snap.version = s.version;
                *s = Arc::new(snap);
                false
            });
        }
        self.tick_tx.send_replace(Arc::new(tick));
    }
}
