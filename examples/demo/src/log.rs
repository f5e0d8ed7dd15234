//! The demo's log file: what the services, templater, nginx and the worker
//! processes say goes there, not over the progress line.

use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::Stdio;

/// An open log file, appended to by the demo and its child processes.
#[derive(Debug)]
pub struct Log {
    path: PathBuf,
    file: File,
}

impl Log {
    /// Opens (creates) `path` for appending.
    pub fn create(path: &Path) -> std::io::Result<Log> {
        let file = OpenOptions::new().create(true).append(true).open(path)?;
        Ok(Log {
            path: path.to_path_buf(),
            file,
        })
    }

    /// Where it is.
    pub fn path(&self) -> &Path {
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

    /// The file, for the binary's `tracing` subscriber to write to.
    pub fn writer(&self) -> std::io::Result<File> {
        self.file.try_clone()
    }

    /// Its last `n` lines, for an error message.
    pub fn tail(&self, n: usize) -> Vec<String> {
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

    /// Its length now, to read what is written after it with
    /// [`Log::lines_since`].
    pub(crate) fn len(&self) -> u64 {
        std::fs::metadata(&self.path).map_or(0, |m| m.len())
    }

    /// Lines containing `needle` written after byte `from` (at most the
    /// last MiB is read).
    pub(crate) fn lines_since(&self, from: u64, needle: &str) -> Vec<String> {
        use std::io::{Read, Seek, SeekFrom};
        const MAX: u64 = 1 << 20;
        let Ok(mut f) = File::open(&self.path) else {
            return Vec::new();
        };
        let from = from.max(self.len().saturating_sub(MAX));
        let mut bytes = Vec::new();
        if f.seek(SeekFrom::Start(from)).is_err() || f.take(MAX).read_to_end(&mut bytes).is_err() {
            return Vec::new();
        }
        String::from_utf8_lossy(&bytes)
            .lines()
            .filter(|l| l.contains(needle))
            .map(|l| l.trim().to_string())
            .collect()
    }
}
