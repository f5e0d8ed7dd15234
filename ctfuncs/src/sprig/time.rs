//! Go's `time.Time` as a template value: layouts (`Format`, `Parse` with
//! Go's reference time `Mon Jan 2 15:04:05 MST 2006`), zones from the tz
//! database (chrono-tz), `String()` with the monotonic reading of `now`,
//! and `Duration`'s parsing, printing and rounding.

use std::fmt::Write as _;
use std::str::FromStr;
use std::sync::Arc;

use chrono::{Offset, TimeZone};
use chrono_tz::{OffsetName, Tz};
use gotemplate::{Object, Value};

pub(crate) use super::duration::{duration_round, duration_string, parse_duration, time_quote};
pub(crate) use super::layout::{next_std_chunk, Std};

/// Unix seconds of Go's zero time (January 1, year 1, UTC).
pub(crate) const ZERO_UNIX: i64 = -62_135_596_800;

/// A time zone.
#[derive(Clone, Debug)]
pub(crate) enum Zone {
    Utc,
    /// Go's `FixedZone(name, offset)`.
    Fixed(String, i32),
    Tz(Tz),
}

impl Zone {
    /// Go's `time.LoadLocation`.
    pub(crate) fn load(name: &str) -> Option<Zone> {
        match name {
            "" | "UTC" => Some(Zone::Utc),
            "Local" => Some(Zone::local()),
            n if n.contains("..") || n.starts_with('/') || n.starts_with('\\') => None,
            n => Tz::from_str(n).ok().map(Zone::Tz),
        }
    }

    /// Go's `time.Local`: `$TZ` (empty: UTC), else `/etc/localtime`.
    pub(crate) fn local() -> Zone {
        match std::env::var("TZ") {
            Ok(tz) if tz.is_empty() => Zone::Utc,
            Ok(tz) => Zone::load(tz.trim_start_matches(':')).unwrap_or(Zone::Utc),
            Err(_) => std::fs::read_link("/etc/localtime")
                .ok()
                .and_then(|p| {
                    let s = p.to_string_lossy().into_owned();
                    let name = s.split("zoneinfo/").nth(1)?.to_string();
                    Tz::from_str(&name).ok().map(Zone::Tz)
                })
                .unwrap_or(Zone::Utc),
        }
    }

    /// The abbreviation and offset east of UTC at a Unix second.
    pub(crate) fn lookup(&self, unix: i64) -> (String, i32) {
        match self {
            Zone::Utc => ("UTC".into(), 0),
            Zone::Fixed(n, o) => (n.clone(), *o),
            Zone::Tz(tz) => match chrono::DateTime::from_timestamp(unix, 0) {
                Some(dt) => {
                    let off = tz.offset_from_utc_datetime(&dt.naive_utc());
                    (off.abbreviation().to_string(), off.fix().local_minus_utc())
                }
                None => ("UTC".into(), 0),
            },
        }
    }
}

/// Days since 1970-01-01 of a civil date (proleptic Gregorian).
pub(crate) fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The civil date of a day count since 1970-01-01.
pub(crate) fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (if m <= 2 { y + 1 } else { y }, m, d)
}

const MONTHS: [&str; 12] = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
];
const DAYS: [&str; 7] = [
    "Sunday",
    "Monday",
    "Tuesday",
    "Wednesday",
    "Thursday",
    "Friday",
    "Saturday",
];

/// A `time.Time`.
#[derive(Clone, Debug)]
pub(crate) struct Time {
    pub unix: i64,
    pub nanos: u32,
    pub zone: Zone,
    /// The monotonic reading `String()` prints (`now` only), in nanoseconds.
    pub mono: Option<i64>,
}

/// The civil fields of a time in its zone.
struct Civil {
    year: i64,
    month: i64,
    day: i64,
    yday: i64,
    wday: usize,
    hour: i64,
    min: i64,
    sec: i64,
    abbrev: String,
    offset: i32,
}

impl Time {
    pub(crate) fn new(unix: i64, nanos: u32, zone: Zone) -> Time {
        Time {
            unix,
            nanos,
            zone,
            mono: None,
        }
    }

    /// Go's zero `time.Time`.
    pub(crate) fn zero() -> Time {
        Time::new(ZERO_UNIX, 0, Zone::Utc)
    }

