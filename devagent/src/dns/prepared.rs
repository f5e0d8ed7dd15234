//! Service lookups prepared once per change, not once per query.
//!
//! A `*.service.consul` answer depends on the healthy instances of the
//! service that the DNS token may read (with the tag asked for); everything
//! per query is which of them go out, in which order (Consul shuffles every
//! answer), and how many fit. [`Prepared`] holds the instances with their
//! records built (hickory records for the general path, wire bytes for the
//! UDP fast path in `wire`), kept per question name and checked against the
//! service's index and the DNS authority at each use: a write that changes
//! the answer moves the index, a token change resolves to another authority.
//!
//! Bounds: at most [`MAX_NAMES`] names and [`MAX_INSTANCES`] prepared
//! instances in all; past either, entries are evicted at random down to 3/4.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use hickory_proto::rr::Name;

use super::names::{hex_ip, name};
use crate::acl::{Authz, ReadMemo};
use crate::state::{Inner, Store};
use crate::types::{HealthEntry, Status};

/// Question names whose answers are kept at most.
pub(crate) const MAX_NAMES: usize = 16_384;
/// Instances kept in all prepared answers at most (a few hundred bytes each).
pub(crate) const MAX_INSTANCES: usize = 500_000;

/// One instance of a service, ready to answer with.
#[derive(Debug)]
pub(crate) struct Instance {
    /// The SRV target: `<node>.node.<dc>.consul.`, `<hex>.addr.<dc>.consul.`
    /// or the service's host name (`None`: not a valid name; no SRV record).
    pub(crate) target: Option<Name>,
    /// The address, when it is an IP.
    pub(crate) ip: Option<IpAddr>,
    /// The address when it is a host name (a CNAME in A/AAAA answers).
    pub(crate) host: Option<Name>,
    pub(crate) port: u16,
    /// SRV weight: `Weights.Passing`, or `Weights.Warning` for a warning instance.
    pub(crate) weight: u16,
    /// The node's metadata as RFC 1464 strings (a TXT record), if any.
    pub(crate) txt: Option<Vec<String>>,
    /// Wire forms for the UDP fast path (see `wire`).
    pub(crate) wire: InstanceWire,
}

/// An instance's records in wire form, names written in full.
#[derive(Debug, Default)]
pub(crate) struct InstanceWire {
    /// SRV rdata: priority, weight, port, target (empty without a target).
    pub(crate) srv: Box<[u8]>,
    /// TXT rdata of the node's metadata (empty without any).
    pub(crate) txt: Box<[u8]>,
    /// The first instance with the same target (its additional records go once).
    pub(crate) target_id: u32,
}

/// The healthy instances of one service lookup at one index.
#[derive(Debug)]
pub(crate) struct Prepared {
    /// The index this was built at (see [`dns_index`]).
    pub(crate) index: u64,
    /// The service name in the catalog (the lookup is case-insensitive).
    real: String,
    /// The authority the instances were filtered with.
    authz: Arc<Authz>,
    /// Shuffled and trimmed per query.
    pub(crate) instances: Vec<Instance>,
    /// Every instance has an IP address (A/AAAA answers need no CNAME).
    pub(crate) all_ips: bool,
    /// Every instance has an SRV target and metadata that fits TXT strings.
    pub(crate) srv_ready: bool,
    /// The store's generation when this was last found current.
    confirmed: AtomicU64,
}

impl Prepared {
    /// Whether this still answers: built with `authz`, and nothing was
    /// written since it was last found current or its index has not moved.
    pub(crate) fn current(&self, store: &Store, authz: &Arc<Authz>) -> bool {
        if !Arc::ptr_eq(&self.authz, authz) {
            return false;
        }
        if self.confirmed.load(Ordering::Acquire) == store.generation() {
            return true;
        }
        let (index, generation) =
            store.read(|inner| (dns_index(inner, &self.real), inner.generation()));
        if index != self.index {
            return false;
        }
        self.confirmed.store(generation, Ordering::Release);
        true
    }
}

/// The index a lookup of `real` depends on: its service's index when the
/// catalog has that exact name, else (a lookup in another case, or of no
/// service) the newest index of the catalog, which every write moves.
pub(crate) fn dns_index(inner: &Inner, real: &str) -> u64 {
    if inner.by_name.contains_key(real) {
        inner.service_index(real)
    } else {
        inner
            .tables
            .services
            .max(inner.tables.checks)
            .max(inner.tables.nodes)
    }
}

/// The lowercase wire form of a name (the cache key of its lookups).
pub(crate) fn lower_wire(name: &Name) -> Vec<u8> {
    let mut out = Vec::with_capacity(64);
    for label in name.iter() {
        out.push(label.len() as u8);
        out.extend(label.iter().map(u8::to_ascii_lowercase));
    }
    out.push(0);
    out
}

/// A name written in full, as it goes on the wire.
fn wire_name(name: &Name) -> Vec<u8> {
    let mut out = Vec::with_capacity(64);
    for label in name.iter() {
        out.push(label.len() as u8);
        out.extend_from_slice(label);
    }
    out.push(0);
    out
}

