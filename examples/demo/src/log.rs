//! The demo's log file: what the services, templater, nginx and the worker
//! processes say goes there, not over the progress line.

use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::Mutex;

/// An open log file, appended to by the demo and its child processes.
#[derive(Debug)]
pub(crate) struct Log {
    path: PathBuf,
    file: File,
}

impl Log {
    /// Opens (creates) `path` for appending.
    pub(crate) fn create(path: &Path) -> std::io::Result<Log> {
        let file = OpenOptions::new().create(true).append(true).open(path)?;
        Ok(Log {
            path: path.to_path_buf(),
            file,
        })
    }

    /// Where it is.
    pub(crate) fn path(&self) -> &Path {
        &self.path
    }

    /// The file as a child process's stdout or stderr.
    pub(crate) fn stdio(&self) -> std::io::Result<Stdio> {
        Ok(Stdio::from(self.file.try_clone()?))
    }

    /// The file, for copying a child's output into.
    pub(crate) fn async_file(&self) -> std::io::Result<tokio::fs::File> {
        Ok(tokio::fs::File::from_std(self.file.try_clone()?))
    }

    /// Sends this process's `tracing` output (`RUST_LOG`, default `info`)
    /// to the file.
    pub(crate) fn init_tracing(&self) -> std::io::Result<()> {
        let filter = tracing_subscriber::EnvFilter::try_from_default_env()
            .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,hickory_server=warn"));
        let _ = tracing_subscriber::fmt()
            .with_env_filter(filter)
            .with_ansi(false)
            .with_writer(Mutex::new(self.file.try_clone()?))
            .try_init();
        Ok(())
    }

    /// Its last `n` lines, for an error message.
    pub(crate) fn tail(&self, n: usize) -> Vec<String> {
        let Ok(f) = File::open(&self.path) else {
            return Vec::new();
        };
        let mut last = std::collections::VecDeque::with_capacity(n);
        // Bounded: at most the last n lines are kept, however long the file.
        for line in BufReader::new(f).lines().map_while(Result::ok) {
            if last.len() == n {
                last.pop_front();
            }
            last.push_back(line);
        }
        last.into()
    }
}
