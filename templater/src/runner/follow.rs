//! Following a dependency: its watch, typed by the wire model (a reply that
//! does not decode is the watch's error, kept in its status while the last
//! good data stays), and a subscription that sends the data templates see to
//! the runner on every change, from the watch's own loop (no task per
//! dependency).

use dcy::watch::{FetchFn, Subscription, Watch, WatchHub, WatchStatus};
use serde::de::DeserializeOwned;
use serde_json::Value;
use std::sync::Arc;
use tokio::sync::mpsc;

use super::Event;
use crate::deps::{Dep, Reply};

/// A followed dependency, whatever the type of its watch: dropping it stops
/// the events (and the watch, unless another template uses it).
pub(super) trait Followed: Send + Sync {
    /// Errors, failures in a row and the age of the data.
    fn status(&self) -> WatchStatus;
}

/// A watch and the subscription that turns its values into events.
struct Following<T> {
    watch: Watch<T>,
    _events: Subscription,
}

impl<T: Send + Sync + 'static> Followed for Following<T> {
    fn status(&self) -> WatchStatus {
        self.watch.status()
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
        let (tx, key) = (self.tx, self.key.to_string());
        let events = watch.for_each(move |reply| {
            // The runner gone, the dependency is dropped with it.
            let _ = tx.send(Event::Data(key.clone(), shape(reply)));
        });
        Some(Box::new(Following {
            watch,
            _events: events,
        }))
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
