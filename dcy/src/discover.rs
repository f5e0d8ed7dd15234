//! A service's healthy instances as a [`tower::discover::Discover`]
//! (feature `tower`): the stream of [`Change`]s that tower's balancers
//! (`tower::balance::p2c::Balance`) and tonic's
//! `Channel::balance_channel` consume.
//!
//! [`Service::discover`] follows the same live view as [`Service::pick`]:
//! an instance whose check turns critical leaves Consul's passing set, and
//! its [`Change::Remove`] is the next item of the stream; a new instance is
//! a [`Change::Insert`]; an instance that moved (new address or port) is
//! removed, then inserted again. The first items are the instances known
//! when the stream is polled first.
//!
//! # Weights
//!
//! tower's power-of-two-choices balancer picks by load and knows no
//! weights. So that Consul's `Weights.Passing` still count, an instance of
//! weight `w` is inserted as several copies (keys with [`InstanceKey::copy`]
//! `0..n`): the weights of the set are divided by their greatest common
//! divisor and capped at [`MAX_COPIES`], so weights 1 and 3 insert 1 and 3
//! copies, and p2c sends the heavier instance about three times as much.
//! With the default weight (1 everywhere) every instance is one key.
//! [`ServiceDiscover::ignore_weights`] inserts one copy of each.
//!
//! ```no_run
//! # #[cfg(feature = "tower")]
//! # async fn demo() -> dcy::Result<()> {
//! use futures_util::StreamExt;
//! use tower::discover::Change;
//!
//! let discovery = dcy::Discovery::from_env()?;
//! // The "service" each instance becomes: here its address.
//! let mut changes = discovery
//!     .service("worker")
//!     .discover(|instance| Some(instance.authority()));
//! while let Some(Ok(change)) = changes.next().await {
//!     match change {
//!         Change::Insert(key, addr) => println!("+ {} {addr}", key.id),
//!         Change::Remove(key) => println!("- {}", key.id),
//!     }
//! }
//! # Ok(())
//! # }
//! ```

use std::collections::{HashMap, VecDeque};
use std::convert::Infallible;
use std::fmt;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use futures_util::Stream;
use tower::discover::Change;

use crate::balance::schedule;
use crate::discovery::{Instance, Instances, Service};

/// Most copies of one instance inserted for its weight.
pub const MAX_COPIES: u32 = 8;

/// The key of one instance (one copy of it, see the [module](self) on
/// weights) in a balancer.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct InstanceKey {
    /// The instance's Consul service ID.
    pub id: Arc<str>,
    /// Which copy of the instance (0 for the first).
    pub copy: u32,
}

impl fmt::Display for InstanceKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.copy == 0 {
            f.write_str(&self.id)
        } else {
            write!(f, "{}#{}", self.id, self.copy)
        }
    }
}

/// Where a key's instance is: an instance that moved is re-inserted.
type Place = (String, u16);

/// A service's instances as a stream of [`Change`]s (a tower `Discover`).
/// Made by [`Service::discover`]; ends when the [`crate::Discovery`]
/// shuts down (balancers keep the last set).
pub struct ServiceDiscover<S, F> {
    service: Service,
    updates: Pin<Box<dyn Stream<Item = Arc<Instances>> + Send>>,
    make: F,
    /// The keys inserted, and where each instance was.
    inserted: HashMap<InstanceKey, Place>,
    pending: VecDeque<Change<InstanceKey, S>>,
    started: bool,
    weights: bool,
}

// Nothing in it is pinned: the updates stream is boxed, and neither the
// services nor `make` are polled in place.
impl<S, F> Unpin for ServiceDiscover<S, F> {}

impl<S, F> fmt::Debug for ServiceDiscover<S, F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ServiceDiscover")
            .field("service", &self.service.name())
            .field("inserted", &self.inserted.len())
            .field("pending", &self.pending.len())
            .finish()
    }
}

impl Service {
    /// This service's instances as a tower `Discover`: `make` turns an
    /// instance into the service the balancer calls (`None` skips the
    /// instance, logged). See [`crate::discover`].
    pub fn discover<S, F>(&self, make: F) -> ServiceDiscover<S, F>
    where
        F: FnMut(&Instance) -> Option<S>,
    {
        ServiceDiscover {
            service: self.clone(),
            updates: Box::pin(self.updates()),
            make,
            inserted: HashMap::new(),
            pending: VecDeque::new(),
            started: false,
            weights: true,
        }
    }
}

