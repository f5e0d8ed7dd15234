//! A NATS cluster on loopback, each node run by `registrar run`, which
//! registers it in Consul as [`SERVICE`](crate::SERVICE) (with the
//! deployment's tag, its `server_name` and monitoring URL in its meta) with
//! an HTTP check on the node's monitoring endpoint, `/healthz`, and
//! deregisters it when the node exits.
//!
//! Each node gets free loopback ports for clients, routes and monitoring
//! (chosen again when one was taken before the node bound it),
//! routes to every other node, JetStream with a store directory of its own
//! under the cluster's directory, and its `server_name` (`nats-1`, ...).
//! [`Cluster::kill`] kills a node's `nats-server` with SIGKILL (registrar
//! sees it die, deregisters it and exits); [`Cluster::restart`] runs it
//! again on the same ports and store, and it rejoins and catches up.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use tokio::process::{Child, Command};

/// Where Debian's `nats-server` is.
pub const DEBIAN_NATS_SERVER: &str = "/usr/sbin/nats-server";

/// How to start a cluster.
#[derive(Clone, Debug)]
pub struct ClusterSpec {
    /// Nodes (3: a replicated stream keeps a majority when one dies).
    pub nodes: usize,
    /// Parent of each node's store directory and pid file.
    pub dir: PathBuf,
    /// Consul's HTTP address, for registrar.
    pub consul: String,
    /// The deployment's tag, on every node's registration.
    pub tag: Option<String>,
    /// Interval of each node's check.
    pub check_interval: Duration,
    /// The registrar command: a program and the arguments before `run`
    /// (`["registrar"]`, or the demo's own binary and its hidden role).
    pub registrar: Vec<OsString>,
    /// The `nats-server` binary.
    pub nats_server: PathBuf,
    /// The cluster's name.
    pub name: String,
    /// Where each registrar's (and its node's) output goes; `None`: nowhere.
    pub log: Option<PathBuf>,
}

/// One node's settings.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NodeSpec {
    /// Its `server_name` and service ID (`nats-1`, ...).
    pub name: String,
    /// Client port.
    pub client_port: u16,
    /// Route port.
    pub cluster_port: u16,
    /// Monitoring port (`/healthz`, `/jsz`).
    pub monitor_port: u16,
    /// Its JetStream store.
    pub store: PathBuf,
    /// Where it writes its pid.
    pub pid_file: PathBuf,
}

impl NodeSpec {
    /// Its monitoring URL.
    pub fn monitor_url(&self) -> String {
        format!("http://127.0.0.1:{}", self.monitor_port)
    }
}

/// The `nats-server` to run: `NATS_SERVER`, else on `PATH`, else Debian's.
pub fn find_nats_server() -> anyhow::Result<PathBuf> {
    if let Some(p) = std::env::var_os("NATS_SERVER") {
        return Ok(PathBuf::from(p));
    }
    let on_path = std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).collect::<Vec<_>>())
        .unwrap_or_default()
        .into_iter()
        .map(|d| d.join("nats-server"))
        .find(|p| p.is_file());
    match on_path {
        Some(p) => Ok(p),
        None if Path::new(DEBIAN_NATS_SERVER).is_file() => Ok(PathBuf::from(DEBIAN_NATS_SERVER)),
        None => anyhow::bail!(
            "nats-server is not installed: apt-get install nats-server (or .ci/test, which installs what the tests need), or set NATS_SERVER to its path"
        ),
    }
}

/// How many times [`Cluster::start`] tries when a node's port was taken.
pub const START_ATTEMPTS: usize = 3;

/// The most of a log [`fatal_lines`] reads.
const LOG_READ_MAX: u64 = 1 << 20;

/// `nats-server`'s fatal lines (`[FTL]`) in `log` after byte `from` (at
/// most the last MiB of it), for the error of a node that exited at start.
fn fatal_lines(log: &Path, from: u64) -> Vec<String> {
    use std::io::{Read, Seek, SeekFrom};
    let Ok(mut f) = std::fs::File::open(log) else {
        return Vec::new();
    };
    let len = f.metadata().map_or(0, |m| m.len());
    let from = from.max(len.saturating_sub(LOG_READ_MAX));
    let mut bytes = Vec::new();
    if f.seek(SeekFrom::Start(from)).is_err()
        || f.take(LOG_READ_MAX).read_to_end(&mut bytes).is_err()
    {
        return Vec::new();
    }
    String::from_utf8_lossy(&bytes)
        .lines()
        .filter(|l| l.contains("[FTL]"))
        .map(|l| l.trim().to_string())
        .collect()
}

