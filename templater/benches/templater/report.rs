//! The report.

use super::*;

pub(crate) fn ms(d: Duration) -> String {
    bench::ms_to(d, 1)
}

pub(crate) fn pcts(v: &[Duration]) -> String {
    bench::spread(v, 1)
}

pub(crate) struct Report {
    pub(crate) steady: Steady,
    pub(crate) tmpfs: Option<Steady>,
    pub(crate) bursts: Bursts,
    pub(crate) load_before: String,
    pub(crate) load_after: String,
    pub(crate) fs: String,
    pub(crate) agent_cpu: u64,
}

impl Report {
    pub(crate) fn render(&self) -> String {
        let s = &self.steady;
        let tck = bench::clk_tck();
        let ticks_ms = |t: u64| t as f64 * 1000.0 / tck as f64;
        let mut t = String::new();
        let _ = writeln!(t, "# templater: figures\n");
        let _ = writeln!(
            t,
            "`benches/templater.sh` (`cargo bench -p templater --bench templater`), release builds of \
             templater and devagent at commit {}, each a separate process on 127.0.0.1 (devagent \
             `agent -dev -http-port=0`). Machine: {} cores, shared with other builds; load average \
             (1/5/15 min) {} at the start, {} at the end. Outputs on {}: every write is fsync'd.\n",
            commit(),
            std::thread::available_parallelism().map_or(0, |n| n.get()),
            self.load_before,
            self.load_after,
            self.fs
        );
        let _ = writeln!(
            t,
            "Layout: {TEMPLATES} templates, each reading {KEYS_PER_TEMPLATE} of {DEPS} KV keys \
             (`k07={{{{ key(path=\"bench/k07\") }}}}`); every key is read by {} to {} templates.\n",
            s.users_min, s.users_max
        );
        let _ = writeln!(
            t,
            "| Figure | Measured | Target | Met? |\n|---|---|---|---|"
        );
        let ab = &s.agent_blocking;
        let ab_ok = ab.iter().all(|&v| v == DEPS as i64) && s.agent_blocking_end == DEPS as i64;
        let _ = writeln!(
            t,
            "| 1. Blocking queries open at devagent (`devagent_blocking_queries`), 5 samples after start; after {} changes and 10 s idle | {:?}; {} | exactly {DEPS} | {} |",
            s.changes,
            ab,
            s.agent_blocking_end,
            yes_no(ab_ok)
        );
        let _ = writeln!(
            t,
            "| 1. Established TCP connections templater → devagent (`/proc/<pid>/net/tcp`), after start; at the end | {}; {} | {DEPS} (one per dependency) | {} |",
            s.conns,
            s.conns_end,
            yes_no(s.conns == DEPS && s.conns_end == DEPS)
        );
        let _ = writeln!(
            t,
            "| 1. templater `/metrics`: `templater_dependencies`, `templater_blocking_queries` (at the end) | {}, {} ({}) | {DEPS}, {DEPS} | {} |",
            s.t_deps,
            s.t_blocking,
            s.t_blocking_end,
            yes_no(s.t_deps == DEPS as i64 && s.t_blocking == DEPS as i64 && s.t_blocking_end == DEPS as i64)
        );
        let p99 = percentile(&s.all, 99);
        let _ = writeln!(
            t,
            "| 2. PUT returned → **every** affected file ({}–{} files) has the new value, p50 / p99 / max of {} changes | {} | p99 ≤ {} | {} |",
            s.users_min,
            s.users_max,
            s.changes,
            pcts(&s.all),
            ms(LATENCY_P99_TARGET),
            yes_no(p99 <= LATENCY_P99_TARGET)
        );
        let _ = writeln!(
            t,
            "| 2. PUT returned → the **first** affected file has it, p50 / p99 / max | {} | | |",
            pcts(&s.first)
        );
        let _ = writeln!(
            t,
            "| 2. PUT sent → every affected file, p50 / p99 / max | {} | | |",
            pcts(&s.all_from_send)
        );
        let _ = writeln!(
            t,
            "| 2. PUT round trip, p50 / p99 / max | {} | | |",
            pcts(&s.put_rtt)
        );
        let peak = s.mem_start.peak_kib.max(s.mem_end.peak_kib);
        let _ = writeln!(
            t,
            "| 3. templater RSS after start; after {EARLY_CHANGES} changes; after {} (VmRSS); peak (VmHWM) | {:.1}; {:.1}; {:.1} MiB; {:.1} MiB | < {RSS_TARGET_MIB} MB | {} |",
            s.changes,
            mib(s.mem_start.rss_kib),
            mib(s.mem_early.rss_kib),
            mib(s.mem_end.rss_kib),
            mib(peak),
            yes_no(mib(peak) * 1.048_576 < RSS_TARGET_MIB)
        );
        let growth = s.mem_end.rss_kib as i64 - s.mem_early.rss_kib as i64;
        let _ = writeln!(
            t,
            "| 3. RSS growth from change {EARLY_CHANGES} to change {} | {:+} KiB ({:+.1} %) | none | {} |",
            s.changes,
            growth,
            growth as f64 * 100.0 / s.mem_early.rss_kib.max(1) as f64,
            // Allocator noise below 5 % (or 512 KiB) is not growth.
            yes_no(growth <= (s.mem_early.rss_kib as i64 / 20).max(512))
        );
        let _ = writeln!(
            t,
            "| 3. templater CPU (utime + stime) over {} s idle | {} ticks = {:.0} ms ({:.2} % of one core) | near zero | {} |",
            IDLE.as_secs(),
            s.idle_ticks,
            ticks_ms(s.idle_ticks),
            ticks_ms(s.idle_ticks) / IDLE.as_secs_f64() / 10.0,
            yes_no(ticks_ms(s.idle_ticks) <= IDLE.as_secs_f64() * 1000.0 * 0.005)
        );
        let _ = writeln!(
            t,
            "| 3. templater CPU during the {} changes | {:.1} s over {:.1} s wall ({:.0} % of one core; {:.2} ms per change) | | |",
            s.changes,
            ticks_ms(s.busy_ticks) / 1000.0,
            s.busy_wall.as_secs_f64(),
            ticks_ms(s.busy_ticks) / 10.0 / s.busy_wall.as_secs_f64(),
            ticks_ms(s.busy_ticks) / s.changes as f64
        );
        if let Some(m) = &self.tmpfs {
            let _ = writeln!(
                t,
                "| 2. Same on tmpfs ({}): PUT returned → every affected file, p50 / p99 / max of {} changes | {} | p99 ≤ {} | {} |",
                m.fs,
                m.changes,
                pcts(&m.all),
                ms(LATENCY_P99_TARGET),
                yes_no(percentile(&m.all, 99) <= LATENCY_P99_TARGET)
            );
            let _ = writeln!(
                t,
                "| 2. Same on tmpfs: PUT returned → the first affected file | {} | | |",
                pcts(&m.first)
            );
            let _ = writeln!(
                t,
                "| 3. Same on tmpfs: RSS after start; after {} changes; peak; CPU per change | {:.1}; {:.1} MiB; {:.1} MiB; {:.2} ms | | |",
                m.changes,
                mib(m.mem_start.rss_kib),
                mib(m.mem_end.rss_kib),
                mib(m.mem_start.peak_kib.max(m.mem_end.peak_kib)),
                ticks_ms(m.busy_ticks) / m.changes as f64
            );
        }
        let _ = writeln!(
            t,
            "| 4. Connections per dependency: templater (measured) | {:.2} ({} connections / {} dependencies) | 1 | {} |",
            s.conns as f64 / DEPS as f64,
            s.conns,
            DEPS,
            yes_no(s.conns == DEPS)
        );
        let _ = writeln!(
            t,
            "| 4. Connections per dependency: consul-template (reference, not measured) | 1 per unique dependency by design, de-duplicated across templates in one process (`watch/view.go`, §4.1); observed: 64 templates → 982 TCP connections, 133 right after a restart (#830, #1086, §5.1) | | |"
        );
        let b = &self.bursts;
        for (spread, name) in [(false, "fast"), (true, "spread")] {
            let these: Vec<&Burst> = b.bursts.iter().filter(|x| x.spread == spread).collect();
            let runs: Vec<usize> = these.iter().map(|x| x.runs).collect();
            let spans: Vec<Duration> = these.iter().map(|x| x.span).collect();
            let writes: Vec<i64> = these.iter().map(|x| x.writes).collect();
            let _ = writeln!(
                t,
                "| 4. Command runs per burst of {DEPS} changes ({name}: PUTs over {} – {}), one command shared by all {TEMPLATES} templates, `wait {{ min = \"{WAIT_MIN}\" max = \"{WAIT_MAX}\" }}`; writes per burst | runs {:?}; writes {:?} | 1 per burst | {} |",
                ms(spans.iter().min().copied().unwrap_or_default()),
                ms(spans.iter().max().copied().unwrap_or_default()),
                runs,
                writes,
                yes_no(runs.iter().all(|&r| r == 1))
            );
        }
        let _ = writeln!(
            t,
            "| 4. Command runs per burst: consul-template (reference, not measured) | each template has its own quiescence timer and commands are de-duplicated only within one pass, so a shared command runs several times per burst with `wait` (#1799, #2030 open; §4.3, §5.2) | | |"
        );
        for (what, h) in [
            (
                format!("the first pass over {TEMPLATES} templates (start → every file written)"),
                &s.health,
            ),
            (
                format!("the fast bursts ({TEMPLATES} templates rendered and written each)"),
                &b.health,
            ),
        ] {
            let _ = writeln!(
                t,
                "| 5. `GET /health` latency while templater renders: {what}; {} probes, one every {} ms from a thread of the bench, p50 / p99 / max | {} ({} failed) | p99 ≤ 50 ms, none failed | {} |",
                h.latencies.len(),
                PROBE_GAP.as_millis(),
                pcts(&h.latencies),
                h.failures,
                yes_no(h.failures == 0 && !h.latencies.is_empty() && percentile(&h.latencies, 99) <= Duration::from_millis(50))
            );
        }
        let _ = writeln!(t);
        let _ = writeln!(
            t,
            "- Start: the 1,000 templates were all written {:.2} s after templater was spawned. \
             In the command scenario the command ran {} times while the first render arrived \
             (before any burst).",
            s.startup.as_secs_f64(),
            b.startup_runs
        );
        let _ = writeln!(
            t,
            "- templater rendered {} times and wrote {} files in the steady scenario; it held {} established TCP connections in all (the agent's port and others).",
            s.t_renders, s.t_writes, s.conns_all
        );
        let _ = writeln!(
            t,
            "- Latencies are taken from inotify events stamped on arrival in the bench, each confirmed by reading the file; \
             an update that lands before the PUT's response counts as 0 ({} file updates did). {} updates were found by reading \
             the files after a 10 ms lull with no event (stamped then, so an over-estimate). Percentiles are nearest-rank.",
            s.before_put_returned, s.missed_events
        );
        for x in &b.bursts {
            let _ = writeln!(
                t,
                "- Burst ({}, {} PUTs in {}): command runs started at {:?} after the first PUT; {} writes.",
                if x.spread { "spread" } else { "fast" },
                DEPS,
                ms(x.span),
                x.run_at.iter().map(|d| ms(*d)).collect::<Vec<_>>(),
                x.writes
            );
        }
        let _ = writeln!(
            t,
            "- Warnings or errors logged by templater: {} (steady), {} (command scenario). devagent used {:.1} s of CPU in all.",
            s.log_problems,
            b.log_problems,
            ticks_ms(self.agent_cpu) / 1000.0
        );
        t
    }
}
