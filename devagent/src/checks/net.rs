//! UDP, gRPC health (`grpc.health.v1`) and HTTP/2 ping probes, as Consul's
//! `CheckUDP`, `CheckGRPC` and `CheckH2PING`.

use std::sync::Arc;
use std::time::Duration;

use bytes::{BufMut, Bytes, BytesMut};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::{TcpStream, UdpSocket};

use crate::types::Status;

/// Largest gRPC response body read.
const GRPC_BODY_MAX: usize = 64 * 1024;

/// `host:port[/service]` of a gRPC check: the address and the service.
pub(crate) fn parse_grpc_target(target: &str) -> Result<(String, String), String> {
    let (addr, service) = match target.split_once('/') {
        Some((a, s)) => (a, s),
        None => (target, ""),
    };
    if addr
        .rsplit_once(':')
        .is_none_or(|(h, p)| h.is_empty() || p.parse::<u16>().is_err())
    {
        return Err(format!(
            "GRPC target {target:?}: use host:port or host:port/service"
        ));
    }
    Ok((addr.to_string(), service.to_string()))
}

/// UDP: a datagram is sent; an answer or silence until the timeout is
/// passing, an ICMP refusal (a read error) is critical.
pub(super) async fn udp(addr: &str, timeout: Duration) -> (Status, String) {
    let work = async {
        let target = tokio::net::lookup_host(addr)
            .await?
            .next()
            .ok_or_else(|| std::io::Error::other("no address"))?;
        let bind = if target.is_ipv4() {
            "0.0.0.0:0"
        } else {
            "[::]:0"
        };
        let sock = UdpSocket::bind(bind).await?;
        sock.connect(target).await?;
        sock.send(b"test message").await?;
        Ok::<_, std::io::Error>(sock)
    };
    let sock = match tokio::time::timeout(timeout, work).await {
        Ok(Ok(s)) => s,
        Ok(Err(e)) => {
            return (
                Status::Critical,
                format!("Check socket connection failed: dial udp {addr}: {e}"),
            )
        }
        Err(_) => {
            return (
                Status::Critical,
                format!("Check socket connection failed: dial udp {addr}: i/o timeout"),
            )
        }
    };
    let mut buf = [0u8; 1024];
    match tokio::time::timeout(timeout, sock.recv(&mut buf)).await {
        Ok(Ok(_)) | Err(_) => (Status::Passing, format!("UDP connect {addr}: Success")),
        Ok(Err(e)) => (
            Status::Critical,
            format!("Check socket read failed: read udp {addr}: {e}"),
        ),
    }
}

/// TLS settings of a gRPC or H2PING probe.
#[derive(Debug, Clone)]
pub(super) struct Tls<'a> {
    pub(super) on: bool,
    pub(super) skip_verify: bool,
    pub(super) server_name: &'a str,
}

trait Io: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Io for T {}

/// Connects over TCP, then TLS (ALPN `h2`) when asked.
async fn connect(addr: &str, tls: &Tls<'_>) -> Result<Box<dyn Io>, String> {
    let tcp = TcpStream::connect(addr)
        .await
        .map_err(|e| format!("dial tcp {addr}: {e}"))?;
    let _ = tcp.set_nodelay(true);
    if !tls.on {
        return Ok(Box::new(tcp));
    }
    let host = if tls.server_name.is_empty() {
        addr.rsplit_once(':').map_or(addr, |(h, _)| h)
    } else {
        tls.server_name
    };
    let host = host.trim_start_matches('[').trim_end_matches(']');
    let name = rustls::pki_types::ServerName::try_from(host.to_string())
        .map_err(|e| format!("TLS server name {host:?}: {e}"))?;
    let mut config = super::tls::client_config(tls.skip_verify)?;
    config.alpn_protocols = vec![b"h2".to_vec()];
    let stream = tokio_rustls::TlsConnector::from(Arc::new(config))
        .connect(name, tcp)
        .await
        .map_err(|e| format!("TLS handshake with {addr}: {e}"))?;
    Ok(Box::new(stream))
}

/// The gRPC status names of `grpc.health.v1.HealthCheckResponse.ServingStatus`.
fn serving_status(n: u64) -> &'static str {
    match n {
        1 => "SERVING",
        2 => "NOT_SERVING",
        3 => "SERVICE_UNKNOWN",
        _ => "UNKNOWN",
    }
}

/// gRPC's status code names.
fn code_name(code: &str) -> &str {
    match code {
        "1" => "Canceled",
        "2" => "Unknown",
        "3" => "InvalidArgument",
        "4" => "DeadlineExceeded",
        "5" => "NotFound",
        "7" => "PermissionDenied",
        "8" => "ResourceExhausted",
        "9" => "FailedPrecondition",
        "12" => "Unimplemented",
        "13" => "Internal",
        "14" => "Unavailable",
        "16" => "Unauthenticated",
        other => other,
    }
}

