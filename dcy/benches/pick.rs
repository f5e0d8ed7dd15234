//! `pick()` on 100 cached instances against one HTTP health query and one DNS
//! SRV lookup, all against the same devagent in the same run.
//!
//! The devagent runs in-process on its own runtime thread; 100 instances of
//! `worker` are registered with passing TTL checks. Criterion measures:
//!
//! * `pick/100_instances`: `Service::pick()` (an `ArcSwap` load, an atomic
//!   increment and an `Arc` clone);
//! * `pick_addr/100_instances`: `Service::pick_addr()`;
//! * `http/health_service_passing`: `GET /v1/health/service/worker?passing`
//!   through `dcy::Client::health_service` (100 entries decoded);
//! * `dns/srv_lookup`: `ConsulDns::service("worker")`: SRV over UDP, where
//!   Consul's UDP answer limit of 3 applies (3 of the 100 come back).
//!
//! Then it reads criterion's `estimates.json` files and writes a Markdown
//! table with the ratios to `benches/results/dcy-pick.md`.
//! Run: `cargo bench -p dcy --bench pick` (or `benches/dcy-bench.sh`).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::fmt::Write as _;
use std::hint::black_box;
use std::path::PathBuf;
use std::time::{Duration, Instant, SystemTime};

use criterion::Criterion;
use dcy::{Discovery, QueryOptions};

const INSTANCES: usize = 100;
const PICK_TARGET_NS: f64 = 100.0;
const RATIO_TARGET: f64 = 1000.0;

/// (group, bench) in the order they run.
const BENCHES: [(&str, &str); 4] = [
    ("pick", "100_instances"),
    ("pick_addr", "100_instances"),
    ("http", "health_service_passing"),
    ("dns", "srv_lookup"),
];

/// Where criterion writes, by its own rules: `$CRITERION_HOME`, else
/// `$CARGO_TARGET_DIR/criterion`, else the workspace's `target/criterion`.
fn criterion_dir() -> PathBuf {
    if let Some(h) = std::env::var_os("CRITERION_HOME") {
        return PathBuf::from(h);
    }
    if let Some(t) = std::env::var_os("CARGO_TARGET_DIR") {
        return PathBuf::from(t).join("criterion");
    }
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../target/criterion"))
}

/// `mean.point_estimate` (ns) of a bench, if this run wrote it.
fn mean_ns(group: &str, bench: &str, since: SystemTime) -> Option<f64> {
    let path = criterion_dir()
        .join(group)
        .join(bench)
        .join("new")
        .join("estimates.json");
    let fresh = std::fs::metadata(&path)
        .and_then(|m| m.modified())
        .is_ok_and(|t| t >= since);
    if !fresh {
        return None;
    }
    let text = std::fs::read_to_string(&path).ok()?;
    let v: serde_json::Value = serde_json::from_str(&text).ok()?;
    v["mean"]["point_estimate"].as_f64()
}

fn fmt_ns(ns: f64) -> String {
    if ns >= 1e6 {
        format!("{:.3} ms", ns / 1e6)
    } else if ns >= 1e3 {
        format!("{:.1} µs", ns / 1e3)
    } else {
        format!("{ns:.1} ns")
    }
}

fn yes_no(ok: bool) -> &'static str {
    if ok {
        "yes"
    } else {
        "**no**"
    }
}

