//! The UDP fast path: a plain service question whose answer is prepared
//! (see `prepared`) is answered by writing the reply bytes directly, in one
//! pass, as hickory would encode the general path's records: the question
//! echoed as sent, answer owners compressed to the question (`0xC00C`), SRV
//! targets written in full and additional records pointing at them, an OPT
//! record when the query had one. Instances are sampled per query (Consul
//! shuffles every answer) and the reply is fitted as `limits::fit` fits the
//! general path's (`udp_answer_limit` and 512 bytes counted uncompressed
//! without EDNS; the client's size with it; one address per target once
//! something had to go). Anything else goes the general way: the parser
//! here declines it.

use std::net::IpAddr;

use hickory_proto::rr::RecordType;
use hickory_proto::xfer::Protocol;

use super::limits::Budget;
use super::prepared::{sample, Prepared};
use super::DnsConfig;

/// A query this path can answer, parsed from the packet.
#[derive(Debug)]
pub(crate) struct Question<'a> {
    id: u16,
    flags: u16,
    /// The question as sent (name, type, class).
    question: &'a [u8],
    /// Bytes of the name in the question.
    name_len: usize,
    pub(crate) qtype: RecordType,
    /// The EDNS payload size, if the query had an OPT record.
    edns: Option<u16>,
}

const QR: u16 = 0x8000;
const OPCODE: u16 = 0x7800;
const AA: u16 = 0x0400;
const TC: u16 = 0x0200;
const RD: u16 = 0x0100;
const RA: u16 = 0x0080;
const CD: u16 = 0x0010;
/// hickory keeps a name for compression only while the message is shorter than this.
const POINTER_LIMIT: usize = 0x3FFF;

fn u16_at(b: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_be_bytes([*b.get(at)?, *b.get(at + 1)?]))
}

/// Parses a query of one IN question of type SRV, A or AAAA, with at most
/// an OPT record (EDNS version 0) besides; writes its name in lowercase
/// wire form into `lower` (the key of prepared answers). `None` for
/// anything else.
pub(crate) fn parse<'a>(buf: &'a [u8], lower: &mut Vec<u8>) -> Option<Question<'a>> {
    let flags = u16_at(buf, 2)?;
    // A query (QR 0) with OPCODE QUERY; one question, nothing else but OPT.
    if flags & (QR | OPCODE) != 0
        || u16_at(buf, 4)? != 1
        || u16_at(buf, 6)? != 0
        || u16_at(buf, 8)? != 0
        || u16_at(buf, 10)? > 1
    {
        return None;
    }
    lower.clear();
    let mut at = 12;
    loop {
        let len = usize::from(*buf.get(at)?);
        if len == 0 {
            lower.push(0);
            at += 1;
            break;
        }
        // Compression pointers and extended labels are not for questions.
        if len > 63 || lower.len() + len + 2 > 255 {
            return None;
        }
        let label = buf.get(at + 1..at + 1 + len)?;
        lower.push(len as u8);
        lower.extend(label.iter().map(u8::to_ascii_lowercase));
        at += 1 + len;
    }
    let name_len = at - 12;
    let qtype = match u16_at(buf, at)? {
        33 => RecordType::SRV,
        1 => RecordType::A,
        28 => RecordType::AAAA,
        _ => return None,
    };
    if u16_at(buf, at + 2)? != 1 {
        return None; // class IN only
    }
    let question = &buf[12..at + 4];
    at += 4;
    let edns = if u16_at(buf, 10)? == 1 {
        // OPT: root name, type 41, class = payload, TTL = rcode/version/flags.
        if buf.get(at) != Some(&0) || u16_at(buf, at + 1)? != 41 {
            return None;
        }
        let payload = u16_at(buf, at + 3)?;
        let version = *buf.get(at + 6)?;
        let rdlen = usize::from(u16_at(buf, at + 9)?);
        if version != 0 {
            return None;
        }
        at += 11 + rdlen;
        Some(payload)
    } else {
        None
    };
    if at != buf.len() {
        return None;
    }
    Some(Question {
        id: u16_at(buf, 0)?,
        flags,
        question,
        name_len,
        qtype,
        edns,
    })
}

/// One answer record and the additional records it brings.
struct Planned {
    instance: u32,
    size: usize,
    /// Bytes of its target's address record (0 if none or not first).
    addr: usize,
    /// Bytes of its target's TXT record (0 if none or not first).
    txt: usize,
    /// Offset of its SRV target in the message, if an SRV.
    target_at: usize,
}

