//! yaml.v2's resolution of plain scalars (YAML 1.1): `yes`/`on` are bools,
//! `0x1F` and `017` ints, `~` null, dates stay strings when read into an
//! `interface{}` but are quoted when written.

use gotemplate::Value;

/// What a plain scalar means.
pub fn resolve_plain(s: &str) -> Value {
    match s {
        "y" | "Y" | "yes" | "Yes" | "YES" | "true" | "True" | "TRUE" | "on" | "On" | "ON" => {
            return Value::Bool(true)
        }
        "n" | "N" | "no" | "No" | "NO" | "false" | "False" | "FALSE" | "off" | "Off" | "OFF" => {
            return Value::Bool(false)
        }
        "" | "~" | "null" | "Null" | "NULL" => return Value::Nil,
        ".nan" | ".NaN" | ".NAN" => return Value::Float(f64::NAN),
        ".inf" | ".Inf" | ".INF" | "+.inf" | "+.Inf" | "+.INF" => {
            return Value::Float(f64::INFINITY)
        }
        "-.inf" | "-.Inf" | "-.INF" => return Value::Float(f64::NEG_INFINITY),
        _ => {}
    }
    let first = s.as_bytes()[0];
    if first == b'.' {
        if let Ok(f) = crate::helpers::parse::parse_float(s) {
            return Value::Float(f);
        }
        return Value::from(s);
    }
    if !(first.is_ascii_digit() || first == b'+' || first == b'-') {
        return Value::from(s);
    }
    if is_timestamp(s) {
        // yaml.v2 keeps timestamps as strings in an interface{}.
        return Value::from(s);
    }
    let plain = s.replace('_', "");
    if let Some(i) = parse_int_base0(&plain) {
        return i;
    }
    if is_yaml_float(&plain) {
        if let Ok(f) = plain.parse::<f64>() {
            return Value::Float(f);
        }
    }
    let (neg, digits) = match plain.strip_prefix("-0b") {
        Some(d) => (true, Some(d)),
        None => (false, plain.strip_prefix("0b")),
    };
    if let Some(d) = digits {
        if let Ok(u) = u64::from_str_radix(d, 2) {
            if neg {
                if let Ok(i) = i64::try_from(u) {
                    return Value::Int(-i);
                }
            } else if let Ok(i) = i64::try_from(u) {
                return Value::Int(i);
            } else {
                return Value::Uint(u);
            }
        }
    }
    Value::from(s)
}

/// Go's `strconv.ParseInt(s, 0, 64)` then `ParseUint(s, 0, 64)`: a sign,
/// then `0x`, `0o`, `0b` or a leading `0` (octal) prefix.
fn parse_int_base0(s: &str) -> Option<Value> {
    let (neg, body) = match s.as_bytes().first()? {
        b'-' => (true, &s[1..]),
        b'+' => (false, &s[1..]),
        _ => (false, s),
    };
    let lower = body.to_ascii_lowercase();
    let (radix, digits) = if let Some(d) = lower.strip_prefix("0x") {
        (16, d.to_string())
    } else if let Some(d) = lower.strip_prefix("0o") {
        (8, d.to_string())
    } else if let Some(d) = lower.strip_prefix("0b") {
        (2, d.to_string())
    } else if lower.len() > 1 && lower.starts_with('0') {
        (8, lower[1..].to_string())
    } else {
        (10, lower.clone())
    };
    if digits.is_empty() || !digits.chars().all(|c| c.is_digit(radix)) {
        return None;
    }
    let u = u64::from_str_radix(&digits, radix).ok()?;
    if neg {
        if u <= i64::MAX as u64 + 1 {
            return Some(Value::Int((u as i64).wrapping_neg()));
        }
        return None;
    }
    Some(match i64::try_from(u) {
        Ok(i) => Value::Int(i),
        // Only ParseUint accepts it (no sign allowed there).
        Err(_) if !s.starts_with('+') => Value::Uint(u),
        Err(_) => return None,
    })
}

/// `^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$`
fn is_yaml_float(s: &str) -> bool {
    let b = s.as_bytes();
    let mut i = usize::from(matches!(b.first(), Some(b'-' | b'+')));
    let digits = |i: &mut usize| {
        let st = *i;
        while *i < b.len() && b[*i].is_ascii_digit() {
            *i += 1;
        }
        *i - st
    };
    if b.get(i) == Some(&b'.') {
        i += 1;
        if digits(&mut i) == 0 {
            return false;
        }
    } else {
        if digits(&mut i) == 0 {
            return false;
        }
        if b.get(i) == Some(&b'.') {
            i += 1;
            digits(&mut i);
        }
    }
    if matches!(b.get(i), Some(b'e' | b'E')) {
        i += 1;
        if matches!(b.get(i), Some(b'-' | b'+')) {
            i += 1;
        }
        if digits(&mut i) == 0 {
            return false;
        }
    }
    i == b.len()
}

