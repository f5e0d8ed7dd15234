//! Go's `time.Format` for a UTC time: the reference-date layouts
//! (`2006-01-02T15:04:05Z07:00`, `Jan _2`, `.000`, `Monday`...).

use std::time::{SystemTime, UNIX_EPOCH};

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

/// A UTC time broken into its fields.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Civil {
    /// Seconds since the Unix epoch.
    pub unix: i64,
    /// Nanoseconds within the second.
    pub nanos: u32,
    year: i64,
    month: u32,
    day: u32,
    yday: u32,
    weekday: u32,
    hour: u32,
    minute: u32,
    second: u32,
}

impl Civil {
    /// The fields of a system time, in UTC.
    pub fn from_system(t: SystemTime) -> Civil {
        let (unix, nanos) = match t.duration_since(UNIX_EPOCH) {
            Ok(d) => (
                i64::try_from(d.as_secs()).unwrap_or(i64::MAX),
                d.subsec_nanos(),
            ),
            Err(e) => {
                let d = e.duration();
                let secs = i64::try_from(d.as_secs()).unwrap_or(i64::MAX);
                if d.subsec_nanos() == 0 {
                    (-secs, 0)
                } else {
                    (-secs - 1, 1_000_000_000 - d.subsec_nanos())
                }
            }
        };
        Civil::from_unix(unix, nanos)
    }

