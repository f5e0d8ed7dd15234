//! What travels over the broker, as JSON, and its message ID.
//!
//! A reading's ID is `<sensor>.<seq>`; the square of a reading carries the
//! same ID, so that the stream's duplicate window drops a second publish of
//! either (a sensor retrying after a lost acknowledgement, a worker squaring
//! a reading redelivered after another worker died) and the app can tell a
//! redelivered square from a new one.

use std::time::{SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

/// Most bytes of a message the services read (NATS's own default
/// `max_payload` is 1 MB; a reading is under 100 bytes).
pub const MAX_MESSAGE: usize = 4096;

/// One reading, from the sensor to a worker.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Reading {
    /// The sensor instance.
    pub sensor: String,
    /// Its sequence number at that sensor, from 0.
    pub seq: u64,
    /// The value to square.
    pub value: i64,
    /// When the sensor published it, in Unix microseconds.
    pub sent_us: u64,
}

/// A reading squared, from a worker to the app.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Squared {
    /// The sensor instance of the reading.
    pub sensor: String,
    /// The reading's sequence number.
    pub seq: u64,
    /// The reading.
    pub n: i64,
    /// Its square (`None` when it overflows; then `error` says why).
    pub square: Option<i64>,
    /// Why there is no square.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// The worker instance.
    pub worker: String,
    /// When the sensor published the reading, in Unix microseconds.
    pub sent_us: u64,
}

impl Reading {
    /// Its message ID.
    pub fn id(&self) -> String {
        message_id(&self.sensor, self.seq)
    }

    /// Squared by `worker`.
    pub fn square(&self, worker: &str) -> Squared {
        let (square, error) = match self.value.checked_mul(self.value) {
            Some(s) => (Some(s), None),
            None => (
                None,
                Some(format!(
                    "{} squared overflows: use |n| < 3037000499",
                    self.value
                )),
            ),
        };
        Squared {
            sensor: self.sensor.clone(),
            seq: self.seq,
            n: self.value,
            square,
            error,
            worker: worker.to_string(),
            sent_us: self.sent_us,
        }
    }
}

impl Squared {
    /// Its message ID: the reading's.
    pub fn id(&self) -> String {
        message_id(&self.sensor, self.seq)
    }

    /// Whether the square is right.
    pub fn is_right(&self) -> bool {
        self.n.checked_mul(self.n) == self.square
    }
}

/// The message ID of reading `seq` of `sensor`.
pub fn message_id(sensor: &str, seq: u64) -> String {
    format!("{sensor}.{seq}")
}

/// Parses a message body, bounded: at most [`MAX_MESSAGE`] bytes.
pub fn parse<T: serde::de::DeserializeOwned>(body: &[u8]) -> anyhow::Result<T> {
    if body.len() > MAX_MESSAGE {
        anyhow::bail!("a message of {} bytes (at most {MAX_MESSAGE})", body.len());
    }
    Ok(serde_json::from_slice(body)?)
}

/// Now, in Unix microseconds.
pub fn now_us() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_micros()).unwrap_or(u64::MAX))
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn a_square_keeps_the_readings_id() {
        let r = Reading {
            sensor: "sensor-1".into(),
            seq: 7,
            value: -12,
            sent_us: 1,
        };
        let s = r.square("worker-2");
        assert_eq!(s.id(), "sensor-1.7");
        assert_eq!(s.id(), r.id());
        assert_eq!(s.square, Some(144));
        assert!(s.is_right());
        let big = Reading {
            value: i64::MAX,
            ..r
        }
        .square("w");
        assert_eq!(big.square, None);
        assert!(big.error.unwrap().contains("overflows"));
    }

    #[test]
    fn parsing_is_bounded() {
        let huge = vec![b' '; MAX_MESSAGE + 1];
        let e = parse::<Reading>(&huge).unwrap_err().to_string();
        assert!(e.contains("at most 4096"), "{e}");
        assert!(parse::<Reading>(b"{\"sensor\":1}").is_err());
    }
}
