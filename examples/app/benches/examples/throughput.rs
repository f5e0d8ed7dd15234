//! Figure 1: the app through dcy discovery against a fixed address.

use super::*;

#[derive(Debug, Default)]
pub(crate) struct Compare {
    /// HTTP requests per second (2 per round: the reading, the square).
    a: Vec<f64>,
    b: Vec<f64>,
    /// The app's (this process's) CPU µs per request.
    a_cpu: Vec<f64>,
    b_cpu: Vec<f64>,
    /// The servers' (devagent, sensor, workers) CPU µs per request.
    a_srv: Vec<f64>,
    b_srv: Vec<f64>,
}

pub(crate) struct Run {
    req_s: f64,
    app_us: f64,
    servers_us: f64,
}

impl Compare {
    fn diff_pct(&self) -> f64 {
        (median(&self.a) / median(&self.b) - 1.0) * 100.0
    }

    /// Median over the A runs of A against its neighbours in the sequence
    /// A, B, A, B, ... (the B before and the B after): symmetric in time,
    /// so a drift of the machine's load cancels out.
    fn paired_pct(&self) -> f64 {
        let d: Vec<f64> = self
            .a
            .iter()
            .enumerate()
            .filter_map(|(i, a)| {
                let near: Vec<f64> = [i.checked_sub(1), Some(i)]
                    .into_iter()
                    .flatten()
                    .filter_map(|j| self.b.get(j).copied())
                    .collect();
                (!near.is_empty())
                    .then(|| (a / (near.iter().sum::<f64>() / near.len() as f64) - 1.0) * 100.0)
            })
            .collect();
        median(&d)
    }
}

/// Windows in which discovery's callers and the fixed address's callers
/// ran at the same time (`load::side_by_side`).
#[derive(Debug, Default)]
pub(crate) struct Sides {
    /// Per window: rounds through discovery, rounds to the fixed address.
    counts: Vec<(u64, u64)>,
    window: Duration,
    per_side: usize,
}

impl Sides {
    /// Per window: discovery against fixed, per cent.
    fn diffs(&self) -> Vec<f64> {
        self.counts
            .iter()
            .filter(|(_, b)| *b > 0)
            .map(|(a, b)| (*a as f64 / *b as f64 - 1.0) * 100.0)
            .collect()
    }

    /// The median of [`Sides::diffs`].
    fn median_pct(&self) -> f64 {
        median(&self.diffs())
    }

    /// All windows' rounds together: discovery against fixed, per cent.
    fn pooled_pct(&self) -> f64 {
        let a: u64 = self.counts.iter().map(|c| c.0).sum();
        let b: u64 = self.counts.iter().map(|c| c.1).sum();
        (a as f64 / b.max(1) as f64 - 1.0) * 100.0
    }

    /// HTTP requests per second of each side, median over the windows
    /// (2 per round).
    fn req_s(&self) -> (f64, f64) {
        let secs = self.window.as_secs_f64();
        let side = |f: fn(&(u64, u64)) -> u64| {
            median(
                &self
                    .counts
                    .iter()
                    .map(|c| 2.0 * f(c) as f64 / secs)
                    .collect::<Vec<_>>(),
            )
        };
        (side(|c| c.0), side(|c| c.1))
    }
}

/// `s.runs` windows of `s.run_secs`, each with half of `s.concurrency`
/// callers on discovery and half on the fixed address at the same time.
/// Which side's callers are started first alternates from one window to
/// the next, so that an advantage of starting first cancels out.
pub(crate) async fn sides(disc: &Target, fixed: &Target, s: &Settings, what: &str) -> Sides {
    let per_side = (s.concurrency / 2).max(1);
    let window = Duration::from_secs_f64(s.run_secs);
    let mut out = Sides {
        counts: Vec::with_capacity(s.runs),
        window,
        per_side,
    };
    for i in 0..s.runs {
        let (first, second) = if i % 2 == 0 {
            (disc, fixed)
        } else {
            (fixed, disc)
        };
        let r = tokio::time::timeout(
            window + LIMIT,
            crate::load::side_by_side(first.clone(), second.clone(), per_side, window),
        )
        .await
        .expect("a side-by-side window within its time limit")
        .expect("a side-by-side window without a failed round");
        let (d, f) = if i % 2 == 0 { (r.a, r.b) } else { (r.b, r.a) };
        eprintln!(
            "examples bench: {what} side by side, window {}: discovery {d} rounds, fixed {f} rounds ({:+.1} %)",
            i + 1,
            (d as f64 / f.max(1) as f64 - 1.0) * 100.0
        );
        out.counts.push((d, f));
    }
    out
}

