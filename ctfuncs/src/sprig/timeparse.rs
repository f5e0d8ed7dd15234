//! Go's `time.ParseInLocation`: a value read against a layout, with Go's
//! error messages (`parsing time "x" as "2006": cannot parse "x" as "2006"`).

use super::time::{next_std_chunk, time_quote, Std, Time, Zone};

const SHORT_MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];
const LONG_MONTHS: [&str; 12] = [
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
const SHORT_DAYS: [&str; 7] = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"];
const LONG_DAYS: [&str; 7] = [
    "Sunday",
    "Monday",
    "Tuesday",
    "Wednesday",
    "Thursday",
    "Friday",
    "Saturday",
];

struct Bad;

fn lookup<'a>(tab: &[&str], val: &'a [u8]) -> Result<(i64, &'a [u8]), Bad> {
    for (i, v) in tab.iter().enumerate() {
        if val.len() >= v.len() && val[..v.len()].eq_ignore_ascii_case(v.as_bytes()) {
            return Ok((i as i64, &val[v.len()..]));
        }
    }
    Err(Bad)
}

fn is_digit(s: &[u8], i: usize) -> bool {
    s.get(i).is_some_and(u8::is_ascii_digit)
}

fn getnum(s: &[u8], fixed: bool) -> Result<(i64, &[u8]), Bad> {
    if !is_digit(s, 0) {
        return Err(Bad);
    }
    if !is_digit(s, 1) {
        if fixed {
            return Err(Bad);
        }
        return Ok((i64::from(s[0] - b'0'), &s[1..]));
    }
    Ok((
        i64::from(s[0] - b'0') * 10 + i64::from(s[1] - b'0'),
        &s[2..],
    ))
}

fn getnum3(s: &[u8], fixed: bool) -> Result<(i64, &[u8]), Bad> {
    let mut n = 0i64;
    let mut i = 0;
    while i < 3 && is_digit(s, i) {
        n = n * 10 + i64::from(s[i] - b'0');
        i += 1;
    }
    if i == 0 || fixed && i != 3 {
        return Err(Bad);
    }
    Ok((n, &s[i..]))
}

/// Go's `atoi` in the time package.
fn atoi(s: &[u8]) -> Result<i64, Bad> {
    let (neg, s) = match s.first() {
        Some(b'-') => (true, &s[1..]),
        Some(b'+') => (false, &s[1..]),
        _ => (false, s),
    };
    let mut x: u64 = 0;
    let mut i = 0;
    while i < s.len() && s[i].is_ascii_digit() {
        if x > (1 << 63) / 10 {
            return Err(Bad);
        }
        x = x * 10 + u64::from(s[i] - b'0');
        if x > 1 << 63 {
            return Err(Bad);
        }
        i += 1;
    }
    if i != s.len() {
        return Err(Bad);
    }
    let x = x as i64;
    Ok(if neg { x.wrapping_neg() } else { x })
}

fn skip<'a>(mut value: &'a [u8], prefix: &str) -> Result<&'a [u8], &'a [u8]> {
    let mut p = prefix.as_bytes();
    while let Some(&c) = p.first() {
        if c == b' ' {
            if value.first().is_some_and(|&v| v != b' ') {
                return Err(value);
            }
            while p.first() == Some(&b' ') {
                p = &p[1..];
            }
            while value.first() == Some(&b' ') {
                value = &value[1..];
            }
            continue;
        }
        if value.first() != Some(&c) {
            return Err(value);
        }
        p = &p[1..];
        value = &value[1..];
    }
    Ok(value)
}

fn parse_signed_offset(v: &[u8]) -> usize {
    if !matches!(v.first(), Some(b'-' | b'+')) {
        return 0;
    }
    let digits = v[1..].iter().take_while(|c| c.is_ascii_digit()).count();
    if digits == 0 {
        return 0;
    }
    match atoi(&v[1..1 + digits]) {
        Ok(x) if x <= 23 => 1 + digits,
        _ => 0,
    }
}

fn parse_time_zone(v: &[u8]) -> Option<usize> {
    if v.len() < 3 {
        return None;
    }
    if v.starts_with(b"ChST") || v.starts_with(b"MeST") {
        return Some(4);
    }
    if v.starts_with(b"GMT") {
        return Some(
            3 + if v.len() > 3 {
                parse_signed_offset(&v[3..])
            } else {
                0
            },
        );
    }
    if v[0] == b'+' || v[0] == b'-' {
        let n = parse_signed_offset(v);
        return (n > 0).then_some(n);
    }
    let upper = v
        .iter()
        .take(6)
        .take_while(|c| c.is_ascii_uppercase())
        .count();
    match upper {
        5 if v[4] == b'T' => Some(5),
        4 if v[3] == b'T' || v.starts_with(b"WITA") => Some(4),
        3 => Some(3),
        _ => None,
    }
}

