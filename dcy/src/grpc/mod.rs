//! gRPC clients balanced over a service's instances (feature `tonic`).
//!
//! [`Discovery::grpc`] is a [`GrpcChannel`]: a tower `Service` any tonic
//! client takes (`SquaresClient::new(channel)`, `HealthClient::new(channel)`),
//! that sends each call to the next instance in [`crate::Service::pick`]'s
//! weighted round-robin order, over one tonic `Channel` (one HTTP/2
//! connection) per instance. It follows the same live view as `pick()`: an
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
use std::fmt;
use std::future::Future;
use std::pin::Pin;
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
        let channels: Arc<ArcSwap<HashMap<Arc<str>, Conn>>> = Arc::default();
        let stop = self.hub().cancel_token().child_token();
        let task =
            self.hub()
                .tasks()
                .spawn(prune(service.clone(), Arc::clone(&channels), stop.clone()));
        GrpcChannel {
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

/// One instance's connection, and where it goes.
#[derive(Clone)]
struct Conn {
    authority: Box<str>,
    channel: Channel,
}

/// Whether `c` goes where `i` is (without allocating, in the common case).
fn same_place(c: &Conn, i: &Instance) -> bool {
    match i.dial() {
        Some(dial) => *c.authority == *dial,
        None => *c.authority == *i.authority(),
    }
}

struct Shared {
    service: Service,
    /// Each instance's channel, by ID.
    channels: Arc<ArcSwap<HashMap<Arc<str>, Conn>>>,
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
#[derive(Clone)]
pub struct GrpcChannel {
    shared: Arc<Shared>,
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

    /// The next instance not ejected (failing that, any), with its channel.
    fn pick(&self) -> Option<(Arc<str>, Channel)> {
        let s = &self.shared;
        let map = s.channels.load();
        let found = s.service.choose_with(
            |i| !s.ejected.is_ejected(&i.id),
            |_| true,
            |i| match map.get_key_value(i.id.as_str()) {
                Some((id, c)) if same_place(c, i) => Ok((Arc::clone(id), c.channel.clone())),
                _ => Err(Arc::clone(i)),
            },
        )?;
        match found {
            Ok(picked) => Some(picked),
            Err(inst) => self.connect(&inst),
        }
    }

    /// Makes (once) the channel of an instance seen for the first time.
    fn connect(&self, inst: &Instance) -> Option<(Arc<str>, Channel)> {
        let s = &self.shared;
        let _one = s.creating.lock().unwrap_or_else(PoisonError::into_inner);
        let authority = inst.authority();
        if let Some((id, c)) = s.channels.load().get_key_value(inst.id.as_str()) {
            if same_place(c, inst) {
                return Some((Arc::clone(id), c.channel.clone()));
            }
        }
        let endpoint = match Endpoint::from_shared(format!("http://{authority}")) {
            Ok(e) => (s.configure)(e.connect_timeout(Duration::from_secs(2))),
            Err(e) => {
                tracing::warn!(instance = %inst.id, error = %e, "skipping an instance");
                s.ejected.eject(&inst.id);
                return None;
            }
        };
        let conn = Conn {
            authority: authority.into_boxed_str(),
            channel: endpoint.connect_lazy(),
        };
        let id: Arc<str> = Arc::from(inst.id.as_str());
        let channel = conn.channel.clone();
        s.channels.rcu(|map| {
            let mut map = HashMap::clone(map);
            map.insert(Arc::clone(&id), conn.clone());
            map
        });
        Some((id, channel))
    }
}

type Request = http::Request<tonic::body::Body>;
type Response = http::Response<tonic::body::Body>;

impl tower_service::Service<Request> for GrpcChannel {
    type Response = Response;
    type Error = BoxError;
    type Future = Pin<Box<dyn Future<Output = Result<Response, BoxError>> + Send + 'static>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        // Each call waits for its instance's channel.
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: Request) -> Self::Future {
        let Some((id, mut channel)) = self.pick() else {
            let s = &self.shared.service;
            let why = if s.is_ready() {
                "no healthy instance"
            } else {
                "no data yet"
            };
            let status = tonic::Status::unavailable(format!("{}: {why}", s.name()));
            return Box::pin(async move { Err(Box::new(status) as BoxError) });
        };
        let shared = Arc::clone(&self.shared);
        Box::pin(async move {
            let result = async {
                futures_util::future::poll_fn(|cx| {
                    tower_service::Service::poll_ready(&mut channel, cx)
                })
                .await?;
                tower_service::Service::call(&mut channel, req).await
            }
            .await;
            result.map_err(|e| {
                tracing::debug!(instance = %id, error = %e, "call failed at the transport: skipping the instance");
                shared.ejected.eject(&id);
                Box::new(e) as BoxError
            })
        })
    }
}

/// Closes the channels of instances that left discovery, on each change.
async fn prune(
    service: Service,
    channels: Arc<ArcSwap<HashMap<Arc<str>, Conn>>>,
    stop: CancellationToken,
) {
    let mut updates = Box::pin(service.updates());
    loop {
        let now = tokio::select! {
            _ = stop.cancelled() => return,
            next = updates.next() => match next {
                Some(now) => now,
                None => return,
            },
        };
        let gone = channels
            .load()
            .keys()
            .any(|id| !now.as_slice().iter().any(|i| i.id == **id));
        if gone {
            channels.rcu(|map| {
                map.iter()
                    .filter(|(id, _)| now.as_slice().iter().any(|i| i.id == ***id))
                    .map(|(id, c)| (Arc::clone(id), c.clone()))
                    .collect::<HashMap<_, _>>()
            });
        }
    }
}
