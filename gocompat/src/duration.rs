//! Go `time.Duration` syntax: parsing (`"1m30s"`, `"250ms"`) and formatting
//! (`"1m30s"`, `"1h0m0s"`), as Consul reads and writes durations on the wire.

use std::time::Duration;

/// Parses a Go duration string such as `"10s"`, `"1m30s"` or `"1.5h"`.
///
/// The grammar of Go's `time.ParseDuration`: an optional sign, then one or
/// more decimal numbers (with an optional fraction), each followed by a unit
/// (`ns`, `us`, `µs`, `μs`, `ms`, `s`, `m`, `h`); a bare `"0"`; at most
/// `i64::MAX` nanoseconds. Negative durations are rejected: nothing in the
/// agent's API accepts them.
///
/// ```
/// use std::time::Duration;
/// assert_eq!(gocompat::duration::parse("1m30s"), Ok(Duration::from_secs(90)));
/// assert_eq!(gocompat::duration::parse("1.5ms"), Ok(Duration::from_micros(1500)));
/// assert!(gocompat::duration::parse("10").unwrap_err().contains("missing unit"));
/// ```
pub fn parse(s: &str) -> Result<Duration, String> {
    let trimmed = s.trim();
    match nanos(trimmed) {
        Ok((true, ns)) if ns > 0 => Err(format!("invalid duration {s:?}: negative")),
        Ok((_, ns)) => Ok(Duration::from_nanos(ns)),
        Err(why) => Err(format!(
            "invalid duration {s:?}: {why}; use a number with a unit, such as \"10s\", \"1m30s\" or \"250ms\""
        )),
    }
}

