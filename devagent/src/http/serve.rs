//! The accept loop: one HTTP/1.1 connection task per client, kept small so
//! that thousands of blocking queries can be held open; the connection
//! limits (per client IP, as Consul's `http_max_conns_per_client`, and for
//! all clients, below the open-file limit); the read timeouts of request
//! heads and bodies; and a shutdown that lets answers in flight finish for a
//! moment and then drops every connection.

use std::collections::HashMap;
use std::convert::Infallible;
use std::future::Future;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::body::Body;
use axum::extract::Request;
use axum::Router;
use hyper::body::{Frame, Incoming, SizeHint};
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinSet;
use tower::Service;

use crate::limits::Limits;

/// How long answers in flight may take to finish once shutdown starts;
/// then every connection is dropped.
pub(crate) const SHUTDOWN_GRACE: Duration = Duration::from_millis(400);
/// Refused connections being answered at once; past that they are closed at once.
const REFUSALS_IN_FLIGHT: usize = 64;
/// How long a refused connection is given to take its answer (Consul: 10 ms to write).
const REFUSAL_TIME: Duration = Duration::from_millis(50);

/// The answer of go-connlimit (Consul) to a client over its connection limit.
const TOO_MANY_PER_CLIENT: &str =
    "Your IP is issuing too many concurrent connections, please rate limit your calls\n";

