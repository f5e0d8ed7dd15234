//! Figure 3: the demo from the command to every service passing.

use super::*;

#[derive(Debug, Default)]
pub(crate) struct DemoRun {
    /// Spawn → the `every service passing` line.
    line: Duration,
    /// What the line says (ms since the demo's `run` started).
    reported_ms: Option<u64>,
    /// Spawn → every service check has run at least once and passes.
    probed: Option<Duration>,
    /// SIGINT → exit, and the demo's last line.
    stopped: Option<Duration>,
    last_line: String,
}

pub(crate) async fn demo_once(s: &Settings) -> DemoRun {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let started = Instant::now();
    let mut child = Command::new(s.bin("demo"))
        .args([
            "--http-port",
            "0",
            "--dns-port",
            "0",
            "--nginx-port",
            "0",
            "--dir",
            &dir.path().display().to_string(),
        ])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("spawning the demo");
    let mut lines = BufReader::new(child.stdout.take().expect("piped stdout")).lines();
    let passing = read_until(&mut lines, "every service passing", LIMIT * 2)
        .await
        .expect("the demo's `every service passing` line");
    let line = started.elapsed();
    let reported_ms = passing
        .split("passing ")
        .nth(1)
        .and_then(|r| r.split_whitespace().next())
        .and_then(|v| v.parse().ok());
    let consul = read_until(&mut lines, "Consul API", LIMIT)
        .await
        .and_then(|l| {
            l.split_whitespace()
                .find(|w| w.starts_with("http://"))
                .map(str::to_string)
        })
        .expect("the demo's Consul API line");
    // The rest of stdout, to a channel: the last line tells what was left.
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    tokio::spawn(async move {
        while let Ok(Some(l)) = lines.next_line().await {
            let _ = tx.send(l);
        }
    });

    // Sensor, 2 workers, app, dashboard: each check run at least once.
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(2))
        .build()
        .expect("an HTTP client");
    let url = format!("{consul}/v1/health/state/passing");
    let mut probed = None;
    let deadline = Instant::now() + LIMIT;
    while Instant::now() < deadline {
        let checks: serde_json::Value = match http.get(&url).send().await {
            Ok(r) => r.json().await.unwrap_or_default(),
            Err(_) => serde_json::Value::Null,
        };
        let ran = checks
            .as_array()
            .map(|a| {
                a.iter()
                    .filter(|c| c["ServiceID"].as_str().is_some_and(|s| !s.is_empty()))
                    .filter(|c| c["Output"].as_str().is_some_and(|o| o.contains("HTTP GET")))
                    .count()
            })
            .unwrap_or(0);
        if ran >= 5 {
            probed = Some(started.elapsed());
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }

    // Ctrl-C, as from a terminal (stdin is not one here: no keys).
    if let Some(pid) = child.id().and_then(|p| i32::try_from(p).ok()) {
        let _ = nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(pid),
            nix::sys::signal::Signal::SIGINT,
        );
    }
    let quit = Instant::now();
    let stopped = match tokio::time::timeout(LIMIT, child.wait()).await {
        Ok(_) => Some(quit.elapsed()),
        Err(_) => {
            eprintln!("examples bench: the demo did not stop on SIGINT; killing it");
            let _ = child.kill().await;
            None
        }
    };
    let mut last_line = String::new();
    while let Ok(Some(l)) = tokio::time::timeout(Duration::from_secs(2), rx.recv()).await {
        let l = l.trim().to_string();
        if !l.is_empty() {
            last_line = l;
        }
    }
    DemoRun {
        line,
        reported_ms,
        probed,
        stopped,
        last_line,
    }
}

pub(crate) async fn demo(s: &Settings) -> Vec<DemoRun> {
    let mut runs = Vec::new();
    for i in 0..s.demo_runs {
        let r = demo_once(s).await;
        eprintln!("examples bench: demo run {}: {r:?}", i + 1);
        runs.push(r);
    }
    runs
}

/// Figure 3: (table rows, details).
pub(crate) fn report_demo((dm, load): &(Vec<DemoRun>, Load), commit: &str) -> (String, String) {
    let (mut rows, mut details) = (String::new(), String::new());
    let lines: Vec<f64> = dm.iter().map(|r| millis(r.line)).collect();
    let _ = writeln!(
        rows,
        "| 3. Demo: command → `every service passing` line, median / max of {} | {:.0} ms / {:.0} ms | ≤ {} ms | {} | {} | {commit} |",
        dm.len(),
        median(&lines),
        max(&lines),
        DEMO_TARGET.as_millis(),
        yes_no(max(&lines) <= millis(DEMO_TARGET)),
        load.cell()
    );
    let probed: Vec<f64> = dm.iter().filter_map(|r| r.probed.map(millis)).collect();
    let _ = writeln!(
        rows,
        "| 3b. Demo: command → every service's check has actually run and passes, median / max | {:.0} ms / {:.0} ms{} | (reported) | | {} | {commit} |",
        median(&probed),
        max(&probed),
        if probed.len() == dm.len() { String::new() } else { format!(" ({} of {} never)", dm.len() - probed.len(), dm.len()) },
        load.cell()
    );
    let _ = writeln!(
        details,
        "**3.** `demo --http-port 0 --dns-port 0 --nginx-port 0 --dir <tmp>` (2 workers; nginx {}), then SIGINT (stdin at end of input: no keys). \
         \"Line\" is spawn → the `every service passing` line; the demo counts a service as passing as soon as it is registered (initial status passing). \
         \"Checks ran\" is spawn → every service check (sensor, 2 workers, app, dashboard) has an HTTP result and passes (the agent staggers each check's first run within its interval).\n",
        if Path::new("/usr/sbin/nginx").exists() || Path::new("/usr/bin/nginx").exists() {
            "installed, so started"
        } else {
            "not installed"
        }
    );
    let _ = writeln!(
        details,
        "| Run | Line | Demo says | Checks ran | SIGINT → exit | Last line |"
    );
    let _ = writeln!(details, "|---|---|---|---|---|---|");
    for (i, r) in dm.iter().enumerate() {
        let o = |d: Option<Duration>| d.map_or("-".to_string(), |d| ms_to(d, 0));
        let _ = writeln!(
            details,
            "| {} | {:.0} ms | {} | {} | {} | {} |",
            i + 1,
            millis(r.line),
            r.reported_ms.map_or("-".into(), |v| format!("{v} ms")),
            o(r.probed),
            o(r.stopped),
            r.last_line
        );
    }
    (rows, details)
}
