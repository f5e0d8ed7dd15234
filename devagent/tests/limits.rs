//! Hostile requests get a clear 4xx (or are closed) while the agent keeps
//! answering other clients: huge and slow bodies, slow heads, huge keys and
//! filters, and more connections than one client (or all) may hold.
//! Real sockets on 127.0.0.1; every wait is bounded.
#![allow(clippy::unwrap_used)]

mod support;

use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

use devagent::{Agent, Limits};
use support::{start, start_with, TestAgent};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};

const MIB: usize = 1 << 20;

/// A connection to the agent from `from` (any 127.0.0.0/8 address is loopback).
async fn connect_from(from: &str, to: SocketAddr) -> std::io::Result<TcpStream> {
    let sock = TcpSocket::new_v4()?;
    sock.bind(SocketAddr::new(from.parse::<IpAddr>().unwrap(), 0))?;
    sock.connect(to).await
}

/// Everything the server sends until it closes, or until `limit` passes.
async fn read_all(s: &mut TcpStream, limit: Duration) -> String {
    let mut out = Vec::new();
    let _ = tokio::time::timeout(limit, async {
        let mut buf = [0u8; 8192];
        loop {
            match s.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => out.extend_from_slice(&buf[..n]),
            }
        }
    })
    .await;
    String::from_utf8_lossy(&out).into_owned()
}

/// The response head and body to `head` (request line and headers, no body
/// sent unless given), read until the server closes or 3 s pass.
async fn raw(addr: SocketAddr, head: &str, body: &[u8]) -> String {
    let mut s = TcpStream::connect(addr).await.unwrap();
    s.write_all(head.as_bytes()).await.unwrap();
    if !body.is_empty() {
        let _ = s.write_all(body).await;
    }
    read_all(&mut s, Duration::from_secs(3)).await
}

fn status_of(resp: &str) -> u16 {
    resp.split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0)
}

/// Every key stored.
async fn kv_keys(a: &TestAgent) -> Vec<String> {
    let r = a.get("/v1/kv/?keys").await;
    serde_json::from_str(&r.body).unwrap_or_else(|e| panic!("{e}: {}", r.body))
}

/// `GET /v1/status/leader` answers within `within`.
async fn leader_answers(a: &TestAgent, within: Duration) {
    let t = Instant::now();
    let r = tokio::time::timeout(within, a.get("/v1/status/leader"))
        .await
        .expect("the agent answers other clients");
    assert_eq!(r.status, 200);
    assert!(t.elapsed() < within, "{:?}", t.elapsed());
}

fn limited(f: impl FnOnce(&mut Limits)) -> devagent::AgentBuilder {
    let mut l = Limits::default();
    f(&mut l);
    Agent::builder().limits(l)
}

#[tokio::test]
async fn a_40_mb_txn_is_refused_before_its_body_is_read() {
    let a = start().await;
    let addr = a.handle.http_addr();
    // Only the head is sent: the answer must not wait for the 40 MB.
    let t = Instant::now();
    let resp = raw(
        addr,
        &format!(
            "PUT /v1/txn HTTP/1.1\r\nHost: x\r\nContent-Length: {}\r\n\r\n",
            40 * MIB
        ),
        b"",
    )
    .await;
    assert_eq!(status_of(&resp), 413, "{resp}");
    assert!(
        resp.contains("Request body(41943040 bytes) too large, max size: 524288 bytes")
            && resp.contains("txn_max_req_len"),
        "{resp}"
    );
    assert!(t.elapsed() < Duration::from_secs(2), "{:?}", t.elapsed());
    // Chunked, with no length: cut off after 512 KiB.
    let op = format!(
        r#"{{"KV":{{"Verb":"set","Key":"big","Value":"{}"}}}},"#,
        "QUFB".repeat(1000)
    );
    let body = format!("[{}]", op.repeat(300)); // ~1.2 MB
    let r = a
        .http
        .put(format!("{}/v1/txn", a.base))
        .body(reqwest::Body::wrap_stream(futures_util::stream::iter(
            body.into_bytes()
                .chunks(64 * 1024)
                .map(|c| Ok::<_, std::io::Error>(c.to_vec()))
                .collect::<Vec<_>>(),
        )))
        .send()
        .await;
    if let Ok(r) = r {
        assert_eq!(r.status(), 413);
        let text = r.text().await.unwrap_or_default();
        assert!(
            text.is_empty() || text.contains("Request body too large, max size: 524288"),
            "{text}"
        );
    }
    assert!(kv_keys(&a).await.is_empty(), "nothing stored");
    leader_answers(&a, Duration::from_secs(1)).await;
    a.shutdown().await;
}

