//! Script checks (`Args`), as Consul's `CheckMonitor`: the command runs
//! without a shell, with a timeout; exit 0 is passing, 1 warning, anything
//! else critical; stdout and stderr are captured together and only their
//! last `OutputMaxSize` bytes kept.

use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt};
use tokio::process::Command;

use crate::types::Status;

/// Timeout of a script check that does not set one (Consul's default).
pub(super) const SCRIPT_TIMEOUT: Duration = Duration::from_secs(30);

/// The last `cap` bytes written, and how many were written in all.
#[derive(Debug)]
pub(super) struct Tail {
    buf: std::collections::VecDeque<u8>,
    cap: usize,
    total: u64,
}

impl Tail {
    pub(super) fn new(cap: usize) -> Tail {
        Tail {
            buf: std::collections::VecDeque::with_capacity(cap.min(64 * 1024)),
            cap,
            total: 0,
        }
    }

    pub(super) fn write(&mut self, data: &[u8]) {
        self.total += data.len() as u64;
        let data = if data.len() > self.cap {
            &data[data.len() - self.cap..]
        } else {
            data
        };
        let overflow = (self.buf.len() + data.len()).saturating_sub(self.cap);
        self.buf.drain(..overflow);
        self.buf.extend(data);
    }

    /// The output as Consul shows it: `Captured N of M bytes\n...\n<tail>` when cut.
    pub(super) fn render(&self) -> String {
        let (a, b) = self.buf.as_slices();
        let mut bytes = Vec::with_capacity(self.buf.len());
        bytes.extend_from_slice(a);
        bytes.extend_from_slice(b);
        let text = String::from_utf8_lossy(&bytes);
        if self.total > self.buf.len() as u64 {
            format!(
                "Captured {} of {} bytes\n...\n{text}",
                self.buf.len(),
                self.total
            )
        } else {
            text.into_owned()
        }
    }
}

async fn pump(mut from: impl AsyncRead + Unpin, into: Arc<Mutex<Tail>>) {
    let mut chunk = [0u8; 8192];
    loop {
        match from.read(&mut chunk).await {
            Ok(0) | Err(_) => return,
            Ok(n) => into
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .write(&chunk[..n]),
        }
    }
}

/// Runs `args` once and maps its exit to a status.
pub(super) async fn run(args: &[String], timeout: Duration, max_output: usize) -> (Status, String) {
    let Some((program, rest)) = args.split_first() else {
        return (Status::Critical, "script check without Args".into());
    };
    let mut cmd = Command::new(program);
    cmd.args(rest)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .process_group(0);
    let mut child = match cmd.spawn() {
        Ok(c) => c,
        Err(e) => return (Status::Critical, format!("exec: {program:?}: {e}")),
    };
    let tail = Arc::new(Mutex::new(Tail::new(max_output.max(1))));
    let out = child.stdout.take().map(|o| pump(o, Arc::clone(&tail)));
    let err = child.stderr.take().map(|e| pump(e, Arc::clone(&tail)));
    let pid = child.id();
    let work = async {
        let readers = async {
            if let Some(o) = out {
                o.await;
            }
        };
        let readers2 = async {
            if let Some(e) = err {
                e.await;
            }
        };
        let (status, (), ()) = tokio::join!(child.wait(), readers, readers2);
        status
    };
    let status = match tokio::time::timeout(timeout, work).await {
        Ok(s) => s,
        Err(_) => {
            kill_group(pid);
            return (
                Status::Critical,
                format!(
                    "Timed out ({}) running check",
                    gocompat::duration::format(timeout)
                ),
            );
        }
    };
    // Children the script left behind do not outlive it.
    kill_group(pid);
    let output = tail
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .render();
    match status {
        Ok(s) if s.success() => (Status::Passing, output),
        Ok(s) if s.code() == Some(1) => (Status::Warning, output),
        Ok(_) => (Status::Critical, output),
        Err(e) => (Status::Critical, format!("waiting for {program:?}: {e}")),
    }
}

/// Kills the process group the script leads (it and whatever it started).
fn kill_group(pid: Option<u32>) {
    let Some(pid) = pid.and_then(|p| i32::try_from(p).ok()) else {
        return;
    };
    let _ = nix::sys::signal::killpg(
        nix::unistd::Pid::from_raw(pid),
        nix::sys::signal::Signal::SIGKILL,
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tail_keeps_the_last_bytes() {
        let mut t = Tail::new(4);
        t.write(b"abc");
        assert_eq!(t.render(), "abc");
        t.write(b"defgh");
        assert_eq!(t.render(), "Captured 4 of 8 bytes\n...\nefgh");
        t.write(b"0123456789");
        assert_eq!(t.render(), "Captured 4 of 18 bytes\n...\n6789");
    }
}
