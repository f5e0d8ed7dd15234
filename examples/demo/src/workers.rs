//! The worker processes: started as children of the demo (so that they can
//! really be killed), their output to the log.

use std::process::Stdio;
use std::time::Duration;

use tokio::io::AsyncBufReadExt;
use tokio::process::{Child, Command};

use crate::log::Log;

/// A worker child process.
struct WorkerProc {
    child: Child,
    n: usize,
    /// Its service ID (`worker-<port>`).
    id: String,
}

/// The running workers, and the killed ones still registered.
pub(crate) struct Workers {
    consul: String,
    check: Duration,
    tag: String,
    transport: bus::Transport,
    running: Vec<WorkerProc>,
    /// Killed with SIGKILL: they never deregistered themselves.
    killed: Vec<(usize, String)>,
    next_n: usize,
}

impl Workers {
    pub(crate) fn new(
        consul: &str,
        check: Duration,
        tag: &str,
        transport: bus::Transport,
    ) -> Workers {
        Workers {
            consul: consul.to_string(),
            check,
            tag: tag.to_string(),
            transport,
            running: Vec::new(),
            killed: Vec::new(),
            next_n: 1,
        }
    }

    /// Starts worker #`n` (the next number when `None`) and waits until it
    /// is registered; returns its number.
    pub(crate) async fn start(&mut self, n: Option<usize>, log: &Log) -> anyhow::Result<usize> {
        let n = n.unwrap_or_else(|| {
            self.next_n += 1;
            self.next_n - 1
        });
        let exe = crate::tasks::self_exe()?;
        let mut cmd = Command::new(&exe);
        if let Some(name) = std::env::args_os().next() {
            // `ps` shows the name the demo was started as, not /proc/self/exe.
            cmd.arg0(name);
        }
        let mut child = cmd
            .args([
                "worker",
                "--http-addr",
                &self.consul,
                "--check-interval",
                &format!("{}ms", self.check.as_millis()),
                "--tag",
                &self.tag,
                "--transport",
                self.transport.as_str(),
            ])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(log.stdio()?)
            .kill_on_drop(true)
            .spawn()
            .map_err(|e| anyhow::anyhow!("starting worker #{n} ({}): {e}", exe.display()))?;
        let out = child
            .stdout
            .take()
            .ok_or_else(|| anyhow::anyhow!("worker #{n}: no stdout"))?;
        let mut lines = tokio::io::BufReader::new(out);
        let mut line = String::new();
        let read = tokio::time::timeout(Duration::from_secs(30), lines.read_line(&mut line)).await;
        match read {
            Err(_) => anyhow::bail!(
                "worker #{n} did not start within 30s (its log: {})",
                log.path().display()
            ),
            Ok(Err(e)) => return Err(e.into()),
            Ok(Ok(0)) => anyhow::bail!(
                "worker #{n} exited at start (its log: {})",
                log.path().display()
            ),
            Ok(Ok(_)) => {}
        }
        // Whatever else it prints goes to the log, and it never blocks on a
        // full pipe.
        let mut sink = log.async_file()?;
        tokio::spawn(async move {
            let _ = tokio::io::copy(&mut lines, &mut sink).await;
        });
        let port = line.trim().rsplit(':').next().unwrap_or_default();
        self.running.push(WorkerProc {
            child,
            n,
            id: format!("worker-{port}"),
        });
        Ok(n)
    }

    /// Kills the last started worker with SIGKILL; returns its number.
    pub(crate) async fn kill(&mut self) -> Option<usize> {
        let mut w = self.running.pop()?;
        let _ = w.child.start_kill();
        let _ = w.child.wait().await;
        self.killed.push((w.n, w.id));
        Some(w.n)
    }

    /// Deregisters the last killed worker and starts it again; returns its
    /// number (`None`: nothing was killed).
    pub(crate) async fn restart(
        &mut self,
        client: &dcy::Client,
        log: &Log,
    ) -> anyhow::Result<Option<usize>> {
        let Some((n, old_id)) = self.killed.pop() else {
            return Ok(None);
        };
        // The killed instance never deregistered: clear it, start a new one.
        let _ = client.deregister_service(&old_id).await;
        self.start(Some(n), log).await.map(Some)
    }

    /// Stops every worker with SIGTERM (each deregisters itself; SIGKILL
    /// after `limit`) and deregisters the killed ones.
    pub(crate) async fn stop(&mut self, client: &dcy::Client, limit: Duration) {
        for w in &self.running {
            if let Some(pid) = w.child.id().and_then(|p| i32::try_from(p).ok()) {
                let _ = nix::sys::signal::kill(
                    nix::unistd::Pid::from_raw(pid),
                    nix::sys::signal::Signal::SIGTERM,
                );
            }
        }
        let waits = self.running.iter_mut().map(|w| async move {
            if tokio::time::timeout(limit, w.child.wait()).await.is_err() {
                let _ = w.child.kill().await;
            }
        });
        futures_util::future::join_all(waits).await;
        self.running.clear();
        let deregs = self
            .killed
            .iter()
            .map(|(_, id)| client.deregister_service(id));
        futures_util::future::join_all(deregs).await;
        self.killed.clear();
    }
}
