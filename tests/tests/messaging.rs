//! The messaging mode end to end, as real processes: devagent, three
//! nats-server nodes each run and registered by registrar (`e2e-registrar
//! run`), three workers, the app and the sensor, all with `--transport
//! nats` and no broker address anywhere (they find it through Consul).
//! Under load a worker is killed with SIGKILL, then the broker node the
//! sensor uses: every reading the sensor sent arrives squared at the app,
//! each counted once. The dashboard shows the broker's nodes and streams.
//! And the demo's keys in that mode, on a pseudo-terminal: `n` kills a
//! broker node, `r` brings it back, `k` kills a worker, while squares keep
//! arriving.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::{Read, Write};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use e2e::{bin, devagent, read_line, spawn, Proc};
use nix::sys::signal::Signal;

const TAG: &str = "e2e-nats";
const READINGS: u64 = 3000;
const RATE: &str = "300";

async fn json(http: &reqwest::Client, url: &str) -> Option<serde_json::Value> {
    http.get(url).send().await.ok()?.json().await.ok()
}

async fn app_stats(http: &reqwest::Client, app: &str) -> app::Stats {
    match http.get(format!("http://{app}/stats")).send().await {
        Ok(r) => r.json().await.unwrap_or_default(),
        Err(_) => app::Stats::default(),
    }
}

