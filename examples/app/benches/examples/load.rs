//! Load generators for the benchmarks (the bench binary's module; its
//! tests are `tests/load.rs`): rounds as fast as the callers go,
//! through one [`Target`] ([`throughput`]) or through two at the same time
//! ([`side_by_side`]).

use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::Target;

/// Starts one caller per target. Each first runs one warm-up round (see
/// [`throughput`]); once every caller is warm, the clock starts and each
/// runs `work(target, started)`. Returns the start and what each caller returned, in the order
/// of `targets`; fails with the first failed round.
async fn together<T, W, Fut>(targets: Vec<Target>, work: W) -> anyhow::Result<(Instant, Vec<T>)>
where
    T: Send + 'static,
    W: Fn(Target, Instant) -> Fut + Clone + Send + 'static,
    Fut: Future<Output = anyhow::Result<T>> + Send + 'static,
{
    let warm = Arc::new(tokio::sync::Barrier::new(targets.len() + 1));
    let (go_tx, go_rx) = tokio::sync::watch::channel(None::<Instant>);
    let mut tasks = Vec::with_capacity(targets.len());
    for target in targets {
        let (warm, mut go, work) = (Arc::clone(&warm), go_rx.clone(), work.clone());
        tasks.push(tokio::spawn(async move {
            let first = target.round().await;
            warm.wait().await;
            first?;
            let started = (*go.wait_for(Option::is_some).await?).unwrap_or_else(Instant::now);
            work(target, started).await
        }));
    }
    warm.wait().await;
    let started = Instant::now();
    go_tx.send_replace(Some(started));
    let mut out = Vec::with_capacity(tasks.len());
    for t in tasks {
        out.push(t.await??);
    }
    Ok((started, out))
}

/// Runs `total` rounds as fast as `concurrency` callers go; returns rounds per
/// second.
///
/// Each caller first runs one warm-up round, outside the clock: it opens the
/// connections and, for [`Target::Discovery`], makes sure the service
/// handles have their first answer from Consul (a cold handle waits for
/// it), so that neither target is charged for a one-time start. The clock
/// starts once every caller is warm and stops when the last one is done;
/// `total` is rounded down to a multiple of `concurrency`.
pub async fn throughput(target: Target, total: u64, concurrency: usize) -> anyhow::Result<f64> {
    let callers = concurrency.max(1);
    let per = total / callers as u64;
    let (started, _) = together(vec![target; callers], move |target, _| async move {
        for _ in 0..per {
            target.round().await?;
        }
        anyhow::Ok(())
    })
    .await?;
    Ok((per * callers as u64) as f64 / started.elapsed().as_secs_f64())
}

/// What [`side_by_side`] measured: rounds completed inside the window by
/// the callers of each target.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct SideBySide {
    /// Rounds completed through the first target.
    pub a: u64,
    /// Rounds completed through the second target.
    pub b: u64,
    /// The window.
    pub window: Duration,
}

// What the tests (`tests/load.rs`) read; the bench reports its own figures.
#[allow(dead_code)]
impl SideBySide {
    /// Rounds per second through the first target.
    pub fn a_per_sec(&self) -> f64 {
        self.a as f64 / self.window.as_secs_f64()
    }

    /// Rounds per second through the second target.
    pub fn b_per_sec(&self) -> f64 {
        self.b as f64 / self.window.as_secs_f64()
    }

    /// How much faster (positive) or slower (negative) the first target
    /// went than the second, in per cent; 0 if the second completed none.
    pub fn diff_pct(&self) -> f64 {
        if self.b == 0 {
            return 0.0;
        }
        (self.a as f64 / self.b as f64 - 1.0) * 100.0
    }
}

/// Runs `a` and `b` at the same time, `per_side` callers each (started
/// alternately), for `window`, and counts the rounds each side completes
/// inside it.
///
/// Both sides share the machine at the same moment, so whatever the machine
/// does meanwhile (other processes, frequency, the scheduler) weighs on both
/// alike, and the ratio of the two counts is the cost of the difference
/// between the targets. Each caller warms up first, as in [`throughput`].
/// A round still in flight at the end of the window is finished but not
/// counted, on either side.
pub async fn side_by_side(
    a: Target,
    b: Target,
    per_side: usize,
    window: Duration,
) -> anyhow::Result<SideBySide> {
    let per_side = per_side.max(1);
    let mut targets = Vec::with_capacity(2 * per_side);
    for _ in 0..per_side {
        targets.push(a.clone());
        targets.push(b.clone());
    }
    let (_, counts) = together(targets, move |target, started| async move {
        let end = started + window;
        let mut done = 0u64;
        while Instant::now() < end {
            target.round().await?;
            if Instant::now() <= end {
                done += 1;
            }
        }
        anyhow::Ok(done)
    })
    .await?;
    let (mut sum_a, mut sum_b) = (0, 0);
    for pair in counts.chunks(2) {
        sum_a += pair.first().copied().unwrap_or(0);
        sum_b += pair.get(1).copied().unwrap_or(0);
    }
    Ok(SideBySide {
        a: sum_a,
        b: sum_b,
        window,
    })
}
