//! The lean client against scripted loopback servers: framing, reuse, stale
//! connections and the answers a broken server gives.
#![allow(clippy::unwrap_used)]

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use super::*;

/// Reads one request head (up to the blank line) from `s`.
async fn read_request(s: &mut TcpStream) -> Option<String> {
    let mut buf = Vec::new();
    let mut byte = [0u8; 1];
    while !buf.ends_with(b"\r\n\r\n") {
        match s.read(&mut byte).await {
            Ok(1) => buf.push(byte[0]),
            _ => return None,
        }
    }
    Some(String::from_utf8_lossy(&buf).into_owned())
}

/// A server that answers every request on every connection with the parts
/// `answer` gives for (connection number, request number on it), written one
/// after another; `None` closes the connection. Counts connections.
async fn server<F>(answer: F) -> (String, Arc<AtomicUsize>)
where
    F: Fn(usize, usize, &str) -> Option<Vec<&'static [u8]>> + Send + Sync + 'static,
{
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    let conns = Arc::new(AtomicUsize::new(0));
    let count = Arc::clone(&conns);
    let answer = Arc::new(answer);
    tokio::spawn(async move {
        for _ in 0..100 {
            let Ok((mut s, _)) = listener.accept().await else {
                return;
            };
            let n = count.fetch_add(1, Ordering::SeqCst);
            let answer = Arc::clone(&answer);
            tokio::spawn(async move {
                for r in 0..100 {
                    let Some(req) = read_request(&mut s).await else {
                        return;
                    };
                    let Some(parts) = answer(n, r, &req) else {
                        return;
                    };
                    for p in parts {
                        if s.write_all(p).await.is_err() {
                            return;
                        }
                        s.flush().await.unwrap();
                        tokio::time::sleep(Duration::from_millis(2)).await;
                    }
                }
            });
        }
    });
    (addr, conns)
}

fn client(addr: &str) -> H1 {
    H1::new(Target::Tcp(addr.to_string()), addr.to_string())
}

