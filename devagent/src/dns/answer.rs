//! Answers to questions under `consul.`, and PTR answers for catalog
//! addresses, built from the catalog the way Consul builds them.

use std::net::IpAddr;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use hickory_proto::op::{Query, ResponseCode};
use hickory_proto::rr::rdata::{A, AAAA, CNAME, NS, PTR, SOA, SRV, TXT};
use hickory_proto::rr::{Name, RData, Record, RecordType};

use super::names::{name, parse_hex_ip, parse_labels, Lookup};
use super::prepared::{self, lower_wire, sample, Prepared};
use super::{Answer, DnsHandler};

fn ip_record(owner: &Name, ip: IpAddr) -> Record {
    match ip {
        IpAddr::V4(v4) => Record::from_rdata(owner.clone(), 0, RData::A(A(v4))),
        IpAddr::V6(v6) => Record::from_rdata(owner.clone(), 0, RData::AAAA(AAAA(v6))),
    }
}

/// TXT record of a node's user metadata (RFC 1464 `key=value`), if any.
fn txt_record(owner: &Name, strings: Option<&Vec<String>>) -> Option<Record> {
    strings.map(|s| Record::from_rdata(owner.clone(), 0, RData::TXT(TXT::new(s.clone()))))
}

fn wants(qtype: RecordType, ip: IpAddr) -> bool {
    matches!(
        (qtype, ip),
        (RecordType::A, IpAddr::V4(_)) | (RecordType::AAAA, IpAddr::V6(_)) | (RecordType::ANY, _)
    )
}

impl DnsHandler {
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

    /// Answers one question about a name under `consul.`, building records
    /// for at most `cap` instances of a service (no more can be sent); and
    /// whether every instance was built.
    pub(crate) fn answer_consul(&self, query: &Query, cap: usize) -> (Answer, bool) {
        let mut built_all = true;
        let answer = self.answer_consul_capped(query, cap, &mut built_all);
        (answer, built_all)
    }

    fn answer_consul_capped(&self, query: &Query, cap: usize, built_all: &mut bool) -> Answer {
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
            Lookup::Service { name, tag } => {
                let key = lower_wire(qname);
                let p = self.prepared(&key, &name, tag.as_deref());
                self.service(qname, qtype, &p, cap, built_all)
            }
            Lookup::Node(node) => self.node(qname, qtype, &node),
            Lookup::Query(q) => {
                let authz = self.acl.dns_authz();
                let p = prepared::from_entries(self.query_entries(&q), &authz, &self.dc());
                self.service(qname, qtype, &p, cap, built_all)
            }
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

    /// The healthy instances of a service lookup (case-insensitive name,
    /// tag) that the DNS token may read: prepared once per change of the
    /// service (or of the DNS token) and kept under the question's name.
    pub(crate) fn prepared(&self, key: &[u8], svc: &str, tag: Option<&str>) -> Arc<Prepared> {
        let authz = self.acl.dns_authz();
        if let Some(p) = self.answers.get(key) {
            if p.current(&self.store, &authz) {
                return p;
            }
        }
        let dc = self.dc();
        let p = Arc::new(prepared::build(
            &self.store,
            &prepared::Lookup {
                service: svc,
                tag,
                datacenter: &dc,
                only_passing: self.cfg.only_passing,
                authz: &authz,
            },
        ));
        self.answers.put(key, Arc::clone(&p));
        p
    }

    /// The instances a prepared query finds, with the `dns` token's rights.
    fn query_entries(&self, id_or_name: &str) -> Vec<crate::types::HealthEntry> {
        let Some(extra) = &self.queries else {
            return Vec::new();
        };
        let Ok(Some(query)) = extra.query_resolve(id_or_name) else {
            return Vec::new();
        };
        let authz = self.acl.dns_authz();
        let mut memo = crate::acl::ReadMemo::default();
        let mut entries = extra.query_execute(&self.store, query).entries;
        entries.retain(|e| authz.entry_readable(&mut memo, &e.node.node, &e.service.name));
        entries
    }

    fn service(
        &self,
        qname: &Name,
        qtype: RecordType,
        p: &Prepared,
        cap: usize,
        built_all: &mut bool,
    ) -> Answer {
        let n = p.instances.len();
        if n == 0 {
            return self.nxdomain();
        }
        // A random `cap` of them in random order (Consul shuffles every
        // answer); the rest could not be sent.
        let take = cap.max(1).min(n);
        let mut picked = Vec::with_capacity(take);
        sample(n, take, &mut picked);
        if take < n {
            *built_all = false;
        }
        let mut targets = std::collections::HashSet::new();
        let mut out = Answer {
            authoritative: true,
            ..Answer::default()
        };
        for &i in &picked {
            let inst = &p.instances[i as usize];
            match qtype {
                RecordType::SRV => {
                    let Some(target) = &inst.target else { continue };
                    out.answers.push(Record::from_rdata(
                        qname.clone(),
                        0,
                        RData::SRV(SRV::new(1, inst.weight, inst.port, target.clone())),
                    ));
                    if targets.insert(inst.wire.target_id) {
                        if let Some(ip) = inst.ip {
                            out.additionals.push(ip_record(target, ip));
                        }
                        out.additionals
                            .extend(txt_record(target, inst.txt.as_ref()));
                    }
                }
                RecordType::TXT => {
                    out.answers.extend(txt_record(qname, inst.txt.as_ref()));
                }
                _ => match inst.ip {
                    Some(ip) if wants(qtype, ip) => out.answers.push(ip_record(qname, ip)),
                    Some(_) => {}
                    None if matches!(qtype, RecordType::A | RecordType::AAAA | RecordType::ANY) => {
                        if let Some(host) = &inst.host {
                            out.answers.push(Record::from_rdata(
                                qname.clone(),
                                0,
                                RData::CNAME(CNAME(host.clone())),
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

    fn node(&self, qname: &Name, qtype: RecordType, node: &str) -> Answer {
        let found = {
            let inner = self.store.lock();
            inner
                .nodes
                .values()
                .find(|n| n.node.eq_ignore_ascii_case(node))
                .cloned()
        };
        let Some(n) = found.filter(|n| self.acl.dns_authz().node_read(&n.node)) else {
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
    pub(super) fn reverse(&self, query: &Query) -> Option<Answer> {
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
        let authz = self.acl.dns_authz();
        let target = {
            let inner = self.store.lock();
            let node = inner
                .nodes
                .values()
                .find(|n| n.address.parse::<IpAddr>().ok() == Some(ip))
                .filter(|n| authz.node_read(&n.node))
                .map(|n| format!("{}.node.{dc}.consul.", n.node));
            node.or_else(|| {
                inner
                    .services
                    .values()
                    .find(|s| s.address.parse::<IpAddr>().ok() == Some(ip))
                    .filter(|s| authz.service_read(&s.name))
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
}
