//! The demo: one command that starts everything.
//!
//! An embedded devagent (on Consul's ports 8500/8600 when free), or the
//! Consul at `CONSUL_HTTP_ADDR`; the sensor, the workers (as child processes,
//! so they can really be killed), the app, templater rendering an nginx
//! upstream list (and nginx itself when it is installed), and the dashboard.
//! Every service it starts carries the tag [`TAG`] and calls only services
//! carrying it, so a shared Consul's other `worker`s are never used.
//!
//! It prints the URLs and a live line of progress (what the services,
//! templater and nginx say goes to a log file the banner names). On a
//! terminal it takes single keys: `a` adds a worker, `k` kills one, `r`
//! restarts it, `q` quits. `q`, Ctrl-C, SIGTERM, SIGHUP or SIGQUIT stop
//! everything, deregistered, within a second; a temporary directory is
//! removed. With stdin not a terminal there are no keys, and end of input
//! does not stop it.
//!
//! With `--transport nats` the services talk only through a NATS cluster
//! the demo starts (`messaging`): three nodes, each run and registered by
//! registrar; `n` kills a node, `r` restarts what was killed last.
//!
//! The binary (`src/main.rs`) is the process: flags, logging into the
//! [`Log`], the runtime, the terminal's [`Keys`], the internal roles (a
//! worker, registrar) and exit codes; this library is the demo's [`run`].
#![warn(missing_docs)]

/// With the `jemalloc` feature, the demo (and every binary that links this
/// library) allocates with jemalloc.
#[cfg(feature = "jemalloc")]
#[global_allocator]
static ALLOC: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

mod log;
mod messaging;
mod progress;
mod proxy;
mod tasks;
mod terminal;
mod workers;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use clap::{Parser, Subcommand};
use dcy::watch::WatchHub;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::tasks::{start_in_process, stop_signals, Task};
use crate::workers::Workers;

pub use crate::log::Log;
pub use crate::tasks::WorkDir;
pub use crate::terminal::{Key, Keys};

/// The tag of every service the demo starts, and what its services require
/// of the services they call.
pub const TAG: &str = "dcy-demo";

/// How long stopping may take, start to end (the promise is 1 s).
const STOP_WITHIN: Duration = Duration::from_millis(800);

/// `demo` flags.
#[derive(Debug, Parser)]
#[command(
    name = "demo",
    about = "Starts devagent, the example services, templater and the dashboard"
)]
pub struct Args {
    /// Internal: run one worker process (the demo starts these itself).
    #[command(subcommand)]
    pub role: Option<Role>,
    /// Workers to start.
    #[arg(long, default_value_t = 2)]
    pub workers: usize,
    /// Consul to use instead of the embedded agent (default `CONSUL_HTTP_ADDR`).
    #[arg(long, env = "CONSUL_HTTP_ADDR")]
    pub consul: Option<String>,
    /// HTTP port of the embedded agent (falls back to a free port when taken).
    #[arg(long = "http-port", default_value_t = 8500)]
    pub http_port: u16,
    /// DNS port of the embedded agent (falls back to a free port when taken).
    #[arg(long = "dns-port", default_value_t = 8600)]
    pub dns_port: u16,
    /// Port nginx listens on (falls back to a free port when taken).
    #[arg(long = "nginx-port", default_value_t = 8080)]
    pub nginx_port: u16,
    /// Do not start nginx even when it is installed.
    #[arg(long = "no-nginx")]
    pub no_nginx: bool,
    /// Kill a worker every this many seconds and restart it half as long
    /// later (the killed instance is deregistered then).
    #[arg(long, value_parser = gocompat::duration::parse)]
    pub chaos: Option<Duration>,
    /// Directory for rendered files and the log, kept after the demo
    /// (default: a temporary one, removed on exit).
    #[arg(long)]
    pub dir: Option<PathBuf>,
    /// Check interval of the services' HTTP checks.
    #[arg(long = "check-interval", default_value = "1s", value_parser = gocompat::duration::parse)]
    pub check_interval: Duration,
    /// How the sensor, the workers and the app talk: `http` (they call
    /// each other) or `nats` (only through a NATS cluster of three nodes
    /// the demo starts, each registered by registrar).
    #[arg(long, value_enum, default_value_t = bus::Transport::Http)]
    pub transport: bus::Transport,
}