    /// Go's `time.Date` in a zone.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn date(
        y: i64,
        mo: i64,
        d: i64,
        h: i64,
        mi: i64,
        s: i64,
        ns: i64,
        zone: Zone,
    ) -> Time {
        let days = days_from_civil(y, mo, 1) + d - 1;
        let local = days
            .saturating_mul(86_400)
            .saturating_add(h * 3600 + mi * 60 + s + ns.div_euclid(1_000_000_000));
        let (_, off1) = zone.lookup(local);
        let mut unix = local - i64::from(off1);
        let (_, off2) = zone.lookup(unix);
        if off2 != off1 {
            unix = local - i64::from(off2);
        }
        Time::new(unix, ns.rem_euclid(1_000_000_000) as u32, zone)
    }

    fn civil(&self) -> Civil {
        let (abbrev, offset) = self.zone.lookup(self.unix);
        let local = self.unix.saturating_add(i64::from(offset));
        let days = local.div_euclid(86_400);
        let secs = local.rem_euclid(86_400);
        let (year, month, day) = civil_from_days(days);
        Civil {
            year,
            month,
            day,
            yday: days - days_from_civil(year, 1, 1) + 1,
            wday: (days + 4).rem_euclid(7) as usize,
            hour: secs / 3600,
            min: secs / 60 % 60,
            sec: secs % 60,
            abbrev,
            offset,
        }
    }

    /// The same instant in another zone.
    pub(crate) fn in_zone(&self, zone: Zone) -> Time {
        Time::new(self.unix, self.nanos, zone)
    }

    /// Adds nanoseconds (Go's `Add`).
    pub(crate) fn add(&self, d: i64) -> Time {
        let total = i128::from(self.nanos) + i128::from(d % 1_000_000_000);
        let mut unix = self.unix.saturating_add(d / 1_000_000_000);
        let mut nanos = total;
        if nanos < 0 {
            nanos += 1_000_000_000;
            unix = unix.saturating_sub(1);
        } else if nanos >= 1_000_000_000 {
            nanos -= 1_000_000_000;
            unix = unix.saturating_add(1);
        }
        Time::new(unix, nanos as u32, self.zone.clone())
    }

    /// `self - other` in nanoseconds, saturated as Go's `Sub`.
    pub(crate) fn sub(&self, other: &Time) -> i64 {
        let d = (i128::from(self.unix) - i128::from(other.unix)) * 1_000_000_000
            + i128::from(self.nanos)
            - i128::from(other.nanos);
        d.clamp(i128::from(i64::MIN), i128::from(i64::MAX)) as i64
    }

    /// Go's `Format`.
    pub(crate) fn format(&self, layout: &str) -> String {
        let c = self.civil();
        let mut out = String::with_capacity(layout.len() + 10);
        let mut rest = layout;
        while !rest.is_empty() {
            let (prefix, std, suffix) = next_std_chunk(rest);
            out.push_str(prefix);
            let Some(std) = std else {
                break;
            };
            rest = suffix;
            let pad = |out: &mut String, v: i64, w: usize| {
                if v < 0 {
                    let _ = write!(out, "-{:0w$}", -v);
                } else {
                    let _ = write!(out, "{v:0w$}");
                }
            };
            match std {
                Std::Year => pad(&mut out, c.year.abs() % 100, 2),
                Std::LongYear => pad(&mut out, c.year, 4),
                Std::Month => out.push_str(&MONTHS[(c.month - 1) as usize][..3]),
                Std::LongMonth => out.push_str(MONTHS[(c.month - 1) as usize]),
                Std::NumMonth => pad(&mut out, c.month, 0),
                Std::ZeroMonth => pad(&mut out, c.month, 2),
                Std::WeekDay => out.push_str(&DAYS[c.wday][..3]),
                Std::LongWeekDay => out.push_str(DAYS[c.wday]),
                Std::Day => pad(&mut out, c.day, 0),
                Std::UnderDay => {
                    if c.day < 10 {
                        out.push(' ');
                    }
                    pad(&mut out, c.day, 0);
                }
                Std::ZeroDay => pad(&mut out, c.day, 2),
                Std::UnderYearDay => {
                    if c.yday < 100 {
                        out.push(' ');
                        if c.yday < 10 {
                            out.push(' ');
                        }
                    }
                    pad(&mut out, c.yday, 0);
                }
                Std::ZeroYearDay => pad(&mut out, c.yday, 3),
                Std::Hour => pad(&mut out, c.hour, 2),
                Std::Hour12 | Std::ZeroHour12 => {
                    let h = if c.hour % 12 == 0 { 12 } else { c.hour % 12 };
                    pad(&mut out, h, if std == Std::Hour12 { 0 } else { 2 });
                }
                Std::Minute => pad(&mut out, c.min, 0),
                Std::ZeroMinute => pad(&mut out, c.min, 2),
                Std::Second => pad(&mut out, c.sec, 0),
                Std::ZeroSecond => pad(&mut out, c.sec, 2),
                Std::PM => out.push_str(if c.hour >= 12 { "PM" } else { "AM" }),
                Std::Pm => out.push_str(if c.hour >= 12 { "pm" } else { "am" }),
                Std::Tz(kind) => {
                    if c.offset == 0 && kind.iso {
                        out.push('Z');
                        continue;
                    }
                    let mut zone = c.offset / 60;
                    let mut abs = c.offset;
                    if zone < 0 {
                        out.push('-');
                        zone = -zone;
                        abs = -abs;
                    } else {
                        out.push('+');
                    }
                    pad(&mut out, i64::from(zone / 60), 2);
                    if kind.colon {
                        out.push(':');
                    }
                    if !kind.short {
                        pad(&mut out, i64::from(zone % 60), 2);
                    }
                    if kind.seconds {
                        if kind.colon {
                            out.push(':');
                        }
                        pad(&mut out, i64::from(abs % 60), 2);
                    }
                }
                Std::TzName => {
                    if !c.abbrev.is_empty() {
                        out.push_str(&c.abbrev);
                        continue;
                    }
                    let mut zone = c.offset / 60;
                    if zone < 0 {
                        out.push('-');
                        zone = -zone;
                    } else {
                        out.push('+');
                    }
                    pad(&mut out, i64::from(zone / 60), 2);
                    pad(&mut out, i64::from(zone % 60), 2);
                }
                Std::Frac { digits, trim, sep } => {
                    let s = format!("{:09}", self.nanos);
                    let mut n = digits.min(9);
                    if trim {
                        while n > 0 && s.as_bytes()[n - 1] == b'0' {
                            n -= 1;
                        }
                        if n == 0 {
                            continue;
                        }
                    }
                    out.push(sep);
                    out.push_str(&s[..n]);
                }
            }
        }
        out
    }

    /// Go's `String()`.
    pub(crate) fn string(&self) -> String {
        let mut s = self.format("2006-01-02 15:04:05.999999999 -0700 MST");
        if let Some(m) = self.mono {
            let sign = if m < 0 { '-' } else { '+' };
            let u = m.unsigned_abs();
            let _ = write!(s, " m={sign}{}.{:09}", u / 1_000_000_000, u % 1_000_000_000);
        }
        s
    }
}

