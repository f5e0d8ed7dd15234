//! gRPC clients balanced over a service's instances (feature `tonic`).
//!
//! [`Discovery::grpc`] is a [`GrpcChannel`]: a tower `Service` any tonic
//! client takes (`SquaresClient::new(channel)`, `HealthClient::new(channel)`),
//! that sends each call over one tonic `Channel` (one HTTP/2 connection)
//! per instance. The instance is the one with fewer calls in flight (for
//! its weight) of the next two in [`crate::Service::pick`]'s weighted
//! round-robin order: one caller at a time goes round-robin, concurrent
//! callers keep each connection equally busy, and a stuck instance does
//! not hold every other call (taking instances strictly in turn, call by
//! call, costs calls per second against callers on fixed connections:
//! `benches/results/grpc.md` measures both). It follows the same live view as `pick()`: an
//! instance whose check turns critical gets no call from the next one on,
//! and its connection is closed; a new instance gets its share at once.
//! An instance whose call failed at the transport (connection refused,
//! reset) is skipped for [`crate::net::EJECT_FOR`], as the HTTP client
//! skips it, so that a caller retrying a failed idempotent call reaches a
//! live instance: the example's worker is killed under load with no failed
//! call.
//!
//! [`Discovery::grpc_p2c`] ([`p2c`]) is the same fed into tonic's own
//! balancer (`Channel::balance_channel`, from the tower `Discover` of
//! [`crate::discover`]), for code that wants a plain
//! `tonic::transport::Channel`; tonic's balancer costs more per call.
//!
//! The task that closes the connections of instances that left belongs to
//! the channel: it ends when the last clone is dropped (signalled), at
//! [`GrpcChannel::shutdown`] (awaited), and when the discovery shuts down.
//!
//! ```no_run
//! # async fn demo() -> dcy::Result<()> {
//! let discovery = dcy::Discovery::from_env()?;
//! let channel = discovery.grpc("worker"); // http://<instance> for each instance
//! // Any tonic client takes it: `SquaresClient::new(channel.clone())`.
//! # let _ = &channel;
//! channel.shutdown().await;
//! discovery.shutdown().await;
//! # Ok(())
//! # }
//! ```

pub mod p2c;

pub use p2c::P2cChannel;

use std::collections::HashMap;
use std::collections::HashSet;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll};
use std::time::Duration;

use arc_swap::ArcSwap;
use futures_util::StreamExt;
use tokio::task::JoinHandle;
use tokio_util::sync::{CancellationToken, DropGuard};
use tonic::transport::{Channel, Endpoint};

use crate::discovery::{Discovery, Instance, Service};
use crate::net::Ejections;

/// What a call fails with: tonic's transport error, or a `tonic::Status`
/// (`UNAVAILABLE` when there is no instance), boxed as tonic clients take it.
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

type Configure = Arc<dyn Fn(Endpoint) -> Endpoint + Send + Sync>;

impl Discovery {
    /// A gRPC channel over the instances of `name` (`http://address:port`,
    /// 2 s to connect). See [`crate::grpc`].
    ///
    /// # Panics
    ///
    /// Outside a Tokio runtime.
    pub fn grpc(&self, name: &str) -> GrpcChannel {
        self.grpc_with(name, |e| e)
    }

    /// Like [`Discovery::grpc`], each instance's endpoint set up by
    /// `configure` (timeouts, keep-alive, TLS).
    ///
    /// # Panics
    ///
    /// Outside a Tokio runtime.
    pub fn grpc_with<C>(&self, name: &str, configure: C) -> GrpcChannel
    where
        C: Fn(Endpoint) -> Endpoint + Send + Sync + 'static,
    {
        let service = self.service_by_host(name);
        let channels: Arc<ArcSwap<Conns>> = Arc::default();
        let stop = self.hub().cancel_token().child_token();
        let task =
            self.hub()
                .tasks()
                .spawn(prune(service.clone(), Arc::clone(&channels), stop.clone()));
        GrpcChannel {
            local: HashMap::new(),
            picked: None,
            shared: Arc::new(Shared {
                service,
                channels,
                creating: Mutex::new(()),
                ejected: Ejections::default(),
                configure: Arc::new(configure),
                task: Mutex::new(Some(task)),
                _guard: stop.clone().drop_guard(),
                stop,
            }),
        }
    }
}

/// One instance's connection, where it goes, and its calls in flight.
struct Conn {
    authority: Box<str>,
    channel: Channel,
    /// Calls sent and not answered yet, by every clone.
    in_flight: AtomicUsize,
}

/// Counts a call in flight on its connection until it is answered or
/// dropped.
struct InFlight(Arc<Conn>);

