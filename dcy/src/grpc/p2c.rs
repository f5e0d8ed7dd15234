//! [`Discovery::grpc_p2c`]: a plain `tonic::transport::Channel` from
//! `Channel::balance_channel`, fed from [`crate::Service::discover`]: an
//! instance whose check turns critical is removed from the balancer at
//! once, a new one is added (weights as copies: see [`crate::discover`]).
//! The balancer is tonic's: tower's power of two choices, where tonic's
//! connections report no load, so that it picks among the ready
//! instances at random (an instance of weight 3, inserted 3 times, gets
//! about 3 times the calls).
//!
//! Between an instance's death and its failed health check, calls may
//! still go to it, and the balancer does not say which instance a call
//! went to. [`P2cChannel`] (the channel, wrapped) therefore probes: when a
//! call fails at the transport (connection refused or reset), the
//! instances are probed with a TCP connect before the error comes back,
//! and those that refuse leave the balancer for [`crate::net::EJECT_FOR`]
//! (they come back after, if Consul still lists them).
//!
//! The feeding task belongs to the channel: it ends when the last clone of
//! the [`P2cChannel`] is dropped (signalled) or at [`P2cChannel::shutdown`]
//! (awaited), and when the discovery shuts down (the channel then keeps its
//! last instances).

use std::collections::HashMap;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use futures_util::StreamExt;
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;
use tokio::time::Instant;
use tokio_util::sync::{CancellationToken, DropGuard};
use tonic::transport::channel::Change;
use tonic::transport::{Channel, Endpoint};
use tower::discover::Change as TowerChange;

use crate::discover::InstanceKey;
use crate::discovery::{Discovery, Instance};
use crate::net::EJECT_FOR;

/// How long a probe of one instance waits for its TCP connect.
const PROBE_TIMEOUT: Duration = Duration::from_millis(250);
/// How long a failed call waits for the probe before its error comes back.
const PROBE_WAIT: Duration = Duration::from_millis(500);

impl Discovery {
    /// A plain tonic `Channel` balanced by tonic (tower's p2c) over the
    /// instances of `name` (`http://address:port`, 2 s to connect), each
    /// endpoint set up by `configure`; see [`crate::grpc::p2c`].
    /// [`Discovery::grpc`] is faster (no balancer task in the way).
    ///
    /// # Panics
    ///
    /// Outside a Tokio runtime.
    pub fn grpc_p2c<C>(&self, name: &str, configure: C) -> P2cChannel
    where
        C: Fn(Endpoint) -> Endpoint + Send + 'static,
    {
        let make: MakeEndpoint = Box::new(move |i: &Instance| {
            let uri = format!("http://{}", i.authority());
            match Endpoint::from_shared(uri) {
                Ok(e) => Some(configure(e.connect_timeout(Duration::from_secs(2)))),
                Err(_) => None,
            }
        });
        let discover = self.service_by_host(name).discover(make);
        let (channel, tx) = Channel::balance_channel::<InstanceKey>(64);
        let (probe_tx, probe_rx) = mpsc::unbounded_channel();
        let stop = self.hub().cancel_token().child_token();
        let feeder = Feeder {
            tx,
            live: HashMap::new(),
            held: HashMap::new(),
        };
        let task = self
            .hub()
            .tasks()
            .spawn(feeder.run(discover, probe_rx, stop.clone()));
        P2cChannel {
            channel,
            probe: probe_tx,
            owner: Arc::new(Owner {
                task: std::sync::Mutex::new(Some(task)),
                _guard: stop.clone().drop_guard(),
                stop,
            }),
        }
    }
}

/// An instance's endpoint (boxed: the discover stream must be `Unpin`).
type MakeEndpoint = Box<dyn FnMut(&Instance) -> Option<Endpoint> + Send>;

/// What a failed call asks the feeder: probe, then answer.
type ProbeRequest = oneshot::Sender<()>;

/// The feeding task's end of a [`P2cChannel`].
#[derive(Debug)]
struct Owner {
    task: std::sync::Mutex<Option<JoinHandle<()>>>,
    stop: CancellationToken,
    /// Stops the feeder when the last clone is dropped.
    _guard: DropGuard,
}

/// A tonic channel balanced over a service's instances, with the feeding
/// task it owns; a tower `Service` any tonic client takes. Cheap to clone.
#[derive(Clone)]
pub struct P2cChannel {
    channel: Channel,
    probe: mpsc::UnboundedSender<ProbeRequest>,
    owner: Arc<Owner>,
}

impl fmt::Debug for P2cChannel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("P2cChannel")
            .field("stopped", &self.owner.stop.is_cancelled())
            .finish_non_exhaustive()
    }
}

impl P2cChannel {
    /// The balanced tonic `Channel` itself, without the probe on failed
    /// calls (it is still fed while this [`P2cChannel`] lives).
    pub fn channel(&self) -> Channel {
        self.channel.clone()
    }

    /// Stops the feeding task and waits until it has ended. The channel
    /// keeps its last instances.
    pub async fn shutdown(&self) {
        self.owner.stop.cancel();
        let task = self
            .owner
            .task
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .take();
        if let Some(task) = task {
            let _ = task.await;
        }
    }
}

type Request = http::Request<tonic::body::Body>;
type Response = http::Response<tonic::body::Body>;

