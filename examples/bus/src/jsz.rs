//! What a broker node's monitoring endpoint says of JetStream
//! (`GET /jsz?streams=true&consumers=true`): the meta leader, each stream's
//! leader, replicas, messages, and each consumer's pending messages.
//!
//! The node is found through Consul: its registration carries its
//! monitoring URL in the meta key [`MONITOR_META`] (the same URL its check
//! probes, at `/healthz`).

use std::time::Duration;

use serde::{Deserialize, Serialize};

/// The service meta key holding a node's monitoring URL.
pub const MONITOR_META: &str = "monitor";
/// Most bytes of a `/jsz` answer read.
pub const MAX_BODY: usize = 1024 * 1024;

/// JetStream as one node sees it.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct JetStreamView {
    /// The node that answered (its `server_name`, from Consul's meta).
    pub node: String,
    /// The meta leader of the JetStream cluster.
    pub meta_leader: String,
    /// Nodes in the JetStream cluster.
    pub cluster_size: u64,
    /// The streams, by name.
    pub streams: Vec<StreamView>,
}

/// One stream.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct StreamView {
    /// Its name.
    pub name: String,
    /// The node leading it.
    pub leader: String,
    /// The other replicas and whether they are current.
    pub replicas: Vec<ReplicaView>,
    /// Messages in it (for a work queue: not yet acknowledged).
    pub messages: u64,
    /// Their bytes.
    pub bytes: u64,
    /// Its consumers.
    pub consumers: Vec<ConsumerView>,
}

/// One replica of a stream.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ReplicaView {
    /// The node.
    pub name: String,
    /// Whether it is caught up with the leader.
    pub current: bool,
}

/// One consumer.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ConsumerView {
    /// Its name.
    pub name: String,
    /// Messages not yet delivered.
    pub pending: u64,
    /// Messages delivered and not yet acknowledged.
    pub ack_pending: u64,
    /// Messages delivered more than once.
    pub redelivered: u64,
    /// Pull requests waiting (about: clients pulling).
    pub waiting: u64,
}

// The parts of nats-server's `/jsz` answer read here.
#[derive(Deserialize)]
struct Jsz {
    #[serde(default)]
    meta_cluster: Option<MetaCluster>,
    #[serde(default)]
    account_details: Vec<Account>,
}

#[derive(Deserialize)]
struct MetaCluster {
    #[serde(default)]
    leader: String,
    #[serde(default)]
    cluster_size: u64,
}

#[derive(Deserialize)]
struct Account {
    #[serde(default)]
    stream_detail: Vec<StreamDetail>,
}

#[derive(Deserialize)]
struct StreamDetail {
    name: String,
    #[serde(default)]
    cluster: Option<ClusterInfo>,
    #[serde(default)]
    state: StreamState,
    #[serde(default)]
    consumer_detail: Vec<ConsumerDetail>,
}

#[derive(Deserialize)]
struct ClusterInfo {
    #[serde(default)]
    leader: String,
    #[serde(default)]
    replicas: Vec<Replica>,
}

#[derive(Deserialize)]
struct Replica {
    name: String,
    #[serde(default)]
    current: bool,
}

#[derive(Deserialize, Default)]
struct StreamState {
    #[serde(default)]
    messages: u64,
    #[serde(default)]
    bytes: u64,
}

#[derive(Deserialize)]
struct ConsumerDetail {
    name: String,
    #[serde(default)]
    num_pending: u64,
    #[serde(default)]
    num_ack_pending: u64,
    #[serde(default)]
    num_redelivered: u64,
    #[serde(default)]
    num_waiting: u64,
}

/// Reads a `/jsz?streams=true&consumers=true` answer.
pub fn parse(node: &str, body: &[u8]) -> anyhow::Result<JetStreamView> {
    let jsz: Jsz = serde_json::from_slice(body)?;
    let mut streams: Vec<StreamView> = jsz
        .account_details
        .into_iter()
        .flat_map(|a| a.stream_detail)
        .map(|s| {
            let (leader, replicas) = match s.cluster {
                Some(c) => (
                    c.leader,
                    c.replicas
                        .into_iter()
                        .map(|r| ReplicaView {
                            name: r.name,
                            current: r.current,
                        })
                        .collect(),
                ),
                None => (String::new(), Vec::new()),
            };
            StreamView {
                name: s.name,
                leader,
                replicas,
                messages: s.state.messages,
                bytes: s.state.bytes,
                consumers: s
                    .consumer_detail
                    .into_iter()
                    .map(|c| ConsumerView {
                        name: c.name,
                        pending: c.num_pending,
                        ack_pending: c.num_ack_pending,
                        redelivered: c.num_redelivered,
                        waiting: c.num_waiting,
                    })
                    .collect(),
            }
        })
        .collect();
    streams.sort_by(|a, b| a.name.cmp(&b.name));
    let (meta_leader, cluster_size) = jsz
        .meta_cluster
        .map(|m| (m.leader, m.cluster_size))
        .unwrap_or_default();
    Ok(JetStreamView {
        node: node.to_string(),
        meta_leader,
        cluster_size,
        streams,
    })
}

