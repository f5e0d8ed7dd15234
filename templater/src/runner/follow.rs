//! Following a dependency: its watch, typed by the wire model (a reply that
//! does not decode is the watch's error, kept in its status while the last
//! good data stays), and a task that sends the data templates see to the
//! runner on every change.

use dcy::watch::{FetchFn, Watch, WatchHub, WatchStatus};
use serde::de::DeserializeOwned;
use serde_json::Value;
use std::sync::Arc;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::Event;
use crate::deps::{Dep, Reply};

/// The status of a followed dependency's watch, whatever its type.
pub(super) trait Followed: Send + Sync {
    /// Errors, failures in a row and the age of the data.
    fn status(&self) -> WatchStatus;
}

impl<T: Send + Sync + 'static> Followed for Watch<T> {
    fn status(&self) -> WatchStatus {
        Watch::status(self)
    }
}

/// Starts following one dependency (see [`Dep::reply`]).
pub(super) struct Follow<'a> {
    /// The hub of the watches.
    pub(super) hub: &'a WatchHub,
    /// The dependency's key (the events name it).
    pub(super) key: &'a str,
    /// The dependency.
    pub(super) dep: &'a Dep,
    /// `?stale` queries (`-max-stale`).
    pub(super) stale: bool,
    /// Where the data goes.
    pub(super) tx: mpsc::UnboundedSender<Event>,
    /// Stops the forwarding task.
    pub(super) stop: CancellationToken,
}

impl Reply for Follow<'_> {
    /// The watch's status, or `None` for a dependency with nothing to watch.
    type Out = Option<Box<dyn Followed>>;

    fn shape<T, F>(self, shape: F) -> Self::Out
    where
        T: DeserializeOwned + PartialEq + Send + Sync + 'static,
        F: Fn(&T) -> Option<Value> + Send + Sync + 'static,
    {
        let client = self.hub.client();
        let watch: Watch<T> = match (
            self.dep.spec(self.stale),
            self.dep.fetch(client, self.stale),
        ) {
            (_, Some(fetch)) => self.hub.watch_fn(
                format!("templater:{}", self.key),
                typed(self.key.to_string(), fetch),
            ),
            (Some(spec), None) => self.hub.watch(spec),
            (None, None) => return None,
        };
        let (mut w, tx, key, stop) = (watch.clone(), self.tx, self.key.to_string(), self.stop);
        tokio::spawn(async move {
            loop {
                if let Some(reply) = w.value() {
                    if tx.send(Event::Data(key.clone(), shape(&reply))).is_err() {
                        return;
                    }
                }
                tokio::select! {
                    _ = stop.cancelled() => return,
                    r = w.changed() => if r.is_err() { return },
                }
            }
        });
        Some(Box::new(watch))
    }
}

/// A custom fetch's JSON decoded into the wire type `T`.
fn typed<T>(key: String, fetch: FetchFn<Value>) -> FetchFn<T>
where
    T: DeserializeOwned + Send + 'static,
{
    Arc::new(move |index| {
        let (next, key) = (fetch(index), key.clone());
        Box::pin(async move {
            let (raw, index) = next.await?;
            let reply = serde_json::from_value(raw).map_err(|e| {
                dcy::Error::new(dcy::ErrorKind::Decode, format!("decoding {key}: {e}"))
            })?;
            Ok((reply, index))
        })
    })
}
