//! `registrar sync DIR`: keeps the agent in step with a directory of
//! service-definition files.
//!
//! The loop holds three views: the files (each with its last *valid*
//! services: an invalid edit keeps the previous version registered), the
//! services they call for (owners resolved by [`crate::owners`]), and what the
//! agent holds as far as registrar knows (`applied`). Any change, from the
//! watcher, the periodic rescan or the periodic look at the agent, ends in
//! one diff of wanted against applied: one `register` per new or changed
//! service, one `deregister` per service no longer wanted, at most
//! `concurrency` in flight. Calls that fail because Consul is unreachable
//! are retried with capped backoff; registrar never exits because of it.
//!
//! Everything registered carries meta `managed-by=registrar`,
//! `registrar-file=<file>` and `registrar-dir=<dir>`; only services with
//! the marks of this directory are ever deregistered or overwritten. On exit
//! the services stay registered, as the agent's own config files do.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use dcy::agent::ServiceRegistration;
use dcy::AgentService;
use futures_util::StreamExt;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::definition::{ServiceDef, Severity};
use crate::error::{Error, Result};
use crate::owners;
use crate::scan::{self, Fingerprint, Read};
use crate::status::Status;
use crate::validate::{DIR_KEY, FILE_KEY, MANAGED_BY, MANAGED_BY_VALUE};
use crate::watch::{Changes, DirWatch};

/// Settings of `registrar sync`.
#[derive(Clone, Debug)]
pub struct SyncConfig {
    /// The directory of definition files.
    pub dir: PathBuf,
    /// How often to compare the agent (and the directory) with the files.
    pub interval: Duration,
    /// Quiet time after a change before the files are read.
    pub debounce: Duration,
    /// Calls to Consul in flight at once.
    pub concurrency: usize,
}

impl Default for SyncConfig {
    fn default() -> Self {
        SyncConfig {
            dir: PathBuf::from("."),
            interval: Duration::from_secs(10),
            debounce: Duration::from_millis(200),
            concurrency: 32,
        }
    }
}

/// One definition file: its fingerprint when last read and its last valid services.
#[derive(Debug, Default)]
struct FileEntry {
    fingerprint: Option<Fingerprint>,
    services: Vec<ServiceDef>,
    /// The file could not be read or has errors: what the agent holds from
    /// it (even from an earlier run) is left as it is.
    broken: bool,
}

#[derive(Debug)]
enum Action {
    /// Register; `claim`: first look whether someone else holds the ID
    /// (when the last look at the agent is not from this very round).
    Register {
        /// Boxed: a registration is large beside an ID.
        reg: Box<ServiceRegistration>,
        claim: bool,
    },
    Deregister(String),
}

