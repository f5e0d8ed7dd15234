//! `registrar run -- CMD ARGS...`: starts a program, registers it once it is
//! ready, forwards signals to it, deregisters it when it exits, and exits
//! with its status.
//!
//! Readiness is registrar's own probe ([`crate::probe`]), every 20 ms; the
//! service is then registered with its checks already `passing`, so Consul
//! shows it healthy right away and the agent's checks take over at their
//! interval. The registration is a [`dcy::Registration`]: it keeps TTL checks
//! alive while the program runs and registers again if the agent loses it.

use std::os::unix::process::ExitStatusExt;
use std::process::ExitStatus;
use std::sync::Arc;
use std::time::Duration;

use dcy::agent::ServiceRegistration;
use dcy::{Check, Registered, Registration};
use nix::sys::signal::Signal;
use tokio::process::{Child, Command};
use tokio::signal::unix::{signal, SignalKind};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::error::{Error, Result};
use crate::probe::{self, Probe};
use crate::status::Status;
use crate::validate::{MANAGED_BY, MANAGED_BY_VALUE};

/// First wait before a restart; it doubles up to [`RESTART_MAX`].
pub const RESTART_MIN: Duration = Duration::from_secs(1);
/// Longest wait before a restart.
pub const RESTART_MAX: Duration = Duration::from_secs(30);
/// A program that stayed ready this long resets the backoff and the restart count.
pub const RESTART_RESET: Duration = Duration::from_secs(60);
/// How long a program that never became ready gets to stop after SIGTERM.
const STOP_GRACE: Duration = Duration::from_secs(10);

/// When to start the program again.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum Restart {
    /// Never: registrar exits with the program's status.
    #[default]
    No,
    /// When it exits with a non-zero status (or never becomes ready), after a capped backoff.
    OnFailure,
}

/// Settings of `registrar run`.
#[derive(Clone, Debug)]
pub struct RunConfig {
    /// The program and its arguments.
    pub command: Vec<String>,
    /// The service to register (validated; registrar adds its meta mark).
    pub service: ServiceRegistration,
    /// How long the program may take to become ready.
    pub ready_timeout: Duration,
    /// Restart policy.
    pub restart: Restart,
    /// Restarts in a row before giving up (0: no limit).
    pub max_restarts: u32,
}

/// How one run of the program ended.
struct Outcome {
    code: u8,
    failed: bool,
    stopping: bool,
    ready_for: Option<Duration>,
}

struct Signals {
    int: tokio::signal::unix::Signal,
    term: tokio::signal::unix::Signal,
    hup: tokio::signal::unix::Signal,
}

impl Signals {
    fn install() -> Result<Signals> {
        let one =
            |kind: SignalKind| signal(kind).map_err(|e| Error::io("installing signal handlers", e));
        Ok(Signals {
            int: one(SignalKind::interrupt())?,
            term: one(SignalKind::terminate())?,
            hup: one(SignalKind::hangup())?,
        })
    }

    async fn next(&mut self) -> Signal {
        tokio::select! {
            _ = self.int.recv() => Signal::SIGINT,
            _ = self.term.recv() => Signal::SIGTERM,
            _ = self.hup.recv() => Signal::SIGHUP,
        }
    }
}

fn stops(sig: Signal) -> bool {
    matches!(sig, Signal::SIGINT | Signal::SIGTERM)
}

/// Runs and supervises the program until it exits for good (or `shutdown`,
/// which acts as a SIGTERM); returns the exit code to exit with.
pub async fn run(
    client: dcy::Client,
    config: RunConfig,
    status: Arc<Status>,
    shutdown: CancellationToken,
) -> Result<u8> {
    if config.command.is_empty() {
        return Err(Error::Usage(
            "no program to run: registrar run [options] -- CMD ARGS...".into(),
        ));
    }
    let mut signals = Signals::install()?;
    refuse_foreign(&client, &config.service.id, &status).await?;
    let probe = Probe::for_service(&config.service);
    let mut failures = 0u32;
    let mut backoff = RESTART_MIN;
    loop {
        let out = supervise(&client, &config, &probe, &status, &mut signals, &shutdown).await?;
        if out.stopping || !out.failed || config.restart == Restart::No {
            return Ok(out.code);
        }
        if out.ready_for.is_some_and(|d| d >= RESTART_RESET) {
            failures = 0;
            backoff = RESTART_MIN;
        }
        failures += 1;
        if config.max_restarts > 0 && failures > config.max_restarts {
            tracing::error!(
                restarts = config.max_restarts,
                "`{}` keeps failing: giving up",
                config.command[0]
            );
            return Ok(out.code);
        }
        status.metrics.child_restarts.inc();
        tracing::warn!(after = ?backoff, attempt = failures, "restarting `{}`", config.command[0]);
        let sleep = tokio::time::sleep(backoff);
        tokio::pin!(sleep);
        loop {
            tokio::select! {
                _ = &mut sleep => break,
                _ = shutdown.cancelled() => return Ok(out.code),
                sig = signals.next() => if stops(sig) {
                    tracing::info!(signal = %sig, "stopping instead of restarting");
                    return Ok(out.code);
                },
            }
        }
        backoff = (backoff * 2).min(RESTART_MAX);
    }
}

