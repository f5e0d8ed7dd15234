//! Fitting a UDP reply into what the client can take: the answer limit
//! without EDNS, and the message size.

use hickory_proto::op::{Edns, Message, Query};
use hickory_proto::rr::{Name, RData, Record};

use super::{Answer, DnsHandler};

impl DnsHandler {
    /// Trims a UDP answer to what the client can take.
    pub(super) fn fit_udp(&self, query: &Query, edns: Option<&Edns>, out: &mut Answer) -> bool {
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
