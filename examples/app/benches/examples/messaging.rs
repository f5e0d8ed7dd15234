//! Figures 4 and 5: the messaging mode (`--transport nats`) against HTTP.
//!
//! 4. Readings per second through sensor → worker → app, and end-to-end
//!    latency p50/p99 at a fixed offered rate, over the broker and over
//!    HTTP in the same run (2 workers each). Over the broker: a sensor
//!    process publishing `--count` readings as fast as the stream takes
//!    them, the throughput is readings over the time from the app's first
//!    square to its last; latency is the sensor's publish → the app's
//!    receipt. Over HTTP: the app's rounds (`load::throughput`, 8 callers
//!    through discovery), and for latency an open-loop caller starting one
//!    round every 1/rate s.
//! 5. Losses and duplicates over 5 worker kills and 2 broker-node kills
//!    under load, and the time the clients of a killed node took to
//!    reconnect to another (from the connection breaking to the next one
//!    standing, as each client measures it).
//!
//! The broker: three nats-server nodes under `demo registrar run` (the
//! registrar's code in the demo binary), as the demo runs them.

use super::*;

use bus::cluster::{Cluster, ClusterSpec};

const TAG: &str = "bench-nats";
/// Throughput runs on each side (the median is the figure).
const RUNS: usize = 3;

fn readings() -> u64 {
    env_or("EXAMPLES_BENCH_NATS_READINGS", 20_000u64).clamp(1_000, 1_000_000)
}

fn rate() -> f64 {
    env_or("EXAMPLES_BENCH_NATS_RATE", 500.0f64).clamp(10.0, 100_000.0)
}

async fn cluster(s: &Settings, consul: &str, dir: &Path) -> Cluster {
    Cluster::start(
        ClusterSpec {
            nodes: 3,
            dir: dir.to_path_buf(),
            consul: consul.to_string(),
            tag: Some(TAG.into()),
            check_interval: CHECK_INTERVAL,
            registrar: vec![s.bin("demo").into(), "registrar".into()],
            nats_server: bus::cluster::find_nats_server().expect("nats-server"),
            name: TAG.into(),
            log: Some(dir.join("cluster.log")),
        },
        LIMIT,
    )
    .await
    .expect("the broker cluster starts")
}

/// A worker or sensor process over the broker; returns it and its address.
async fn nats_service(s: &Settings, name: &str, consul: &str, extra: &[&str]) -> (Proc, String) {
    let interval = format!("{}ms", CHECK_INTERVAL.as_millis());
    let mut args = vec![
        "--http-addr",
        consul,
        "--check-interval",
        &interval,
        "--tag",
        TAG,
        "--transport",
        "nats",
    ];
    args.extend_from_slice(extra);
    // Its log next to the cluster's, shown when it does not start.
    let log = std::env::temp_dir().join(format!("bench-nats-{name}-{}.log", std::process::id()));
    let mut child = Command::new(s.bin(name))
        .args(&args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(
            std::fs::File::create(&log)
                .map(Stdio::from)
                .unwrap_or_else(|_| Stdio::null()),
        )
        .kill_on_drop(true)
        .spawn()
        .unwrap_or_else(|e| panic!("spawning {name}: {e}"));
    let mut lines = BufReader::new(child.stdout.take().expect("piped stdout")).lines();
    let needle = format!("{name} listening on");
    let Some(line) = read_until(&mut lines, &needle, LIMIT).await else {
        let text = std::fs::read_to_string(&log).unwrap_or_default();
        panic!("{name} printed no {needle:?} line within {LIMIT:?}; its log:\n{text}");
    };
    let _ = std::fs::remove_file(&log);
    bench::drain(lines);
    let addr = line.rsplit(' ').next().expect("an address").to_string();
    (
        Proc {
            name: name.to_string(),
            child,
        },
        addr,
    )
}

/// The app over the broker, in this process; returns its address and its stop.
async fn nats_app(consul: &str) -> (String, CancellationToken, tokio::task::JoinHandle<()>) {
    let mut svc = kit::ServiceArgs::local(consul);
    svc.tag = Some(TAG.into());
    svc.check_interval = CHECK_INTERVAL;
    let args = app::Args {
        transport: bus::Transport::Nats,
        ..app::Args::new(svc)
    };
    let stop = CancellationToken::new();
    let (tx, rx) = tokio::sync::oneshot::channel();
    let s = stop.clone();
    let task = tokio::spawn(async move {
        let r = app::run(args, async move { s.cancelled().await }, move |a| {
            let _ = tx.send(a);
        })
        .await;
        if let Err(e) = r {
            eprintln!("examples bench: the app over the broker: {e:#}");
        }
    });
    let addr = tokio::time::timeout(LIMIT, rx)
        .await
        .expect("the app starts")
        .expect("the app starts");
    (addr.to_string(), stop, task)
}

fn http() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(3))
        .build()
        .expect("an HTTP client")
}

