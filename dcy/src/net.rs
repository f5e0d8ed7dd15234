//! Raw TCP and UDP to a service by name: no HTTP assumed.
//!
//! [`Net::connect_tcp`] connects a [`TcpStream`] to one of a service's
//! healthy instances, trying them in [`crate::Service::pick`] order: an
//! instance that refuses the connection (or does not answer within the
//! connect timeout) is skipped for [`EJECT_FOR`], as the HTTP client
//! ([`crate::http`]) skips it, until discovery catches up with its failed
//! health check, and the next instance is tried, at most
//! [`Net::attempts`] instances and [`Net::deadline`] in all. Nothing has
//! been sent on a connection that did not open, so trying another is
//! always safe.
//!
//! [`Net::send_udp`] sends one datagram to a picked instance: UDP has no
//! connection to fail, so a datagram to an instance that just died is
//! lost, as any datagram may be (use it for what may be lost).
//!
//! ```no_run
//! # async fn demo() -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
//! use tokio::io::AsyncWriteExt;
//!
//! let discovery = dcy::Discovery::from_env()?;
//! let net = discovery.net(); // make once: it remembers refused instances
//! let mut stream = net.connect_tcp("ledger").await?;
//! stream.write_all(b"PING\r\n").await?;
//! net.send_udp("metrics", b"requests:1|c").await?;
//! # Ok(())
//! # }
//! ```

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use tokio::net::{TcpStream, UdpSocket};

use crate::discovery::{Discovery, Instance, Service};
use crate::error::{Error, ErrorKind, Result};

/// How long an instance that refused a connection is skipped (as in the
/// HTTP client).
pub const EJECT_FOR: Duration = Duration::from_secs(5);
/// How long a lookup of a service with no data yet waits for Consul's
/// first answer.
const COLD_WAIT: Duration = Duration::from_secs(5);

/// Instances skipped until a moment: the one set of ejection rules of the
/// HTTP client, [`Net`] and the gRPC channel. Keyed by [`key`] of the
/// instance's ID, so that neither a lookup nor an ejection copies a string.
#[derive(Debug, Default)]
pub(crate) struct Ejections {
    until: Mutex<HashMap<u64, Instant>>,
    /// Whether `until` may hold anything (a lookup skips the lock if not).
    any: AtomicBool,
}

impl Ejections {
    /// Whether the instance with this ID is skipped now.
    pub(crate) fn is_ejected(&self, id: &str) -> bool {
        if !self.any.load(Ordering::Relaxed) {
            return false;
        }
        let id = key(id);
        let mut map = self.until.lock().unwrap_or_else(PoisonError::into_inner);
        let ejected = match map.get(&id) {
            Some(until) if *until > Instant::now() => true,
            Some(_) => {
                map.remove(&id);
                false
            }
            None => false,
        };
        if map.is_empty() {
            self.any.store(false, Ordering::Relaxed);
        }
        ejected
    }

    /// Skips the instance with this ID for [`EJECT_FOR`].
    pub(crate) fn eject(&self, id: &str) {
        self.eject_key(key(id));
    }

    /// Skips the instance whose ID's [`key`] this is for [`EJECT_FOR`].
    pub(crate) fn eject_key(&self, id: u64) {
        let mut map = self.until.lock().unwrap_or_else(PoisonError::into_inner);
        let now = Instant::now();
        if map.len() >= 256 {
            // Instances that left discovery are never asked about again.
            map.retain(|_, until| *until > now);
        }
        map.insert(id, now + EJECT_FOR);
        self.any.store(true, Ordering::Relaxed);
    }
}

/// An instance ID as a number: what the ejections and the HTTP client's
/// `tried` hold, so that an attempt copies no string. (64 bits: two IDs of
/// one service colliding would only make a retry skip one instance.)
pub(crate) fn key(id: &str) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    id.hash(&mut h);
    h.finish()
}

impl Discovery {
    /// Raw TCP connections and UDP datagrams to services by name. Cheap;
    /// make one and keep it, it remembers the instances that refused.
    pub fn net(&self) -> Net {
        Net {
            discovery: self.clone(),
            ejected: Arc::new(Ejections::default()),
            attempts: 3,
            connect_timeout: Duration::from_secs(2),
            deadline: Duration::from_secs(5),
        }
    }
}

/// TCP connections and UDP datagrams to services by name; see the
/// [module](self). Cheap to clone (clones share the ejections).
#[derive(Clone, Debug)]
pub struct Net {
    discovery: Discovery,
    ejected: Arc<Ejections>,
    attempts: usize,
    connect_timeout: Duration,
    deadline: Duration,
}

impl Net {
    /// Tries at most this many instances per connection (default 3).
    pub fn attempts(mut self, n: usize) -> Net {
        self.attempts = n.max(1);
        self
    }

    /// Gives up on one instance after this long (default 2 s).
    pub fn connect_timeout(mut self, t: Duration) -> Net {
        self.connect_timeout = t;
        self
    }

    /// Gives up on the whole connection (every attempt, and the wait for
    /// Consul's first answer) after this long (default 5 s).
    pub fn deadline(mut self, t: Duration) -> Net {
        self.deadline = t;
        self
    }

    /// The service `name` (`worker`, or `v1.worker` for the instances
    /// tagged `v1`, as in Consul's DNS).
    fn service(&self, name: &str) -> Service {
        self.discovery.service_by_host(name)
    }

