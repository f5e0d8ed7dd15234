//! Registering a service and keeping it registered: TTL heartbeats,
//! pass/warn/fail with a note, re-registration when the agent loses the
//! service (agent restart, 404 on a TTL update), and deregistration.
//!
//! The builder ([`Registration`], [`Check`]) is here; the handle and the
//! keeper that works for it ([`Registered`]) are in `keeper`.
//!
//! ```no_run
//! # async fn demo() -> dcy::Result<()> {
//! use std::time::Duration;
//! use dcy::registry::{Check, Registration};
//!
//! let client = dcy::Client::from_env()?;
//! let reg = Registration::new("worker")
//!     .port(8080)
//!     .tag("v1")
//!     .check(Check::http("http://127.0.0.1:8080/health", Duration::from_secs(1)))
//!     .check(Check::ttl(Duration::from_secs(10)))
//!     .register(&client)
//!     .await?;
//! reg.warn("queue is long").await?;
//! // Stops the keeper and removes the service from the agent.
//! reg.deregister().await?;
//! # Ok(())
//! # }
//! ```

mod keeper;

use std::time::Duration;

use crate::agent::{CheckRegistration, ServiceRegistration};
use crate::types::{Status, Weights};

pub use keeper::{KeeperHealth, Registered};

/// A check to register with a service.
#[derive(Clone, Debug, PartialEq)]
pub struct Check {
    inner: CheckRegistration,
}

impl Check {
    /// An HTTP check the agent runs every `interval` (2xx passes, 429 warns).
    pub fn http(url: &str, interval: Duration) -> Check {
        Check {
            inner: CheckRegistration {
                http: url.to_string(),
                interval: Some(interval),
                ..CheckRegistration::default()
            },
        }
    }

    /// A TCP check the agent runs every `interval`.
    pub fn tcp(addr: &str, interval: Duration) -> Check {
        Check {
            inner: CheckRegistration {
                tcp: addr.to_string(),
                interval: Some(interval),
                ..CheckRegistration::default()
            },
        }
    }

    /// A gRPC check the agent runs every `interval`: the standard
    /// `grpc.health.v1.Health/Check` at `target`, `host:port` (the whole
    /// server) or `host:port/service`; `SERVING` passes.
    pub fn grpc(target: &str, interval: Duration) -> Check {
        Check {
            inner: CheckRegistration {
                grpc: target.to_string(),
                interval: Some(interval),
                ..CheckRegistration::default()
            },
        }
    }

    /// A TTL check the registration keeps passing (or as set) until it is dropped.
    pub fn ttl(ttl: Duration) -> Check {
        Check {
            inner: CheckRegistration {
                ttl: Some(ttl),
                ..CheckRegistration::default()
            },
        }
    }

    /// Check ID (default `service:<id>[:n]`).
    pub fn id(mut self, id: &str) -> Check {
        self.inner.check_id = id.to_string();
        self
    }

    /// Check name.
    pub fn name(mut self, name: &str) -> Check {
        self.inner.name = name.to_string();
        self
    }

    /// Timeout of an HTTP or TCP check (Consul's default: 10s).
    pub fn timeout(mut self, d: Duration) -> Check {
        self.inner.timeout = Some(d);
        self
    }

    /// Status before the first run (Consul's default: critical; TTL checks here start passing).
    pub fn initial_status(mut self, s: Status) -> Check {
        self.inner.status = Some(s);
        self
    }

    /// An HTTP header for the check request.
    pub fn header(mut self, name: &str, value: &str) -> Check {
        self.inner
            .header
            .entry(name.to_string())
            .or_default()
            .push(value.to_string());
        self
    }

    /// HTTP method of the check (default GET).
    pub fn method(mut self, m: &str) -> Check {
        self.inner.method = m.to_string();
        self
    }

    /// Skip certificate verification of an https check.
    pub fn tls_skip_verify(mut self) -> Check {
        self.inner.tls_skip_verify = true;
        self
    }

    /// Notes shown to operators.
    pub fn notes(mut self, notes: &str) -> Check {
        self.inner.notes = notes.to_string();
        self
    }

    /// Let the agent remove the service after this check has been critical this long.
    pub fn deregister_critical_after(mut self, d: Duration) -> Check {
        self.inner.deregister_critical_service_after = Some(d);
        self
    }

