//! dcy: service discovery on Consul for Rust services.
#![warn(missing_docs)]

pub mod agent;
pub mod balance;
mod catalog;
pub mod client;
pub mod config;
pub mod discovery;
#[cfg(feature = "dns")]
pub mod dns;
pub mod error;
pub mod http;
pub mod kv;
pub mod lock;
pub mod metrics;
pub mod registry;
pub mod session;
mod tls;
pub mod types;
pub mod watch;

pub use client::{Client, Consistency, QueryMeta, QueryOptions};
pub use config::Config;
pub use discovery::{Discovery, Instance, Instances, Service, ServiceOptions};
pub use error::{Error, ErrorKind, Result};
pub use kv::Kv;
pub use lock::{LeaderElection, Lock, LockGuard};
pub use registry::{Check, Registered, Registration};
pub use types::*;
