//! Scenario 4: one shared command, `wait 100ms:500ms`, bursts of 100 changes.

use super::*;

#[derive(Debug)]
pub(crate) struct Burst {
    pub(crate) spread: bool,
    /// From the first PUT sent to the last PUT returned.
    pub(crate) span: Duration,
    pub(crate) runs: usize,
    /// Start of each command run, after the first PUT was sent.
    pub(crate) run_at: Vec<Duration>,
    /// Template writes the burst caused (templater_writes_total).
    pub(crate) writes: i64,
}

pub(crate) struct Bursts {
    pub(crate) bursts: Vec<Burst>,
    pub(crate) startup_runs: usize,
    pub(crate) log_problems: usize,
    /// `/health` during the fast bursts (1,000 templates rendered each).
    pub(crate) health: Health,
}

pub(crate) async fn burst_bench(kv: &Kv, dir: &Path, bursts: usize) -> Result<Bursts> {
    let dir = dir.join("bursts");
    std::fs::create_dir_all(&dir).map_err(|e| err(format!("creating {}: {e}", dir.display())))?;
    let counter = dir.join("command-runs");
    let command = format!("date +%s%N >> {}", counter.display());
    let layout = Layout::create(&dir, Some(&command), true)?;
    let http = &kv.http;
    // Start from the values the steady scenario left: set them all to one known value.
    for k in 0..DEPS {
        kv.put(k, "start").await?;
    }
    let t = Templater::spawn(&layout.config, kv.addr()?).await?;
    layout
        .wait_all(STARTUP_TIMEOUT, &|_| "start".to_string())
        .await?;
    let runs_now = || -> Vec<u128> {
        std::fs::read_to_string(&counter)
            .unwrap_or_default()
            .lines()
            .filter_map(|l| l.trim().parse().ok())
            .collect()
    };
    // Settle: no new command run for 2 × wait.max (bounded at 30 s).
    settle(&runs_now, Duration::from_secs(30)).await;
    let startup_runs = runs_now().len();
    let mut out = Vec::new();
    let mut health = Health::default();
    for b in 0..2 * bursts {
        let spread = b % 2 == 1;
        let value = format!("b{b}");
        let before = runs_now().len();
        let writes_before = metric(&t.metrics(http).await?, "templater_writes_total")?;
        let wall0 = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_err(|e| err(format!("the clock is before 1970: {e}")))?
            .as_nanos();
        let started = Instant::now();
        let probe = if spread {
            None
        } else {
            Some(Probe::start(t.status)?)
        };
        for k in 0..DEPS {
            if spread {
                let at = started + SPREAD_GAP * k as u32;
                tokio::time::sleep_until(at.into()).await;
            }
            kv.put(k, &value).await?;
        }
        let span = started.elapsed();
        let v = value.clone();
        layout
            .wait_all(Duration::from_secs(20), &move |_| v.clone())
            .await?;
        if let Some(p) = probe {
            health.extend(p.finish()?);
        }
        settle(&runs_now, Duration::from_secs(30)).await;
        let runs = runs_now();
        let run_at: Vec<Duration> = runs[before..]
            .iter()
            .map(|&ns| Duration::from_nanos(ns.saturating_sub(wall0) as u64))
            .collect();
        let writes = metric(&t.metrics(http).await?, "templater_writes_total")? - writes_before;
        eprintln!(
            "templater bench: burst {b} ({}): {} PUTs in {span:?}, {} command run(s) at {:?}, {writes} writes",
            if spread { "spread" } else { "fast" },
            DEPS,
            run_at.len(),
            run_at
        );
        out.push(Burst {
            spread,
            span,
            runs: run_at.len(),
            run_at,
            writes,
        });
    }
    let log_problems = t.problems.load(Ordering::Relaxed);
    t.stop().await?;
    Ok(Bursts {
        bursts: out,
        startup_runs,
        log_problems,
        health,
    })
}

/// Waits until `count` has not changed for 2 × wait.max (checked every 50 ms), at most `limit`.
pub(crate) async fn settle(count: &dyn Fn() -> Vec<u128>, limit: Duration) {
    let started = Instant::now();
    let mut last = count().len();
    let mut since = Instant::now();
    while started.elapsed() < limit {
        tokio::time::sleep(Duration::from_millis(50)).await;
        let n = count().len();
        if n != last {
            last = n;
            since = Instant::now();
        } else if since.elapsed() >= 2 * WAIT_MAX_DUR {
            return;
        }
    }
}