/// A protobuf varint at the start of `b`: the value and its length.
fn varint(b: &[u8]) -> Option<(u64, usize)> {
    let mut v = 0u64;
    for (i, byte) in b.iter().enumerate().take(10) {
        v |= u64::from(byte & 0x7f) << (7 * i);
        if byte & 0x80 == 0 {
            return Some((v, i + 1));
        }
    }
    None
}

/// Field 1 (`status`) of a `HealthCheckResponse` (0, UNKNOWN, when absent).
pub(super) fn decode_status(mut msg: &[u8]) -> Result<u64, String> {
    let bad = || "malformed grpc.health.v1.HealthCheckResponse".to_string();
    let mut status = 0;
    while !msg.is_empty() {
        let (key, n) = varint(msg).ok_or_else(bad)?;
        msg = &msg[n..];
        match key & 7 {
            0 => {
                let (v, n) = varint(msg).ok_or_else(bad)?;
                msg = &msg[n..];
                if key >> 3 == 1 {
                    status = v;
                }
            }
            2 => {
                let (len, n) = varint(msg).ok_or_else(bad)?;
                let end = n.checked_add(usize::try_from(len).map_err(|_| bad())?);
                msg = msg.get(end.ok_or_else(bad)?..).ok_or_else(bad)?;
            }
            1 => msg = msg.get(8..).ok_or_else(bad)?,
            5 => msg = msg.get(4..).ok_or_else(bad)?,
            _ => return Err(bad()),
        }
    }
    Ok(status)
}

/// A gRPC frame holding a `HealthCheckRequest { service }`.
pub(super) fn request_frame(service: &str) -> Bytes {
    let mut msg = BytesMut::new();
    if !service.is_empty() {
        msg.put_u8(0x0a);
        let mut len = service.len() as u64;
        while len >= 0x80 {
            msg.put_u8((len as u8) | 0x80);
            len >>= 7;
        }
        msg.put_u8(len as u8);
        msg.put_slice(service.as_bytes());
    }
    let mut frame = BytesMut::with_capacity(5 + msg.len());
    frame.put_u8(0);
    frame.put_u32(msg.len() as u32);
    frame.put_slice(&msg);
    frame.freeze()
}

fn rpc_error(code: &str, desc: &str) -> String {
    format!("rpc error: code = {} desc = {desc}", code_name(code))
}

/// gRPC health: `Check` must answer `SERVING`.
pub(super) async fn grpc(target: &str, tls: Tls<'_>, timeout: Duration) -> (Status, String) {
    let result = tokio::time::timeout(timeout, grpc_call(target, &tls)).await;
    match result {
        Ok(Ok(())) => (Status::Passing, format!("gRPC check {target}: success")),
        Ok(Err(e)) => (Status::Critical, e),
        Err(_) => (
            Status::Critical,
            rpc_error("4", "context deadline exceeded"),
        ),
    }
}