/// Polls `f` every 50 ms until it gives `Some` or `limit` passes.
async fn until<T, F, Fut>(limit: Duration, mut f: F) -> Option<T>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = Instant::now() + limit;
    loop {
        if let Some(v) = f().await {
            return Some(v);
        }
        if Instant::now() >= deadline {
            return None;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// `name --transport nats ...`, up to its `listening on ADDR` line.
async fn service(name: &str, consul: &str, extra: &[&str]) -> (Proc, String) {
    let mut args = vec![
        "--http-addr",
        consul,
        "--check-interval",
        "1s",
        "--tag",
        TAG,
        "--transport",
        "nats",
    ];
    args.extend_from_slice(extra);
    let mut p = spawn(name, &args).unwrap();
    let line = read_line(
        &mut p,
        &format!("{name} listening on"),
        Duration::from_secs(30),
    )
    .await
    .unwrap_or_else(|| panic!("{name} did not start"));
    let addr = line.rsplit(' ').next().unwrap().to_string();
    (p, addr)
}

/// One at a time: each runs a broker cluster and its services on two cores.
static ONE_AT_A_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_reading_lost_or_doubled_when_a_worker_and_a_broker_node_die() {
    let _one = ONE_AT_A_TIME.lock().await;
    let nats_server =
        bus::cluster::find_nats_server().unwrap_or_else(|e| panic!("{e} (.ci/test installs it)"));
    let (_agent, http_addr) = devagent(0).await;
    let consul = format!("http://{http_addr}");
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("cluster.log");
    let mut cluster = bus::cluster::Cluster::start(
        bus::cluster::ClusterSpec {
            nodes: 3,
            dir: dir.path().to_path_buf(),
            consul: consul.clone(),
            tag: Some(TAG.into()),
            check_interval: Duration::from_secs(1),
            registrar: vec![bin("e2e-registrar").into()],
            nats_server,
            name: "e2e".into(),
            log: Some(log.clone()),
        },
        Duration::from_secs(30),
    )
    .await
    .unwrap_or_else(|e| {
        panic!(
            "{e:#}\n{}",
            std::fs::read_to_string(&log).unwrap_or_default()
        )
    });
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(3))
        .build()
        .unwrap();
    // Registered by registrar, with the check on the monitoring endpoint.
    let nodes = json(
        &http,
        &format!("{consul}/v1/health/service/nats?passing&tag={TAG}"),
    )
    .await
    .unwrap();
    let nodes = nodes.as_array().unwrap();
    assert_eq!(nodes.len(), 3, "{nodes:?}");
    for n in nodes {
        assert_eq!(n["Service"]["Meta"]["managed-by"], "registrar", "{n}");
        assert!(
            n["Checks"]
                .as_array()
                .unwrap()
                .iter()
                .any(|c| c["Definition"]["HTTP"]
                    .as_str()
                    .is_some_and(|u| u.ends_with("/healthz"))
                    || c["Output"].as_str().is_some_and(|o| o.contains("/healthz"))),
            "a check on /healthz: {n}"
        );
    }

    // The dashboard, in this process.
    let (dash_tx, dash_rx) = tokio::sync::oneshot::channel();
    let (_dash_stop, dash_stopped) = tokio::sync::oneshot::channel::<()>();
    let mut svc = kit::ServiceArgs::local(&consul);
    svc.tag = Some(TAG.into());
    tokio::spawn(dashboard::run(
        dashboard::Args::new(svc),
        async move {
            let _ = dash_stopped.await;
        },
        move |a| {
            let _ = dash_tx.send(a);
        },
    ));
    let dash = tokio::time::timeout(Duration::from_secs(20), dash_rx)
        .await
        .unwrap()
        .unwrap();

    let mut workers = Vec::new();
    for _ in 0..3 {
        workers.push(service("worker", &consul, &[]).await);
    }
    let (_app, app) = service("app", &consul, &[]).await;
    let count = READINGS.to_string();
    let (_sensor, sensor) = service("sensor", &consul, &["--rate", RATE, "--count", &count]).await;
    let sensor_stats = |http: reqwest::Client, sensor: String| async move {
        json(&http, &format!("http://{sensor}/stats")).await
    };

    // Under load: a worker dies.
    let ok_before = |at: u64| {
        let (http, app) = (http.clone(), app.clone());
        async move {
            until(Duration::from_secs(20), || async {
                (app_stats(&http, &app).await.ok >= at).then_some(())
            })
            .await
        }
    };
    ok_before(300).await.expect("squares flow");
    let (victim, _) = workers.remove(0);
    victim.signal(Signal::SIGKILL);
    let after_worker = app_stats(&http, &app).await.ok;

    // Then the broker node the sensor is connected to.
    ok_before(after_worker + 300)
        .await
        .expect("squares flow after the worker died");
    let s = sensor_stats(http.clone(), sensor.clone()).await.unwrap();
    let used = s["broker"]["server"].as_str().unwrap().to_string();
    let index = cluster
        .nodes()
        .iter()
        .position(|n| n.name == used)
        .unwrap_or_else(|| panic!("the sensor's node {used} is one of the cluster's"));
    cluster.kill(index).await.unwrap();
    let killed_at = app_stats(&http, &app).await.ok;
    assert!(
        killed_at < READINGS,
        "the node died under load ({killed_at} of {READINGS} were through)"
    );

    // Every reading published and acknowledged by the stream, then squared
    // and counted by the app.
    let sent = until(Duration::from_secs(40), || {
        let f = sensor_stats(http.clone(), sensor.clone());
        async move { f.await.filter(|s| s["done"] == true) }
    })
    .await
    .unwrap_or_else(|| panic!("the sensor did not publish all {READINGS}"));
    assert_eq!(sent["published"], READINGS, "{sent}");
    assert_ne!(
        sent["broker"]["server"],
        used.as_str(),
        "the sensor moved: {sent}"
    );
    assert!(
        sent["broker"]["reconnects"].as_u64().unwrap() >= 1,
        "{sent}"
    );
    let got = until(Duration::from_secs(30), || async {
        let s = app_stats(&http, &app).await;
        (s.ok >= READINGS).then_some(s)
    })
    .await;
    let last = app_stats(&http, &app).await;
    let got = got.unwrap_or_else(|| {
        panic!(
            "the app counted {} of {READINGS}: {:?}\n{}",
            last.ok,
            last.received,
            std::fs::read_to_string(&log).unwrap_or_default()
        )
    });
    // Nothing more comes: both streams are empty and nothing is unacknowledged.
    let monitor = cluster
        .nodes()
        .iter()
        .enumerate()
        .find(|(i, _)| *i != index)
        .map(|(_, n)| n.monitor_url())
        .unwrap();
    let drained = until(Duration::from_secs(20), || async {
        let v = bus::jsz::fetch(&http, "n", &monitor, Duration::from_secs(2))
            .await
            .ok()?;
        let empty = v.streams.len() == 2
            && v.streams.iter().all(|s| {
                s.messages == 0
                    && s.consumers
                        .iter()
                        .all(|c| c.pending == 0 && c.ack_pending == 0)
            });
        empty.then_some(v)
    })
    .await;
    assert!(drained.is_some(), "the streams drained");
    // The dashboard: the two nodes left, the streams and their consumers.
    let shown = until(Duration::from_secs(10), || async {
        let snap: dashboard::Snapshot = http
            .get(format!("http://{dash}/api/snapshot"))
            .send()
            .await
            .ok()?
            .json()
            .await
            .ok()?;
        let nodes = snap.services.iter().find(|s| s.name == "nats")?;
        let b = snap.broker.as_ref()?;
        let js = b.jetstream.as_ref()?;
        let streams: Vec<(&str, Vec<&str>, u64)> = js
            .streams
            .iter()
            .map(|s| {
                (
                    s.name.as_str(),
                    s.consumers.iter().map(|c| c.name.as_str()).collect(),
                    s.messages,
                )
            })
            .collect();
        (nodes.counts.passing == 2
            && b.nodes == 2
            && streams
                == [
                    ("READINGS", vec!["workers"], 0),
                    ("SQUARES", vec!["app"], 0),
                ])
        .then_some(())
    })
    .await;
    assert!(shown.is_some(), "the dashboard shows the broker");
    let end = app_stats(&http, &app).await;
    let name = sent["sensor"].as_str().unwrap();
    let seen = &end.received[name];
    assert_eq!(end.ok, READINGS, "each square counted once: {end:?}");
    assert_eq!(seen.count, READINGS, "{seen:?}");
    assert_eq!(
        seen.ranges,
        [[0, READINGS - 1]],
        "every sequence number, no gap"
    );
    assert_eq!((end.failed, end.wrong), (0, 0), "{end:?}");
    assert_eq!(got.ok, end.ok);
    assert!(
        end.by_worker.len() >= 3,
        "the workers shared the readings: {:?}",
        end.by_worker
    );
    eprintln!(
        "messaging: {READINGS} sent, {} counted, {} duplicates dropped by the app, {} retries and {} duplicate acks at the sensor, sensor reconnected in {} ms",
        end.ok,
        end.duplicates,
        sent["retries"],
        sent["duplicates"],
        sent["broker"]["last_reconnect_ms"]
    );
    cluster.stop(Duration::from_secs(5)).await;
}

/// The demo on a pseudo-terminal, its output collected by a thread.
struct OnPty {
    child: Box<dyn portable_pty::Child + Send + Sync>,
    _master: Box<dyn portable_pty::MasterPty + Send>,
    writer: Box<dyn Write + Send>,
    out: Arc<Mutex<String>>,
}

impl OnPty {
    fn start(args: &[&str]) -> OnPty {
        use portable_pty::{native_pty_system, CommandBuilder, PtySize};
        let pair = native_pty_system()
            .openpty(PtySize {
                rows: 40,
                cols: 250,
                pixel_width: 0,
                pixel_height: 0,
            })
            .unwrap();
        let mut cmd = CommandBuilder::new(bin("e2e-demo"));
        cmd.args(args);
        cmd.env_remove("CONSUL_HTTP_ADDR");
        let child = pair.slave.spawn_command(cmd).unwrap();
        drop(pair.slave);
        let mut reader = pair.master.try_clone_reader().unwrap();
        let writer = pair.master.take_writer().unwrap();
        let out = Arc::new(Mutex::new(String::new()));
        let sink = Arc::clone(&out);
        std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            while let Ok(n) = reader.read(&mut buf) {
                if n == 0 {
                    break;
                }
                sink.lock()
                    .unwrap()
                    .push_str(&String::from_utf8_lossy(&buf[..n]));
            }
        });
        OnPty {
            child,
            _master: pair.master,
            writer,
            out,
        }
    }

    fn output(&self) -> String {
        self.out.lock().unwrap().clone()
    }

    fn key(&mut self, b: u8) {
        self.writer.write_all(&[b]).unwrap();
        self.writer.flush().unwrap();
    }

    /// Waits (bounded) until the output holds `needle`.
    async fn expect(&self, needle: &str, limit: Duration) {
        let seen = until(limit, || async {
            self.output().contains(needle).then_some(())
        })
        .await;
        assert!(
            seen.is_some(),
            "the demo did not print {needle:?}:\n{}",
            self.output()
        );
    }
}