#[tokio::test]
async fn txn_ops_values_and_keys_are_bounded() {
    let a = start_with(limited(|l| l.kv_max_value_size = 1024)).await;
    let op = |k: &str, v: &str| format!(r#"{{"KV":{{"Verb":"set","Key":"{k}","Value":"{v}"}}}}"#);
    let ops: Vec<String> = (0..65).map(|i| op(&format!("k{i}"), "eA==")).collect();
    let r = a.put("/v1/txn", &format!("[{}]", ops.join(","))).await;
    assert_eq!(r.status, 413);
    assert_eq!(r.body, "Transaction contains too many operations (65 > 64)");
    // kv_max_value_size holds inside a transaction (2 KiB decoded > 1 KiB).
    let big = "QUFB".repeat(683);
    let r = a
        .put(
            "/v1/txn",
            &format!("[{},{}]", op("ok", "eA=="), op("big", &big)),
        )
        .await;
    assert_eq!(r.status, 413, "{}", r.body);
    assert_eq!(
        r.body,
        "Value for key \"big\" is too large (2049 > 1024 bytes)"
    );
    // A 2 MB key does not fit a 512 KiB transaction.
    let key = "k".repeat(2 * MIB);
    let r = a.put("/v1/txn", &format!("[{}]", op(&key, "eA=="))).await;
    assert_eq!(r.status, 413, "{}", &r.body[..r.body.len().min(200)]);
    // 64 small ones are fine.
    let ops: Vec<String> = (0..64).map(|i| op(&format!("k{i}"), "eA==")).collect();
    assert_eq!(
        a.put("/v1/txn", &format!("[{}]", ops.join(",")))
            .await
            .status,
        200
    );
    let keys = kv_keys(&a).await;
    assert_eq!(keys.len(), 64, "only the accepted transaction is stored");
    assert!(!keys.iter().any(|k| k == "ok" || k == "big"));
    a.shutdown().await;
}

#[tokio::test]
async fn kv_values_and_keys_are_bounded() {
    let a = start().await;
    let addr = a.handle.http_addr();
    let max = 512 * 1024;
    assert_eq!(a.put("/v1/kv/fits", &"x".repeat(max)).await.status, 200);
    let r = a.put("/v1/kv/over", &"x".repeat(max + 1)).await;
    assert_eq!(r.status, 413);
    assert!(
        r.body
            .starts_with("Request body(524289 bytes) too large, max size: 524288 bytes. See"),
        "{}",
        r.body
    );
    // Declared too large: answered without reading the body.
    let resp = raw(
        addr,
        &format!(
            "PUT /v1/kv/huge HTTP/1.1\r\nHost: x\r\nContent-Length: {}\r\n\r\n",
            40 * MIB
        ),
        b"",
    )
    .await;
    assert_eq!(status_of(&resp), 413, "{resp}");
    assert!(resp.contains("kv_max_value_size"), "{resp}");
    // A 2 MB key is over the request-head limit.
    let key = "k".repeat(2 * MIB);
    let resp = raw(
        addr,
        &format!("PUT /v1/kv/{key} HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\n\r\nx"),
        b"",
    )
    .await;
    assert_eq!(status_of(&resp), 431, "{}", &resp[..resp.len().min(200)]);
    assert_eq!(kv_keys(&a).await, ["fits"]);
    leader_answers(&a, Duration::from_secs(1)).await;
    a.shutdown().await;
}

#[tokio::test]
async fn deep_and_long_filters_get_a_400_naming_the_limit() {
    let a = start().await;
    a.register(r#"{"Name":"web","ID":"web1","Port":80}"#).await;
    let addr = a.handle.http_addr();
    // 100,000 pairs make a URL over the 64 KiB an HTTP request line may
    // have here: 414. Parentheses need no escaping in a query; '+' is a space.
    let deep = format!(
        "{}Service+==+web{}",
        "(".repeat(100_000),
        ")".repeat(100_000)
    );
    let resp = raw(
        addr,
        &format!(
            "GET /v1/agent/services?filter={deep} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
        ),
        b"",
    )
    .await;
    assert_eq!(status_of(&resp), 414, "{}", &resp[..resp.len().min(300)]);
    let deep = format!("{}Service+==+web{}", "(".repeat(30_000), ")".repeat(30_000));
    let resp = raw(
        addr,
        &format!(
            "GET /v1/agent/services?filter={deep} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
        ),
        b"",
    )
    .await;
    assert_eq!(status_of(&resp), 400, "{}", &resp[..resp.len().min(300)]);
    assert!(
        resp.contains("nested more than 64 levels") && resp.contains("the limit is 64"),
        "{resp}"
    );
    let flat = vec!["Service+==+web"; 3_000].join("+or+");
    let resp = raw(
        addr,
        &format!("GET /v1/health/service/web?filter={flat} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"),
        b"",
    )
    .await;
    assert_eq!(status_of(&resp), 400, "{}", &resp[..resp.len().min(300)]);
    assert!(resp.contains("the limit is 512"), "{resp}");
    let ok = a
        .get("/v1/agent/services?filter=((Service%20==%20web))")
        .await;
    assert_eq!(ok.status, 200);
    assert!(ok.body.contains("web1"));
    a.shutdown().await;
}

#[tokio::test]
async fn a_slow_body_is_cut_off_and_stores_nothing() {
    let a = start_with(limited(|l| {
        l.http_read_timeout = Duration::from_millis(800)
    }))
    .await;
    let addr = a.handle.http_addr();
    let s = TcpStream::connect(addr).await.unwrap();
    let (mut rd, mut wr) = s.into_split();
    wr.write_all(b"PUT /v1/kv/slow HTTP/1.1\r\nHost: x\r\nContent-Length: 20\r\n\r\n")
        .await
        .unwrap();
    let t = Instant::now();
    // One byte every 300 ms: the body would take 6 s.
    let writer = tokio::spawn(async move {
        for _ in 0..20 {
            tokio::time::sleep(Duration::from_millis(300)).await;
            if wr.write_all(b"x").await.is_err() {
                break;
            }
        }
    });
    let mut resp = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(3), rd.read_to_end(&mut resp)).await;
    writer.abort();
    let resp = String::from_utf8_lossy(&resp);
    assert_eq!(status_of(&resp), 408, "{resp}");
    assert!(resp.contains("limits.http_read_timeout"), "{resp}");
    assert!(t.elapsed() < Duration::from_secs(4));
    assert!(kv_keys(&a).await.is_empty(), "nothing stored");
    leader_answers(&a, Duration::from_secs(1)).await;
    a.shutdown().await;
}

#[tokio::test]
async fn a_slow_head_is_closed_while_others_are_served() {
    let a = start_with(limited(|l| {
        l.http_read_header_timeout = Duration::from_millis(800)
    }))
    .await;
    let addr = a.handle.http_addr();
    let mut slow = Vec::new();
    for _ in 0..50 {
        let mut s = TcpStream::connect(addr).await.unwrap();
        s.write_all(b"GET /v1/status/leader HTTP/1.1\r\n")
            .await
            .unwrap();
        slow.push(s);
    }
    let t = Instant::now();
    let mut closed = 0;
    for s in &mut slow {
        // One header byte every 200 ms never finishes the head in time.
        let mut ended = false;
        while t.elapsed() < Duration::from_secs(4) {
            if s.write_all(b"X").await.is_err() {
                ended = true;
                break;
            }
            let mut b = [0u8; 512];
            match tokio::time::timeout(Duration::from_millis(20), s.read(&mut b)).await {
                Ok(Ok(0)) | Ok(Err(_)) => {
                    ended = true;
                    break;
                }
                Ok(Ok(_)) => {
                    ended = true; // an error answer, then the close
                    break;
                }
                Err(_) => {}
            }
            leader_answers(&a, Duration::from_millis(500)).await;
        }
        closed += usize::from(ended);
    }
    assert_eq!(closed, 50, "every slow head was closed");
    assert!(t.elapsed() < Duration::from_secs(5), "{:?}", t.elapsed());
    a.shutdown().await;
}

#[tokio::test]
async fn one_client_gets_200_connections_and_a_429_after_them() {
    let a = start().await;
    let addr = a.handle.http_addr();
    let mut held = Vec::new();
    for _ in 0..200 {
        let mut s = connect_from("127.0.0.1", addr).await.unwrap();
        s.write_all(b"GET /v1/status/leader HTTP/1.1\r\nHost: x\r\n\r\n")
            .await
            .unwrap();
        let mut b = [0u8; 512];
        let n = tokio::time::timeout(Duration::from_secs(2), s.read(&mut b))
            .await
            .unwrap()
            .unwrap();
        assert!(
            b[..n].starts_with(b"HTTP/1.1 200"),
            "{}",
            String::from_utf8_lossy(&b[..n])
        );
        held.push(s); // kept alive, idle
    }
    let mut extra = connect_from("127.0.0.1", addr).await.unwrap();
    let _ = extra
        .write_all(b"GET /v1/status/leader HTTP/1.1\r\nHost: x\r\n\r\n")
        .await;
    let resp = read_all(&mut extra, Duration::from_secs(2)).await;
    assert!(
        resp.starts_with("HTTP/1.1 429 Too Many Requests")
            && resp.ends_with(
                "Your IP is issuing too many concurrent connections, please rate limit your calls\n"
            ),
        "{resp}"
    );
    // Another client is served at once.
    let mut other = connect_from("127.0.0.2", addr).await.unwrap();
    other
        .write_all(b"GET /v1/status/leader HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .await
        .unwrap();
    assert!(read_all(&mut other, Duration::from_secs(2))
        .await
        .starts_with("HTTP/1.1 200"));
    // A freed slot is usable again.
    drop(held.pop());
    let ok = tokio::time::timeout(Duration::from_secs(2), async {
        loop {
            let mut s = connect_from("127.0.0.1", addr).await.unwrap();
            s.write_all(b"GET /v1/status/leader HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
                .await
                .unwrap();
            if read_all(&mut s, Duration::from_secs(1))
                .await
                .starts_with("HTTP/1.1 200")
            {
                return;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await;
    assert!(
        ok.is_ok(),
        "the slot freed by a closed connection was not reused"
    );
    drop(held);
    a.shutdown().await;
}

#[tokio::test]
async fn twenty_thousand_connections_from_one_client_leave_others_served() {
    let a = start_with(limited(|l| l.http_max_conns = 400)).await;
    let addr = a.handle.http_addr();
    let flood = async {
        let mut held = Vec::new();
        let mut refused = 0usize;
        // 20,000 connection attempts, 64 at a time; refused ones are let go.
        let sem = std::sync::Arc::new(tokio::sync::Semaphore::new(64));
        let mut set = tokio::task::JoinSet::new();
        for _ in 0..20_000 {
            let permit = sem.clone().acquire_owned().await.unwrap();
            set.spawn(async move {
                let r = match connect_from("127.0.0.1", addr).await {
                    Err(_) => None,
                    Ok(mut s) => {
                        let mut b = [0u8; 64];
                        match tokio::time::timeout(Duration::from_millis(30), s.read(&mut b)).await
                        {
                            Err(_) => Some(s), // accepted and idle
                            Ok(_) => None,     // 429 or closed
                        }
                    }
                };
                drop(permit);
                r
            });
            while let Some(done) = set.try_join_next() {
                match done.unwrap() {
                    Some(s) => held.push(s),
                    None => refused += 1,
                }
            }
        }
        while let Some(done) = set.join_next().await {
            match done.unwrap() {
                Some(s) => held.push(s),
                None => refused += 1,
            }
        }
        (held, refused)
    };
    let others = async {
        let mut worst = Duration::ZERO;
        for _ in 0..40 {
            let t = Instant::now();
            let mut s = connect_from("127.0.0.3", addr).await.unwrap();
            s.write_all(b"GET /v1/status/leader HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
                .await
                .unwrap();
            let resp = read_all(&mut s, Duration::from_secs(2)).await;
            assert!(resp.starts_with("HTTP/1.1 200"), "{resp}");
            worst = worst.max(t.elapsed());
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        worst
    };
    let t = Instant::now();
    let ((held, refused), worst) = tokio::join!(flood, others);
    assert!(
        held.len() <= 200,
        "one client held {} connections",
        held.len()
    );
    assert!(refused >= 19_800, "{refused}");
    assert!(
        worst < Duration::from_millis(500),
        "another client waited {worst:?}"
    );
    eprintln!(
        "20,000 attempts in {:?}: {} held, {refused} refused; other client worst {worst:?}",
        t.elapsed(),
        held.len()
    );
    drop(held);
    a.shutdown().await;
}

#[tokio::test]
async fn the_global_limit_answers_503_to_every_client_over_it() {
    let a = start_with(limited(|l| {
        l.http_max_conns = 30;
        l.http_max_conns_per_client = 0;
    }))
    .await;
    let addr = a.handle.http_addr();
    let mut held = Vec::new();
    for i in 0..30 {
        let mut s = connect_from(&format!("127.0.1.{}", i % 5 + 1), addr)
            .await
            .unwrap();
        s.write_all(b"GET /v1/status/leader HTTP/1.1\r\nHost: x\r\n\r\n")
            .await
            .unwrap();
        let mut b = [0u8; 256];
        let n = s.read(&mut b).await.unwrap();
        assert!(b[..n].starts_with(b"HTTP/1.1 200"));
        held.push(s);
    }
    let mut over = connect_from("127.0.2.1", addr).await.unwrap();
    let resp = read_all(&mut over, Duration::from_secs(2)).await;
    assert!(resp.starts_with("HTTP/1.1 503"), "{resp}");
    assert!(resp.contains("limits.http_max_conns"), "{resp}");
    drop(held);
    assert!(
        support::eventually(2, || async {
            let mut s = connect_from("127.0.2.1", addr).await.unwrap();
            let _ = s
                .write_all(
                    b"GET /v1/status/leader HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
                )
                .await;
            read_all(&mut s, Duration::from_secs(1))
                .await
                .starts_with("HTTP/1.1 200")
        })
        .await
    );
    a.shutdown().await;
}

#[tokio::test]
async fn shutdown_ends_within_a_second_with_slow_bodies_open() {
    let a = start().await;
    let addr = a.handle.http_addr();
    let mut slow = Vec::new();
    for i in 0..50 {
        let mut s = TcpStream::connect(addr).await.unwrap();
        s.write_all(
            format!("PUT /v1/kv/s{i} HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\nx")
                .as_bytes(),
        )
        .await
        .unwrap();
        slow.push(s);
    }
    // And some blocking queries.
    let mut blocked = Vec::new();
    for _ in 0..20 {
        let mut s = TcpStream::connect(addr).await.unwrap();
        s.write_all(b"GET /v1/kv/nothing?index=1000&wait=5m HTTP/1.1\r\nHost: x\r\n\r\n")
            .await
            .unwrap();
        blocked.push(s);
    }
    tokio::time::sleep(Duration::from_millis(100)).await;
    let t = Instant::now();
    tokio::time::timeout(Duration::from_secs(2), a.shutdown())
        .await
        .expect("shutdown returns");
    assert!(t.elapsed() < Duration::from_secs(1), "{:?}", t.elapsed());
    // The connections are closed, not left hanging.
    for s in &mut slow {
        let _ = read_all(s, Duration::from_millis(200)).await;
    }
    assert!(
        TcpStream::connect(addr).await.is_err(),
        "the listener is closed"
    );
}
