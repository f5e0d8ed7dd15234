//! Answers of hot reads computed once per change, not once per request.
//!
//! A read's answer is a function of its query (path and parameters, minus
//! `index`, `wait` and `token`), of the index of what it reads (Consul's
//! `X-Consul-Index`: every write that changes the answer moves it) and of
//! who asks (ACLs filter lists). The cache keeps the encoded body per
//! (query, authority) together with the index it was rendered at; a read
//! whose index has moved misses and replaces it, so a write makes every
//! answer it changes unreachable at once. Per-request parts stay per
//! request: `X-Consul-Index` comes from the rendered entry, the consistency
//! and ACL headers from the request.
//!
//! - Authority: with ACLs off every caller shares one entry; with ACLs on
//!   each resolved token has its own, pinned by its [`Authz`] (a token or
//!   policy change resolves to a new one, so an entry never outlives the
//!   rights it was filtered with).
//! - Single flight: the requests that miss together (10,000 blocking queries
//!   woken by one write) wait for one render instead of rendering each.
//! - Bounds: at most [`MAX_BYTES`] of bodies and [`MAX_ENTRIES`] entries;
//!   past either, entries are evicted at random (hash order) down to 3/4 of
//!   the bound. A body over [`MAX_BODY`] is served but not kept.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use axum::body::Bytes;
use axum::http::{HeaderMap, StatusCode};
use tokio::sync::OnceCell;

use super::{answer_headers, Caller, Meta};
use crate::acl::Authz;
use crate::error::ApiError;
use crate::state::{Inner as StoreInner, Store};

/// Bytes of bodies the cache holds at most (128 MiB).
pub(crate) const MAX_BYTES: usize = 128 << 20;
/// Entries the cache holds at most.
pub(crate) const MAX_ENTRIES: usize = 65_536;
/// The largest body kept (a bigger one is rendered for each request).
pub(crate) const MAX_BODY: usize = MAX_BYTES / 4;
/// What an entry costs besides its body and key (slot, map, pointers).
const ENTRY_OVERHEAD: usize = 160;

/// What a read's answer depends on; its index (Consul's `X-Consul-Index`,
/// which every write that changes the answer moves) is computed from it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Version {
    /// The instances and health of one service name.
    Service(String),
    /// Every check (`/v1/health/state/*`, `/v1/health/node/*`).
    Checks,
    /// Every service (`/v1/catalog/services`).
    Services,
    /// The agent's own services (`/v1/agent/services`, which has no index:
    /// a counter of their changes).
    AgentServices,
    /// One KV key.
    Key(String),
    /// The keys under a KV prefix (`?recurse`, `?keys`).
    Prefix(String),
}

impl Version {
    /// The index of what the read depends on, now.
    pub(crate) fn index(&self, inner: &StoreInner) -> u64 {
        match self {
            Version::Service(name) => inner.service_index(name),
            Version::Checks => inner.tables.checks,
            Version::Services => inner.tables.services,
            Version::AgentServices => inner.agent_services_version,
            Version::Key(key) => inner.kv_get_index(key),
            Version::Prefix(prefix) => inner.kv_keys_index(prefix),
        }
    }
}

/// How a read is answered besides its body: what its index depends on,
/// which query headers it sends, and what its body is.
#[derive(Clone, Debug)]
pub(crate) struct Spec {
    /// What the index depends on.
    pub(crate) version: Version,
    /// The query headers.
    pub(crate) meta: Meta,
    /// The body is indented (`?pretty`).
    pub(crate) pretty: bool,
    /// The body is a raw KV value (`?raw`: `text/plain`, not JSON).
    pub(crate) raw: bool,
}

/// An encoded answer and what its headers need.
#[derive(Clone, Debug)]
pub(crate) struct Rendered {
    /// The index the body was rendered at (`X-Consul-Index`).
    pub(crate) index: u64,
    /// 200, or 404 for a missing key.
    pub(crate) status: StatusCode,
    /// The body (empty for a 404).
    pub(crate) body: Bytes,
    /// ACLs left something out (`X-Consul-Results-Filtered-By-ACLs` for a caller with a token).
    pub(crate) filtered: bool,
    /// The headers every caller gets (built once, when the answer is cached).
    pub(crate) headers: HeaderMap,
}

impl Rendered {
    /// A 200 with `body`.
    pub(crate) fn ok(index: u64, body: Bytes, filtered: bool) -> Rendered {
        Rendered {
            index,
            status: StatusCode::OK,
            body,
            filtered,
            headers: HeaderMap::new(),
        }
    }
}