/// The monitoring URL an instance registered (`http://host:port`), if any.
pub fn monitor_url(instance: &dcy::Instance) -> Option<&str> {
    instance
        .meta
        .get(MONITOR_META)
        .map(String::as_str)
        .filter(|u| u.starts_with("http://") || u.starts_with("https://"))
}

/// Asks one node's monitoring endpoint (bounded: `timeout`, [`MAX_BODY`]).
pub async fn fetch(
    http: &reqwest::Client,
    node: &str,
    monitor: &str,
    timeout: Duration,
) -> anyhow::Result<JetStreamView> {
    let url = format!(
        "{}/jsz?streams=true&consumers=true",
        monitor.trim_end_matches('/')
    );
    let body = tokio::time::timeout(timeout, async {
        let mut resp = http.get(&url).send().await?;
        if !resp.status().is_success() {
            anyhow::bail!("{url}: {}", resp.status());
        }
        let mut body = Vec::new();
        while let Some(chunk) = resp.chunk().await? {
            if body.len() + chunk.len() > MAX_BODY {
                anyhow::bail!("{url}: more than {MAX_BODY} bytes");
            }
            body.extend_from_slice(&chunk);
        }
        Ok(body)
    })
    .await
    .map_err(|_| anyhow::anyhow!("{url}: no answer within {timeout:?}"))??;
    parse(node, &body).map_err(|e| anyhow::anyhow!("{url}: {e}"))
}

/// Asks the passing broker nodes Consul lists, one after the other, until
/// one answers.
pub async fn fetch_any(
    http: &reqwest::Client,
    nodes: &dcy::Instances,
    timeout: Duration,
) -> anyhow::Result<JetStreamView> {
    let mut last = anyhow::anyhow!("Consul lists no passing broker node");
    for i in nodes.as_slice() {
        let Some(monitor) = monitor_url(i) else {
            last = anyhow::anyhow!("{} registered no {MONITOR_META} meta", i.id);
            continue;
        };
        let node = i.meta.get("server_name").unwrap_or(&i.id);
        match fetch(http, node, monitor, timeout).await {
            Ok(v) => return Ok(v),
            Err(e) => last = e,
        }
    }
    Err(last)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn reads_what_nats_server_says() {
        // The shape of nats-server 2.9's answer, cut down.
        let body = br#"{
          "server_id": "N", "streams": 2, "consumers": 2,
          "meta_cluster": {"name": "dcy-demo", "leader": "nats-2", "peer": "x", "cluster_size": 3},
          "account_details": [{"name": "$G", "id": "$G", "stream_detail": [
            {"name": "SQUARES", "cluster": {"name": "dcy-demo", "leader": "nats-1",
               "replicas": [{"name": "nats-2", "current": true, "active": 1}, {"name": "nats-3", "current": false, "active": 1}]},
             "state": {"messages": 5, "bytes": 500, "consumer_count": 1},
             "consumer_detail": [{"stream_name": "SQUARES", "name": "app", "num_pending": 3,
               "num_ack_pending": 2, "num_redelivered": 1, "num_waiting": 1}]},
            {"name": "READINGS", "state": {"messages": 0}}
          ]}]
        }"#;
        let v = parse("nats-3", body).unwrap();
        assert_eq!(v.node, "nats-3");
        assert_eq!(v.meta_leader, "nats-2");
        assert_eq!(v.cluster_size, 3);
        assert_eq!(v.streams[0].name, "READINGS");
        let sq = &v.streams[1];
        assert_eq!(sq.leader, "nats-1");
        assert_eq!(sq.replicas.len(), 2);
        assert!(!sq.replicas[1].current);
        assert_eq!(sq.messages, 5);
        assert_eq!(
            sq.consumers[0],
            ConsumerView {
                name: "app".into(),
                pending: 3,
                ack_pending: 2,
                redelivered: 1,
                waiting: 1
            }
        );
        assert!(parse("n", b"[1,2").is_err());
    }
}
