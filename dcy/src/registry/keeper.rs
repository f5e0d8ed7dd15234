//! The handle of a registered service ([`Registered`]) and the keeper task
//! that works for it: TTL heartbeats well inside the TTL, a hash-blocking
//! watch of the agent's copy of the service on the watch engine (so a lost
//! registration is seen at once, and a heartbeat never disturbs that
//! query), re-registration with backoff, and deregistration when the
//! handle is done.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use tokio::sync::{watch, Notify};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::Registration;
use crate::agent::ServiceRegistration;
use crate::client::Client;
use crate::error::{Error, ErrorKind, Result};
use crate::types::{AgentService, Status};
use crate::watch::{backoff, Watch, WatchHub, WatchOptions, WatchSpec};

/// How long the keeper's watch of the agent's copy blocks.
const WATCH_WAIT: Duration = Duration::from_secs(60);
/// First and longest wait between attempts to reach the agent.
const RETRY_MIN: Duration = Duration::from_millis(100);
const RETRY_MAX: Duration = Duration::from_secs(5);

impl Registration {
    /// Registers the service and keeps it registered until
    /// [`Registered::deregister`] (or drop, best effort).
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
        let hub = WatchHub::with_options(
            client.clone(),
            WatchOptions {
                wait: WATCH_WAIT,
                // An agent without content hashes answers at once: poll gently.
                min_interval: Duration::from_secs(1),
                min_backoff: RETRY_MIN,
                max_backoff: Duration::from_secs(2),
            },
        );
        let agent_copy = hub.watch::<Option<AgentService>>(WatchSpec::agent_service(&reg.id));
        let (tx, rx) = watch::channel(registered);
        let shared = Arc::new(Shared {
            client: client.clone(),
            reg,
            ttl_checks,
            status: Mutex::new((Status::Passing, String::new())),
            pushed: Notify::new(),
            registered: tx,
            health: Mutex::new(None),
            agent_copy,
            outcome: Mutex::new(None),
        });
        let stop = CancellationToken::new();
        let tasks = TaskTracker::new();
        tasks.spawn(keep(Arc::clone(&shared), hub, stop.clone()));
        tasks.close();
        Ok(Registered {
            shared,
            registered: rx,
            stop,
            tasks,
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
    /// The last failure of a registration or heartbeat, and since when.
    health: Mutex<Option<(Error, Instant)>>,
    /// The agent's copy of the service (`None`: the agent lost it).
    agent_copy: Watch<Option<AgentService>>,
    /// What deregistration gave, once the keeper stopped.
    outcome: Mutex<Option<Result<()>>>,
}

/// How the keeper's conversation with the agent goes.
#[derive(Clone, Debug, Default)]
pub struct KeeperHealth {
    /// The last error talking to the agent, while it lasts: ask it
    /// [`Error::is_permission_denied`], [`Error::is_retryable`], ...
    pub last_error: Option<Error>,
    /// Since when the agent has been failing.
    pub failing_since: Option<Instant>,
}

impl Shared {
    fn failed(&self, e: &Error) {
        let mut h = self.health.lock().unwrap_or_else(PoisonError::into_inner);
        let since = h.as_ref().map_or_else(Instant::now, |(_, t)| *t);
        *h = Some((e.clone(), since));
    }

    fn succeeded(&self) {
        *self.health.lock().unwrap_or_else(PoisonError::into_inner) = None;
    }

    fn status(&self) -> (Status, String) {
        self.status
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }
}

/// A registered service, kept registered by a task of its own until
/// [`Registered::deregister`] (or [`Registered::shutdown`]), which
/// deregisters it and waits for that task to end. Dropping the handle
/// signals the task to deregister, best effort: prefer `deregister().await`.
#[derive(Debug)]
pub struct Registered {
    shared: Arc<Shared>,
    registered: watch::Receiver<bool>,
    stop: CancellationToken,
    tasks: TaskTracker,
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

    /// Whether the keeper reaches the agent, with the last error while it
    /// does not (from a registration, a heartbeat, or the watch of the
    /// agent's copy).
    pub fn keeper_health(&self) -> KeeperHealth {
        if let Some((e, since)) = self
            .shared
            .health
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
        {
            return KeeperHealth {
                last_error: Some(e),
                failing_since: Some(since),
            };
        }
        let st = self.shared.agent_copy.status();
        KeeperHealth {
            last_error: st.error,
            failing_since: st.failing_since,
        }
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
            .unwrap_or_else(PoisonError::into_inner) = (status, note.to_string());
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

    /// Stops keeping the service, deregisters it, and waits until the
    /// keeper's task has ended. A service the agent no longer knows is not
    /// an error.
    pub async fn deregister(self) -> Result<()> {
        self.stop.cancel();
        self.tasks.wait().await;
        self.shared
            .outcome
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take()
            .unwrap_or(Ok(()))
    }

    /// The same as [`Registered::deregister`]: the drain of this component.
    pub async fn shutdown(self) -> Result<()> {
        self.deregister().await
    }
}

impl Drop for Registered {
    fn drop(&mut self) {
        // A signal only: the keeper task deregisters and ends.
        self.stop.cancel();
    }
}

/// Keeps the registration alive until `stop`, then deregisters.
async fn keep(shared: Arc<Shared>, hub: WatchHub, stop: CancellationToken) {
    let id = shared.reg.id.clone();
    let heartbeat = shared
        .ttl_checks
        .iter()
        .map(|(_, ttl)| *ttl / 3)
        .min()
        .map(|d| d.max(Duration::from_millis(50)));
    let far = Duration::from_secs(3600);
    let mut registered = *shared.registered.borrow();
    let mut retry = backoff(RETRY_MIN, RETRY_MAX);
    let mut next_beat = Instant::now() + heartbeat.unwrap_or(far);
    let mut agent_copy = shared.agent_copy.clone();
    agent_copy.rx.mark_unchanged();
    loop {
        if !registered {
            let attempt = tokio::select! {
                _ = stop.cancelled() => break,
                r = shared.client.register_service(&shared.reg, true) => r,
            };
            match attempt {
                Ok(()) => {
                    shared.succeeded();
                    registered = true;
                    retry = backoff(RETRY_MIN, RETRY_MAX);
                    shared.client.metrics().registrations.inc();
                    tracing::info!(service = %id, "registered");
                    shared.registered.send_replace(true);
                    let (status, note) = shared.status();
                    for (check, _) in &shared.ttl_checks {
                        let _ = shared.client.update_ttl(check, status, &note).await;
                    }
                    // What the watch said before this registration is past.
                    agent_copy.rx.mark_unchanged();
                    next_beat = Instant::now() + heartbeat.unwrap_or(far);
                }
                Err(e) => {
                    shared.failed(&e);
                    tracing::debug!(service = %id, error = %e, "registration failed; retrying");
                    let delay = retry.next().unwrap_or(RETRY_MAX);
                    tokio::select! {
                        _ = stop.cancelled() => break,
                        _ = tokio::time::sleep(delay) => {}
                    }
                }
            }
            continue;
        }
        // The watch of the agent's copy runs in the hub's loop; heartbeats
        // go on their own connections and never touch it.
        let lost = tokio::select! {
            _ = stop.cancelled() => break,
            _ = tokio::time::sleep_until(next_beat), if heartbeat.is_some() => {
                next_beat = Instant::now() + heartbeat.unwrap_or(far);
                heartbeat_all(&shared).await
            }
            _ = shared.pushed.notified() => false,
            r = agent_copy.changed() => match r {
                Ok(()) => agent_copy.value().is_some_and(|v| v.is_none()),
                // Only our own shutdown stops the hub.
                Err(_) => break,
            },
        };
        if lost {
            tracing::warn!(service = %id, "the agent lost the service: re-registering");
            shared.client.metrics().reregistrations.inc();
            shared.registered.send_replace(false);
            registered = false;
        }
    }
    let outcome = match tokio::time::timeout(
        shared.client.config().request_timeout,
        shared.client.deregister_service(&id),
    )
    .await
    {
        Ok(Ok(())) => {
            tracing::info!(service = %id, "deregistered");
            Ok(())
        }
        Ok(Err(e)) if e.is_not_found() => Ok(()),
        Ok(Err(e)) => {
            tracing::warn!(service = %id, error = %e, "deregistering failed");
            Err(e)
        }
        Err(_) => Err(Error::timeout(
            &format!("deregistering {id}"),
            shared.client.config().request_timeout,
        )),
    };
    shared.registered.send_replace(false);
    *shared
        .outcome
        .lock()
        .unwrap_or_else(PoisonError::into_inner) = Some(outcome);
    hub.shutdown().await;
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
