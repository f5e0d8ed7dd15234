//! templater: a consul-template clone on tera.
//!
//! It renders config files from Consul state and reloads the programs that
//! read them (nginx, haproxy, ...). It speaks consul-template's flags and
//! config files, keeps its field names in template data, and fixes its
//! users' long-standing complaints: one blocking query per unique dependency
//! across all templates, rendering only what a change touches, never exiting
//! because Consul is briefly down, commands that run once per burst and are
//! never fatal, template and config edits picked up without a restart,
//! `templater check` to validate offline, and `/health` and `/metrics`.
//!
//! ```text
//! templater -template "upstreams.tmpl:/etc/nginx/conf.d/upstreams.conf:nginx -s reload"
//! ```
//!
//! ```text
//! # upstreams.tmpl (tera)
//! upstream workers {
//! {% for s in service(name="worker") %}  server {{ s.Address }}:{{ s.Port }};
//! {% else %}  server 127.0.0.1:65535 down;
//! {% endfor %}}
//! ```
//!
//! The library is what the `templater` binary (`src/main.rs`, with its
//! command line, logging, runtime and exit codes in `src/bin.rs`), the
//! tests and the demo use: [`run`] with its [`Cli`] and control [`Event`]s,
//! [`check()`] and [`convert()`] for the subcommands, and [`Error`]. Where
//! each concern lives (private modules):
//!
//! - `cli`, `config`: flags and config files into a [`Config`];
//! - `runner`: the render loop (one watch per dependency, quiescence,
//!   writes, commands); `templates`, `funcs`, `gofuncs`, `syntax`:
//!   templates in tera or Go syntax and their functions; `deps`, `godata`,
//!   `admin`: dependencies, the data templates see, and what is served;
//! - `command`, `exec`: commands after renders and the `-exec` child;
//!   `output`: atomic writes; `status`: `/health` and `/metrics`;
//! - `check`, `convert`: the subcommands; `locate`: error text.
#![warn(missing_docs)]

mod admin;
mod check;
mod cli;
mod command;
mod config;
mod convert;
mod deps;
mod error;
mod exec;
mod funcs;
mod godata;
mod gofuncs;
mod locate;
mod output;
mod runner;
mod status;
mod syntax;
mod templates;

/// What the `render` bench measures, outside the public API.
#[cfg(feature = "bench")]
#[doc(hidden)]
pub mod bench {
    pub use crate::deps::{normalize_filter, At, Dep};
    pub use crate::funcs::Brain;
    pub use crate::templates::Templates;

    /// A Consul reply body to the data templates see, as the runner does
    /// it (`None`: no data, or a reply that does not decode).
    pub fn data(dep: &Dep, body: &[u8]) -> Option<serde_json::Value> {
        dep.decode(body).ok().flatten()
    }
}

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::Duration;

use dcy::watch::{WatchHub, WatchOptions};
use notify::Watcher;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

pub use check::check;
pub use cli::{normalize, Cli, Command, Normalized, RunArgs};
pub use config::Config;
pub use convert::{convert, Conversion, Unconverted};
pub use error::{Error, ErrorKind, Result};
pub use exec::parse_signal;
pub use runner::Event;
use runner::{Outcome, Runner, Shared};

/// Watches template sources and config files; changes become events.
fn watch_files(
    cfg: &Config,
    tx: mpsc::UnboundedSender<Event>,
) -> Option<notify::RecommendedWatcher> {
    let sources: Vec<PathBuf> = cfg
        .templates
        .iter()
        .filter_map(|t| t.source.clone())
        .collect();
    let configs = cfg.files.clone();
    let abs = |p: &PathBuf| std::fs::canonicalize(p).unwrap_or_else(|_| p.clone());
    let sources_abs: Vec<(PathBuf, PathBuf)> =
        sources.iter().map(|p| (abs(p), p.clone())).collect();
    let configs_abs: Vec<PathBuf> = configs.iter().map(abs).collect();
    let tx2 = tx.clone();
    let mut watcher = notify::recommended_watcher(move |res: notify::Result<notify::Event>| {
        let Ok(ev) = res else { return };
        if ev.kind.is_access() {
            return;
        }
        for path in &ev.paths {
            let path = std::fs::canonicalize(path).unwrap_or_else(|_| path.clone());
            if let Some((_, orig)) = sources_abs.iter().find(|(a, _)| *a == path) {
                let _ = tx2.send(Event::SourceChanged(orig.clone()));
            } else if configs_abs.contains(&path) {
                let _ = tx2.send(Event::ConfigChanged);
            }
        }
    })
    .map_err(|e| tracing::warn!(error = %e, "cannot watch template files: edits need SIGHUP"))
    .ok()?;
    let mut dirs: Vec<PathBuf> = sources
        .iter()
        .chain(configs.iter())
        .filter_map(|p| {
            let p = abs(p);
            p.parent().map(|d| d.to_path_buf())
        })
        .collect();
    dirs.sort();
    dirs.dedup();
    for d in dirs {
        if let Err(e) = watcher.watch(&d, notify::RecursiveMode::NonRecursive) {
            tracing::warn!(dir = %d.display(), error = %e, "cannot watch directory");
        }
    }
    drop(tx);
    Some(watcher)
}