/// Refuses to take over a service ID that something else registered.
async fn refuse_foreign(client: &dcy::Client, id: &str, status: &Status) -> Result<()> {
    let r = tokio::time::timeout(Duration::from_secs(5), client.agent_services()).await;
    match r {
        Ok(Ok(services)) => {
            status.set_reachable();
            match services.get(id) {
                Some(s) if s.meta.get(MANAGED_BY).map(String::as_str) != Some(MANAGED_BY_VALUE) => Err(Error::Usage(format!(
                    "service ID `{id}` is already registered on the agent, not by registrar: choose another --id (registrar never replaces what it did not register)"
                ))),
                _ => Ok(()),
            }
        }
        Ok(Err(e)) if !e.is_retryable() => Err(e.into()),
        Ok(Err(e)) => {
            status.set_unreachable(&e);
            tracing::warn!(error = %e, "Consul unreachable: starting the program anyway; it is registered once Consul answers");
            Ok(())
        }
        Err(_) => {
            tracing::warn!("Consul did not answer within 5s: starting the program anyway; it is registered once Consul answers");
            Ok(())
        }
    }
}

fn spawn(command: &[String], client: &dcy::Client) -> Result<(Child, Option<i32>)> {
    let child = Command::new(&command[0])
        .args(&command[1..])
        .envs(client.config().child_env())
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| Error::Child(format!("cannot start `{}`: {e}", command[0])))?;
    let pid = child.id().and_then(|p| i32::try_from(p).ok());
    tracing::info!(pid = ?pid, "started `{}`", command.join(" "));
    Ok((child, pid))
}

fn forward(pid: Option<i32>, sig: Signal) {
    let Some(pid) = pid else { return };
    match nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), sig) {
        Ok(()) => tracing::info!(signal = %sig, pid, "forwarded to the program"),
        Err(nix::errno::Errno::ESRCH) => {}
        Err(e) => tracing::warn!(signal = %sig, pid, error = %e, "forwarding the signal failed"),
    }
}

/// The exit code of a status: its code, or 128 + the signal that killed it.
fn exit_code(st: &ExitStatus) -> u8 {
    match (st.code(), st.signal()) {
        (Some(c), _) => (c & 0xff) as u8,
        (None, Some(s)) => (128 + (s & 0x7f)) as u8,
        (None, None) => 1,
    }
}

fn describe(st: &ExitStatus) -> String {
    match (st.code(), st.signal()) {
        (Some(c), _) => format!("exited with status {c}"),
        (None, Some(s)) => match Signal::try_from(s) {
            Ok(sig) => format!("was killed by {sig}"),
            Err(_) => format!("was killed by signal {s}"),
        },
        (None, None) => "exited".to_string(),
    }
}

/// Stops a program that never became ready: SIGTERM, then SIGKILL after a grace period.
async fn terminate(child: &mut Child, pid: Option<i32>) {
    forward(pid, Signal::SIGTERM);
    if tokio::time::timeout(STOP_GRACE, child.wait())
        .await
        .is_err()
    {
        tracing::warn!(grace = ?STOP_GRACE, "the program ignored SIGTERM: killing it");
        let _ = child.start_kill();
        let _ = child.wait().await;
    }
}

/// The dcy registration for a service: every check starts passing, since
/// registrar's own probe just passed.
fn keeper(reg: &ServiceRegistration) -> Registration {
    let mut r = Registration::new(&reg.name)
        .id(&reg.id)
        .address(&reg.address)
        .port(reg.port)
        .meta(MANAGED_BY, MANAGED_BY_VALUE);
    for t in &reg.tags {
        r = r.tag(t);
    }
    for (k, v) in &reg.meta {
        r = r.meta(k, v);
    }
    if let Some(w) = reg.weights {
        r = r.weights(w.passing, w.warning);
    }
    if reg.enable_tag_override {
        r = r.enable_tag_override();
    }
    // dcy takes one deregister-after for all checks: the first one given.
    if let Some(d) = reg
        .checks
        .iter()
        .find_map(|c| c.deregister_critical_service_after)
    {
        r = r.deregister_critical_after(d);
    }
    for c in &reg.checks {
        let interval = c.interval.unwrap_or(Duration::from_secs(10));
        let mut check = if !c.http.is_empty() {
            Check::http(&c.http, interval)
        } else if !c.tcp.is_empty() {
            Check::tcp(&c.tcp, interval)
        } else {
            Check::ttl(c.ttl.unwrap_or(Duration::from_secs(30)))
        };
        check = check.initial_status(dcy::Status::Passing);
        if !c.check_id.is_empty() {
            check = check.id(&c.check_id);
        }
        if !c.name.is_empty() {
            check = check.name(&c.name);
        }
        if let Some(t) = c.timeout {
            check = check.timeout(t);
        }
        if !c.method.is_empty() {
            check = check.method(&c.method);
        }
        for (k, vs) in &c.header {
            for v in vs {
                check = check.header(k, v);
            }
        }
        if c.tls_skip_verify {
            check = check.tls_skip_verify();
        }
        if !c.notes.is_empty() {
            check = check.notes(&c.notes);
        }
        r = r.check(check);
    }
    r
}

