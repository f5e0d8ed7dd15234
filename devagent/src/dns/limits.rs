//! Fitting a reply into what the client can take, as Consul does
//! (`trimUDPResponse`, `trimTCPResponse`, `syncExtra`), in linear time.
//!
//! * UDP without EDNS (or with 512 bytes): at most `udp_answer_limit`
//!   answers (at most 8), and 512 bytes counted without name compression.
//! * UDP with EDNS: the client's size (at most 65,467 bytes).
//! * TCP: 65,523 bytes, at most 1,024 SRV or 4,096 other answers.
//!
//! Every record's encoded size is computed once, in wire order, with a model
//! of hickory's name compression (owner names and CNAME/NS/PTR targets are
//! compressed; SRV targets are written in full but remembered) that never
//! counts a saving the encoder would not make: the sizes are upper bounds,
//! so the kept prefix always fits. The answers kept are the longest prefix that fits together with the
//! additional records of the SRV targets it holds (one A/AAAA per target
//! once something had to go, as Consul's `syncExtra`), so a trimmed SRV
//! answer keeps the addresses of its targets.

use std::collections::{HashMap, HashSet};

use hickory_proto::op::Query;
use hickory_proto::rr::{Name, RData, Record, RecordType};
use hickory_proto::serialize::binary::BinEncodable;
use hickory_proto::xfer::Protocol;

use super::Answer;

/// Largest UDP payload with EDNS (Consul's cap).
const MAX_EDNS_UDP: usize = 65_467;
/// Largest TCP message Consul builds (64 KiB less the framing overhead).
const MAX_TCP: usize = 65_523;
/// A UDP reply without EDNS.
const PLAIN_UDP: usize = 512;
/// Consul's hard maximum of `udp_answer_limit`.
const MAX_UDP_ANSWERS: usize = 8;
/// Consul's answer caps over TCP.
const MAX_TCP_SRV: usize = 1024;
const MAX_TCP_ANSWERS: usize = 4096;
/// Smallest record these answers hold (a compressed owner, an A record).
const MIN_RECORD: usize = 16;
/// hickory stores a name for compression only while the message is shorter than this.
const POINTER_LIMIT: usize = 0x3FFF;
/// The OPT record of an EDNS reply with no options.
const OPT_LEN: usize = 11;

/// What a reply may hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Budget {
    /// Bytes of the whole message.
    pub(crate) max_size: usize,
    /// Records in the answer section.
    pub(crate) max_answers: usize,
    /// Whether names may be counted compressed (Consul counts 512-byte replies uncompressed).
    pub(crate) compressed: bool,
    /// Whether the reply carries an OPT record.
    pub(crate) edns: bool,
}

impl Budget {
    /// The budget of a reply over `protocol` to a question of `qtype`, with
    /// the client's EDNS payload size if it sent one.
    pub(crate) fn new(
        protocol: Protocol,
        edns_payload: Option<u16>,
        qtype: RecordType,
        udp_answer_limit: usize,
    ) -> Budget {
        let edns = edns_payload.is_some();
        if protocol != Protocol::Udp {
            let max_answers = if qtype == RecordType::SRV {
                MAX_TCP_SRV
            } else {
                MAX_TCP_ANSWERS
            };
            return Budget {
                max_size: MAX_TCP,
                max_answers,
                compressed: true,
                edns,
            };
        }
        let size =
            edns_payload.map_or(PLAIN_UDP, |p| usize::from(p).clamp(PLAIN_UDP, MAX_EDNS_UDP));
        if size == PLAIN_UDP {
            Budget {
                max_size: PLAIN_UDP,
                max_answers: udp_answer_limit.clamp(1, MAX_UDP_ANSWERS),
                compressed: false,
                edns,
            }
        } else {
            Budget {
                max_size: size,
                max_answers: usize::MAX,
                compressed: true,
                edns,
            }
        }
    }

    /// How many answer records are worth building: no more can fit.
    pub(crate) fn build_cap(&self) -> usize {
        self.max_answers.min(self.max_size / MIN_RECORD + 1)
    }
}

