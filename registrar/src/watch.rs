//! Watching a directory of definition files with `notify`, debounced.
//!
//! The watcher's thread only records the names of definition files that
//! changed (and whether a full rescan is needed, when the kernel dropped
//! events) and wakes the sync loop; the loop then waits until the directory
//! has been quiet for the debounce time, bounded, and takes the whole batch.

use std::collections::BTreeSet;
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use notify::event::{AccessKind, AccessMode, EventKind};
use notify::{RecursiveMode, Watcher};
use tokio::sync::Notify;
use tokio::time::Instant;

use crate::definition;

/// More pending names than this and the batch becomes a full rescan.
const MAX_PENDING: usize = 10_000;

/// What changed since the last batch.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Changes {
    /// These files (by name) were created, written, renamed or removed.
    Files(BTreeSet<String>),
    /// Events were lost: compare the whole directory.
    Rescan,
}

#[derive(Debug)]
struct Shared {
    pending: Mutex<BTreeSet<String>>,
    rescan: AtomicBool,
    /// When the last relevant event came, in microseconds after `base`.
    last_event: AtomicU64,
    base: Instant,
    wake: Notify,
}

impl Shared {
    fn pending(&self) -> std::sync::MutexGuard<'_, BTreeSet<String>> {
        self.pending
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn record(&self, event: notify::Result<notify::Event>) {
        match event {
            Ok(ev) => {
                let relevant = !matches!(
                    ev.kind,
                    EventKind::Access(AccessKind::Read | AccessKind::Open(_) | AccessKind::Any)
                        | EventKind::Access(AccessKind::Close(
                            AccessMode::Read | AccessMode::Execute
                        ))
                );
                if ev.need_rescan() {
                    self.rescan.store(true, Ordering::SeqCst);
                } else if relevant {
                    let mut pending = self.pending();
                    for p in &ev.paths {
                        if definition::format_of(p).is_none() {
                            continue;
                        }
                        if let Some(name) = p.file_name().and_then(|n| n.to_str()) {
                            pending.insert(name.to_string());
                        }
                    }
                    if pending.len() > MAX_PENDING {
                        pending.clear();
                        self.rescan.store(true, Ordering::SeqCst);
                    }
                } else {
                    return;
                }
            }
            Err(e) => {
                tracing::warn!(error = %e, "watching the directory: events may be lost; rescanning");
                self.rescan.store(true, Ordering::SeqCst);
            }
        }
        let micros = u64::try_from(self.base.elapsed().as_micros()).unwrap_or(u64::MAX);
        self.last_event.store(micros, Ordering::SeqCst);
        self.wake.notify_one();
    }
}

/// A watch on one directory (not recursive, as Consul's `-config-dir`).
#[derive(Debug)]
pub(crate) struct DirWatch {
    _watcher: notify::RecommendedWatcher,
    shared: Arc<Shared>,
}

impl DirWatch {
    /// Starts watching `dir`.
    pub(crate) fn start(dir: &Path) -> notify::Result<DirWatch> {
        let shared = Arc::new(Shared {
            pending: Mutex::new(BTreeSet::new()),
            rescan: AtomicBool::new(false),
            last_event: AtomicU64::new(0),
            base: Instant::now(),
            wake: Notify::new(),
        });
        let sink = Arc::clone(&shared);
        let mut watcher = notify::recommended_watcher(move |ev| sink.record(ev))?;
        watcher.watch(dir, RecursiveMode::NonRecursive)?;
        Ok(DirWatch {
            _watcher: watcher,
            shared,
        })
    }

    /// Waits for the next change, then until the directory has been quiet for
    /// `debounce` (at most `max_wait` in all), and returns the batch.
    pub(crate) async fn next(&self, debounce: Duration, max_wait: Duration) -> Changes {
        let s = &self.shared;
        loop {
            if !s.pending().is_empty() || s.rescan.load(Ordering::SeqCst) {
                break;
            }
            s.wake.notified().await;
        }
        // Quiet for `debounce` since the last event, or `max_wait` in all.
        let deadline = Instant::now() + max_wait;
        loop {
            let last = s.base + Duration::from_micros(s.last_event.load(Ordering::SeqCst));
            let wake = (last + debounce).min(deadline);
            if Instant::now() >= wake {
                break;
            }
            tokio::time::sleep_until(wake).await;
        }
        let names = std::mem::take(&mut *s.pending());
        if s.rescan.swap(false, Ordering::SeqCst) {
            Changes::Rescan
        } else {
            Changes::Files(names)
        }
    }
}