/// Internal roles of the demo binary.
#[derive(Debug, Subcommand)]
pub enum Role {
    /// One worker (started by the demo as a child process).
    #[command(hide = true)]
    Worker(worker::Args),
}

fn service_args(consul: &str, check: Duration) -> kit::ServiceArgs {
    let mut s = kit::ServiceArgs::local(consul);
    s.check_interval = check;
    s.tag = Some(TAG.to_string());
    s
}

/// What has been started, so that a stop in the middle of the start stops
/// what is there.
#[derive(Default)]
struct Demo {
    agent: Option<devagent::AgentHandle>,
    client: Option<dcy::Client>,
    /// The demo's own watches of Consul (the progress line, the start).
    hub: Option<WatchHub>,
    consul: String,
    sensor: Option<Task>,
    workers: Option<Workers>,
    app: Option<(Task, SocketAddr)>,
    dashboard: Option<(Task, SocketAddr)>,
    proxy: Option<proxy::Proxy>,
    cluster: Option<bus::cluster::Cluster>,
}

impl Demo {
    /// Starts everything and waits until every service passes.
    async fn start(&mut self, args: &Args, dir: &Path, log: &Log) -> anyhow::Result<()> {
        let consul = match &args.consul {
            Some(addr) => addr.clone(),
            None => {
                let agent = match devagent::Agent::builder()
                    .http_port(args.http_port)
                    .dns_port(args.dns_port)
                    .start()
                    .await
                {
                    Ok(a) => a,
                    Err(e) => {
                        println!(
                            "ports {}/{} are taken ({e}); using free ports",
                            args.http_port, args.dns_port
                        );
                        devagent::Agent::builder()
                            .http_port(0)
                            .dns_port(0)
                            .start()
                            .await?
                    }
                };
                let url = agent.http_url();
                self.agent = Some(agent);
                url
            }
        };
        self.consul.clone_from(&consul);
        let client = dcy::Client::new(dcy::Config::builder().address(&consul).build()?)?;
        self.client = Some(client.clone());
        let hub = self.hub.insert(WatchHub::new(client.clone())).clone();
        // Followed from now on, so the last change is seen as it happens.
        let passing = progress::passing_services(&hub, TAG);
        let check = args.check_interval;
        let transport = args.transport;
        if transport == bus::Transport::Nats {
            self.cluster = Some(messaging::start(&consul, dir, check, TAG, log).await?);
        }

        let c = consul.clone();
        let sensor = || {
            let c = c.clone();
            start_in_process("sensor", move |stop, tx| async move {
                sensor::run(
                    sensor::Args {
                        transport,
                        ..sensor::Args::new(service_args(&c, check))
                    },
                    async move { stop.cancelled().await },
                    move |a| {
                        let _ = tx.send(a);
                    },
                )
                .await
            })
        };
        // Over HTTP the app waits for the sensor; over the broker the
        // sensor comes last, so that its first readings find the workers.
        let nats = transport == bus::Transport::Nats;
        if !nats {
            self.sensor = Some(sensor().await?.0);
        }
        let workers = self
            .workers
            .insert(Workers::new(&consul, check, TAG, transport));
        for _ in 0..args.workers {
            workers.start(None, log).await?;
        }
        let c = consul.clone();
        self.app = Some(
            start_in_process("app", move |stop, tx| async move {
                let a = app::Args {
                    interval: Duration::from_millis(2),
                    concurrency: 4,
                    wait_for: Duration::from_secs(30),
                    transport,
                    ..app::Args::new(service_args(&c, check))
                };
                app::run(a, async move { stop.cancelled().await }, move |addr| {
                    let _ = tx.send(addr);
                })
                .await
            })
            .await?,
        );
        if nats {
            self.sensor = Some(sensor().await?.0);
        }
        let c = consul.clone();
        self.dashboard = Some(
            start_in_process("dashboard", move |stop, tx| async move {
                let a = dashboard::Args::new(service_args(&c, check));
                dashboard::run(a, async move { stop.cancelled().await }, move |addr| {
                    let _ = tx.send(addr);
                })
                .await
            })
            .await?,
        );
        self.proxy =
            Some(proxy::Proxy::start(&consul, dir, args.nginx_port, !args.no_nginx, log).await?);

        // Every service passing: the sensor, the workers, the app, the
        // dashboard (and the broker nodes, passing already).
        let nodes = self.cluster.as_ref().map_or(0, |_| messaging::NODES);
        let want = 3 + args.workers + nodes;
        let all = passing.wait_for(|s| s.value.as_deref().is_some_and(|n| *n >= want));
        match tokio::time::timeout(Duration::from_secs(30), all).await {
            Ok(r) => r.map(|_| ()).map_err(anyhow::Error::from),
            Err(_) => anyhow::bail!(
                "not every service passed within 30s (the log: {})",
                log.path().display()
            ),
        }
    }

