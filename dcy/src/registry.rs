//! Registering a service and keeping it registered: TTL heartbeats,
//! pass/warn/fail with a note, re-registration when the agent loses the
//! service (agent restart, 404 on a TTL update), and deregistration.
//!
//! ```no_run
//! # async fn demo() -> dcy::Result<()> {
//! use std::time::Duration;
//! use dcy::registry::{Check, Registration};
//!
//! let client = dcy::Client::from_env()?;
//! let reg = Registration::new("worker")
//!     .port(8080)
//!     .tag("v1")
//!     .check(Check::http("http://127.0.0.1:8080/health", Duration::from_secs(1)))
//!     .check(Check::ttl(Duration::from_secs(10)))
//!     .register(&client)
//!     .await?;
//! reg.warn("queue is long").await?;
//! reg.deregister().await?;
//! # Ok(())
//! # }
//! ```

use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::{watch, Notify};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::agent::{CheckRegistration, ServiceRegistration};
use crate::client::Client;
use crate::error::{Error, ErrorKind, Result};
use crate::types::{Status, Weights};

/// A check to register with a service.
#[derive(Clone, Debug, PartialEq)]
pub struct Check {
    inner: CheckRegistration,
}

impl Check {
    /// An HTTP check the agent runs every `interval` (2xx passes, 429 warns).
    pub fn http(url: &str, interval: Duration) -> Check {
        Check {
            inner: CheckRegistration {
                http: url.to_string(),
                interval: Some(interval),
                ..CheckRegistration::default()
            },
        }
    }

    /// A TCP check the agent runs every `interval`.
    pub fn tcp(addr: &str, interval: Duration) -> Check {
        Check {
            inner: CheckRegistration {
                tcp: addr.to_string(),
                interval: Some(interval),
                ..CheckRegistration::default()
            },
        }
    }

    /// A TTL check the registration keeps passing (or as set) until it is dropped.
    pub fn ttl(ttl: Duration) -> Check {
        Check {
            inner: CheckRegistration {
                ttl: Some(ttl),
                ..CheckRegistration::default()
            },
        }
    }

    /// Check ID (default `service:<id>[:n]`).
    pub fn id(mut self, id: &str) -> Check {
        self.inner.check_id = id.to_string();
        self
    }

    /// Check name.
    pub fn name(mut self, name: &str) -> Check {
        self.inner.name = name.to_string();
        self
    }

    /// Timeout of an HTTP or TCP check (Consul's default: 10s).
    pub fn timeout(mut self, d: Duration) -> Check {
        self.inner.timeout = Some(d);
        self
    }

    /// Status before the first run (Consul's default: critical; TTL checks here start passing).
    pub fn initial_status(mut self, s: Status) -> Check {
        self.inner.status = Some(s);
        self
    }

    /// An HTTP header for the check request.
    pub fn header(mut self, name: &str, value: &str) -> Check {
        self.inner
            .header
            .entry(name.to_string())
            .or_default()
            .push(value.to_string());
        self
    }

    /// HTTP method of the check (default GET).
    pub fn method(mut self, m: &str) -> Check {
        self.inner.method = m.to_string();
        self
    }

    /// Skip certificate verification of an https check.
    pub fn tls_skip_verify(mut self) -> Check {
        self.inner.tls_skip_verify = true;
        self
    }

    /// Notes shown to operators.
    pub fn notes(mut self, notes: &str) -> Check {
        self.inner.notes = notes.to_string();
        self
    }

    /// Let the agent remove the service after this check has been critical this long.
    pub fn deregister_critical_after(mut self, d: Duration) -> Check {
        self.inner.deregister_critical_service_after = Some(d);
        self
    }

    /// Body of the HTTP check request.
    pub fn body(mut self, body: &str) -> Check {
        self.inner.body = body.to_string();
        self
    }

    /// Do not follow redirects in the HTTP check.
    pub fn disable_redirects(mut self) -> Check {
        self.inner.disable_redirects = true;
        self
    }

    /// Name to verify an https check's certificate against.
    pub fn tls_server_name(mut self, name: &str) -> Check {
        self.inner.tls_server_name = name.to_string();
        self
    }

    /// Consecutive results needed to turn passing, warning and critical.
    pub fn thresholds(
        mut self,
        success_before_passing: u32,
        failures_before_warning: u32,
        failures_before_critical: u32,
    ) -> Check {
        self.inner.success_before_passing = success_before_passing;
        self.inner.failures_before_warning = failures_before_warning;
        self.inner.failures_before_critical = failures_before_critical;
        self
    }