/// Runs the sync until `shutdown`. Fails only on bad input (the directory
/// does not exist); Consul being unreachable is waited out.
pub async fn run(
    client: dcy::Client,
    config: SyncConfig,
    status: Arc<Status>,
    shutdown: CancellationToken,
) -> Result<()> {
    let dir = tokio::fs::canonicalize(&config.dir)
        .await
        .map_err(|e| Error::io(&config.dir, e))?;
    let meta = tokio::fs::metadata(&dir)
        .await
        .map_err(|e| Error::io(&dir, e))?;
    if !meta.is_dir() {
        return Err(Error::Usage(format!("{}: not a directory", dir.display())));
    }
    let mark = dir.display().to_string();
    if mark.len() > 512 {
        return Err(Error::Usage(format!(
            "{mark}: the directory path is longer than Consul's 512-character meta values; use a shorter path or a symlink"
        )));
    }
    let mut s = Syncer {
        client,
        config: config.clone(),
        dir,
        mark,
        status,
        files: BTreeMap::new(),
        owners: BTreeMap::new(),
        applied: BTreeMap::new(),
        foreign: BTreeSet::new(),
        rejected: BTreeMap::new(),
        reported: BTreeSet::new(),
        seen_agent: false,
        consul_down: false,
    };
    // Watch before the first scan so no change falls between the two.
    let watch = match DirWatch::start(&s.dir) {
        Ok(w) => Some(w),
        Err(e) => {
            tracing::warn!(dir = %s.dir.display(), error = %e, "cannot watch the directory: changes are seen at each --sync-interval only");
            None
        }
    };
    let started = Instant::now();
    s.rescan().await;
    tracing::info!(dir = %s.dir.display(), files = s.files.len(), "read the definition files");
    let cap = config
        .interval
        .clamp(Duration::from_millis(250), Duration::from_secs(10));
    let mut backoff = Duration::from_millis(250);
    let mut retry_at = Some(Instant::now());
    let mut first_push = true;
    let mut tick = tokio::time::interval_at(Instant::now() + config.interval, config.interval);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        let pending;
        tokio::select! {
            _ = shutdown.cancelled() => break,
            changes = next_change(watch.as_ref(), config.debounce) => {
                match changes {
                    Changes::Files(names) => s.read(names.into_iter().collect()).await,
                    Changes::Rescan => s.rescan().await,
                }
                pending = !s.push(&shutdown, false).await;
            }
            _ = tick.tick() => {
                s.rescan().await;
                pending = !s.look_at_agent().await || !s.push(&shutdown, true).await;
            }
            _ = tokio::time::sleep_until(retry_at.unwrap_or_else(Instant::now)), if retry_at.is_some() => {
                pending = !s.look_at_agent().await || !s.push(&shutdown, true).await;
                if !pending && first_push {
                    first_push = false;
                    tracing::info!(services = s.applied.len(), elapsed = ?started.elapsed(), "in sync with the agent");
                }
            }
        }
        if pending {
            retry_at = Some(Instant::now() + backoff);
            backoff = (backoff * 2).min(cap);
        } else {
            retry_at = None;
            backoff = Duration::from_millis(250);
        }
    }
    tracing::info!("sync stopped; the services stay registered");
    Ok(())
}

/// The next batch of changes from the watcher; never, without one.
async fn next_change(watch: Option<&DirWatch>, debounce: Duration) -> Changes {
    match watch {
        Some(w) => w.next(debounce, debounce * 10).await,
        None => std::future::pending().await,
    }
}

struct Syncer {
    client: dcy::Client,
    config: SyncConfig,
    dir: PathBuf,
    mark: String,
    status: Arc<Status>,
    files: BTreeMap<String, FileEntry>,
    /// Service ID → the file that holds it.
    owners: BTreeMap<String, String>,
    /// What the agent holds of ours, as far as known.
    applied: BTreeMap<String, ServiceRegistration>,
    /// IDs on the agent that registrar did not register for this directory.
    foreign: BTreeSet<String>,
    /// Definitions Consul refused (400): not retried until they change.
    rejected: BTreeMap<String, ServiceRegistration>,
    /// Duplicates and conflicts already reported, so each is said once.
    reported: BTreeSet<String>,
    /// Whether the agent's services have been read once (needed before any write).
    seen_agent: bool,
    consul_down: bool,
}

impl Syncer {
    /// Compares the whole directory with what was read, reading what changed.
    async fn rescan(&mut self) {
        let dir = self.dir.clone();
        let known: BTreeMap<String, Option<Fingerprint>> = self
            .files
            .iter()
            .map(|(n, e)| (n.clone(), e.fingerprint))
            .collect();
        let scanned = tokio::task::spawn_blocking(move || {
            let listing = scan::list(&dir)?;
            let mut reads = Vec::new();
            for (name, fp) in &listing {
                if known.get(name) != Some(&Some(*fp)) {
                    let known = known.contains_key(name);
                    reads.push((name.clone(), scan::read_settled(&dir.join(name), known)));
                }
            }
            for name in known.keys().filter(|n| !listing.contains_key(*n)) {
                reads.push((name.clone(), scan::read_settled(&dir.join(name), true)));
            }
            Ok::<_, std::io::Error>(reads)
        })
        .await;
        match scanned {
            Ok(Ok(reads)) => self.apply_reads(reads),
            Ok(Err(e)) => {
                self.status.metrics.sync_errors.inc();
                tracing::error!(dir = %self.dir.display(), error = %e, "cannot list the directory: keeping every service as it is");
            }
            Err(e) => tracing::error!(error = %e, "directory scan stopped"),
        }
    }

