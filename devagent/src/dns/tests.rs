//! Tests of DNS name parsing.

use std::net::IpAddr;

use super::names::{hex_ip, parse_hex_ip, parse_labels, Lookup};

fn l(s: &str) -> Vec<String> {
    s.split('.').map(str::to_string).collect()
}

#[test]
fn parses_consul_name_forms() {
    let svc = |n: &str, t: Option<&str>| Lookup::Service {
        name: n.into(),
        tag: t.map(Into::into),
    };
    assert_eq!(parse_labels(l("web.service")), (svc("web", None), None));
    assert_eq!(
        parse_labels(l("v1.web.service")),
        (svc("web", Some("v1")), None)
    );
    assert_eq!(
        parse_labels(l("web.service.dc2")),
        (svc("web", None), Some("dc2".into()))
    );
    assert_eq!(
        parse_labels(l("web.service.dc2.dc")),
        (svc("web", None), Some("dc2".into()))
    );
    assert_eq!(
        parse_labels(l("_web._tcp.service")),
        (svc("web", None), None)
    );
    assert_eq!(
        parse_labels(l("_web._v1.service")),
        (svc("web", Some("v1")), None)
    );
    assert_eq!(parse_labels(l("_web._tcp")), (svc("web", None), None));
    assert_eq!(
        parse_labels(l("_web._tcp.service.dc1")),
        (svc("web", None), Some("dc1".into()))
    );
    assert_eq!(
        parse_labels(l("my.box.node")),
        (Lookup::Node("my.box".into()), None)
    );
    assert_eq!(
        parse_labels(l("7f000001.addr.dc1")),
        (Lookup::Addr("7f000001".into()), Some("dc1".into()))
    );
    assert_eq!(parse_labels(l("a.b.web.service")).0, Lookup::Unknown);
    assert_eq!(parse_labels(l("web.bogus")).0, Lookup::Unknown);
}

#[test]
fn hex_addresses_round_trip() {
    let v4: IpAddr = "127.0.0.1".parse().unwrap();
    assert_eq!(hex_ip(v4), "7f000001");
    assert_eq!(parse_hex_ip("7f000001"), Some(v4));
    let v6: IpAddr = "::1".parse().unwrap();
    assert_eq!(parse_hex_ip(&hex_ip(v6)), Some(v6));
    assert_eq!(parse_hex_ip("zz000001"), None);
    assert_eq!(parse_hex_ip("7f0000"), None);
    assert_eq!(parse_hex_ip("é1"), None);
}

mod fast_path {
    //! The UDP fast path answers what the general path answers: for the
    //! same random draw, the same records in the same order, the same flags.

    use std::net::SocketAddr;
    use std::sync::{Arc, Mutex};

    use hickory_proto::op::{Edns, Message, MessageType, OpCode, Query};
    use hickory_proto::rr::{Name, Record, RecordType};
    use hickory_proto::serialize::binary::{BinDecodable, BinEncoder};
    use hickory_proto::xfer::Protocol;
    use hickory_server::authority::{MessageRequest, MessageResponse};
    use hickory_server::server::{Request, RequestHandler, ResponseHandler, ResponseInfo};

    use super::super::{DnsConfig, DnsHandler};
    use crate::acl::{Acl, AclConfig};
    use crate::decode::{decode, CatalogRegister};
    use crate::metrics::Metrics;
    use crate::state::Store;

    #[derive(Clone, Default)]
    struct Capture(Arc<Mutex<Vec<u8>>>);

