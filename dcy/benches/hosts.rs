//! Memory over 1,000,000 distinct service names met in URLs: half through
//! `Discovery::http()` (`GET http://host-N/x`), half through
//! `Discovery::url`. Each name starts a watch; idle names are swept after
//! the idle timeout (200 ms here, 5 min by default), and the HTTP client's
//! cache is capped at 1,024 names, so the process's memory must stay flat.
//!
//! The agent address refuses connections: every name fails at once, as a
//! name Consul does not know would, without a socket left open (a real
//! agent would hold one blocking query per name until it is swept). RSS is
//! read from `/proc/self/status` every 100,000 names; the table goes to
//! `benches/results/dcy-hosts.md`. Run: `cargo bench -p dcy --bench hosts`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::fmt::Write as _;
use std::time::{Duration, Instant};

use testkit::bench::{mib, Memory};

const NAMES: usize = 1_000_000;
const EVERY: usize = 100_000;
const IDLE: Duration = Duration::from_millis(200);

fn main() {
    if !std::env::args().any(|a| a == "--bench") {
        println!("hosts: a benchmark; run it with `cargo bench -p dcy --bench hosts`");
        return;
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let load = common::load1();
    let refused = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port");
    let rows = rt.block_on(async {
        let cfg = dcy::Config::builder()
            .address(&refused.to_string())
            .build()
            .expect("config");
        let discovery = dcy::Discovery::new(dcy::Client::new(cfg).expect("client"));
        discovery.set_idle_timeout(IDLE);
        let http = discovery.http().expect("http client");
        let started = Instant::now();
        let (mut most_watched, mut most_cached) = (0, 0);
        let mut rows = Vec::new();
        for i in 0..NAMES {
            let url = format!("http://host-{i}/x");
            if i % 2 == 0 {
                let _ = http.get(&url).await;
            } else {
                let _ = discovery.url(&url);
            }
            if i % 1000 == 0 {
                most_watched = most_watched.max(discovery.watched());
                most_cached = most_cached.max(http.cached_services());
                // Let the loops of failed names run as they would.
                tokio::task::yield_now().await;
            }
            if (i + 1) % EVERY == 0 {
                let m = Memory::of(None).expect("/proc/self/status");
                println!(
                    "hosts: {} names, {:.1} s, RSS {:.1} MiB, watched now {}",
                    i + 1,
                    started.elapsed().as_secs_f64(),
                    mib(m.rss_kib),
                    discovery.watched()
                );
                rows.push((i + 1, started.elapsed(), m, discovery.watched()));
            }
        }
        tokio::time::sleep(IDLE * 3).await;
        let after = (
            Memory::of(None).expect("/proc"),
            discovery.watched(),
            http.cached_services(),
        );
        discovery.shutdown().await;
        (rows, most_watched, most_cached, after)
    });
    let (rows, most_watched, most_cached, (after_mem, after_watched, after_cached)) = rows;
    let mut md = String::new();
    let _ = writeln!(md, "# dcy: memory over 1,000,000 distinct URL host names\n");
    let _ = writeln!(
        md,
        "`cargo bench -p dcy --bench hosts`, release build. Machine: {}; 1-minute load average {load} \
         before the run. Half the names through `Discovery::http().get(\"http://host-N/x\")`, half through \
         `Discovery::url`, against an agent address that refuses connections; idle timeout {IDLE:?}, \
         HTTP client cache cap {}.\n",
        common::machine(),
        dcy::http::MAX_CACHED_SERVICES
    );
    let _ = writeln!(
        md,
        "| Names so far | Elapsed | VmRSS | Services watched then |"
    );
    let _ = writeln!(md, "|---|---|---|---|");
    for (n, t, m, w) in &rows {
        let _ = writeln!(
            md,
            "| {n} | {:.1} s | {:.1} MiB | {w} |",
            t.as_secs_f64(),
            mib(m.rss_kib)
        );
    }
    let first = rows.first().map_or(0, |r| r.2.rss_kib);
    let last = rows.last().map_or(0, |r| r.2.rss_kib);
    let _ = writeln!(
        md,
        "\nRSS at 100,000 names {:.1} MiB, at 1,000,000 {:.1} MiB ({:+.1} MiB); peak VmHWM {:.1} MiB. \
         At most {most_watched} services watched and {most_cached} names cached at once; {} s after the \
         last name: {after_watched} watched, {after_cached} cached, RSS {:.1} MiB.",
        mib(first),
        mib(last),
        mib(last) - mib(first),
        mib(after_mem.peak_kib),
        (IDLE * 3).as_secs_f64(),
        mib(after_mem.rss_kib)
    );
    println!("\n{md}");
    let path = common::results_path("dcy-hosts.md");
    std::fs::write(&path, &md).unwrap_or_else(|e| panic!("writing {}: {e}", path.display()));
    println!("written to {}", path.display());
}