async fn grpc_call(target: &str, tls: &Tls<'_>) -> Result<(), String> {
    let (addr, service) = parse_grpc_target(target)?;
    let io = connect(&addr, tls)
        .await
        .map_err(|e| rpc_error("14", &format!("connection error: {e}")))?;
    let (send, conn) = h2::client::handshake(io)
        .await
        .map_err(|e| rpc_error("14", &format!("connection error: {e}")))?;
    let call = async move {
        let scheme = if tls.on { "https" } else { "http" };
        let req = http::Request::post(format!("{scheme}://{addr}/grpc.health.v1.Health/Check"))
            .header("content-type", "application/grpc")
            .header("te", "trailers")
            .header("user-agent", "grpc-go/1.70.0 (devagent)")
            .body(())
            .map_err(|e| rpc_error("13", &e.to_string()))?;
        let mut send = send
            .clone()
            .ready()
            .await
            .map_err(|e| rpc_error("14", &e.to_string()))?;
        let (resp, mut stream) = send
            .send_request(req, false)
            .map_err(|e| rpc_error("14", &e.to_string()))?;
        stream
            .send_data(request_frame(&service), true)
            .map_err(|e| rpc_error("14", &e.to_string()))?;
        let resp = resp.await.map_err(|e| rpc_error("14", &e.to_string()))?;
        if resp.status() != http::StatusCode::OK {
            return Err(rpc_error(
                "14",
                &format!(
                    "unexpected HTTP status code received from server: {}",
                    resp.status()
                ),
            ));
        }
        let header_status = grpc_status(resp.headers());
        let mut body = resp.into_body();
        let mut buf = BytesMut::new();
        while let Some(chunk) = body.data().await {
            let chunk = chunk.map_err(|e| rpc_error("14", &e.to_string()))?;
            let _ = body.flow_control().release_capacity(chunk.len());
            if buf.len() + chunk.len() > GRPC_BODY_MAX {
                return Err(rpc_error("8", "response larger than 64 KiB"));
            }
            buf.extend_from_slice(&chunk);
        }
        let trailers = body
            .trailers()
            .await
            .map_err(|e| rpc_error("14", &e.to_string()))?;
        let status = header_status.or_else(|| trailers.as_ref().and_then(grpc_status));
        match status {
            Some((code, _)) if code == "0" => {}
            Some((code, msg)) => return Err(rpc_error(&code, &msg)),
            None => {
                return Err(rpc_error(
                    "13",
                    "server closed the stream without sending trailers",
                ))
            }
        }
        if buf.len() < 5 {
            return Err(rpc_error("13", "empty response"));
        }
        let len = u32::from_be_bytes([buf[1], buf[2], buf[3], buf[4]]) as usize;
        let msg = buf
            .get(5..5 + len)
            .ok_or_else(|| rpc_error("13", "short response"))?;
        let status = decode_status(msg).map_err(|e| rpc_error("13", &e))?;
        if status == 1 {
            Ok(())
        } else {
            Err(format!(
                "gRPC {target} serving status: {}",
                serving_status(status)
            ))
        }
    };
    tokio::select! {
        r = call => r,
        r = conn => Err(rpc_error("14", &match r {
            Ok(()) => "connection closed".to_string(),
            Err(e) => format!("connection error: {e}"),
        })),
    }
}

fn grpc_status(h: &http::HeaderMap) -> Option<(String, String)> {
    let code = h.get("grpc-status")?.to_str().ok()?.to_string();
    let msg = h
        .get("grpc-message")
        .and_then(|v| v.to_str().ok())
        .map(percent_decode)
        .unwrap_or_default();
    Some((code, msg))
}

fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' && i + 2 < b.len() {
            if let Ok(v) = u8::from_str_radix(&s[i + 1..i + 3], 16) {
                out.push(v);
                i += 3;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// HTTP/2 ping: a connection and one PING answered.
pub(super) async fn h2ping(addr: &str, tls: Tls<'_>, timeout: Duration) -> (Status, String) {
    let work = async {
        let io = connect(addr, &tls).await?;
        let (send, mut conn) = h2::client::handshake(io)
            .await
            .map_err(|e| format!("HTTP/2 handshake with {addr}: {e}"))?;
        let mut pinger = conn
            .ping_pong()
            .ok_or_else(|| "HTTP/2 ping already taken".to_string())?;
        let ping = async move {
            pinger
                .ping(h2::Ping::opaque())
                .await
                .map(|_| ())
                .map_err(|e| format!("HTTP/2 ping to {addr}: {e}"))
        };
        let r = tokio::select! {
            r = ping => r,
            r = &mut conn => Err(format!("HTTP/2 connection to {addr} closed: {}", match r {
                Ok(()) => "no error".to_string(),
                Err(e) => e.to_string(),
            })),
        };
        drop(send);
        r
    };
    match tokio::time::timeout(timeout, work).await {
        Ok(Ok(())) => (Status::Passing, "HTTP2 ping was successful".into()),
        Ok(Err(e)) => (Status::Critical, format!("Failed to ping server: {e}")),
        Err(_) => (
            Status::Critical,
            format!("Failed to ping server: {addr}: context deadline exceeded"),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn health_messages_round_trip() {
        let f = request_frame("svc");
        assert_eq!(&f[..], &[0, 0, 0, 0, 5, 0x0a, 3, b's', b'v', b'c']);
        assert_eq!(&request_frame("")[..], &[0, 0, 0, 0, 0]);
        assert_eq!(decode_status(&[0x08, 0x01]), Ok(1));
        assert_eq!(decode_status(&[]), Ok(0));
        assert_eq!(decode_status(&[0x12, 0x01, 0x00, 0x08, 0x02]), Ok(2));
        assert!(decode_status(&[0x12, 0x7f]).is_err());
        assert!(decode_status(&[0x08]).is_err());
    }

    #[test]
    fn grpc_targets() {
        assert_eq!(
            parse_grpc_target("127.0.0.1:50051/my.Svc"),
            Ok(("127.0.0.1:50051".into(), "my.Svc".into()))
        );
        assert!(parse_grpc_target("nohost").is_err());
        assert!(parse_grpc_target("h:notaport").is_err());
    }
}