/// What a lookup needs besides the catalog.
pub(crate) struct Lookup<'a> {
    pub(crate) service: &'a str,
    pub(crate) tag: Option<&'a str>,
    pub(crate) datacenter: &'a str,
    pub(crate) only_passing: bool,
    pub(crate) authz: &'a Arc<Authz>,
}

/// Builds the answer of a lookup from the catalog (one short lock for the
/// instances; records are built after it).
pub(crate) fn build(store: &crate::state::Store, l: &Lookup<'_>) -> Prepared {
    let (index, real, entries) = {
        let inner = store.lock();
        let mut real = l.service.to_string();
        let (_, mut entries) = inner.health_service(l.service, &[]);
        if entries.is_empty() {
            if let Some(found) = inner
                .by_name
                .keys()
                .find(|k| k.eq_ignore_ascii_case(l.service))
            {
                real.clone_from(found);
                entries = inner.health_service(&real, &[]).1;
            }
        }
        (dns_index(&inner, &real), real, entries)
    };
    let everything = l
        .authz
        .all_readable(&entries, |e| (&e.node.node, &e.service.name));
    let mut memo = ReadMemo::default();
    let healthy = entries.into_iter().filter(|e| {
        (everything
            || l.authz
                .entry_readable(&mut memo, &e.node.node, &e.service.name))
            && l.tag
                .is_none_or(|t| e.service.tags.iter().any(|st| st.eq_ignore_ascii_case(t)))
            && e.checks.iter().all(|c| match c.status {
                Status::Passing => true,
                Status::Warning => !l.only_passing,
                Status::Critical => false,
            })
    });
    assemble(index, real, l.authz, healthy, l.datacenter)
}

/// The answer of instances found another way (a prepared query's
/// execution), already filtered: not kept in the cache.
pub(crate) fn from_entries(entries: Vec<HealthEntry>, authz: &Arc<Authz>, dc: &str) -> Prepared {
    assemble(0, String::new(), authz, entries.into_iter(), dc)
}

fn assemble(
    index: u64,
    real: String,
    authz: &Arc<Authz>,
    healthy: impl Iterator<Item = HealthEntry>,
    datacenter: &str,
) -> Prepared {
    let mut targets: HashMap<Vec<u8>, u32> = HashMap::new();
    let mut instances = Vec::new();
    for e in healthy {
        let mut i = instance(&e, datacenter);
        if !i.wire.srv.is_empty() {
            let target = i.wire.srv[6..].to_ascii_lowercase();
            let next = instances.len() as u32;
            i.wire.target_id = *targets.entry(target).or_insert(next);
        }
        instances.push(i);
    }
    let all_ips = instances.iter().all(|i| i.ip.is_some());
    let srv_ready = instances
        .iter()
        .all(|i| i.target.is_some() && i.txt.iter().flatten().all(|s| s.len() <= 255));
    Prepared {
        index,
        real,
        authz: Arc::clone(authz),
        instances,
        all_ips,
        srv_ready,
        confirmed: AtomicU64::new(u64::MAX),
    }
}

/// One instance's records.
fn instance(e: &HealthEntry, dc: &str) -> Instance {
    let addr = e.service.effective_address(&e.node);
    let ip = addr.parse::<IpAddr>().ok();
    let target = match (e.service.address.is_empty(), ip) {
        (true, _) => name(&format!("{}.node.{dc}.consul.", e.node.node)),
        (false, Some(ip)) => name(&format!("{}.addr.{dc}.consul.", hex_ip(ip))),
        (false, None) => name(&format!("{}.", addr.trim_end_matches('.'))),
    };
    let host = match ip {
        Some(_) => None,
        None => name(&format!("{}.", addr.trim_end_matches('.'))),
    };
    let weight = if e.aggregate() == Status::Warning {
        e.service.weights.warning
    } else {
        e.service.weights.passing
    };
    let weight = u16::try_from(weight).unwrap_or(u16::MAX);
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
    let txt = (!strings.is_empty()).then_some(strings);
    let mut wire = InstanceWire::default();
    if let Some(t) = &target {
        let mut srv = Vec::with_capacity(6 + 64);
        srv.extend_from_slice(&1u16.to_be_bytes());
        srv.extend_from_slice(&weight.to_be_bytes());
        srv.extend_from_slice(&e.service.port.to_be_bytes());
        srv.extend_from_slice(&wire_name(t));
        wire.srv = srv.into_boxed_slice();
    }
    if let Some(strings) = &txt {
        let mut rdata = Vec::new();
        for s in strings.iter().filter(|s| s.len() <= 255) {
            rdata.push(s.len() as u8);
            rdata.extend_from_slice(s.as_bytes());
        }
        wire.txt = rdata.into_boxed_slice();
    }
    Instance {
        target,
        ip,
        host,
        port: e.service.port,
        weight,
        txt,
        wire,
    }
}

/// The prepared answers of service lookups, by lowercase question name.
#[derive(Debug, Default)]
pub(crate) struct AnswerCache {
    inner: Mutex<CacheInner>,
}

#[derive(Debug, Default)]
struct CacheInner {
    map: HashMap<Box<[u8]>, Arc<Prepared>>,
    instances: usize,
}