    #[async_trait::async_trait]
    impl ResponseHandler for Capture {
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
        ) -> std::io::Result<ResponseInfo> {
            let mut buf = Vec::new();
            let mut enc = BinEncoder::new(&mut buf);
            let info = response.destructive_emit(&mut enc)?;
            *self.0.lock().unwrap() = buf;
            Ok(info)
        }
    }

    /// `n` instances of `web` on 7 nodes: IPv4, IPv6 and (when `hosts`)
    /// host-name addresses, node metadata on some nodes, warning checks
    /// (their weight) on some instances.
    fn register(store: &Store, n: usize, hosts: bool) {
        for i in 0..n {
            let node = i % 7;
            let meta = if node % 3 == 0 {
                format!(r#"{{"rack":"r{node}","rfc1035-x":""}}"#)
            } else {
                "{}".into()
            };
            let addr = match i % 5 {
                0 => format!("fd00::{:x}", i + 1),
                1 if hosts => format!("host{i}.example.com"),
                2 => String::new(), // the node's address
                _ => format!("10.0.{}.{}", i / 250, i % 250 + 1),
            };
            let status = if i % 4 == 0 { "warning" } else { "passing" };
            let body = format!(
                r#"{{"Node":"node{node}","Address":"10.1.0.{}","NodeMeta":{meta},
                    "Service":{{"ID":"web{i}","Service":"web","Address":"{addr}","Port":{},
                               "Weights":{{"Passing":10,"Warning":1}}}},
                    "Check":{{"CheckID":"c{i}","Name":"c","Status":"{status}","ServiceID":"web{i}"}}}}"#,
                node + 1,
                8000 + i
            );
            let req: CatalogRegister = decode(body.as_bytes()).unwrap();
            store.catalog_register(req).unwrap();
        }
    }

    fn handler(store: &Arc<Store>, cfg: DnsConfig) -> DnsHandler {
        let acl = Arc::new(Acl::new(&AclConfig::default(), Arc::clone(store)));
        DnsHandler::new(Arc::clone(store), cfg, Arc::new(Metrics::new()), acl)
    }

    fn query(name: &str, qtype: RecordType, edns: Option<u16>) -> Vec<u8> {
        let mut m = Message::new();
        m.set_id(4242)
            .set_message_type(MessageType::Query)
            .set_op_code(OpCode::Query)
            .set_recursion_desired(true)
            .add_query(Query::query(Name::from_ascii(name).unwrap(), qtype));
        if let Some(p) = edns {
            let mut e = Edns::new();
            e.set_max_payload(p);
            m.set_edns(e);
        }
        m.to_vec().unwrap()
    }

    fn general(rt: &tokio::runtime::Runtime, h: &DnsHandler, packet: &[u8]) -> Vec<u8> {
        let msg = MessageRequest::from_bytes(packet).unwrap();
        let src: SocketAddr = "127.0.0.1:5353".parse().unwrap();
        let req = Request::new(msg, src, Protocol::Udp);
        let out = Capture::default();
        rt.block_on(h.handle_request(&req, out.clone()));
        let bytes = out.0.lock().unwrap().clone();
        bytes
    }

    fn summary(m: &Message) -> (u16, Vec<String>, Vec<String>, Option<u16>) {
        let h = m.header();
        let flags = u16::from(h.authoritative()) << 10
            | u16::from(h.truncated()) << 9
            | u16::from(h.recursion_desired()) << 8
            | u16::from(h.recursion_available()) << 7
            | u16::from(h.checking_disabled()) << 4
            | u16::from(h.response_code());
        let rec = |r: &Record| {
            format!(
                "{} {} {:?}",
                r.name().to_lowercase(),
                r.record_type(),
                r.data()
            )
        };
        (
            flags,
            m.answers().iter().map(rec).collect(),
            m.additionals().iter().map(rec).collect(),
            m.extensions().as_ref().map(|e| e.max_payload()),
        )
    }

    #[test]
    fn answers_what_the_general_path_answers() {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let _guard = rt.enter();
        for (n, hosts) in [
            (1, false),
            (3, false),
            (10, true),
            (10, false),
            (200, false),
            (2000, false),
        ] {
            let store = Store::for_tests();
            register(&store, n, hosts);
            for cfg in [
                DnsConfig::default(),
                DnsConfig {
                    enable_truncate: true,
                    udp_answer_limit: 5,
                    a_record_limit: 4,
                    ..DnsConfig::default()
                },
            ] {
                let h = handler(&store, cfg);
                let names: &[&str] = if n > 1000 {
                    &["web.service.consul."]
                } else {
                    &[
                        "web.service.consul.",
                        "_web._tcp.service.consul.",
                        "WeB.Service.Consul.",
                    ]
                };
                for name in names {
                    for qtype in [RecordType::SRV, RecordType::A, RecordType::AAAA] {
                        for edns in [None, Some(512), Some(1232), Some(4096), Some(65000)] {
                            let packet = query(name, qtype, edns);
                            for seed in 0..2 {
                                fastrand::seed(seed);
                                let slow = general(&rt, &h, &packet);
                                fastrand::seed(seed);
                                let (mut lower, mut fast) = (Vec::new(), Vec::new());
                                let answered = h.answer_fast(&packet, &mut lower, &mut fast);
                                let what =
                                    format!("{n} {hosts} {name} {qtype} {edns:?} seed {seed}");
                                let slow = Message::from_vec(&slow).unwrap();
                                if !answered {
                                    // Only what the fast path leaves to the general one.
                                    assert!(
                                        slow.answers().is_empty()
                                            || (hosts && qtype != RecordType::SRV),
                                        "{what}: not answered fast"
                                    );
                                    continue;
                                }
                                let fast_msg = Message::from_vec(&fast)
                                    .unwrap_or_else(|e| panic!("{what}: {e}"));
                                assert_eq!(fast_msg.id(), 4242);
                                assert_eq!(fast_msg.queries(), slow.queries(), "{what}");
                                let max = edns.map_or(512, |p| usize::from(p.max(512)));
                                assert!(fast.len() <= max, "{what}: {} bytes", fast.len());
                                let (s, f) = (summary(&slow), summary(&fast_msg));
                                if edns.is_some_and(|p| p > 512) && s != f {
                                    // Sizes are exact here, an upper bound there:
                                    // at most one more answer may fit.
                                    assert_eq!(s.0 & !0x0200, f.0 & !0x0200, "{what}");
                                    assert!(f.1.len() >= s.1.len() && f.1.len() <= s.1.len() + 1, "{what}: {} fast answers, {} general; {} / {} additionals; {} bytes", f.1.len(), s.1.len(), f.2.len(), s.2.len(), fast.len());
                                    assert_eq!(f.1[..s.1.len()], s.1[..], "{what}");
                                    continue;
                                }
                                assert_eq!(s, f, "{what}");
                            }
                        }
                    }
                }
            }
        }
    }
}
