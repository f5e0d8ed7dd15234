//! The runner: renders templates, follows their dependencies, writes what
//! changed, and runs commands.
//!
//! - one watch per unique dependency across all templates (the dcy hub);
//! - a change re-renders only the templates that use it;
//! - nothing is written until every dependency of a template has data;
//! - quiescence per template (`wait`), armed after the first full render;
//! - a template that fails to render or parse keeps its old output;
//! - Consul being unreachable is never fatal: the last files stay, the age
//!   of the data is logged, and rendering resumes when Consul is back.

use std::collections::{BTreeSet, HashMap};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use dcy::watch::WatchHub;
use serde_json::Value;
use tokio::sync::mpsc;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::command::{run_once, CommandLine, Commands};
use crate::config::{Config, TemplateConfig, Wait};
use crate::deps::Dep;
use crate::error::{Error, Result};
use crate::exec::Exec;
use crate::funcs::Brain;
use crate::status::Metrics;
use crate::templates::{Slot, Templates};

mod burst;
mod follow;
pub mod nesting;
mod write;

use burst::DeferredCommand;
use follow::{Follow, Followed};

/// Why the runner stopped.
#[derive(Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Reload config and templates (SIGHUP, config file changed).
    Reload,
    /// Exit with this code.
    Exit(i32),
}

/// Messages into the runner.
#[derive(Debug)]
pub enum Event {
    /// New data for a dependency (`None`: it has none, e.g. a missing key).
    Data(String, Option<Value>),
    /// A template source changed on disk.
    SourceChanged(PathBuf),
    /// A config file changed on disk.
    ConfigChanged,
    /// Reload everything.
    Reload,
    /// Stop (exit code).
    Stop(i32),
    /// Forward a signal to the exec child.
    Signal(nix::sys::signal::Signal),
}

struct DepEntry {
    users: BTreeSet<usize>,
    watch: Box<dyn Followed>,
    answered: bool,
}

struct Tmpl {
    cfg: TemplateConfig,
    slot: Slot,
    /// The source compiled (for the lines of render errors).
    text: Arc<str>,
    deps: BTreeSet<String>,
    missing: BTreeSet<String>,
    rendered: bool,
    dirty: bool,
    quiet: Option<(Instant, Instant)>,
}

/// Everything the runner shares with `lib::run` across reloads.
#[derive(Clone, Debug)]
pub struct Shared {
    /// The Consul client (its pool survives reloads: no socket leaks).
    pub client: dcy::Client,
    /// The watch hub (queries still used survive reloads).
    pub hub: WatchHub,
    /// Metrics.
    pub metrics: Arc<Metrics>,
    /// Whether Consul answers (for `/health`).
    pub healthy: Arc<AtomicBool>,
    /// The environment templates' `env()` sees and commands inherit.
    pub vars: Arc<HashMap<String, String>>,
    /// The command runner (one worker per command line, across reloads).
    pub commands: Arc<Mutex<Commands>>,
}

/// The renderer for one configuration.
pub struct Runner {
    cfg: Config,
    shared: Shared,
    brain: Arc<Mutex<Brain>>,
    compiled: Templates,
    templates: Vec<Tmpl>,
    deps: HashMap<String, DepEntry>,
    tx: mpsc::UnboundedSender<Event>,
    deferred: Vec<DeferredCommand>,
    exec: Option<Exec>,
    all_rendered: bool,
    stop: CancellationToken,
}