/// Serves `router` on `listener` until `shutdown` completes; reads that
/// `app`'s read cache holds are answered before routing (see `fast`).
pub(crate) async fn serve(
    listener: TcpListener,
    app: super::App,
    router: Router,
    limits: Limits,
    open_files: u64,
    shutdown: impl Future<Output = ()>,
) {
    let conns = Arc::new(ConnCounter::new(
        limits.http_max_conns_per_client,
        limits.global_conns(open_files),
    ));
    let refusals = Arc::new(AtomicUsize::new(0));
    let graceful = GracefulShutdown::new();
    let mut tasks = JoinSet::new();
    tokio::pin!(shutdown);
    loop {
        let (stream, peer) = tokio::select! {
            _ = &mut shutdown => break,
            r = listener.accept() => match r {
                Ok(conn) => conn,
                Err(e) => {
                    // Out of file descriptors and the like: back off briefly.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        while tasks.try_join_next().is_some() {}
        let guard = match conns.acquire(peer.ip()) {
            Ok(g) => g,
            Err(refusal) => {
                refuse(stream, peer, refusal, &refusals, &mut tasks);
                continue;
            }
        };
        let _ = stream.set_nodelay(true);
        let router = router.clone();
        let app = app.clone();
        let body_timeout = limits.http_read_timeout;
        let svc = hyper::service::service_fn(move |req: Request<Incoming>| {
            // A read the cache holds is answered at once; the rest is routed.
            let routed = match super::fast::answer(&app, &req) {
                Some(answer) => Err(answer),
                None => Ok(router.clone()),
            };
            async move {
                let mut router = match routed {
                    Ok(router) => router,
                    Err(answer) => return Ok::<_, Infallible>(answer),
                };
                let req = req.map(|b| Body::new(TimedBody::new(b, body_timeout)));
                Ok::<_, Infallible>(router.call(req).await.unwrap_or_else(|e| match e {}))
            }
        });
        let mut builder = hyper::server::conn::http1::Builder::new();
        builder
            .timer(TokioTimer::new())
            .keep_alive(true)
            .header_read_timeout(limits.http_read_header_timeout);
        if limits.http_max_header_bytes > 0 {
            builder.max_buf_size(limits.http_max_header_bytes.max(8192) + 4096);
        }
        let conn = graceful.watch(builder.serve_connection(TokioIo::new(stream), svc));
        tasks.spawn(async move {
            if let Err(e) = conn.await {
                tracing::trace!(error = %e, "connection ended");
            }
            drop(guard);
        });
    }
    drop(listener);
    if tokio::time::timeout(SHUTDOWN_GRACE, graceful.shutdown())
        .await
        .is_err()
    {
        tracing::info!(
            open = tasks.len(),
            "connections still busy after {SHUTDOWN_GRACE:?}: closing them"
        );
    }
    tasks.abort_all();
    while tasks.join_next().await.is_some() {}
}

/// Why a connection was not served.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Refusal {
    /// Over `http_max_conns_per_client`.
    PerClient(usize),
    /// Over the global limit.
    Global(usize),
}

/// Answers a refused connection (bounded in count and time) and closes it.
fn refuse(
    mut stream: TcpStream,
    peer: SocketAddr,
    refusal: Refusal,
    in_flight: &Arc<AtomicUsize>,
    tasks: &mut JoinSet<()>,
) {
    match refusal {
        Refusal::PerClient(limit) => tracing::debug!(
            client = %peer.ip(),
            limit,
            "too many connections from one client (limits.http_max_conns_per_client)"
        ),
        Refusal::Global(limit) => tracing::warn!(
            client = %peer.ip(),
            limit,
            "too many connections in all (limits.http_max_conns)"
        ),
    }
    if in_flight.fetch_add(1, Ordering::AcqRel) >= REFUSALS_IN_FLIGHT {
        in_flight.fetch_sub(1, Ordering::AcqRel);
        return; // dropped: closed at once
    }
    let in_flight = Arc::clone(in_flight);
    tasks.spawn(async move {
        let (status, body) = match refusal {
            Refusal::PerClient(_) => ("429 Too Many Requests", TOO_MANY_PER_CLIENT.to_string()),
            Refusal::Global(limit) => (
                "503 Service Unavailable",
                format!(
                    "The agent is serving its limit of {limit} connections (limits.http_max_conns); try again later\n"
                ),
            ),
        };
        let resp = format!(
            "HTTP/1.1 {status}\r\nContent-Type: text/plain\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        );
        let _ = tokio::time::timeout(REFUSAL_TIME, async {
            stream.write_all(resp.as_bytes()).await?;
            stream.shutdown().await?;
            // Read what the client sent, so that closing does not reset the
            // connection before it has read the answer.
            let mut buf = [0u8; 4096];
            while stream.read(&mut buf).await? > 0 {}
            Ok::<_, std::io::Error>(())
        })
        .await;
        in_flight.fetch_sub(1, Ordering::AcqRel);
    });
}

/// Open connections, per client IP and in all.
#[derive(Debug)]
struct ConnCounter {
    per_client: usize,
    global: usize,
    total: AtomicUsize,
    by_ip: Mutex<HashMap<IpAddr, usize>>,
}

/// One counted connection; uncounted when dropped.
#[derive(Debug)]
struct ConnGuard {
    counter: Arc<ConnCounter>,
    ip: IpAddr,
}

impl ConnCounter {
    fn new(per_client: usize, global: usize) -> ConnCounter {
        ConnCounter {
            per_client,
            global,
            total: AtomicUsize::new(0),
            by_ip: Mutex::new(HashMap::new()),
        }
    }

    fn acquire(self: &Arc<Self>, ip: IpAddr) -> Result<ConnGuard, Refusal> {
        let mut by_ip = self.by_ip.lock().unwrap_or_else(PoisonError::into_inner);
        if self.total.load(Ordering::Acquire) >= self.global {
            return Err(Refusal::Global(self.global));
        }
        let n = by_ip.entry(ip).or_insert(0);
        if self.per_client > 0 && *n >= self.per_client {
            return Err(Refusal::PerClient(self.per_client));
        }
        *n += 1;
        self.total.fetch_add(1, Ordering::AcqRel);
        Ok(ConnGuard {
            counter: Arc::clone(self),
            ip,
        })
    }
}

impl Drop for ConnGuard {
    fn drop(&mut self) {
        let mut by_ip = self
            .counter
            .by_ip
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if let Some(n) = by_ip.get_mut(&self.ip) {
            *n -= 1;
            if *n == 0 {
                by_ip.remove(&self.ip);
            }
        }
        self.counter.total.fetch_sub(1, Ordering::AcqRel);
    }
}

/// The body of a request was not received within `limits.http_read_timeout`.
#[derive(Debug, thiserror::Error)]
#[error("request body not received within {0:?} (limits.http_read_timeout)")]
pub(crate) struct BodyTimeout(pub(crate) Duration);

/// A request body that must arrive within a deadline set when its head was read.
struct TimedBody {
    inner: Incoming,
    timeout: Duration,
    deadline: Pin<Box<tokio::time::Sleep>>,
}

impl TimedBody {
    fn new(inner: Incoming, timeout: Duration) -> TimedBody {
        TimedBody {
            inner,
            timeout,
            deadline: Box::pin(tokio::time::sleep(timeout)),
        }
    }
}

impl hyper::body::Body for TimedBody {
    type Data = bytes::Bytes;
    type Error = Box<dyn std::error::Error + Send + Sync>;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Self::Data>, Self::Error>>> {
        if let Poll::Ready(frame) = Pin::new(&mut self.inner).poll_frame(cx) {
            return Poll::Ready(frame.map(|f| f.map_err(Into::into)));
        }
        if self.deadline.as_mut().poll(cx).is_ready() {
            return Poll::Ready(Some(Err(Box::new(BodyTimeout(self.timeout)))));
        }
        Poll::Pending
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_per_client_and_in_all() {
        let c = Arc::new(ConnCounter::new(2, 3));
        let a: IpAddr = "127.0.0.1".parse().unwrap();
        let b: IpAddr = "127.0.0.2".parse().unwrap();
        let a1 = c.acquire(a).unwrap();
        let _a2 = c.acquire(a).unwrap();
        assert_eq!(c.acquire(a).unwrap_err(), Refusal::PerClient(2));
        let _b1 = c.acquire(b).unwrap();
        assert_eq!(c.acquire(b).unwrap_err(), Refusal::Global(3));
        drop(a1);
        let _a3 = c.acquire(a).unwrap();
        let off = Arc::new(ConnCounter::new(0, 10));
        let held: Vec<_> = (0..10).map(|_| off.acquire(a).unwrap()).collect();
        assert_eq!(off.acquire(a).unwrap_err(), Refusal::Global(10));
        drop(held);
        assert!(off.by_ip.lock().unwrap().is_empty());
    }
}
