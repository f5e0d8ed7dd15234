//! The DNS interface answers `*.service.consul` and friends as Consul does.
#![allow(clippy::unwrap_used)]

mod support;

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use hickory_proto::op::{Edns, Message, MessageType, OpCode, Query, ResponseCode};
use hickory_proto::rr::{Name, RData, RecordType};
use support::{start, TestAgent};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpStream, UdpSocket};

fn message(name: &str, qtype: RecordType, edns: bool) -> Message {
    let mut m = Message::new();
    m.set_id(fastrand_id())
        .set_message_type(MessageType::Query)
        .set_op_code(OpCode::Query)
        .set_recursion_desired(true)
        .add_query(Query::query(Name::from_ascii(name).unwrap(), qtype));
    if edns {
        let mut e = Edns::new();
        e.set_max_payload(4096);
        m.set_edns(e);
    }
    m
}

fn fastrand_id() -> u16 {
    (std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos()
        % 65000) as u16
}

async fn udp(addr: SocketAddr, m: &Message) -> Message {
    let sock = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    sock.send_to(&m.to_vec().unwrap(), addr).await.unwrap();
    let mut buf = vec![0u8; 65535];
    let (n, _) = tokio::time::timeout(Duration::from_secs(2), sock.recv_from(&mut buf))
        .await
        .unwrap()
        .unwrap();
    assert!(
        n <= 512 || m.extensions().is_some(),
        "a UDP reply without EDNS fits 512 bytes, got {n}"
    );
    Message::from_vec(&buf[..n]).unwrap()
}

async fn tcp(addr: SocketAddr, m: &Message) -> Message {
    let mut s = TcpStream::connect(addr).await.unwrap();
    let bytes = m.to_vec().unwrap();
    s.write_all(&(bytes.len() as u16).to_be_bytes())
        .await
        .unwrap();
    s.write_all(&bytes).await.unwrap();
    let mut len = [0u8; 2];
    s.read_exact(&mut len).await.unwrap();
    let mut buf = vec![0u8; u16::from_be_bytes(len) as usize];
    s.read_exact(&mut buf).await.unwrap();
    Message::from_vec(&buf).unwrap()
}

fn dns(a: &TestAgent) -> SocketAddr {
    a.handle.dns_addr().unwrap()
}

async fn web_instances(a: &TestAgent, n: usize) {
    for i in 0..n {
        a.register(&format!(
            r#"{{"Name":"web","ID":"web{i}","Address":"127.0.0.{}","Port":{},"Tags":["v{}"],"Check":{{"TTL":"30s","Status":"passing"}}}}"#,
            i + 10,
            8000 + i,
            i % 2
        ))
        .await;
    }
}

#[tokio::test]
async fn service_a_and_srv_answers_with_additional_records() {
    let a = start().await;
    web_instances(&a, 2).await;
    let r = udp(
        dns(&a),
        &message("web.service.consul.", RecordType::A, false),
    )
    .await;
    assert_eq!(r.response_code(), ResponseCode::NoError);
    assert!(r.authoritative());
    let mut ips: Vec<IpAddr> = r
        .answers()
        .iter()
        .filter_map(|rr| match rr.data() {
            RData::A(a) => Some(IpAddr::V4(a.0)),
            _ => None,
        })
        .collect();
    ips.sort();
    assert_eq!(
        ips,
        [
            "127.0.0.10".parse::<IpAddr>().unwrap(),
            "127.0.0.11".parse().unwrap()
        ]
    );
    assert!(r.answers().iter().all(|rr| rr.ttl() == 0));

    let r = udp(
        dns(&a),
        &message("_web._tcp.service.consul.", RecordType::SRV, false),
    )
    .await;
    assert_eq!(r.answers().len(), 2);
    for rr in r.answers() {
        let RData::SRV(srv) = rr.data() else {
            panic!("not SRV")
        };
        assert_eq!(srv.priority(), 1);
        assert!(srv.port() == 8000 || srv.port() == 8001);
        assert!(
            srv.target().to_ascii().ends_with(".addr.dc1.consul."),
            "{}",
            srv.target()
        );
        assert!(
            r.additionals().iter().any(|ad| ad.name() == srv.target()),
            "glue for {}",
            srv.target()
        );
    }
    let tagged = udp(
        dns(&a),
        &message("v1.web.service.consul.", RecordType::SRV, false),
    )
    .await;
    assert_eq!(tagged.answers().len(), 1);
    let rfc = udp(
        dns(&a),
        &message("_web._v0.service.dc1.consul.", RecordType::SRV, false),
    )
    .await;
    assert_eq!(rfc.answers().len(), 1);
    a.shutdown().await;
}

#[tokio::test]
async fn critical_instances_and_unknown_names_are_not_answered() {
    let a = start().await;
    web_instances(&a, 2).await;
    a.put("/v1/agent/check/fail/service:web0", "").await;
    let r = udp(
        dns(&a),
        &message("web.service.consul.", RecordType::A, false),
    )
    .await;
    assert_eq!(r.answers().len(), 1);
    a.put("/v1/agent/check/warn/service:web1", "").await;
    let r = udp(
        dns(&a),
        &message("web.service.consul.", RecordType::A, false),
    )
    .await;
    assert_eq!(
        r.answers().len(),
        1,
        "warning still answers (only_passing = false)"
    );
    a.put("/v1/agent/check/fail/service:web1", "").await;
    for (name, qtype) in [
        ("web.service.consul.", RecordType::A),
        ("nope.service.consul.", RecordType::SRV),
        ("ghost.node.consul.", RecordType::A),
        ("web.service.dc9.consul.", RecordType::A),
        ("a.b.web.service.consul.", RecordType::A),
        ("zz.addr.consul.", RecordType::A),
    ] {
        let r = udp(dns(&a), &message(name, qtype, false)).await;
        assert_eq!(r.response_code(), ResponseCode::NXDomain, "{name}");
        let soa = r
            .name_servers()
            .first()
            .unwrap_or_else(|| panic!("SOA for {name}"));
        assert_eq!(soa.record_type(), RecordType::SOA);
        assert_eq!(soa.name().to_ascii(), "consul.");
    }
    let r = udp(dns(&a), &message("example.com.", RecordType::A, false)).await;
    assert_eq!(r.response_code(), ResponseCode::Refused);
    a.shutdown().await;
}

