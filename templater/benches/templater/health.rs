//! `/health` probed while templater renders: is the status listener
//! starved by a pass over 1,000 templates?

use super::*;

/// The spacing of the probes.
pub(crate) const PROBE_GAP: Duration = Duration::from_millis(2);
/// The longest a probe runs (bounds the thread whatever happens).
const PROBE_LIMIT: Duration = Duration::from_secs(300);

/// Latencies of `GET /health` and the probes that failed.
#[derive(Default, Clone)]
pub(crate) struct Health {
    pub(crate) latencies: Vec<Duration>,
    pub(crate) failures: usize,
}

impl Health {
    pub(crate) fn extend(&mut self, other: Health) {
        self.latencies.extend(other.latencies);
        self.failures += other.failures;
    }
}

/// `GET /health` every [`PROBE_GAP`] from a thread (and runtime) of its
/// own, so that the bench's own work does not delay the probes, until
/// [`Probe::finish`].
pub(crate) struct Probe {
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<Health>>,
}

impl Probe {
    pub(crate) fn start(addr: SocketAddr) -> Result<Probe> {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = Arc::clone(&stop);
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| err(format!("building the probe's runtime: {e}")))?;
        let http = reqwest::Client::builder()
            .no_proxy()
            .timeout(IO_TIMEOUT)
            .build()
            .map_err(|e| err(format!("building the probe's HTTP client: {e}")))?;
        let url = format!("http://{addr}/health");
        let thread = std::thread::spawn(move || {
            runtime.block_on(async move {
                let mut h = Health::default();
                let started = Instant::now();
                while !flag.load(Ordering::Relaxed) && started.elapsed() < PROBE_LIMIT {
                    let sent = Instant::now();
                    let ok = match http.get(&url).send().await {
                        Ok(r) => r.status().is_success() && r.bytes().await.is_ok(),
                        Err(_) => false,
                    };
                    if ok {
                        h.latencies.push(sent.elapsed());
                    } else {
                        h.failures += 1;
                    }
                    tokio::time::sleep(PROBE_GAP).await;
                }
                h
            })
        });
        Ok(Probe {
            stop,
            thread: Some(thread),
        })
    }

    pub(crate) fn finish(mut self) -> Result<Health> {
        self.stop.store(true, Ordering::Relaxed);
        self.thread
            .take()
            .ok_or_else(|| err("the probe was already finished"))?
            .join()
            .map_err(|_| err("the /health probe panicked"))
    }
}

impl Drop for Probe {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}