    /// Stops everything (bounded by [`STOP_WITHIN`]), the app first so that
    /// nothing calls a worker that is going away; returns how many of the
    /// demo's services are left registered (`None` when Consul did not say).
    async fn stop(mut self) -> Option<usize> {
        let step = STOP_WITHIN / 4;
        if let Some((app, _)) = self.app.take() {
            app.stop("the app", step).await;
        }
        let client = self.client.clone();
        if let (Some(w), Some(c)) = (self.workers.as_mut(), &client) {
            w.stop(c, step).await;
        }
        let others = [self.sensor.take(), self.dashboard.take().map(|(t, _)| t)];
        let stops = others
            .into_iter()
            .flatten()
            .map(|t| t.stop("a service", step));
        let proxy = async {
            if let Some(p) = self.proxy.as_mut() {
                p.stop(step).await;
            }
        };
        tokio::join!(futures_util::future::join_all(stops), proxy);
        // The broker last: nothing uses it now. Each registrar passes
        // SIGTERM on to its node and deregisters it.
        if let Some(c) = self.cluster.as_mut() {
            c.stop(step).await;
        }
        let left = match &client {
            Some(c) => progress::registered_services(c, TAG).await.ok(),
            None => Some(0),
        };
        if let Some(h) = self.hub.take() {
            let _ = tokio::time::timeout(step, h.shutdown()).await;
        }
        if let Some(a) = self.agent.take() {
            let _ = tokio::time::timeout(step, a.shutdown()).await;
        }
        left
    }
}