fn parse_nanos(v: &[u8], nbytes: usize) -> Result<(i64, bool), Bad> {
    if !matches!(v.first(), Some(b'.' | b',')) {
        return Err(Bad);
    }
    let nbytes = nbytes.min(10);
    let ns = atoi(&v[1..nbytes])?;
    if ns < 0 {
        return Ok((0, true));
    }
    let mut ns = ns;
    for _ in 0..10 - nbytes {
        ns *= 10;
    }
    Ok((ns, false))
}

fn s(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// Go's `time.ParseInLocation(layout, value, local)`.
pub(crate) fn parse(layout_all: &str, value_all: &str, local: &Zone) -> Result<Time, String> {
    let elem_err = |layout_elem: &str, value_elem: &[u8]| {
        format!(
            "parsing time {} as {}: cannot parse {} as {}",
            time_quote(value_all),
            time_quote(layout_all),
            time_quote(&s(value_elem)),
            time_quote(layout_elem)
        )
    };
    let msg_err = |msg: String| format!("parsing time {}{msg}", time_quote(value_all));
    let mut layout = layout_all;
    let mut value = value_all.as_bytes();
    let (mut am, mut pm) = (false, false);
    let (mut year, mut month, mut day, mut yday) = (0i64, -1i64, -1i64, -1i64);
    let (mut hour, mut min, mut sec, mut nsec) = (0i64, 0i64, 0i64, 0i64);
    let mut z: Option<Zone> = None;
    let mut zone_offset: Option<i64> = None;
    let mut zone_name = String::new();
    loop {
        let (prefix, std, suffix) = next_std_chunk(layout);
        let stdstr = &layout[prefix.len()..layout.len() - suffix.len()];
        value = skip(value, prefix).map_err(|v| elem_err(prefix, v))?;
        let Some(std) = std else {
            if !value.is_empty() {
                return Err(msg_err(format!(": extra text: {}", time_quote(&s(value)))));
            }
            break;
        };
        layout = suffix;
        let mut range_err = "";
        let hold = value;
        let r: Result<(), Bad> = (|| {
            match std {
                Std::Year => {
                    if value.len() < 2 {
                        return Err(Bad);
                    }
                    let y = atoi(&value[..2])?;
                    value = &value[2..];
                    year = if y >= 69 { y + 1900 } else { y + 2000 };
                }
                Std::LongYear => {
                    if value.len() < 4 || !is_digit(value, 0) {
                        return Err(Bad);
                    }
                    let p = &value[..4];
                    value = &value[4..];
                    year = atoi(p)?;
                }
                Std::Month => {
                    let (m, rest) = lookup(&SHORT_MONTHS, value)?;
                    month = m + 1;
                    value = rest;
                }
                Std::LongMonth => {
                    let (m, rest) = lookup(&LONG_MONTHS, value)?;
                    month = m + 1;
                    value = rest;
                }
                Std::NumMonth | Std::ZeroMonth => {
                    let (m, rest) = getnum(value, std == Std::ZeroMonth)?;
                    month = m;
                    value = rest;
                    if !(1..=12).contains(&month) {
                        range_err = "month";
                    }
                }
                Std::WeekDay => value = lookup(&SHORT_DAYS, value)?.1,
                Std::LongWeekDay => value = lookup(&LONG_DAYS, value)?.1,
                Std::Day | Std::UnderDay | Std::ZeroDay => {
                    if std == Std::UnderDay && value.first() == Some(&b' ') {
                        value = &value[1..];
                    }
                    let (d, rest) = getnum(value, std == Std::ZeroDay)?;
                    day = d;
                    value = rest;
                }
                Std::UnderYearDay | Std::ZeroYearDay => {
                    for _ in 0..2 {
                        if std == Std::UnderYearDay && value.first() == Some(&b' ') {
                            value = &value[1..];
                        }
                    }
                    let (d, rest) = getnum3(value, std == Std::ZeroYearDay)?;
                    yday = d;
                    value = rest;
                }
                Std::Hour => {
                    let (h, rest) = getnum(value, false)?;
                    hour = h;
                    value = rest;
                    if !(0..24).contains(&hour) {
                        range_err = "hour";
                    }
                }
                Std::Hour12 | Std::ZeroHour12 => {
                    let (h, rest) = getnum(value, std == Std::ZeroHour12)?;
                    hour = h;
                    value = rest;
                    if !(0..=12).contains(&hour) {
                        range_err = "hour";
                    }
                }
                Std::Minute | Std::ZeroMinute => {
                    let (m, rest) = getnum(value, std == Std::ZeroMinute)?;
                    min = m;
                    value = rest;
                    if !(0..60).contains(&min) {
                        range_err = "minute";
                    }
                }
                Std::Second | Std::ZeroSecond => {
                    let (sc, rest) = getnum(value, std == Std::ZeroSecond)?;
                    sec = sc;
                    value = rest;
                    if !(0..60).contains(&sec) {
                        range_err = "second";
                        return Ok(());
                    }
                    if value.len() >= 2 && matches!(value[0], b'.' | b',') && is_digit(value, 1) {
                        if let (_, Some(Std::Frac { .. }), _) = next_std_chunk(layout) {
                            return Ok(());
                        }
                        let mut n = 2;
                        while is_digit(value, n) {
                            n += 1;
                        }
                        let (ns, bad) = parse_nanos(value, n)?;
                        nsec = ns;
                        if bad {
                            range_err = "fractional second";
                        }
                        value = &value[n..];
                    }
                }
                Std::PM | Std::Pm => {
                    if value.len() < 2 {
                        return Err(Bad);
                    }
                    let (p, rest) = value.split_at(2);
                    value = rest;
                    match (std, p) {
                        (Std::PM, b"PM") | (Std::Pm, b"pm") => pm = true,
                        (Std::PM, b"AM") | (Std::Pm, b"am") => am = true,
                        _ => return Err(Bad),
                    }
                }
                Std::Tz(kind) => {
                    if kind.iso_z() && value.first() == Some(&b'Z') {
                        value = &value[1..];
                        z = Some(Zone::Utc);
                        return Ok(());
                    }
                    let (sign, hh, mm, ss, rest): (u8, &[u8], &[u8], &[u8], &[u8]) =
                        if kind.colon() && !kind.seconds() {
                            if value.len() < 6 || value[3] != b':' {
                                return Err(Bad);
                            }
                            (value[0], &value[1..3], &value[4..6], b"00", &value[6..])
                        } else if kind.short() {
                            if value.len() < 3 {
                                return Err(Bad);
                            }
                            (value[0], &value[1..3], b"00", b"00", &value[3..])
                        } else if kind.colon() && kind.seconds() {
                            if value.len() < 9 || value[3] != b':' || value[6] != b':' {
                                return Err(Bad);
                            }
                            (
                                value[0],
                                &value[1..3],
                                &value[4..6],
                                &value[7..9],
                                &value[9..],
                            )
                        } else if kind.seconds() {
                            if value.len() < 7 {
                                return Err(Bad);
                            }
                            (
                                value[0],
                                &value[1..3],
                                &value[3..5],
                                &value[5..7],
                                &value[7..],
                            )
                        } else {
                            if value.len() < 5 {
                                return Err(Bad);
                            }
                            (value[0], &value[1..3], &value[3..5], b"00", &value[5..])
                        };
                    value = rest;
                    let off = (atoi(hh)? * 60 + atoi(mm)?) * 60 + atoi(ss)?;
                    zone_offset = Some(match sign {
                        b'+' => off,
                        b'-' => -off,
                        _ => return Err(Bad),
                    });
                }
                Std::TzName => {
                    if value.starts_with(b"UTC") {
                        z = Some(Zone::Utc);
                        value = &value[3..];
                        return Ok(());
                    }
                    let n = parse_time_zone(value).ok_or(Bad)?;
                    zone_name = s(&value[..n]);
                    value = &value[n..];
                }
                Std::Frac { digits, trim, .. } if !trim => {
                    let ndigit = 1 + digits;
                    if value.len() < ndigit {
                        return Err(Bad);
                    }
                    let (ns, bad) = parse_nanos(value, ndigit)?;
                    nsec = ns;
                    if bad {
                        range_err = "fractional second";
                    }
                    value = &value[ndigit..];
                }
                Std::Frac { .. } => {
                    if value.len() < 2
                        || !matches!(value[0], b'.' | b',')
                        || !value[1].is_ascii_digit()
                    {
                        return Ok(());
                    }
                    let mut i = 0;
                    while i < 9 && i + 1 < value.len() && value[i + 1].is_ascii_digit() {
                        i += 1;
                    }
                    let (ns, bad) = parse_nanos(value, 1 + i)?;
                    nsec = ns;
                    if bad {
                        range_err = "fractional second";
                    }
                    value = &value[1 + i..];
                }
            }
            Ok(())
        })();
        if !range_err.is_empty() {
            return Err(msg_err(format!(": {range_err} out of range")));
        }
        if r.is_err() {
            // Go reports the value where the element failed to read.
            let at = if std == Std::Year { hold } else { value };
            return Err(elem_err(stdstr, at));
        }
    }
    if pm && hour < 12 {
        hour += 12;
    } else if am && hour == 12 {
        hour = 0;
    }
    if yday >= 0 {
        let leap = year % 4 == 0 && (year % 100 != 0 || year % 400 == 0);
        let mut m = 0;
        let mut d = 0;
        if leap {
            if yday == 31 + 29 {
                m = 2;
                d = 29;
            } else if yday > 31 + 29 {
                yday -= 1;
            }
        }
        if !(1..=365).contains(&yday) {
            return Err(msg_err(": day-of-year out of range".into()));
        }
        if m == 0 {
            const BEFORE: [i64; 13] = [0, 31, 59, 90, 120, 151, 181, 212, 243, 273, 304, 334, 365];
            m = (yday - 1) / 31 + 1;
            if BEFORE[m as usize] < yday {
                m += 1;
            }
            d = yday - BEFORE[(m - 1) as usize];
        }
        if month >= 0 && month != m {
            return Err(msg_err(": day-of-year does not match month".into()));
        }
        month = m;
        if day >= 0 && day != d {
            return Err(msg_err(": day-of-year does not match day".into()));
        }
        day = d;
    } else {
        if month < 0 {
            month = 1;
        }
        if day < 0 {
            day = 1;
        }
    }
    let leap = year % 4 == 0 && (year % 100 != 0 || year % 400 == 0);
    let dim = match month {
        2 if leap => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    };
    if day < 1 || day > dim {
        return Err(msg_err(": day out of range".into()));
    }
    if let Some(z) = z {
        return Ok(Time::date(year, month, day, hour, min, sec, nsec, z));
    }
    if let Some(off) = zone_offset {
        let t =
            Time::date(year, month, day, hour, min, sec, nsec, Zone::Utc).add(-off * 1_000_000_000);
        let (name, loc_off) = local.lookup(t.unix);
        if i64::from(loc_off) == off && (zone_name.is_empty() || name == zone_name) {
            return Ok(t.in_zone(local.clone()));
        }
        return Ok(t.in_zone(Zone::Fixed(zone_name, off as i32)));
    }
    if !zone_name.is_empty() {
        let t = Time::date(year, month, day, hour, min, sec, nsec, Zone::Utc);
        // The local zone's offset for this abbreviation, around this time.
        for probe in [t.unix, t.unix - 86_400 * 183, t.unix + 86_400 * 183] {
            let (name, off) = local.lookup(probe);
            if name == zone_name {
                return Ok(t
                    .add(-i64::from(off) * 1_000_000_000)
                    .in_zone(local.clone()));
            }
        }
        let mut offset = 0i64;
        if zone_name.len() > 3 && zone_name.starts_with("GMT") {
            offset = atoi(&zone_name.as_bytes()[3..]).unwrap_or(0) * 3600;
        }
        return Ok(t.in_zone(Zone::Fixed(zone_name, offset as i32)));
    }
    Ok(Time::date(
        year,
        month,
        day,
        hour,
        min,
        sec,
        nsec,
        local.clone(),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn odd_layouts_and_values_never_panic() {
        let layouts = [
            "2006-01-02",
            "Jan _2 15:04:05.000",
            "Monday MST -07:00:00",
            "002 __2 pm",
            ".999",
            ",000",
            "Z07",
            "3PM",
            "é2006",
            "",
            "01/02/06",
            "January",
            "-0700 Z070000",
        ];
        let values = [
            "",
            "2006-01-02",
            "é",
            "2020-02-30",
            "Feb  3 04:05:06.123",
            "Tuesday CEST -01:00:00",
            "366 366 am",
            ".5",
            ",12345678901",
            "Z",
            "+0",
            "13PM",
            "é2020",
            "99/99/99",
            "GMT+25",
        ];
        let mut n = 0;
        for l in layouts {
            for v in values {
                let _ = parse(l, v, &Zone::Utc);
                let _ = Time::zero().format(l);
                n += 1;
            }
        }
        assert_eq!(n, layouts.len() * values.len());
        assert!(parse("2006-01-02", "2020-02-29", &Zone::Utc).is_ok());
    }
}
