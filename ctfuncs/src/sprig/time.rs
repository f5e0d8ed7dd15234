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

/// A layout element's time zone form.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct TzKind {
    iso: bool,
    colon: bool,
    short: bool,
    seconds: bool,
}

impl TzKind {
    /// `Z0700`, `Z07:00`, `Z07`: a `Z` reads as UTC.
    pub(crate) fn iso_z(self) -> bool {
        self.iso && !self.seconds
    }
    pub(crate) fn colon(self) -> bool {
        self.colon
    }
    pub(crate) fn short(self) -> bool {
        self.short
    }
    pub(crate) fn seconds(self) -> bool {
        self.seconds
    }
}

/// A layout element (Go's std* codes).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Std {
    Month,
    LongMonth,
    NumMonth,
    ZeroMonth,
    WeekDay,
    LongWeekDay,
    Day,
    UnderDay,
    ZeroDay,
    UnderYearDay,
    ZeroYearDay,
    Hour,
    Hour12,
    ZeroHour12,
    Minute,
    ZeroMinute,
    Second,
    ZeroSecond,
    LongYear,
    Year,
    PM,
    Pm,
    Tz(TzKind),
    TzName,
    Frac {
        digits: usize,
        trim: bool,
        sep: char,
    },
}

fn starts_with_lower(s: &str) -> bool {
    s.as_bytes().first().is_some_and(u8::is_ascii_lowercase)
}

/// Go's `nextStdChunk`: the text before the first element, the element,
/// and the rest.
pub(crate) fn next_std_chunk(layout: &str) -> (&str, Option<Std>, &str) {
    let b = layout.as_bytes();
    let at = |i: usize, s: &str| layout.get(i..).is_some_and(|r| r.starts_with(s));
    let tz = |iso, colon, short, seconds| {
        Some(Std::Tz(TzKind {
            iso,
            colon,
            short,
            seconds,
        }))
    };
    for i in 0..b.len() {
        let (std, len) = match b[i] {
            b'J' if at(i, "January") => (Some(Std::LongMonth), 7),
            b'J' if at(i, "Jan") && !starts_with_lower(&layout[i + 3..]) => (Some(Std::Month), 3),
            b'M' if at(i, "Monday") => (Some(Std::LongWeekDay), 6),
            b'M' if at(i, "Mon") && !starts_with_lower(&layout[i + 3..]) => (Some(Std::WeekDay), 3),
            b'M' if at(i, "MST") => (Some(Std::TzName), 3),
            b'0' if matches!(b.get(i + 1), Some(b'1'..=b'6')) => (
                Some(match b[i + 1] {
                    b'1' => Std::ZeroMonth,
                    b'2' => Std::ZeroDay,
                    b'3' => Std::ZeroHour12,
                    b'4' => Std::ZeroMinute,
                    b'5' => Std::ZeroSecond,
                    _ => Std::Year,
                }),
                2,
            ),
            b'0' if at(i, "002") => (Some(Std::ZeroYearDay), 3),
            b'1' if at(i, "15") => (Some(Std::Hour), 2),
            b'1' => (Some(Std::NumMonth), 1),
            b'2' if at(i, "2006") => (Some(Std::LongYear), 4),
            b'2' => (Some(Std::Day), 1),
            b'_' if at(i, "_2006") => {
                return (&layout[..i + 1], Some(Std::LongYear), &layout[i + 5..]);
            }
            b'_' if at(i, "_2") => (Some(Std::UnderDay), 2),
            b'_' if at(i, "__2") => (Some(Std::UnderYearDay), 3),
            b'3' => (Some(Std::Hour12), 1),
            b'4' => (Some(Std::Minute), 1),
            b'5' => (Some(Std::Second), 1),
            b'P' if at(i, "PM") => (Some(Std::PM), 2),
            b'p' if at(i, "pm") => (Some(Std::Pm), 2),
            b'-' if at(i, "-070000") => (tz(false, false, false, true), 7),
            b'-' if at(i, "-07:00:00") => (tz(false, true, false, true), 9),
            b'-' if at(i, "-0700") => (tz(false, false, false, false), 5),
            b'-' if at(i, "-07:00") => (tz(false, true, false, false), 6),
            b'-' if at(i, "-07") => (tz(false, false, true, false), 3),
            b'Z' if at(i, "Z070000") => (tz(true, false, false, true), 7),
            b'Z' if at(i, "Z07:00:00") => (tz(true, true, false, true), 9),
            b'Z' if at(i, "Z0700") => (tz(true, false, false, false), 5),
            b'Z' if at(i, "Z07:00") => (tz(true, true, false, false), 6),
            b'Z' if at(i, "Z07") => (tz(true, false, true, false), 3),
            b'.' | b',' if matches!(b.get(i + 1), Some(b'0' | b'9')) => {
                let ch = b[i + 1];
                let mut j = i + 1;
                while j < b.len() && b[j] == ch {
                    j += 1;
                }
                if b.get(j).is_some_and(u8::is_ascii_digit) {
                    continue;
                }
                let std = Std::Frac {
                    digits: j - (i + 1),
                    trim: ch == b'9',
                    sep: char::from(b[i]),
                };
                return (&layout[..i], Some(std), &layout[j..]);
            }
            _ => continue,
        };
        return (&layout[..i], std, &layout[i + len..]);
    }
    (layout, None, "")
}

