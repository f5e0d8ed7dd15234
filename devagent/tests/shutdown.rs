//! SIGTERM stops the `devagent` binary within a second whatever it is doing:
//! a DNS flood of large answers, a thousand idle connections, slow bodies,
//! 40 MB transaction bodies and blocking queries, all at once.
#![allow(clippy::unwrap_used)]

use std::net::{IpAddr, SocketAddr};
use std::process::Stdio;
use std::time::{Duration, Instant};

use hickory_proto::op::{Edns, Message, MessageType, OpCode, Query};
use hickory_proto::rr::{Name, RecordType};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpSocket, TcpStream, UdpSocket};
use tokio::process::Command;
use tokio::task::JoinSet;

const BIN: &str = env!("CARGO_BIN_EXE_devagent");

async fn connect_from(from: IpAddr, to: SocketAddr) -> Option<TcpStream> {
    let sock = TcpSocket::new_v4().ok()?;
    sock.bind(SocketAddr::new(from, 0)).ok()?;
    sock.connect(to).await.ok()
}

fn srv_query() -> Vec<u8> {
    let mut m = Message::new();
    let mut e = Edns::new();
    e.set_max_payload(4096);
    m.set_id(1)
        .set_message_type(MessageType::Query)
        .set_op_code(OpCode::Query)
        .add_query(Query::query(
            Name::from_ascii("big.service.consul.").unwrap(),
            RecordType::SRV,
        ))
        .set_edns(e);
    m.to_vec().unwrap()
}

#[tokio::test]
async fn sigterm_under_every_kind_of_load_exits_within_a_second() {
    let mut child = Command::new(BIN)
        .args([
            "agent",
            "-dev",
            "-http-port=0",
            "-dns-port=0",
            "-log-level=error",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let line = tokio::time::timeout(Duration::from_secs(10), lines.next_line())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    let field = |k: &str| -> SocketAddr {
        line.split_whitespace()
            .find_map(|w| w.strip_prefix(&format!("{k}=")))
            .unwrap()
            .parse()
            .unwrap()
    };
    let (http, dns) = (field("http"), field("dns"));
    let client = reqwest::Client::new();
    let mut reg = JoinSet::new();
    for w in 0..8 {
        let (client, base) = (client.clone(), format!("http://{http}"));
        reg.spawn(async move {
            for i in (w..500).step_by(8) {
                let body = format!(
                    r#"{{"Node":"n{i}","Address":"10.0.{}.{}","Service":{{"Service":"big","ID":"b{i}","Port":80}}}}"#,
                    i / 250,
                    i % 250
                );
                let r = client
                    .put(format!("{base}/v1/catalog/register"))
                    .body(body)
                    .send()
                    .await
                    .unwrap();
                assert_eq!(r.status(), 200);
            }
        });
    }
    while let Some(r) = reg.join_next().await {
        r.unwrap();
    }

    let mut load = JoinSet::new();
    // 8 clients flooding 500-instance SRV queries.
    for _ in 0..8 {
        load.spawn(async move {
            let sock = UdpSocket::bind("127.0.0.1:0").await.unwrap();
            let q = srv_query();
            let mut buf = vec![0u8; 65_535];
            loop {
                let _ = sock.send_to(&q, dns).await;
                let _ =
                    tokio::time::timeout(Duration::from_millis(50), sock.recv_from(&mut buf)).await;
            }
        });
    }
    // 1,000 idle connections from five clients, 100 blocking queries.
    let mut held = Vec::new();
    for i in 0..1_000 {
        let from = IpAddr::from([127, 0, 3, (i % 5 + 1) as u8]);
        if let Some(s) = connect_from(from, http).await {
            held.push(s);
        }
    }
    for i in 0..100 {
        let from = IpAddr::from([127, 0, 4, (i % 2 + 1) as u8]);
        if let Some(mut s) = connect_from(from, http).await {
            let _ = s
                .write_all(b"GET /v1/kv/none?index=1000&wait=10m HTTP/1.1\r\nHost: x\r\n\r\n")
                .await;
            held.push(s);
        }
    }
    // 50 slow bodies, one byte every 200 ms.
    for i in 0..50 {
        load.spawn(async move {
            let Some(mut s) = connect_from(IpAddr::from([127, 0, 5, 1]), http).await else {
                return;
            };
            let head =
                format!("PUT /v1/kv/slow{i} HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n");
            let _ = s.write_all(head.as_bytes()).await;
            loop {
                tokio::time::sleep(Duration::from_millis(200)).await;
                if s.write_all(b"x").await.is_err() {
                    return;
                }
            }
        });
    }
    // 50 clients sending 40 MB transaction bodies with no length, again and again.
    for _ in 0..50 {
        load.spawn(async move {
            let chunk = vec![b' '; 64 * 1024];
            loop {
                let Some(mut s) = connect_from(IpAddr::from([127, 0, 6, 1]), http).await else {
                    tokio::time::sleep(Duration::from_millis(10)).await;
                    continue;
                };
                let _ = s
                    .write_all(
                        b"PUT /v1/txn HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n",
                    )
                    .await;
                for _ in 0..640 {
                    let frame = format!("{:x}\r\n", chunk.len());
                    if s.write_all(frame.as_bytes()).await.is_err()
                        || s.write_all(&chunk).await.is_err()
                        || s.write_all(b"\r\n").await.is_err()
                    {
                        break;
                    }
                }
            }
        });
    }
    tokio::time::sleep(Duration::from_secs(1)).await;

    let t = Instant::now();
    std::process::Command::new("kill")
        .args(["-TERM", &child.id().unwrap().to_string()])
        .status()
        .unwrap();
    let status = tokio::time::timeout(Duration::from_secs(5), child.wait())
        .await
        .expect("the agent exits")
        .unwrap();
    let took = t.elapsed();
    load.abort_all();
    drop(held);
    assert!(status.success(), "{status}");
    assert!(
        took < Duration::from_secs(1),
        "SIGTERM to exit took {took:?}"
    );
    eprintln!("SIGTERM to exit under load: {took:?}");
}