    /// A TCP connection to an instance of `name`, trying instances in pick
    /// order (not ejected first), bounded by [`Net::attempts`] and
    /// [`Net::deadline`].
    pub async fn connect_tcp(&self, name: &str) -> Result<TcpStream> {
        let service = self.service(name);
        let started = tokio::time::Instant::now();
        let end = started + self.deadline;
        if !service.is_ready() {
            service.answered(COLD_WAIT.min(self.deadline)).await;
        }
        let mut tried: Vec<String> = Vec::new();
        let mut last: Option<Error> = None;
        while tried.len() < self.attempts {
            let untried = |i: &Instance| !tried.contains(&i.id);
            let Some(inst) = service.choose_with(
                |i| untried(i) && !self.ejected.is_ejected(&i.id),
                untried,
                Arc::clone,
            ) else {
                break;
            };
            tried.push(inst.id.clone());
            let left = end.saturating_duration_since(tokio::time::Instant::now());
            if left.is_zero() {
                break;
            }
            let wait = self.connect_timeout.min(left);
            let what = format!("connecting to {name} via {}", inst.authority());
            let result = match inst.socket_addr() {
                Some(addr) => tokio::time::timeout(wait, TcpStream::connect(addr)).await,
                None => tokio::time::timeout(wait, TcpStream::connect(inst.authority())).await,
            };
            match result {
                Ok(Ok(stream)) => return Ok(stream),
                Ok(Err(e)) => {
                    self.ejected.eject(&inst.id);
                    tracing::debug!(service = %name, instance = %inst.id, error = %e, "trying another instance");
                    last = Some(Error::caused_by(ErrorKind::Connect, what, &e));
                }
                Err(_) => {
                    self.ejected.eject(&inst.id);
                    last = Some(Error::new(
                        ErrorKind::Timeout,
                        format!("{what}: no answer in {}", gocompat::duration::human(wait)),
                    ));
                }
            }
        }
        Err(last.unwrap_or_else(|| no_instance(&service, name)))
    }

    /// Sends `datagram` to an instance of `name` (not ejected, in pick
    /// order) from a fresh socket; the instance's address. UDP does not
    /// tell whether it arrived.
    pub async fn send_udp(&self, name: &str, datagram: &[u8]) -> Result<SocketAddr> {
        let to = self.udp_target(name).await?;
        let local: SocketAddr = if to.is_ipv4() {
            SocketAddr::from(([0, 0, 0, 0], 0))
        } else {
            SocketAddr::from(([0u16; 8], 0))
        };
        let socket = UdpSocket::bind(local)
            .await
            .map_err(|e| Error::caused_by(ErrorKind::Connect, "binding a UDP socket", &e))?;
        self.send_udp_from(&socket, to, datagram).await
    }

    /// Sends `datagram` to an instance of `name` from `socket` (one socket
    /// for many datagrams); the instance's address.
    pub async fn send_udp_with(
        &self,
        socket: &UdpSocket,
        name: &str,
        datagram: &[u8],
    ) -> Result<SocketAddr> {
        let to = self.udp_target(name).await?;
        self.send_udp_from(socket, to, datagram).await
    }

    async fn send_udp_from(
        &self,
        socket: &UdpSocket,
        to: SocketAddr,
        datagram: &[u8],
    ) -> Result<SocketAddr> {
        socket
            .send_to(datagram, to)
            .await
            .map_err(|e| Error::caused_by(ErrorKind::Connect, format!("sending to {to}"), &e))?;
        Ok(to)
    }

    /// The socket address of a picked instance of `name`.
    async fn udp_target(&self, name: &str) -> Result<SocketAddr> {
        let service = self.service(name);
        if !service.is_ready() {
            service.answered(COLD_WAIT.min(self.deadline)).await;
        }
        let inst = service
            .choose_with(|i| !self.ejected.is_ejected(&i.id), |_| true, Arc::clone)
            .ok_or_else(|| no_instance(&service, name))?;
        if let Some(addr) = inst.socket_addr() {
            return Ok(addr);
        }
        let authority = inst.authority();
        let mut addrs = tokio::net::lookup_host(authority.as_str())
            .await
            .map_err(|e| {
                Error::caused_by(ErrorKind::Connect, format!("resolving {authority}"), &e)
            })?;
        addrs.next().ok_or_else(|| {
            Error::new(
                ErrorKind::Connect,
                format!("resolving {authority}: no address"),
            )
        })
    }
}

fn no_instance(service: &Service, name: &str) -> Error {
    let why = match (service.is_ready(), service.status().error) {
        (true, _) => "no healthy instance".to_string(),
        (false, Some(e)) => format!("no data yet: Consul is failing: {e}"),
        (false, None) => "no data yet".to_string(),
    };
    Error::new(ErrorKind::NoData, format!("{name}: {why}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Instances that come and go (a new ID per restart, as the demo's
    /// workers under `--chaos`) leave no ejections behind once expired.
    #[test]
    fn ejections_of_instances_gone_are_pruned() {
        let e = Ejections::default();
        for i in 0..10_000 {
            e.eject(&format!("worker-{i}"));
        }
        assert!(e.is_ejected("worker-9999"));
        std::thread::sleep(EJECT_FOR + Duration::from_millis(100));
        e.eject("worker-new");
        let held = e.until.lock().unwrap_or_else(PoisonError::into_inner).len();
        assert_eq!(held, 1, "only the live ejection is kept");
        assert!(!e.is_ejected("worker-9999"));
        assert!(e.is_ejected("worker-new"));
    }
}
