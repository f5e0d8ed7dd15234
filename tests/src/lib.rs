//! End-to-end test support: spawning the workspace's binaries as processes
//! against a devagent process, with bounded waits.
#![warn(missing_docs)]

use std::path::PathBuf;
use std::process::Stdio;
use std::time::{Duration, Instant};

use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

/// A child process that is killed when dropped.
#[derive(Debug)]
pub struct Proc {
    /// The child.
    pub child: Child,
    /// Its name, for messages.
    pub name: String,
}

impl Proc {
    /// Sends a signal (`TERM`, `KILL`, `INT`, ...).
    pub fn signal(&self, sig: nix::sys::signal::Signal) {
        if let Some(pid) = self.child.id().and_then(|p| i32::try_from(p).ok()) {
            let _ = nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), sig);
        }
    }

    /// Waits for the exit (bounded); returns the exit code.
    pub async fn wait(&mut self, limit: Duration) -> Option<i32> {
        match tokio::time::timeout(limit, self.child.wait()).await {
            Ok(Ok(s)) => s.code(),
            _ => None,
        }
    }
}

/// Path of one of this package's binaries, next to the test executable.
pub fn bin(name: &str) -> PathBuf {
    let mut p = std::env::current_exe().unwrap_or_default();
    p.pop();
    if p.ends_with("deps") {
        p.pop();
    }
    p.join(name)
}

/// Spawns `e2e-<name>` with `args`; stdout is piped for [`read_line`].
pub fn spawn(name: &str, args: &[&str]) -> std::io::Result<Proc> {
    spawn_with(name, args, false)
}

/// As [`spawn`]; with `stderr`, stderr is piped too, for [`read_stderr`].
pub fn spawn_with(name: &str, args: &[&str], stderr: bool) -> std::io::Result<Proc> {
    let child = Command::new(bin(&format!("e2e-{name}")))
        .args(args)
        .env_remove("CONSUL_HTTP_TOKEN")
        .env_remove("CONSUL_HTTP_TOKEN_FILE")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(if stderr {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .kill_on_drop(true)
        .spawn()?;
    Ok(Proc {
        child,
        name: name.to_string(),
    })
}

/// Reads stdout lines until one contains `needle` (bounded); returns it.
pub async fn read_line(p: &mut Proc, needle: &str, limit: Duration) -> Option<String> {
    let out = p.child.stdout.take()?;
    let mut lines = BufReader::new(out).lines();
    let deadline = Instant::now() + limit;
    let mut found = None;
    while let Ok(Ok(Some(line))) = tokio::time::timeout(
        deadline.saturating_duration_since(Instant::now()),
        lines.next_line(),
    )
    .await
    {
        if line.contains(needle) {
            found = Some(line);
            break;
        }
    }
    // Keep draining so the child never blocks on a full pipe.
    tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
    found
}

/// Reads stderr until it holds `needle` (bounded); returns all it read.
pub async fn read_stderr(p: &mut Proc, needle: &str, limit: Duration) -> String {
    let Some(err) = p.child.stderr.take() else {
        return String::new();
    };
    let mut lines = BufReader::new(err).lines();
    let deadline = Instant::now() + limit;
    let mut text = String::new();
    while let Ok(Ok(Some(line))) = tokio::time::timeout(
        deadline.saturating_duration_since(Instant::now()),
        lines.next_line(),
    )
    .await
    {
        text.push_str(&line);
        text.push('\n');
        if line.contains(needle) {
            break;
        }
    }
    tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
    text
}

/// A devagent process on free ports; returns it with its HTTP address.
pub async fn devagent(http_port: u16) -> (Proc, String) {
    devagent_with(http_port, &[]).await
}

/// As [`devagent`], with more `consul agent` flags (`-config-file`, ...).
pub async fn devagent_with(http_port: u16, extra: &[&str]) -> (Proc, String) {
    let port = http_port.to_string();
    let mut args = vec![
        "agent",
        "-dev",
        "-http-port",
        &port,
        "-dns-port",
        "0",
        "-node",
        "e2e",
        "-log-level",
        "warn",
    ];
    args.extend_from_slice(extra);
    for _ in 0..50 {
        if let Ok(mut p) = spawn("devagent", &args) {
            if let Some(line) =
                read_line(&mut p, "devagent listening", Duration::from_secs(10)).await
            {
                let http = line
                    .split_whitespace()
                    .find_map(|w| w.strip_prefix("http="))
                    .unwrap_or_default()
                    .to_string();
                return (p, http);
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("devagent did not start");
}

pub use testkit::eventually;
