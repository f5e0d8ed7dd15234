//! Connecting to the broker found through dcy.
//!
//! The client never holds an address of its own: its server pool is the
//! passing instances of the [`SERVICE`](crate::SERVICE) service in Consul
//! (with the deployment's tag), kept in step as they change, and the
//! servers a node advertises are ignored. When the connection breaks, the
//! next node tried is one Consul lists as passing, not the one that just
//! failed, at once (then backing off per node); when the node in use drops
//! out of Consul's passing set while the connection still stands, the
//! client moves to another.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use async_nats::jetstream;
use async_nats::{ConnectOptions, Event, ReconnectToServer, Server, ServerInfo};
use futures_util::StreamExt;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::gauge::Gauge;
use serde::{Deserialize, Serialize};
use tokio_util::sync::{CancellationToken, DropGuard};

/// How long a JetStream request (a publish's acknowledgement, an API call)
/// waits before it fails and is retried.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(2);

/// A connection to the broker, found and kept through dcy. Cheap to clone;
/// the task following Consul stops when the last clone is dropped.
#[derive(Clone, Debug)]
pub struct Broker {
    client: async_nats::Client,
    jetstream: jetstream::Context,
    state: Arc<State>,
    _follower: Arc<DropGuard>,
}

#[derive(Debug, Default)]
struct State {
    connected: AtomicBool,
    reconnects: Counter,
    disconnected_at: Mutex<Option<Instant>>,
    last_reconnect: Gauge<f64, AtomicU64>,
    last_reconnect_set: AtomicBool,
}

/// How the connection is, for `/stats`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct BrokerStatus {
    /// The node in use (its `server_name`).
    pub server: String,
    /// Its client address.
    pub address: String,
    /// Whether the connection stands.
    pub connected: bool,
    /// Reconnections so far.
    pub reconnects: u64,
    /// How long the last one took, from the connection breaking to the
    /// next one standing, in milliseconds.
    pub last_reconnect_ms: Option<f64>,
}

/// `nats://host:port` of an instance.
fn url(i: &dcy::Instance) -> String {
    if i.address.contains(':') {
        format!("nats://[{}]:{}", i.address, i.port)
    } else {
        format!("nats://{}:{}", i.address, i.port)
    }
}

fn urls(instances: &dcy::Instances) -> Vec<String> {
    instances.as_slice().iter().map(|i| url(i)).collect()
}

/// The node to reconnect to: one Consul lists as passing (`healthy`),
/// other than the one that just failed (`last`) when there is a choice,
/// fewest failed attempts first; at once the first time, then backing off.
/// `None` (the client's own choice) when Consul lists none of the pool.
pub(crate) fn choose(
    servers: &[Server],
    last: &ServerInfo,
    healthy: &[(String, u16)],
) -> Option<ReconnectToServer> {
    let passing = |s: &&Server| {
        healthy
            .iter()
            .any(|(h, p)| s.addr.host() == h && s.addr.port() == *p)
    };
    let was = |s: &&Server| s.addr.port() == last.port && s.addr.host() == last.host;
    let mut candidates: Vec<&Server> = servers.iter().filter(passing).collect();
    if candidates.iter().any(|s| !was(s)) {
        candidates.retain(|s| !was(s));
    }
    let best = candidates
        .into_iter()
        .min_by_key(|s| (s.failed_attempts, fastrand::u32(..)))?;
    let delay = match best.failed_attempts {
        0 => Duration::ZERO,
        n => Duration::from_millis(50u64.saturating_mul(1 << n.min(6))).min(Duration::from_secs(2)),
    };
    Some(ReconnectToServer {
        addr: best.addr.clone(),
        delay: Some(delay),
    })
}

impl Broker {
    /// Waits (at most `wait`) for a passing broker node in Consul, then
    /// connects to one as `name`.
    pub async fn connect(
        discovery: &dcy::Discovery,
        options: dcy::ServiceOptions,
        name: &str,
        wait: Duration,
    ) -> anyhow::Result<Broker> {
        let service = discovery.service_with(crate::SERVICE, options);
        let instances = service.ready(wait).await.map_err(|e| {
            anyhow::anyhow!(
                "no passing broker node ({}) in Consul within {}: {e}",
                crate::SERVICE,
                gocompat::duration::human(wait)
            )
        })?;
        let state = Arc::new(State::default());
        let pool = urls(&instances);
        let healthy_now = service.clone();
        let events = Arc::clone(&state);
        let who = name.to_string();
        let client = ConnectOptions::new()
            .name(name)
            .ignore_discovered_servers()
            .connection_timeout(Duration::from_secs(2))
            .ping_interval(Duration::from_secs(5))
            .max_reconnects(None)
            .reconnect_to_server_callback(move |servers, info| {
                let healthy: Vec<(String, u16)> = healthy_now
                    .instances()
                    .as_slice()
                    .iter()
                    .map(|i| (i.address.clone(), i.port))
                    .collect();
                std::future::ready(choose(&servers, &info, &healthy))
            })
            .event_callback(move |event| {
                events.on(&who, &event);
                std::future::ready(())
            })
            .connect(pool.as_slice())
            .await
            .map_err(|e| anyhow::anyhow!("connecting to the broker at {pool:?}: {e}"))?;
        state.connected.store(true, Ordering::Relaxed);
        let jetstream = jetstream::ContextBuilder::new()
            .timeout(REQUEST_TIMEOUT)
            .build(client.clone());
        let stop = CancellationToken::new();
        tokio::spawn(follow(service, client.clone(), stop.clone()));
        tracing::info!(client = name, server = %client.server_info().server_name, "connected to the broker");
        Ok(Broker {
            client,
            jetstream,
            state,
            _follower: Arc::new(stop.drop_guard()),
        })
    }