impl tower_service::Service<Request> for P2cChannel {
    type Response = Response;
    type Error = tonic::transport::Error;
    type Future =
        Pin<Box<dyn Future<Output = Result<Response, tonic::transport::Error>> + Send + 'static>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        tower_service::Service::poll_ready(&mut self.channel, cx)
    }

    fn call(&mut self, req: Request) -> Self::Future {
        let call = tower_service::Service::call(&mut self.channel, req);
        let probe = self.probe.clone();
        Box::pin(async move {
            match call.await {
                Ok(resp) => Ok(resp),
                Err(e) => {
                    let (tx, rx) = oneshot::channel();
                    if probe.send(tx).is_ok() {
                        let _ = tokio::time::timeout(PROBE_WAIT, rx).await;
                    }
                    Err(e)
                }
            }
        })
    }
}

/// The task between discovery and tonic's balancer.
struct Feeder {
    tx: mpsc::Sender<Change<InstanceKey, Endpoint>>,
    /// The keys in the balancer.
    live: HashMap<InstanceKey, Endpoint>,
    /// The keys ejected after a refused probe, and until when.
    held: HashMap<InstanceKey, (Endpoint, Instant)>,
}

impl Feeder {
    async fn run<D>(
        mut self,
        mut discover: D,
        mut probes: mpsc::UnboundedReceiver<ProbeRequest>,
        stop: CancellationToken,
    ) where
        D: futures_util::Stream<
                Item = Result<TowerChange<InstanceKey, Endpoint>, std::convert::Infallible>,
            > + Unpin,
    {
        loop {
            let next_back = self.held.values().map(|(_, until)| *until).min();
            let ok = tokio::select! {
                _ = stop.cancelled() => return,
                change = discover.next() => match change {
                    Some(Ok(change)) => self.apply(change).await,
                    // Discovery stopped: the channel keeps its instances.
                    _ => return,
                },
                Some(first) = probes.recv() => {
                    let mut waiting = vec![first];
                    while let Ok(more) = probes.try_recv() {
                        waiting.push(more);
                    }
                    let ok = self.probe().await;
                    for w in waiting {
                        let _ = w.send(());
                    }
                    ok
                }
                _ = sleep_until(next_back) => self.bring_back().await,
            };
            if !ok {
                // The channel is gone: nobody to feed.
                return;
            }
        }
    }

    /// Passes a change from discovery on (an ejected key stays held).
    async fn apply(&mut self, change: TowerChange<InstanceKey, Endpoint>) -> bool {
        match change {
            TowerChange::Insert(key, endpoint) => {
                self.held.remove(&key);
                self.live.insert(key.clone(), endpoint.clone());
                self.tx.send(Change::Insert(key, endpoint)).await.is_ok()
            }
            TowerChange::Remove(key) => {
                if self.held.remove(&key).is_some() {
                    return true;
                }
                self.live.remove(&key);
                self.tx.send(Change::Remove(key)).await.is_ok()
            }
        }
    }

    /// Probes the live instances with a TCP connect; those that refuse
    /// leave the balancer for [`EJECT_FOR`].
    async fn probe(&mut self) -> bool {
        let mut addrs: Vec<String> = self
            .live
            .values()
            .filter_map(|e| e.uri().authority().map(|a| a.to_string()))
            .collect();
        addrs.sort();
        addrs.dedup();
        let results = futures_util::future::join_all(addrs.iter().map(|a| async move {
            let ok = matches!(
                tokio::time::timeout(PROBE_TIMEOUT, tokio::net::TcpStream::connect(a.as_str()))
                    .await,
                Ok(Ok(_))
            );
            (a.clone(), ok)
        }))
        .await;
        let dead: Vec<String> = results
            .into_iter()
            .filter(|(_, ok)| !ok)
            .map(|(a, _)| a)
            .collect();
        if dead.is_empty() {
            return true;
        }
        let keys: Vec<InstanceKey> = self
            .live
            .iter()
            .filter(|(_, e)| {
                e.uri()
                    .authority()
                    .is_some_and(|a| dead.iter().any(|d| d == a.as_str()))
            })
            .map(|(k, _)| k.clone())
            .collect();
        let until = Instant::now() + EJECT_FOR;
        for key in keys {
            if let Some(endpoint) = self.live.remove(&key) {
                tracing::debug!(instance = %key, "instance refused a connection: out of the balancer for {EJECT_FOR:?}");
                self.held.insert(key.clone(), (endpoint, until));
                if self.tx.send(Change::Remove(key)).await.is_err() {
                    return false;
                }
            }
        }
        true
    }

    /// Puts back the held keys whose time is up (discovery still lists
    /// them: it removed the others from `held`).
    async fn bring_back(&mut self) -> bool {
        let now = Instant::now();
        let due: Vec<InstanceKey> = self
            .held
            .iter()
            .filter(|(_, (_, until))| *until <= now)
            .map(|(k, _)| k.clone())
            .collect();
        for key in due {
            if let Some((endpoint, _)) = self.held.remove(&key) {
                self.live.insert(key.clone(), endpoint.clone());
                if self.tx.send(Change::Insert(key, endpoint)).await.is_err() {
                    return false;
                }
            }
        }
        true
    }
}

/// Sleeps until `at`, or forever without one.
async fn sleep_until(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}