impl std::fmt::Debug for Runner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Runner")
            .field("templates", &self.templates.len())
            .field("dependencies", &self.deps.len())
            .field("all_rendered", &self.all_rendered)
            .finish()
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl Runner {
    /// A runner for `cfg`; `tx` feeds its event loop (signals, file watcher).
    pub fn new(
        cfg: Config,
        shared: Shared,
        tx: mpsc::UnboundedSender<Event>,
        stop: CancellationToken,
    ) -> Runner {
        let brain = Arc::new(Mutex::new(Brain::default()));
        let consul_env = shared.client.config().child_env();
        let exec = cfg.exec.clone().map(|e| {
            let env = crate::exec::child_env(&e, &shared.vars, &consul_env);
            Exec::new(e, env)
        });
        let compiled = Templates::new(Arc::clone(&brain), Arc::clone(&shared.vars));
        Runner {
            cfg,
            shared,
            brain,
            compiled,
            templates: Vec::new(),
            deps: HashMap::new(),
            tx,
            deferred: Vec::new(),
            exec,
            all_rendered: false,
            stop,
        }
    }

    /// Whether an error of template `t` stops templater (exit 14):
    /// `-template-error-fatal` over its `error_fatal`, true by default as
    /// in consul-template.
    fn fatal(&self, t: &TemplateConfig) -> bool {
        self.cfg
            .template_error_fatal
            .or(t.error_fatal)
            .unwrap_or(true)
    }

    /// Compiles a template's text in its syntax (see [`crate::syntax`]);
    /// the error names the template and the line.
    fn compile_text(
        &mut self,
        t: &TemplateConfig,
        slot: &Slot,
        text: &str,
    ) -> std::result::Result<(), String> {
        let defaults = &self.cfg.default_delimiters;
        let syntax = t.syntax.unwrap_or_else(|| {
            crate::syntax::detect(t.source.as_deref(), t.custom_delimiters(defaults), text)
        });
        match syntax {
            crate::syntax::Syntax::Go => {
                let options = t.go_options(defaults);
                self.compiled.compile_go(slot, &t.name(), text, &options)
            }
            crate::syntax::Syntax::Tera => {
                nesting::check(text)
                    .map_err(|e| format!("template {}:{}: {}", t.name(), e.line, e.message))?;
                self.compiled
                    .compile(slot, text)
                    .map_err(|e| format!("template {}: {e}", t.name()))
            }
        }
    }

    /// Loads every template's source.
    async fn load(&mut self) -> Result<()> {
        self.prepare_outputs().await;
        for t in self.cfg.templates.clone() {
            let slot = self.compiled.slot(
                self.templates.len(),
                &t.function_denylist,
                t.sandbox_path.as_ref(),
            );
            let text = match (&t.source, &t.contents) {
                (_, Some(c)) => Ok(c.clone()),
                (Some(p), None) => tokio::fs::read_to_string(p)
                    .await
                    .map_err(|e| format!("template {}: cannot read the source: {e}", p.display())),
                (None, None) => Err("template without source or contents".to_string()),
            };
            let mut kept: Arc<str> = Arc::from("");
            let compiled = text.and_then(|text| {
                self.compile_text(&t, &slot, &text)?;
                kept = Arc::from(text);
                Ok(())
            });
            match compiled {
                Ok(()) => {}
                Err(e) => {
                    self.shared.metrics.render_errors.inc();
                    if self.fatal(&t) || self.cfg.once {
                        return Err(Error::runner(e));
                    }
                    tracing::error!(error = %e, "template not rendered until fixed; other templates go on");
                }
            }
            self.templates.push(Tmpl {
                cfg: t,
                slot,
                text: kept,
                deps: BTreeSet::new(),
                missing: BTreeSet::new(),
                rendered: false,
                dirty: true,
                quiet: None,
            });
        }
        Ok(())
    }

    /// Starts the watch behind a dependency, typed by its reply, and
    /// forwards the data templates see as events.
    fn watch(&mut self, key: &str, dep: &Dep) {
        let followed = dep.reply(Follow {
            hub: &self.shared.hub,
            key,
            dep,
            stale: !self.cfg.max_stale.is_zero(),
            tx: self.tx.clone(),
        });
        let Some(watch) = followed else {
            return;
        };
        self.deps.insert(
            key.to_string(),
            DepEntry {
                users: BTreeSet::new(),
                watch,
                answered: false,
            },
        );
    }

    /// Renders template `i`; returns the content when every dependency has data.
    fn render(&mut self, i: usize) -> Result<Option<String>> {
        let t = &mut self.templates[i];
        if !self.compiled.has(&t.slot) {
            return Ok(None);
        }
        let (result, scope) = self.compiled.render(&t.slot);
        self.shared.metrics.renders.inc();
        let used: BTreeSet<String> = scope.used.keys().cloned().collect();
        let old = std::mem::replace(&mut t.deps, used.clone());
        t.missing = scope.missing;
        for gone in old.difference(&used) {
            if let Some(d) = self.deps.get_mut(gone) {
                d.users.remove(&i);
            }
        }
        for (key, dep) in &scope.used {
            if !self.deps.contains_key(key) {
                self.watch(key, dep);
            }
            if let Some(d) = self.deps.get_mut(key) {
                d.users.insert(i);
            }
        }
        self.deps.retain(|_, d| !d.users.is_empty());
        let t = &self.templates[i];
        match result {
            // Functions without data yet return placeholders (an empty
            // string, an empty list) that later code may reject: that is no
            // error until every dependency has answered.
            Err(e) if !t.missing.is_empty() => {
                tracing::debug!(template = %t.cfg.name(), missing = ?t.missing, error = %e, "waiting for data");
                Ok(None)
            }
            Err(e) => {
                self.shared.metrics.render_errors.inc();
                let msg = e.describe(&t.cfg.name(), &t.text);
                if self.fatal(&t.cfg) || self.cfg.once {
                    return Err(Error::runner(msg));
                }
                tracing::error!(error = %msg, "render failed: keeping the previous output until the next change");
                Ok(None)
            }
            Ok(_) if !t.missing.is_empty() => {
                tracing::debug!(template = %t.cfg.name(), missing = ?t.missing, "waiting for data");
                Ok(None)
            }
            Ok(text) => Ok(Some(text)),
        }
    }

    fn wait_of(&self, i: usize) -> Option<Wait> {
        self.templates[i]
            .cfg
            .wait
            .or(self.cfg.wait)
            .filter(|_| !self.cfg.once)
    }

    /// Marks the users of a dependency dirty, arming their quiescence timers.
    fn touch(&mut self, key: &str) {
        let users: Vec<usize> = self
            .deps
            .get(key)
            .map(|d| d.users.iter().copied().collect())
            .unwrap_or_default();
        let now = Instant::now();
        for i in users {
            let wait = if self.all_rendered {
                self.wait_of(i)
            } else {
                None
            };
            let t = &mut self.templates[i];
            t.dirty = true;
            if let Some(w) = wait {
                t.quiet = Some(match t.quiet {
                    None => (now + w.min, now + w.max),
                    Some((_, max)) => ((now + w.min).min(max), max),
                });
            }
        }
    }

    /// One pass: render every dirty template whose timer is due, write, run commands.
    async fn pass(&mut self) -> Result<()> {
        let now = Instant::now();
        let mut changed_any = false;
        let mut commands: Vec<(CommandLine, Duration)> = Vec::new();
        let mut rendered = Vec::new();
        for i in 0..self.templates.len() {
            let t = &self.templates[i];
            if !t.dirty || t.quiet.is_some_and(|(min, _)| min > now) {
                continue;
            }
            self.templates[i].dirty = false;
            self.templates[i].quiet = None;
            if let Some(text) = self.render(i)? {
                rendered.push((i, text));
            }
        }
        for (i, out) in self.write_outputs(rendered).await? {
            let changed = self.output(i, out).await?;
            let t = &mut self.templates[i];
            t.rendered = true;
            if changed && !self.cfg.dry {
                changed_any = true;
                let line = CommandLine(t.cfg.command.clone());
                if !line.0.is_empty() && !commands.iter().any(|(c, _)| *c == line) {
                    commands.push((line, t.cfg.command_timeout));
                }
            }
        }
        for (line, timeout) in commands {
            if self.cfg.once {
                self.shared.metrics.command_runs.inc();
                if let Err(e) = run_once(&line, &self.command_env(), timeout).await {
                    self.shared.metrics.command_failures.inc();
                    return Err(Error::runner(format!("command failed: {e}")));
                }
            } else if !self.deferred.iter().any(|d| d.line == line) {
                let deferred = self.defer(line, timeout);
                self.deferred.push(deferred);
            }
        }
        if !self.cfg.once {
            self.request_commands();
        }
        let waiting = self.templates.iter().filter(|t| !t.rendered).count();
        self.shared.metrics.templates_waiting.set(waiting as i64);
        self.shared.metrics.dependencies.set(self.deps.len() as i64);
        self.shared
            .metrics
            .blocking_queries
            .set(self.shared.hub.len() as i64);
        if !self.all_rendered && waiting == 0 {
            self.all_rendered = true;
            tracing::info!(templates = self.templates.len(), "all templates rendered");
            if let Some(exec) = self.exec.as_mut() {
                if !self.cfg.once || !exec.running() {
                    exec.start()?;
                }
            }
        } else if changed_any && self.all_rendered {
            if let Some(exec) = self.exec.as_mut() {
                exec.reload().await?;
            }
        }
        Ok(())
    }

    fn next_deadline(&self) -> Option<Instant> {
        self.templates
            .iter()
            .filter(|t| t.dirty)
            .filter_map(|t| t.quiet.map(|(min, _)| min))
            .chain(self.deferred.iter().map(|d| d.by))
            .min()
    }

    /// Health, staleness and `-once` failure detection, every few seconds.
    fn tick(&mut self) -> Result<()> {
        let mut failing = 0;
        let mut oldest: Option<Duration> = None;
        let attempts = self.cfg.consul.retry_attempts.unwrap_or(12).max(1);
        for (key, d) in &self.deps {
            let st = d.watch.status();
            if st.is_stale() || (st.error.is_some() && !d.answered) {
                failing += 1;
                if let Some(age) = st.age() {
                    oldest = Some(oldest.map_or(age, |o| o.max(age)));
                }
                if self.cfg.once && st.consecutive_failures >= attempts {
                    return Err(Error::runner(format!(
                        "{key}: Consul did not answer after {} attempts: {}",
                        st.consecutive_failures,
                        st.error.map(|e| e.to_string()).unwrap_or_default()
                    )));
                }
            }
        }
        self.shared.healthy.store(failing == 0, Ordering::Relaxed);
        self.shared.metrics.failing_dependencies.set(failing);
        self.shared
            .metrics
            .staleness_seconds
            .set(oldest.map_or(0, |a| a.as_secs() as i64));
        if failing > 0 {
            tracing::warn!(
                failing,
                data_age = ?oldest,
                "Consul is unreachable: keeping the last rendered files and retrying"
            );
        }
        if self.cfg.once && self.deps.values().all(|d| d.answered) {
            let blocked: Vec<&String> = self
                .templates
                .iter()
                .flat_map(|t| t.missing.iter())
                .collect();
            if !blocked.is_empty() {
                return Err(Error::runner(format!(
                    "-once: no data for {blocked:?} (a key that does not exist?)"
                )));
            }
        }
        Ok(())
    }

    async fn reload_source(&mut self, path: &std::path::Path) {
        for i in 0..self.templates.len() {
            if self.templates[i].cfg.source.as_deref() != Some(path) {
                continue;
            }
            let text = match tokio::fs::read_to_string(path).await {
                Ok(t) => t,
                Err(e) => {
                    tracing::error!(template = %path.display(), error = %e, "cannot read the template: keeping the previous output");
                    continue;
                }
            };
            let (cfg, slot) = (
                self.templates[i].cfg.clone(),
                self.templates[i].slot.clone(),
            );
            let compiled = self.compile_text(&cfg, &slot, &text);
            match compiled {
                Ok(()) => {
                    self.templates[i].text = Arc::from(text.as_str());
                    tracing::info!(template = %path.display(), "template changed: re-rendering");
                    self.templates[i].dirty = true;
                }
                Err(e) => {
                    self.shared.metrics.render_errors.inc();
                    tracing::error!(template = %path.display(), error = %e, "the template no longer parses: keeping the previous output");
                }
            }
        }
    }

    /// Runs until stopped, reloaded, or (`-once`) done.
    pub async fn run(mut self, rx: &mut mpsc::UnboundedReceiver<Event>) -> Result<Outcome> {
        self.load().await?;
        self.pass().await?;
        let mut tick =
            tokio::time::interval(Duration::from_secs(if self.cfg.once { 1 } else { 5 }));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            if self.cfg.once && self.all_rendered {
                if let Some(exec) = self.exec.as_mut() {
                    let code = exec.exited().await;
                    return Ok(Outcome::Exit(code));
                }
                return Ok(Outcome::Exit(0));
            }
            let deadline = self.next_deadline();
            enum Wake {
                Event(Option<Event>),
                Timer,
                Tick,
                Exited(i32),
            }
            let exec = &mut self.exec;
            let wake = tokio::select! {
                _ = self.stop.cancelled() => Wake::Event(Some(Event::Stop(0))),
                ev = rx.recv() => Wake::Event(ev),
                _ = async {
                    match deadline {
                        Some(d) => tokio::time::sleep_until(d).await,
                        None => std::future::pending().await,
                    }
                } => Wake::Timer,
                _ = tick.tick() => Wake::Tick,
                code = async {
                    match exec.as_mut() {
                        Some(e) if e.running() => e.exited().await,
                        _ => std::future::pending().await,
                    }
                } => Wake::Exited(code),
            };
            let ev = match wake {
                Wake::Event(None) => {
                    self.run_held_commands().await;
                    return Ok(Outcome::Exit(0));
                }
                Wake::Event(ev) => ev,
                Wake::Timer => None,
                Wake::Tick => {
                    self.tick()?;
                    None
                }
                Wake::Exited(code) => {
                    tracing::info!(code, "exec: child exited");
                    self.run_held_commands().await;
                    return Ok(Outcome::Exit(code));
                }
            };
            let mut next = ev;
            // Drain everything pending before rendering once.
            while let Some(ev) = next.take() {
                match ev {
                    Event::Data(key, value) => {
                        if let Some(d) = self.deps.get_mut(&key) {
                            d.answered = true;
                        }
                        let changed = {
                            let mut brain = lock(&self.brain);
                            match value {
                                Some(v) => brain.insert(key.clone(), v),
                                None => brain.remove(&key),
                            }
                        };
                        // A template still waiting on this key renders once it
                        // arrives even if the value equals what we held before.
                        if changed || self.templates.iter().any(|t| t.missing.contains(&key)) {
                            self.touch(&key);
                        }
                    }
                    Event::SourceChanged(p) => self.reload_source(&p).await,
                    Event::ConfigChanged | Event::Reload => {
                        self.flush_commands();
                        self.shutdown_exec().await;
                        return Ok(Outcome::Reload);
                    }
                    Event::Stop(code) => {
                        self.run_held_commands().await;
                        self.shutdown_exec().await;
                        return Ok(Outcome::Exit(code));
                    }
                    Event::Signal(sig) => {
                        if let Some(e) = &self.exec {
                            e.signal(sig);
                        }
                    }
                }
                next = rx.try_recv().ok();
            }
            self.pass().await?;
        }
    }

    async fn shutdown_exec(&mut self) {
        if let Some(e) = self.exec.as_mut() {
            e.stop(true).await;
        }
    }
}
