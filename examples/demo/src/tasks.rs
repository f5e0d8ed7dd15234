//! What the demo runs in-process, how it is told to stop, and where it
//! keeps its files.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use tokio::sync::oneshot;
use tokio_util::sync::CancellationToken;

/// The program to start the demo's child processes (workers, registrar)
/// from: on Linux `/proc/self/exe`, which runs the binary this process was
/// started from even after a rebuild replaced the file on disk (`cargo build`
/// while the demo runs); elsewhere the path it was started from.
pub(crate) fn self_exe() -> anyhow::Result<PathBuf> {
    let proc = Path::new("/proc/self/exe");
    if proc.exists() {
        return Ok(proc.to_path_buf());
    }
    std::env::current_exe().map_err(|e| {
        anyhow::anyhow!("cannot find the demo's own program to start its child processes: {e}")
    })
}

/// A service run in-process.
pub(crate) struct Task {
    pub(crate) stop: CancellationToken,
    pub(crate) handle: tokio::task::JoinHandle<anyhow::Result<()>>,
}

impl Task {
    /// Stops it and waits (bounded); says how it ended when not well.
    pub(crate) async fn stop(self, name: &str, limit: Duration) {
        self.stop.cancel();
        match tokio::time::timeout(limit, self.handle).await {
            Ok(Ok(Ok(()))) => {}
            Ok(Ok(Err(e))) => tracing::warn!("{name} stopped with an error: {e:#}"),
            Ok(Err(e)) => tracing::warn!("{name} panicked: {e}"),
            Err(_) => tracing::warn!(
                "{name} did not stop within {}",
                gocompat::duration::human(limit)
            ),
        }
    }
}

pub(crate) async fn start_in_process<F, Fut>(
    name: &str,
    run: F,
) -> anyhow::Result<(Task, SocketAddr)>
where
    F: FnOnce(CancellationToken, oneshot::Sender<SocketAddr>) -> Fut,
    Fut: std::future::Future<Output = anyhow::Result<()>> + Send + 'static,
{
    let stop = CancellationToken::new();
    let (tx, rx) = oneshot::channel();
    let handle = tokio::spawn(run(stop.clone(), tx));
    match tokio::time::timeout(Duration::from_secs(60), rx).await {
        Ok(Ok(addr)) => Ok((Task { stop, handle }, addr)),
        _ => {
            stop.cancel();
            match handle.await {
                Ok(Err(e)) => Err(e.context(format!("starting {name}"))),
                _ => anyhow::bail!("{name} did not start"),
            }
        }
    }
}

/// Resolves on SIGINT, SIGTERM, SIGHUP (the terminal went away) or SIGQUIT;
/// registered at once, so a signal during the start stops the demo too.
pub(crate) fn stop_signals() -> std::io::Result<impl std::future::Future<Output = ()>> {
    use tokio::signal::unix::{signal, SignalKind};
    let mut sigs = [
        signal(SignalKind::interrupt())?,
        signal(SignalKind::terminate())?,
        signal(SignalKind::hangup())?,
        signal(SignalKind::quit())?,
    ];
    Ok(async move {
        let [a, b, c, d] = &mut sigs;
        tokio::select! {
            _ = a.recv() => {}
            _ = b.recv() => {}
            _ = c.recv() => {}
            _ = d.recv() => {}
        }
    })
}

/// The demo's working directory: given (kept) or temporary (removed when
/// this is dropped, after the runtime has stopped).
#[derive(Debug)]
pub enum WorkDir {
    /// `--dir DIR`: kept.
    Given(PathBuf),
    /// A temporary directory, removed when dropped.
    Temporary(tempfile::TempDir),
}

impl WorkDir {
    /// `given`, created if missing, or a new temporary directory.
    pub fn new(given: Option<&Path>) -> std::io::Result<WorkDir> {
        match given {
            Some(d) => {
                std::fs::create_dir_all(d)?;
                Ok(WorkDir::Given(d.to_path_buf()))
            }
            None => Ok(WorkDir::Temporary(
                tempfile::Builder::new().prefix("dcy-demo-").tempdir()?,
            )),
        }
    }

    /// Where it is.
    pub fn path(&self) -> &Path {
        match self {
            WorkDir::Given(p) => p,
            WorkDir::Temporary(t) => t.path(),
        }
    }
}
