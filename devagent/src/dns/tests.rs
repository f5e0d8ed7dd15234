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