/// Trims `out` to `budget` in one pass over its records; whether answers
/// were dropped (Consul's `trimmed`, which sets TC when `enable_truncate`).
pub(crate) fn fit(query: &Query, out: &mut Answer, budget: &Budget, built_all: bool) -> bool {
    let mut trimmed = !built_all;
    // Targets of every SRV answer: their additional records go with them.
    let srv_targets: HashSet<Name> = out
        .answers
        .iter()
        .filter_map(|r| match r.data() {
            RData::SRV(s) => Some(s.target().clone()),
            _ => None,
        })
        .collect();
    if out.answers.len() > budget.max_answers {
        out.answers.truncate(budget.max_answers);
        trimmed = true;
    }
    let mut names = NameSizes::new(budget.compressed);
    let question_end = 12 + wire_len(query.name()) + 4;
    let mut offset = question_end;
    // The SRV answer (index) that first names each target, and whether the
    // target's full name can be pointed to from then on.
    let mut targets: HashMap<Name, (usize, bool)> = HashMap::new();
    let mut answer_sizes = Vec::with_capacity(out.answers.len());
    for (i, r) in out.answers.iter().enumerate() {
        let (size, target) = names.record(r, offset);
        if let (Some(stored), RData::SRV(srv)) = (target, r.data()) {
            targets.entry(srv.target().clone()).or_insert((i, stored));
        }
        answer_sizes.push(size);
        offset += size;
        if offset > budget.max_size {
            break; // the answers after this one cannot be sent
        }
    }
    let mut base = question_end + if budget.edns { OPT_LEN } else { 0 };
    base += out.authority.iter().map(uncompressed_len).sum::<usize>();
    // Additional records by the answer that brings them.
    let mut owned_all = vec![0usize; answer_sizes.len()];
    let mut owned_addr = vec![0usize; answer_sizes.len()];
    for r in &out.additionals {
        match targets.get(r.name()) {
            Some(&(i, stored)) => {
                let owner = if stored && budget.compressed {
                    2
                } else {
                    names.lookup(r.name())
                };
                let size = owner + 10 + rdata_len(r.data());
                owned_all[i] += size;
                if is_address(r) {
                    owned_addr[i] += size;
                }
            }
            None if srv_targets.contains(r.name()) => {} // its answer is gone
            None => base += uncompressed_len(r),
        }
    }
    let everything = base + answer_sizes.iter().sum::<usize>() + owned_all.iter().sum::<usize>();
    let (keep, addresses_only) =
        if answer_sizes.len() == out.answers.len() && everything <= budget.max_size {
            (out.answers.len(), false)
        } else {
            let mut total = base;
            let mut keep = 0;
            for (i, size) in answer_sizes.iter().enumerate() {
                total += size + owned_addr[i];
                if total > budget.max_size {
                    break;
                }
                keep = i + 1;
            }
            // Even a single answer that is too big is sent (Consul does the same).
            (keep.max(1).min(answer_sizes.len()), true)
        };
    if keep < out.answers.len() {
        out.answers.truncate(keep);
        trimmed = true;
    }
    if !srv_targets.is_empty() {
        let mut seen = HashSet::new();
        out.additionals.retain(|r| match targets.get(r.name()) {
            Some(&(i, _)) => {
                i < keep
                    && (!addresses_only
                        || (is_address(r) && seen.insert((r.name().clone(), r.record_type()))))
            }
            None => !srv_targets.contains(r.name()),
        });
    }
    trimmed
}

fn is_address(r: &Record) -> bool {
    matches!(
        r.record_type(),
        RecordType::A | RecordType::AAAA | RecordType::CNAME
    )
}

/// Bytes of a name written out in full.
fn wire_len(name: &Name) -> usize {
    name.iter().map(|l| l.len() + 1).sum::<usize>() + 1
}