/// Resolves once the agent holds the registration (true), or gives up (false).
async fn until_registered(handle: Option<&Registered>) -> bool {
    match handle {
        Some(h) => h.registered(Duration::from_secs(24 * 3600)).await.is_ok(),
        None => std::future::pending().await,
    }
}

async fn deregister(handle: Registered, status: &Status) {
    let id = handle.id().to_string();
    let r = handle.deregister().await;
    status.observe(&r);
    match r {
        Ok(()) => {
            status.metrics.deregistrations.inc();
            tracing::info!(service = %id, "deregistered");
        }
        Err(e) => tracing::warn!(service = %id, error = %e, "deregistering failed"),
    }
}

/// One run of the program: start, probe, register, wait, deregister.
async fn supervise(
    client: &dcy::Client,
    config: &RunConfig,
    probe: &Probe,
    status: &Status,
    signals: &mut Signals,
    shutdown: &CancellationToken,
) -> Result<Outcome> {
    let (mut child, pid) = spawn(&config.command, client)?;
    let name = &config.command[0];
    let mut stopping = false;
    let ready = {
        let probing = probe::until_ready(probe, config.ready_timeout);
        tokio::pin!(probing);
        loop {
            tokio::select! {
                st = child.wait() => {
                    let st = st.map_err(|e| Error::Child(format!("waiting for `{name}`: {e}")))?;
                    if !stopping {
                        tracing::error!(probe = %probe, "`{name}` {} before it was ready: not registered", describe(&st));
                    }
                    return Ok(Outcome { code: exit_code(&st), failed: !st.success(), stopping, ready_for: None });
                }
                r = &mut probing, if !stopping => break r,
                sig = signals.next() => {
                    forward(pid, sig);
                    stopping |= stops(sig);
                }
                _ = shutdown.cancelled(), if !stopping => {
                    forward(pid, Signal::SIGTERM);
                    stopping = true;
                }
            }
        }
    };
    let took = match ready {
        Ok(took) => took,
        Err(last) => {
            tracing::error!(
                timeout = ?config.ready_timeout,
                "`{name}` was not ready within the --ready-timeout: {probe} never succeeded (last: {last}); stopping it"
            );
            terminate(&mut child, pid).await;
            return Ok(Outcome {
                code: 1,
                failed: true,
                stopping: false,
                ready_for: None,
            });
        }
    };
    let registered_at = Instant::now();
    let handle = match keeper(&config.service).register(client).await {
        Ok(h) => h,
        Err(e) => {
            tracing::error!(service = %config.service.id, error = %e, "Consul refused the registration: stopping `{name}`");
            terminate(&mut child, pid).await;
            return Err(e.into());
        }
    };
    if handle.is_registered() {
        status.set_reachable();
        status.metrics.registrations.inc();
        tracing::info!(service = %handle.id(), ready_after = ?took, register = ?registered_at.elapsed(), "`{name}` is ready: registered as passing");
    }
    let mut pending = !handle.is_registered();
    let mut handle = Some(handle);
    let st = loop {
        tokio::select! {
            st = child.wait() => break st,
            sig = signals.next() => {
                forward(pid, sig);
                if stops(sig) {
                    stopping = true;
                    if let Some(h) = handle.take() {
                        deregister(h, status).await;
                    }
                }
            }
            _ = shutdown.cancelled(), if !stopping => {
                forward(pid, Signal::SIGTERM);
                stopping = true;
                if let Some(h) = handle.take() {
                    deregister(h, status).await;
                }
            }
            ok = until_registered(handle.as_ref()), if pending => {
                pending = false;
                if ok {
                    status.set_reachable();
                    status.metrics.registrations.inc();
                    tracing::info!(service = %config.service.id, "registered (Consul answers now)");
                }
            }
        }
    };
    let st = st.map_err(|e| Error::Child(format!("waiting for `{name}`: {e}")))?;
    if let Some(h) = handle.take() {
        deregister(h, status).await;
    }
    let level_ok = stopping || st.success();
    if level_ok {
        tracing::info!("`{name}` {}", describe(&st));
    } else {
        tracing::error!("`{name}` {}", describe(&st));
    }
    Ok(Outcome {
        code: exit_code(&st),
        failed: !st.success() && !stopping,
        stopping,
        ready_for: Some(registered_at.elapsed()),
    })
}