fn num(s: &str, min: usize, max: usize) -> Option<(u32, &str)> {
    let n = s.bytes().take_while(u8::is_ascii_digit).count();
    if n < min || n > max {
        return None;
    }
    Some((s[..n].parse().ok()?, &s[n..]))
}

/// yaml.v2's timestamp forms: `2006-1-2`, then `T`, `t` or a space and
/// `15:4:5` with optional fraction, then (not after a space) a zone.
pub fn is_timestamp(s: &str) -> bool {
    let Some((_, r)) = num(s, 4, 4) else {
        return false;
    };
    let Some(r) = r.strip_prefix('-') else {
        return false;
    };
    let Some((m, r)) = num(r, 1, 2) else {
        return false;
    };
    let Some(r) = r.strip_prefix('-') else {
        return false;
    };
    let Some((d, r)) = num(r, 1, 2) else {
        return false;
    };
    if !(1..=12).contains(&m) || d == 0 || d > 31 {
        return false;
    }
    if r.is_empty() {
        return true;
    }
    let (space, r) = match r.as_bytes()[0] {
        b'T' | b't' => (false, &r[1..]),
        b' ' => (true, &r[1..]),
        _ => return false,
    };
    let Some((h, r)) = num(r, 1, 2) else {
        return false;
    };
    let Some(r) = r.strip_prefix(':') else {
        return false;
    };
    let Some((mi, r)) = num(r, 1, 2) else {
        return false;
    };
    let Some(r) = r.strip_prefix(':') else {
        return false;
    };
    let Some((se, mut r)) = num(r, 1, 2) else {
        return false;
    };
    if h > 24 || mi > 59 || se > 59 {
        return false;
    }
    if let Some(f) = r.strip_prefix('.') {
        let n = f.bytes().take_while(u8::is_ascii_digit).count();
        if n == 0 {
            return false;
        }
        r = &f[n..];
    }
    if space {
        return r.is_empty();
    }
    if r == "Z" {
        return true;
    }
    let Some(z) = r.strip_prefix(['+', '-']) else {
        return false;
    };
    let b = z.as_bytes();
    b.len() == 5
        && b[2] == b':'
        && b.iter()
            .enumerate()
            .all(|(i, c)| i == 2 || c.is_ascii_digit())
}

/// Whether a string written plain reads back as the same string.
pub fn resolves_to_str(s: &str) -> bool {
    if s.is_empty() {
        return false;
    }
    if s == "<<" {
        // The merge key is written plain (yaml.v2's emitter keeps it).
        return true;
    }
    if is_timestamp(s) {
        return false;
    }
    matches!(resolve_plain(s), Value::Str(_))
}

/// YAML 1.1 sexagesimal floats (`190:20:30.15`), which yaml.v2 quotes.
pub fn is_base60_float(s: &str) -> bool {
    let b = s.as_bytes();
    if b.is_empty() || !(b[0] == b'+' || b[0] == b'-' || b[0].is_ascii_digit()) || !s.contains(':')
    {
        return false;
    }
    // ^[-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+(?:\.[0-9_]*)?$
    let mut i = usize::from(matches!(b[0], b'+' | b'-'));
    if !b.get(i).is_some_and(u8::is_ascii_digit) {
        return false;
    }
    while i < b.len() && (b[i].is_ascii_digit() || b[i] == b'_') {
        i += 1;
    }
    let mut groups = 0;
    while b.get(i) == Some(&b':') {
        i += 1;
        let st = i;
        while i < b.len() && b[i].is_ascii_digit() && i - st < 2 {
            i += 1;
        }
        let g = &s[st..i];
        let ok = match g.len() {
            1 => true,
            2 => g.as_bytes()[0] <= b'5',
            _ => false,
        };
        if !ok {
            return false;
        }
        groups += 1;
    }
    if groups == 0 {
        return false;
    }
    if b.get(i) == Some(&b'.') {
        i += 1;
        while i < b.len() && (b[i].is_ascii_digit() || b[i] == b'_') {
            i += 1;
        }
    }
    i == b.len()
}