/// Bytes of rdata written without compression (an upper bound).
fn rdata_len(data: &RData) -> usize {
    match data {
        RData::A(_) => 4,
        RData::AAAA(_) => 16,
        RData::SRV(s) => 6 + wire_len(s.target()),
        RData::CNAME(n) => wire_len(&n.0),
        RData::PTR(n) => wire_len(&n.0),
        RData::NS(n) => wire_len(&n.0),
        RData::TXT(t) => t.iter().map(|s| s.len() + 1).sum(),
        other => other.to_bytes().map_or(usize::MAX / 4, |b| b.len()),
    }
}

fn uncompressed_len(r: &Record) -> usize {
    wire_len(r.name()) + 10 + rdata_len(r.data())
}

/// Sizes of names as hickory's encoder writes them: a name whose suffix
/// (from some label to the end) was written before, while the message was
/// under 16 KiB, becomes that suffix's labels plus a 2-byte pointer.
/// Only suffixes known to be stored are counted, so sizes are upper bounds.
#[derive(Debug, Default)]
struct NameSizes {
    compressed: bool,
    stored: HashSet<Vec<u8>>,
}

impl NameSizes {
    fn new(compressed: bool) -> NameSizes {
        NameSizes {
            compressed,
            stored: HashSet::new(),
        }
    }

    /// Bytes of `name` written at `offset`, and whether its full name can be
    /// pointed to afterwards. `canonical`: written in full, but remembered
    /// (hickory writes SRV targets so, as RFC 2782 asks).
    fn name(&mut self, name: &Name, offset: usize, canonical: bool) -> (usize, bool) {
        let full = wire_len(name);
        if !self.compressed {
            return (full, false);
        }
        let mut wire = Vec::with_capacity(full);
        let mut starts = Vec::new();
        for label in name.iter() {
            starts.push(wire.len());
            wire.push(label.len() as u8);
            wire.extend_from_slice(label);
        }
        let storable = offset + wire.len() < POINTER_LIMIT;
        let found = starts
            .iter()
            .position(|&start| self.stored.contains(&wire[start..]));
        if canonical {
            let known = found == Some(0);
            if storable {
                for &start in &starts {
                    self.stored.insert(wire[start..].to_vec());
                }
            }
            return (full, known || storable);
        }
        let new = found.unwrap_or(starts.len());
        if storable {
            for &start in &starts[..new] {
                self.stored.insert(wire[start..].to_vec());
            }
        }
        match found {
            Some(k) => (starts[k] + 2, k == 0 || storable),
            None => (full, storable),
        }
    }

    /// Bytes of `name` written past the part of the message where names are
    /// remembered: compressed against what was remembered before, if anything.
    fn lookup(&self, name: &Name) -> usize {
        let full = wire_len(name);
        if !self.compressed {
            return full;
        }
        let mut wire = Vec::with_capacity(full);
        let mut starts = Vec::new();
        for label in name.iter() {
            starts.push(wire.len());
            wire.push(label.len() as u8);
            wire.extend_from_slice(label);
        }
        starts
            .into_iter()
            .find(|&start| self.stored.contains(&wire[start..]))
            .map_or(full, |start| start + 2)
    }

