//! De-duplication by message ID: which sequence numbers of each sensor the
//! app has counted, as ranges (readings arrive nearly in order, so a few
//! ranges hold millions of IDs).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// Most sensors remembered; a message of a sensor beyond them is counted
/// without de-duplication (and [`Seen::untracked`] says how many).
pub const MAX_SENSORS: usize = 1024;
/// Most ranges remembered per sensor; past it the lowest range is
/// forgotten (the stream's duplicate window covers what is that old).
pub const MAX_RANGES: usize = 100_000;

/// The sequence numbers seen, per sensor.
#[derive(Clone, Debug, Default)]
pub struct Seen {
    sensors: BTreeMap<String, Ranges>,
    untracked: u64,
}

/// Disjoint, non-adjacent ranges `start → end` (both included).
#[derive(Clone, Debug, Default)]
struct Ranges(BTreeMap<u64, u64>);

impl Ranges {
    /// Adds `seq`; `false` when it was there already.
    fn insert(&mut self, seq: u64) -> bool {
        let below = self.0.range(..=seq).next_back().map(|(s, e)| (*s, *e));
        if let Some((_, end)) = below {
            if end >= seq {
                return false;
            }
        }
        let joins_below = below.filter(|(_, end)| end.checked_add(1) == Some(seq));
        let above = seq
            .checked_add(1)
            .and_then(|next| self.0.get(&next).map(|end| (next, *end)));
        match (joins_below, above) {
            (Some((start, _)), Some((next, end))) => {
                self.0.remove(&next);
                self.0.insert(start, end);
            }
            (Some((start, _)), None) => {
                self.0.insert(start, seq);
            }
            (None, Some((next, end))) => {
                self.0.remove(&next);
                self.0.insert(seq, end);
            }
            (None, None) => {
                self.0.insert(seq, seq);
                while self.0.len() > MAX_RANGES {
                    self.0.pop_first();
                }
            }
        }
        true
    }
}

impl Seen {
    /// Records `seq` of `sensor`; `true` when it is new (count it), `false`
    /// for a duplicate (drop it).
    pub fn insert(&mut self, sensor: &str, seq: u64) -> bool {
        if let Some(r) = self.sensors.get_mut(sensor) {
            return r.insert(seq);
        }
        if self.sensors.len() >= MAX_SENSORS {
            self.untracked += 1;
            return true;
        }
        let mut r = Ranges::default();
        r.insert(seq);
        self.sensors.insert(sensor.to_string(), r);
        true
    }

    /// Messages counted without de-duplication (too many sensors).
    pub fn untracked(&self) -> u64 {
        self.untracked
    }

    /// Per sensor: how many IDs, and the first `max` ranges `[start, end]`.
    pub fn summary(&self, max: usize) -> BTreeMap<String, SensorSeen> {
        self.sensors
            .iter()
            .map(|(name, r)| {
                let count = r.0.iter().map(|(s, e)| e - s + 1).sum();
                (
                    name.clone(),
                    SensorSeen {
                        count,
                        ranges: r.0.iter().take(max).map(|(s, e)| [*s, *e]).collect(),
                        gaps: r.0.len().saturating_sub(1),
                    },
                )
            })
            .collect()
    }
}

/// What [`Seen::summary`] says of one sensor.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SensorSeen {
    /// IDs seen.
    pub count: u64,
    /// The first ranges of them, `[start, end]` (both included).
    pub ranges: Vec<[u64; 2]>,
    /// Holes between the ranges (0: one unbroken run).
    pub gaps: usize,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn duplicates_are_dropped_in_any_order() {
        let mut s = Seen::default();
        for seq in [0, 1, 2, 5, 4, 3, 9, 7, 8, 6] {
            assert!(s.insert("a", seq), "{seq} is new");
        }
        for seq in [0, 5, 9, 3] {
            assert!(!s.insert("a", seq), "{seq} again");
        }
        assert!(s.insert("b", 0), "another sensor's 0");
        let sum = s.summary(10);
        assert_eq!(sum["a"].count, 10);
        assert_eq!(sum["a"].ranges, [[0, 9]]);
        assert_eq!(sum["a"].gaps, 0);
        assert!(s.insert("a", 11));
        assert_eq!(s.summary(10)["a"].ranges, [[0, 9], [11, 11]]);
        assert!(!s.insert("a", 11));
        assert!(s.insert("a", u64::MAX));
        assert!(!s.insert("a", u64::MAX));
        assert!(s.insert("a", u64::MAX - 1));
        assert_eq!(s.summary(10)["a"].gaps, 2);
    }

    #[test]
    fn memory_is_bounded() {
        let mut s = Seen::default();
        for seq in 0..(MAX_RANGES as u64 + 10) {
            assert!(s.insert("a", seq * 2));
        }
        let sum = s.summary(1);
        assert_eq!(sum["a"].gaps, MAX_RANGES - 1);
        assert_eq!(
            sum["a"].ranges,
            [[20, 20]],
            "the lowest ranges are forgotten"
        );
        for i in 0..MAX_SENSORS + 3 {
            s.insert(&format!("s{i}"), 0);
        }
        assert_eq!(s.untracked(), 4);
    }
}