/// The `time.Time` template value.
#[derive(Debug)]
pub(crate) struct TimeValue(pub Time);

impl TimeValue {
    pub(crate) fn value(t: Time) -> Value {
        Value::Object(Arc::new(TimeValue(t)))
    }
}

/// The `time.Time` inside a value, if it holds one.
pub(crate) fn as_time(v: &Value) -> Option<Time> {
    match v {
        Value::Object(o) if o.type_name() == "time.Time" => {
            let Some(Ok(Value::Int(unix))) = o.call("Unix", &[]) else {
                return None;
            };
            let Some(Ok(Value::Int(nanos))) = o.call("Nanosecond", &[]) else {
                return None;
            };
            let zone = match o.call("zone", &[]) {
                Some(Ok(Value::Str(z))) => Zone::load(&z).unwrap_or(Zone::Utc),
                _ => Zone::Utc,
            };
            let zone = match o.call("fixed", &[]) {
                Some(Ok(Value::List(l))) => match l.items.as_slice() {
                    [Value::Str(n), Value::Int(off)] => Zone::Fixed(n.to_string(), *off as i32),
                    _ => zone,
                },
                _ => zone,
            };
            Some(Time::new(unix, nanos as u32, zone))
        }
        _ => None,
    }
}

impl Object for TimeValue {
    fn type_name(&self) -> &str {
        "time.Time"
    }