    /// Reads the named files (after a watcher event).
    async fn read(&mut self, names: Vec<String>) {
        let dir = self.dir.clone();
        let known: Vec<bool> = names.iter().map(|n| self.files.contains_key(n)).collect();
        let reads = tokio::task::spawn_blocking(move || {
            names
                .into_iter()
                .zip(known)
                .map(|(n, known)| {
                    let read = scan::read_settled(&dir.join(&n), known);
                    (n, read)
                })
                .collect::<Vec<_>>()
        })
        .await;
        match reads {
            Ok(reads) => self.apply_reads(reads),
            Err(e) => tracing::error!(error = %e, "reading changed files stopped"),
        }
    }

    fn apply_reads(&mut self, reads: Vec<(String, Read)>) {
        for (name, read) in reads {
            let path = self.dir.join(&name);
            match read {
                Read::Missing => {
                    if let Some(old) = self.files.remove(&name) {
                        tracing::info!(file = %path.display(), services = old.services.len(), "definition file removed");
                    }
                }
                Read::Failed(e) => {
                    self.status.metrics.sync_errors.inc();
                    tracing::error!(file = %path.display(), error = %e, "cannot read the definition file; what it registered before stays registered");
                    // No fingerprint: read again at every rescan.
                    let entry = self.files.entry(name).or_default();
                    entry.fingerprint = None;
                    entry.broken = true;
                }
                Read::Parsed(fp, defs) => {
                    for p in &defs.problems {
                        match p.severity {
                            Severity::Error => tracing::error!("{p}"),
                            Severity::Warning => tracing::warn!("{p}"),
                        }
                    }
                    let entry = self.files.entry(name).or_default();
                    entry.fingerprint = Some(fp);
                    entry.broken = defs.has_errors();
                    if defs.has_errors() {
                        self.status.metrics.sync_errors.inc();
                        if !entry.services.is_empty() {
                            tracing::warn!(file = %path.display(), services = entry.services.len(), "invalid file skipped: its last valid version stays registered");
                        }
                    } else {
                        entry.services = defs.services;
                    }
                }
            }
        }
        self.status
            .metrics
            .files_watched
            .set(self.files.len() as i64);
    }

    /// Reads the agent's services: finds what it lost (agent restart) or
    /// what was changed behind registrar's back, and what of ours is stale.
    async fn look_at_agent(&mut self) -> bool {
        let r = self.client.agent_services().await;
        self.status.observe(&r);
        let services = match r {
            Ok(s) => s,
            Err(e) => {
                if !self.consul_down {
                    self.consul_down = true;
                    tracing::warn!(error = %e, "Consul unreachable: retrying with backoff; nothing is deregistered meanwhile");
                }
                return false;
            }
        };
        if self.consul_down {
            self.consul_down = false;
            tracing::info!("Consul reachable again");
        }
        self.seen_agent = true;
        self.foreign = services
            .values()
            .filter(|s| !ours(s, &self.mark))
            .map(|s| s.id.clone())
            .collect();
        let before = self.applied.len();
        self.applied
            .retain(|id, reg| services.get(id).is_some_and(|s| same(s, reg)));
        let lost = before - self.applied.len();
        if lost > 0 {
            tracing::warn!(lost, "the agent lost or changed services registrar registered (agent restart?): registering them again");
        }
        for s in services.values().filter(|s| ours(s, &self.mark)) {
            // Ours from an earlier run or changed: re-registered if wanted, else removed.
            self.applied
                .entry(s.id.clone())
                .or_insert_with(|| ServiceRegistration {
                    id: s.id.clone(),
                    name: s.service.clone(),
                    tags: s.tags.clone(),
                    address: s.address.clone(),
                    port: s.port,
                    meta: s.meta.clone(),
                    weights: Some(s.weights),
                    enable_tag_override: s.enable_tag_override,
                    ..ServiceRegistration::default()
                });
        }
        true
    }

