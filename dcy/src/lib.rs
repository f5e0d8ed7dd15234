//! dcy: service discovery on Consul for Rust services.
//!
//! A service links `dcy` to register itself with health checks and keep
//! itself registered, and to find other services by name from a live,
//! in-memory view of Consul: [`Service::pick`] reads an atomic snapshot in
//! nanoseconds, while one blocking query per watched name keeps it fresh.
//! KV, locks, leader election and DNS lookups of `*.service.consul` complete
//! the toolkit. Everything works against a real Consul cluster and against
//! `devagent`, the toolkit's single-node agent.
//!
//! # Quick start
//!
//! ```no_run
//! use std::time::Duration;
//! use dcy::{Check, Discovery, Registration};
//!
//! # async fn demo() -> dcy::Result<()> {
//! // CONSUL_HTTP_ADDR, CONSUL_HTTP_TOKEN, ... as the Go client reads them.
//! let client = dcy::Client::from_env()?;
//!
//! // Register, with an HTTP check the agent runs and a TTL check we keep alive.
//! let me = Registration::new("worker")
//!     .id("worker-1")
//!     .port(8080)
//!     .check(Check::http("http://127.0.0.1:8080/health", Duration::from_secs(1)))
//!     .register(&client)
//!     .await?;
//!
//! // Find others by name.
//! let discovery = Discovery::new(client.clone());
//! discovery.wait_for(&["sensor"], Duration::from_secs(10)).await?;
//! let sensor = discovery.service("sensor");
//! let instance = sensor.pick().expect("a healthy sensor");
//! println!("reading from {}", instance.authority());
//!
//! // Or let the HTTP helper resolve and retry.
//! let reading = discovery.http()?.get("http://sensor/reading").await?;
//!
//! me.deregister().await?;
//! # Ok(())
//! # }
//! ```
//!
//! # Modules
//!
//! | Module | What it holds |
//! |---|---|
//! | [`config`] | the `CONSUL_*` environment contract and a builder |
//! | [`client`] | the HTTP client, query options and metadata |
//! | [`watch`] | the blocking-query engine shared by everything that follows Consul |
//! | [`discovery`] | service handles, `pick()`, URL rewriting, readiness |
//! | [`http`] | an HTTP client that resolves names and retries elsewhere |
//! | [`registry`] | registration, TTL heartbeats, re-registration |
//! | [`kv`] | KV reads, writes, CAS and watches |
//! | [`lock`] | session locks and leader election |
//! | [`dns`] | lookups through Consul DNS (feature `dns`, on by default) |
//! | [`metrics`] | counters to export to Prometheus |
//!
//! # Environment variables
//!
//! See [`config`]: `CONSUL_HTTP_ADDR` (with `http://`, `https://`,
//! `unix://` and a path prefix), `CONSUL_HTTP_TOKEN` and `_TOKEN_FILE` (the
//! file wins), `CONSUL_HTTP_AUTH`, `CONSUL_HTTP_SSL`, `_SSL_VERIFY`,
//! `CONSUL_CACERT`, `_CAPATH`, `_CLIENT_CERT` + `_CLIENT_KEY`,
//! `CONSUL_TLS_SERVER_NAME`, `CONSUL_NAMESPACE`, `CONSUL_PARTITION`, and
//! `DCY_DNS_ADDR` for the DNS address (default `127.0.0.1:8600`). The token
//! never appears in `Debug` output, logs or errors.
//!
//! # Blocking queries and staleness
//!
//! Every watch is one loop per unique query, whatever the number of
//! subscribers. It follows Consul's index rules, publishes only real
//! changes, and when Consul is unreachable keeps serving the last good
//! value while it retries with capped, jittered backoff; [`Service::status`]
//! and [`watch::Watch::status`] tell the age of the data and the error.
//!
//! # Feature flags
//!
//! | Feature | Default | Enables |
//! |---|---|---|
//! | `dns` | yes | [`dns`], through hickory-resolver |
//! | `cli` | no | `cli::ConsulArgs`: Consul's `-http-addr`, `-token`, ... flags for clap |
#![warn(missing_docs)]

pub mod agent;
pub mod balance;
mod catalog;
#[cfg(feature = "cli")]
pub mod cli;
pub mod client;
pub mod config;
pub mod discovery;
#[cfg(feature = "dns")]
pub mod dns;
pub mod error;
pub mod http;
pub(crate) mod instance;
pub mod kv;
pub mod lock;
pub mod metrics;
mod query;
pub mod registry;
pub mod session;
mod tls;
mod transport;
pub mod types;
pub mod watch;

pub use client::{Client, Consistency, QueryMeta, QueryOptions};
pub use config::Config;
pub use discovery::{Discovery, Instance, Instances, Service, ServiceOptions};
pub use error::{Error, ErrorKind, Result};
pub use kv::Kv;
pub use lock::{LeaderElection, Lock, LockGuard};
pub use registry::{Check, KeeperHealth, Registered, Registration};
pub use types::*;
