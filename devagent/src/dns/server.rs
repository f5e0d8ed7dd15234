//! The DNS server on threads of its own: a small runtime that answers UDP
//! and TCP queries, so that however many (or however large) the queries,
//! they never take a thread that answers HTTP or handles signals.
//!
//! UDP is read by one loop that answers the queries whose answer is
//! prepared at once, from the bytes (see `wire`): no task, no channel, no
//! decoding into records. The others (and every TCP query) go through
//! hickory's request types and the handler, each on a task of its own.

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use futures_util::FutureExt as _;
use hickory_proto::op::{Header, MessageType, ResponseCode};
use hickory_proto::rr::Record;
use hickory_proto::serialize::binary::{BinDecodable, BinDecoder, BinEncodable, BinEncoder};
use hickory_proto::xfer::Protocol;
use hickory_proto::ProtoErrorKind;
use hickory_server::authority::MessageRequest;
use hickory_server::authority::MessageResponse;
use hickory_server::server::{Request, RequestHandler, ResponseHandler, ResponseInfo};
use tokio::net::{TcpListener, UdpSocket};
use tokio::task::{JoinHandle, JoinSet};
use tokio_util::sync::CancellationToken;

use super::DnsHandler;

/// Bytes of a UDP query read at most (hickory's receive buffer).
const MAX_QUERY: usize = 4096;

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
                let udp_loop = tokio::spawn(serve_udp(handler.clone(), udp, stop.clone()));
                let mut server = hickory_server::ServerFuture::new(handler);
                server.register_listener(tcp, TCP_IDLE);
                stop.cancelled().await;
                udp_loop.abort();
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

/// Reads UDP queries until `stop`: prepared answers at once, the rest on tasks.
async fn serve_udp(handler: DnsHandler, socket: UdpSocket, stop: CancellationToken) {
    let (handler, socket) = (Arc::new(handler), Arc::new(socket));
    let mut buf = vec![0u8; MAX_QUERY];
    let (mut lower, mut out) = (Vec::with_capacity(256), Vec::with_capacity(4096));
    let mut tasks = JoinSet::new();
    loop {
        let (n, src) = tokio::select! {
            biased;
            _ = stop.cancelled() => break,
            r = socket.recv_from(&mut buf) => match r {
                Ok(r) => r,
                Err(e) => {
                    // ICMP port unreachable of an earlier reply and the like.
                    tracing::debug!(error = %e, "receiving a DNS query failed");
                    continue;
                }
            },
        };
        // An address that cannot be answered (hickory's sanitize_src_address).
        if src.port() == 0 || src.ip().is_unspecified() || src.ip().is_multicast() {
            continue;
        }
        if handler.answer_fast(&buf[..n], &mut lower, &mut out) {
            if let Err(e) = socket.send_to(&out, src).await {
                tracing::debug!(error = %e, "sending a DNS answer failed");
            }
            continue;
        }
        let packet = buf[..n].to_vec();
        let (handler, socket) = (Arc::clone(&handler), Arc::clone(&socket));
        tasks.spawn(async move { answer_udp(handler, socket, packet, src).await });
        while tasks.try_join_next().is_some() {}
    }
}

/// Answers one UDP query the general way (what hickory's server does with it).
async fn answer_udp(
    handler: Arc<DnsHandler>,
    socket: Arc<UdpSocket>,
    packet: Vec<u8>,
    src: SocketAddr,
) {
    let mut decoder = BinDecoder::new(&packet);
    let responder = UdpResponder { socket, dst: src };
    match MessageRequest::read(&mut decoder) {
        Ok(message) if message.message_type() == MessageType::Query => {
            let request = Request::new(message, src, Protocol::Udp);
            handler.handle_request(&request, responder).await;
        }
        // Answers are not answered (no reflection).
        Ok(_) => {}
        Err(e) => {
            // A header that parsed: FORMERR, as hickory answers.
            if let ProtoErrorKind::FormError { header, .. } = e.kind() {
                if header.message_type() == MessageType::Query {
                    let mut h = Header::response_from_request(header);
                    h.set_response_code(ResponseCode::FormErr);
                    if let Ok(bytes) = h.to_bytes() {
                        let _ = responder.socket.send_to(&bytes, src).await;
                    }
                }
            }
        }
    }
}

/// Sends a general answer back over the UDP socket.
#[derive(Clone)]
struct UdpResponder {
    socket: Arc<UdpSocket>,
    dst: SocketAddr,
}

#[async_trait::async_trait]
impl ResponseHandler for UdpResponder {
    async fn send_response<'a>(
        &mut self,
        response: MessageResponse<
            '_,
            'a,
            impl Iterator<Item = &'a Record> + Send + 'a,
            impl Iterator<Item = &'a Record> + Send + 'a,
            impl Iterator<Item = &'a Record> + Send + 'a,
            impl Iterator<Item = &'a Record> + Send + 'a,
        >,
    ) -> io::Result<ResponseInfo> {
        let id = response.header().id();
        // The size the client can take (hickory's limit; replies are fitted before).
        let max = response
            .get_edns()
            .as_ref()
            .map_or(MAX_QUERY as u16, |e| e.max_payload());
        let mut buffer = Vec::with_capacity(512);
        let mut encoder = BinEncoder::new(&mut buffer);
        encoder.set_max_size(max);
        let info = match response.destructive_emit(&mut encoder) {
            Ok(info) => info,
            Err(e) => {
                tracing::debug!(error = %e, "encoding a DNS answer failed: SERVFAIL");
                buffer.clear();
                let mut h = Header::new();
                h.set_id(id);
                h.set_message_type(MessageType::Response);
                h.set_response_code(ResponseCode::ServFail);
                let mut encoder = BinEncoder::new(&mut buffer);
                h.emit(&mut encoder).map_err(io::Error::other)?;
                ResponseInfo::from(h)
            }
        };
        self.socket.send_to(&buffer, self.dst).await?;
        Ok(info)
    }
}
