//! Names under `consul.`: parsing the labels of a question, and the hex
//! form of addresses in `*.addr.consul`.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use hickory_proto::rr::Name;

/// A DNS name from its ASCII spelling, if it is a valid one.
pub(super) fn name(s: &str) -> Option<Name> {
    Name::from_ascii(s).ok()
}

/// The hex form of an address, as in `7f000001.addr.consul`.
pub(super) fn hex_ip(ip: IpAddr) -> String {
    match ip {
        IpAddr::V4(v4) => v4.octets().iter().map(|b| format!("{b:02x}")).collect(),
        IpAddr::V6(v6) => v6.octets().iter().map(|b| format!("{b:02x}")).collect(),
    }
}

/// Parses the hex form of an IPv4 (8 digits) or IPv6 (32 digits) address.
pub(super) fn parse_hex_ip(s: &str) -> Option<IpAddr> {
    let bytes: Option<Vec<u8>> = (0..s.len())
        .step_by(2)
        .map(|i| s.get(i..i + 2).and_then(|h| u8::from_str_radix(h, 16).ok()))
        .collect();
    match bytes?.as_slice() {
        b if b.len() == 4 && s.len() == 8 => {
            Some(IpAddr::V4(Ipv4Addr::new(b[0], b[1], b[2], b[3])))
        }
        b if b.len() == 16 && s.len() == 32 => {
            let mut o = [0u8; 16];
            o.copy_from_slice(b);
            Some(IpAddr::V6(Ipv6Addr::from(o)))
        }
        _ => None,
    }
}

/// A parsed name under `consul.`.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Lookup {
    Service {
        name: String,
        tag: Option<String>,
    },
    Node(String),
    Addr(String),
    /// `<name>.query.consul`: a prepared query by name or ID.
    Query(String),
    Unknown,
}

/// Splits `labels` (without the domain) into a lookup and a datacenter.
pub(super) fn parse_labels(mut labels: Vec<String>) -> (Lookup, Option<String>) {
    const TYPES: [&str; 7] = [
        "service", "node", "addr", "query", "connect", "ingress", "virtual",
    ];
    if labels.len() >= 2 && labels[0].starts_with('_') && labels[1].starts_with('_') {
        // RFC 2782: _svc._proto-or-tag[.service][.dc]
        let svc = labels[0].trim_start_matches('_').to_string();
        let proto = labels[1].trim_start_matches('_').to_string();
        let rest = &labels[2..];
        let dc = match rest {
            [] => None,
            [t] if t == "service" => None,
            [t, dc] if t == "service" => Some(dc.clone()),
            [dc] => Some(dc.clone()),
            _ => return (Lookup::Unknown, None),
        };
        let tag = (!matches!(proto.as_str(), "tcp" | "udp" | "tls")).then_some(proto);
        return (Lookup::Service { name: svc, tag }, dc);
    }
    let mut dc = None;
    if labels.len() >= 3 && labels.last().map(String::as_str) == Some("dc") {
        labels.pop();
        dc = labels.pop();
    } else if labels.len() >= 2
        && !TYPES.contains(&labels[labels.len() - 1].as_str())
        && TYPES.contains(&labels[labels.len() - 2].as_str())
    {
        dc = labels.pop();
    }
    let Some(kind) = labels.pop() else {
        return (Lookup::Unknown, dc);
    };
    let lookup = match (kind.as_str(), labels.len()) {
        ("service", 1) => Lookup::Service {
            name: labels.remove(0),
            tag: None,
        },
        ("service", 2) => Lookup::Service {
            name: labels.remove(1),
            tag: Some(labels.remove(0)),
        },
        ("node", n) if n >= 1 => Lookup::Node(labels.join(".")),
        ("addr", 1) => Lookup::Addr(labels.remove(0)),
        ("query", n) if n >= 1 => Lookup::Query(labels.join(".")),
        _ => Lookup::Unknown,
    };
    (lookup, dc)
}
