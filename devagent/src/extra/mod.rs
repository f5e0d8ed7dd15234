//! State of the API families beyond the catalog, KV and sessions: the log
//! stream, the Connect CA, config entries (`entries`), prepared queries
//! (`queries`) and coordinates (`coords`). It is one field of the HTTP
//! handlers' `App`; its writes take their index from the store's raft
//! index, and its blocking queries wake on its own change signal.
//!
//! Lock order: this module's lock, then the store's; never the other way.

pub(crate) mod coords;
pub(crate) mod entries;
pub(crate) mod queries;

use std::sync::{Arc, Mutex, MutexGuard};

use tokio::sync::watch;

use crate::logs::LogHub;
use crate::mesh::ca::Ca;
use crate::state::{BlockingOpts, Store};

/// The tables of [`Extra`].
#[derive(Debug, Default)]
pub(crate) struct Tables {
    pub(crate) entries: entries::Entries,
    pub(crate) queries: queries::Queries,
    pub(crate) coords: coords::Coords,
    /// The autopilot configuration as last set (empty: Consul's defaults).
    pub(crate) autopilot: serde_json::Map<String, serde_json::Value>,
}

/// See the module documentation.
#[derive(Debug)]
pub(crate) struct Extra {
    /// The log stream of `/v1/agent/monitor`.
    pub(crate) logs: LogHub,
    /// The built-in Connect CA.
    pub(crate) ca: Arc<Ca>,
    tables: Mutex<Tables>,
    changed: watch::Sender<()>,
    /// When the agent started (autopilot's `StableSince`).
    pub(crate) started: std::time::SystemTime,
    /// `?cached` answers: first seen at which index, when.
    pub(crate) cache_ages: crate::http::CacheAges,
}

impl Extra {
    pub(crate) fn new(logs: LogHub, ca: Ca) -> Extra {
        Extra {
            logs,
            ca: Arc::new(ca),
            tables: Mutex::new(Tables::default()),
            changed: watch::channel(()).0,
            started: std::time::SystemTime::now(),
            cache_ages: Default::default(),
        }
    }

    pub(crate) fn lock(&self) -> MutexGuard<'_, Tables> {
        self.tables
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The next raft index, shared with the store.
    pub(crate) fn next_index(store: &Store) -> u64 {
        store.lock().next_index()
    }

    /// Wakes the blocking queries of these tables.
    pub(crate) fn notify(&self) {
        self.changed.send_replace(());
    }

    /// Replaces these tables with a snapshot's (already checked).
    pub(crate) fn restore(
        &self,
        entries: Vec<(String, String, serde_json::Map<String, serde_json::Value>)>,
        queries: Vec<(
            serde_json::Map<String, serde_json::Value>,
            Option<regex::Regex>,
        )>,
        coords: Vec<(String, String, serde_json::Value)>,
        autopilot: serde_json::Map<String, serde_json::Value>,
    ) {
        let mut t = self.lock();
        let index_of = |m: &serde_json::Map<String, serde_json::Value>| {
            m.get("ModifyIndex")
                .and_then(serde_json::Value::as_u64)
                .unwrap_or(0)
        };
        t.entries.map.clear();
        t.entries.index = 0;
        for (kind, name, e) in entries {
            t.entries.index = t.entries.index.max(index_of(&e));
            t.entries
                .map
                .insert((kind, name), Arc::new(serde_json::Value::Object(e)));
        }
        t.queries.map.clear();
        t.queries.index = 0;
        for (q, regexp) in queries {
            t.queries.index = t.queries.index.max(index_of(&q));
            let id = q
                .get("ID")
                .and_then(serde_json::Value::as_str)
                .map_or_else(|| uuid::Uuid::new_v4().to_string(), str::to_string);
            t.queries.map.insert(
                id,
                queries::Query::new(serde_json::Value::Object(q), regexp),
            );
        }
        t.coords.map = coords.into_iter().map(|(n, s, c)| ((n, s), c)).collect();
        t.autopilot = autopilot;
        drop(t);
        self.notify();
    }

    /// The autopilot configuration as last set.
    pub(crate) fn autopilot_get(&self) -> serde_json::Map<String, serde_json::Value> {
        self.lock().autopilot.clone()
    }

    /// Sets the autopilot configuration; `false` when `cas` does not match.
    pub(crate) fn autopilot_set(
        &self,
        store: &Store,
        mut conf: serde_json::Map<String, serde_json::Value>,
        cas: Option<u64>,
    ) -> bool {
        let mut t = self.lock();
        let current = t
            .autopilot
            .get("ModifyIndex")
            .and_then(serde_json::Value::as_u64)
            .unwrap_or(1);
        if cas.is_some_and(|c| c != current) {
            return false;
        }
        let index = Extra::next_index(store);
        let create = t.autopilot.get("CreateIndex").cloned().unwrap_or(1.into());
        conf.insert("CreateIndex".into(), create);
        conf.insert("ModifyIndex".into(), index.into());
        t.autopilot = conf;
        true
    }

    /// Runs `query` until its index passes `opts.index` or the wait runs out.
    pub(crate) async fn blocking<T>(
        &self,
        store: &Store,
        opts: BlockingOpts,
        query: impl Fn() -> (u64, T),
    ) -> (u64, T) {
        let deadline = tokio::time::Instant::now() + opts.wait;
        loop {
            let mut rx = self.changed.subscribe();
            let (index, value) = query();
            let index = index.max(1);
            if opts.index == 0 || index > opts.index || opts.wait.is_zero() {
                return (index, value);
            }
            drop(value);
            let woke = tokio::select! {
                r = tokio::time::timeout_at(deadline, rx.changed()) => matches!(r, Ok(Ok(()))),
                _ = store.closed() => false,
            };
            if !woke {
                let (index, value) = query();
                return (index.max(1), value);
            }
        }
    }
}