    /// The fields of a Unix time.
    pub fn from_unix(unix: i64, nanos: u32) -> Civil {
        let days = unix.div_euclid(86_400);
        let secs = unix.rem_euclid(86_400) as u32;
        // Howard Hinnant's days-to-civil.
        let z = days + 719_468;
        let era = z.div_euclid(146_097);
        let doe = z.rem_euclid(146_097);
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
        let mp = (5 * doy + 2) / 153;
        let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
        let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
        let year = yoe + era * 400 + i64::from(month <= 2);
        let leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
        const CUM: [u32; 12] = [0, 31, 59, 90, 120, 151, 181, 212, 243, 273, 304, 334];
        let yday = CUM[(month - 1) as usize] + day + u32::from(leap && month > 2);
        Civil {
            unix,
            nanos,
            year,
            month,
            day,
            yday,
            weekday: (days + 4).rem_euclid(7) as u32,
            hour: secs / 3600,
            minute: secs / 60 % 60,
            second: secs % 60,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Std {
    LongMonth,
    Month,
    NumMonth,
    ZeroMonth,
    LongWeekDay,
    WeekDay,
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
    Tz,
    Iso8601Tz,
    Iso8601SecondsTz,
    Iso8601ShortTz,
    Iso8601ColonTz,
    Iso8601ColonSecondsTz,
    NumTz,
    NumSecondsTz,
    NumShortTz,
    NumColonTz,
    NumColonSecondsTz,
    /// Fractional seconds: separator, digit count, trim trailing zeros.
    Frac(u8, usize, bool),
}

fn starts_lower(s: &[u8]) -> bool {
    s.first().is_some_and(u8::is_ascii_lowercase)
}

/// Go's `nextStdChunk`: the literal before the next element, the element,
/// and the rest.
fn next_chunk(layout: &[u8]) -> (usize, Option<(Std, usize)>) {
    let has = |i: usize, s: &str| layout.get(i..i + s.len()) == Some(s.as_bytes());
    for i in 0..layout.len() {
        let found = match layout[i] {
            b'J' if has(i, "Jan") => {
                if has(i, "January") {
                    Some((Std::LongMonth, 7))
                } else if !starts_lower(&layout[i + 3..]) {
                    Some((Std::Month, 3))
                } else {
                    None
                }
            }
            b'M' if has(i, "Mon") => {
                if has(i, "Monday") {
                    Some((Std::LongWeekDay, 6))
                } else if !starts_lower(&layout[i + 3..]) {
                    Some((Std::WeekDay, 3))
                } else {
                    None
                }
            }
            b'M' if has(i, "MST") => Some((Std::Tz, 3)),
            b'0' => match layout.get(i + 1) {
                Some(b'1') => Some((Std::ZeroMonth, 2)),
                Some(b'2') => Some((Std::ZeroDay, 2)),
                Some(b'3') => Some((Std::ZeroHour12, 2)),
                Some(b'4') => Some((Std::ZeroMinute, 2)),
                Some(b'5') => Some((Std::ZeroSecond, 2)),
                Some(b'6') => Some((Std::Year, 2)),
                Some(b'0') if layout.get(i + 2) == Some(&b'2') => Some((Std::ZeroYearDay, 3)),
                _ => None,
            },
            b'1' => Some(if has(i, "15") {
                (Std::Hour, 2)
            } else {
                (Std::NumMonth, 1)
            }),
            b'2' => Some(if has(i, "2006") {
                (Std::LongYear, 4)
            } else {
                (Std::Day, 1)
            }),
            b'_' if has(i, "_2") => {
                if has(i, "_2006") {
                    // A literal '_' then the year.
                    return (i + 1, Some((Std::LongYear, 4)));
                }
                Some((Std::UnderDay, 2))
            }
            b'_' if has(i, "__2") => Some((Std::UnderYearDay, 3)),
            b'3' => Some((Std::Hour12, 1)),
            b'4' => Some((Std::Minute, 1)),
            b'5' => Some((Std::Second, 1)),
            b'P' if has(i, "PM") => Some((Std::PM, 2)),
            b'p' if has(i, "pm") => Some((Std::Pm, 2)),
            b'-' => {
                if has(i, "-070000") {
                    Some((Std::NumSecondsTz, 7))
                } else if has(i, "-07:00:00") {
                    Some((Std::NumColonSecondsTz, 9))
                } else if has(i, "-0700") {
                    Some((Std::NumTz, 5))
                } else if has(i, "-07:00") {
                    Some((Std::NumColonTz, 6))
                } else if has(i, "-07") {
                    Some((Std::NumShortTz, 3))
                } else {
                    None
                }
            }
            b'Z' => {
                if has(i, "Z070000") {
                    Some((Std::Iso8601SecondsTz, 7))
                } else if has(i, "Z07:00:00") {
                    Some((Std::Iso8601ColonSecondsTz, 9))
                } else if has(i, "Z0700") {
                    Some((Std::Iso8601Tz, 5))
                } else if has(i, "Z07:00") {
                    Some((Std::Iso8601ColonTz, 6))
                } else if has(i, "Z07") {
                    Some((Std::Iso8601ShortTz, 3))
                } else {
                    None
                }
            }
            sep @ (b'.' | b',') if matches!(layout.get(i + 1), Some(b'0' | b'9')) => {
                let ch = layout[i + 1];
                let mut j = i + 1;
                while j < layout.len() && layout[j] == ch {
                    j += 1;
                }
                if layout.get(j).is_some_and(u8::is_ascii_digit) {
                    None
                } else {
                    Some((Std::Frac(sep, j - i - 1, ch == b'9'), j - i))
                }
            }
            _ => None,
        };
        if let Some(f) = found {
            return (i, Some(f));
        }
    }
    (layout.len(), None)
}

fn pad(out: &mut String, v: i64, width: usize) {
    if v < 0 {
        out.push('-');
    }
    let s = v.unsigned_abs().to_string();
    for _ in s.len()..width {
        out.push('0');
    }
    out.push_str(&s);
}

/// Formats `t` with Go's `layout`.
pub fn format(t: &Civil, layout: &str) -> String {
    let mut out = String::with_capacity(layout.len() + 16);
    let mut rest = layout.as_bytes();
    loop {
        let (lit, std) = next_chunk(rest);
        // Chunks split only at ASCII bytes, so the literal is whole UTF-8.
        out.push_str(&String::from_utf8_lossy(&rest[..lit]));
        let Some((std, len)) = std else { break };
        rest = &rest[lit + len..];
        let hour12 = match t.hour % 12 {
            0 => 12,
            h => h,
        };
        match std {
            Std::Year => pad(&mut out, t.year.rem_euclid(100), 2),
            Std::LongYear => pad(&mut out, t.year, 4),
            Std::Month => out.push_str(&MONTHS[(t.month - 1) as usize][..3]),
            Std::LongMonth => out.push_str(MONTHS[(t.month - 1) as usize]),
            Std::NumMonth => pad(&mut out, i64::from(t.month), 1),
            Std::ZeroMonth => pad(&mut out, i64::from(t.month), 2),
            Std::WeekDay => out.push_str(&DAYS[t.weekday as usize][..3]),
            Std::LongWeekDay => out.push_str(DAYS[t.weekday as usize]),
            Std::Day => pad(&mut out, i64::from(t.day), 1),
            Std::UnderDay => {
                if t.day < 10 {
                    out.push(' ');
                }
                pad(&mut out, i64::from(t.day), 1);
            }
            Std::ZeroDay => pad(&mut out, i64::from(t.day), 2),
            Std::UnderYearDay => {
                if t.yday < 100 {
                    out.push(' ');
                    if t.yday < 10 {
                        out.push(' ');
                    }
                }
                pad(&mut out, i64::from(t.yday), 1);
            }
            Std::ZeroYearDay => pad(&mut out, i64::from(t.yday), 3),
            Std::Hour => pad(&mut out, i64::from(t.hour), 2),
            Std::Hour12 => pad(&mut out, i64::from(hour12), 1),
            Std::ZeroHour12 => pad(&mut out, i64::from(hour12), 2),
            Std::Minute => pad(&mut out, i64::from(t.minute), 1),
            Std::ZeroMinute => pad(&mut out, i64::from(t.minute), 2),
            Std::Second => pad(&mut out, i64::from(t.second), 1),
            Std::ZeroSecond => pad(&mut out, i64::from(t.second), 2),
            Std::PM => out.push_str(if t.hour >= 12 { "PM" } else { "AM" }),
            Std::Pm => out.push_str(if t.hour >= 12 { "pm" } else { "am" }),
            // UTC: the ISO 8601 forms print Z, the numeric ones zeros.
            Std::Iso8601Tz
            | Std::Iso8601SecondsTz
            | Std::Iso8601ShortTz
            | Std::Iso8601ColonTz
            | Std::Iso8601ColonSecondsTz => out.push('Z'),
            Std::NumTz => out.push_str("+0000"),
            Std::NumSecondsTz => out.push_str("+000000"),
            Std::NumShortTz => out.push_str("+00"),
            Std::NumColonTz => out.push_str("+00:00"),
            Std::NumColonSecondsTz => out.push_str("+00:00:00"),
            Std::Tz => out.push_str("UTC"),
            Std::Frac(sep, n, trim) => {
                let digits = format!("{:09}", t.nanos);
                let mut d = &digits[..n.min(9)];
                if trim {
                    d = d.trim_end_matches('0');
                    if d.is_empty() {
                        continue;
                    }
                }
                out.push(sep as char);
                // Go prints at most nine digits.
                out.push_str(d);
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layouts_format_as_go() {
        // 2009-11-10 23:00:00.012345678 UTC, a Tuesday, day 314.
        let t = Civil::from_unix(1_257_894_000, 12_345_678);
        assert_eq!(
            format(&t, "2006-01-02T15:04:05Z07:00"),
            "2009-11-10T23:00:00Z"
        );
        assert_eq!(
            format(&t, "Mon Jan _2 3:4:5 PM MST 06 -0700"),
            "Tue Nov 10 11:0:0 PM UTC 09 +0000"
        );
        assert_eq!(
            format(&t, "Monday January 2 .000 .999 ,000000 002 __2"),
            "Tuesday November 10 .012 .012 ,012345 314 314"
        );
        assert_eq!(format(&t, "Janet Mond 1"), "Janet Mond 11");
        let epoch = Civil::from_unix(0, 0);
        assert_eq!(
            format(&epoch, "2006-01-02 .999 _2 __2"),
            "1970-01-01   1   1"
        );
        let before = Civil::from_unix(-1, 500_000_000);
        assert_eq!(
            format(&before, "2006-01-02T15:04:05.000"),
            "1969-12-31T23:59:59.500"
        );
        assert_eq!(
            format(&Civil::from_unix(951_782_400, 0), "2006-01-02 002"),
            "2000-02-29 060"
        );
    }
}
