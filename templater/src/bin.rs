//! The `templater` command line: flags, logging, the runtime, signals and
//! exit codes (the binary's own; the end-to-end tests' `e2e-templater`
//! compiles this file too).

use std::process::ExitCode;

use clap::Parser;
use templater::{Cli, Command, Event};
use tokio::signal::unix::{signal, SignalKind};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

/// The `templater` command: consul-template flags, `check` and `convert`.
pub(crate) fn main() -> ExitCode {
    let flags = match templater::normalize(std::env::args()) {
        Ok(a) => a,
        Err(e) => {
            eprintln!("templater: {e}");
            return ExitCode::from(e.exit_code());
        }
    };
    let cli = match Cli::try_parse_from(flags.args) {
        Ok(c) => c,
        Err(e) => {
            let _ = e.print();
            return if e.use_stderr() {
                ExitCode::from(13)
            } else {
                ExitCode::SUCCESS
            };
        }
    };
    let level = match &cli.command {
        Some(Command::Check(a)) => a.log_level.clone(),
        _ => cli.run.log_level.clone(),
    };
    init_tracing(level.as_deref());
    // Collected while parsing, before there was a subscriber to log them.
    for w in &flags.warnings {
        tracing::warn!("{w}");
    }
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("templater: starting the runtime: {e}");
            return ExitCode::from(11);
        }
    };
    runtime.block_on(async move {
        match cli.command {
            Some(Command::Check(args)) => check(&args).await,
            Some(Command::Convert { input, output }) => convert(&input, output.as_deref()),
            None => run(cli.run).await,
        }
    })
}

fn init_tracing(level: Option<&str>) {
    let level = level.map(|l| {
        if l.eq_ignore_ascii_case("err") {
            "error".to_string()
        } else {
            l.to_lowercase()
        }
    });
    let filter = match level {
        Some(l) => tracing_subscriber::EnvFilter::new(l),
        None => tracing_subscriber::EnvFilter::try_from_default_env()
            .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
    };
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_writer(std::io::stderr)
        .init();
}

async fn check(args: &templater::RunArgs) -> ExitCode {
    let (problems, templates) = templater::check(args).await;
    for p in &problems {
        eprintln!("{p}");
    }
    if problems.is_empty() {
        println!("ok: {templates} template(s) checked");
        ExitCode::SUCCESS
    } else {
        eprintln!("{} problem(s) found", problems.len());
        ExitCode::from(1)
    }
}

fn convert(input: &std::path::Path, output: Option<&std::path::Path>) -> ExitCode {
    let text = match std::fs::read_to_string(input) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("templater convert: {}: {e}", input.display());
            return ExitCode::from(1);
        }
    };
    let result = templater::convert(&text);
    for u in &result.unconverted {
        eprintln!(
            "{}:{}: not converted: {} ({})",
            input.display(),
            u.line,
            u.text.trim(),
            u.reason
        );
    }
    let written = match output {
        Some(p) => std::fs::write(p, &result.output).map_err(|e| format!("{}: {e}", p.display())),
        None => {
            print!("{}", result.output);
            Ok(())
        }
    };
    if let Err(e) = written {
        eprintln!("templater convert: {e}");
        return ExitCode::from(1);
    }
    if result.unconverted.is_empty() {
        ExitCode::SUCCESS
    } else {
        eprintln!(
            "{} line(s) need manual conversion; or keep the template as it is: templater renders consul-template's Go templates unchanged",
            result.unconverted.len()
        );
        ExitCode::from(2)
    }
}

async fn run(args: templater::RunArgs) -> ExitCode {
    let (tx, rx) = mpsc::unbounded_channel();
    let stop = CancellationToken::new();
    let cfg = args.to_config().ok();
    let reload = cfg.as_ref().and_then(|c| c.reload_signal.clone());
    let kill = cfg.as_ref().and_then(|c| c.kill_signal.clone());
    if let Err(e) = forward_signals(tx.clone(), reload, kill) {
        eprintln!("templater: installing signal handlers: {e}");
        return ExitCode::from(11);
    }
    match templater::run(&args, tx, rx, stop).await {
        Ok(code) => ExitCode::from(u8::try_from(code).unwrap_or(1)),
        Err(e) => {
            eprintln!("templater: {e}");
            ExitCode::from(e.exit_code())
        }
    }
}

/// SIGINT, SIGTERM and the kill signal stop; the reload signal reloads;
/// other signals go to the exec child.
fn forward_signals(
    tx: mpsc::UnboundedSender<Event>,
    reload: Option<String>,
    kill: Option<String>,
) -> std::io::Result<()> {
    use nix::sys::signal::Signal;
    let parse = |s: Option<String>| s.and_then(|s| templater::parse_signal(&s).ok());
    let reload = parse(reload);
    let kill = parse(kill);
    let kinds = [
        (SignalKind::hangup(), Signal::SIGHUP),
        (SignalKind::interrupt(), Signal::SIGINT),
        (SignalKind::terminate(), Signal::SIGTERM),
        (SignalKind::quit(), Signal::SIGQUIT),
        (SignalKind::user_defined1(), Signal::SIGUSR1),
        (SignalKind::user_defined2(), Signal::SIGUSR2),
    ];
    for (kind, sig) in kinds {
        let mut stream = signal(kind)?;
        let tx = tx.clone();
        tokio::spawn(async move {
            while stream.recv().await.is_some() {
                let ev = if Some(sig) == reload {
                    Event::Reload
                } else if sig == Signal::SIGINT || sig == Signal::SIGTERM || Some(sig) == kill {
                    Event::Stop(0)
                } else {
                    Event::Signal(sig)
                };
                if tx.send(ev).is_err() {
                    return;
                }
            }
        });
    }
    Ok(())
}
