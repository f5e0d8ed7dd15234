//! The DNS interface: `*.service.consul`, `*.node.consul` and `*.addr.consul`
//! answered from the catalog the way Consul answers them (health-filtered,
//! shuffled, TTL 0, SRV with additional A records, UDP answers limited),
//! NXDOMAIN with the SOA for unknown names, and REFUSED (or forwarding to
//! recursors) for names outside `consul.`.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use hickory_proto::op::{Edns, Header, Message, MessageType, OpCode, Query, ResponseCode};
use hickory_proto::rr::rdata::{A, AAAA, CNAME, NS, PTR, SOA, SRV, TXT};
use hickory_proto::rr::{Name, RData, Record, RecordType};
use hickory_proto::xfer::Protocol;
use hickory_server::authority::MessageResponseBuilder;
use hickory_server::server::{Request, RequestHandler, ResponseHandler, ResponseInfo};

use crate::metrics::Metrics;
use crate::state::Store;
use crate::types::{HealthEntry, Status};

/// DNS settings, as Consul's `dns_config` and `recursors`.
#[derive(Clone, Debug)]
pub struct DnsConfig {
    /// A/AAAA answers in a UDP reply without EDNS (Consul: 3, at most 8).
    pub udp_answer_limit: usize,
    /// Caps A/AAAA answers on every transport (0: no cap).
    pub a_record_limit: usize,
    /// Drop instances with a warning too, not only critical ones.
    pub only_passing: bool,
    /// Set TC when records were dropped to fit.
    pub enable_truncate: bool,
    /// Upstream servers for names outside `consul.`.
    pub recursors: Vec<SocketAddr>,
    /// Timeout per recursor.
    pub recursor_timeout: Duration,
}

impl Default for DnsConfig {
    fn default() -> Self {
        DnsConfig {
            udp_answer_limit: 3,
            a_record_limit: 0,
            only_passing: false,
            enable_truncate: false,
            recursors: Vec::new(),
            recursor_timeout: Duration::from_secs(2),
        }
    }
}

/// What to send back for one question.
#[derive(Debug, Default)]
pub(crate) struct Answer {
    pub(crate) rcode: ResponseCode,
    pub(crate) answers: Vec<Record>,
    pub(crate) authority: Vec<Record>,
    pub(crate) additionals: Vec<Record>,
    pub(crate) authoritative: bool,
    pub(crate) recursion_available: bool,
}

/// The request handler given to hickory's server.
#[derive(Clone, Debug)]
pub(crate) struct DnsHandler {
    store: Arc<Store>,
    cfg: DnsConfig,
    metrics: Arc<Metrics>,
    domain: Name,
}

fn name(s: &str) -> Option<Name> {
    Name::from_ascii(s).ok()
}

fn hex_ip(ip: IpAddr) -> String {
    match ip {
        IpAddr::V4(v4) => v4.octets().iter().map(|b| format!("{b:02x}")).collect(),
        IpAddr::V6(v6) => v6.octets().iter().map(|b| format!("{b:02x}")).collect(),
    }
}

fn parse_hex_ip(s: &str) -> Option<IpAddr> {
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

fn ip_record(owner: &Name, ip: IpAddr) -> Record {
    match ip {
        IpAddr::V4(v4) => Record::from_rdata(owner.clone(), 0, RData::A(A(v4))),
        IpAddr::V6(v6) => Record::from_rdata(owner.clone(), 0, RData::AAAA(AAAA(v6))),
    }
}

fn wants(qtype: RecordType, ip: IpAddr) -> bool {
    matches!(
        (qtype, ip),
        (RecordType::A, IpAddr::V4(_)) | (RecordType::AAAA, IpAddr::V6(_)) | (RecordType::ANY, _)
    )
}

/// A parsed name under `consul.`.
#[derive(Debug, PartialEq, Eq)]
enum Lookup {
    Service { name: String, tag: Option<String> },
    Node(String),
    Addr(String),
    Unknown,
}

/// Splits `labels` (without the domain) into a lookup and a datacenter.
fn parse_labels(mut labels: Vec<String>) -> (Lookup, Option<String>) {
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
        _ => Lookup::Unknown,
    };
    (lookup, dc)
}

impl DnsHandler {
    pub(crate) fn new(store: Arc<Store>, cfg: DnsConfig, metrics: Arc<Metrics>) -> DnsHandler {
        DnsHandler {
            store,
            cfg,
            metrics,
            domain: Name::from_ascii("consul.").unwrap_or_else(|_| Name::root()),
        }
    }