    /// The definition as sent to the agent.
    pub fn definition(&self) -> &CheckRegistration {
        &self.inner
    }
}

impl From<CheckRegistration> for Check {
    fn from(inner: CheckRegistration) -> Check {
        Check { inner }
    }
}

/// A service registration being built.
#[derive(Clone, Debug)]
pub struct Registration {
    reg: ServiceRegistration,
    deregister_after: Option<Duration>,
}

impl Registration {
    /// A registration of a complete definition (for example parsed from a
    /// Consul service-definition file).
    pub fn from_definition(reg: ServiceRegistration) -> Registration {
        Registration {
            reg,
            deregister_after: None,
        }
    }

    /// A registration of service `name` (its ID defaults to the name).
    pub fn new(name: &str) -> Registration {
        Registration {
            reg: ServiceRegistration {
                name: name.to_string(),
                ..ServiceRegistration::default()
            },
            deregister_after: None,
        }
    }

    /// Instance ID, unique on the agent (use it when running several instances).
    pub fn id(mut self, id: &str) -> Registration {
        self.reg.id = id.to_string();
        self
    }

    /// Address (default: the agent's node address).
    pub fn address(mut self, addr: &str) -> Registration {
        self.reg.address = addr.to_string();
        self
    }

    /// Port.
    pub fn port(mut self, port: u16) -> Registration {
        self.reg.port = port;
        self
    }

    /// Adds a tag.
    pub fn tag(mut self, tag: &str) -> Registration {
        self.reg.tags.push(tag.to_string());
        self
    }

    /// Adds metadata.
    pub fn meta(mut self, key: &str, value: &str) -> Registration {
        self.reg.meta.insert(key.to_string(), value.to_string());
        self
    }

    /// Load-balancing weights while passing and while warning.
    pub fn weights(mut self, passing: u32, warning: u32) -> Registration {
        self.reg.weights = Some(Weights { passing, warning });
        self
    }

    /// Adds a check.
    pub fn check(mut self, check: Check) -> Registration {
        self.reg.checks.push(check.inner);
        self
    }

    /// Let the agent remove the service after a check has been critical this long.
    pub fn deregister_critical_after(mut self, d: Duration) -> Registration {
        self.deregister_after = Some(d);
        self
    }

    /// Let `consul catalog` tag updates stand.
    pub fn enable_tag_override(mut self) -> Registration {
        self.reg.enable_tag_override = true;
        self
    }

    /// The definition that is sent, with check IDs filled as Consul forms them.
    pub fn definition(&self) -> ServiceRegistration {
        let mut reg = self.reg.clone();
        if reg.id.is_empty() {
            reg.id = reg.name.clone();
        }
        let many = reg.checks.len() > 1;
        for (i, c) in reg.checks.iter_mut().enumerate() {
            if c.check_id.is_empty() {
                c.check_id = if many {
                    format!("service:{}:{}", reg.id, i + 1)
                } else {
                    format!("service:{}", reg.id)
                };
            }
            if c.ttl.is_some() && c.status.is_none() {
                c.status = Some(Status::Passing);
            }
            if c.deregister_critical_service_after.is_none() {
                c.deregister_critical_service_after = self.deregister_after;
            }
        }
        reg
    }

    /// Registers the service and keeps it registered until [`Registered::deregister`]
    /// or drop.
    ///
    /// A definition the agent rejects (400) is an error. If the agent cannot be
    /// reached, the registration is retried in the background and the handle is
    /// returned at once: see [`Registered::registered`].
    pub async fn register(self, client: &Client) -> Result<Registered> {
        let reg = self.definition();
        if reg.name.is_empty() {
            return Err(Error::new(
                ErrorKind::InvalidInput,
                "service name is empty: Registration::new(\"name\")",
            ));
        }
        let registered = match client.register_service(&reg, true).await {
            Ok(()) => true,
            Err(e) if e.is_retryable() => {
                tracing::warn!(service = %reg.id, error = %e, "Consul unreachable: registering in the background");
                false
            }
            Err(e) => return Err(e),
        };
        if registered {
            client.metrics().registrations.inc();
            tracing::info!(service = %reg.id, "registered");
        }
        let ttl_checks: Vec<(String, Duration)> = reg
            .checks
            .iter()
            .filter_map(|c| Some((c.check_id.clone(), c.ttl?)))
            .collect();
        let (tx, rx) = watch::channel(registered);
        let shared = Arc::new(Shared {
            client: client.clone(),
            reg,
            ttl_checks,
            status: Mutex::new((Status::Passing, String::new())),
            pushed: Notify::new(),
            registered: tx,
            health: Mutex::new(KeeperHealth::default()),
        });
        let stop = CancellationToken::new();
        tokio::spawn(keep(Arc::clone(&shared), stop.clone()));
        Ok(Registered {
            shared,
            registered: rx,
            stop,
            done: false,
        })
    }
}