/// Runs the demo until `q`, Ctrl-C or a stop signal.
///
/// `keys` are the terminal's ([`Keys`]); `None` when stdin is not a
/// terminal. Rendered files and the log go to `dir`.
///
/// # Errors
///
/// When the demo does not start (a port, a service that does not pass
/// within 30 s), or a key's action fails.
pub async fn run(
    args: Args,
    dir: &Path,
    log: &Log,
    keys: Option<mpsc::UnboundedReceiver<Key>>,
) -> anyhow::Result<()> {
    let started = Instant::now();
    let stop = CancellationToken::new();
    let signals = stop_signals()?;
    let s = stop.clone();
    tokio::spawn(async move {
        signals.await;
        s.cancel();
    });
    let mut demo = Demo::default();
    let start = tokio::select! {
        r = demo.start(&args, dir, log) => r,
        _ = stop.cancelled() => Err(anyhow::anyhow!("stopped while starting")),
    };
    if let Err(e) = start {
        demo.stop().await;
        return Err(e);
    }
    let (Some(client), Some((_, app_addr)), Some((_, dash_addr))) = (
        demo.client.clone(),
        demo.app.as_ref(),
        demo.dashboard.as_ref(),
    ) else {
        anyhow::bail!("the demo did not start");
    };
    let (app_addr, dash_addr) = (*app_addr, *dash_addr);
    banner(
        &demo,
        &args,
        started,
        dash_addr,
        app_addr,
        log,
        keys.is_some(),
    );
    let outcome = drive(&mut demo, &args, &client, app_addr, log, keys, &stop).await;
    println!("\n  stopping: deregistering everything");
    let stopping = Instant::now();
    let left = demo.stop().await;
    match left {
        Some(n) => println!(
            "  stopped in {} ({n} services left registered)",
            gocompat::duration::human(stopping.elapsed())
        ),
        None => println!(
            "  stopped in {} (Consul did not say what is left registered)",
            gocompat::duration::human(stopping.elapsed())
        ),
    }
    outcome
}

#[allow(clippy::too_many_arguments)]
fn banner(
    demo: &Demo,
    args: &Args,
    started: Instant,
    dash_addr: SocketAddr,
    app_addr: SocketAddr,
    log: &Log,
    keys: bool,
) {
    let consul = &demo.consul;
    let ready_ms = started.elapsed().as_millis();
    println!("\ndcy demo: every service passing {ready_ms} ms after start (Ctrl-C to stop)");
    println!(
        "  Consul API  {consul}   e.g. curl '{consul}/v1/health/service/worker?passing&tag={TAG}'"
    );
    if let Some(d) = demo
        .agent
        .as_ref()
        .and_then(devagent::AgentHandle::dns_addr)
    {
        println!(
            "  Consul DNS  dig @{} -p {} {TAG}.worker.service.consul SRV",
            d.ip(),
            d.port()
        );
    }
    println!("  Dashboard   http://{dash_addr}/");
    println!("  App stats   http://{app_addr}/stats");
    if let Some(p) = &demo.proxy {
        println!("  {}", p.describe());
    }
    if let Some(c) = &demo.cluster {
        for line in messaging::describe(c) {
            println!("{line}");
        }
    }
    let kept = if args.dir.is_some() {
        "kept"
    } else {
        "removed on exit; --dir DIR keeps it"
    };
    println!(
        "  Log         {} (the services, templater and nginx; {kept})",
        log.path().display()
    );
    if keys && demo.cluster.is_some() {
        println!(
            "  keys: a adds a worker, k kills a worker (SIGKILL), n kills a broker node (SIGKILL), r restarts what was killed last, q or Ctrl-C quits\n"
        );
    } else if keys {
        println!(
            "  keys: a adds a worker, k kills one (SIGKILL), r restarts it, q or Ctrl-C quits\n"
        );
    } else {
        println!("  keys: none (stdin is not a terminal); Ctrl-C or SIGTERM stops the demo\n");
    }
}