#[tokio::test]
async fn nodes_addresses_and_nodata() {
    let a = start().await;
    web_instances(&a, 1).await;
    let r = udp(
        dns(&a),
        &message("node1.node.consul.", RecordType::A, false),
    )
    .await;
    assert!(matches!(r.answers()[0].data(), RData::A(ip) if ip.0 == std::net::Ipv4Addr::LOCALHOST));
    let r = udp(
        dns(&a),
        &message("7f000001.addr.dc1.consul.", RecordType::A, false),
    )
    .await;
    assert_eq!(r.answers().len(), 1);
    let r = udp(
        dns(&a),
        &message("web.service.consul.", RecordType::AAAA, false),
    )
    .await;
    assert_eq!(
        (r.response_code(), r.answers().len()),
        (ResponseCode::NoError, 0),
        "NODATA for AAAA on an IPv4 service"
    );
    assert_eq!(r.name_servers()[0].record_type(), RecordType::SOA);
    let r = udp(dns(&a), &message("consul.", RecordType::SOA, false)).await;
    assert_eq!(r.answers()[0].record_type(), RecordType::SOA);
    a.shutdown().await;
}

#[tokio::test]
async fn udp_answers_are_limited_and_tcp_answers_are_complete() {
    let a = start().await;
    web_instances(&a, 12).await;
    let r = udp(
        dns(&a),
        &message("web.service.consul.", RecordType::A, false),
    )
    .await;
    assert_eq!(r.answers().len(), 3, "udp_answer_limit without EDNS");
    let r = udp(
        dns(&a),
        &message("web.service.consul.", RecordType::SRV, false),
    )
    .await;
    assert!(r.answers().len() <= 3);
    let r = tcp(
        dns(&a),
        &message("web.service.consul.", RecordType::SRV, false),
    )
    .await;
    assert_eq!(r.answers().len(), 12);
    assert_eq!(r.additionals().len(), 12);
    let r = udp(
        dns(&a),
        &message("web.service.consul.", RecordType::A, true),
    )
    .await;
    assert_eq!(r.answers().len(), 12, "EDNS with 4096 bytes fits all");
    assert!(r.extensions().is_some(), "EDNS is echoed");
    // Answers are shuffled on every query.
    let mut firsts = std::collections::HashSet::new();
    for _ in 0..30 {
        let r = tcp(
            dns(&a),
            &message("web.service.consul.", RecordType::A, false),
        )
        .await;
        firsts.insert(format!("{:?}", r.answers()[0].data()));
    }
    assert!(firsts.len() > 1, "the first answer never changed");
    a.shutdown().await;
}

#[tokio::test]
async fn garbage_packets_do_not_stop_the_server() {
    let a = start().await;
    web_instances(&a, 1).await;
    let sock = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    for len in [0usize, 1, 5, 12, 40, 300] {
        let junk: Vec<u8> = (0..len).map(|i| (i * 7 + 3) as u8).collect();
        sock.send_to(&junk, dns(&a)).await.unwrap();
    }
    let mut t = TcpStream::connect(dns(&a)).await.unwrap();
    t.write_all(&[0, 3, 1, 2, 3]).await.unwrap();
    drop(t);
    let r = udp(
        dns(&a),
        &message("web.service.consul.", RecordType::A, false),
    )
    .await;
    assert_eq!(r.answers().len(), 1);
    a.shutdown().await;
}

#[tokio::test]
async fn hickory_resolver_reads_srv_records() {
    use hickory_resolver::config::{NameServerConfigGroup, ResolverConfig};
    use hickory_resolver::name_server::TokioConnectionProvider;
    let a = start().await;
    web_instances(&a, 3).await;
    let addr = dns(&a);
    let group = NameServerConfigGroup::from_ips_clear(&[addr.ip()], addr.port(), true);
    let resolver = hickory_resolver::Resolver::builder_with_config(
        ResolverConfig::from_parts(None, vec![], group),
        TokioConnectionProvider::default(),
    )
    .build();
    let srv = resolver.srv_lookup("web.service.consul.").await.unwrap();
    assert_eq!(srv.iter().count(), 3);
    let ips = resolver.lookup_ip("web.service.consul.").await.unwrap();
    assert_eq!(ips.iter().count(), 3);
    a.shutdown().await;
}

#[tokio::test]
async fn dig_sees_the_same_answers() {
    let a = start().await;
    web_instances(&a, 2).await;
    let addr = dns(&a);
    let out = tokio::process::Command::new("dig")
        .args([
            "@127.0.0.1",
            "-p",
            &addr.port().to_string(),
            "web.service.consul",
            "SRV",
            "+short",
        ])
        .output()
        .await
        .expect("dig is installed (apt: dnsutils)");
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(text.lines().count(), 2, "{text}");
    assert!(text.lines().all(|l| l.starts_with("1 1 800")), "{text}");
    a.shutdown().await;
}
