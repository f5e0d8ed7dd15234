//! Scenarios 1-3: steady state, one change at a time.

use super::*;

pub(crate) struct Steady {
    /// Where the outputs were.
    pub(crate) fs: String,
    pub(crate) startup: Duration,
    pub(crate) agent_blocking: Vec<i64>,
    pub(crate) agent_blocking_end: i64,
    pub(crate) conns: usize,
    pub(crate) conns_end: usize,
    pub(crate) conns_all: usize,
    pub(crate) t_blocking: i64,
    pub(crate) t_deps: i64,
    pub(crate) t_blocking_end: i64,
    pub(crate) users_min: usize,
    pub(crate) users_max: usize,
    pub(crate) changes: usize,
    /// PUT returned → every file reading the key has the new value.
    pub(crate) all: Vec<Duration>,
    /// PUT returned → the first of them.
    pub(crate) first: Vec<Duration>,
    /// PUT sent → every file.
    pub(crate) all_from_send: Vec<Duration>,
    pub(crate) put_rtt: Vec<Duration>,
    /// Files seen updated before the PUT's response arrived.
    pub(crate) before_put_returned: usize,
    /// Files found updated without an inotify event (read after a 10 ms lull).
    pub(crate) missed_events: usize,
    pub(crate) mem_start: Memory,
    pub(crate) mem_early: Memory,
    pub(crate) mem_end: Memory,
    pub(crate) idle_ticks: u64,
    pub(crate) busy_ticks: u64,
    pub(crate) busy_wall: Duration,
    pub(crate) t_writes: i64,
    pub(crate) t_renders: i64,
    pub(crate) log_problems: usize,
    /// `/health` during the first pass over the 1,000 templates.
    pub(crate) health: Health,
}

