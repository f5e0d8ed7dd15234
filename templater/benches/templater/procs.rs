//! The processes: devagent, its KV, and templater.

use super::*;

/// A `devagent agent -dev` child process.
pub(crate) struct Agent {
    pub(crate) child: Child,
    pub(crate) pid: u32,
    pub(crate) http: SocketAddr,
}

impl Agent {
    pub(crate) async fn spawn(bin: &Path) -> Result<Agent> {
        let d = bench::spawn_devagent(bin, 0, IO_TIMEOUT).await?;
        // Keep reading stdout so the agent never blocks on a full pipe.
        bench::drain(d.stdout);
        Ok(Agent {
            child: d.child,
            pid: d.pid,
            http: d.http,
        })
    }

    pub(crate) async fn gauge(&self, http: &reqwest::Client, name: &str) -> Result<i64> {
        // devagent's Prometheus text (`/v1/agent/metrics` is Consul's JSON form).
        let text = get_text(http, &format!("http://{}/metrics", self.http)).await?;
        metric(&text, name)
    }

    pub(crate) async fn stop(mut self) {
        let _ = nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(self.pid as i32),
            nix::sys::signal::Signal::SIGTERM,
        );
        if tokio::time::timeout(Duration::from_secs(10), self.child.wait())
            .await
            .is_err()
        {
            let _ = self.child.kill().await;
        }
    }
}

pub(crate) async fn get_text(http: &reqwest::Client, url: &str) -> Result<String> {
    let r = http
        .get(url)
        .send()
        .await
        .map_err(|e| err(format!("GET {url}: {e}")))?;
    if !r.status().is_success() {
        return Err(err(format!("GET {url}: status {}", r.status())));
    }
    r.text()
        .await
        .map_err(|e| err(format!("GET {url}: reading the body: {e}")))
}

/// The value of an unlabelled metric in Prometheus/OpenMetrics text.
pub(crate) fn metric(text: &str, name: &str) -> Result<i64> {
    bench::metric(text, name).ok_or_else(|| err(format!("no metric {name} in:\n{text}")))
}

/// The KV store of the agent.
pub(crate) struct Kv {
    pub(crate) http: reqwest::Client,
    pub(crate) base: String,
}

impl Kv {
    pub(crate) async fn put(&self, k: usize, value: &str) -> Result<()> {
        let url = format!("{}/v1/kv/{}", self.base, key_name(k));
        let r = self
            .http
            .put(&url)
            .body(value.to_string())
            .send()
            .await
            .map_err(|e| err(format!("PUT {url}: {e}")))?;
        if !r.status().is_success() {
            return Err(err(format!("PUT {url}: status {}", r.status())));
        }
        // Read the body: the response is complete when this returns.
        r.bytes()
            .await
            .map_err(|e| err(format!("PUT {url}: reading the body: {e}")))?;
        Ok(())
    }

    pub(crate) fn addr(&self) -> Result<SocketAddr> {
        self.base
            .trim_start_matches("http://")
            .parse()
            .map_err(|e| err(format!("bad agent address {}: {e}", self.base)))
    }
}

/// A `templater` child process with its status listener.
pub(crate) struct Templater {
    pub(crate) child: Child,
    pub(crate) pid: u32,
    pub(crate) status: SocketAddr,
    /// Warnings and errors it logged.
    pub(crate) problems: Arc<AtomicUsize>,
}

impl Templater {
    pub(crate) async fn spawn(config: &Path, agent: SocketAddr) -> Result<Templater> {
        let bin = templater_bin();
        let mut child = Command::new(&bin)
            .args([
                "-config",
                &config.display().to_string(),
                "-consul-addr",
                &agent.to_string(),
                "-status-addr",
                "127.0.0.1:0",
                // The status line is info in `templater`; per-file lines are info in `templater::runner`.
                "-log-level",
                "warn,templater=info,templater::runner=warn,templater::command=warn",
            ])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .map_err(|e| err(format!("spawning {}: {e}", bin.display())))?;
        let pid = child.id().ok_or_else(|| err("templater exited at once"))?;
        let stderr = child
            .stderr
            .take()
            .ok_or_else(|| err("templater's stderr is not piped"))?;
        let problems = Arc::new(AtomicUsize::new(0));
        let (tx, rx) = oneshot::channel();
        let p2 = Arc::clone(&problems);
        tokio::spawn(async move {
            let mut tx = Some(tx);
            let mut lines = BufReader::new(stderr).lines();
            while let Ok(Some(line)) = lines.next_line().await {
                if line.contains("status listener") {
                    let addr = line
                        .split_whitespace()
                        .find_map(|w| w.strip_prefix("addr="))
                        .map(str::to_string);
                    if let (Some(tx), Some(a)) = (tx.take(), addr) {
                        let _ = tx.send(a);
                    }
                } else if line.contains("WARN") || line.contains("ERROR") {
                    p2.fetch_add(1, Ordering::Relaxed);
                    eprintln!("templater[{pid}]: {line}");
                }
            }
        });
        let addr = within(IO_TIMEOUT, "templater's status listener line", async {
            rx.await
                .map_err(|_| err("templater exited before logging its status listener"))
        })
        .await?;
        let status = addr
            .parse()
            .map_err(|e| err(format!("bad status address {addr:?}: {e}")))?;
        Ok(Templater {
            child,
            pid,
            status,
            problems,
        })
    }

    pub(crate) async fn metrics(&self, http: &reqwest::Client) -> Result<String> {
        get_text(http, &format!("http://{}/metrics", self.status)).await
    }

    pub(crate) async fn stop(mut self) -> Result<()> {
        let _ = nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(self.pid as i32),
            nix::sys::signal::Signal::SIGTERM,
        );
        match tokio::time::timeout(Duration::from_secs(10), self.child.wait()).await {
            Ok(Ok(s)) if s.success() => Ok(()),
            Ok(Ok(s)) => Err(err(format!("templater exited with {s} after SIGTERM"))),
            Ok(Err(e)) => Err(err(format!("waiting for templater: {e}"))),
            Err(_) => {
                let _ = self.child.kill().await;
                Err(err("templater did not exit within 10 s of SIGTERM"))
            }
        }
    }
}