/// Writes the reply to `q` from `p` into `out`; false (nothing written that
/// counts) if this path cannot answer it: the general path does.
pub(crate) fn answer(
    q: &Question<'_>,
    p: &Prepared,
    cfg: &DnsConfig,
    recursion_available: bool,
    out: &mut Vec<u8>,
) -> bool {
    let n = p.instances.len();
    let srv = q.qtype == RecordType::SRV;
    if n == 0 || (srv && !p.srv_ready) || (!srv && !p.all_ips) {
        return false;
    }
    let budget = Budget::new(Protocol::Udp, q.edns, q.qtype, cfg.udp_answer_limit);
    let take = budget.build_cap().max(1).min(n);
    let mut picked = Vec::with_capacity(take);
    sample(n, take, &mut picked);
    let mut trimmed = take < n;
    // Plan: sizes as hickory writes them (or, for 512-byte replies, as
    // Consul counts them: uncompressed).
    let question_end = 12 + q.question.len();
    let base = question_end + if budget.edns { 11 } else { 0 };
    let owner = if budget.compressed { 2 } else { q.name_len };
    let mut planned: Vec<Planned> = Vec::with_capacity(take);
    let mut seen: Vec<u32> = Vec::new();
    // Suffixes additional owners past 16 KiB can point to (only big replies).
    let mut suffixes = Suffixes::new(budget.compressed && budget.max_size > POINTER_LIMIT);
    suffixes.remember(&q.question[..q.name_len], 12);
    // Where each record goes in the reply as written (owners compressed).
    let mut written = question_end;
    for &i in &picked {
        let inst = &p.instances[i as usize];
        let (size, target_at) = if srv {
            (owner + 10 + inst.wire.srv.len(), written + 2 + 10 + 6)
        } else {
            match inst.ip {
                Some(IpAddr::V4(_)) if q.qtype == RecordType::A => (owner + 14, 0),
                Some(IpAddr::V6(_)) if q.qtype == RecordType::AAAA => (owner + 26, 0),
                _ => continue,
            }
        };
        let (mut addr, mut txt) = (0, 0);
        if srv {
            let target = &inst.wire.srv[6..];
            suffixes.remember_suffixes(target, target_at);
            if !seen.contains(&inst.wire.target_id) {
                seen.push(inst.wire.target_id);
                let name = if budget.compressed {
                    suffixes.owner_len(target, target_at)
                } else {
                    target.len()
                };
                addr = match inst.ip {
                    Some(IpAddr::V4(_)) => name + 14,
                    Some(IpAddr::V6(_)) => name + 26,
                    None => 0,
                };
                if !inst.wire.txt.is_empty() {
                    txt = name + 10 + inst.wire.txt.len();
                }
            }
        }
        written += size - owner + 2;
        planned.push(Planned {
            instance: i,
            size,
            addr,
            txt,
            target_at,
        });
    }
    if !srv && cfg.a_record_limit > 0 && planned.len() > cfg.a_record_limit {
        planned.truncate(cfg.a_record_limit);
    }
    if planned.is_empty() {
        return false;
    }
    if planned.len() > budget.max_answers {
        planned.truncate(budget.max_answers);
        trimmed = true;
    }
    let everything: usize = base
        + planned
            .iter()
            .map(|a| a.size + a.addr + a.txt)
            .sum::<usize>();
    let addresses_only = everything > budget.max_size;
    if addresses_only {
        let mut total = base;
        let mut keep = 0;
        for a in &planned {
            total += a.size + a.addr;
            if total > budget.max_size {
                break;
            }
            keep += 1;
        }
        // Even a single answer that is too big is sent (as the general path does).
        planned.truncate(keep.max(1));
        trimmed = true;
    }
    // Write.
    let extras = planned
        .iter()
        .map(|a| usize::from(a.addr > 0) + usize::from(a.txt > 0 && !addresses_only))
        .sum::<usize>()
        + usize::from(q.edns.is_some());
    let mut flags = QR | (q.flags & (OPCODE | RD | CD)) | AA;
    if trimmed && cfg.enable_truncate {
        flags |= TC;
    }
    if recursion_available {
        flags |= RA;
    }
    out.clear();
    out.extend_from_slice(&q.id.to_be_bytes());
    out.extend_from_slice(&flags.to_be_bytes());
    out.extend_from_slice(&1u16.to_be_bytes());
    out.extend_from_slice(&(planned.len() as u16).to_be_bytes());
    out.extend_from_slice(&0u16.to_be_bytes());
    out.extend_from_slice(&(extras as u16).to_be_bytes());
    out.extend_from_slice(q.question);
    let qtype = u16::from(q.qtype).to_be_bytes();
    for a in &planned {
        let inst = &p.instances[a.instance as usize];
        out.extend_from_slice(&[0xC0, 0x0C]);
        out.extend_from_slice(&qtype);
        out.extend_from_slice(&[0, 1, 0, 0, 0, 0]); // IN, TTL 0
        if srv {
            out.extend_from_slice(&(inst.wire.srv.len() as u16).to_be_bytes());
            out.extend_from_slice(&inst.wire.srv);
        } else {
            write_ip(out, inst.ip);
        }
    }
    for a in planned.iter().filter(|a| a.addr > 0 || a.txt > 0) {
        let inst = &p.instances[a.instance as usize];
        let target = &inst.wire.srv[6..];
        let write_owner = |out: &mut Vec<u8>| suffixes.write_owner(out, target, a.target_at);
        if a.addr > 0 {
            write_owner(out);
            let rtype: u16 = if matches!(inst.ip, Some(IpAddr::V6(_))) {
                28
            } else {
                1
            };
            out.extend_from_slice(&rtype.to_be_bytes());
            out.extend_from_slice(&[0, 1, 0, 0, 0, 0]);
            write_ip(out, inst.ip);
        }
        if a.txt > 0 && !addresses_only {
            write_owner(out);
            out.extend_from_slice(&16u16.to_be_bytes());
            out.extend_from_slice(&[0, 1, 0, 0, 0, 0]);
            out.extend_from_slice(&(inst.wire.txt.len() as u16).to_be_bytes());
            out.extend_from_slice(&inst.wire.txt);
        }
    }
    if let Some(payload) = q.edns {
        out.push(0);
        out.extend_from_slice(&41u16.to_be_bytes());
        out.extend_from_slice(&payload.max(512).to_be_bytes());
        out.extend_from_slice(&[0, 0, 0, 0, 0, 0]);
    }
    true
}