    /// The services the files call for, with registrar's marks.
    fn wanted(&mut self) -> BTreeMap<String, ServiceRegistration> {
        let defs = self.files.iter().flat_map(|(name, e)| {
            e.services
                .iter()
                .map(move |s| (name.as_str(), s.registration.id.as_str(), s.line))
        });
        let resolution = owners::resolve(defs, &self.owners);
        let mut now_reported = BTreeSet::new();
        for dup in &resolution.duplicates {
            let key = format!("dup\0{}\0{}", dup.id, dup.ignored.0);
            if !self.reported.contains(&key) {
                self.status.metrics.sync_errors.inc();
                tracing::error!(dir = %self.dir.display(), "{}", dup.message());
            }
            now_reported.insert(key);
        }
        let mut wanted = BTreeMap::new();
        for (id, file) in &resolution.owners {
            let Some(def) = self.files[file]
                .services
                .iter()
                .find(|s| &s.registration.id == id)
            else {
                continue;
            };
            if self.foreign.contains(id) {
                let key = format!("foreign\0{id}");
                if !self.reported.contains(&key) {
                    self.status.metrics.sync_errors.inc();
                    tracing::error!(file = %self.dir.join(file).display(), service = %id, "service ID `{id}` is already registered on the agent, not by this registrar: leaving it alone and skipping this definition");
                }
                now_reported.insert(key);
                continue;
            }
            let mut reg = def.registration.clone();
            reg.meta.insert(MANAGED_BY.into(), MANAGED_BY_VALUE.into());
            reg.meta.insert(FILE_KEY.into(), file.clone());
            reg.meta.insert(DIR_KEY.into(), self.mark.clone());
            wanted.insert(id.clone(), reg);
        }
        self.reported = now_reported;
        self.owners = resolution.owners;
        wanted
    }

