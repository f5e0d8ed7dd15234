//! The DNS server on threads of its own: a small runtime that answers UDP
//! and TCP queries, so that however many (or however large) the queries,
//! they never take a thread that answers HTTP or handles signals.

use std::time::Duration;

use futures_util::FutureExt as _;
use tokio::net::{TcpListener, UdpSocket};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use super::DnsHandler;

/// Worker threads of the DNS runtime.
const DNS_THREADS: usize = 2;
/// How long a TCP client may stay silent before its connection is closed.
const TCP_IDLE: Duration = Duration::from_secs(5);
/// How long queries in flight may take to finish at shutdown.
const SHUTDOWN_GRACE: Duration = Duration::from_millis(200);

/// Starts serving `udp` and `tcp` on a runtime of its own until `stop` is
/// cancelled; the task it returns (on the caller's runtime) ends when the
/// DNS threads have stopped.
pub(crate) fn spawn(
    handler: DnsHandler,
    udp: UdpSocket,
    tcp: TcpListener,
    stop: CancellationToken,
) -> std::io::Result<JoinHandle<()>> {
    // Moved off the caller's runtime: they are registered again on the DNS one.
    let udp = udp.into_std()?;
    let tcp = tcp.into_std()?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(DNS_THREADS)
        .thread_name("devagent-dns")
        .enable_all()
        .build()?;
    let (done_tx, done_rx) = tokio::sync::oneshot::channel::<()>();
    std::thread::Builder::new()
        .name("devagent-dns-main".into())
        .spawn(move || {
            runtime.block_on(async move {
                let (udp, tcp) = match (UdpSocket::from_std(udp), TcpListener::from_std(tcp)) {
                    (Ok(u), Ok(t)) => (u, t),
                    (Err(e), _) | (_, Err(e)) => {
                        tracing::error!(error = %e, "DNS sockets could not be registered: DNS is off");
                        return;
                    }
                };
                let mut server = hickory_server::ServerFuture::new(handler);
                server.register_socket(udp);
                server.register_listener(tcp, TCP_IDLE);
                stop.cancelled().await;
                // Stop listening (hickory cancels its accept loops when the
                // shutdown is first polled) and drop the server with its
                // tasks; no timer of this runtime is waited on, as its
                // threads may be busy with a flood of queries.
                let _ = server.shutdown_gracefully().now_or_never();
                drop(server);
            });
            // Queries in flight get SHUTDOWN_GRACE (a wait on this thread,
            // not on the runtime's timers); then they are dropped.
            runtime.shutdown_timeout(SHUTDOWN_GRACE);
            let _ = done_tx.send(());
        })?;
    Ok(tokio::spawn(async move {
        let _ = done_rx.await;
    }))
}