/// Names that additional records' owners point to, as hickory's encoder
/// keeps them: a name (and each of its suffixes) written while the message
/// is under 16 KiB can be pointed to afterwards. SRV targets are written in
/// full and kept; the owner of a target's additional records points to the
/// target, or (past 16 KiB) to the longest kept suffix of it.
struct Suffixes<'a> {
    on: bool,
    list: Vec<(&'a [u8], usize)>,
}

/// Suffixes kept at most (the targets of one service share a few).
const MAX_SUFFIXES: usize = 64;

impl<'a> Suffixes<'a> {
    fn new(on: bool) -> Self {
        Suffixes {
            on,
            list: Vec::new(),
        }
    }

    /// Keeps `name`, written at `at`, and its suffixes.
    fn remember(&mut self, name: &'a [u8], at: usize) {
        self.keep(name, at, 0);
    }

    /// Keeps the suffixes of `name` (written at `at`), not `name` itself.
    fn remember_suffixes(&mut self, name: &'a [u8], at: usize) {
        let first = usize::from(name.first().copied().unwrap_or(0)) + 1;
        self.keep(name, at, first);
    }

    fn keep(&mut self, name: &'a [u8], at: usize, mut k: usize) {
        if !self.on || at + name.len() >= POINTER_LIMIT {
            return;
        }
        while k < name.len() && name[k] != 0 && self.list.len() < MAX_SUFFIXES {
            let suffix = &name[k..];
            if !self.list.iter().any(|(s, _)| *s == suffix) {
                self.list.push((suffix, at + k));
            }
            k += 1 + usize::from(name[k]);
        }
    }

    /// The longest kept suffix of `name`: where it starts in `name`, and its offset.
    fn find(&self, name: &[u8]) -> Option<(usize, usize)> {
        let mut k = 0;
        while k < name.len() && name[k] != 0 {
            if let Some((_, at)) = self.list.iter().find(|(s, _)| *s == &name[k..]) {
                return Some((k, *at));
            }
            k += 1 + usize::from(name[k]);
        }
        None
    }

    /// Bytes of the owner `target` (written at `target_at` in its SRV record).
    fn owner_len(&self, target: &[u8], target_at: usize) -> usize {
        if target_at < POINTER_LIMIT {
            return 2;
        }
        self.find(target).map_or(target.len(), |(k, _)| k + 2)
    }

    /// Writes the owner `target` (written at `target_at` in its SRV record).
    fn write_owner(&self, out: &mut Vec<u8>, target: &[u8], target_at: usize) {
        let pointer = |at: usize| (0xC000 | at as u16).to_be_bytes();
        if target_at < POINTER_LIMIT {
            out.extend_from_slice(&pointer(target_at));
        } else if let Some((k, at)) = self.find(target) {
            out.extend_from_slice(&target[..k]);
            out.extend_from_slice(&pointer(at));
        } else {
            out.extend_from_slice(target);
        }
    }
}

fn write_ip(out: &mut Vec<u8>, ip: Option<IpAddr>) {
    match ip {
        Some(IpAddr::V4(v4)) => {
            out.extend_from_slice(&4u16.to_be_bytes());
            out.extend_from_slice(&v4.octets());
        }
        Some(IpAddr::V6(v6)) => {
            out.extend_from_slice(&16u16.to_be_bytes());
            out.extend_from_slice(&v6.octets());
        }
        None => out.extend_from_slice(&0u16.to_be_bytes()),
    }
}
