//! End-to-end latency as a histogram (HdrHistogram, 3 significant digits,
//! 1 µs to 10 min): constant memory, whatever the count.

use std::time::Duration;

use hdrhistogram::Histogram;
use serde::{Deserialize, Serialize};

/// The highest latency recorded as it is; longer ones count as this.
const MAX_US: u64 = 600_000_000;

/// Latencies recorded so far.
#[derive(Clone, Debug)]
pub struct Latency {
    hist: Option<Histogram<u64>>,
}

impl Default for Latency {
    fn default() -> Self {
        Latency {
            hist: Histogram::new_with_bounds(1, MAX_US, 3).ok(),
        }
    }
}

impl Latency {
    /// Records one latency.
    pub fn record(&mut self, d: Duration) {
        let us = u64::try_from(d.as_micros())
            .unwrap_or(MAX_US)
            .clamp(1, MAX_US);
        if let Some(h) = self.hist.as_mut() {
            h.saturating_record(us);
        }
    }

    /// Records the latency of something sent at `sent_us` (Unix µs) and
    /// received at `now_us`; a clock that went backwards counts as 1 µs.
    pub fn record_since(&mut self, sent_us: u64, now_us: u64) {
        self.record(Duration::from_micros(now_us.saturating_sub(sent_us)));
    }

    /// Forgets everything recorded.
    pub fn reset(&mut self) {
        if let Some(h) = self.hist.as_mut() {
            h.reset();
        }
    }

    /// Count, p50, p99 and max.
    pub fn summary(&self) -> LatencySummary {
        let Some(h) = self.hist.as_ref().filter(|h| !h.is_empty()) else {
            return LatencySummary::default();
        };
        let ms = |us: u64| us as f64 / 1000.0;
        LatencySummary {
            count: h.len(),
            p50_ms: ms(h.value_at_quantile(0.50)),
            p99_ms: ms(h.value_at_quantile(0.99)),
            max_ms: ms(h.max()),
        }
    }
}

/// What [`Latency::summary`] says.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct LatencySummary {
    /// Latencies recorded.
    pub count: u64,
    /// Median, in milliseconds.
    pub p50_ms: f64,
    /// 99th percentile, in milliseconds.
    pub p99_ms: f64,
    /// Longest, in milliseconds.
    pub max_ms: f64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles() {
        let mut l = Latency::default();
        assert_eq!(l.summary(), LatencySummary::default());
        for ms in 1..=100u64 {
            l.record(Duration::from_millis(ms));
        }
        let s = l.summary();
        assert_eq!(s.count, 100);
        assert!((s.p50_ms - 50.0).abs() < 0.1, "{s:?}");
        assert!((s.p99_ms - 99.0).abs() < 0.1, "{s:?}");
        assert!((s.max_ms - 100.0).abs() < 0.1, "{s:?}");
        l.record_since(10, 5);
        l.record(Duration::from_secs(100_000));
        assert_eq!(l.summary().count, 102);
        l.reset();
        assert_eq!(l.summary().count, 0);
    }
}