    fn call(&self, name: &str, args: &[Value]) -> Option<Result<Value, String>> {
        let t = &self.0;
        let no_args = |v: Value| {
            if args.is_empty() {
                Ok(v)
            } else {
                Err(format!(
                    "wrong number of args for {name}: want 0 got {}",
                    args.len()
                ))
            }
        };
        let c = t.civil();
        Some(match name {
            "Unix" => no_args(Value::Int(t.unix)),
            "UnixMilli" => no_args(Value::Int(
                t.unix.saturating_mul(1000) + i64::from(t.nanos / 1_000_000),
            )),
            "UnixNano" => no_args(Value::Int(
                t.unix.wrapping_mul(1_000_000_000) + i64::from(t.nanos),
            )),
            "Nanosecond" => no_args(Value::Int(i64::from(t.nanos))),
            "Year" => no_args(Value::Int(c.year)),
            "Month" => no_args(Value::str(MONTHS[(c.month - 1) as usize])),
            "Day" => no_args(Value::Int(c.day)),
            "YearDay" => no_args(Value::Int(c.yday)),
            "Weekday" => no_args(Value::str(DAYS[c.wday])),
            "Hour" => no_args(Value::Int(c.hour)),
            "Minute" => no_args(Value::Int(c.min)),
            "Second" => no_args(Value::Int(c.sec)),
            "IsZero" => no_args(Value::Bool(t.unix == ZERO_UNIX && t.nanos == 0)),
            "String" => no_args(Value::from(t.string())),
            "UTC" => no_args(TimeValue::value(t.in_zone(Zone::Utc))),
            "Local" => no_args(TimeValue::value(t.in_zone(Zone::local()))),
            "Format" => match args {
                [Value::Str(layout)] => Ok(Value::from(t.format(layout))),
                _ => Err("Format takes one string, a Go layout".into()),
            },
            "Add" => match args {
                [Value::Int(d)] => Ok(TimeValue::value(t.add(*d))),
                _ => Err("Add takes one int, a duration in nanoseconds".into()),
            },
            "Sub" => match args.first().and_then(as_time) {
                Some(o) if args.len() == 1 => Ok(Value::Int(t.sub(&o))),
                _ => Err("Sub takes one time.Time".into()),
            },
            "Before" | "After" | "Equal" => match args.first().and_then(as_time) {
                Some(o) if args.len() == 1 => {
                    let d = t.sub(&o);
                    Ok(Value::Bool(match name {
                        "Before" => d < 0,
                        "After" => d > 0,
                        _ => d == 0,
                    }))
                }
                _ => Err(format!("{name} takes one time.Time")),
            },
            "MarshalJSON" => no_args(Value::from(format!(
                "\"{}\"",
                t.format("2006-01-02T15:04:05.999999999Z07:00")
            ))),
            // For as_time: the zone's name and a fixed zone's parts.
            "zone" => no_args(Value::from(match &t.zone {
                Zone::Utc | Zone::Fixed(..) => "UTC".to_string(),
                Zone::Tz(tz) => tz.name().to_string(),
            })),
            "fixed" => no_args(match &t.zone {
                Zone::Fixed(n, o) => Value::list(vec![Value::str(n), Value::Int(i64::from(*o))]),
                _ => Value::Nil,
            }),
            _ => return None,
        })
    }

    fn print(&self) -> String {
        self.0.string()
    }
}

/// Go's `time.ParseInLocation(layout, value, local)`.
pub(crate) fn parse(layout: &str, value: &str, local: &Zone) -> Result<Time, String> {
    super::timeparse::parse(layout, value, local)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_like_go() {
        let t = Time::new(
            1_136_239_445,
            123_456_000,
            Zone::Fixed("MST".into(), -7 * 3600),
        );
        assert_eq!(
            t.format("Mon Jan _2 15:04:05 MST 2006"),
            "Mon Jan  2 15:04:05 MST 2006"
        );
        assert_eq!(
            t.format("2006-01-02T15:04:05.000Z07:00"),
            "2006-01-02T15:04:05.123-07:00"
        );
        assert_eq!(
            t.format("3:04PM .999999999 002 __2"),
            "3:04PM .123456 002   2"
        );
        assert_eq!(Time::zero().string(), "0001-01-01 00:00:00 +0000 UTC");
        assert_eq!(
            duration_string(90 * 60 * 1_000_000_000 + 500_000_000),
            "1h30m0.5s"
        );
        assert_eq!(duration_string(1_500), "1.5µs");
        assert_eq!(parse_duration("1h30m").unwrap(), 5_400_000_000_000);
        assert_eq!(parse_duration("-1.5s").unwrap(), -1_500_000_000);
        assert!(parse_duration("1x").unwrap_err().contains("unknown unit"));
        assert_eq!(duration_round(1_500_000_000, 1_000_000_000), 2_000_000_000);
        assert_eq!(days_from_civil(1970, 1, 1), 0);
        assert_eq!(civil_from_days(-1), (1969, 12, 31));
    }
}