#[tokio::test]
async fn content_length_answers_reuse_one_connection() {
    let (addr, conns) = server(|_, r, req| {
        assert!(req.starts_with("GET /v1/kv/a?index=7 HTTP/1.1\r\nHost: "));
        assert!(req.contains("X-Consul-Token: t\r\n"));
        Some(if r == 0 {
            vec![
                b"HTTP/1.1 200 OK\r\nX-Consul-Index: 9\r\nContent-Length: 5\r\n\r\nhel",
                b"lo",
            ]
        } else {
            vec![b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n"]
        })
    })
    .await;
    let c = client(&addr);
    let a = c
        .get("/v1/kv/a?index=7", "X-Consul-Token: t\r\n")
        .await
        .unwrap();
    assert_eq!(a.status, 200);
    assert_eq!(&a.body[..], b"hello");
    assert_eq!(a.headers["x-consul-index"], "9");
    let b = c
        .get("/v1/kv/a?index=7", "X-Consul-Token: t\r\n")
        .await
        .unwrap();
    assert_eq!(b.status, 404);
    assert!(b.body.is_empty());
    assert_eq!(
        conns.load(Ordering::SeqCst),
        1,
        "the second read reused the connection"
    );
}

#[tokio::test]
async fn chunked_bodies_with_trailers_and_split_writes_decode() {
    let (addr, _) = server(|_, _, _| {
        Some(vec![
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n4\r\nwi",
            b"ki\r\n5;ext=1\r\npedia\r\n",
            b"0\r\nX-Trailer: yes\r\n",
            b"\r\n",
        ])
    })
    .await;
    let c = client(&addr);
    for _ in 0..3 {
        let a = c.get("/x", "").await.unwrap();
        assert_eq!(&a.body[..], b"wikipedia");
    }
}

#[tokio::test]
async fn informational_answers_are_skipped() {
    let (addr, _) = server(|_, _, _| {
        Some(vec![
            b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok",
        ])
    })
    .await;
    let a = client(&addr).get("/x", "").await.unwrap();
    assert_eq!((a.status.as_u16(), &a.body[..]), (200, &b"ok"[..]));
}

#[tokio::test]
async fn a_connection_the_server_closed_is_replaced_once() {
    // Each connection answers one request and then closes: a pooled
    // connection is stale by the next read.
    let (addr, conns) = server(|_, r, _| {
        (r == 0).then(|| vec![&b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nx"[..]])
    })
    .await;
    let c = client(&addr);
    for _ in 0..3 {
        assert_eq!(&c.get("/x", "").await.unwrap().body[..], b"x");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(conns.load(Ordering::SeqCst), 3);
}

#[tokio::test]
async fn connection_close_and_http_1_0_are_not_reused() {
    let (addr, conns) = server(|n, _, _| {
        Some(vec![if n % 2 == 0 {
            &b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 1\r\n\r\na"[..]
        } else {
            &b"HTTP/1.0 200 OK\r\nContent-Length: 1\r\n\r\nb"[..]
        }])
    })
    .await;
    let c = client(&addr);
    assert_eq!(&c.get("/x", "").await.unwrap().body[..], b"a");
    assert_eq!(&c.get("/x", "").await.unwrap().body[..], b"b");
    assert_eq!(&c.get("/x", "").await.unwrap().body[..], b"a");
    assert_eq!(conns.load(Ordering::SeqCst), 3);
}

#[tokio::test]
async fn a_body_until_close_is_read_whole() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    tokio::spawn(async move {
        let (mut s, _) = listener.accept().await.unwrap();
        read_request(&mut s).await.unwrap();
        s.write_all(b"HTTP/1.1 200 OK\r\n\r\nuntil ").await.unwrap();
        s.write_all(b"the end").await.unwrap();
    });
    let a = client(&addr).get("/x", "").await.unwrap();
    assert_eq!(&a.body[..], b"until the end");
}

#[tokio::test]
async fn broken_answers_are_errors_that_say_what_broke() {
    let (addr, _) = server(|n, _, _| {
        Some(vec![match n {
            0 => &b"HTTP/1.1 two hundred\r\n\r\n"[..],
            1 => &b"HTTP/1.1 200 OK\r\nContent-Length: banana\r\n\r\n"[..],
            2 => &b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n"[..],
            _ => &b"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n"[..],
        }])
    })
    .await;
    let c = client(&addr);
    let mut texts = Vec::new();
    for _ in 0..4 {
        let e = c.get("/x", "").await.unwrap_err();
        assert!(matches!(e, Failure::Malformed(_)), "{e}");
        texts.push(e.to_string());
    }
    assert!(texts[1].contains("content-length"), "{texts:?}");
    assert!(texts[2].contains("chunk size"), "{texts:?}");
    assert!(texts[3].contains("transfer-encoding gzip"), "{texts:?}");
}

#[tokio::test]
async fn a_body_cut_short_is_a_transport_failure() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    tokio::spawn(async move {
        let (mut s, _) = listener.accept().await.unwrap();
        read_request(&mut s).await.unwrap();
        s.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nshort")
            .await
            .unwrap();
    });
    // Worth a retry, unlike a malformed answer.
    let cut = client(&addr).get("/x", "").await.unwrap_err();
    assert!(
        matches!(&cut, Failure::Io(e) if e.kind() == io::ErrorKind::UnexpectedEof),
        "{cut}"
    );
    assert!(
        cut.to_string().contains("after 5 of 10 body bytes"),
        "{cut}"
    );
}

#[tokio::test]
async fn an_endless_head_is_refused() {
    static LINE: [u8; 1024] = [b'a'; 1024];
    let (addr, _) = server(|_, _, _| {
        let mut parts: Vec<&'static [u8]> = vec![b"HTTP/1.1 200 OK\r\nX-Big: "];
        parts.extend(std::iter::repeat_n(&LINE[..], 80));
        Some(parts)
    })
    .await;
    let e = client(&addr).get("/x", "").await.unwrap_err();
    assert!(e.to_string().contains("response head over"), "{e}");
}

#[tokio::test]
async fn nobody_listening_is_an_io_failure() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    drop(listener);
    let e = client(&addr).get("/x", "").await.unwrap_err();
    assert!(
        matches!(&e, Failure::Io(io) if io.kind() == io::ErrorKind::ConnectionRefused),
        "{e}"
    );
}

#[tokio::test]
async fn unix_sockets_carry_reads() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("agent.sock");
    let listener = tokio::net::UnixListener::bind(&path).unwrap();
    tokio::spawn(async move {
        let (mut s, _) = listener.accept().await.unwrap();
        let mut buf = vec![0u8; 1024];
        let n = s.read(&mut buf).await.unwrap();
        assert!(String::from_utf8_lossy(&buf[..n]).contains("Host: localhost\r\n"));
        s.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nunix")
            .await
            .unwrap();
    });
    let c = H1::new(Target::Unix(path), "localhost".into());
    assert_eq!(&c.get("/x", "").await.unwrap().body[..], b"unix");
}

#[test]
fn dechunk_waits_for_whole_chunks() {
    let mut body = Vec::new();
    assert!(matches!(
        dechunk(b"3\r\nab", &mut body),
        Ok(Dechunk::More(0))
    ));
    assert!(body.is_empty());
    assert!(matches!(
        dechunk(b"3\r\nabc\r\n0\r\n", &mut body),
        Ok(Dechunk::More(8))
    ));
    assert_eq!(body, b"abc");
    body.clear();
    assert!(matches!(
        dechunk(b"3\r\nabc\r\n0\r\n\r\nEXTRA", &mut body),
        Ok(Dechunk::Done(13))
    ));
    assert!(matches!(
        dechunk(b"3\r\nabcXY", &mut Vec::new()),
        Err(Failure::Malformed(_))
    ));
}