#[derive(Debug, Default)]
pub(crate) struct Throughput {
    rounds: u64,
    concurrency: usize,
    side1: Sides,
    side3: Sides,
    one: Compare,
    three: Compare,
    /// URL work per request, µs: (discovery, fixed).
    prep: (f64, f64),
}

/// CPU time (user + system) of a process so far, in clock ticks (100 per
/// second); `None` is this process, 0 if it cannot be read.
pub(crate) fn cpu_ticks(pid: Option<u32>) -> u64 {
    bench::cpu_ticks(pid).unwrap_or(0)
}

/// One bounded `load::throughput` run: HTTP requests per second, and CPU
/// microseconds per request of this process (the app) and of `servers`.
pub(crate) async fn rate(target: &Target, rounds: u64, concurrency: usize, servers: &[u32]) -> Run {
    let servers_cpu = || servers.iter().map(|p| cpu_ticks(Some(*p))).sum::<u64>();
    let (app0, srv0) = (cpu_ticks(None), servers_cpu());
    let r = tokio::time::timeout(
        LIMIT * 4,
        crate::load::throughput(target.clone(), rounds, concurrency),
    )
    .await
    .expect("a throughput run within its time limit")
    .expect("a throughput run without a failed round");
    let (app1, srv1) = (cpu_ticks(None), servers_cpu());
    // Ticks are 10 ms; two requests per round.
    let per_req = |ticks: u64| ticks as f64 * 10_000.0 / (2 * rounds) as f64;
    Run {
        req_s: 2.0 * r,
        app_us: per_req(app1 - app0),
        servers_us: per_req(srv1 - srv0),
    }
}

/// `runs` runs of each, A, B, A, B, ...
pub(crate) async fn interleave(
    a: &Target,
    b: &Target,
    s: &Settings,
    rounds: u64,
    servers: &[u32],
    what: &str,
) -> Compare {
    let mut c = Compare::default();
    for i in 0..s.runs {
        let ra = rate(a, rounds, s.concurrency, servers).await;
        let rb = rate(b, rounds, s.concurrency, servers).await;
        eprintln!(
            "examples bench: {what} run {}: A {:.0} req/s ({:.1} + {:.1} µs CPU/req), B {:.0} req/s ({:.1} + {:.1} µs CPU/req)",
            i + 1,
            ra.req_s,
            ra.app_us,
            ra.servers_us,
            rb.req_s,
            rb.app_us,
            rb.servers_us,
        );
        c.a.push(ra.req_s);
        c.b.push(rb.req_s);
        c.a_cpu.push(ra.app_us);
        c.b_cpu.push(rb.app_us);
        c.a_srv.push(ra.servers_us);
        c.b_srv.push(rb.servers_us);
    }
    c
}

