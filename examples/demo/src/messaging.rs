//! The demo's messaging mode (`--transport nats`): a NATS cluster of
//! [`NODES`] nodes on loopback, each run and registered in Consul by
//! registrar (this binary's `registrar run`, around Debian's
//! `nats-server`), which the services find through dcy.

use std::path::Path;
use std::time::Duration;

use bus::cluster::{Cluster, ClusterSpec};
use tokio_util::sync::CancellationToken;

use crate::log::Log;

/// Broker nodes.
pub(crate) const NODES: usize = 3;

/// Starts the cluster and waits until Consul lists every node as passing.
pub(crate) async fn start(
    consul: &str,
    dir: &Path,
    check: Duration,
    tag: &str,
    log: &Log,
) -> anyhow::Result<Cluster> {
    let nats_server = bus::cluster::find_nats_server()?;
    let exe = crate::tasks::self_exe()?;
    Cluster::start(
        ClusterSpec {
            nodes: NODES,
            dir: dir.join("nats"),
            consul: consul.to_string(),
            tag: Some(tag.to_string()),
            check_interval: check,
            registrar: vec![exe.into(), "registrar".into()],
            nats_server,
            name: tag.to_string(),
            log: Some(log.path().to_path_buf()),
        },
        Duration::from_secs(30),
    )
    .await
}

/// The banner's lines about the broker.
pub(crate) fn describe(cluster: &Cluster) -> Vec<String> {
    let mut lines = Vec::new();
    for (i, n) in cluster.nodes().iter().enumerate() {
        let label = if i == 0 { "Broker" } else { "" };
        lines.push(format!(
            "  {label:<10}  {} nats://127.0.0.1:{}  monitor {}/jsz  (registrar run … nats-server -js, R{} streams READINGS, SQUARES)",
            n.name,
            n.client_port,
            n.monitor_url(),
            bus::streams::REPLICAS,
        ));
    }
    lines
}

/// Kills a running broker node with SIGKILL (the last one started that
/// still runs); returns its index.
pub(crate) async fn kill(cluster: &mut Cluster) -> anyhow::Result<Option<usize>> {
    let Some(&i) = cluster.running().last() else {
        return Ok(None);
    };
    cluster.kill(i).await?;
    Ok(Some(i))
}

/// Starts node `i` again, unless the demo stops meanwhile.
pub(crate) async fn restart(
    cluster: &mut Cluster,
    i: usize,
    stop: &CancellationToken,
) -> anyhow::Result<bool> {
    tokio::select! {
        _ = stop.cancelled() => Ok(false),
        r = cluster.restart(i, Duration::from_secs(30)) => r.map(|()| true),
    }
}
