//! The KV store: reads, writes with CAS and session locks, deletes with
//! tombstones (so that deletes move the index forward), and transactions.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;

use super::{Inner, Store};
use crate::error::ApiError;
use crate::types::KvEntry;

/// Tombstones kept before the oldest are folded into a floor index.
const MAX_TOMBSTONES: usize = 16_384;

/// How a PUT applies.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum KvWrite {
    /// Unconditional write.
    Plain,
    /// `?cas=N`: write only if the ModifyIndex is N (0: only if missing).
    Cas(u64),
    /// `?acquire=<session>`.
    Acquire(String),
    /// `?release=<session>`.
    Release(String),
}

/// One operation of `PUT /v1/txn` on the KV store.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TxnOp {
    /// `set`, `cas`, `lock`, `unlock`, `get`, `get-or-empty`, `get-tree`,
    /// `check-index`, `check-session`, `check-not-exists`, `delete`,
    /// `delete-tree` or `delete-cas`.
    pub verb: String,
    /// Key or prefix.
    pub key: String,
    /// Value for writes.
    pub value: Bytes,
    /// Flags for writes.
    pub flags: u64,
    /// Index for `cas`, `check-index` and `delete-cas`.
    pub index: u64,
    /// Session for `lock`, `unlock` and `check-session`.
    pub session: String,
}

/// One result of a transaction: an entry, with its value for reads.
#[derive(Clone, Debug)]
pub struct TxnResult {
    /// The entry.
    pub entry: Arc<KvEntry>,
    /// Whether to show the value (reads only).
    pub with_value: bool,
}

fn prefix_range<'a, V>(
    map: &'a BTreeMap<String, V>,
    prefix: &'a str,
) -> impl Iterator<Item = (&'a String, &'a V)> + 'a {
    map.range(prefix.to_string()..)
        .take_while(move |(k, _)| k.starts_with(prefix))
}

impl Inner {
    /// The index of a key or prefix: the newest entry or tombstone under it.
    fn kv_index(&self, prefix: &str) -> u64 {
        let live = prefix_range(&self.kv, prefix).map(|(_, e)| e.modify_index);
        let dead = prefix_range(&self.tombstones, prefix).map(|(_, i)| *i);
        live.chain(dead)
            .max()
            .unwrap_or(0)
            .max(self.reaped_floor)
            .max(1)
    }

    /// `GET /v1/kv/:key`.
    pub(crate) fn kv_get(&self, key: &str) -> (u64, Option<Arc<KvEntry>>) {
        (self.kv_get_index(key), self.kv.get(key).cloned())
    }

    /// The index of `GET /v1/kv/:key`: the key's ModifyIndex, else its tombstone's.
    pub(crate) fn kv_get_index(&self, key: &str) -> u64 {
        match self.kv.get(key) {
            Some(e) => e.modify_index,
            None => self
                .tombstones
                .get(key)
                .copied()
                .unwrap_or(0)
                .max(self.reaped_floor)
                .max(1),
        }
    }

    /// The index of `?recurse` and `?keys` reads of `prefix`.
    pub(crate) fn kv_keys_index(&self, prefix: &str) -> u64 {
        self.kv_index(prefix)
    }

    /// `GET /v1/kv/:prefix?recurse`.
    pub(crate) fn kv_list(&self, prefix: &str) -> (u64, Vec<Arc<KvEntry>>) {
        let entries = prefix_range(&self.kv, prefix)
            .map(|(_, e)| Arc::clone(e))
            .collect();
        (self.kv_index(prefix), entries)
    }

    /// `GET /v1/kv/:prefix?keys[&separator=]`.
    pub(crate) fn kv_keys(&self, prefix: &str, separator: &str) -> (u64, Vec<String>) {
        let mut keys: Vec<String> = Vec::new();
        for (k, _) in prefix_range(&self.kv, prefix) {
            let rest = &k[prefix.len()..];
            let key = match (separator.is_empty(), rest.find(separator)) {
                (false, Some(i)) => &k[..prefix.len() + i + separator.len()],
                _ => k.as_str(),
            };
            if keys.last().map(String::as_str) != Some(key) {
                keys.push(key.to_string());
            }
        }
        (self.kv_index(prefix), keys)
    }

    fn kv_store(&mut self, entry: KvEntry) -> Arc<KvEntry> {
        self.tables.kv = self.tables.kv.max(entry.modify_index);
        self.tombstones.remove(&entry.key);
        let key = entry.key.clone();
        let entry = Arc::new(entry);
        self.kv.insert(key.clone(), Arc::clone(&entry));
        self.notify_kv(&key);
        entry
    }