/// `(negative, nanoseconds)` of a Go duration, or why it is not one.
fn nanos(s: &str) -> Result<(bool, u64), String> {
    let (negative, mut rest) = match s.as_bytes().first() {
        Some(b'-') => (true, &s[1..]),
        Some(b'+') => (false, &s[1..]),
        _ => (false, s),
    };
    if rest == "0" {
        return Ok((negative, 0));
    }
    if rest.is_empty() {
        return Err("empty".into());
    }
    let digits = |r: &str| r.bytes().take_while(u8::is_ascii_digit).count();
    let mut total: u128 = 0;
    while !rest.is_empty() {
        let n = digits(rest);
        let (whole, r) = rest.split_at(n);
        rest = r;
        let mut fraction = "";
        if let Some(r) = rest.strip_prefix('.') {
            let n = digits(r);
            (fraction, rest) = r.split_at(n);
        }
        if whole.is_empty() && fraction.is_empty() {
            return Err("a number is missing".into());
        }
        let n = rest
            .find(|c: char| c == '.' || c.is_ascii_digit())
            .unwrap_or(rest.len());
        let (unit, r) = rest.split_at(n);
        rest = r;
        let scale: u128 = match unit {
            "ns" => 1,
            "us" | "\u{b5}s" | "\u{3bc}s" => 1_000,
            "ms" => 1_000_000,
            "s" => 1_000_000_000,
            "m" => 60_000_000_000,
            "h" => 3_600_000_000_000,
            "" => return Err("missing unit".into()),
            other => return Err(format!("unknown unit {other:?}")),
        };
        let too_long = || "too long (the limit is about 292 years)".to_string();
        let whole: u128 = match whole {
            "" => 0,
            w => w.parse().map_err(|_| too_long())?,
        };
        // 24 digits are below a nanosecond even in hours (3.6e12 ns), and
        // 10^24 × 3.6e12 still fits in a u128.
        let fraction = &fraction[..fraction.len().min(24)];
        let part = match fraction {
            "" => 0,
            f => {
                let f: u128 = f.parse().map_err(|_| too_long())?;
                f * scale / 10u128.pow(fraction.len() as u32)
            }
        };
        total = whole
            .checked_mul(scale)
            .and_then(|w| w.checked_add(part))
            .and_then(|v| v.checked_add(total))
            .filter(|t| *t <= i64::MAX as u128)
            .ok_or_else(too_long)?;
    }
    Ok((negative, total as u64))
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

/// Formats a duration for a person: Go's syntax ([`format`]) at a precision
/// that fits its size, so a remaining time computed from a deadline reads as
/// the timeout someone set (`10s`, not `9.999998958s`): at most three
/// significant decimals of the largest unit, rounded.
///
/// ```
/// use std::time::Duration;
/// use gocompat::duration::human;
/// assert_eq!(human(Duration::from_nanos(9_999_998_958)), "10s");
/// assert_eq!(human(Duration::from_millis(1500)), "1.5s");
/// assert_eq!(human(Duration::from_micros(2_345_678)), "2.346s");
/// assert_eq!(human(Duration::from_micros(12_345)), "12.345ms");
/// assert_eq!(human(Duration::from_secs(90)), "1m30s");
/// ```
pub fn human(d: Duration) -> String {
    let ns = d.as_nanos();
    let unit: u128 = if ns >= 1_000_000_000 {
        1_000_000
    } else if ns >= 1_000_000 {
        1_000
    } else {
        1
    };
    let rounded = (ns + unit / 2) / unit * unit;
    format(Duration::from_nanos(
        u64::try_from(rounded).unwrap_or(u64::MAX),
    ))
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
    fn parses_what_go_parses() {
        let ok = [
            ("1µs", 1_000),
            ("1μs", 1_000),
            ("1us", 1_000),
            ("1.5ms", 1_500_000),
            (".5s", 500_000_000),
            ("1.s", 1_000_000_000),
            ("+2m", 120_000_000_000),
            ("1h2m3s4ms5us6ns", 3_723_004_005_006),
            ("-0", 0),
            ("0.000000001s", 1),
            ("0.1234567890123456789s", 123_456_789),
            ("0.0000000000002777778h", 1),
            ("2562047h47m16.854775807s", i64::MAX as u64),
        ];
        for (s, ns) in ok {
            assert_eq!(parse(s), Ok(Duration::from_nanos(ns)), "{s}");
        }
        let bad = [
            ("10", "missing unit"),
            (".s", "a number is missing"),
            ("1x", "unknown unit \"x\""),
            ("1sec", "unknown unit \"sec\""),
            ("2562047h47m16.854775808s", "too long"),
            ("99999999999999999999999999999999999999999h", "too long"),
            ("-", "empty"),
            ("1s ms", "unknown unit"),
            ("1é", "unknown unit"),
        ];
        for (s, why) in bad {
            let e = parse(s).unwrap_err();
            assert!(e.contains(why) && e.contains(&format!("{s:?}")), "{s}: {e}");
        }
    }

    #[test]
    fn formats_for_people() {
        assert_eq!(human(Duration::ZERO), "0s");
        assert_eq!(human(Duration::from_nanos(999)), "999ns");
        assert_eq!(human(Duration::from_nanos(1_999_999)), "2ms");
        assert_eq!(human(Duration::from_nanos(999_999_999)), "1s");
        assert_eq!(human(Duration::from_nanos(59_999_999_999)), "1m0s");
        assert_eq!(human(Duration::from_millis(250)), "250ms");
        assert_eq!(human(Duration::MAX), format(Duration::from_nanos(u64::MAX)));
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
        fn parse_never_panics_on_near_misses(s in "[-+]?[0-9.]{0,6}(ns|us|µs|μs|ms|s|m|h|é|x)?[0-9.]{0,4}.?") {
            let _ = parse(&s);
        }

        #[test]
        fn format_then_parse_round_trips_to_the_nanosecond(ns in 0u64..(i64::MAX as u64)) {
            let d = Duration::from_nanos(ns);
            proptest::prop_assert_eq!(parse(&format(d)).unwrap(), d);
        }

        #[test]
        fn format_then_parse_round_trips(ms in 0u64..10_000_000_000) {
            let d = Duration::from_millis(ms);
            proptest::prop_assert_eq!(parse(&format(d)).unwrap(), d);
        }
    }
}
