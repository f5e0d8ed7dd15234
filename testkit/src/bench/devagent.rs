//! A `devagent agent -dev` child process for the benches that measure it
//! (or measure against it) as a separate process.

use std::net::SocketAddr;
use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

use tokio::io::{AsyncBufReadExt, BufReader, Lines};
use tokio::process::{Child, ChildStdout, Command};

use super::{err, within, Result};

/// A `devagent agent -dev` child process, started by [`spawn_devagent`].
#[derive(Debug)]
pub struct Devagent {
    /// The process; killed when dropped.
    pub child: Child,
    /// Its process ID.
    pub pid: u32,
    /// Its HTTP API.
    pub http: SocketAddr,
    /// Its DNS server, if it has one.
    pub dns: Option<SocketAddr>,
    /// When it was spawned.
    pub spawned: Instant,
    /// From the spawn to its `devagent listening` line.
    pub listening_after: Duration,
    /// The rest of its stdout: keep it open, [`drain`] it, or drop it.
    pub stdout: Lines<BufReader<ChildStdout>>,
}

/// Spawns `bin agent -dev -http-port=0 -dns-port=<dns_port> -log-level=warn`
/// (stdin closed, stderr inherited, killed when dropped) and waits at most
/// `limit` for its `devagent listening` line, which names its HTTP address.
pub async fn spawn_devagent(bin: &Path, dns_port: i32, limit: Duration) -> Result<Devagent> {
    spawn_devagent_with(bin, dns_port, limit, &[]).await
}

/// [`spawn_devagent`] with more flags, e.g. `["-hcl", "limits { http_max_conns_per_client = 0 }"]`
/// for a bench that holds more connections than one client may by default.
pub async fn spawn_devagent_with(
    bin: &Path,
    dns_port: i32,
    limit: Duration,
    extra: &[&str],
) -> Result<Devagent> {
    let spawned = Instant::now();
    let dns = format!("-dns-port={dns_port}");
    let mut child = Command::new(bin)
        .args(["agent", "-dev", "-http-port=0", &dns, "-log-level=warn"])
        .args(extra)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| err(format!("spawning {}: {e}", bin.display())))?;
    let pid = child.id().ok_or_else(|| err("the agent exited at once"))?;
    let stdout = child
        .stdout
        .take()
        .ok_or_else(|| err("the agent's stdout is not piped"))?;
    let mut stdout = BufReader::new(stdout).lines();
    let line = within(limit, "the agent's listening line", async {
        // Bounded by `limit`; the listening line is the agent's first.
        while let Some(line) = stdout.next_line().await? {
            if line.starts_with("devagent listening") {
                return Ok(line);
            }
        }
        Err(err("the agent closed stdout without its listening line"))
    })
    .await?;
    let listening_after = spawned.elapsed();
    let http = line
        .split_whitespace()
        .find_map(|w| w.strip_prefix("http="))
        .ok_or_else(|| err(format!("no http= in {line:?}")))?
        .parse()
        .map_err(|e| err(format!("bad http= in {line:?}: {e}")))?;
    let dns = line
        .split_whitespace()
        .find_map(|w| w.strip_prefix("dns="))
        .and_then(|a| a.parse().ok());
    Ok(Devagent {
        child,
        pid,
        http,
        dns,
        spawned,
        listening_after,
        stdout,
    })
}

/// Keeps reading `lines` in a task, so that the child never blocks on a full pipe.
pub fn drain(mut lines: Lines<BufReader<ChildStdout>>) {
    tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
}