/// Runs templater until stopped; returns the process exit code.
///
/// `tx`/`rx` carry control events: [`Event::Reload`] (SIGHUP),
/// [`Event::Stop`], and signals to forward to an exec child.
pub async fn run(
    args: &RunArgs,
    tx: mpsc::UnboundedSender<Event>,
    mut rx: mpsc::UnboundedReceiver<Event>,
    stop: CancellationToken,
) -> Result<i32> {
    let mut cfg = args.to_config()?;
    let client =
        dcy::Client::new(cfg.client_config()?).map_err(|e| Error::config(e.to_string()))?;
    let options = WatchOptions {
        wait: cfg.block_query_wait,
        min_interval: Duration::from_millis(100),
        min_backoff: cfg
            .consul
            .retry_backoff
            .unwrap_or(Duration::from_millis(250)),
        max_backoff: cfg
            .consul
            .retry_max_backoff
            .unwrap_or(Duration::from_secs(60)),
    };
    let hub = WatchHub::with_options(client.clone(), options);
    let mut vars: HashMap<String, String> = std::env::vars().collect();
    vars.extend(client.config().child_env());
    let metrics = Arc::new(status::Metrics::default());
    let commands = command::Commands::new(
        client.config().child_env(),
        Arc::clone(&metrics),
        stop.clone(),
    );
    let shared = Shared {
        client: client.clone(),
        hub,
        metrics,
        healthy: Arc::new(AtomicBool::new(true)),
        vars: Arc::new(vars),
        commands: Arc::new(std::sync::Mutex::new(commands)),
    };
    if let Some(addr) = &cfg.status_addr {
        let local = status::serve(
            addr,
            Arc::clone(&shared.metrics),
            client.clone(),
            Arc::clone(&shared.healthy),
            stop.clone(),
        )
        .await
        .map_err(|e| Error::config(format!("-status-addr {addr}: {e}")))?;
        tracing::info!(addr = %local, "status listener: /health and /metrics");
    }
    if let Some(pid) = &cfg.pid_file {
        tokio::fs::write(pid, format!("{}\n", std::process::id()))
            .await
            .map_err(|e| Error::config(format!("-pid-file {}: {e}", pid.display())))?;
    }
    let result = loop {
        let _watcher = if cfg.once {
            None
        } else {
            watch_files(&cfg, tx.clone())
        };
        let runner = Runner::new(cfg.clone(), shared.clone(), tx.clone(), stop.child_token());
        match runner.run(&mut rx).await {
            Ok(Outcome::Exit(code)) => break Ok(code),
            Ok(Outcome::Reload) => {}
            Err(e) => break Err(e),
        }
        // Collect the burst of events an editor makes, then reload once;
        // a stop that arrived meanwhile still stops.
        tokio::time::sleep(Duration::from_millis(150)).await;
        let mut stop_code = None;
        while let Ok(ev) = rx.try_recv() {
            if let Event::Stop(code) = ev {
                stop_code = Some(code);
            }
        }
        if let Some(code) = stop_code {
            break Ok(code);
        }
        tracing::info!("reloading configuration and templates");
        cfg = match args.to_config() {
            Ok(c) => c,
            Err(e) => {
                tracing::error!(error = %e, "the new configuration is invalid: keeping the previous one");
                cfg
            }
        };
    };
    if let Some(pid) = &cfg.pid_file {
        let _ = tokio::fs::remove_file(pid).await;
    }
    stop.cancel();
    result
}