async fn get_json<T: serde::de::DeserializeOwned + Default>(
    http: &reqwest::Client,
    url: &str,
) -> T {
    match http.get(url).send().await {
        Ok(r) => r.json().await.unwrap_or_default(),
        Err(_) => T::default(),
    }
}

async fn app_stats(http: &reqwest::Client, app: &str) -> Stats {
    get_json(http, &format!("http://{app}/stats")).await
}

/// Waits (bounded) until the app counted `n`; returns when it first
/// counted one and when it reached `n` (polled every 10 ms).
async fn until_counted(
    http: &reqwest::Client,
    app: &str,
    n: u64,
    limit: Duration,
) -> Option<(Instant, Instant, Stats)> {
    let deadline = Instant::now() + limit;
    let mut first = None;
    loop {
        let s = app_stats(http, app).await;
        let now = Instant::now();
        if s.ok > 0 && first.is_none() {
            first = Some(now);
        }
        if s.ok >= n {
            return Some((first.unwrap_or(now), now, s));
        }
        if now >= deadline {
            eprintln!("examples bench: the app counted {} of {n}", s.ok);
            return None;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

#[derive(Debug, Default)]
pub(crate) struct Compare {
    /// Readings/s of each run, over the broker and over HTTP.
    nats_runs: Vec<f64>,
    http_runs: Vec<f64>,
    nats_per_s: f64,
    nats_readings: u64,
    nats_latency: bus::LatencySummary,
    nats_saturated: bus::LatencySummary,
    http_per_s: f64,
    http_latency: bus::LatencySummary,
    http_callers: usize,
    rate: f64,
}

/// HTTP: one round every 1/`rate` s for `n` rounds (at most 512 at once);
/// their latencies.
async fn open_loop(target: Target, rate: f64, n: u64) -> bus::LatencySummary {
    let lat = Arc::new(Mutex::new(bus::Latency::default()));
    let limit = Arc::new(tokio::sync::Semaphore::new(512));
    let started = tokio::time::Instant::now();
    let mut tasks = Vec::new();
    for i in 0..n {
        tokio::time::sleep_until(started + Duration::from_secs_f64(i as f64 / rate)).await;
        let Ok(permit) = Arc::clone(&limit).acquire_owned().await else {
            break;
        };
        let (t, lat) = (target.clone(), Arc::clone(&lat));
        tasks.push(tokio::spawn(async move {
            let at = Instant::now();
            if t.round().await.is_ok() {
                lat.lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner)
                    .record(at.elapsed());
            }
            drop(permit);
        }));
    }
    for t in tasks {
        let _ = t.await;
    }
    let s = lat
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .summary();
    s
}

pub(crate) async fn compare(s: &Settings) -> Compare {
    let http = http();
    let (rate, n) = (rate(), readings());
    let mut out = Compare {
        rate,
        nats_readings: n,
        http_callers: s.concurrency,
        ..Compare::default()
    };

    // Over HTTP.
    {
        let (agent, consul) = agent(s).await;
        let (sensor, _, _) = service(s, "sensor", &consul).await;
        let w1 = service(s, "worker", &consul).await;
        let w2 = service(s, "worker", &consul).await;
        let d = discovery(&consul);
        d.wait_for(&["sensor", "worker"], LIMIT)
            .await
            .expect("sensor and workers");
        assert!(until_workers(&d, LIMIT, |i| i.len() == 2).await.is_some());
        let target = Target::discovery(&d);
        for _ in 0..RUNS {
            out.http_runs.push(
                crate::load::throughput(target.clone(), n, s.concurrency)
                    .await
                    .expect("HTTP rounds"),
            );
        }
        out.http_per_s = median(&out.http_runs);
        let latency_rounds = (rate * 10.0) as u64;
        out.http_latency = open_loop(target, rate, latency_rounds).await;
        for p in [w1.0, w2.0, sensor, agent] {
            p.stop().await;
        }
    }

    // Over the broker.
    let (agent, consul) = agent(s).await;
    let dir = tempfile::tempdir().expect("a temporary directory");
    let mut nodes = cluster(s, &consul, dir.path()).await;
    let w1 = nats_service(s, "worker", &consul, &[]).await;
    let w2 = nats_service(s, "worker", &consul, &[]).await;
    // Latency at the fixed rate.
    let (app, stop, task) = nats_app(&consul).await;
    let latency_readings = (rate * 10.0) as u64;
    let (sensor, _) = nats_service(
        s,
        "sensor",
        &consul,
        &[
            "--rate",
            &rate.to_string(),
            "--count",
            &latency_readings.to_string(),
        ],
    )
    .await;
    let (_, _, st) = until_counted(&http, &app, latency_readings, Duration::from_secs(120))
        .await
        .expect("every reading squared at the fixed rate");
    out.nats_latency = st.latency;
    sensor.stop().await;
    stop.cancel();
    let _ = task.await;
    // Throughput: as fast as the stream takes them, RUNS times.
    for _ in 0..RUNS {
        let (app, stop, task) = nats_app(&consul).await;
        let (sensor, _) = nats_service(
            s,
            "sensor",
            &consul,
            &[
                "--rate",
                "0",
                "--count",
                &n.to_string(),
                "--in-flight",
                "512",
            ],
        )
        .await;
        let (first, last, st) = until_counted(&http, &app, n, Duration::from_secs(600))
            .await
            .expect("every reading squared");
        out.nats_runs
            .push((n - 1) as f64 / last.duration_since(first).as_secs_f64().max(1e-6));
        out.nats_saturated = st.latency;
        sensor.stop().await;
        stop.cancel();
        let _ = task.await;
    }
    out.nats_per_s = median(&out.nats_runs);
    for p in [w1.0, w2.0] {
        p.stop().await;
    }
    nodes.stop(Duration::from_secs(5)).await;
    agent.stop().await;
    out
}

pub(crate) fn report_compare((c, load): &(Compare, Load), commit: &str) -> (String, String) {
    let (mut rows, mut details) = (String::new(), String::new());
    let _ = writeln!(
        rows,
        "| 4a. Readings/s through sensor → worker → app, 2 workers: NATS JetStream (R3, acks, IDs) / HTTP, median of {RUNS} runs | {:.0} / {:.0} ({:+.0} %) (runs: NATS {}; HTTP {}) | report | - | {} | {commit} |",
        c.nats_per_s,
        c.http_per_s,
        (c.nats_per_s / c.http_per_s - 1.0) * 100.0,
        list(&c.nats_runs, 0),
        list(&c.http_runs, 0),
        load.cell()
    );
    let _ = writeln!(
        rows,
        "| 4b. End-to-end latency at {:.0} readings/s offered, p50 / p99: NATS / HTTP | {:.2} / {:.2} ms; {:.2} / {:.2} ms | report | - | {} | {commit} |",
        c.rate,
        c.nats_latency.p50_ms,
        c.nats_latency.p99_ms,
        c.http_latency.p50_ms,
        c.http_latency.p99_ms,
        load.cell()
    );
    let _ = writeln!(
        details,
        "**4.** Over HTTP: sensor and 2 worker processes, the app's rounds in the bench process through discovery ({} callers, {} rounds a run) for readings/s; for latency one round started every {:.1} ms (open loop, ≤ 512 at once), {} rounds. \
         Over the broker: 3 nats-server nodes under `demo registrar run`, 2 worker processes (64 readings at once each), the app in the bench process; latency: a sensor process at `--rate {:.0} --count {}` (publish → the app's receipt, {} samples); readings/s: a sensor at `--rate 0 --count {} --in-flight 512`, from the app's first square to its last ({} squares each run; latency in the last run, queueing included: p50 {:.1} ms, p99 {:.1} ms).\n",
        c.http_callers, c.nats_readings, 1000.0 / c.rate, (c.rate * 10.0) as u64,
        c.rate, (c.rate * 10.0) as u64, c.nats_latency.count, c.nats_readings, c.nats_readings,
        c.nats_saturated.p50_ms, c.nats_saturated.p99_ms
    );
    (rows, details)
}

#[derive(Debug, Default)]
pub(crate) struct Chaos {
    readings: u64,
    counted: u64,
    duplicates_dropped: u64,
    ranges: Vec<[u64; 2]>,
    worker_kills: usize,
    node_kills: usize,
    /// Per node kill: each client of the killed node, its reconnect time (ms).
    reconnects: Vec<Vec<(String, f64)>>,
    sensor_retries: u64,
    failed: u64,
}

async fn broker_of(http: &reqwest::Client, addr: &str) -> bus::BrokerStatus {
    let v: serde_json::Value = get_json(http, &format!("http://{addr}/stats")).await;
    serde_json::from_value(v["broker"].clone()).unwrap_or_default()
}

pub(crate) async fn chaos(s: &Settings) -> Chaos {
    let http = http();
    let rate = rate();
    // 5 worker kills at 1.5 s, 2 node kills: about 20 s of readings.
    let n = (rate * 20.0) as u64;
    let (agent, consul) = agent(s).await;
    let dir = tempfile::tempdir().expect("a temporary directory");
    let mut nodes = cluster(s, &consul, dir.path()).await;
    let mut workers = VecDeque::new();
    for _ in 0..3 {
        workers.push_back(nats_service(s, "worker", &consul, &[]).await);
    }
    let (app, stop, task) = nats_app(&consul).await;
    let (sensor, sensor_addr) = nats_service(
        s,
        "sensor",
        &consul,
        &["--rate", &rate.to_string(), "--count", &n.to_string()],
    )
    .await;
    let mut out = Chaos {
        readings: n,
        ..Chaos::default()
    };
    until_counted(&http, &app, 200, LIMIT)
        .await
        .expect("squares flow");
    for _ in 0..5 {
        let (victim, _) = workers.pop_front().expect("a worker");
        victim.signal(nix::sys::signal::Signal::SIGKILL);
        drop(victim);
        out.worker_kills += 1;
        workers.push_back(nats_service(s, "worker", &consul, &[]).await);
        tokio::time::sleep(Duration::from_millis(1500)).await;
    }
    for _ in 0..2 {
        // The node the sensor uses; its clients are the sensor, the app
        // and the workers connected to it.
        let mut clients: Vec<(String, String)> = vec![
            ("sensor".into(), sensor_addr.clone()),
            ("app".into(), app.clone()),
        ];
        for (i, (_, a)) in workers.iter().enumerate() {
            clients.push((format!("worker {}", i + 1), a.clone()));
        }
        let mut before = Vec::new();
        for (name, a) in &clients {
            before.push((name.clone(), a.clone(), broker_of(&http, a).await));
        }
        let used = before[0].2.server.clone();
        let index = nodes
            .nodes()
            .iter()
            .position(|n| n.name == used)
            .expect("the sensor's node");
        nodes.kill(index).await.expect("killing a node");
        out.node_kills += 1;
        let mut times = Vec::new();
        for (name, a, b) in before.iter().filter(|(_, _, b)| b.server == used) {
            let deadline = Instant::now() + LIMIT;
            loop {
                let now = broker_of(&http, a).await;
                if now.reconnects > b.reconnects && now.connected {
                    times.push((name.clone(), now.last_reconnect_ms.unwrap_or(f64::NAN)));
                    break;
                }
                if Instant::now() >= deadline {
                    times.push((name.clone(), f64::NAN));
                    break;
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        }
        out.reconnects.push(times);
        tokio::time::sleep(Duration::from_secs(2)).await;
        nodes
            .restart(index, LIMIT)
            .await
            .expect("the node restarts");
    }
    let (_, _, st) = until_counted(&http, &app, n, Duration::from_secs(120))
        .await
        .expect("every reading squared");
    // Nothing more comes: give redeliveries their ack wait.
    tokio::time::sleep(bus::streams::WORKERS_ACK_WAIT + Duration::from_secs(1)).await;
    let end = app_stats(&http, &app).await;
    let sent: serde_json::Value = get_json(&http, &format!("http://{sensor_addr}/stats")).await;
    assert_eq!(
        sent["published"], n,
        "the sensor published every reading: {sent}"
    );
    out.counted = end.ok;
    out.duplicates_dropped = end.duplicates;
    out.failed = end.failed + end.wrong;
    out.ranges = end
        .received
        .values()
        .flat_map(|r| r.ranges.clone())
        .collect();
    out.sensor_retries = sent["retries"].as_u64().unwrap_or(0);
    let _ = st;
    sensor.stop().await;
    stop.cancel();
    let _ = task.await;
    while let Some((w, _)) = workers.pop_front() {
        w.stop().await;
    }
    nodes.stop(Duration::from_secs(5)).await;
    agent.stop().await;
    out
}

pub(crate) fn report_chaos((c, load): &(Chaos, Load), commit: &str) -> (String, String) {
    let (mut rows, mut details) = (String::new(), String::new());
    let lost = c.readings.saturating_sub(c.counted);
    let doubled = c.counted.saturating_sub(c.readings);
    let whole = c.ranges == [[0, c.readings.saturating_sub(1)]];
    let _ = writeln!(
        rows,
        "| 5a. Messages lost / doubled (after de-duplication) over {} worker kills and {} broker-node kills (SIGKILL) | {lost} / {doubled} of {} ({} redelivered squares dropped by the app; IDs {}) | 0 / 0 | {} | {} | {commit} |",
        c.worker_kills,
        c.node_kills,
        c.readings,
        c.duplicates_dropped,
        if whole { "0 to n−1, each once" } else { "with gaps" },
        yes_no(lost == 0 && doubled == 0 && whole && c.failed == 0),
        load.cell()
    );
    let all: Vec<f64> = c.reconnects.iter().flatten().map(|(_, ms)| *ms).collect();
    let _ = writeln!(
        rows,
        "| 5b. Clients of a killed broker node: connection broken → connected to another node Consul lists, median / max | {:.1} / {:.1} ms ({} reconnections) | report | - | {} | {commit} |",
        median(&all),
        max(&all),
        all.len(),
        load.cell()
    );
    let _ = writeln!(
        details,
        "**5.** 3 nats-server nodes, 3 worker processes, the app in the bench process, a sensor at `--rate {:.0} --count {}`; a worker killed with SIGKILL and a new one started every 1.5 s, 5 times; then twice: the sensor's node killed with SIGKILL, its clients' reconnections read from their `/stats`, 2 s, the node started again (same store) and passing. The sensor retried {} publishes. Reconnection per client, per node kill: {}.\n",
        rate(),
        c.readings,
        c.sensor_retries,
        c.reconnects
            .iter()
            .map(|k| k.iter().map(|(n, ms)| format!("{n} {ms:.1} ms")).collect::<Vec<_>>().join(", "))
            .collect::<Vec<_>>()
            .join("; ")
    );
    (rows, details)
}
