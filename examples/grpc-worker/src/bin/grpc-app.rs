//! `grpc-app`: the app's gRPC side. Asks the `grpc-worker`s for squares
//! through dcy's balanced channel, `--callers` at a time, for `--for`;
//! prints the calls answered, retried and failed.
use std::sync::atomic::Ordering;
use std::time::Duration;

#[derive(Debug, clap::Parser)]
#[command(
    name = "grpc-app",
    about = "Calls the gRPC workers through dcy's balancer"
)]
struct Args {
    /// Callers at once.
    #[arg(long, default_value_t = 4)]
    callers: usize,
    /// How long to call.
    #[arg(long = "for", default_value = "5s", value_parser = gocompat::duration::parse)]
    run_for: Duration,
    /// How long to wait for a worker at start.
    #[arg(long = "wait-for", default_value = "30s", value_parser = gocompat::duration::parse)]
    wait_for: Duration,
}

fn main() -> std::process::ExitCode {
    use clap::Parser;
    let args = Args::parse_from(gocompat::flags::normalize(std::env::args()));
    grpc_worker::block_on(async move {
        let discovery = dcy::Discovery::from_env()?;
        discovery
            .wait_for(&[grpc_worker::SERVICE], args.wait_for)
            .await?;
        let channel = discovery.grpc(grpc_worker::SERVICE);
        let caller = grpc_worker::caller::Caller::new(channel.clone(), 3);
        let end = tokio::time::Instant::now() + args.run_for;
        let mut tasks = Vec::new();
        for c in 0..args.callers.max(1) {
            let mut caller = caller.clone();
            tasks.push(tokio::spawn(async move {
                let mut n = c as i64;
                while tokio::time::Instant::now() < end {
                    if let Err(e) = caller.square(n % 1000).await {
                        eprintln!("call failed: {e}");
                    }
                    n += 1;
                }
            }));
        }
        for t in tasks {
            t.await?;
        }
        let counts = &caller.counts;
        println!(
            "{} calls answered, {} retried, {} failed",
            counts.ok.load(Ordering::Relaxed),
            counts.retried.load(Ordering::Relaxed),
            counts.failed.load(Ordering::Relaxed)
        );
        channel.shutdown().await;
        discovery.shutdown().await;
        Ok(())
    })
}
