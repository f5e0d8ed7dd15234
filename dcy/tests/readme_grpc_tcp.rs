//! The README's gRPC and TCP examples: `examples/using_grpc.rs` and
//! `examples/using_tcp.rs` are the README's second and third `rust`
//! blocks, byte for byte (checked here), compiled here and run against a
//! devagent with real tonic servers and real TCP and UDP listeners.
#![allow(clippy::unwrap_used)]

mod support;

#[path = "../examples/using_grpc.rs"]
#[allow(dead_code)]
mod grpc_example;

#[path = "../examples/using_tcp.rs"]
#[allow(dead_code)]
mod tcp_example;

use std::net::SocketAddr;
use std::time::Duration;

use support::start;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};

/// The README's ```rust blocks, in order.
fn rust_blocks() -> Vec<&'static str> {
    let readme = include_str!("../../README.md");
    let mut out = Vec::new();
    let mut rest = readme;
    while let Some(start) = rest.find("```rust\n") {
        let body = &rest[start + "```rust\n".len()..];
        let end = body.find("```").unwrap();
        out.push(&body[..end]);
        rest = &body[end + 3..];
    }
    out
}

#[test]
fn the_example_files_are_the_readme_blocks() {
    let blocks = rust_blocks();
    assert_eq!(
        blocks.get(1).copied(),
        Some(include_str!("../examples/using_grpc.rs")),
        "copy the README's second rust block to dcy/examples/using_grpc.rs"
    );
    assert_eq!(
        blocks.get(2).copied(),
        Some(include_str!("../examples/using_tcp.rs")),
        "copy the README's third rust block to dcy/examples/using_tcp.rs"
    );
}

/// A tonic server with only the standard health service, on loopback.
pub async fn health_server() -> (SocketAddr, tokio::task::JoinHandle<()>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (_reporter, health) = tonic_health::server::health_reporter();
    let task = tokio::spawn(async move {
        let _ = tonic::transport::Server::builder()
            .add_service(health)
            .serve_with_incoming(tonic::transport::server::TcpIncoming::from(listener))
            .await;
    });
    (addr, task)
}

#[tokio::test]
async fn the_grpc_example_asks_a_server_found_through_consul() {
    let env = start().await;
    let base = format!("http://{}", env.http);
    let http = reqwest::Client::new();
    let mut servers = Vec::new();
    for i in 0..2 {
        let (addr, task) = health_server().await;
        servers.push(task);
        testkit::register(
            &http,
            &base,
            &format!(
                r#"{{"Name":"greeter","ID":"greeter-{i}","Address":"127.0.0.1","Port":{},"Check":{{"GRPC":"{addr}","Interval":"100ms"}}}}"#,
                addr.port()
            ),
        )
        .await;
    }
    // Passing once devagent's gRPC check has run.
    let answer = grpc_example::health(&env.client, "greeter", Duration::from_secs(10))
        .await
        .unwrap();
    assert_eq!(answer, "Serving");
    // No instance: the wait fails, naming the service.
    let err = grpc_example::health(&env.client, "nobody", Duration::from_millis(200))
        .await
        .unwrap_err();
    assert!(err.to_string().contains("nobody"), "{err}");
    for s in servers {
        s.abort();
    }
}