    /// Bytes of `r` written at `offset`; for an SRV record also whether its
    /// target can be pointed to afterwards.
    fn record(&mut self, r: &Record, offset: usize) -> (usize, Option<bool>) {
        let (owner, _) = self.name(r.name(), offset, false);
        let at = offset + owner + 10;
        let (data, target) = match r.data() {
            RData::SRV(s) => {
                let (n, stored) = self.name(s.target(), at + 6, true);
                (6 + n, Some(stored))
            }
            RData::CNAME(n) => (self.name(&n.0, at, false).0, None),
            RData::PTR(n) => (self.name(&n.0, at, false).0, None),
            RData::NS(n) => (self.name(&n.0, at, false).0, None),
            other => (rdata_len(other), None),
        };
        (owner + 10 + data, target)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use hickory_proto::op::{Edns, Message};
    use hickory_proto::rr::rdata::{A, SRV, TXT};
    use std::net::Ipv4Addr;

    fn n(s: &str) -> Name {
        Name::from_ascii(s).unwrap()
    }

    /// `count` SRV answers (distinct targets) with an A and a TXT for each.
    fn srv_answer(count: usize) -> (Query, Answer) {
        let q = Query::query(n("web.service.consul."), RecordType::SRV);
        let mut out = Answer::default();
        for i in 0..count {
            let target = n(&format!("7f{i:06x}.addr.dc1.consul."));
            out.answers.push(Record::from_rdata(
                q.name().clone(),
                0,
                RData::SRV(SRV::new(1, 1, 8000, target.clone())),
            ));
            out.additionals.push(Record::from_rdata(
                target.clone(),
                0,
                RData::A(A(Ipv4Addr::new(127, 0, (i >> 8) as u8, i as u8))),
            ));
            out.additionals.push(Record::from_rdata(
                target,
                0,
                RData::TXT(TXT::new(vec!["rack=r1".into()])),
            ));
        }
        (q, out)
    }

    fn encoded(q: &Query, out: &Answer, edns: Option<u16>) -> usize {
        let mut m = Message::new();
        m.add_query(q.clone());
        m.add_answers(out.answers.iter().cloned());
        m.add_name_servers(out.authority.iter().cloned());
        m.add_additionals(out.additionals.iter().cloned());
        if let Some(p) = edns {
            let mut e = Edns::new();
            e.set_max_payload(p);
            m.set_edns(e);
        }
        m.to_vec().unwrap().len()
    }

    #[test]
    fn what_fits_is_kept_whole() {
        let (q, mut out) = srv_answer(5);
        let b = Budget::new(Protocol::Udp, Some(4096), RecordType::SRV, 3);
        assert!(!fit(&q, &mut out, &b, true));
        assert_eq!((out.answers.len(), out.additionals.len()), (5, 10));
    }

    #[test]
    fn trimmed_srv_answers_keep_their_targets_addresses_and_fit() {
        for payload in [1232u16, 4096, 9000, 16_000, 30_000, 65_000] {
            let (q, mut out) = srv_answer(5000);
            let b = Budget::new(Protocol::Udp, Some(payload), RecordType::SRV, 3);
            assert!(fit(&q, &mut out, &b, true));
            let kept = out.answers.len();
            assert!(kept > 10, "{payload}: {kept}");
            assert_eq!(
                out.additionals.len(),
                kept,
                "one A per kept target, TXT dropped"
            );
            for (srv, a) in out.answers.iter().zip(&out.additionals) {
                let RData::SRV(s) = srv.data() else { panic!() };
                assert_eq!(s.target(), a.name());
                assert_eq!(a.record_type(), RecordType::A);
            }
            let size = encoded(&q, &out, Some(payload));
            assert!(size <= usize::from(payload), "{payload}: {size}");
            eprintln!("{payload}: {kept} kept, {size} bytes");
            // Tight: two more pairs would not have fit.
            assert!(size + 2 * 60 > usize::from(payload).min(MAX_EDNS_UDP) || kept == 5000);
        }
    }

    #[test]
    fn plain_udp_holds_the_answer_limit_uncompressed() {
        let (q, mut out) = srv_answer(100);
        let b = Budget::new(Protocol::Udp, None, RecordType::SRV, 3);
        assert!(fit(&q, &mut out, &b, true));
        assert_eq!(out.answers.len(), 3);
        assert!(out
            .additionals
            .iter()
            .all(|r| out.answers.iter().any(|s| match s.data() {
                RData::SRV(s) => s.target() == r.name(),
                _ => false,
            })));
        assert!(encoded(&q, &out, None) <= 512);
    }

    #[test]
    fn tcp_caps_srv_answers_at_1024_and_64k() {
        let (q, mut out) = srv_answer(5000);
        let b = Budget::new(Protocol::Tcp, None, RecordType::SRV, 3);
        assert!(fit(&q, &mut out, &b, true));
        assert!(out.answers.len() <= 1024);
        assert!(encoded(&q, &out, None) <= MAX_TCP);
    }
}
