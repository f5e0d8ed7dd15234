//! The broker beside the services: when Consul lists broker nodes
//! ([`bus::SERVICE`], with the dashboard's tag), the JetStream streams and
//! consumers as one of them reports them on its monitoring endpoint
//! (`/jsz`), asked once a tick while a node is listed (the nodes come from
//! a dcy watch; `/jsz` has no blocking form, so it is the one thing asked
//! on a timer). The nodes themselves are services like any other on the
//! page.

use std::time::Duration;

use dcy::watch::WatchHub;
use futures_util::StreamExt;
use serde::{Deserialize, Serialize};
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

/// What the page shows of the broker.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct BrokerView {
    /// The passing broker nodes Consul lists.
    pub nodes: usize,
    /// JetStream, as the last node that answered reported it.
    pub jetstream: Option<bus::jsz::JetStreamView>,
    /// Why the last attempt got no answer (then `jetstream` is the one
    /// before).
    pub error: Option<String>,
}

/// How long one node may take to answer.
const ASK_TIMEOUT: Duration = Duration::from_millis(800);

/// Asks the broker every `every` until `cancel`; `None` while Consul lists
/// no broker node.
pub fn spawn(
    hub: WatchHub,
    options: dcy::ServiceOptions,
    every: Duration,
    cancel: CancellationToken,
) -> (watch::Receiver<Option<BrokerView>>, JoinHandle<()>) {
    let (tx, rx) = watch::channel(None::<BrokerView>);
    let task = tokio::spawn(async move {
        let discovery = dcy::Discovery::with_hub(hub);
        let nodes = discovery.service_with(bus::SERVICE, options);
        // Every change since the last look (none is missed between a look
        // and the wait).
        let mut updates = std::pin::pin!(nodes.updates());
        let http = reqwest::Client::builder()
            .timeout(ASK_TIMEOUT)
            .build()
            .unwrap_or_default();
        let mut tick = tokio::time::interval(every.max(Duration::from_millis(100)));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
        loop {
            tokio::select! {
                _ = cancel.cancelled() => return,
                _ = tick.tick() => {}
            }
            let instances = nodes.instances();
            if instances.is_empty() {
                tx.send_if_modified(|v| v.take().is_some());
                // No node listed: nothing to ask until Consul lists one
                // (the watch answers then), not a request a tick.
                tokio::select! {
                    _ = cancel.cancelled() => return,
                    u = updates.next() => if u.is_none() { return },
                }
                continue;
            }
            let answer = tokio::select! {
                _ = cancel.cancelled() => return,
                a = bus::jsz::fetch_any(&http, &instances, ASK_TIMEOUT) => a,
            };
            tx.send_modify(|v| {
                let last = v.take().and_then(|b: BrokerView| b.jetstream);
                *v = Some(match answer {
                    Ok(js) => BrokerView {
                        nodes: instances.len(),
                        jetstream: Some(js),
                        error: None,
                    },
                    Err(e) => BrokerView {
                        nodes: instances.len(),
                        jetstream: last,
                        error: Some(format!("{e:#}")),
                    },
                });
            });
        }
    });
    (rx, task)
}