impl<S, F> ServiceDiscover<S, F>
where
    F: FnMut(&Instance) -> Option<S>,
{
    /// Inserts one copy of every instance whatever its weight.
    pub fn ignore_weights(mut self) -> Self {
        self.weights = false;
        self
    }

    /// The service followed.
    pub fn service(&self) -> &Service {
        &self.service
    }

    /// How many keys the balancer has been given (after the changes
    /// returned so far, and those queued).
    pub fn len(&self) -> usize {
        self.inserted.len()
    }

    /// Whether no key is inserted.
    pub fn is_empty(&self) -> bool {
        self.inserted.is_empty()
    }

    /// Queues the changes from the inserted set to `now`: removals first,
    /// so that a critical instance leaves before anything else happens.
    fn diff(&mut self, now: &Instances) {
        let list = now.as_slice();
        let copies = if self.weights {
            copies(list)
        } else {
            vec![1; list.len()]
        };
        let mut wanted: HashMap<InstanceKey, (Place, &Instance)> = HashMap::new();
        for (inst, n) in list.iter().zip(copies) {
            let id: Arc<str> = Arc::from(inst.id.as_str());
            for copy in 0..n {
                let key = InstanceKey {
                    id: Arc::clone(&id),
                    copy,
                };
                wanted.insert(key, ((inst.address.clone(), inst.port), inst));
            }
        }
        let gone: Vec<InstanceKey> = self
            .inserted
            .iter()
            .filter(|(k, place)| wanted.get(*k).is_none_or(|(p, _)| p != *place))
            .map(|(k, _)| k.clone())
            .collect();
        for key in gone {
            self.inserted.remove(&key);
            self.pending.push_back(Change::Remove(key));
        }
        let mut new: Vec<(InstanceKey, (Place, &Instance))> = wanted
            .into_iter()
            .filter(|(k, _)| !self.inserted.contains_key(k))
            .collect();
        new.sort_by(|a, b| a.0.cmp(&b.0));
        for (key, (place, inst)) in new {
            match (self.make)(inst) {
                Some(svc) => {
                    self.inserted.insert(key.clone(), place);
                    self.pending.push_back(Change::Insert(key, svc));
                }
                None => {
                    tracing::warn!(service = %inst.service, instance = %inst.id, "skipping an instance the balancer cannot use");
                }
            }
        }
    }
}

/// Copies of each instance for its weight: weights over their greatest
/// common divisor, the largest scaled down to [`MAX_COPIES`], at least 1.
fn copies(list: &[Arc<Instance>]) -> Vec<u32> {
    let weights: Vec<u32> = list.iter().map(|i| i.weight().max(1)).collect();
    // schedule() reduces by the gcd: count each index in its order.
    let order = schedule(&weights);
    let mut counts = vec![0u32; list.len()];
    for i in order {
        if let Some(c) = counts.get_mut(i as usize) {
            *c = c.saturating_add(1);
        }
    }
    let max = counts.iter().copied().max().unwrap_or(1).max(1);
    counts
        .into_iter()
        .map(|c| {
            if max > MAX_COPIES {
                (u64::from(c) * u64::from(MAX_COPIES) / u64::from(max)).max(1) as u32
            } else {
                c.max(1)
            }
        })
        .collect()
}

impl<S, F> Stream for ServiceDiscover<S, F>
where
    F: FnMut(&Instance) -> Option<S>,
{
    type Item = Result<Change<InstanceKey, S>, Infallible>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        if !this.started {
            this.started = true;
            let now = this.service.instances();
            this.diff(&now);
        }
        // Bounded: each round either returns or consumes one update.
        loop {
            if let Some(change) = this.pending.pop_front() {
                return Poll::Ready(Some(Ok(change)));
            }
            match this.updates.as_mut().poll_next(cx) {
                Poll::Ready(Some(now)) => this.diff(&now),
                Poll::Ready(None) => return Poll::Ready(None),
                Poll::Pending => return Poll::Pending,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::Weights;

    fn inst(id: &str, port: u16, w: u32) -> Arc<Instance> {
        let mut i = Instance::for_test("127.0.0.1", port);
        i.id = id.into();
        i.weights = Weights {
            passing: w,
            warning: 1,
        };
        Arc::new(i)
    }

    #[test]
    fn copies_follow_the_weights_within_the_cap() {
        let c = |ws: &[u32]| {
            let list: Vec<_> = ws
                .iter()
                .enumerate()
                .map(|(n, w)| inst(&n.to_string(), 1, *w))
                .collect();
            copies(&list)
        };
        assert_eq!(c(&[1, 1, 1]), [1, 1, 1]);
        assert_eq!(c(&[1, 3]), [1, 3]);
        assert_eq!(c(&[10, 30]), [1, 3]);
        assert_eq!(c(&[1, 100]), [1, 8]);
        assert_eq!(c(&[0, 2]), [1, 2]);
        assert!(c(&[]).is_empty());
    }
}
