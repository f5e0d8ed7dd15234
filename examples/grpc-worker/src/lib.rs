//! The gRPC worker: squares numbers over gRPC (`demo.Squares/Square`,
//! tonic), serves the standard `grpc.health.v1.Health` (tonic-health), and
//! registers through `dcy` as `grpc-worker` with a gRPC check the agent
//! runs. Any number of them run; the app's gRPC side ([`caller`], the
//! `grpc-app` binary) calls them through `dcy`'s balanced channel.
//!
//! No `protoc` at build time: the two messages are written by hand with
//! `#[derive(prost::Message)]` ([`proto`]), and the service and its client
//! are the few lines `tonic-build` would generate ([`server`], [`client`]).
#![warn(missing_docs)]

pub mod caller;
pub mod client;
pub mod proto;
pub mod server;

use std::future::Future;
use std::net::SocketAddr;
use std::time::Duration;

use dcy::{Check, Registration};

/// The name workers register under.
pub const SERVICE: &str = "grpc-worker";

/// `grpc-worker` flags.
#[derive(Clone, Debug, clap::Parser)]
#[command(
    name = "grpc-worker",
    about = "Squares numbers over gRPC for the demo app"
)]
pub struct Args {
    /// Instance ID (default `grpc-worker-<port>`).
    #[arg(long)]
    pub id: Option<String>,
    /// Address to listen on and register.
    #[arg(long, default_value = "127.0.0.1")]
    pub address: String,
    /// Port (0: any free one).
    #[arg(long, default_value_t = 0)]
    pub port: u16,
    /// Interval of the gRPC check the agent runs.
    #[arg(long = "check-interval", default_value = "1s", value_parser = gocompat::duration::parse)]
    pub check_interval: Duration,
}

impl Args {
    /// The defaults: any port on 127.0.0.1, a 1 s check.
    pub fn local() -> Args {
        Args {
            id: None,
            address: "127.0.0.1".into(),
            port: 0,
            check_interval: Duration::from_secs(1),
        }
    }
}

/// Serves squares and health until `shutdown`, registered with a gRPC
/// check; `ready` gets the address once registered. Deregisters on the way
/// out (a worker killed with SIGKILL is left to its failing check).
pub async fn run(
    args: Args,
    client: &dcy::Client,
    shutdown: impl Future<Output = ()> + Send + 'static,
    ready: impl FnOnce(SocketAddr),
) -> anyhow::Result<()> {
    let listener = tokio::net::TcpListener::bind((args.address.as_str(), args.port)).await?;
    let addr = listener.local_addr()?;
    let id = args
        .id
        .clone()
        .unwrap_or_else(|| format!("{SERVICE}-{}", addr.port()));
    let (reporter, health) = tonic_health::server::health_reporter();
    reporter
        .set_service_status("", tonic_health::ServingStatus::Serving)
        .await;
    let squares = server::SquaresServer::new(id.clone());
    let serving = tokio::spawn(
        tonic::transport::Server::builder()
            .add_service(health)
            .add_service(squares)
            .serve_with_incoming_shutdown(
                tonic::transport::server::TcpIncoming::from(listener),
                shutdown,
            ),
    );
    let me = Registration::new(SERVICE)
        .id(&id)
        .address(&args.address)
        .port(addr.port())
        .check(
            Check::grpc(&addr.to_string(), args.check_interval)
                .timeout(Duration::from_secs(1))
                .deregister_critical_after(Duration::from_secs(60)),
        )
        .register(client)
        .await;
    let me = match me {
        Ok(me) => me,
        Err(e) => {
            serving.abort();
            return Err(e.into());
        }
    };
    ready(addr);
    let served = serving.await;
    me.deregister().await?;
    served??;
    Ok(())
}

/// Waits for SIGINT or SIGTERM.
pub async fn shutdown_signal() {
    use tokio::signal::unix::{signal, SignalKind};
    match signal(SignalKind::terminate()) {
        Ok(mut term) => {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = term.recv() => {}
            }
        }
        Err(_) => {
            let _ = tokio::signal::ctrl_c().await;
        }
    }
}

/// Logs to stderr at `RUST_LOG` (default `info`).
pub fn init_tracing() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .try_init();
}

/// Runs `f` on a multi-threaded runtime; the exit code (1 with the error
/// on stderr).
pub fn block_on<F: Future<Output = anyhow::Result<()>>>(f: F) -> std::process::ExitCode {
    init_tracing();
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: starting the runtime: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    match rt.block_on(f) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