/// The running demo: progress, keys, chaos; until `q` or `stop`.
async fn drive(
    demo: &mut Demo,
    args: &Args,
    client: &dcy::Client,
    app_addr: SocketAddr,
    log: &Log,
    keys: Option<mpsc::UnboundedReceiver<Key>>,
    stop: &CancellationToken,
) -> anyhow::Result<()> {
    let check = args.check_interval;
    let http = reqwest::Client::builder()
        .timeout(Duration::from_millis(400))
        .build()?;
    let Some(hub) = demo.hub.clone() else {
        anyhow::bail!("the demo did not start");
    };
    let mut progress = progress::Progress::new(
        std::io::IsTerminal::is_terminal(&std::io::stdout()),
        &hub,
        TAG,
        demo.cluster.is_some(),
    );
    let mut tick = tokio::time::interval(Duration::from_millis(500));
    let mut chaos = args
        .chaos
        .map(|d| tokio::time::interval_at(tokio::time::Instant::now() + d, d));
    let mut restart_at: Option<tokio::time::Instant> = None;
    let mut keys = keys;
    let Some(workers) = demo.workers.as_mut() else {
        anyhow::bail!("no workers");
    };
    // What the keys killed, last first, for `r`.
    let mut killed: Vec<Killed> = Vec::new();
    loop {
        tokio::select! {
            _ = stop.cancelled() => return Ok(()),
            _ = tick.tick() => {
                let upstreams = demo.proxy.as_ref().map(proxy::Proxy::status).unwrap_or_default();
                tokio::select! {
                    _ = stop.cancelled() => return Ok(()),
                    _ = progress.poll(app_addr, &http) => progress.print(&upstreams),
                }
            }
            _ = async { match chaos.as_mut() { Some(c) => { c.tick().await; } None => std::future::pending().await } } => {
                if let Some(n) = workers.kill().await {
                    println!("\n  chaos: killed worker #{n} with SIGKILL");
                    restart_at = Some(tokio::time::Instant::now() + args.chaos.unwrap_or_default() / 2);
                }
            }
            _ = async { match restart_at { Some(t) => tokio::time::sleep_until(t).await, None => std::future::pending().await } } => {
                restart_at = None;
                if let Some(n) = workers.restart(client, log).await? {
                    println!("\n  chaos: deregistered the killed worker #{n} and started it again");
                }
            }
            key = async { match keys.as_mut() { Some(k) => k.recv().await, None => std::future::pending().await } } => match key {
                Some(Key::Add) => {
                    let n = workers.start(None, log).await?;
                    println!("\n  started worker #{n}");
                }
                Some(Key::Kill) => {
                    if let Some(n) = workers.kill().await {
                        killed.push(Killed::Worker);
                        if demo.cluster.is_some() {
                            println!(
                                "\n  killed worker #{n} with SIGKILL: the readings it held unacknowledged go to another worker after {} (r restarts it)",
                                gocompat::duration::human(bus::streams::WORKERS_ACK_WAIT)
                            );
                        } else {
                            println!(
                                "\n  killed worker #{n} with SIGKILL: its check fails within {} and traffic moves (r restarts it)",
                                gocompat::duration::human(check)
                            );
                        }
                    }
                }
                Some(Key::KillNode) => match demo.cluster.as_mut() {
                    None => println!("\n  n kills a broker node with --transport nats; this demo runs over HTTP"),
                    Some(cluster) => match messaging::kill(cluster).await? {
                        Some(i) => {
                            killed.push(Killed::Node(i));
                            let left = cluster.running().len();
                            println!(
                                "\n  killed broker node nats-{} with SIGKILL: registrar deregistered it, its clients reconnect to a node Consul lists; {left} of {} left{} (r restarts it)",
                                i + 1,
                                messaging::NODES,
                                if left * 2 <= messaging::NODES { ", too few for JetStream to take messages until one is back" } else { "" }
                            );
                        }
                        None => println!("\n  no broker node is running (r restarts one)"),
                    },
                },
                Some(Key::Restart) => match (killed.pop(), demo.cluster.as_mut()) {
                    (Some(Killed::Node(i)), Some(cluster)) => {
                        if messaging::restart(cluster, i, stop).await? {
                            println!("\n  restarted broker node nats-{}: it rejoined and passes", i + 1);
                        }
                    }
                    _ => {
                        if let Some(n) = workers.restart(client, log).await? {
                            println!("\n  restarted worker #{n}");
                        }
                    }
                },
                Some(Key::Quit) => return Ok(()),
                // The terminal is gone: no more keys, but no reason to stop.
                None => keys = None,
            }
        }
    }
}

/// What a key killed.
enum Killed {
    Worker,
    Node(usize),
}
