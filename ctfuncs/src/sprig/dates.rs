//! Date functions: `now`, `date`, `dateInZone`, `htmlDate`, `toDate`,
//! `dateModify`, `ago`, `duration`, `durationRound`, `unixEpoch`.
//!
//! Go tells `int` from `int64`: Sprig's `date`/`ago` take both as Unix
//! seconds, but `duration` and `durationRound` read only int64 (an `int`
//! gives "0s"). Template integers are one type here, read as int64: a
//! literal `duration 60` gives "1m0s" (Go: "0s", almost never meant), and
//! `duration (int64 60)` gives "1m0s" as in Go.

use std::time::{Instant, SystemTime, UNIX_EPOCH};

use gotemplate::{FuncError, Value};

use super::conv::arg_str;
use super::time::{
    as_time, duration_round, duration_string, parse, parse_duration, Time, TimeValue, Zone,
};
use super::Reg;

/// The current time, with a monotonic reading since `start`.
fn now(start: Instant) -> Time {
    let d = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    let mut t = Time::new(d.as_secs() as i64, d.subsec_nanos(), Zone::local());
    t.mono = Some(i64::try_from(start.elapsed().as_nanos()).unwrap_or(i64::MAX));
    t
}

fn now_plain() -> Time {
    let mut t = now(Instant::now());
    t.mono = None;
    t
}

/// A `time.Time` argument (Go's typed parameter).
fn arg_time(v: &Value) -> Result<Time, FuncError> {
    as_time(v).ok_or_else(|| {
        FuncError::Arg(match v {
            Value::Missing => "invalid value; expected time.Time".into(),
            Value::Nil => "wrong type for value; expected time.Time; got interface {}".into(),
            other => format!(
                "wrong type for value; expected time.Time; got {}",
                other.type_name()
            ),
        })
    })
}

/// Sprig's `dateInZone`: a time, or Unix seconds; anything else is now.
fn date_in_zone(layout: &str, date: &Value, zone: &str) -> String {
    let t = match date {
        Value::Int(secs) => Time::new(*secs, 0, Zone::Utc),
        other => as_time(other).unwrap_or_else(now_plain),
    };
    let zone = Zone::load(zone).unwrap_or(Zone::Utc);
    t.in_zone(zone).format(layout)
}

pub(super) fn install(r: &mut Reg<'_>) {
    let start = Instant::now();
    r.fixed("now", 0, move |_| Ok(TimeValue::value(now(start))));
    r.fixed("date", 2, |a| {
        Ok(Value::from(date_in_zone(arg_str(&a[0])?, &a[1], "Local")))
    });
    for name in ["dateInZone", "date_in_zone"] {
        r.fixed(name, 3, |a| {
            Ok(Value::from(date_in_zone(
                arg_str(&a[0])?,
                &a[1],
                arg_str(&a[2])?,
            )))
        });
    }
    r.fixed("htmlDate", 1, |a| {
        Ok(Value::from(date_in_zone("2006-01-02", &a[0], "Local")))
    });
    r.fixed("htmlDateInZone", 2, |a| {
        Ok(Value::from(date_in_zone(
            "2006-01-02",
            &a[0],
            arg_str(&a[1])?,
        )))
    });
    for name in ["dateModify", "date_modify"] {
        r.fixed(name, 2, |a| {
            let (d, t) = (arg_str(&a[0])?, arg_time(&a[1])?);
            Ok(TimeValue::value(match parse_duration(d) {
                Ok(d) => t.add(d),
                Err(_) => t,
            }))
        });
    }
    for name in ["mustDateModify", "must_date_modify"] {
        r.fixed(name, 2, |a| {
            let (d, t) = (arg_str(&a[0])?, arg_time(&a[1])?);
            let d = parse_duration(d).map_err(FuncError::Call)?;
            Ok(TimeValue::value(t.add(d)))
        });
    }
    r.fixed("toDate", 2, |a| {
        let (layout, s) = (arg_str(&a[0])?, arg_str(&a[1])?);
        Ok(TimeValue::value(
            parse(layout, s, &Zone::local()).unwrap_or_else(|_| Time::zero()),
        ))
    });
    r.fixed("mustToDate", 2, |a| {
        let (layout, s) = (arg_str(&a[0])?, arg_str(&a[1])?);
        parse(layout, s, &Zone::local())
            .map(TimeValue::value)
            .map_err(FuncError::Call)
    });
    r.fixed("unixEpoch", 1, |a| {
        Ok(Value::from(arg_time(&a[0])?.unix.to_string()))
    });
    r.fixed("ago", 1, |a| {
        let t = match &a[0] {
            Value::Int(secs) => Time::new(*secs, 0, Zone::Utc),
            other => as_time(other).unwrap_or_else(now_plain),
        };
        let d = duration_round(now_plain().sub(&t), 1_000_000_000);
        Ok(Value::from(duration_string(d)))
    });
    r.fixed("duration", 1, |a| {
        let n: i64 = match &a[0] {
            Value::Str(s) => parse_int10(s),
            Value::Int(i) => *i,
            _ => 0,
        };
        Ok(Value::from(duration_string(n.wrapping_mul(1_000_000_000))))
    });
    r.fixed("durationRound", 1, |a| {
        let d: i64 = match &a[0] {
            Value::Str(s) => parse_duration(s).unwrap_or(0),
            Value::Int(i) => *i,
            other => match as_time(other) {
                Some(t) => now_plain().sub(&t),
                None => 0,
            },
        };
        Ok(Value::from(duration_round_sprig(d)))
    });
}

/// Go's `strconv.ParseInt(s, 10, 64)` with its error ignored: 0 for bad
/// syntax, the nearest int64 past the range.
fn parse_int10(s: &str) -> i64 {
    let (neg, digits) = match s.as_bytes().first() {
        Some(b'-') => (true, &s[1..]),
        Some(b'+') => (false, &s[1..]),
        _ => (false, s),
    };
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return 0;
    }
    let mut n: i128 = 0;
    for b in digits.bytes() {
        n = (n * 10 + i128::from(b - b'0')).min(1 << 64);
    }
    let n = if neg { -n } else { n };
    n.clamp(i128::from(i64::MIN), i128::from(i64::MAX)) as i64
}

/// Sprig's `durationRound`: the largest whole unit.
fn duration_round_sprig(d: i64) -> String {
    let u = d.unsigned_abs();
    const SECOND: u64 = 1_000_000_000;
    let units: [(u64, &str); 6] = [
        (SECOND * 3600 * 24 * 365, "y"),
        (SECOND * 3600 * 24 * 30, "mo"),
        (SECOND * 3600 * 24, "d"),
        (SECOND * 3600, "h"),
        (SECOND * 60, "m"),
        (SECOND, "s"),
    ];
    for (size, name) in units {
        if u > size {
            return format!("{}{name}", u / size);
        }
    }
    "0s".into()
}