    pub(crate) fn kv_remove(&mut self, key: &str, index: u64) -> bool {
        if self.kv.remove(key).is_none() {
            return false;
        }
        self.tables.kv = self.tables.kv.max(index);
        self.tombstones.insert(key.to_string(), index);
        if self.tombstones.len() > MAX_TOMBSTONES {
            let mut by_age: Vec<(u64, String)> = self
                .tombstones
                .iter()
                .map(|(k, i)| (*i, k.clone()))
                .collect();
            by_age.sort_unstable();
            for (i, k) in by_age.into_iter().take(MAX_TOMBSTONES / 2) {
                self.reaped_floor = self.reaped_floor.max(i);
                self.tombstones.remove(&k);
            }
        }
        self.notify_kv(key);
        true
    }

    /// Releases (or deletes) a key held by an invalidated session and starts its lock delay.
    pub(crate) fn kv_release_for_session(
        &mut self,
        key: &str,
        delete: bool,
        until: Option<Instant>,
    ) {
        let index = self.next_index();
        if delete {
            self.kv_remove(key, index);
        } else if let Some(e) = self.kv.get(key) {
            let mut e = (**e).clone();
            e.session = None;
            e.modify_index = index;
            self.kv_store(e);
        }
        if let Some(until) = until {
            self.lock_delays.insert(key.to_string(), until);
        }
    }

    fn session_exists(&self, id: &str) -> bool {
        self.sessions.contains_key(id)
    }

    /// Applies one write at `index`; `Ok(None)` means the condition failed.
    fn kv_apply(
        &mut self,
        key: &str,
        value: Bytes,
        flags: u64,
        mode: &KvWrite,
        index: u64,
        now: Instant,
    ) -> Result<Option<Arc<KvEntry>>, String> {
        let existing = self.kv.get(key).cloned();
        let mut entry = KvEntry {
            key: key.to_string(),
            flags,
            value,
            session: existing.as_ref().and_then(|e| e.session.clone()),
            lock_index: existing.as_ref().map_or(0, |e| e.lock_index),
            create_index: existing.as_ref().map_or(index, |e| e.create_index),
            modify_index: index,
        };
        match mode {
            KvWrite::Plain => {}
            KvWrite::Cas(want) => {
                let have = existing.as_ref().map_or(0, |e| e.modify_index);
                if *want != have {
                    return Ok(None);
                }
            }
            KvWrite::Acquire(session) => {
                if !self.session_exists(session) {
                    return Err(format!("invalid session {session:?}"));
                }
                match existing.as_ref().and_then(|e| e.session.as_deref()) {
                    Some(holder) if holder == session => {}
                    Some(_) => return Ok(None),
                    None => {
                        if self.lock_delays.get(key).is_some_and(|until| *until > now) {
                            return Ok(None);
                        }
                        entry.session = Some(session.clone());
                        entry.lock_index += 1;
                    }
                }
            }
            KvWrite::Release(session) => match existing.as_ref().and_then(|e| e.session.as_deref())
            {
                Some(holder) if holder == session => entry.session = None,
                _ => return Ok(None),
            },
        }
        Ok(Some(self.kv_store(entry)))
    }
}

impl Store {
    /// `PUT /v1/kv/:key`. Returns Consul's `true`/`false`.
    pub fn kv_put(
        &self,
        key: &str,
        value: Bytes,
        flags: u64,
        mode: KvWrite,
    ) -> Result<bool, ApiError> {
        let now = Instant::now();
        let mut inner = self.lock();
        let index = inner.index + 1;
        match inner.kv_apply(key, value, flags, &mode, index, now) {
            Ok(Some(_)) => {
                inner.index = index;
                Ok(true)
            }
            Ok(None) => Ok(false),
            Err(e) => Err(ApiError::internal(e)),
        }
    }

    /// `DELETE /v1/kv/:key[?recurse][?cas=N]`. Returns Consul's `true`/`false`.
    pub fn kv_delete(&self, key: &str, recurse: bool, cas: Option<u64>) -> bool {
        let mut inner = self.lock();
        if let Some(want) = cas {
            match inner.kv.get(key) {
                Some(e) if e.modify_index == want => {}
                Some(_) => return false,
                None => return true,
            }
        }
        let keys: Vec<String> = if recurse {
            prefix_range(&inner.kv, key)
                .map(|(k, _)| k.clone())
                .collect()
        } else {
            vec![key.to_string()]
        };
        if keys.iter().any(|k| inner.kv.contains_key(k)) {
            let index = inner.next_index();
            for k in keys {
                inner.kv_remove(&k, index);
            }
        }
        true
    }

