//! dcy: service discovery on Consul.
#![warn(missing_docs)]

pub mod agent;
mod catalog;
pub mod client;
pub mod config;
pub mod error;
pub mod metrics;
mod tls;
pub mod types;
pub mod watch;

pub use client::{Client, Consistency, QueryMeta, QueryOptions};
pub use config::Config;
pub use error::{Error, ErrorKind, Result};
pub use types::*;