#[tokio::test]
async fn the_tcp_example_skips_a_dead_instance_and_counts_over_udp() {
    let env = start().await;
    let base = format!("http://{}", env.http);
    let http = reqwest::Client::new();
    // A line echo server, and a registered instance where nothing listens.
    let echo = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let echo_port = echo.local_addr().unwrap().port();
    tokio::spawn(async move {
        while let Ok((stream, _)) = echo.accept().await {
            tokio::spawn(async move {
                let (read, mut write) = stream.into_split();
                let mut line = String::new();
                if BufReader::new(read).read_line(&mut line).await.is_ok() {
                    let _ = write.write_all(line.as_bytes()).await;
                }
            });
        }
    });
    let dead_port = testkit::free_port();
    for (id, port) in [("echo-dead", dead_port), ("echo-1", echo_port)] {
        testkit::register(
            &http,
            &base,
            &format!(
                r#"{{"Name":"echo","ID":"{id}","Address":"127.0.0.1","Port":{port},"Check":{{"TTL":"1m","Status":"passing"}}}}"#
            ),
        )
        .await;
    }
    let udp = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
    testkit::register(
        &http,
        &base,
        &format!(
            r#"{{"Name":"metrics","Address":"127.0.0.1","Port":{},"Check":{{"TTL":"1m","Status":"passing"}}}}"#,
            udp.local_addr().unwrap().port()
        ),
    )
    .await;
    for _ in 0..4 {
        let answer = tcp_example::ask(&env.client, "echo", "hello", Duration::from_secs(10))
            .await
            .unwrap();
        assert_eq!(answer, "hello");
        let mut buf = [0u8; 64];
        let (n, _) = tokio::time::timeout(Duration::from_secs(5), udp.recv_from(&mut buf))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(&buf[..n], b"asked:1|c");
    }
}

#[tokio::test]
async fn the_p2c_channel_reaches_every_instance_and_follows_removals() {
    let env = start().await;
    let base = format!("http://{}", env.http);
    let http = reqwest::Client::new();
    let mut servers = Vec::new();
    for i in 0..2 {
        let (addr, task) = health_server().await;
        servers.push(task);
        testkit::register(
            &http,
            &base,
            &format!(
                r#"{{"Name":"h","ID":"h-{i}","Address":"127.0.0.1","Port":{},"Check":{{"CheckID":"h-{i}","TTL":"1m","Status":"passing"}}}}"#,
                addr.port()
            ),
        )
        .await;
    }
    let discovery = dcy::Discovery::new(env.client.clone());
    let service = discovery.service("h");
    assert!(
        testkit::eventually(5, || {
            let n = service.instances().len();
            async move { n == 2 }
        })
        .await
    );
    let channel = discovery.grpc_p2c("h", |e| e);
    let mut client = tonic_health::pb::health_client::HealthClient::new(channel.clone());
    for _ in 0..20 {
        let answer = client
            .check(tonic_health::pb::HealthCheckRequest::default())
            .await
            .unwrap();
        assert_eq!(
            answer.into_inner().status(),
            tonic_health::pb::health_check_response::ServingStatus::Serving
        );
    }
    // Both critical: the balancer has nothing left, and a call says so
    // (after tonic's wait for a ready instance: bounded here).
    for i in 0..2 {
        env.client
            .update_ttl(&format!("h-{i}"), dcy::Status::Critical, "down")
            .await
            .unwrap();
    }
    assert!(
        testkit::eventually(5, || {
            let n = service.instances().len();
            async move { n == 0 }
        })
        .await
    );
    let call = client.check(tonic_health::pb::HealthCheckRequest::default());
    assert!(
        tokio::time::timeout(Duration::from_millis(300), call)
            .await
            .is_err(),
        "no instance: the call waits for one"
    );
    channel.shutdown().await;
    discovery.shutdown().await;
    for s in servers {
        s.abort();
    }
}

#[tokio::test]
async fn a_grpc_call_with_no_instance_is_unavailable() {
    let env = start().await;
    let discovery = dcy::Discovery::new(env.client.clone());
    let channel = discovery.grpc("nothing");
    let mut client = tonic_health::pb::health_client::HealthClient::new(channel.clone());
    let err = client
        .check(tonic_health::pb::HealthCheckRequest::default())
        .await
        .unwrap_err();
    assert_eq!(err.code(), tonic::Code::Unavailable, "{err}");
    assert!(err.message().contains("nothing"), "{err}");
    channel.shutdown().await;
    discovery.shutdown().await;
}