/// One cached answer: filled once by whichever request renders it first.
#[derive(Debug)]
pub(crate) struct Slot {
    /// The index the entry was created for (until it is rendered, a read at
    /// another index misses; then the rendered index decides).
    index: u64,
    pub(crate) spec: Spec,
    /// Keeps the authority the answer was filtered for alive, so that its
    /// address (the key) is never reused by another one.
    _authz: Option<Arc<Authz>>,
    cell: OnceCell<Rendered>,
    counted: AtomicBool,
    /// The store's generation when the answer was last found current.
    confirmed: AtomicU64,
}

impl Slot {
    /// The answer, once rendered.
    pub(crate) fn rendered(&self) -> Option<&Rendered> {
        self.cell.get()
    }

    /// Whether the rendered answer is still current: nothing was written
    /// since it was last confirmed, or the index of what it depends on has
    /// not moved (one short lock of the store, then confirmed).
    pub(crate) fn current(&self, store: &Store) -> bool {
        let Some(r) = self.cell.get() else {
            return false;
        };
        if self.confirmed.load(Ordering::Acquire) == store.generation() {
            return true;
        }
        let (index, generation) =
            store.read(|inner| (self.spec.version.index(inner), inner.generation()));
        if index != r.index {
            return false;
        }
        self.confirmed.store(generation, Ordering::Release);
        true
    }

    /// Whether the entry answers a read at `index`.
    fn answers(&self, index: u64) -> bool {
        self.cell.get().map_or(self.index, |r| r.index) == index
    }
}

/// Entries of one query, by authority.
type Entries = Vec<(usize, Arc<Slot>)>;

#[derive(Debug, Default)]
struct Inner {
    map: HashMap<Box<str>, Entries>,
    entries: usize,
    bytes: usize,
}

/// The cache of rendered reads. See the module documentation.
#[derive(Debug)]
pub(crate) struct ReadCache {
    inner: Mutex<Inner>,
    /// `X-Consul-Default-ACL-Policy`, the same for every answer.
    policy: &'static str,
}

/// Parameters that do not change a read's body: left out of its key.
fn unkeyed(name: &str) -> bool {
    matches!(name, "index" | "wait" | "token")
}

/// The cache key of a read: the path and the raw query without the
/// parameters that do not change the body (`index`, `wait`, `token`).
/// Parameters keep their order: the same query spelled differently is
/// another entry, never a wrong answer.
pub(crate) fn query_key(path: &str, query: Option<&str>) -> String {
    key_of(path, query, false).unwrap_or_default()
}

/// The key of a read that has none of the parameters left out of keys (a
/// blocking query, a token in the query string), else `None`.
pub(crate) fn plain_key(path: &str, query: Option<&str>) -> Option<String> {
    key_of(path, query, true)
}

fn key_of(path: &str, query: Option<&str>, plain_only: bool) -> Option<String> {
    let mut key = String::with_capacity(path.len() + query.map_or(0, str::len) + 2);
    key.push_str(path);
    key.push('?');
    for pair in query.unwrap_or_default().split('&') {
        let name = pair.split_once('=').map_or(pair, |(n, _)| n);
        if unkeyed(name) {
            if plain_only {
                return None;
            }
            continue;
        }
        if !pair.is_empty() {
            key.push_str(pair);
            key.push('&');
        }
    }
    Some(key)
}

/// Who an answer is for: 0 for everyone (ACLs off, or an answer that does
/// not depend on the caller: `None`), else the caller's authority.
fn authority(caller: Option<&Caller>) -> (usize, Option<Arc<Authz>>) {
    let Some(caller) = caller else {
        return (0, None);
    };
    if caller.authz.is_disabled() {
        (0, None)
    } else {
        (
            Arc::as_ptr(&caller.authz) as usize,
            Some(Arc::clone(&caller.authz)),
        )
    }
}

