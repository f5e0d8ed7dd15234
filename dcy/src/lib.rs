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
//! # async fn demo() -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
//! // CONSUL_HTTP_ADDR, CONSUL_HTTP_TOKEN, ... as the Go client reads them.
//! let client = dcy::Client::from_env()?;
//!
//! // Register, with an HTTP check the agent runs; a task keeps it registered.
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
//! if let Some(instance) = sensor.pick() {
//!     println!("reading from {}", instance.authority());
//! }
//!
//! // Or let the HTTP helper resolve and retry.
//! let reading = discovery.http()?.get("http://sensor/reading").await?;
//!
//! // End cleanly: deregister (waits for the keeper) and stop watching.
//! me.deregister().await?;
//! discovery.shutdown().await;
//! # Ok(())
//! # }
//! ```
//!
//! `examples/using_dcy.rs` is this, runnable, and deregisters on the error
//! path too.
//!
//! # Where things live
//!
//! | Module | What it holds |
//! |---|---|
//! | [`config`] | the `CONSUL_*` environment contract and a builder |
//! | [`client`] | the Consul client, query options and metadata (`QueryOptions`, `QueryMeta`) |
//! | `transport` (private) | the one HTTP transport to Consul: hyper HTTP/1.1 over TCP, rustls or a Unix socket, proxies, headers and auth, the pool, error mapping |
//! | [`watch`] | the blocking-query engine everything that follows Consul runs on, derived watches |
//! | [`discovery`] | service handles, `pick()`, URL rewriting, readiness, idle eviction |
//! | [`http`] | an HTTP client for services: resolves names and retries elsewhere |
//! | [`net`] | raw TCP connections and UDP datagrams to services by name |
//! | `discover` | a service's instances as a tower `Discover` (feature `tower`) |
//! | `grpc` | gRPC channels over a service's instances, for tonic clients (feature `tonic`) |
//! | [`registry`] | the registration builder, and the keeper that heartbeats and re-registers |
//! | [`kv`], [`session`], [`agent`], `catalog` | the endpoints, typed |
//! | [`lock`] | session locks and leader election |
//! | `dns` | lookups through Consul DNS (feature `dns`, on by default) |
//! | [`metrics`] | counters to export to Prometheus |
//! | [`error`] | [`Error`], its kinds and predicates |
//!
//! # Tasks and shutdown
//!
//! Every task dcy starts has one owner, and every owner has an `async fn`
//! that stops its tasks and waits until they have ended:
//! [`watch::WatchHub::shutdown`] (every loop of the hub),
//! [`Discovery::shutdown`], [`Registered::deregister`] (the keeper, after it
//! deregistered the service), [`LockGuard::release`] (after the release)
//! and [`LeaderElection::shutdown`]. Dropping a handle only signals its
//! task, which then cleans up (deregisters, releases) on its own; a process
//! about to exit should await the drain instead. Connections to Consul need
//! no task: each is driven by the request that uses it.
//!
//! Starting a watch ([`watch::WatchHub::watch`], a new name in
//! [`Discovery::service`]) and [`LeaderElection::start`] spawn tasks and
//! panic outside a Tokio runtime; the other constructors do not spawn.
//!
//! A service nobody holds a handle on and nobody looked up for
//! [`discovery::DEFAULT_IDLE_TIMEOUT`] (5 minutes) stops being watched, and
//! the HTTP client remembers at most [`http::MAX_CACHED_SERVICES`] names: a
//! process that meets many host names in URLs stays flat.
//!
//! # Connection limits
//!
//! Every watched query (a service in [`Discovery`], a KV watch, each
//! registration's keeper, each held lock) holds one HTTP connection to the
//! agent while it waits. Consul limits the concurrent connections of one
//! client IP (`limits { http_max_conns_per_client = 200 }` by default, and
//! devagent does the same): a process with more than about 200 watches
//! against a default agent gets `429 Too Many Requests` ("Your IP is issuing
//! too many concurrent connections"). dcy treats a 429 as retryable: the
//! watch keeps its last value and backs off, and its
//! [`watch::WatchStatus::error`] says what happened and what to change
//! ([`Error::is_rate_limited`]). Raise the agent's limit, or watch fewer
//! queries per process.
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
//! | `tower` | no | `discover`: `Service::discover`, a tower `Discover` of a service's instances |
//! | `tonic` | no | `grpc`: `Discovery::grpc` (and `grpc_p2c`), gRPC channels over a service's instances (implies `tower`) |
#![warn(missing_docs)]

pub mod agent;
pub mod balance;
mod catalog;
#[cfg(feature = "cli")]
pub mod cli;
pub mod client;
pub mod config;
#[cfg(feature = "tower")]
pub mod discover;
pub mod discovery;
#[cfg(feature = "dns")]
pub mod dns;
pub mod error;
#[cfg(feature = "tonic")]
pub mod grpc;
pub mod http;
pub(crate) mod instance;
pub mod kv;
pub mod lock;
pub mod metrics;
pub mod net;
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