impl InFlight {
    fn new(conn: Arc<Conn>) -> Self {
        conn.in_flight.fetch_add(1, Ordering::Relaxed);
        InFlight(conn)
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.in_flight.fetch_sub(1, Ordering::Relaxed);
    }
}

/// Each instance's connection, by ID.
type Conns = HashMap<Arc<str>, Arc<Conn>>;

/// Whether `c` goes where `i` is (without allocating, in the common case).
fn same_place(c: &Conn, i: &Instance) -> bool {
    match i.dial() {
        Some(dial) => *c.authority == *dial,
        None => *c.authority == *i.authority(),
    }
}

struct Shared {
    service: Service,
    channels: Arc<ArcSwap<Conns>>,
    /// Held while a channel is made (one per instance).
    creating: Mutex<()>,
    ejected: Ejections,
    configure: Configure,
    task: Mutex<Option<JoinHandle<()>>>,
    stop: CancellationToken,
    /// Stops the pruning task when the last clone is dropped.
    _guard: DropGuard,
}

/// Calls to a service's instances in pick order, each over its own tonic
/// channel; a tower `Service` any tonic client takes. Cheap to clone.
///
/// `poll_ready` picks the instance and waits for its channel, `call` sends
/// there, as tower's contract has it; each clone keeps its own handles on
/// the channels (a tonic `Channel` is a buffer whose handles each hold a
/// slot), so that a call costs what a call on a plain `Channel` costs, plus
/// the pick.
pub struct GrpcChannel {
    shared: Arc<Shared>,
    /// This clone's handles, with the connection each was cloned from.
    local: HashMap<Arc<str>, (Arc<Conn>, Channel)>,
    /// The instance `poll_ready` picked and made ready, for `call`.
    picked: Option<Arc<str>>,
}

impl Clone for GrpcChannel {
    fn clone(&self) -> Self {
        GrpcChannel {
            shared: Arc::clone(&self.shared),
            local: HashMap::new(),
            picked: None,
        }
    }
}

impl fmt::Debug for GrpcChannel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GrpcChannel")
            .field("service", &self.shared.service.name())
            .field("connections", &self.shared.channels.load().len())
            .finish_non_exhaustive()
    }
}

impl GrpcChannel {
    /// Stops the task that closes the connections of instances that left,
    /// and waits until it has ended. Calls still work.
    pub async fn shutdown(&self) {
        self.shared.stop.cancel();
        let task = self
            .shared
            .task
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        if let Some(task) = task {
            let _ = task.await;
        }
    }

    /// The service followed.
    pub fn service(&self) -> &Service {
        &self.shared.service
    }

    /// Of the next two instances not ejected (failing that, any), the one
    /// with fewer calls in flight for its weight, with its connection; an
    /// instance without a connection yet is taken at once.
    fn pick(&self) -> Option<(Arc<str>, Arc<Conn>)> {
        let s = &self.shared;
        let map = s.channels.load();
        let (first, second) = s.service.choose_two_with(
            |i| !s.ejected.is_ejected(&i.id),
            |_| true,
            |i| match map.get_key_value(i.id.as_str()) {
                Some((id, c)) if same_place(c, i) => {
                    Ok((Arc::clone(id), Arc::clone(c), i.weight()))
                }
                _ => Err(Arc::clone(i)),
            },
        )?;
        let first = match first {
            Ok(first) => first,
            Err(inst) => return self.connect(&inst),
        };
        let (id, conn, _) = match second {
            Some(Ok(second)) if busier(&first, &second) => second,
            _ => first,
        };
        Some((id, conn))
    }

    /// Makes (once) the channel of an instance seen for the first time.
    fn connect(&self, inst: &Instance) -> Option<(Arc<str>, Arc<Conn>)> {
        let s = &self.shared;
        let _one = s.creating.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some((id, c)) = s.channels.load().get_key_value(inst.id.as_str()) {
            if same_place(c, inst) {
                return Some((Arc::clone(id), Arc::clone(c)));
            }
        }
        let authority = inst.authority();
        let endpoint = match Endpoint::from_shared(format!("http://{authority}")) {
            Ok(e) => (s.configure)(e.connect_timeout(Duration::from_secs(2))),
            Err(e) => {
                tracing::warn!(instance = %inst.id, error = %e, "skipping an instance");
                s.ejected.eject(&inst.id);
                return None;
            }
        };
        let conn = Arc::new(Conn {
            authority: authority.into_boxed_str(),
            channel: endpoint.connect_lazy(),
            in_flight: AtomicUsize::new(0),
        });
        let id: Arc<str> = Arc::from(inst.id.as_str());
        s.channels.rcu(|map| {
            let mut map = HashMap::clone(map);
            map.insert(Arc::clone(&id), Arc::clone(&conn));
            map
        });
        Some((id, conn))
    }

