//! The demo: one command that starts everything.
//!
//! An embedded devagent (on Consul's ports 8500/8600 when free), or the
//! Consul at `CONSUL_HTTP_ADDR`; the sensor, the workers (as child processes,
//! so they can really be killed), the app, templater rendering an nginx
//! upstream list (and nginx itself when it is installed), and the dashboard.
//! It prints the URLs and a live line of progress, takes keys to add, kill
//! and restart workers, and on Ctrl-C stops everything, deregistered.
#![warn(missing_docs)]

mod proxy;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use clap::{Parser, Subcommand};
use tokio::io::AsyncBufReadExt;
use tokio::process::{Child, Command};
use tokio::sync::oneshot;
use tokio_util::sync::CancellationToken;

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
    /// Kill a worker every this many seconds and restart it half as long later.
    #[arg(long, value_parser = gocompat::duration::parse)]
    pub chaos: Option<Duration>,
    /// Directory for rendered files (default: a temporary one).
    #[arg(long)]
    pub dir: Option<PathBuf>,
    /// Check interval of the services' HTTP checks.
    #[arg(long = "check-interval", default_value = "1s", value_parser = gocompat::duration::parse)]
    pub check_interval: Duration,
}

/// Internal roles of the demo binary.
#[derive(Debug, Subcommand)]
pub enum Role {
    /// One worker (started by the demo as a child process).
    #[command(hide = true)]
    Worker(worker::Args),
}

/// A worker child process.
struct WorkerProc {
    child: Child,
    n: usize,
    /// Its service ID (`worker-<port>`), known once it is listening.
    id: String,
}