    /// The NATS client.
    pub fn client(&self) -> &async_nats::Client {
        &self.client
    }

    /// Its JetStream context.
    pub fn jetstream(&self) -> &jetstream::Context {
        &self.jetstream
    }

    /// How the connection is.
    pub fn status(&self) -> BrokerStatus {
        let info = self.client.server_info();
        BrokerStatus {
            server: info.server_name,
            address: format!("{}:{}", info.host, info.port),
            connected: self.state.connected.load(Ordering::Relaxed)
                && self.client.connection_state() == async_nats::connection::State::Connected,
            reconnects: self.state.reconnects.get(),
            last_reconnect_ms: self
                .state
                .last_reconnect_set
                .load(Ordering::Relaxed)
                .then(|| self.state.last_reconnect.get() * 1000.0),
        }
    }

    /// Registers `broker_reconnects` and `broker_last_reconnect_seconds`.
    pub fn register_metrics(&self, registry: &mut prometheus_client::registry::Registry) {
        registry.register(
            "broker_reconnects",
            "Reconnections to the broker",
            self.state.reconnects.clone(),
        );
        registry.register(
            "broker_last_reconnect_seconds",
            "How long the last reconnection to the broker took",
            self.state.last_reconnect.clone(),
        );
    }
}

impl State {
    fn on(&self, who: &str, event: &Event) {
        match event {
            Event::Disconnected => {
                self.connected.store(false, Ordering::Relaxed);
                *self
                    .disconnected_at
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(Instant::now());
                tracing::warn!(
                    client = who,
                    "lost the broker node: reconnecting to another that Consul lists"
                );
            }
            Event::Connected => {
                self.connected.store(true, Ordering::Relaxed);
                let since = self
                    .disconnected_at
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner)
                    .take();
                if let Some(t) = since {
                    let took = t.elapsed();
                    self.reconnects.inc();
                    self.last_reconnect.set(took.as_secs_f64());
                    self.last_reconnect_set.store(true, Ordering::Relaxed);
                    tracing::info!(
                        client = who,
                        took_ms = took.as_millis() as u64,
                        "reconnected to the broker"
                    );
                }
            }
            other => tracing::debug!(client = who, event = %other, "broker event"),
        }
    }
}

/// Keeps the client's pool equal to Consul's passing broker nodes, and
/// moves off a node that left it.
async fn follow(service: dcy::Service, client: async_nats::Client, stop: CancellationToken) {
    let mut updates = Box::pin(service.updates());
    loop {
        let instances = tokio::select! {
            _ = stop.cancelled() => return,
            u = updates.next() => match u {
                Some(i) => i,
                None => return,
            },
        };
        if instances.is_empty() {
            tracing::warn!("Consul lists no passing broker node: keeping the last known ones");
            continue;
        }
        let pool = urls(&instances);
        if let Err(e) = client.set_server_pool(pool.as_slice()).await {
            tracing::warn!(error = %e, "updating the broker pool");
            continue;
        }
        let info = client.server_info();
        let in_use = instances
            .as_slice()
            .iter()
            .any(|i| i.port == info.port && i.address == info.host);
        if !in_use && client.connection_state() == async_nats::connection::State::Connected {
            tracing::info!(server = %info.server_name, "the broker node in use left Consul's passing set: moving");
            let _ = client.force_reconnect().await;
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn pool(ports: &[(u16, usize)]) -> Vec<Server> {
        // Server has no public constructor: read a real pool's shape.
        ports
            .iter()
            .map(|(p, failed)| {
                let mut s: Server = serde_like(*p);
                s.failed_attempts = *failed;
                s
            })
            .collect()
    }

    fn serde_like(port: u16) -> Server {
        Server {
            addr: format!("nats://127.0.0.1:{port}").parse().unwrap(),
            failed_attempts: 0,
            did_connect: false,
            is_discovered: false,
            last_error: None,
        }
    }

    fn info(port: u16) -> ServerInfo {
        ServerInfo {
            host: "127.0.0.1".into(),
            port,
            ..ServerInfo::default()
        }
    }

    fn healthy(ports: &[u16]) -> Vec<(String, u16)> {
        ports
            .iter()
            .map(|p| ("127.0.0.1".to_string(), *p))
            .collect()
    }

    #[test]
    fn reconnects_to_a_passing_node_other_than_the_failed_one() {
        let servers = pool(&[(1, 0), (2, 0), (3, 0)]);
        for _ in 0..20 {
            let c = choose(&servers, &info(1), &healthy(&[1, 2, 3])).unwrap();
            assert_ne!(c.addr.port(), 1, "not the node that just failed");
            assert_eq!(c.delay, Some(Duration::ZERO));
        }
        // Consul already dropped node 2: node 3.
        let c = choose(&servers, &info(1), &healthy(&[1, 3])).unwrap();
        assert_eq!(c.addr.port(), 3);
        // Only the failed one is passing: it, backing off once it failed.
        let servers = pool(&[(1, 2), (2, 0)]);
        let c = choose(&servers, &info(1), &healthy(&[1])).unwrap();
        assert_eq!(c.addr.port(), 1);
        assert_eq!(c.delay, Some(Duration::from_millis(200)));
        // Consul lists none of the pool: the client's own choice.
        assert!(choose(&servers, &info(1), &healthy(&[9])).is_none());
    }

    #[test]
    fn fewest_failures_first() {
        let servers = pool(&[(1, 0), (2, 3), (3, 1)]);
        let c = choose(&servers, &info(1), &healthy(&[1, 2, 3])).unwrap();
        assert_eq!(c.addr.port(), 3);
        assert_eq!(c.delay, Some(Duration::from_millis(100)));
    }
}