    /// This clone's handle on `conn` (made from it when new or stale);
    /// handles of connections that are gone are dropped.
    fn local(&mut self, id: &Arc<str>, conn: &Arc<Conn>) -> &mut Channel {
        let shared_len = self.shared.channels.load().len();
        if self.local.len() > shared_len {
            let map = self.shared.channels.load();
            self.local
                .retain(|id, (c, _)| map.get(id).is_some_and(|now| Arc::ptr_eq(now, c)));
        }
        let entry = self
            .local
            .entry(Arc::clone(id))
            .or_insert_with(|| (Arc::clone(conn), conn.channel.clone()));
        if !Arc::ptr_eq(&entry.0, conn) {
            *entry = (Arc::clone(conn), conn.channel.clone());
        }
        &mut entry.1
    }
}

/// Whether `a` has more calls in flight than `b` for its weight
/// (`(calls + 1) / weight`, compared without dividing).
fn busier(a: &(Arc<str>, Arc<Conn>, u32), b: &(Arc<str>, Arc<Conn>, u32)) -> bool {
    let load = |c: &Conn| c.in_flight.load(Ordering::Relaxed) as u64 + 1;
    load(&a.1) * u64::from(b.2.max(1)) > load(&b.1) * u64::from(a.2.max(1))
}

type Request = http::Request<tonic::body::Body>;
type Response = http::Response<tonic::body::Body>;

fn unavailable(service: &Service) -> BoxError {
    let why = if service.is_ready() {
        "no healthy instance"
    } else {
        "no data yet"
    };
    Box::new(tonic::Status::unavailable(format!(
        "{}: {why}",
        service.name()
    )))
}

impl tower_service::Service<Request> for GrpcChannel {
    type Response = Response;
    type Error = BoxError;
    type Future = Pin<Box<dyn Future<Output = Result<Response, BoxError>> + Send + 'static>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        // Bounded: a failed instance is ejected, and each is tried once.
        for _ in 0..4 {
            let id = match self.picked.clone() {
                Some(id) => id,
                None => match self.pick() {
                    Some((id, conn)) => {
                        self.local(&id, &conn);
                        self.picked = Some(Arc::clone(&id));
                        id
                    }
                    // `call` says there is none.
                    None => return Poll::Ready(Ok(())),
                },
            };
            let Some((_, channel)) = self.local.get_mut(&id) else {
                self.picked = None;
                continue;
            };
            match tower_service::Service::poll_ready(channel, cx) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(Ok(())) => return Poll::Ready(Ok(())),
                Poll::Ready(Err(e)) => {
                    tracing::debug!(instance = %id, error = %e, "instance not ready: skipping it");
                    self.shared.ejected.eject(&id);
                    self.local.remove(&id);
                    self.picked = None;
                }
            }
        }
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: Request) -> Self::Future {
        let picked = self.picked.take();
        let local = picked.as_ref().and_then(|id| self.local.get_mut(id));
        let (Some(id), Some((conn, channel))) = (picked.clone(), local) else {
            let err = unavailable(&self.shared.service);
            return Box::pin(async move { Err(err) });
        };
        let in_flight = InFlight::new(Arc::clone(conn));
        let call = tower_service::Service::call(channel, req);
        let shared = Arc::clone(&self.shared);
        Box::pin(async move {
            let _in_flight = in_flight;
            call.await.map_err(|e| {
                tracing::debug!(instance = %id, error = %e, "call failed at the transport: skipping the instance");
                shared.ejected.eject(&id);
                Box::new(e) as BoxError
            })
        })
    }
}

/// Closes the channels of instances that left discovery, on each change.
async fn prune(service: Service, channels: Arc<ArcSwap<Conns>>, stop: CancellationToken) {
    let mut updates = Box::pin(service.updates());
    loop {
        let now = tokio::select! {
            _ = stop.cancelled() => return,
            next = updates.next() => match next {
                Some(now) => now,
                None => return,
            },
        };
        let here: HashSet<&str> = now.as_slice().iter().map(|i| i.id.as_str()).collect();
        let gone = channels.load().keys().any(|id| !here.contains(&**id));
        if gone {
            channels.rcu(|map| {
                map.iter()
                    .filter(|(id, _)| here.contains(&***id))
                    .map(|(id, c)| (Arc::clone(id), Arc::clone(c)))
                    .collect::<HashMap<_, _>>()
            });
        }
    }
}