/// Starts a worker process and waits until it is registered.
async fn spawn_worker(consul: &str, n: usize, check: Duration) -> anyhow::Result<WorkerProc> {
    let exe = std::env::current_exe()?;
    let mut child = Command::new(exe)
        .args([
            "worker",
            "--http-addr",
            consul,
            "--check-interval",
            &format!("{}ms", check.as_millis()),
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()?;
    let out = child
        .stdout
        .take()
        .ok_or_else(|| anyhow::anyhow!("worker #{n}: no stdout"))?;
    let mut lines = tokio::io::BufReader::new(out).lines();
    let line = tokio::time::timeout(Duration::from_secs(30), lines.next_line())
        .await
        .map_err(|_| anyhow::anyhow!("worker #{n} did not start within 30s"))??
        .ok_or_else(|| anyhow::anyhow!("worker #{n} exited at start"))?;
    let port = line
        .rsplit(':')
        .next()
        .unwrap_or_default()
        .trim()
        .to_string();
    Ok(WorkerProc {
        child,
        n,
        id: format!("worker-{port}"),
    })
}

fn sigterm(child: &Child) {
    if let Some(pid) = child.id().and_then(|p| i32::try_from(p).ok()) {
        let _ = nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(pid),
            nix::sys::signal::Signal::SIGTERM,
        );
    }
}

/// A service run in-process.
struct Task {
    stop: CancellationToken,
    handle: tokio::task::JoinHandle<anyhow::Result<()>>,
}

fn service_args(consul: &str, check: Duration) -> kit::ServiceArgs {
    let mut s = kit::ServiceArgs::local(consul);
    s.check_interval = check;
    s
}

async fn start_in_process<F, Fut>(name: &str, run: F) -> anyhow::Result<(Task, SocketAddr)>
where
    F: FnOnce(CancellationToken, oneshot::Sender<SocketAddr>) -> Fut,
    Fut: std::future::Future<Output = anyhow::Result<()>> + Send + 'static,
{
    let stop = CancellationToken::new();
    let (tx, rx) = oneshot::channel();
    let handle = tokio::spawn(run(stop.clone(), tx));
    match tokio::time::timeout(Duration::from_secs(60), rx).await {
        Ok(Ok(addr)) => Ok((Task { stop, handle }, addr)),
        _ => {
            stop.cancel();
            match handle.await {
                Ok(Err(e)) => Err(e.context(format!("starting {name}"))),
                _ => anyhow::bail!("{name} did not start"),
            }
        }
    }
}

/// What the progress line shows.
#[derive(Default)]
struct Progress {
    workers: usize,
    passing: usize,
    ok: u64,
    failed: u64,
}

async fn poll_progress(
    client: &dcy::Client,
    app: SocketAddr,
    http: &reqwest::Client,
    p: &Mutex<Progress>,
) {
    let all = client
        .health_service("worker", &dcy::QueryOptions::default())
        .await;
    let stats: Option<app::Stats> = match http.get(format!("http://{app}/stats")).send().await {
        Ok(r) => r.json().await.ok(),
        Err(_) => None,
    };
    let mut p = p.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    if let Ok((entries, _)) = all {
        p.workers = entries.len();
        p.passing = entries
            .iter()
            .filter(|e| e.aggregated_status() == dcy::Status::Passing)
            .count();
    }
    if let Some(s) = stats {
        p.ok = s.ok;
        p.failed = s.failed;
    }
}

/// Runs the demo until Ctrl-C (or `q`).
pub async fn run(args: Args) -> anyhow::Result<()> {
    let started = Instant::now();
    let (agent, consul) = match &args.consul {
        Some(addr) => (None, addr.clone()),
        None => {
            let agent = match devagent::Agent::builder()
                .http_port(args.http_port)
                .dns_port(args.dns_port)
                .start()
                .await
            {
                Ok(a) => a,
                Err(e) => {
                    eprintln!(
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
            (Some(agent), url)
        }
    };
    let client = dcy::Client::new(dcy::Config::builder().address(&consul).build()?)?;
    let check = args.check_interval;
    let dir = match &args.dir {
        Some(d) => d.clone(),
        None => std::env::temp_dir().join(format!("dcy-demo-{}", std::process::id())),
    };
    std::fs::create_dir_all(&dir)?;

    let mut tasks = Vec::new();
    let c = consul.clone();
    let (sensor, _) = start_in_process("sensor", move |stop, tx| async move {
        sensor::run(
            sensor::Args {
                service: service_args(&c, check),
            },
            async move { stop.cancelled().await },
            move |a| {
                let _ = tx.send(a);
            },
        )
        .await
    })
    .await?;
    tasks.push(sensor);
    let mut workers: Vec<WorkerProc> = Vec::new();
    for n in 0..args.workers {
        workers.push(spawn_worker(&consul, n + 1, check).await?);
    }
    let c = consul.clone();
    let (app_task, app_addr) = start_in_process("app", move |stop, tx| async move {
        let a = app::Args {
            service: service_args(&c, check),
            interval: Duration::from_millis(2),
            concurrency: 4,
            wait_for: Duration::from_secs(30),
        };
        app::run(a, async move { stop.cancelled().await }, move |addr| {
            let _ = tx.send(addr);
        })
        .await
    })
    .await?;
    tasks.push(app_task);
    let c = consul.clone();
    let (dash_task, dash_addr) = start_in_process("dashboard", move |stop, tx| async move {
        let interval = format!("{}ms", check.as_millis());
        let a = <dashboard::Args as Parser>::try_parse_from([
            "dashboard",
            "--http-addr",
            &c,
            "--check-interval",
            &interval,
        ])?;
        dashboard::run(a, async move { stop.cancelled().await }, move |addr| {
            let _ = tx.send(addr);
        })
        .await
    })
    .await?;
    tasks.push(dash_task);
    let mut proxy = proxy::Proxy::start(&consul, &dir, args.nginx_port, !args.no_nginx).await?;

    // Every service passing: the sensor, the workers, the app, the dashboard.
    let want = 3 + args.workers;
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let (list, _) = client
            .health_state("passing", &dcy::QueryOptions::default())
            .await?;
        let passing = list.iter().filter(|c| !c.service_id.is_empty()).count();
        if passing >= want || Instant::now() > deadline {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let ready_ms = started.elapsed().as_millis();
    let dns = agent.as_ref().and_then(devagent::AgentHandle::dns_addr);
    println!("\ndcy demo: every service passing {ready_ms} ms after start (Ctrl-C to stop)");
    println!("  Consul API  {consul}   e.g. curl '{consul}/v1/health/service/worker?passing'");
    if let Some(d) = dns {
        println!(
            "  Consul DNS  dig @{} -p {} worker.service.consul SRV",
            d.ip(),
            d.port()
        );
    }
    println!("  Dashboard   http://{dash_addr}/");
    println!("  App stats   http://{app_addr}/stats");
    println!("  {}", proxy.describe());
    println!("  keys: a + Enter adds a worker, k kills one (SIGKILL), r restarts it, q quits\n");

    let stop = CancellationToken::new();
    let s = stop.clone();
    tokio::spawn(async move {
        kit::shutdown_signal().await;
        s.cancel();
    });
    let (keys_tx, mut keys) = tokio::sync::mpsc::unbounded_channel::<String>();
    tokio::spawn(async move {
        let mut lines = tokio::io::BufReader::new(tokio::io::stdin()).lines();
        while let Ok(Some(l)) = lines.next_line().await {
            if keys_tx.send(l.trim().to_string()).is_err() {
                return;
            }
        }
    });
    let progress = Arc::new(Mutex::new(Progress::default()));
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(2))
        .build()?;
    let mut tick = tokio::time::interval(Duration::from_millis(500));
    let mut chaos = args
        .chaos
        .map(|d| tokio::time::interval_at(tokio::time::Instant::now() + d, d));
    let mut killed: Vec<(usize, String)> = Vec::new();
    let mut restart_at: Option<tokio::time::Instant> = None;
    let mut next_n = args.workers + 1;
    let mut last_ok = 0u64;
    loop {
        tokio::select! {
            _ = stop.cancelled() => break,
            _ = tick.tick() => {
                poll_progress(&client, app_addr, &http, &progress).await;
                let p = progress.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
                let rate = (p.ok.saturating_sub(last_ok)) * 2;
                last_ok = p.ok;
                print!("\r  workers {}/{} passing | app ok {} failed {} ({rate}/s) | {}   ", p.passing, p.workers, p.ok, p.failed, proxy.status());
                use std::io::Write;
                let _ = std::io::stdout().flush();
            }
            _ = async { match chaos.as_mut() { Some(c) => { c.tick().await; } None => std::future::pending().await } } => {
                if let Some(mut w) = workers.pop() {
                    let _ = w.child.start_kill();
                    let _ = w.child.wait().await;
                    println!("\n  chaos: killed worker #{} with SIGKILL", w.n);
                    killed.push((w.n, w.id.clone()));
                    restart_at = Some(tokio::time::Instant::now() + args.chaos.unwrap_or_default() / 2);
                }
            }
            _ = async { match restart_at { Some(t) => tokio::time::sleep_until(t).await, None => std::future::pending().await } } => {
                restart_at = None;
                workers.push(spawn_worker(&consul, next_n, check).await?);
                println!("\n  chaos: started worker #{next_n}");
                next_n += 1;
            }
            key = keys.recv() => match key.as_deref() {
                Some("a") => {
                    workers.push(spawn_worker(&consul, next_n, check).await?);
                    println!("\n  started worker #{next_n}");
                    next_n += 1;
                }
                Some("k") => {
                    if let Some(mut w) = workers.pop() {
                        let _ = w.child.start_kill();
                        let _ = w.child.wait().await;
                        killed.push((w.n, w.id.clone()));
                        println!("\n  killed worker #{} with SIGKILL: its check fails within {check:?} and traffic moves", w.n);
                    }
                }
                Some("r") => {
                    if let Some((n, old_id)) = killed.pop() {
                        // The killed instance never deregistered: clear it, start a new one.
                        let _ = client.deregister_service(&old_id).await;
                        workers.push(spawn_worker(&consul, n, check).await?);
                        println!("\n  restarted worker #{n}");
                    }
                }
                Some("q") | None => break,
                _ => {}
            }
        }
    }
    println!("\n  stopping: deregistering everything");
    // The app first, so nothing calls a worker that is going away.
    let mut tasks = tasks.into_iter();
    let (sensor_task, app_task, dash_task) = (tasks.next(), tasks.next(), tasks.next());
    if let Some(t) = &app_task {
        t.stop.cancel();
    }
    if let Some(t) = app_task {
        let _ = t.handle.await;
    }
    for w in &workers {
        sigterm(&w.child);
    }
    for w in &mut workers {
        let _ = tokio::time::timeout(Duration::from_secs(5), w.child.wait()).await;
    }
    // Workers killed with SIGKILL never deregistered themselves.
    for (_, id) in &killed {
        let _ = client.deregister_service(id).await;
    }
    let tasks: Vec<Task> = [sensor_task, dash_task].into_iter().flatten().collect();
    for t in &tasks {
        t.stop.cancel();
    }
    for t in tasks {
        match t.handle.await {
            Ok(Err(e)) => eprintln!("  a service stopped with an error: {e:#}"),
            Err(e) => eprintln!("  a service panicked: {e}"),
            Ok(Ok(())) => {}
        }
    }
    proxy.stop().await;
    let left = client.agent_services().await.map(|s| s.len()).unwrap_or(0);
    if let Some(a) = agent {
        a.shutdown().await;
    }
    println!("  stopped ({left} services left registered)");
    Ok(())
}

/// The binary's entry point.
pub fn main() -> std::process::ExitCode {
    let args = Args::parse_from(gocompat::flags::normalize(std::env::args()));
    if let Some(Role::Worker(w)) = args.role {
        // Die with the demo, even if it is killed.
        let _ = nix::sys::prctl::set_pdeathsig(nix::sys::signal::Signal::SIGTERM);
        return kit::main(|| {
            worker::run(w, kit::shutdown_signal(), |addr| {
                println!("worker listening on {addr}")
            })
        });
    }
    kit::main(|| run(args))
}
