//! Commands shared by several templates: held until every template of the
//! burst is written, so that a burst of changes runs them once.

use std::sync::Arc;
use std::time::Duration;

use tokio::time::Instant;

use super::{lock, Runner};
use crate::command::CommandLine;

/// A command asked for by a pass, waiting for the templates that share it.
pub(super) struct DeferredCommand {
    pub(super) line: CommandLine,
    pub(super) timeout: Duration,
    /// When it runs at the latest (unless templates already due are
    /// still being written: then up to `by + window`).
    pub(super) by: Instant,
    /// The longest `wait.max` of the templates that share it.
    pub(super) window: Duration,
}

impl Runner {
    /// `line` held from now for the templates that share it: at most the
    /// longest `wait.max` among them.
    pub(super) fn defer(&self, line: CommandLine, timeout: Duration) -> DeferredCommand {
        let window = (0..self.templates.len())
            .filter(|&i| self.templates[i].cfg.command == line.0)
            .filter_map(|i| self.wait_of(i))
            .map(|w| w.max)
            .max()
            .unwrap_or_default();
        DeferredCommand {
            line,
            timeout,
            by: Instant::now() + window,
            window,
        }
    }

    /// Runs the deferred commands that no template waits for any more.
    ///
    /// A command shared by templates with quiescence waits while any of them
    /// is dirty with its timer running (it will be written soon), at most the
    /// longest `wait.max` of those templates from when it was first asked
    /// for: a burst of changes runs it once, not once per template timer.
    pub(super) fn request_commands(&mut self) {
        let now = Instant::now();
        let mut due = Vec::new();
        let templates = &self.templates;
        self.deferred.retain(|d| {
            let (mut ready, mut later) = (false, false);
            for t in templates
                .iter()
                .filter(|t| t.dirty && t.cfg.command == d.line.0)
            {
                match t.quiet {
                    Some((min, _)) if min <= now => ready = true,
                    Some(_) => later = true,
                    None => {}
                }
            }
            // A template whose timer has fired is written by the very next
            // pass (this one was busy): always worth waiting for, up to one
            // more window. One whose timer runs waits until `by`.
            let hold = (later && now < d.by) || (ready && now < d.by + d.window);
            if hold {
                return true;
            }
            due.push((d.line.clone(), d.timeout));
            false
        });
        let mut commands = lock(&self.shared.commands);
        for (line, timeout) in due {
            commands.request(&line, timeout);
        }
    }

    /// The environment commands get.
    pub(super) fn command_env(&self) -> Arc<Vec<(String, String)>> {
        lock(&self.shared.commands).env()
    }

    /// Runs the commands still held for a burst and waits for them: a stop
    /// must not leave a file written and its program never told (after a
    /// restart the file is unchanged, so nothing would run it).
    pub(super) async fn run_held_commands(&mut self) {
        let runs: Vec<_> = {
            let mut commands = lock(&self.shared.commands);
            self.deferred
                .drain(..)
                .map(|d| commands.run_after(&d.line, d.timeout))
                .collect()
        };
        for run in runs {
            run.await;
        }
    }

    /// Runs every command still held for a burst: a reload must not lose a
    /// reload command for a file already written.
    pub(super) fn flush_commands(&mut self) {
        let mut commands = lock(&self.shared.commands);
        for d in self.deferred.drain(..) {
            commands.request(&d.line, d.timeout);
        }
    }
}
