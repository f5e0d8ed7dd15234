//! dcy's HTTP client against plain reqwest, in one process: the cost of
//! discovery per request without the noise of separate processes.
//!
//! One process holds a devagent (port 0), a tiny axum server registered as
//! service `w`, and the two clients; 8 callers on a 2-thread runtime send
//! `GET http://w/x` through `Discovery::http()` (A) or `GET
//! http://127.0.0.1:<port>/x` through the same reqwest settings (B), in
//! interleaved blocks. Printed: wall time and process CPU per request of
//! each block, and the median gap. `cargo bench -p app --bench inprocess`.
//!
//! With `INPROCESS_ONLY=discovery` (or `fixed`) it runs one warm-up block
//! and `INPROCESS_BLOCKS` (2) blocks of that side only: what
//! `benches/discovery-instructions.sh` runs under callgrind to count the
//! instructions of each side, which the machine's noise does not change.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::{Duration, Instant};

/// Requests per block.
const PER_BLOCK: usize = 20_000;
/// Blocks of each side.
const BLOCKS: usize = 20;
/// Concurrent callers.
const CALLERS: usize = 8;

fn cpu() -> Duration {
    let ticks = testkit::bench::cpu_ticks(None).expect("/proc/self/stat");
    Duration::from_secs_f64(ticks as f64 / testkit::bench::clk_tck() as f64)
}

async fn block(
    a: &dcy::http::HttpClient,
    b: &reqwest::Client,
    fixed: &str,
    discovery: bool,
) -> (f64, f64) {
    let (t0, c0) = (Instant::now(), cpu());
    let mut tasks = Vec::new();
    for _ in 0..CALLERS {
        let (a, b, fixed) = (a.clone(), b.clone(), fixed.to_string());
        tasks.push(tokio::spawn(async move {
            for _ in 0..PER_BLOCK / CALLERS {
                let r = if discovery {
                    a.get("http://w/x").await.unwrap()
                } else {
                    b.get(&fixed).send().await.unwrap()
                };
                assert!(r.status().is_success());
                let _ = r.bytes().await.unwrap();
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let n = PER_BLOCK as f64;
    (
        t0.elapsed().as_secs_f64() * 1e6 / n,
        (cpu() - c0).as_secs_f64() * 1e6 / n,
    )
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn main() {
    if !std::env::args().any(|a| a == "--bench") {
        return; // `cargo test` runs benches once without --bench: nothing to do
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let agent = testkit::agent_on(0).await;
        let base = agent.http_url();
        let app = axum::Router::new().route("/x", axum::routing::get(|| async { "{\"n\":1}" }));
        let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = l.local_addr().unwrap().port();
        tokio::spawn(async move { axum::serve(l, app).await.unwrap() });
        let http = reqwest::Client::new();
        testkit::register(&http, &base, &format!(r#"{{"Name":"w","Address":"127.0.0.1","Port":{port}}}"#)).await;
        let cfg = dcy::Config::builder().address(&base).build().unwrap();
        let d = dcy::Discovery::new(dcy::Client::new(cfg).unwrap());
        d.service("w").ready(Duration::from_secs(5)).await.unwrap();
        let a = d.http_with(app::http_client());
        let b = app::http_client();
        let fixed = format!("http://127.0.0.1:{port}/x");
        if let Ok(side) = std::env::var("INPROCESS_ONLY") {
            let discovery = match side.as_str() {
                "discovery" => true,
                "fixed" => false,
                other => panic!("INPROCESS_ONLY={other:?}: use discovery or fixed"),
            };
            let blocks: usize = std::env::var("INPROCESS_BLOCKS")
                .ok()
                .and_then(|b| b.parse().ok())
                .unwrap_or(2);
            for _ in 0..=blocks {
                block(&a, &b, &fixed, discovery).await;
            }
            println!(
                "inprocess: {side} only: {} requests",
                (blocks + 1) * PER_BLOCK
            );
            agent.shutdown().await;
            return;
        }
        block(&a, &b, &fixed, true).await; // warm both pools
        block(&a, &b, &fixed, false).await;
        let (mut gaps, mut cpu_gaps) = (Vec::new(), Vec::new());
        for i in 0..BLOCKS {
            let (aw, ac) = block(&a, &b, &fixed, true).await;
            let (bw, bc) = block(&a, &b, &fixed, false).await;
            println!("block {i}: discovery {aw:.2} µs/req wall, {ac:.2} µs/req CPU; fixed {bw:.2} µs/req wall, {bc:.2} µs/req CPU");
            gaps.push((bw / aw - 1.0) * 100.0);
            cpu_gaps.push(ac - bc);
        }
        println!(
            "inprocess: {CALLERS} callers, {BLOCKS} blocks of {PER_BLOCK}: discovery throughput vs fixed, median {:+.1} %; extra CPU per request, median {:+.2} µs",
            median(gaps),
            median(cpu_gaps)
        );
        agent.shutdown().await;
    });
}