impl Drop for OnPty {
    fn drop(&mut self) {
        let _ = self.child.kill();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_demos_keys_kill_and_restart_a_broker_node_and_kill_a_worker() {
    let _one = ONE_AT_A_TIME.lock().await;
    let mut demo = OnPty::start(&[
        "--http-port",
        "0",
        "--dns-port",
        "0",
        "--nginx-port",
        "0",
        "--no-nginx",
        "--transport",
        "nats",
    ]);
    demo.expect(
        "keys: a adds a worker, k kills a worker (SIGKILL), n kills a broker node (SIGKILL), r restarts what was killed last",
        Duration::from_secs(60),
    )
    .await;
    let out = demo.output();
    let url = |label: &str| -> String {
        out.lines()
            .find_map(|l| l.trim_start().strip_prefix(label))
            .and_then(|l| l.split_whitespace().next())
            .unwrap_or_else(|| panic!("no {label} line:\n{out}"))
            .trim_end_matches('/')
            .to_string()
    };
    let (consul, app) = (url("Consul API"), url("App stats"));
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(3))
        .build()
        .unwrap();
    let nodes = |n: usize| {
        let (http, consul) = (http.clone(), consul.clone());
        async move {
            until(Duration::from_secs(30), || async {
                let v = json(
                    &http,
                    &format!("{consul}/v1/health/service/nats?passing&tag=dcy-demo"),
                )
                .await?;
                (v.as_array()?.len() == n).then_some(())
            })
            .await
            .is_some()
        }
    };
    let ok = || {
        let (http, app) = (http.clone(), app.clone());
        async move {
            let v = json(&http, &app).await.unwrap_or_default();
            (
                v["ok"].as_u64().unwrap_or(0),
                v["failed"].as_u64().unwrap_or(0),
            )
        }
    };
    let flowing = |from: u64| async move {
        until(Duration::from_secs(30), || async {
            (ok().await.0 > from + 100).then_some(())
        })
        .await
        .is_some()
    };
    assert!(nodes(3).await, "three nodes passing");

    demo.key(b'n');
    demo.expect(
        "killed broker node nats-3 with SIGKILL",
        Duration::from_secs(10),
    )
    .await;
    assert!(nodes(2).await, "registrar deregistered the killed node");
    let (at_kill, _) = ok().await;
    assert!(
        flowing(at_kill).await,
        "squares keep arriving with two nodes:\n{}",
        demo.output()
    );

    demo.key(b'r');
    demo.expect(
        "restarted broker node nats-3: it rejoined and passes",
        Duration::from_secs(40),
    )
    .await;
    assert!(nodes(3).await, "three nodes again");

    demo.key(b'k');
    demo.expect(
        "killed worker #2 with SIGKILL: the readings it held unacknowledged go to another worker",
        Duration::from_secs(10),
    )
    .await;
    let (at_kill, _) = ok().await;
    assert!(
        flowing(at_kill).await,
        "squares keep arriving with one worker:\n{}",
        demo.output()
    );
    let (_, failed) = ok().await;
    assert_eq!(failed, 0);

    demo.key(b'q');
    demo.expect("(0 services left registered)", Duration::from_secs(5))
        .await;
    let deadline = Instant::now() + Duration::from_secs(5);
    let exited = loop {
        if let Ok(Some(status)) = demo.child.try_wait() {
            break Some(status.success());
        }
        if Instant::now() >= deadline {
            break None;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert_eq!(exited, Some(true), "{}", demo.output());
}