struct Node {
    spec: NodeSpec,
    registrar: Option<Child>,
    /// Its nats-server's pid, read once it passed (for [`Drop`]: a
    /// registrar killed with SIGKILL leaves its child running).
    server_pid: Option<i32>,
}

/// A running cluster. Dropping it kills what is left (its processes are
/// started with `kill_on_drop`); [`Cluster::stop`] stops it cleanly.
pub struct Cluster {
    spec: ClusterSpec,
    nodes: Vec<Node>,
}

impl std::fmt::Debug for Cluster {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Cluster")
            .field(
                "nodes",
                &self.nodes.iter().map(|n| &n.spec).collect::<Vec<_>>(),
            )
            .finish()
    }
}

impl Cluster {
    /// Starts every node at once (JetStream needs a majority to elect its
    /// meta leader) and waits (at most `limit`) until Consul lists each as
    /// passing.
    ///
    /// Each node's ports are free when chosen, but another process may bind
    /// one before the node does: when a node exits at start because a port
    /// was taken (its log says so), the cluster is stopped and started again
    /// on other ports, at most [`START_ATTEMPTS`] times within `limit`. Any
    /// other failure stops what was started and is returned with the
    /// nodes' fatal lines from the log.
    pub async fn start(spec: ClusterSpec, limit: Duration) -> anyhow::Result<Cluster> {
        if spec.nodes == 0 {
            anyhow::bail!("a cluster of 0 nodes");
        }
        if spec.registrar.is_empty() {
            anyhow::bail!("no registrar command");
        }
        let deadline = Instant::now() + limit;
        let mut attempt = 1;
        loop {
            let log_from = spec
                .log
                .as_ref()
                .and_then(|l| std::fs::metadata(l).ok())
                .map_or(0, |m| m.len());
            let mut cluster = Cluster {
                nodes: Self::new_nodes(&spec)?,
                spec: spec.clone(),
            };
            let started = async {
                for i in 0..cluster.nodes.len() {
                    cluster.spawn(i)?;
                }
                let left = deadline.saturating_duration_since(Instant::now());
                cluster.wait_passing(cluster.nodes.len(), left).await
            }
            .await;
            let Err(e) = started else {
                return Ok(cluster);
            };
            cluster.stop(Duration::from_secs(5)).await;
            let fatal = spec
                .log
                .as_deref()
                .map(|l| fatal_lines(l, log_from))
                .unwrap_or_default();
            let port_taken = fatal.iter().any(|l| l.contains("address already in use"));
            if port_taken && attempt < START_ATTEMPTS && Instant::now() < deadline {
                tracing::warn!(
                    attempt,
                    fatal = %fatal.join(" | "),
                    "a broker node's port was taken before it bound it: starting the cluster again on other ports"
                );
                attempt += 1;
                continue;
            }
            if fatal.is_empty() {
                return Err(e);
            }
            return Err(e.context(format!("nats-server said: {}", fatal.join(" | "))));
        }
    }

    /// Nodes with fresh ports (each chosen while the others are held, so
    /// that no two are the same) and their store directories.
    fn new_nodes(spec: &ClusterSpec) -> anyhow::Result<Vec<Node>> {
        let mut held = Vec::with_capacity(spec.nodes * 3);
        let mut port = || -> anyhow::Result<u16> {
            let l = std::net::TcpListener::bind("127.0.0.1:0")
                .map_err(|e| anyhow::anyhow!("choosing a free loopback port: {e}"))?;
            let p = l.local_addr()?.port();
            held.push(l);
            Ok(p)
        };
        let mut nodes = Vec::with_capacity(spec.nodes);
        for i in 1..=spec.nodes {
            let name = format!("nats-{i}");
            let store = spec.dir.join(&name);
            std::fs::create_dir_all(&store)
                .map_err(|e| anyhow::anyhow!("creating {}: {e}", store.display()))?;
            nodes.push(Node {
                spec: NodeSpec {
                    pid_file: spec.dir.join(format!("{name}.pid")),
                    name,
                    client_port: port()?,
                    cluster_port: port()?,
                    monitor_port: port()?,
                    store,
                },
                registrar: None,
                server_pid: None,
            });
        }
        Ok(nodes)
    }