fn main() {
    let started = SystemTime::now();
    let load_start = common::load1();
    let agent = common::InProcessAgent::start(true);
    let dns_addr = agent.dns.expect("devagent DNS address");
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("building the bench runtime");

    let base = agent.url();
    let (discovery, svc, client) = rt.block_on(async {
        let http = common::raw_client();
        for i in 0..INSTANCES {
            let addr = format!("10.1.{}.{}", i / 250, 1 + i % 250);
            let port = 20_000 + u16::try_from(i).expect("port");
            common::register(&http, &base, "worker", &format!("worker-{i}"), &addr, port)
                .await
                .expect("registering the workers");
        }
        let client = common::dcy_client(agent.http, Duration::from_secs(300));
        let discovery = Discovery::new(client.clone());
        let svc = discovery.service("worker");
        svc.ready(Duration::from_secs(10))
            .await
            .expect("worker ready");
        let deadline = Instant::now() + Duration::from_secs(10);
        while svc.instances().len() < INSTANCES {
            assert!(
                Instant::now() < deadline,
                "only {} of {INSTANCES} instances after 10 s",
                svc.instances().len()
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        (discovery, svc, client)
    });
    assert!(svc.pick_addr().is_some(), "pick_addr on IP addresses");
    // Sanity checks of what the network benches fetch.
    let (entries, _) = rt
        .block_on(client.health_service(
            "worker",
            &QueryOptions {
                passing: true,
                ..QueryOptions::default()
            },
        ))
        .expect("health query");
    let dns = dcy::dns::ConsulDns::new(dns_addr);
    let srv = rt
        .block_on(dns.service("worker", None, None))
        .expect("SRV lookup");
    println!(
        "pick bench: {} instances cached; HTTP returns {} entries; DNS SRV returns {} addresses (UDP answer limit)",
        svc.instances().len(),
        entries.len(),
        srv.len()
    );

    let mut c = Criterion::default().configure_from_args();
    let mut loads: Vec<String> = Vec::new();
    {
        let mut g = c.benchmark_group("pick");
        g.measurement_time(Duration::from_secs(5));
        g.bench_function("100_instances", |b| b.iter(|| black_box(svc.pick())));
        g.finish();
        loads.push(common::load1());
    }
    {
        let mut g = c.benchmark_group("pick_addr");
        g.measurement_time(Duration::from_secs(5));
        g.bench_function("100_instances", |b| b.iter(|| black_box(svc.pick_addr())));
        g.finish();
        loads.push(common::load1());
    }
    {
        let q = QueryOptions {
            passing: true,
            ..QueryOptions::default()
        };
        let mut g = c.benchmark_group("http");
        g.sample_size(20).measurement_time(Duration::from_secs(5));
        g.bench_function("health_service_passing", |b| {
            b.to_async(&rt).iter(|| async {
                let (entries, _) = client
                    .health_service("worker", &q)
                    .await
                    .expect("health query");
                black_box(entries)
            });
        });
        g.finish();
        loads.push(common::load1());
    }
    {
        let mut g = c.benchmark_group("dns");
        g.sample_size(20).measurement_time(Duration::from_secs(5));
        g.bench_function("srv_lookup", |b| {
            b.to_async(&rt).iter(|| async {
                black_box(dns.service("worker", None, None).await.expect("SRV lookup"))
            });
        });
        g.finish();
        loads.push(common::load1());
    }
    c.final_summary();

    drop(svc);
    drop(discovery);
    drop(rt);
    agent.stop();

    let means: Vec<Option<f64>> = BENCHES
        .iter()
        .map(|(g, b)| mean_ns(g, b, started))
        .collect();
    let [Some(pick), Some(pick_addr), Some(http), Some(dns_ns)] = means[..] else {
        println!(
            "pick bench: not every estimate was written by this run (test mode or a filter?); {} left unchanged",
            common::results_path("dcy-pick.md").display()
        );
        return;
    };

    let mut md = String::new();
    let _ = writeln!(md, "# dcy: `pick()` against HTTP and DNS\n");
    let _ = writeln!(
        md,
        "`cargo bench -p dcy --bench pick` (via `benches/dcy-bench.sh`), release build, criterion means. \
         Machine: {}; 1-minute load average {load_start} before the run. devagent runs in the bench \
         process on its own 2-thread runtime and shares the cores with the client.\n",
        common::machine()
    );
    let _ = writeln!(
        md,
        "{INSTANCES} instances of `worker` with passing TTL checks. HTTP: `Client::health_service(\"worker\", passing)`, \
         {} entries decoded per call, one keep-alive connection. DNS: one `ConsulDns` reused, `service(\"worker\")` \
         per call: an SRV query over UDP without EDNS, so Consul's UDP answer limit of 3 applies ({} addresses come back).\n",
        entries.len(),
        srv.len()
    );
    let _ = writeln!(md, "| Measure | Mean | Target | Met | 1-min load |");
    let _ = writeln!(md, "|---|---|---|---|---|");
    let _ = writeln!(
        md,
        "| `pick()`, 100 cached instances (`pick/100_instances`) | {} | ≤ 100 ns | {} | {} |",
        fmt_ns(pick),
        yes_no(pick <= PICK_TARGET_NS),
        loads[0]
    );
    let _ = writeln!(
        md,
        "| `pick_addr()` (`pick_addr/100_instances`) | {} | | | {} |",
        fmt_ns(pick_addr),
        loads[1]
    );
    let _ = writeln!(
        md,
        "| HTTP health query (`http/health_service_passing`) | {} | | | {} |",
        fmt_ns(http),
        loads[2]
    );
    let _ = writeln!(
        md,
        "| DNS SRV lookup (`dns/srv_lookup`) | {} | | | {} |",
        fmt_ns(dns_ns),
        loads[3]
    );
    let _ = writeln!(
        md,
        "| HTTP / `pick()` | {:.0}× | ≥ 1000× | {} | |",
        http / pick,
        yes_no(http / pick >= RATIO_TARGET)
    );
    let _ = writeln!(
        md,
        "| DNS / `pick()` | {:.0}× | ≥ 1000× | {} | |",
        dns_ns / pick,
        yes_no(dns_ns / pick >= RATIO_TARGET)
    );
    println!("\n{md}");
    let path = common::results_path("dcy-pick.md");
    std::fs::write(&path, &md).unwrap_or_else(|e| panic!("writing {}: {e}", path.display()));
    println!("written to {}", path.display());
}