impl AnswerCache {
    fn lock(&self) -> std::sync::MutexGuard<'_, CacheInner> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The prepared answer of a name, whatever its index (the caller checks).
    pub(crate) fn get(&self, key: &[u8]) -> Option<Arc<Prepared>> {
        self.lock().map.get(key).cloned()
    }

    /// Keeps `p` as the answer of `key`, evicting at random past the bounds.
    pub(crate) fn put(&self, key: &[u8], p: Arc<Prepared>) {
        let mut inner = self.lock();
        let inner = &mut *inner;
        inner.instances += p.instances.len();
        if let Some(old) = inner.map.insert(Box::from(key), p) {
            inner.instances -= old.instances.len();
        }
        if inner.map.len() > MAX_NAMES || inner.instances > MAX_INSTANCES {
            let (names, instances) = (MAX_NAMES / 4 * 3, MAX_INSTANCES / 4 * 3);
            let mut gone = Vec::new();
            let (mut n, mut count) = (inner.map.len(), inner.instances);
            for (k, v) in &inner.map {
                if n <= names && count <= instances {
                    break;
                }
                n -= 1;
                count -= v.instances.len();
                gone.push(k.clone());
            }
            for k in gone {
                inner.map.remove(&k);
            }
            inner.instances = count;
        }
    }

    /// Names and instances held (tests).
    #[cfg(test)]
    pub(crate) fn usage(&self) -> (usize, usize) {
        let inner = self.lock();
        (inner.map.len(), inner.instances)
    }
}

/// `k` distinct indexes below `n` in random order (the first `k` steps of
/// a Fisher-Yates shuffle of `0..n`, with the swaps kept aside so that the
/// cost is `O(k)`, not `O(n)`): which instances an answer holds, and in
/// which order.
pub(crate) fn sample(n: usize, k: usize, out: &mut Vec<u32>) {
    out.clear();
    let k = k.min(n);
    // Position -> value where a swap moved it; small answers search a list.
    let mut moved: Vec<(u32, u32)> = Vec::new();
    let mut moved_map: HashMap<u32, u32> = HashMap::new();
    let big = k > 32;
    for i in 0..k {
        let j = fastrand::usize(i..n) as u32;
        let i = i as u32;
        let at = |p: u32, moved: &Vec<(u32, u32)>, map: &HashMap<u32, u32>| {
            if big {
                map.get(&p).copied().unwrap_or(p)
            } else {
                moved
                    .iter()
                    .rev()
                    .find(|(q, _)| *q == p)
                    .map_or(p, |(_, v)| *v)
            }
        };
        let vi = at(i, &moved, &moved_map);
        let vj = at(j, &moved, &moved_map);
        out.push(vj);
        if big {
            moved_map.insert(j, vi);
        } else {
            moved.push((j, vi));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn samples_are_distinct_in_range_and_cover_every_index_first() {
        let mut out = Vec::new();
        for (n, k) in [
            (1, 1),
            (3, 3),
            (10, 3),
            (10, 10),
            (1000, 50),
            (100_000, 300),
        ] {
            for _ in 0..50 {
                sample(n, k, &mut out);
                assert_eq!(out.len(), k);
                let mut seen = std::collections::HashSet::new();
                assert!(out.iter().all(|&i| (i as usize) < n && seen.insert(i)));
            }
        }
        // Every instance leads an answer about as often as any other.
        let mut first = [0usize; 10];
        for _ in 0..20_000 {
            sample(10, 3, &mut out);
            first[out[0] as usize] += 1;
        }
        assert!(
            first.iter().all(|&c| (1500..2500).contains(&c)),
            "{first:?}"
        );
    }

    fn prepared(instances: usize) -> Arc<Prepared> {
        Arc::new(Prepared {
            index: 1,
            real: "web".into(),
            authz: Arc::new(Authz::disabled()),
            instances: (0..instances)
                .map(|i| Instance {
                    target: None,
                    ip: None,
                    host: None,
                    port: i as u16,
                    weight: 1,
                    txt: None,
                    wire: InstanceWire::default(),
                })
                .collect(),
            all_ips: false,
            srv_ready: false,
            confirmed: AtomicU64::new(u64::MAX),
        })
    }

    #[test]
    fn the_cache_stays_within_its_bounds() {
        let cache = AnswerCache::default();
        for i in 0..20 {
            cache.put(format!("big{i}").as_bytes(), prepared(100_000));
            let (names, instances) = cache.usage();
            assert!(
                instances <= MAX_INSTANCES && names <= 6,
                "{names} {instances}"
            );
        }
        for i in 0..(MAX_NAMES + 100) {
            cache.put(format!("n{i}").as_bytes(), prepared(1));
        }
        let (names, instances) = cache.usage();
        assert!(names <= MAX_NAMES && instances <= MAX_INSTANCES);
        // Replacing an entry counts its instances once.
        let cache = AnswerCache::default();
        cache.put(b"web", prepared(10));
        cache.put(b"web", prepared(7));
        assert_eq!(cache.usage(), (1, 7));
    }
}