    /// The nodes' settings.
    pub fn nodes(&self) -> Vec<NodeSpec> {
        self.nodes.iter().map(|n| n.spec.clone()).collect()
    }

    /// Indexes of the nodes running.
    pub fn running(&mut self) -> Vec<usize> {
        self.nodes
            .iter_mut()
            .enumerate()
            .filter_map(|(i, n)| {
                n.registrar
                    .as_mut()
                    .is_some_and(|c| matches!(c.try_wait(), Ok(None)))
                    .then_some(i)
            })
            .collect()
    }

    fn spawn(&mut self, i: usize) -> anyhow::Result<()> {
        let spec = &self.spec;
        let node = &self.nodes[i].spec;
        let routes: Vec<String> = self
            .nodes
            .iter()
            .filter(|n| n.spec.name != node.name)
            .map(|n| format!("nats://127.0.0.1:{}", n.spec.cluster_port))
            .collect();
        let _ = std::fs::remove_file(&node.pid_file);
        let mut cmd = Command::new(&spec.registrar[0]);
        cmd.args(&spec.registrar[1..])
            .arg("run")
            .args(["-http-addr", &spec.consul])
            .args(["-name", crate::SERVICE, "-id", &node.name])
            .args(["-address", "127.0.0.1"])
            .args(["-port", &node.client_port.to_string()]);
        if let Some(tag) = &spec.tag {
            cmd.args(["-tag", tag]);
        }
        cmd.args(["-meta", &format!("server_name={}", node.name)])
            .args([
                "-meta",
                &format!("{}={}", crate::jsz::MONITOR_META, node.monitor_url()),
            ])
            .args(["-check-http", &format!("{}/healthz", node.monitor_url())])
            .args([
                "-check-interval",
                &format!("{}ms", spec.check_interval.as_millis().max(1)),
            ])
            .args(["-ready-timeout", "60s", "--"])
            .arg(&spec.nats_server)
            .args(["-js", "-sd"])
            .arg(&node.store)
            .args(["--server_name", &node.name, "-a", "127.0.0.1"])
            .args(["-p", &node.client_port.to_string()])
            .args(["-m", &node.monitor_port.to_string()])
            .args([
                "--cluster",
                &format!("nats://127.0.0.1:{}", node.cluster_port),
            ])
            .args(["--cluster_name", &spec.name])
            .args(["--routes", &routes.join(",")])
            .arg("-P")
            .arg(&node.pid_file)
            .stdin(Stdio::null())
            .kill_on_drop(true)
            // Its own process group: a Ctrl-C meant for the demo reaches
            // registrar through the demo, which stops it in order.
            .process_group(0);
        match &spec.log {
            Some(path) => {
                let f = std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(path)?;
                cmd.stdout(f.try_clone()?).stderr(f);
            }
            None => {
                cmd.stdout(Stdio::null()).stderr(Stdio::null());
            }
        }
        let child = cmd.spawn().map_err(|e| {
            anyhow::anyhow!(
                "starting registrar ({}) for {}: {e}",
                spec.registrar[0].to_string_lossy(),
                node.name
            )
        })?;
        self.nodes[i].registrar = Some(child);
        Ok(())
    }

    /// How many of this cluster's nodes Consul lists as passing.
    pub async fn passing(&self) -> anyhow::Result<usize> {
        let client = dcy::Client::new(dcy::Config::builder().address(&self.spec.consul).build()?)?;
        let q = dcy::QueryOptions {
            tags: self.spec.tag.iter().cloned().collect(),
            passing: true,
            ..dcy::QueryOptions::default()
        };
        let (entries, _) = client.health_service(crate::SERVICE, &q).await?;
        Ok(entries
            .iter()
            .filter(|e| self.nodes.iter().any(|n| n.spec.name == e.service.id))
            .count())
    }