    /// Makes the agent match the files; false if calls failed and must be retried.
    ///
    /// `fresh`: the agent's services were just read, so a new ID needs no look of its own.
    async fn push(&mut self, shutdown: &CancellationToken, fresh: bool) -> bool {
        if !self.seen_agent {
            return false;
        }
        let wanted = self.wanted();
        self.rejected.retain(|id, reg| wanted.get(id) == Some(reg));
        let mut actions = Vec::new();
        for (id, reg) in &wanted {
            if self.applied.get(id) != Some(reg) && self.rejected.get(id) != Some(reg) {
                let claim = !fresh && !self.applied.contains_key(id);
                actions.push(Action::Register {
                    reg: Box::new(reg.clone()),
                    claim,
                });
            }
        }
        for (id, reg) in &self.applied {
            // A broken file keeps what the agent holds from it, even from an earlier run.
            let from_broken = reg
                .meta
                .get(FILE_KEY)
                .and_then(|f| self.files.get(f))
                .is_some_and(|e| e.broken);
            if !wanted.contains_key(id) && !self.foreign.contains(id) && !from_broken {
                actions.push(Action::Deregister(id.clone()));
            }
        }
        if actions.is_empty() {
            return true;
        }
        let verbose = actions.len() <= 20;
        let total = actions.len();
        let client = self.client.clone();
        let mark = self.mark.clone();
        let mut results = futures_util::stream::iter(actions)
            .map(|a| {
                let client = client.clone();
                let mark = mark.clone();
                async move {
                    // Ok(false): someone else holds the ID, nothing was sent.
                    let r = match &a {
                        Action::Register { reg, claim } => {
                            let taken = match claim {
                                true => client
                                    .agent_service(&reg.id, None, Duration::ZERO)
                                    .await
                                    .map(|s| s.is_some_and(|(s, _)| !ours(&s, &mark))),
                                false => Ok(false),
                            };
                            match taken {
                                Ok(false) => {
                                    client.register_service(reg, true).await.map(|()| true)
                                }
                                other => other.map(|_| false),
                            }
                        }
                        Action::Deregister(id) => match client.deregister_service(id).await {
                            Err(e) if e.is_not_found() => Ok(true),
                            other => other.map(|()| true),
                        },
                    };
                    (a, r)
                }
            })
            .buffer_unordered(self.config.concurrency.max(1));
        let mut done = 0;
        loop {
            let next = tokio::select! {
                _ = shutdown.cancelled() => return true,
                n = results.next() => n,
            };
            let Some((action, r)) = next else { break };
            self.status.observe(&r);
            match (action, r) {
                (Action::Register { reg, .. }, Ok(false)) => {
                    self.status.metrics.sync_errors.inc();
                    let file = self.dir.join(&reg.meta[FILE_KEY]);
                    tracing::error!(file = %file.display(), service = %reg.id, "service ID `{}` is already registered on the agent, not by this registrar: leaving it alone and skipping this definition", reg.id);
                    self.reported.insert(format!("foreign\0{}", reg.id));
                    self.foreign.insert(reg.id);
                }
                (Action::Register { reg, .. }, Ok(true)) => {
                    done += 1;
                    self.status.metrics.registrations.inc();
                    if verbose {
                        tracing::info!(service = %reg.id, file = %reg.meta[FILE_KEY], "registered");
                    }
                    self.applied.insert(reg.id.clone(), *reg);
                }
                (Action::Deregister(id), Ok(_)) => {
                    done += 1;
                    self.status.metrics.deregistrations.inc();
                    if verbose {
                        tracing::info!(service = %id, "deregistered");
                    }
                    self.applied.remove(&id);
                }
                (_, Err(e)) if e.is_retryable() => {
                    self.status.metrics.sync_errors.inc();
                    tracing::warn!(error = %e, pending = total - done, "Consul unreachable: retrying with backoff");
                    // Leave the rest for the retry instead of waiting on each.
                    return false;
                }
                (Action::Register { reg, .. }, Err(e)) => {
                    self.status.metrics.sync_errors.inc();
                    let file = self.dir.join(&reg.meta[FILE_KEY]);
                    tracing::error!(file = %file.display(), service = %reg.id, error = %e, "Consul refused the service: fix the file");
                    self.rejected.insert(reg.id.clone(), *reg);
                }
                (Action::Deregister(id), Err(e)) => {
                    self.status.metrics.sync_errors.inc();
                    tracing::error!(service = %id, error = %e, "deregistering failed; trying again at the next sync");
                    self.applied.remove(&id);
                }
            }
        }
        if !verbose {
            tracing::info!(calls = done, "synced with the agent");
        }
        true
    }
}

/// Whether `sync` of the directory marked `mark` registered `s`.
fn ours(s: &AgentService, mark: &str) -> bool {
    s.meta.get(MANAGED_BY).map(String::as_str) == Some(MANAGED_BY_VALUE)
        && s.meta.get(DIR_KEY).map(String::as_str) == Some(mark)
        && s.meta.contains_key(FILE_KEY)
}

/// Whether the agent's copy matches what was registered.
fn same(s: &AgentService, reg: &ServiceRegistration) -> bool {
    s.service == reg.name
        && s.tags == reg.tags
        && s.port == reg.port
        && s.address == reg.address
        && s.meta == reg.meta
        && s.enable_tag_override == reg.enable_tag_override
        && s.weights == reg.weights.unwrap_or_default()
}