pub(crate) async fn throughput(s: &Settings) -> Throughput {
    let (agent, consul) = agent(s).await;
    let (sensor, sensor_addr, _) = service(s, "sensor", &consul).await;
    let (w1, w1_addr, w1_id) = service(s, "worker", &consul).await;
    let d = discovery(&consul);
    d.wait_for(&["sensor", "worker"], LIMIT)
        .await
        .expect("discovery sees the sensor and the worker");
    let seen = until_workers(&d, LIMIT, |i| i.len() == 1 && i.as_slice()[0].id == w1_id).await;
    assert!(seen.is_some(), "discovery sees exactly the one worker");

    let disc = Target::discovery(&d);
    let fixed = Target::fixed(&sensor_addr, &w1_addr);
    let pid = |p: &Proc| p.child.id().expect("a running child");
    let mut servers = vec![pid(&agent), pid(&sensor), pid(&w1)];
    // Warm both up, then size the runs to about `run_secs` each.
    let probe = s.concurrency as u64 * 50;
    rate(&disc, probe, s.concurrency, &servers).await;
    let r = rate(&fixed, probe, s.concurrency, &servers).await.req_s / 2.0;
    let rounds = ((r * s.run_secs) as u64).clamp(200, 500_000);
    let rounds = rounds - rounds % s.concurrency as u64;
    eprintln!(
        "examples bench: {rounds} rounds per run ({:.0} rounds/s in the probe), {} callers",
        r, s.concurrency
    );
    let side1 = sides(&disc, &fixed, s, "discovery (1 worker) vs fixed").await;
    let one = interleave(
        &disc,
        &fixed,
        s,
        rounds,
        &servers,
        "discovery (1 worker) vs fixed",
    )
    .await;

    let prep = prep_cost(&d, &w1_addr);

    let (w2, _, _) = service(s, "worker", &consul).await;
    let (w3, _, _) = service(s, "worker", &consul).await;
    servers.extend([pid(&w2), pid(&w3)]);
    let seen = until_workers(&d, LIMIT, |i| i.len() == 3).await;
    assert!(seen.is_some(), "discovery sees the three workers");
    rate(&disc, probe, s.concurrency, &servers).await;
    let side3 = sides(&disc, &fixed, s, "discovery (3 workers) vs fixed").await;
    let three = interleave(
        &disc,
        &fixed,
        s,
        rounds,
        &servers,
        "discovery (3 workers) vs fixed",
    )
    .await;

    for p in [w1, w2, w3, sensor, agent] {
        p.stop().await;
    }
    Throughput {
        rounds,
        concurrency: s.concurrency,
        side1,
        side3,
        one,
        three,
        prep,
    }
}

/// Iterations of each side of [`prep_cost`].
pub(crate) const PREP_ITERATIONS: u32 = 100_000;

/// CPU cost per request of the URL work before the request is handed to
/// reqwest, in this process, no network, one task: for discovery,
/// `Discovery::url` (parse `http://worker/...`, look the service up, pick,
/// rewrite; `HttpClient::send` takes a shorter path for such plain URLs,
/// without the parser, so this is an upper bound of its work); for the fixed
/// address, parsing `http://<addr>/...` (what reqwest does with a `&str`).
/// Returns (discovery µs, fixed µs).
pub(crate) fn prep_cost(d: &dcy::Discovery, addr: &str) -> (f64, f64) {
    let fixed = format!("http://{addr}/square?n=1234");
    let started = Instant::now();
    for _ in 0..PREP_ITERATIONS {
        std::hint::black_box(d.url(std::hint::black_box("http://worker/square?n=1234")))
            .expect("a worker to pick");
    }
    let a = started.elapsed().as_secs_f64() * 1e6 / f64::from(PREP_ITERATIONS);
    let started = Instant::now();
    for _ in 0..PREP_ITERATIONS {
        std::hint::black_box(reqwest::Url::parse(std::hint::black_box(&fixed)))
            .expect("a valid URL");
    }
    let b = started.elapsed().as_secs_f64() * 1e6 / f64::from(PREP_ITERATIONS);
    eprintln!("examples bench: URL work per request: discovery {a:.2} µs, fixed {b:.2} µs");
    (a, b)
}

