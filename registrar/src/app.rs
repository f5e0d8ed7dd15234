//! The commands wired together: what `main` calls once the flags are parsed.

use std::sync::Arc;

use tokio::signal::unix::{signal, SignalKind};
use tokio_util::sync::CancellationToken;

use crate::cli::{Cli, Command, Common};
use crate::error::{Error, Result};
use crate::status::{self, Status};
use crate::{check, run, sync};

/// Runs the command; returns the process exit code.
///
/// `run` exits with the program's status; `sync` runs until SIGINT or
/// SIGTERM and exits 0; `check` exits 1 when a file has an error.
pub async fn execute(cli: Cli) -> Result<u8> {
    match cli.command {
        Command::Check(args) => {
            let report = check::check(&args.path).await?;
            for p in &report.problems {
                println!("{p}");
            }
            println!("{}", report.summary());
            Ok(u8::from(report.errors() > 0))
        }
        Command::Run(args) => {
            let config = args.to_config().await?;
            let (client, status, shutdown) = start(&args.common).await?;
            let code = run::run(client, config, status, shutdown.clone()).await;
            shutdown.cancel();
            code
        }
        Command::Sync(args) => {
            let config = args.to_config()?;
            let (client, status, shutdown) = start(&args.common).await?;
            let mut term = signal(SignalKind::terminate())
                .map_err(|e| Error::io("installing signal handlers", e))?;
            let stop = shutdown.clone();
            tokio::spawn(async move {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => tracing::info!("interrupt: stopping"),
                    _ = term.recv() => tracing::info!("terminated: stopping"),
                    _ = stop.cancelled() => {}
                }
                stop.cancel();
            });
            let r = sync::run(client, config, status, shutdown.clone()).await;
            shutdown.cancel();
            r.map(|()| 0)
        }
    }
}

/// The client, the shared status and its listener.
async fn start(common: &Common) -> Result<(dcy::Client, Arc<Status>, CancellationToken)> {
    let client = common.client()?;
    let status = Status::new(&client);
    let shutdown = CancellationToken::new();
    if let Some(addr) = common.status_addr {
        status::serve(addr, Arc::clone(&status), shutdown.clone()).await?;
    }
    Ok((client, status, shutdown))
}
