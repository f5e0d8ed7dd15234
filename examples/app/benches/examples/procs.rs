//! The release binaries as child processes, and discovery of them.

use super::*;

/// A child process, killed when dropped.
pub(crate) struct Proc {
    pub(crate) name: String,
    pub(crate) child: Child,
}

impl Proc {
    pub(crate) fn pid(&self) -> nix::unistd::Pid {
        nix::unistd::Pid::from_raw(
            self.child
                .id()
                .and_then(|p| i32::try_from(p).ok())
                .expect("a running child has a pid"),
        )
    }

    pub(crate) fn signal(&self, sig: nix::sys::signal::Signal) {
        let _ = nix::sys::signal::kill(self.pid(), sig);
    }

    /// SIGTERM, then SIGKILL after 10 s.
    pub(crate) async fn stop(mut self) {
        if self.child.id().is_some() {
            self.signal(nix::sys::signal::Signal::SIGTERM);
        }
        if tokio::time::timeout(Duration::from_secs(10), self.child.wait())
            .await
            .is_err()
        {
            eprintln!("examples bench: {} ignored SIGTERM; killing it", self.name);
            let _ = self.child.kill().await;
        }
    }
}

/// Spawns `bin args`, waits (bounded) for a stdout line containing `needle`
/// and returns it; the rest of stdout is drained.
pub(crate) async fn spawn(bin: &Path, args: &[&str], needle: &str) -> (Proc, String) {
    let name = bin
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let mut child = Command::new(bin)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap_or_else(|e| panic!("spawning {}: {e}", bin.display()));
    let mut lines = BufReader::new(child.stdout.take().expect("piped stdout")).lines();
    let line = read_until(&mut lines, needle, LIMIT)
        .await
        .unwrap_or_else(|| panic!("{name} printed no {needle:?} line within {LIMIT:?}"));
    bench::drain(lines);
    (Proc { name, child }, line)
}

pub(crate) async fn read_until(
    lines: &mut Lines<BufReader<ChildStdout>>,
    needle: &str,
    limit: Duration,
) -> Option<String> {
    let deadline = tokio::time::Instant::now() + limit;
    loop {
        match tokio::time::timeout_at(deadline, lines.next_line()).await {
            Ok(Ok(Some(l))) if l.contains(needle) => return Some(l),
            Ok(Ok(Some(_))) => {}
            _ => return None,
        }
    }
}

/// `devagent agent -dev` on free ports; returns it and `http://host:port`.
pub(crate) async fn agent(s: &Settings) -> (Proc, String) {
    let (p, line) = spawn(
        &s.bin("devagent"),
        &[
            "agent",
            "-dev",
            "-http-port",
            "0",
            "-dns-port",
            "0",
            "-node",
            "bench",
            "-log-level",
            "warn",
        ],
        "devagent listening",
    )
    .await;
    let http = line
        .split_whitespace()
        .find_map(|w| w.strip_prefix("http="))
        .expect("http= in the listening line");
    (p, format!("http://{http}"))
}

/// A sensor or worker process; returns it, its address and its service ID.
pub(crate) async fn service(s: &Settings, name: &str, consul: &str) -> (Proc, String, String) {
    let interval = format!("{}ms", CHECK_INTERVAL.as_millis());
    let (p, line) = spawn(
        &s.bin(name),
        &["--http-addr", consul, "--check-interval", &interval],
        &format!("{name} listening on"),
    )
    .await;
    let addr = line
        .rsplit(' ')
        .next()
        .expect("an address at the end")
        .to_string();
    let port = addr.rsplit(':').next().expect("a port").to_string();
    (p, addr, format!("{name}-{port}"))
}

pub(crate) fn discovery(consul: &str) -> dcy::Discovery {
    let config = dcy::Config::builder()
        .address(consul)
        .build()
        .expect("a Consul config");
    dcy::Discovery::new(dcy::Client::new(config).expect("a Consul client"))
}

/// Waits (bounded) until discovery's healthy `worker` set satisfies `f`;
/// returns how long that took. Polls the snapshot every millisecond (a
/// lock-free load): `Service::changed` subscribes only when first polled, so
/// a change between a look and the wait could be missed.
pub(crate) async fn until_workers(
    d: &dcy::Discovery,
    limit: Duration,
    f: impl Fn(&dcy::Instances) -> bool,
) -> Option<Duration> {
    let started = Instant::now();
    let svc = d.service("worker");
    while started.elapsed() < limit {
        if f(&svc.instances()) {
            return Some(started.elapsed());
        }
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    None
}
