//! Writing the outputs of a pass: in parallel where nothing has to run
//! between two writes, one by one (with the check command) elsewhere.

use std::collections::HashMap;

use super::Runner;
use crate::command::{run_once, CommandLine};
use crate::error::{Error, Result};
use crate::output::{self, Target, Written};

/// Outputs [`Runner::write_outputs`] writes at once.
pub(super) const PARALLEL_WRITES: usize = 16;

/// One template's output in a pass.
pub(super) enum Rendered {
    /// Text for [`Runner::output`] to write (or print).
    Text(String),
    /// Written by [`Runner::write_outputs`].
    Written(std::io::Result<Written>),
    /// Being written by [`Runner::write_outputs`].
    Pending,
}

impl Runner {
    /// Where and how template `i` is written (`None`: it has no destination).
    pub(super) fn target(&self, i: usize) -> Option<Target> {
        let t = &self.templates[i].cfg;
        Some(Target {
            path: t.destination.clone()?,
            perms: t.perms,
            backup: t.backup,
            create_dirs: t.create_dest_dirs,
        })
    }

    /// Writes the outputs of one pass: those without a check command and
    /// whose destination no other template of the pass writes at once (up
    /// to [`PARALLEL_WRITES`], so that their fsyncs overlap); the others are
    /// left as text for [`Runner::output`] to write one by one, in template
    /// order.
    pub(super) async fn write_outputs(
        &self,
        rendered: Vec<(usize, String)>,
    ) -> Result<Vec<(usize, Rendered)>> {
        let mut out = Vec::with_capacity(rendered.len());
        let mut jobs = Vec::new();
        // A destination written by two templates is written one by one, in
        // template order (the last one wins, as it always has).
        let mut seen = HashMap::new();
        for (i, _) in &rendered {
            if let Some(t) = self.target(*i) {
                *seen.entry(t.path).or_insert(0usize) += 1;
            }
        }
        for (i, text) in rendered {
            let cfg = &self.templates[i].cfg;
            let target = self.target(i).filter(|t| {
                !self.cfg.dry && cfg.check_command.is_empty() && seen.get(&t.path) == Some(&1)
            });
            match target {
                Some(target) => {
                    jobs.push((out.len(), target, text));
                    out.push((i, Rendered::Pending));
                }
                None => out.push((i, Rendered::Text(text))),
            }
        }
        let mut running = tokio::task::JoinSet::new();
        let mut jobs = jobs.into_iter();
        // Every round starts writes up to the limit, then takes one result.
        loop {
            while running.len() < PARALLEL_WRITES {
                let Some((slot, target, text)) = jobs.next() else {
                    break;
                };
                running.spawn_blocking(move || (slot, output::write(&target, text.as_bytes())));
            }
            let Some(done) = running.join_next().await else {
                break;
            };
            let (slot, written) =
                done.map_err(|e| Error::runner(format!("writing outputs: {e}")))?;
            out[slot].1 = Rendered::Written(written);
        }
        Ok(out)
    }

    /// Writes (or prints) the output of template `i`, or takes the result of
    /// [`Runner::write_outputs`] having written it; true if it changed.
    pub(super) async fn output(&mut self, i: usize, rendered: Rendered) -> Result<bool> {
        let t = &self.templates[i];
        let name = t.cfg.name();
        let Some(target) = self.target(i) else {
            if let (true, Rendered::Text(text)) = (self.cfg.dry, rendered) {
                println!("> \n{text}");
                return Ok(true);
            }
            return Ok(false);
        };
        let written = match rendered {
            Rendered::Text(text) if self.cfg.dry => {
                println!("> {}\n{text}", target.path.display());
                return Ok(true);
            }
            Rendered::Text(text) => {
                let t2 = target.clone();
                tokio::task::spawn_blocking(move || output::write(&t2, text.as_bytes()))
                    .await
                    .map_err(|e| Error::runner(format!("template {name}: writing: {e}")))?
            }
            Rendered::Written(written) => written,
            Rendered::Pending => {
                return Err(Error::runner(format!(
                    "template {name}: its output was never written"
                )))
            }
        };
        let previous = match written {
            Ok(Written::Unchanged) => return Ok(false),
            Ok(Written::Changed(previous)) => previous,
            Err(e) => {
                let msg = format!(
                    "template {name}: cannot write {}: {e}",
                    target.path.display()
                );
                self.shared.metrics.render_errors.inc();
                if self.fatal(&t.cfg) || self.cfg.once {
                    return Err(Error::runner(msg));
                }
                tracing::error!(error = %msg, "keeping the previous output");
                return Ok(false);
            }
        };
        let check = CommandLine(t.cfg.check_command.clone());
        if !check.0.is_empty() {
            if let Err(e) = run_once(&check, &self.command_env(), t.cfg.command_timeout).await {
                self.shared.metrics.render_errors.inc();
                let restored = tokio::task::spawn_blocking(move || {
                    output::restore(&target, previous.as_deref())
                })
                .await
                .map_err(|e| Error::runner(format!("template {name}: restoring: {e}")))?;
                let msg = format!("template {name}: the check command rejected the new output ({e}); the previous output is back");
                if let Err(re) = restored {
                    tracing::error!(template = %name, error = %re, "restoring the previous output failed");
                }
                if self.fatal(&t.cfg) || self.cfg.once {
                    return Err(Error::runner(msg));
                }
                tracing::error!(error = %msg, "not reloading");
                return Ok(false);
            }
        }
        self.shared.metrics.writes.inc();
        tracing::info!(template = %name, "rendered");
        Ok(true)
    }
}
