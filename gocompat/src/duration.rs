//! Go `time.Duration` syntax: parsing (`"1m30s"`, `"250ms"`) and formatting
//! (`"1m30s"`, `"1h0m0s"`), as Consul reads and writes durations on the wire.

use std::time::Duration;

/// Parses a Go duration string such as `"10s"`, `"1m30s"` or `"1.5h"`.
///
/// Negative durations are rejected: nothing in the agent's API accepts them.
pub fn parse(s: &str) -> Result<Duration, String> {
    let trimmed = s.trim();
    if trimmed.is_empty() {
        return Err(format!("invalid duration {s:?}: empty"));
    }
    // A bare "0" is valid in Go without a unit.
    if trimmed == "0" {
        return Ok(Duration::ZERO);
    }
    match go_parse_duration::parse_duration(trimmed) {
        Ok(ns) if ns < 0 => Err(format!("invalid duration {s:?}: negative")),
        Ok(ns) => Ok(Duration::from_nanos(ns.unsigned_abs())),
        Err(_) => Err(format!(
            "invalid duration {s:?}: use a number with a unit, such as \"10s\", \"1m30s\" or \"250ms\""
        )),
    }
}

/// Formats a duration the way Go's `time.Duration.String()` does.
pub fn format(d: Duration) -> String {
    let ns = d.as_nanos();
    if ns == 0 {
        return "0s".to_string();
    }
    if ns < 1_000 {
        return format!("{ns}ns");
    }
    if ns < 1_000_000 {
        return format!("{}µs", frac(ns, 1_000));
    }
    if ns < 1_000_000_000 {
        return format!("{}ms", frac(ns, 1_000_000));
    }
    let total_secs = ns / 1_000_000_000;
    let sub = ns % 1_000_000_000;
    let h = total_secs / 3600;
    let m = (total_secs % 3600) / 60;
    let s = total_secs % 60;
    let secs = frac(u128::from(s as u64) * 1_000_000_000 + sub, 1_000_000_000);
    if h > 0 {
        format!("{h}h{m}m{secs}s")
    } else if m > 0 {
        format!("{m}m{secs}s")
    } else {
        format!("{secs}s")
    }
}

/// `value / unit` with the fraction printed without trailing zeros.
fn frac(value: u128, unit: u128) -> String {
    let whole = value / unit;
    let rest = value % unit;
    if rest == 0 {
        return whole.to_string();
    }
    let width = unit.to_string().len() - 1;
    let digits = format!("{rest:0width$}");
    format!("{whole}.{}", digits.trim_end_matches('0'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_go_syntax() {
        assert_eq!(parse("10s").unwrap(), Duration::from_secs(10));
        assert_eq!(parse("1m30s").unwrap(), Duration::from_secs(90));
        assert_eq!(parse("100ms").unwrap(), Duration::from_millis(100));
        assert_eq!(parse("1.5h").unwrap(), Duration::from_secs(5400));
        assert_eq!(parse("0").unwrap(), Duration::ZERO);
        assert!(parse("10").is_err());
        assert!(parse("ten seconds").is_err());
        assert!(parse("-5s").is_err());
        assert!(parse("").is_err());
    }

    #[test]
    fn formats_like_go() {
        assert_eq!(format(Duration::from_secs(10)), "10s");
        assert_eq!(format(Duration::from_secs(60)), "1m0s");
        assert_eq!(format(Duration::from_secs(3600)), "1h0m0s");
        assert_eq!(format(Duration::from_millis(1500)), "1.5s");
        assert_eq!(format(Duration::from_millis(100)), "100ms");
        assert_eq!(format(Duration::ZERO), "0s");
        assert_eq!(format(Duration::from_secs(90)), "1m30s");
    }

    proptest::proptest! {
        #[test]
        fn parse_never_panics(s in ".{0,40}") {
            let _ = parse(&s);
        }

        #[test]
        fn format_then_parse_round_trips(ms in 0u64..10_000_000_000) {
            let d = Duration::from_millis(ms);
            proptest::prop_assert_eq!(parse(&format(d)).unwrap(), d);
        }
    }
}
