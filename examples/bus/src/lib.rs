//! The messaging mode of the examples: the sensor, the workers and the app
//! talking only through NATS JetStream, a broker they find through `dcy`.
//!
//! - [`broker`]: connecting to a broker node that Consul lists as passing
//!   (service [`SERVICE`], no address in any config), keeping the client's
//!   server pool in step with Consul, and reconnecting to another node that
//!   Consul lists when the one in use dies.
//! - [`streams`]: the two work-queue streams, replicated on three nodes
//!   (`READINGS`: sensor → workers, `SQUARES`: workers → app), and their
//!   durable pull consumers with explicit acks.
//! - [`message`]: what travels, and its message ID (`Nats-Msg-Id`).
//! - [`seen`]: the app's de-duplication by message ID.
//! - [`latency`]: end-to-end latency, as a histogram.
//! - [`cluster`]: a NATS cluster on loopback, each node run and registered
//!   in Consul by `registrar run` with a check on its monitoring endpoint.
//! - [`jsz`]: what a node's `/jsz` monitoring endpoint says of the streams.
#![warn(missing_docs)]

pub mod broker;
pub mod cluster;
pub mod jsz;
pub mod latency;
pub mod message;
pub mod seen;
pub mod streams;

pub use broker::{Broker, BrokerStatus};
pub use latency::{Latency, LatencySummary};
pub use message::{Reading, Squared};
pub use seen::Seen;

/// The broker's service name in Consul.
pub const SERVICE: &str = "nats";

/// How the example services talk to each other.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum Transport {
    /// HTTP requests, each service found through dcy (the default).
    #[default]
    Http,
    /// NATS JetStream, the broker found through dcy.
    Nats,
}

impl Transport {
    /// The flag's spelling (`http`, `nats`).
    pub fn as_str(self) -> &'static str {
        match self {
            Transport::Http => "http",
            Transport::Nats => "nats",
        }
    }
}

impl std::fmt::Display for Transport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}