/// Figure 1: (table rows, details).
pub(crate) fn report_throughput(
    s: &Settings,
    (tp, load): &(Throughput, Load),
    commit: &str,
) -> (String, String) {
    let (mut rows, mut details) = (String::new(), String::new());
    let (one, three) = (&tp.one, &tp.three);
    let cpu = |c: &Compare| {
        let (a, b) = (median(&c.a_cpu), median(&c.b_cpu));
        let (sa, sb) = (median(&c.a_srv), median(&c.b_srv));
        format!(
            "CPU per request, median: app {a:.1} vs {b:.1} µs ({:+.1} %), servers {sa:.1} vs {sb:.1} µs",
            (a / b - 1.0) * 100.0
        )
    };
    let side = |x: &Sides| {
        let (a, b) = x.req_s();
        let d = x.diffs();
        format!(
            "discovery {a:.0} req/s, fixed {b:.0} req/s (medians of the windows); all windows pooled {:+.1} %; windows from {:+.1} to {:+.1} %",
            x.pooled_pct(),
            min(&d),
            max(&d),
        )
    };
    let d1 = tp.side1.median_pct();
    let _ = writeln!(
        rows,
        "| 1. App throughput side by side in one run: {} callers through dcy discovery (1 worker registered) and {} calling the fixed address of that worker at the same time, {} windows of {} s: median of the windows' difference | **{d1:+.1} %**: {} | within {} % | {} | {} | {commit} |",
        tp.side1.per_side,
        tp.side1.per_side,
        tp.side1.counts.len(),
        s.run_secs,
        side(&tp.side1),
        THROUGHPUT_TARGET_PCT,
        yes_no(d1.abs() <= THROUGHPUT_TARGET_PCT),
        load.cell()
    );
    let _ = writeln!(
        rows,
        "| 1a. The same in separate runs, interleaved discovery, fixed, discovery, ... ({} each, {} callers): each discovery run against its neighbouring fixed runs, median | {:+.1} % (medians of the runs: discovery {:.0} req/s, fixed {:.0} req/s, {:+.1} %); {} | (reported: run-to-run noise of the machine) | | {} | {commit} |",
        one.a.len(),
        tp.concurrency,
        one.paired_pct(),
        median(&one.a),
        median(&one.b),
        one.diff_pct(),
        cpu(one),
        load.cell()
    );
    let _ = writeln!(
        rows,
        "| 1b. Discovery over 3 workers vs the same fixed worker | side by side {:+.1} %: {}; interleaved runs {:+.1} % (medians: discovery {:.0} req/s, fixed {:.0} req/s, paired {:+.1} %); {} | (reported) | | {} | {commit} |",
        tp.side3.median_pct(),
        side(&tp.side3),
        three.diff_pct(),
        median(&three.a),
        median(&three.b),
        three.paired_pct(),
        cpu(three),
        load.cell()
    );
    let (pa, pb) = tp.prep;
    let _ = writeln!(
        rows,
        "| 1c. URL work per request before the request goes to reqwest, one task, no network ({PREP_ITERATIONS} each) | discovery (`Discovery::url`: parse `http://worker/…`, look up, pick, rewrite; an upper bound of what dcy's HTTP client does, which skips the parser for plain URLs) {pa:.2} µs, fixed (parse `http://127.0.0.1:port/…`) {pb:.2} µs | (reported) | | {} | {commit} |",
        load.cell()
    );
    let _ = writeln!(
        details,
        "**1.** A round is 2 HTTP GETs from the bench process (the app): the sensor's reading, a worker's square; req/s = 2 × rounds/s. \
         Discovery = `Target::discovery` (dcy's HTTP client: resolve `sensor` and `worker` by name, pick, rewrite), fixed = `Target::fixed` (the sensor's and worker #1's `host:port`); both use `app::http_client()`, each its own connection pool. \
         Side by side (1, 1b): `load::side_by_side`, {} callers on each side at the same time, rounds completed inside each {} s window counted per side; which side's callers start first alternates between windows. Both sides meet the same machine at the same moment, so the machine's run-to-run swings (other processes on the shared cores, frequency) weigh on both alike; but the extra CPU of one side also slows the other (they share the cores), so a CPU cost shows there at a fraction of what it costs in separate runs, where the cores are the limit: 1a is the stricter reading. \
         Interleaved (1a, 1b): `load::throughput`, {} rounds per run, {} callers, order discovery, fixed, discovery, ... ({} runs each); CPU per request from `/proc/<pid>/stat` (10 ms ticks) over each run: the app is the bench process; the servers are devagent, the sensor and the workers.\n",
        tp.side1.per_side, s.run_secs, tp.rounds, tp.concurrency, s.runs
    );
    for (label, x) in [("1 worker", &tp.side1), ("3 workers", &tp.side3)] {
        let _ = writeln!(
            details,
            "- {label}, side by side, rounds per window (discovery/fixed): {}",
            x.counts
                .iter()
                .map(|(a, b)| format!("{a}/{b}"))
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
    for (label, c) in [("1 worker", one), ("3 workers", three)] {
        let _ = writeln!(
            details,
            "- {label}, interleaved, discovery: req/s {}; app CPU µs/req {}; servers CPU µs/req {}",
            list(&c.a, 0),
            list(&c.a_cpu, 1),
            list(&c.a_srv, 1)
        );
        let _ = writeln!(
            details,
            "- {label}, interleaved, fixed: req/s {}; app CPU µs/req {}; servers CPU µs/req {}",
            list(&c.b, 0),
            list(&c.b_cpu, 1),
            list(&c.b_srv, 1)
        );
    }
    (rows, details)
}
