//! devagent: a single-node, in-memory, Consul-compatible agent.
#![warn(missing_docs)]

mod decode;
pub mod duration;
pub mod error;
mod state;
pub mod types;