    /// Body of the HTTP check request.
    pub fn body(mut self, body: &str) -> Check {
        self.inner.body = body.to_string();
        self
    }

    /// Do not follow redirects in the HTTP check.
    pub fn disable_redirects(mut self) -> Check {
        self.inner.disable_redirects = true;
        self
    }

    /// Name to verify an https check's certificate against.
    pub fn tls_server_name(mut self, name: &str) -> Check {
        self.inner.tls_server_name = name.to_string();
        self
    }

    /// Consecutive results needed to turn passing, warning and critical.
    pub fn thresholds(
        mut self,
        success_before_passing: u32,
        failures_before_warning: u32,
        failures_before_critical: u32,
    ) -> Check {
        self.inner.success_before_passing = success_before_passing;
        self.inner.failures_before_warning = failures_before_warning;
        self.inner.failures_before_critical = failures_before_critical;
        self
    }

    /// The definition as sent to the agent.
    pub fn definition(&self) -> &CheckRegistration {
        &self.inner
    }
}

impl From<CheckRegistration> for Check {
    fn from(inner: CheckRegistration) -> Check {
        Check { inner }
    }
}

/// A service registration being built.
#[derive(Clone, Debug)]
pub struct Registration {
    reg: ServiceRegistration,
    deregister_after: Option<Duration>,
}

impl Registration {
    /// A registration of a complete definition (for example parsed from a
    /// Consul service-definition file).
    pub fn from_definition(reg: ServiceRegistration) -> Registration {
        Registration {
            reg,
            deregister_after: None,
        }
    }

    /// A registration of service `name` (its ID defaults to the name).
    pub fn new(name: &str) -> Registration {
        Registration {
            reg: ServiceRegistration {
                name: name.to_string(),
                ..ServiceRegistration::default()
            },
            deregister_after: None,
        }
    }

    /// Instance ID, unique on the agent (use it when running several instances).
    pub fn id(mut self, id: &str) -> Registration {
        self.reg.id = id.to_string();
        self
    }

    /// Address (default: the agent's node address).
    pub fn address(mut self, addr: &str) -> Registration {
        self.reg.address = addr.to_string();
        self
    }

    /// Port.
    pub fn port(mut self, port: u16) -> Registration {
        self.reg.port = port;
        self
    }

    /// Adds a tag.
    pub fn tag(mut self, tag: &str) -> Registration {
        self.reg.tags.push(tag.to_string());
        self
    }

    /// Adds metadata.
    pub fn meta(mut self, key: &str, value: &str) -> Registration {
        self.reg.meta.insert(key.to_string(), value.to_string());
        self
    }

    /// Load-balancing weights while passing and while warning.
    pub fn weights(mut self, passing: u32, warning: u32) -> Registration {
        self.reg.weights = Some(Weights { passing, warning });
        self
    }

    /// Adds a check.
    pub fn check(mut self, check: Check) -> Registration {
        self.reg.checks.push(check.inner);
        self
    }

    /// Let the agent remove the service after a check has been critical this long.
    pub fn deregister_critical_after(mut self, d: Duration) -> Registration {
        self.deregister_after = Some(d);
        self
    }

    /// Let `consul catalog` tag updates stand.
    pub fn enable_tag_override(mut self) -> Registration {
        self.reg.enable_tag_override = true;
        self
    }

    /// The definition that is sent, with check IDs filled as Consul forms them.
    pub fn definition(&self) -> ServiceRegistration {
        let mut reg = self.reg.clone();
        if reg.id.is_empty() {
            reg.id = reg.name.clone();
        }
        let many = reg.checks.len() > 1;
        for (i, c) in reg.checks.iter_mut().enumerate() {
            if c.check_id.is_empty() {
                c.check_id = if many {
                    format!("service:{}:{}", reg.id, i + 1)
                } else {
                    format!("service:{}", reg.id)
                };
            }
            if c.ttl.is_some() && c.status.is_none() {
                c.status = Some(Status::Passing);
            }
            if c.deregister_critical_service_after.is_none() {
                c.deregister_critical_service_after = self.deregister_after;
            }
        }
        reg
    }
}