    fn dc(&self) -> String {
        self.store.config().datacenter.clone()
    }

    fn soa(&self) -> Record {
        let serial = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs() as u32);
        let mname = name("ns.consul.").unwrap_or_else(Name::root);
        let rname = name("hostmaster.consul.").unwrap_or_else(Name::root);
        Record::from_rdata(
            self.domain.clone(),
            0,
            RData::SOA(SOA::new(mname, rname, serial, 3600, 600, 86400, 0)),
        )
    }

    fn nxdomain(&self) -> Answer {
        Answer {
            rcode: ResponseCode::NXDomain,
            authority: vec![self.soa()],
            authoritative: true,
            ..Answer::default()
        }
    }

    /// NOERROR with no answers: the name exists, the type does not.
    fn nodata(&self) -> Answer {
        Answer {
            rcode: ResponseCode::NoError,
            authority: vec![self.soa()],
            authoritative: true,
            ..Answer::default()
        }
    }

    /// Answers one question about a name under `consul.`.
    pub(crate) fn answer_consul(&self, query: &Query) -> Answer {
        let qname = query.name();
        let qtype = query.query_type();
        if qtype == RecordType::AXFR {
            return Answer {
                rcode: ResponseCode::NotImp,
                ..Answer::default()
            };
        }
        let labels: Vec<String> = qname
            .iter()
            .map(|l| String::from_utf8_lossy(l).to_ascii_lowercase())
            .collect();
        let Some(labels) = labels.strip_suffix(&["consul".to_string()]) else {
            return self.nxdomain();
        };
        if labels.is_empty() {
            return self.zone_apex(qtype);
        }
        let (lookup, dc) = parse_labels(labels.to_vec());
        if dc.as_deref().is_some_and(|d| d != self.dc()) {
            return self.nxdomain();
        }
        match lookup {
            Lookup::Service { name, tag } => self.service(qname, qtype, &name, tag.as_deref()),
            Lookup::Node(node) => self.node(qname, qtype, &node),
            Lookup::Addr(hex) => match parse_hex_ip(&hex) {
                Some(ip) if wants(qtype, ip) => Answer {
                    answers: vec![ip_record(qname, ip)],
                    authoritative: true,
                    ..Answer::default()
                },
                Some(_) => self.nodata(),
                None => self.nxdomain(),
            },
            Lookup::Unknown => self.nxdomain(),
        }
    }

    fn zone_apex(&self, qtype: RecordType) -> Answer {
        let cfg = self.store.config();
        let ns_name = name(&format!(
            "{}.node.{}.consul.",
            cfg.node_name, cfg.datacenter
        ));
        let ns = ns_name
            .clone()
            .map(|n| Record::from_rdata(self.domain.clone(), 0, RData::NS(NS(n))));
        let glue = ns_name
            .zip(cfg.node_address.parse::<IpAddr>().ok())
            .map(|(n, ip)| ip_record(&n, ip));
        match qtype {
            RecordType::SOA => Answer {
                answers: vec![self.soa()],
                authority: ns.into_iter().collect(),
                additionals: glue.into_iter().collect(),
                authoritative: true,
                ..Answer::default()
            },
            RecordType::NS => Answer {
                answers: ns.into_iter().collect(),
                additionals: glue.into_iter().collect(),
                authoritative: true,
                ..Answer::default()
            },
            _ => self.nodata(),
        }
    }

    /// Healthy instances of a service (case-insensitive name), shuffled.
    fn healthy(&self, svc: &str, tag: Option<&str>) -> Vec<HealthEntry> {
        let tags: Vec<String> = tag.map(|t| vec![t.to_string()]).unwrap_or_default();
        let inner = self.store.lock();
        let (_, mut entries) = inner.health_service(svc, &[]);
        if entries.is_empty() {
            if let Some(real) = inner.by_name.keys().find(|k| k.eq_ignore_ascii_case(svc)) {
                entries = inner.health_service(&real.clone(), &[]).1;
            }
        }
        drop(inner);
        let only_passing = self.cfg.only_passing;
        let mut entries: Vec<HealthEntry> = entries
            .into_iter()
            .filter(|e| {
                tags.iter()
                    .all(|t| e.service.tags.iter().any(|st| st.eq_ignore_ascii_case(t)))
            })
            .filter(|e| {
                e.checks.iter().all(|c| match c.status {
                    Status::Passing => true,
                    Status::Warning => !only_passing,
                    Status::Critical => false,
                })
            })
            .collect();
        fastrand::shuffle(&mut entries);
        entries
    }

    fn service(&self, qname: &Name, qtype: RecordType, svc: &str, tag: Option<&str>) -> Answer {
        let entries = self.healthy(svc, tag);
        if entries.is_empty() {
            return self.nxdomain();
        }
        let dc = self.dc();
        let mut out = Answer {
            authoritative: true,
            ..Answer::default()
        };
        for e in &entries {
            let addr = e.service.effective_address(&e.node).to_string();
            let ip = addr.parse::<IpAddr>().ok();
            match qtype {
                RecordType::SRV => {
                    let target = match (e.service.address.is_empty(), ip) {
                        (true, _) => name(&format!("{}.node.{dc}.consul.", e.node.name)),
                        (false, Some(ip)) => name(&format!("{}.addr.{dc}.consul.", hex_ip(ip))),
                        (false, None) => name(&format!("{}.", addr.trim_end_matches('.'))),
                    };
                    let Some(target) = target else { continue };
                    let weight = if e.aggregate() == Status::Warning {
                        e.service.weights.warning
                    } else {
                        e.service.weights.passing
                    };
                    let weight = u16::try_from(weight).unwrap_or(u16::MAX);
                    out.answers.push(Record::from_rdata(
                        qname.clone(),
                        0,
                        RData::SRV(SRV::new(1, weight, e.service.port, target.clone())),
                    ));
                    if let Some(ip) = ip {
                        out.additionals.push(ip_record(&target, ip));
                    }
                    out.additionals.extend(self.node_meta_txt(&target, e));
                }
                RecordType::TXT => {
                    out.answers.extend(self.node_meta_txt(qname, e));
                }
                _ => match ip {
                    Some(ip) if wants(qtype, ip) => out.answers.push(ip_record(qname, ip)),
                    Some(_) => {}
                    None if matches!(qtype, RecordType::A | RecordType::AAAA | RecordType::ANY) => {
                        if let Some(cname) = name(&format!("{}.", addr.trim_end_matches('.'))) {
                            out.answers.push(Record::from_rdata(
                                qname.clone(),
                                0,
                                RData::CNAME(CNAME(cname)),
                            ));
                        }
                    }
                    None => {}
                },
            }
        }
        if self.cfg.a_record_limit > 0
            && matches!(qtype, RecordType::A | RecordType::AAAA | RecordType::ANY)
        {
            out.answers.truncate(self.cfg.a_record_limit);
        }
        if out.answers.is_empty() {
            return self.nodata();
        }
        out
    }

    /// TXT records of a node's user metadata (RFC 1464 `key=value`).
    fn node_meta_txt(&self, owner: &Name, e: &HealthEntry) -> Option<Record> {
        let strings: Vec<String> = e
            .node
            .meta
            .iter()
            .filter(|(k, _)| !k.starts_with("consul-"))
            .map(|(k, v)| match k.strip_prefix("rfc1035-") {
                Some(raw) if v.is_empty() => raw.to_string(),
                _ => format!("{k}={v}"),
            })
            .collect();
        (!strings.is_empty())
            .then(|| Record::from_rdata(owner.clone(), 0, RData::TXT(TXT::new(strings))))
    }

    fn node(&self, qname: &Name, qtype: RecordType, node: &str) -> Answer {
        let found = {
            let inner = self.store.lock();
            inner
                .nodes
                .values()
                .find(|n| n.name.eq_ignore_ascii_case(node))
                .cloned()
        };
        let Some(n) = found else {
            return self.nxdomain();
        };
        let mut out = Answer {
            authoritative: true,
            ..Answer::default()
        };
        if let Ok(ip) = n.address.parse::<IpAddr>() {
            if wants(qtype, ip) {
                out.answers.push(ip_record(qname, ip));
            }
        }
        if matches!(qtype, RecordType::TXT | RecordType::ANY) {
            let strings: Vec<String> = n.meta.iter().map(|(k, v)| format!("{k}={v}")).collect();
            if !strings.is_empty() {
                out.answers.push(Record::from_rdata(
                    qname.clone(),
                    0,
                    RData::TXT(TXT::new(strings)),
                ));
            }
        }
        if out.answers.is_empty() {
            return self.nodata();
        }
        out
    }

    /// PTR for an address that belongs to a node or a service in the catalog.
    fn reverse(&self, query: &Query) -> Option<Answer> {
        let labels: Vec<String> = query
            .name()
            .iter()
            .map(|l| String::from_utf8_lossy(l).to_ascii_lowercase())
            .collect();
        let ip: IpAddr = match labels.as_slice() {
            [a, b, c, d, in_addr, arpa] if in_addr == "in-addr" && arpa == "arpa" => {
                format!("{d}.{c}.{b}.{a}").parse().ok()?
            }
            _ => return None,
        };
        let dc = self.dc();
        let target = {
            let inner = self.store.lock();
            let node = inner
                .nodes
                .values()
                .find(|n| n.address.parse::<IpAddr>().ok() == Some(ip))
                .map(|n| format!("{}.node.{dc}.consul.", n.name));
            node.or_else(|| {
                inner
                    .services
                    .values()
                    .find(|s| s.address.parse::<IpAddr>().ok() == Some(ip))
                    .map(|s| format!("{}.service.{dc}.consul.", s.name))
            })
        }?;
        Some(Answer {
            answers: vec![Record::from_rdata(
                query.name().clone(),
                0,
                RData::PTR(PTR(name(&target)?)),
            )],
            authoritative: true,
            ..Answer::default()
        })
    }

    /// Sends a question outside `consul.` to the recursors in turn.
    async fn forward(&self, query: &Query, rd: bool) -> Answer {
        if self.cfg.recursors.is_empty() {
            return Answer {
                rcode: ResponseCode::Refused,
                ..Answer::default()
            };
        }
        let mut msg = Message::new();
        msg.set_id(fastrand::u16(..))
            .set_message_type(MessageType::Query)
            .set_op_code(OpCode::Query)
            .set_recursion_desired(rd)
            .add_query(query.clone());
        let Ok(bytes) = msg.to_vec() else {
            return servfail(true);
        };
        for upstream in &self.cfg.recursors {
            let reply = tokio::time::timeout(self.cfg.recursor_timeout, async {
                let bind: SocketAddr = if upstream.is_ipv4() {
                    (Ipv4Addr::UNSPECIFIED, 0).into()
                } else {
                    (Ipv6Addr::UNSPECIFIED, 0).into()
                };
                let sock = tokio::net::UdpSocket::bind(bind).await?;
                sock.send_to(&bytes, upstream).await?;
                let mut buf = vec![0u8; 4096];
                loop {
                    let (n, from) = sock.recv_from(&mut buf).await?;
                    if from == *upstream {
                        return Ok::<_, std::io::Error>(buf[..n].to_vec());
                    }
                }
            })
            .await;
            let Ok(Ok(raw)) = reply else { continue };
            let Ok(mut m) = Message::from_vec(&raw) else {
                continue;
            };
            if m.id() != msg.id() {
                continue;
            }
            return Answer {
                rcode: m.response_code(),
                answers: m.take_answers(),
                authority: m.take_name_servers(),
                additionals: m.take_additionals(),
                authoritative: false,
                recursion_available: true,
            };
        }
        servfail(true)
    }

    /// Trims a UDP answer to what the client can take.
    fn fit_udp(&self, query: &Query, edns: Option<&Edns>, out: &mut Answer) -> bool {
        let mut dropped = false;
        let max_size = match edns {
            Some(e) => usize::from(e.max_payload().clamp(512, 65467)),
            None => {
                let limit = self.cfg.udp_answer_limit.clamp(1, 8);
                if out.answers.len() > limit {
                    out.answers.truncate(limit);
                    dropped = true;
                }
                512
            }
        };
        loop {
            keep_matching_additionals(out);
            // Most answers are far below the limit: skip the trial encoding then.
            if upper_bound_len(query, out, edns) <= max_size
                || encoded_len(query, out, edns) <= max_size
            {
                return dropped;
            }
            if out.additionals.pop().is_some() || out.answers.pop().is_some() {
                dropped = true;
            } else {
                return dropped;
            }
        }
    }
}

