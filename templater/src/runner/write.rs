//! Writing the outputs of a pass: in parallel where nothing has to run
//! between two writes, one by one (with the check command) elsewhere.

use std::collections::HashMap;

use super::Runner;
use crate::command::{run_once, CommandLine, CHECK_FILE_ENV, DESTINATION_ENV, PLACEHOLDERS};
use crate::error::{Error, Result};
use crate::output::{self, Pending, Staged, Target, Written};

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
            user: t.user.clone(),
            group: t.group.clone(),
        })
    }

    /// Before the first pass: removes the temporary files a killed
    /// templater left beside the destinations, and warns about check
    /// commands that do not name the file they check.
    pub(super) async fn prepare_outputs(&self) {
        for t in &self.cfg.templates {
            let line = t.check_command.join(" ");
            let named =
                PLACEHOLDERS.iter().any(|p| line.contains(p)) || line.contains(CHECK_FILE_ENV);
            if !t.check_command.is_empty() && !named {
                tracing::warn!(
                    template = %t.name(),
                    check_command = %line,
                    "the check command does not name the file to check ({{{{path}}}} or ${CHECK_FILE_ENV}): it runs before the new output replaces the destination, so it checks the old one"
                );
            }
        }
        if self.cfg.dry {
            return;
        }
        let destinations: Vec<_> = self
            .cfg
            .templates
            .iter()
            .filter_map(|t| t.destination.clone())
            .collect();
        let removed = tokio::task::spawn_blocking(move || output::clean_stale(&destinations))
            .await
            .unwrap_or_default();
        for file in removed {
            tracing::info!(file = %file.display(), "removed a temporary file a stopped templater left behind");
        }
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
                let staged =
                    tokio::task::spawn_blocking(move || output::stage(&t2, text.as_bytes()))
                        .await
                        .map_err(|e| Error::runner(format!("template {name}: writing: {e}")))?;
                match staged {
                    Ok(Staged::Unchanged) => Ok(Written::Unchanged),
                    Ok(Staged::Ready(pending)) => {
                        let Some(pending) = self.check(i, pending).await? else {
                            return Ok(false);
                        };
                        tokio::task::spawn_blocking(move || pending.commit())
                            .await
                            .map_err(|e| Error::runner(format!("template {name}: writing: {e}")))?
                            .map(|()| Written::Changed)
                    }
                    Err(e) => Err(e),
                }
            }
            Rendered::Written(written) => written,
            Rendered::Pending => {
                return Err(Error::runner(format!(
                    "template {name}: its output was never written"
                )))
            }
        };
        match written {
            Ok(Written::Unchanged) => return Ok(false),
            Ok(Written::Changed) => {}
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
        }
        self.shared.metrics.writes.inc();
        tracing::info!(template = %name, "rendered");
        Ok(true)
    }

    /// Runs template `i`'s check command (if any) against the staged file:
    /// the file to commit when it passes (or there is none); `None` when it
    /// rejected it, the staged file removed and the destination untouched.
    /// A rejection stops `-once` (exit 14); the daemon logs it and goes on
    /// with the old file, whatever `error_fatal` says: keeping a working
    /// config while the data is wrong is what the check is for.
    async fn check(&self, i: usize, pending: Pending) -> Result<Option<Pending>> {
        let t = &self.templates[i].cfg;
        if t.check_command.is_empty() {
            return Ok(Some(pending));
        }
        let name = t.name();
        let line = CommandLine(t.check_command.clone()).with_file(pending.path());
        let mut env = self.command_env().as_ref().clone();
        env.push((CHECK_FILE_ENV.into(), pending.path().display().to_string()));
        env.push((DESTINATION_ENV.into(), pending.file().display().to_string()));
        let Err(e) = run_once(&line, &env, t.command_timeout).await else {
            return Ok(Some(pending));
        };
        self.shared.metrics.render_errors.inc();
        let file = pending.file().display().to_string();
        let discarded = tokio::task::spawn_blocking(move || pending.discard())
            .await
            .map_err(|e| Error::runner(format!("template {name}: discarding: {e}")))?;
        if let Err(de) = discarded {
            tracing::warn!(template = %name, error = %de, "cannot remove the rejected file");
        }
        let msg = format!(
            "template {name}: the check command rejected the new output ({e}); {file} is unchanged"
        );
        if self.cfg.once {
            return Err(Error::runner(msg));
        }
        tracing::error!(error = %msg, "not reloading; the next change is checked again");
        Ok(None)
    }
}