impl ReadCache {
    /// An empty cache whose answers carry `X-Consul-Default-ACL-Policy: policy`.
    pub(crate) fn new(policy: &'static str) -> ReadCache {
        ReadCache {
            inner: Mutex::new(Inner::default()),
            policy,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The entry of `key` for `caller` at `index`: the existing one, or a new
    /// empty one that replaces an entry of another index.
    fn slot(&self, key: &str, caller: Option<&Caller>, spec: &Spec, index: u64) -> Arc<Slot> {
        let (who, pin) = authority(caller);
        let mut inner = self.lock();
        if let Some(list) = inner.map.get(key) {
            if let Some((_, s)) = list.iter().find(|(w, _)| *w == who) {
                if s.answers(index) {
                    return Arc::clone(s);
                }
            }
        }
        let slot = Arc::new(Slot {
            index,
            spec: spec.clone(),
            _authz: pin,
            cell: OnceCell::new(),
            counted: AtomicBool::new(false),
            confirmed: AtomicU64::new(u64::MAX),
        });
        let inner = &mut *inner;
        let list = inner.map.entry(Box::from(key)).or_default();
        match list.iter_mut().find(|(w, _)| *w == who) {
            Some((_, old)) => {
                inner.bytes -= size_of(key, old);
                *old = Arc::clone(&slot);
            }
            None => {
                list.push((who, Arc::clone(&slot)));
                inner.entries += 1;
            }
        }
        slot
    }

    /// The rendered entry of `key` for the authority `who` (0: everyone),
    /// whatever its index: the caller checks it against the store.
    pub(crate) fn lookup(&self, key: &str, who: usize) -> Option<Arc<Slot>> {
        let inner = self.lock();
        let (_, slot) = inner.map.get(key)?.iter().find(|(w, _)| *w == who)?;
        slot.rendered().is_some().then(|| Arc::clone(slot))
    }

    /// The answer of `key` for `caller` (`None`: the same for every caller)
    /// at `index`: cached, else rendered once by `render` (which may render
    /// a newer index) and kept.
    pub(crate) async fn get<F>(
        &self,
        key: &str,
        caller: Option<&Caller>,
        spec: &Spec,
        index: u64,
        render: F,
    ) -> Result<Rendered, ApiError>
    where
        F: FnOnce() -> Result<Rendered, ApiError>,
    {
        let slot = self.slot(key, caller, spec, index);
        let rendered = slot
            .cell
            .get_or_try_init(|| {
                std::future::ready(render().map(|mut r| {
                    r.headers = answer_headers(&r, spec, self.policy);
                    r
                }))
            })
            .await?
            .clone();
        if !slot.counted.load(Ordering::Acquire) {
            self.account(key, caller, &slot, &rendered);
        }
        Ok(rendered)
    }

    /// Counts a newly rendered entry; drops it if too big, evicts past the bounds.
    fn account(&self, key: &str, caller: Option<&Caller>, slot: &Arc<Slot>, r: &Rendered) {
        let (who, _) = authority(caller);
        let mut inner = self.lock();
        let inner = &mut *inner;
        // Counted once, under the lock that replacing an entry takes.
        if slot.counted.swap(true, Ordering::AcqRel) {
            return;
        }
        // Only an entry still in the map is counted (it may have been replaced).
        let Some(list) = inner.map.get_mut(key) else {
            return;
        };
        let Some(pos) = list
            .iter()
            .position(|(w, s)| *w == who && Arc::ptr_eq(s, slot))
        else {
            return;
        };
        if r.body.len() > MAX_BODY {
            list.swap_remove(pos);
            inner.entries -= 1;
            if list.is_empty() {
                inner.map.remove(key);
            }
            return;
        }
        inner.bytes += r.body.len() + key.len() + ENTRY_OVERHEAD;
        if inner.bytes > MAX_BYTES || inner.entries > MAX_ENTRIES {
            evict(inner);
        }
    }

    /// Entries and bytes held, for tests and metrics.
    #[cfg(test)]
    pub(crate) fn usage(&self) -> (usize, usize) {
        let inner = self.lock();
        (inner.entries, inner.bytes)
    }
}

/// What an entry counts for once rendered (0 while it is not).
fn size_of(key: &str, slot: &Slot) -> usize {
    match slot.cell.get() {
        Some(r) if slot.counted.load(Ordering::Acquire) => {
            r.body.len() + key.len() + ENTRY_OVERHEAD
        }
        _ => 0,
    }
}

/// Drops entries in hash order (random) until both bounds are 3/4 full.
fn evict(inner: &mut Inner) {
    let (max_bytes, max_entries) = (MAX_BYTES / 4 * 3, MAX_ENTRIES / 4 * 3);
    let mut gone = Vec::new();
    let (mut bytes, mut entries) = (inner.bytes, inner.entries);
    for (key, list) in &inner.map {
        if bytes <= max_bytes && entries <= max_entries {
            break;
        }
        for (_, s) in list {
            bytes = bytes.saturating_sub(size_of(key, s));
            entries -= 1;
        }
        gone.push(key.clone());
    }
    for key in gone {
        inner.map.remove(&key);
    }
    inner.bytes = bytes;
    inner.entries = entries;
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicUsize;

    fn everyone() -> Caller {
        Caller {
            authz: Arc::new(Authz::disabled()),
            authenticated: false,
        }
    }

    fn spec() -> Spec {
        Spec {
            version: Version::Checks,
            meta: Meta::Index,
            pretty: false,
            raw: false,
        }
    }

    fn body(n: usize) -> Rendered {
        Rendered::ok(1, Bytes::from(vec![b'x'; n]), false)
    }

    #[tokio::test]
    async fn renders_once_per_index_and_replaces_on_a_new_one() {
        let cache = ReadCache::new("allow");
        let caller = everyone();
        let renders = AtomicUsize::new(0);
        let render = |i: u64| {
            renders.fetch_add(1, Ordering::SeqCst);
            Ok(Rendered::ok(i, Bytes::from(format!("at {i}")), false))
        };
        for _ in 0..3 {
            let r = cache
                .get("/a?", Some(&caller), &spec(), 7, || render(7))
                .await
                .unwrap();
            assert_eq!(&r.body[..], b"at 7");
        }
        assert_eq!(renders.load(Ordering::SeqCst), 1);
        let r = cache
            .get("/a?", Some(&caller), &spec(), 8, || render(8))
            .await
            .unwrap();
        assert_eq!(&r.body[..], b"at 8");
        assert_eq!(renders.load(Ordering::SeqCst), 2);
        // The entry of index 7 was replaced, not kept beside it.
        assert_eq!(cache.usage().0, 1);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn concurrent_misses_wait_for_one_render() {
        let cache = Arc::new(ReadCache::new("allow"));
        let renders = Arc::new(AtomicUsize::new(0));
        let mut tasks = Vec::new();
        for _ in 0..64 {
            let (cache, renders) = (Arc::clone(&cache), Arc::clone(&renders));
            tasks.push(tokio::spawn(async move {
                let caller = everyone();
                cache
                    .get("/w?", Some(&caller), &spec(), 3, || {
                        renders.fetch_add(1, Ordering::SeqCst);
                        std::thread::sleep(std::time::Duration::from_millis(20));
                        Ok(body(10))
                    })
                    .await
                    .unwrap()
            }));
        }
        for t in tasks {
            assert_eq!(t.await.unwrap().body.len(), 10);
        }
        assert_eq!(renders.load(Ordering::SeqCst), 1);
    }

    #[tokio::test]
    async fn stays_within_its_bounds() {
        let cache = ReadCache::new("allow");
        let caller = everyone();
        let big = MAX_BYTES / 64;
        for i in 0..200 {
            cache
                .get(&format!("/k{i}?"), Some(&caller), &spec(), 1, || {
                    Ok(body(big))
                })
                .await
                .unwrap();
            assert!(cache.usage().1 <= MAX_BYTES + big, "{:?}", cache.usage());
        }
        let (entries, bytes) = cache.usage();
        assert!(entries < 200 && bytes <= MAX_BYTES, "{entries} {bytes}");
        // A body over MAX_BODY is served but not kept.
        let before = cache.usage();
        let r = cache
            .get("/huge?", Some(&caller), &spec(), 1, || {
                Ok(body(MAX_BODY + 1))
            })
            .await
            .unwrap();
        assert_eq!(r.body.len(), MAX_BODY + 1);
        assert_eq!(cache.usage(), before);
        for i in 0..(MAX_ENTRIES + 10) {
            cache
                .get(&format!("/e{i}?"), None, &spec(), 1, || Ok(body(1)))
                .await
                .unwrap();
        }
        assert!(cache.usage().0 <= MAX_ENTRIES);
    }

    #[test]
    fn keys_leave_out_what_does_not_change_the_body() {
        // A request with none of them has the key its handler caches under.
        for q in [
            None,
            Some("passing"),
            Some("a=1&b=2&pretty"),
            Some("filter=x%3D%3D1"),
        ] {
            assert_eq!(plain_key("/v1/x", q), Some(query_key("/v1/x", q)));
        }
        for q in ["index=5", "passing&wait=1s", "token=t&passing"] {
            assert_eq!(plain_key("/v1/x", Some(q)), None, "{q}");
        }
        assert_eq!(
            query_key(
                "/v1/health/service/x",
                Some("passing&index=7&wait=5s&token=s3cr3t")
            ),
            "/v1/health/service/x?passing&"
        );
        assert_eq!(
            query_key("/v1/kv/a", Some("recurse&filter=index%3D%3D1&pretty")),
            "/v1/kv/a?recurse&filter=index%3D%3D1&pretty&"
        );
        assert_ne!(
            query_key("/v1/health/service/x", Some("passing")),
            query_key("/v1/health/service/x", None)
        );
        assert_ne!(
            query_key("/v1/health/service/x", Some("near=a")),
            query_key("/v1/health/service/x", Some("near=b"))
        );
    }
}