fn servfail(ra: bool) -> Answer {
    Answer {
        rcode: ResponseCode::ServFail,
        recursion_available: ra,
        ..Answer::default()
    }
}

/// Drops additional records whose owner is no longer an SRV target.
fn keep_matching_additionals(out: &mut Answer) {
    let targets: Vec<Name> = out
        .answers
        .iter()
        .filter_map(|r| match r.data() {
            RData::SRV(srv) => Some(srv.target().clone()),
            _ => None,
        })
        .collect();
    if targets.is_empty() {
        return;
    }
    out.additionals.retain(|r| targets.contains(r.name()));
}

/// A cheap upper bound of the encoded size (names uncompressed).
fn upper_bound_len(query: &Query, out: &Answer, edns: Option<&Edns>) -> usize {
    let name_len = |n: &Name| n.len() + 2;
    let record = |r: &Record| {
        let data = match r.data() {
            RData::A(_) => 4,
            RData::AAAA(_) => 16,
            RData::SRV(s) => 6 + name_len(s.target()),
            RData::CNAME(c) => name_len(&c.0),
            RData::PTR(p) => name_len(&p.0),
            RData::NS(n) => name_len(&n.0),
            RData::TXT(t) => t.iter().map(|s| s.len() + 1).sum(),
            _ => 512,
        };
        name_len(r.name()) + 10 + data
    };
    12 + name_len(query.name())
        + 4
        + out.answers.iter().map(record).sum::<usize>()
        + out.authority.iter().map(record).sum::<usize>()
        + out.additionals.iter().map(record).sum::<usize>()
        + if edns.is_some() { 11 } else { 0 }
}