    /// `PUT /v1/txn` with KV operations: all apply, or none.
    pub fn kv_txn(&self, ops: &[TxnOp]) -> Result<Vec<TxnResult>, Vec<(usize, String)>> {
        let now = Instant::now();
        let mut inner = self.lock();
        let index = inner.index + 1;
        // Dry run on a copy of the touched keys, then apply for real.
        let snapshot: Vec<(String, Option<Arc<KvEntry>>)> = ops
            .iter()
            .flat_map(|op| {
                if op.verb.ends_with("-tree") {
                    prefix_range(&inner.kv, &op.key)
                        .map(|(k, e)| (k.clone(), Some(Arc::clone(e))))
                        .collect::<Vec<_>>()
                } else {
                    vec![(op.key.clone(), inner.kv.get(&op.key).cloned())]
                }
            })
            .collect();
        let saved_tables = inner.tables.kv;
        let saved_tombs: Vec<(String, Option<u64>)> = snapshot
            .iter()
            .map(|(k, _)| (k.clone(), inner.tombstones.get(k).copied()))
            .collect();
        let mut results = Vec::new();
        let mut errors = Vec::new();
        for (i, op) in ops.iter().enumerate() {
            if let Err(e) = apply_txn_op(&mut inner, op, index, now, &mut results) {
                errors.push((i, e));
                break;
            }
        }
        if errors.is_empty() {
            inner.index = index;
            return Ok(results);
        }
        // Roll back every touched key.
        for (k, old) in snapshot {
            match old {
                Some(e) => {
                    inner.kv.insert(k, e);
                }
                None => {
                    inner.kv.remove(&k);
                }
            }
        }
        for (k, t) in saved_tombs {
            match t {
                Some(i) => inner.tombstones.insert(k, i),
                None => inner.tombstones.remove(&k),
            };
        }
        inner.tables.kv = saved_tables;
        Err(errors)
    }
}

fn apply_txn_op(
    inner: &mut Inner,
    op: &TxnOp,
    index: u64,
    now: Instant,
    results: &mut Vec<TxnResult>,
) -> Result<(), String> {
    let key = op.key.as_str();
    let write = |r: Option<Arc<KvEntry>>, results: &mut Vec<TxnResult>, what: String| match r {
        Some(entry) => {
            results.push(TxnResult {
                entry,
                with_value: false,
            });
            Ok(())
        }
        None => Err(what),
    };
    match op.verb.as_str() {
        "set" => {
            let r = inner.kv_apply(key, op.value.clone(), op.flags, &KvWrite::Plain, index, now)?;
            write(r, results, String::new())
        }
        "cas" => {
            let r = inner.kv_apply(key, op.value.clone(), op.flags, &KvWrite::Cas(op.index), index, now)?;
            write(r, results, format!("failed to set key {key:?}, index is stale"))
        }
        "lock" => {
            let r = inner.kv_apply(
                key,
                op.value.clone(),
                op.flags,
                &KvWrite::Acquire(op.session.clone()),
                index,
                now,
            )?;
            write(r, results, format!("failed to lock key {key:?}, lock is already held"))
        }
        "unlock" => {
            let r = inner.kv_apply(
                key,
                op.value.clone(),
                op.flags,
                &KvWrite::Release(op.session.clone()),
                index,
                now,
            )?;
            write(r, results, format!("failed to unlock key {key:?}, lock isn't held, or is held by another session"))
        }
        "get" => match inner.kv.get(key) {
            Some(e) => {
                results.push(TxnResult {
                    entry: Arc::clone(e),
                    with_value: true,
                });
                Ok(())
            }
            None => Err(format!("key {key:?} doesn't exist")),
        },
        "get-or-empty" => {
            if let Some(e) = inner.kv.get(key) {
                results.push(TxnResult {
                    entry: Arc::clone(e),
                    with_value: true,
                });
            }
            Ok(())
        }
        "get-tree" => {
            results.extend(prefix_range(&inner.kv, key).map(|(_, e)| TxnResult {
                entry: Arc::clone(e),
                with_value: true,
            }));
            Ok(())
        }
        "check-index" => match inner.kv.get(key) {
            Some(e) if e.modify_index == op.index => Ok(()),
            Some(e) => Err(format!(
                "current modify index {} != {}",
                e.modify_index, op.index
            )),
            None => Err(format!("key {key:?} doesn't exist")),
        },
        "check-session" => match inner.kv.get(key) {
            Some(e) if e.session.as_deref() == Some(op.session.as_str()) => Ok(()),
            Some(e) => Err(format!(
                "current session {:?} != {:?}",
                e.session.as_deref().unwrap_or(""),
                op.session
            )),
            None => Err(format!("key {key:?} doesn't exist")),
        },
        "check-not-exists" => match inner.kv.get(key) {
            Some(_) => Err(format!("key {key:?} exists")),
            None => Ok(()),
        },
        "delete" => {
            inner.kv_remove(key, index);
            Ok(())
        }
        "delete-tree" => {
            let keys: Vec<String> = prefix_range(&inner.kv, key).map(|(k, _)| k.clone()).collect();
            for k in keys {
                inner.kv_remove(&k, index);
            }
            Ok(())
        }
        "delete-cas" => match inner.kv.get(key) {
            Some(e) if e.modify_index == op.index => {
                inner.kv_remove(key, index);
                Ok(())
            }
            _ => Err(format!("failed to delete key {key:?}, index is stale")),
        },
        other => Err(format!(
            "unknown KV verb {other:?}: use set, cas, lock, unlock, get, get-or-empty, get-tree, check-index, check-session, check-not-exists, delete, delete-tree or delete-cas"
        )),
    }
}