/// Go's `quote` in time's messages: non-ASCII bytes as `\xNN`.
pub(crate) fn time_quote(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        if !c.is_ascii() || c < ' ' {
            let mut buf = [0u8; 4];
            for b in c.encode_utf8(&mut buf).bytes() {
                let _ = write!(out, "\\x{b:02x}");
            }
        } else {
            if c == '"' || c == '\\' {
                out.push('\\');
            }
            out.push(c);
        }
    }
    out.push('"');
    out
}

/// Go's `Duration.String()`.
pub(crate) fn duration_string(d: i64) -> String {
    let neg = d < 0;
    let mut u = d.unsigned_abs();
    let frac = |u: u64, prec: u32| -> (String, u64) {
        let p = 10u64.pow(prec);
        let f = u % p;
        if f == 0 {
            return (String::new(), u / p);
        }
        let s = format!("{f:0w$}", w = prec as usize);
        (format!(".{}", s.trim_end_matches('0')), u / p)
    };
    let out = if u < 1_000_000_000 {
        let (unit, prec) = match u {
            0 => return "0s".into(),
            1..=999 => ("ns", 0),
            1_000..=999_999 => ("µs", 3),
            _ => ("ms", 6),
        };
        let (f, int) = frac(u, prec);
        format!("{int}{f}{unit}")
    } else {
        let (f, secs) = frac(u, 9);
        u = secs;
        let mut s = format!("{}{f}s", u % 60);
        u /= 60;
        if u > 0 {
            s = format!("{}m{s}", u % 60);
            u /= 60;
            if u > 0 {
                s = format!("{u}h{s}");
            }
        }
        s
    };
    if neg {
        format!("-{out}")
    } else {
        out
    }
}

/// Go's `Duration.Round(m)`.
pub(crate) fn duration_round(d: i64, m: i64) -> i64 {
    if m <= 0 {
        return d;
    }
    let mut r = d % m;
    let less_than_half = |x: i64, y: i64| (x as u64).wrapping_add(x as u64) < y as u64;
    if d < 0 {
        r = -r;
        if less_than_half(r, m) {
            return d + r;
        }
        let d1 = d.wrapping_sub(m).wrapping_add(r);
        return if d1 < d { d1 } else { i64::MIN };
    }
    if less_than_half(r, m) {
        return d - r;
    }
    let d1 = d.wrapping_add(m).wrapping_sub(r);
    if d1 > d {
        d1
    } else {
        i64::MAX
    }
}

/// Go's `time.ParseDuration`.
pub(crate) fn parse_duration(orig: &str) -> Result<i64, String> {
    let invalid = || format!("time: invalid duration {}", time_quote(orig));
    let mut s = orig.as_bytes();
    let mut neg = false;
    if let Some(&c) = s.first() {
        if c == b'-' || c == b'+' {
            neg = c == b'-';
            s = &s[1..];
        }
    }
    if s == b"0" {
        return Ok(0);
    }
    if s.is_empty() {
        return Err(invalid());
    }
    let mut d: u64 = 0;
    while !s.is_empty() {
        if !(s[0] == b'.' || s[0].is_ascii_digit()) {
            return Err(invalid());
        }
        let mut v: u64 = 0;
        let mut i = 0;
        while i < s.len() && s[i].is_ascii_digit() {
            if v > (1 << 63) / 10 {
                return Err(invalid());
            }
            v = v * 10 + u64::from(s[i] - b'0');
            if v > 1 << 63 {
                return Err(invalid());
            }
            i += 1;
        }
        let pre = i > 0;
        s = &s[i..];
        let (mut f, mut scale, mut post) = (0u64, 1f64, false);
        if s.first() == Some(&b'.') {
            s = &s[1..];
            let mut i = 0;
            let mut overflow = false;
            while i < s.len() && s[i].is_ascii_digit() {
                if !overflow {
                    if f > ((1u64 << 63) - 1) / 10 {
                        overflow = true;
                    } else {
                        let y = f * 10 + u64::from(s[i] - b'0');
                        if y > 1 << 63 {
                            overflow = true;
                        } else {
                            f = y;
                            scale *= 10.0;
                        }
                    }
                }
                i += 1;
            }
            post = i > 0;
            s = &s[i..];
        }
        if !pre && !post {
            return Err(invalid());
        }
        let i = s
            .iter()
            .position(|&c| c == b'.' || c.is_ascii_digit())
            .unwrap_or(s.len());
        if i == 0 {
            return Err(format!(
                "time: missing unit in duration {}",
                time_quote(orig)
            ));
        }
        let u = String::from_utf8_lossy(&s[..i]).into_owned();
        s = &s[i..];
        let unit: u64 = match u.as_str() {
            "ns" => 1,
            "us" | "µs" | "μs" => 1_000,
            "ms" => 1_000_000,
            "s" => 1_000_000_000,
            "m" => 60_000_000_000,
            "h" => 3_600_000_000_000,
            _ => {
                return Err(format!(
                    "time: unknown unit {} in duration {}",
                    time_quote(&u),
                    time_quote(orig)
                ))
            }
        };
        if v > (1 << 63) / unit {
            return Err(invalid());
        }
        v *= unit;
        if f > 0 {
            v += (f as f64 * (unit as f64 / scale)) as u64;
            if v > 1 << 63 {
                return Err(invalid());
            }
        }
        d += v;
        if d > 1 << 63 {
            return Err(invalid());
        }
    }
    if neg {
        return Ok((d as i64).wrapping_neg());
    }
    if d > i64::MAX as u64 {
        return Err(invalid());
    }
    Ok(d as i64)
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