fn encoded_len(query: &Query, out: &Answer, edns: Option<&Edns>) -> usize {
    let mut m = Message::new();
    m.add_query(query.clone());
    m.add_answers(out.answers.iter().cloned());
    m.add_name_servers(out.authority.iter().cloned());
    m.add_additionals(out.additionals.iter().cloned());
    if let Some(e) = edns {
        m.set_edns(e.clone());
    }
    m.to_vec().map_or(usize::MAX, |v| v.len())
}

#[async_trait::async_trait]
impl RequestHandler for DnsHandler {
    async fn handle_request<R: ResponseHandler>(
        &self,
        request: &Request,
        mut response: R,
    ) -> ResponseInfo {
        self.metrics.dns_queries.inc();
        let mut header = Header::response_from_request(request.header());
        let builder = MessageResponseBuilder::from_message_request(request);
        let Some(lower) = request.queries().first() else {
            header.set_response_code(ResponseCode::FormErr);
            return send(&mut response, builder.build_no_records(header)).await;
        };
        if request.op_code() != OpCode::Query || request.message_type() != MessageType::Query {
            header.set_response_code(ResponseCode::NotImp);
            return send(&mut response, builder.build_no_records(header)).await;
        }
        let query = lower.original().clone();
        let mut out = if self.domain.zone_of(query.name()) {
            self.answer_consul(&query)
        } else if let Some(a) = self.reverse(&query) {
            a
        } else {
            self.forward(&query, request.header().recursion_desired())
                .await
        };
        if !self.cfg.recursors.is_empty() {
            out.recursion_available = true;
        }
        let edns = request.edns().map(|e| {
            let mut reply = Edns::new();
            reply.set_max_payload(e.max_payload().max(512));
            reply
        });
        if request.protocol() == Protocol::Udp {
            let dropped = self.fit_udp(&query, edns.as_ref(), &mut out);
            if dropped && self.cfg.enable_truncate {
                header.set_truncated(true);
            }
        }
        header.set_response_code(out.rcode);
        header.set_authoritative(out.authoritative);
        header.set_recursion_available(out.recursion_available);
        let mut builder = builder;
        if let Some(e) = edns {
            builder.edns(e);
        }
        let resp = builder.build(
            header,
            out.answers.iter(),
            out.authority.iter(),
            std::iter::empty(),
            out.additionals.iter(),
        );
        send(&mut response, resp).await
    }
}

async fn send<'a, R: ResponseHandler>(
    response: &mut R,
    msg: hickory_server::authority::MessageResponse<
        '_,
        'a,
        impl Iterator<Item = &'a Record> + Send + 'a,
        impl Iterator<Item = &'a Record> + Send + 'a,
        impl Iterator<Item = &'a Record> + Send + 'a,
        impl Iterator<Item = &'a Record> + Send + 'a,
    >,
) -> ResponseInfo {
    let header = *msg.header();
    match response.send_response(msg).await {
        Ok(info) => info,
        Err(e) => {
            tracing::debug!(error = %e, "sending DNS response failed");
            let mut h = header;
            h.set_response_code(ResponseCode::ServFail);
            h.into()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
}
