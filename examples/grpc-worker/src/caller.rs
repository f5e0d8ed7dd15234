//! The app's gRPC side: calls the workers through dcy's balanced channel
//! ([`dcy::Discovery::grpc`]) and retries a call that failed at the
//! transport on another instance, as the HTTP path does (`Square` is
//! idempotent; the channel has ejected the instance that refused by the
//! time the error comes back).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use dcy::grpc::GrpcChannel;

use crate::client::SquaresClient;
use crate::proto::SquareReply;

/// Calls, retries and failures so far (shared by the clones of a [`Caller`]).
#[derive(Debug, Default)]
pub struct Counts {
    /// Calls answered.
    pub ok: AtomicU64,
    /// Attempts that failed and were tried again.
    pub retried: AtomicU64,
    /// Calls that failed at the transport after every attempt.
    pub failed: AtomicU64,
}

/// Squares through the balanced channel. Cheap to clone.
#[derive(Clone, Debug)]
pub struct Caller {
    client: SquaresClient<GrpcChannel>,
    attempts: u32,
    /// What happened so far.
    pub counts: Arc<Counts>,
}

impl Caller {
    /// A caller over `channel`, trying at most `attempts` times a call.
    pub fn new(channel: GrpcChannel, attempts: u32) -> Caller {
        Caller {
            client: SquaresClient::new(channel),
            attempts: attempts.max(1),
            counts: Arc::default(),
        }
    }

    /// `n²`, retrying on another instance when a call fails at the
    /// transport (see [`transport_failure`]); other statuses come back at
    /// once.
    pub async fn square(&mut self, n: i64) -> Result<SquareReply, tonic::Status> {
        let mut attempt = 1;
        loop {
            match self.client.square(n).await {
                Ok(reply) => {
                    self.counts.ok.fetch_add(1, Ordering::Relaxed);
                    return Ok(reply);
                }
                Err(status) if transport_failure(&status) && attempt < self.attempts => {
                    attempt += 1;
                    self.counts.retried.fetch_add(1, Ordering::Relaxed);
                    tracing::debug!(error = %status, "retrying on another instance");
                }
                Err(status) if transport_failure(&status) => {
                    self.counts.failed.fetch_add(1, Ordering::Relaxed);
                    return Err(status);
                }
                // An answer, if not the one hoped for (`OUT_OF_RANGE`).
                Err(status) => return Err(status),
            }
        }
    }
}

/// Whether a call failed at the transport, not in the worker: the
/// connection could not be made (`UNAVAILABLE`), or broke while the call
/// was in flight (`UNKNOWN` with a transport error as its source, as when
/// the worker was killed). A call of the second kind may have run: retry
/// it only when it is idempotent, as the HTTP client does.
pub fn transport_failure(status: &tonic::Status) -> bool {
    use std::error::Error as _;
    status.code() == tonic::Code::Unavailable
        || status
            .source()
            .is_some_and(|s| s.downcast_ref::<tonic::transport::Error>().is_some())
}