pub(crate) async fn steady_bench(
    agent: &Agent,
    kv: &Kv,
    http: &reqwest::Client,
    dir: &Path,
    changes: usize,
    idle: bool,
) -> Result<Steady> {
    for k in 0..DEPS {
        kv.put(k, "init").await?;
    }
    let layout = Layout::create(&dir.join("steady"), None, false)?;
    let users = users();
    let spawned = Instant::now();
    let t = Templater::spawn(&layout.config, agent.http).await?;
    let probe = Probe::start(t.status)?;
    layout
        .wait_all(STARTUP_TIMEOUT, &|_| "init".to_string())
        .await?;
    let health = probe.finish()?;
    let startup = spawned.elapsed();
    eprintln!("templater bench: 1,000 templates rendered {startup:?} after spawn");

    // Figure 1: the blocking queries once the watches settle (bounded wait for 100).
    let mut agent_blocking = Vec::new();
    for _ in 0..100 {
        if agent.gauge(http, "devagent_blocking_queries").await? == DEPS as i64 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    for _ in 0..5 {
        agent_blocking.push(agent.gauge(http, "devagent_blocking_queries").await?);
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let conns = connections(t.pid, agent.http.port())?;
    let conns_all = connections_all(t.pid)?;
    let metrics = t.metrics(http).await?;
    let t_blocking = metric(&metrics, "templater_blocking_queries")?;
    let t_deps = metric(&metrics, "templater_dependencies")?;
    let mem_start = Memory::of(Some(t.pid))?;

    // Figures 2-3: one change at a time.
    let names: HashMap<OsString, usize> = (0..TEMPLATES)
        .filter_map(|i| Some((layout.dest(i).file_name()?.to_os_string(), i)))
        .collect();
    let mut watch = OutWatch::start(&layout.out, names)?;
    let mut all = Vec::with_capacity(changes);
    let mut first = Vec::with_capacity(changes);
    let mut all_from_send = Vec::with_capacity(changes);
    let mut put_rtt = Vec::with_capacity(changes);
    let mut before_put_returned = 0;
    let mut missed_events = 0;
    let mut mem_early = mem_start;
    let ticks_before = bench::cpu_ticks(Some(t.pid))?;
    let busy_started = Instant::now();
    for n in 0..changes {
        let k = n % DEPS;
        let value = format!("c{n}");
        let want = marker(k, &value);
        while watch.rx.try_recv().is_ok() {}
        let sent = Instant::now();
        kv.put(k, &value).await?;
        let returned = Instant::now();
        put_rtt.push(returned - sent);
        let mut pending: BTreeSet<usize> = users[k].iter().copied().collect();
        let mut seen: Vec<Instant> = Vec::with_capacity(pending.len());
        let deadline = returned + CHANGE_TIMEOUT;
        // Every round either takes an event or ends (deadline or lull).
        while !pending.is_empty() {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                break;
            }
            // A lull of 10 ms: look at the files themselves, in case inotify overflowed.
            match tokio::time::timeout(left.min(Duration::from_millis(10)), watch.rx.recv()).await {
                Ok(Some((i, at))) => {
                    if pending.contains(&i) && file_has(&layout.dest(i), &want) {
                        pending.remove(&i);
                        seen.push(at);
                    }
                }
                Ok(None) => return Err(err("the inotify watcher stopped")),
                Err(_) => {
                    let now = Instant::now();
                    let found: Vec<usize> = pending
                        .iter()
                        .copied()
                        .filter(|&i| file_has(&layout.dest(i), &want))
                        .collect();
                    for i in found {
                        pending.remove(&i);
                        seen.push(now);
                        missed_events += 1;
                    }
                }
            }
        }
        if !pending.is_empty() {
            return Err(err(format!(
                "change {n} (key {}): {} of {} outputs did not show it within {CHANGE_TIMEOUT:?}, e.g. {}",
                key_name(k),
                pending.len(),
                users[k].len(),
                pending
                    .first()
                    .map(|&i| layout.dest(i).display().to_string())
                    .unwrap_or_default()
            )));
        }
        let (Some(&lo), Some(&hi)) = (seen.iter().min(), seen.iter().max()) else {
            return Err(err(format!("change {n}: no output reads {}", key_name(k))));
        };
        before_put_returned += seen.iter().filter(|&&s| s < returned).count();
        first.push(lo.saturating_duration_since(returned));
        all.push(hi.saturating_duration_since(returned));
        all_from_send.push(hi.saturating_duration_since(sent));
        if n + 1 == EARLY_CHANGES {
            mem_early = Memory::of(Some(t.pid))?;
        }
        if (n + 1) % 1000 == 0 {
            eprintln!(
                "templater bench: {} changes, last {:.1} ms, RSS {:.1} MiB",
                n + 1,
                all[n].as_secs_f64() * 1e3,
                mib(Memory::of(Some(t.pid))?.rss_kib)
            );
        }
    }
    let busy_wall = busy_started.elapsed();
    let busy_ticks = bench::cpu_ticks(Some(t.pid))?.saturating_sub(ticks_before);
    drop(watch);
    let mem_end = Memory::of(Some(t.pid))?;

    // Idle: nothing changes for IDLE.
    let mut idle_ticks = 0;
    if idle {
        tokio::time::sleep(Duration::from_secs(1)).await;
        let before = bench::cpu_ticks(Some(t.pid))?;
        tokio::time::sleep(IDLE).await;
        idle_ticks = bench::cpu_ticks(Some(t.pid))?.saturating_sub(before);
    }

    let agent_blocking_end = agent.gauge(http, "devagent_blocking_queries").await?;
    let conns_end = connections(t.pid, agent.http.port())?;
    let metrics = t.metrics(http).await?;
    let t_blocking_end = metric(&metrics, "templater_blocking_queries")?;
    let t_writes = metric(&metrics, "templater_writes_total")?;
    let t_renders = metric(&metrics, "templater_renders_total")?;
    let log_problems = t.problems.load(Ordering::Relaxed);
    t.stop().await?;
    let counts: Vec<usize> = users.iter().map(Vec::len).collect();
    Ok(Steady {
        fs: fs_type(&layout.out),
        startup,
        agent_blocking,
        agent_blocking_end,
        conns,
        conns_end,
        conns_all,
        t_blocking,
        t_deps,
        t_blocking_end,
        users_min: counts.iter().copied().min().unwrap_or(0),
        users_max: counts.iter().copied().max().unwrap_or(0),
        changes,
        all,
        first,
        all_from_send,
        put_rtt,
        before_put_returned,
        missed_events,
        mem_start,
        mem_early,
        mem_end,
        idle_ticks,
        busy_ticks,
        busy_wall,
        t_writes,
        t_renders,
        log_problems,
        health,
    })
}

pub(crate) fn file_has(path: &Path, want: &str) -> bool {
    std::fs::read_to_string(path).is_ok_and(|t| t.contains(want))
}

/// inotify (`IN_MOVED_TO`: templater renames a finished temporary file over
/// the destination) on the output directory, read by a thread of its own:
/// the template index of each destination renamed into place, stamped when
/// the event was read.
pub(crate) struct OutWatch {
    pub(crate) inotify: Arc<Inotify>,
    pub(crate) wd: WatchDescriptor,
    pub(crate) stop: Arc<AtomicBool>,
    pub(crate) thread: Option<std::thread::JoinHandle<()>>,
    pub(crate) rx: mpsc::UnboundedReceiver<(usize, Instant)>,
}

impl OutWatch {
    pub(crate) fn start(dir: &Path, names: HashMap<OsString, usize>) -> Result<OutWatch> {
        let inotify = Arc::new(
            Inotify::init(InitFlags::IN_CLOEXEC)
                .map_err(|e| err(format!("starting inotify: {e}")))?,
        );
        let wd = inotify
            .add_watch(dir, AddWatchFlags::IN_MOVED_TO)
            .map_err(|e| err(format!("watching {}: {e}", dir.display())))?;
        let (tx, rx) = mpsc::unbounded_channel();
        let stop = Arc::new(AtomicBool::new(false));
        let (ino, stop2) = (Arc::clone(&inotify), Arc::clone(&stop));
        // Ends when `stop` is set: dropping the watch wakes the read with IN_IGNORED.
        let thread = std::thread::spawn(move || {
            while !stop2.load(Ordering::Relaxed) {
                let Ok(events) = ino.read_events() else {
                    return;
                };
                let at = Instant::now();
                for ev in events {
                    if let Some(&i) = ev.name.as_ref().and_then(|n| names.get(n)) {
                        if tx.send((i, at)).is_err() {
                            return;
                        }
                    }
                }
            }
        });
        Ok(OutWatch {
            inotify,
            wd,
            stop,
            thread: Some(thread),
            rx,
        })
    }
}

impl Drop for OutWatch {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if self.inotify.rm_watch(self.wd).is_ok() {
            if let Some(t) = self.thread.take() {
                let _ = t.join();
            }
        }
    }
}
