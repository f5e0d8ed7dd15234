//! Figure 2: failover when a worker is killed.

use super::*;

#[derive(Debug, Default)]
pub(crate) struct Trial {
    /// Kill → discovery's healthy set without the worker.
    dropped: Option<Duration>,
    retries: usize,
    /// Kill → first and last retry.
    retry_first: Option<Duration>,
    retry_last: Option<Duration>,
    retry_errors: Vec<String>,
    failed: u64,
    wrong: u64,
    failure_texts: Vec<String>,
    /// Correct rounds from the kill to the end of the trial.
    ok: u64,
    trial_time: Duration,
}

pub(crate) async fn failover(s: &Settings, rec: &Recorder) -> Vec<Trial> {
    let (agent, consul) = agent(s).await;
    let (sensor, _, _) = service(s, "sensor", &consul).await;
    let mut workers = VecDeque::new();
    for _ in 0..3 {
        workers.push_back(service(s, "worker", &consul).await);
    }
    let d = discovery(&consul);
    d.wait_for(&["sensor", "worker"], LIMIT)
        .await
        .expect("discovery sees the sensor and a worker");
    assert!(until_workers(&d, LIMIT, |i| i.len() == 3).await.is_some());

    let stats = Arc::new(Mutex::new(Stats::default()));
    let snapshot = |stats: &Arc<Mutex<Stats>>| {
        stats
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    };
    let stop = CancellationToken::new();
    let driver = tokio::spawn(app::drive(
        app::Target::discovery(&d),
        Arc::clone(&stats),
        DRIVE_CONCURRENCY,
        DRIVE_INTERVAL,
        stop.clone(),
        Counter::default(),
    ));
    tokio::time::sleep(Duration::from_secs(1)).await;
    let warm = snapshot(&stats);
    assert!(
        warm.ok > 0 && warm.failed == 0,
        "the app works before any kill: {warm:?}"
    );

    let mut trials = Vec::new();
    for n in 0..s.trials {
        assert!(
            until_workers(&d, LIMIT, |i| i.len() == 3).await.is_some(),
            "three healthy workers before kill {}",
            n + 1
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
        let (mut victim, _, victim_id) = workers.pop_front().expect("a worker to kill");
        let before = snapshot(&stats);
        let killed = Instant::now();
        victim.signal(nix::sys::signal::Signal::SIGKILL);
        let dropped = until_workers(&d, LIMIT, |i| {
            i.as_slice().iter().all(|w| w.id != victim_id)
        })
        .await;
        tokio::time::sleep(SETTLE).await;
        let after = snapshot(&stats);
        let (retries, failures) = rec.since(killed);
        let mut retry_errors: Vec<String> = retries.iter().map(|(_, e)| e.clone()).collect();
        retry_errors.sort();
        retry_errors.dedup();
        let t = Trial {
            dropped,
            retries: retries.len(),
            retry_first: retries.first().map(|(t, _)| *t - killed),
            retry_last: retries.last().map(|(t, _)| *t - killed),
            retry_errors,
            failed: after.failed - before.failed,
            wrong: after.wrong - before.wrong,
            failure_texts: failures.iter().map(|(_, e)| e.clone()).collect(),
            ok: after.ok - before.ok,
            trial_time: killed.elapsed(),
        };
        eprintln!("examples bench: kill {}: {t:?}", n + 1);
        trials.push(t);
        let _ = tokio::time::timeout(Duration::from_secs(5), victim.child.wait()).await;
        // The killed instance never deregistered itself.
        let _ = d.client().deregister_service(&victim_id).await;
        workers.push_back(service(s, "worker", &consul).await);
    }
    stop.cancel();
    let _ = tokio::time::timeout(LIMIT, driver).await;
    for (p, _, _) in workers {
        p.stop().await;
    }
    sensor.stop().await;
    agent.stop().await;
    trials
}

/// Figure 2: (table rows, details).
pub(crate) fn report_failover((fo, load): &(Vec<Trial>, Load), commit: &str) -> (String, String) {
    let (mut rows, mut details) = (String::new(), String::new());
    let failed: u64 = fo.iter().map(|t| t.failed + t.wrong).sum();
    let ok: u64 = fo.iter().map(|t| t.ok).sum();
    let _ = writeln!(
        rows,
        "| 2a. Failover: failed (or wrong) app rounds, {} SIGKILLs of 1 of 3 workers under load | {failed} of {} rounds | 0 | {} | {} | {commit} |",
        fo.len(),
        ok + failed,
        yes_no(failed == 0),
        load.cell()
    );
    let drops: Vec<f64> = fo.iter().filter_map(|t| t.dropped.map(millis)).collect();
    let all_dropped = drops.len() == fo.len();
    let drop_max = max(&drops);
    let _ = writeln!(
        rows,
        "| 2b. Failover: kill → discovery dropped the dead worker, median / max | {:.0} ms / {:.0} ms{} | ≤ 1 check interval ({} ms) | {} | {} | {commit} |",
        median(&drops),
        drop_max,
        if all_dropped { String::new() } else { format!(" ({} of {} never dropped)", fo.len() - drops.len(), fo.len()) },
        CHECK_INTERVAL.as_millis(),
        yes_no(all_dropped && drop_max <= millis(CHECK_INTERVAL)),
        load.cell()
    );
    let retries: usize = fo.iter().map(|t| t.retries).sum();
    let last: Vec<f64> = fo.iter().filter_map(|t| t.retry_last.map(millis)).collect();
    let window = if last.is_empty() {
        "no retries".to_string()
    } else {
        format!(
            "{retries} retries in all; kill → last retry median {:.1} ms, max {:.1} ms",
            median(&last),
            max(&last)
        )
    };
    let _ = writeln!(
        rows,
        "| 2c. Failover: window in which requests needed a retry | {window} | ≤ 1 check interval ({} ms) | {} | {} | {commit} |",
        CHECK_INTERVAL.as_millis(),
        yes_no(last.iter().all(|l| *l <= millis(CHECK_INTERVAL))),
        load.cell()
    );
    let _ = writeln!(
        details,
        "**2.** The app's `drive` in the bench process, {DRIVE_CONCURRENCY} callers, {} ms pause (as the demo runs it), `Target::discovery`; each trial: three healthy workers, SIGKILL one, wait until discovery drops it, {} s more, then a replacement worker. \
         Retries are dcy::http's `retrying on another instance` events; a failed round is one that failed after dcy's retries.\n",
        DRIVE_INTERVAL.as_millis(),
        SETTLE.as_secs()
    );
    let _ = writeln!(details, "| Kill | Dropped after | Retries | Kill → first / last retry | Failed | Rounds ok in the trial | Retry errors |");
    let _ = writeln!(details, "|---|---|---|---|---|---|---|");
    for (i, t) in fo.iter().enumerate() {
        let o = |d: Option<Duration>| d.map_or("-".to_string(), |d| ms_to(d, 1));
        // The request URLs differ only in n: keep the kind of error.
        let errors: Vec<String> = t
            .retry_errors
            .iter()
            .map(|e| {
                e.split_once(": ")
                    .map_or(e.as_str(), |(_, r)| r)
                    .to_string()
            })
            .collect::<std::collections::BTreeSet<_>>()
            .into_iter()
            .collect();
        let _ = writeln!(
            details,
            "| {} | {} | {} | {} / {} | {} | {} in {:.1} s | {} |",
            i + 1,
            o(t.dropped),
            t.retries,
            o(t.retry_first),
            o(t.retry_last),
            t.failed + t.wrong,
            t.ok,
            t.trial_time.as_secs_f64(),
            errors.join("; ").replace('|', "/")
        );
    }
    let failures: Vec<&String> = fo.iter().flat_map(|t| &t.failure_texts).collect();
    if !failures.is_empty() {
        let _ = writeln!(details, "\nFailed rounds: {failures:?}");
    }
    (rows, details)
}