#[derive(Debug)]
struct Shared {
    client: Client,
    reg: ServiceRegistration,
    ttl_checks: Vec<(String, Duration)>,
    status: Mutex<(Status, String)>,
    pushed: Notify,
    registered: watch::Sender<bool>,
    health: Mutex<KeeperHealth>,
}

/// How the keeper's conversation with the agent goes.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct KeeperHealth {
    /// The last error talking to the agent, while it lasts.
    pub last_error: Option<String>,
    /// Since when the agent has been failing.
    pub failing_since: Option<Instant>,
}

impl Shared {
    fn failed(&self, e: &Error) {
        let mut h = self
            .health
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        h.last_error = Some(e.to_string());
        h.failing_since.get_or_insert_with(Instant::now);
    }

    fn succeeded(&self) {
        let mut h = self
            .health
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if h.last_error.is_some() {
            *h = KeeperHealth::default();
        }
    }

    fn status(&self) -> (Status, String) {
        self.status
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }
}

/// A registered service. Dropping it deregisters in the background; prefer
/// [`Registered::deregister`].
#[derive(Debug)]
pub struct Registered {
    shared: Arc<Shared>,
    registered: watch::Receiver<bool>,
    stop: CancellationToken,
    done: bool,
}

impl Registered {
    /// The instance ID.
    pub fn id(&self) -> &str {
        &self.shared.reg.id
    }

    /// The registered definition.
    pub fn definition(&self) -> &ServiceRegistration {
        &self.shared.reg
    }

    /// Whether the agent knows the service now.
    pub fn is_registered(&self) -> bool {
        *self.registered.borrow()
    }

