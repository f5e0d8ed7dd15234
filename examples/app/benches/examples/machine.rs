//! The machine: its load average, and running a figure on a quiet one.

use super::*;

/// The 1-minute load average, and the whole `/proc/loadavg` line.
pub(crate) fn loadavg() -> (f64, String) {
    let line = bench::loadavg().unwrap_or_default();
    let one = bench::load_fields(&line, 1).parse().unwrap_or(0.0);
    (one, line)
}

/// Waits (at most `limit`) for the 1-minute load average to be at most
/// `max`; returns whether it was and the `/proc/loadavg` line.
pub(crate) async fn wait_quiet(max: f64, limit: Duration, what: &str) -> (bool, String) {
    let deadline = Instant::now() + limit;
    loop {
        let (one, line) = loadavg();
        if one <= max {
            return (true, line);
        }
        if Instant::now() >= deadline {
            eprintln!(
                "examples bench: {what}: load {one} > {max} after waiting {limit:?}; going on"
            );
            return (false, line);
        }
        eprintln!("examples bench: {what}: load {one} > {max}, waiting");
        tokio::time::sleep(Duration::from_secs(15)).await;
    }
}

/// Load at the start and the end of a figure.
#[derive(Clone, Debug, Default)]
pub(crate) struct Load {
    pub(crate) before: String,
    pub(crate) after: String,
    pub(crate) quiet: bool,
    pub(crate) attempt: usize,
}

impl Load {
    pub(crate) fn cell(&self) -> String {
        let first3 = |l: &str| bench::load_fields(l, 3);
        let mut s = format!("{} → {}", first3(&self.before), first3(&self.after));
        if !self.quiet {
            s.push_str(" (above the limit at the start)");
        }
        if self.attempt > 1 {
            let _ = write!(s, " (attempt {})", self.attempt);
        }
        s
    }
}

/// Runs a figure, waiting for a quiet machine first; runs it again (at most
/// [`ATTEMPTS`] times) when the load was above the limit at its start.
pub(crate) async fn figure<T, F, Fut>(s: &Settings, what: &str, mut run: F) -> (T, Load)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = T>,
{
    let mut attempt = 0;
    loop {
        attempt += 1;
        let (quiet, before) = wait_quiet(s.max_load, s.load_wait, what).await;
        eprintln!("examples bench: {what} (attempt {attempt}), /proc/loadavg {before}");
        let out = run().await;
        let (_, after) = loadavg();
        eprintln!("examples bench: {what} done, /proc/loadavg {after}");
        if quiet || attempt >= ATTEMPTS {
            return (
                out,
                Load {
                    before,
                    after,
                    quiet,
                    attempt,
                },
            );
        }
        eprintln!("examples bench: {what}: started above the load limit, running it again");
    }
}