    /// Waits until `n` nodes pass in Consul (bounded).
    pub async fn wait_passing(&mut self, n: usize, limit: Duration) -> anyhow::Result<()> {
        let deadline = Instant::now() + limit;
        loop {
            if self.passing().await.unwrap_or(0) >= n {
                for i in 0..self.nodes.len() {
                    let pid = self.server_pid(i);
                    if pid.is_some() {
                        self.nodes[i].server_pid = pid;
                    }
                }
                return Ok(());
            }
            for (i, node) in self.nodes.iter_mut().enumerate() {
                if let Some(c) = node.registrar.as_mut() {
                    if let Ok(Some(status)) = c.try_wait() {
                        node.registrar = None;
                        anyhow::bail!(
                            "broker node {} (registrar run … nats-server) exited at start: {status}{}",
                            i + 1,
                            self.spec
                                .log
                                .as_ref()
                                .map(|l| format!(" (its log: {})", l.display()))
                                .unwrap_or_default()
                        );
                    }
                }
            }
            if Instant::now() >= deadline {
                anyhow::bail!(
                    "{n} broker nodes were not passing in Consul within {}",
                    gocompat::duration::human(limit)
                );
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// The pid of node `i`'s `nats-server`, from its pid file.
    pub fn server_pid(&self, i: usize) -> Option<i32> {
        let node = self.nodes.get(i)?;
        std::fs::read_to_string(&node.spec.pid_file)
            .ok()?
            .trim()
            .parse()
            .ok()
    }

    /// Kills node `i`'s `nats-server` with SIGKILL and waits (bounded) for
    /// its registrar to see it and exit (it deregisters the node first).
    pub async fn kill(&mut self, i: usize) -> anyhow::Result<()> {
        let pid = self
            .server_pid(i)
            .ok_or_else(|| anyhow::anyhow!("broker node {} is not running", i + 1))?;
        nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(pid),
            nix::sys::signal::Signal::SIGKILL,
        )?;
        self.nodes[i].server_pid = None;
        if let Some(mut c) = self.nodes[i].registrar.take() {
            if tokio::time::timeout(Duration::from_secs(5), c.wait())
                .await
                .is_err()
            {
                let _ = c.kill().await;
            }
        }
        Ok(())
    }

    /// Starts node `i` again (same ports, same store) and waits (bounded)
    /// until every running node passes in Consul.
    pub async fn restart(&mut self, i: usize, limit: Duration) -> anyhow::Result<()> {
        if i >= self.nodes.len() {
            anyhow::bail!("no broker node {}", i + 1);
        }
        if self.running().contains(&i) {
            return Ok(());
        }
        self.spawn(i)?;
        let n = self.running().len();
        self.wait_passing(n, limit).await
    }

    /// Stops every node: SIGTERM to each registrar (it passes it on and
    /// deregisters the node), SIGKILL to what is left after `limit`.
    pub async fn stop(&mut self, limit: Duration) {
        for node in &self.nodes {
            if let Some(pid) = node
                .registrar
                .as_ref()
                .and_then(Child::id)
                .and_then(|p| i32::try_from(p).ok())
            {
                let _ = nix::sys::signal::kill(
                    nix::unistd::Pid::from_raw(pid),
                    nix::sys::signal::Signal::SIGTERM,
                );
            }
        }
        let waits = self
            .nodes
            .iter_mut()
            .filter_map(|n| n.registrar.take())
            .map(|mut c| async move {
                if tokio::time::timeout(limit, c.wait()).await.is_err() {
                    let _ = c.kill().await;
                }
            });
        futures_util::future::join_all(waits).await;
        // A node whose registrar was killed may outlive it.
        for i in 0..self.nodes.len() {
            if let Some(pid) = self.server_pid(i) {
                let _ = nix::sys::signal::kill(
                    nix::unistd::Pid::from_raw(pid),
                    nix::sys::signal::Signal::SIGKILL,
                );
            }
            let _ = std::fs::remove_file(&self.nodes[i].spec.pid_file);
            self.nodes[i].server_pid = None;
        }
    }
}

impl Drop for Cluster {
    /// Kills what is left: the registrars go with their `kill_on_drop`,
    /// their nats-servers here.
    fn drop(&mut self) {
        for pid in self.nodes.iter().filter_map(|n| n.server_pid) {
            let _ = nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(pid),
                nix::sys::signal::Signal::SIGKILL,
            );
        }
    }
}