    /// Whether the keeper reaches the agent, with the last error while it does not.
    pub fn keeper_health(&self) -> KeeperHealth {
        self.shared
            .health
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    /// Waits, without a limit, until the agent holds the registration.
    pub async fn wait_registered(&self) -> Result<()> {
        let mut rx = self.registered.clone();
        let ok = rx.wait_for(|r| *r).await.is_ok();
        if ok {
            Ok(())
        } else {
            Err(Error::new(
                ErrorKind::Cancelled,
                "the registration was stopped",
            ))
        }
    }

    /// Waits until the agent holds the registration (after a background retry).
    pub async fn registered(&self, timeout: Duration) -> Result<()> {
        let mut rx = self.registered.clone();
        let outcome = match tokio::time::timeout(timeout, rx.wait_for(|r| *r)).await {
            Ok(Ok(_)) => Some(true),
            Ok(Err(_)) => Some(false),
            Err(_) => None,
        };
        match outcome {
            Some(true) => Ok(()),
            Some(false) => Err(Error::new(
                ErrorKind::Cancelled,
                "the registration was stopped",
            )),
            None => Err(Error::timeout(
                &format!("registering {}", self.id()),
                timeout,
            )),
        }
    }

    async fn set(&self, status: Status, note: &str) -> Result<()> {
        *self
            .shared
            .status
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = (status, note.to_string());
        if self.shared.ttl_checks.is_empty() {
            return Err(Error::new(
                ErrorKind::InvalidInput,
                format!(
                    "service {} has no TTL check to report on: add Check::ttl(..)",
                    self.id()
                ),
            ));
        }
        let mut result = Ok(());
        for (id, _) in &self.shared.ttl_checks {
            if let Err(e) = self.shared.client.update_ttl(id, status, note).await {
                result = Err(e);
            }
        }
        // The keeper re-registers on a 404 and keeps heartbeating the new status.
        self.shared.pushed.notify_one();
        result
    }

    /// Reports passing on the TTL checks.
    pub async fn pass(&self, note: &str) -> Result<()> {
        self.set(Status::Passing, note).await
    }

    /// Reports a warning on the TTL checks.
    pub async fn warn(&self, note: &str) -> Result<()> {
        self.set(Status::Warning, note).await
    }

    /// Reports critical on the TTL checks.
    pub async fn fail(&self, note: &str) -> Result<()> {
        self.set(Status::Critical, note).await
    }

    /// Stops keeping the service and deregisters it.
    pub async fn deregister(mut self) -> Result<()> {
        self.done = true;
        self.stop.cancel();
        match self.shared.client.deregister_service(self.id()).await {
            Err(e) if e.is_not_found() => Ok(()),
            other => other,
        }
    }
}

impl Drop for Registered {
    fn drop(&mut self) {
        self.stop.cancel();
        if self.done {
            return;
        }
        if let Ok(handle) = tokio::runtime::Handle::try_current() {
            let shared = Arc::clone(&self.shared);
            handle.spawn(async move {
                let id = shared.reg.id.clone();
                match shared.client.deregister_service(&id).await {
                    Ok(()) => tracing::info!(service = %id, "deregistered on drop"),
                    Err(e) => {
                        tracing::warn!(service = %id, error = %e, "deregistering on drop failed")
                    }
                }
            });
        }
    }
}

/// Keeps the registration alive until `stop`.
async fn keep(shared: Arc<Shared>, stop: CancellationToken) {
    let id = shared.reg.id.clone();
    let heartbeat = shared
        .ttl_checks
        .iter()
        .map(|(_, ttl)| *ttl / 3)
        .min()
        .map(|d| d.max(Duration::from_millis(50)));
    let mut registered = *shared.registered.borrow();
    let mut retry = Duration::from_millis(100);
    let mut next_beat = Instant::now() + heartbeat.unwrap_or(Duration::from_secs(3600));
    let mut hash: Option<String> = None;
    loop {
        if !registered {
            let attempt = tokio::select! {
                _ = stop.cancelled() => return,
                r = shared.client.register_service(&shared.reg, true) => r,
            };
            match attempt {
                Ok(()) => {
                    shared.succeeded();
                    registered = true;
                    retry = Duration::from_millis(100);
                    shared.client.metrics().registrations.inc();
                    tracing::info!(service = %id, "registered");
                    shared.registered.send_replace(true);
                    let (status, note) = shared.status();
                    for (check, _) in &shared.ttl_checks {
                        let _ = shared.client.update_ttl(check, status, &note).await;
                    }
                    hash = None;
                    next_beat = Instant::now() + heartbeat.unwrap_or(Duration::from_secs(3600));
                }
                Err(e) => {
                    shared.failed(&e);
                    tracing::debug!(service = %id, error = %e, "registration failed; retrying");
                    tokio::select! {
                        _ = stop.cancelled() => return,
                        _ = tokio::time::sleep(retry + Duration::from_millis(fastrand::u64(0..50))) => {}
                    }
                    retry = (retry * 2).min(Duration::from_secs(5));
                }
            }
            continue;
        }
        // Watch the agent's copy (hash-blocking) while heartbeats run.
        let lost = tokio::select! {
            _ = stop.cancelled() => return,
            _ = tokio::time::sleep_until(next_beat), if heartbeat.is_some() => heartbeat_all(&shared).await,
            _ = shared.pushed.notified() => false,
            r = shared.client.agent_service(&id, hash.as_deref(), Duration::from_secs(60)) => match r {
                Ok(Some((_, h))) => {
                    shared.succeeded();
                    retry = Duration::from_millis(100);
                    // An agent without content hashes cannot block: poll gently.
                    if h.is_empty() {
                        tokio::select! {
                            _ = stop.cancelled() => return,
                            _ = tokio::time::sleep(Duration::from_secs(1)) => {}
                        }
                    }
                    hash = Some(h).filter(|h| !h.is_empty());
                    false
                }
                Ok(None) => true,
                Err(e) => {
                    shared.failed(&e);
                    tracing::debug!(service = %id, error = %e, "watching the registration failed; retrying");
                    hash = None;
                    tokio::select! {
                        _ = stop.cancelled() => return,
                        _ = tokio::time::sleep(retry) => {}
                    }
                    retry = (retry * 2).min(Duration::from_secs(2));
                    false
                }
            },
        };
        if Instant::now() >= next_beat {
            next_beat = Instant::now() + heartbeat.unwrap_or(Duration::from_secs(3600));
        }
        if lost {
            tracing::warn!(service = %id, "the agent lost the service: re-registering");
            shared.client.metrics().reregistrations.inc();
            shared.registered.send_replace(false);
            registered = false;
        }
    }
}

/// Sends the current status on every TTL check; true if the agent lost one.
async fn heartbeat_all(shared: &Shared) -> bool {
    let (status, note) = shared.status();
    let mut lost = false;
    for (check, _) in &shared.ttl_checks {
        match shared.client.update_ttl(check, status, &note).await {
            Ok(()) => shared.succeeded(),
            Err(e) if e.is_not_found() => lost = true,
            Err(e) => {
                shared.failed(&e);
                tracing::debug!(check = %check, error = %e, "TTL heartbeat failed; retrying");
            }
        }
    }
    lost
}
