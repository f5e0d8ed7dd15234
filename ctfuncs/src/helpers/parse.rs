//! `parseBool parseInt parseUint parseFloat` with Go's `strconv` rules and
//! messages (`strconv.ParseInt: parsing "x": invalid syntax`); an empty
//! string gives the zero value, as in consul-template.

use std::num::IntErrorKind;

use gotemplate::{FuncError, Funcs, Value};

use crate::args;

pub(super) fn install(funcs: &mut Funcs) {
    funcs.add_fixed("parseBool", 1, |a| {
        let s = args::string(&a[0])?;
        if s.is_empty() {
            return Ok(Value::Bool(false));
        }
        parse_bool(s)
            .map(Value::Bool)
            .map_err(|e| FuncError::Call(format!("parseBool: {e}")))
    });
    funcs.add_fixed("parseInt", 1, |a| {
        let s = args::string(&a[0])?;
        if s.is_empty() {
            return Ok(Value::Int(0));
        }
        parse_int(s)
            .map(Value::Int)
            .map_err(|e| FuncError::Call(format!("parseInt: {e}")))
    });
    funcs.add_fixed("parseUint", 1, |a| {
        let s = args::string(&a[0])?;
        if s.is_empty() {
            return Ok(Value::Uint(0));
        }
        parse_uint(s)
            .map(Value::Uint)
            .map_err(|e| FuncError::Call(format!("parseUint: {e}")))
    });
    funcs.add_fixed("parseFloat", 1, |a| {
        let s = args::string(&a[0])?;
        if s.is_empty() {
            return Ok(Value::Float(0.0));
        }
        parse_float(s)
            .map(Value::Float)
            .map_err(|e| FuncError::Call(format!("parseFloat: {e}")))
    });
}

fn num_error(func: &str, s: &str, what: &str) -> String {
    format!(
        "strconv.{func}: parsing {}: {what}",
        gotemplate::fmt::quote(s)
    )
}

/// Go's `strconv.ParseBool`.
pub fn parse_bool(s: &str) -> Result<bool, String> {
    match s {
        "1" | "t" | "T" | "TRUE" | "true" | "True" => Ok(true),
        "0" | "f" | "F" | "FALSE" | "false" | "False" => Ok(false),
        _ => Err(num_error("ParseBool", s, "invalid syntax")),
    }
}

/// Go's `strconv.ParseInt(s, 10, 64)`.
pub fn parse_int(s: &str) -> Result<i64, String> {
    let digits = s.strip_prefix(['+', '-']).unwrap_or(s);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(num_error("ParseInt", s, "invalid syntax"));
    }
    s.parse::<i64>().map_err(|e| match e.kind() {
        IntErrorKind::PosOverflow | IntErrorKind::NegOverflow => {
            num_error("ParseInt", s, "value out of range")
        }
        _ => num_error("ParseInt", s, "invalid syntax"),
    })
}

/// Go's `strconv.ParseUint(s, 10, 64)` (no sign accepted).
pub fn parse_uint(s: &str) -> Result<u64, String> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return Err(num_error("ParseUint", s, "invalid syntax"));
    }
    s.parse::<u64>().map_err(|e| match e.kind() {
        IntErrorKind::PosOverflow => num_error("ParseUint", s, "value out of range"),
        _ => num_error("ParseUint", s, "invalid syntax"),
    })
}

/// Go's `underscoreOK`: underscores only between digits (or after a base prefix).
fn underscore_ok(s: &str) -> bool {
    let b = s.strip_prefix(['+', '-']).unwrap_or(s).as_bytes();
    let mut saw = b'^';
    let mut i = 0;
    let mut hex = false;
    if b.len() >= 2 && b[0] == b'0' && matches!(b[1] | 0x20, b'b' | b'o' | b'x') {
        i = 2;
        saw = b'0';
        hex = b[1] | 0x20 == b'x';
    }
    while i < b.len() {
        let c = b[i];
        if c.is_ascii_digit() || (hex && (c | 0x20).is_ascii_hexdigit()) {
            saw = b'0';
        } else if c == b'_' {
            if saw != b'0' {
                return false;
            }
            saw = b'_';
        } else {
            if saw == b'_' {
                return false;
            }
            saw = b'!';
        }
        i += 1;
    }
    saw != b'_'
}

/// Go's `strconv.ParseFloat(s, 64)`: decimal and hex (`0x1p-2`) forms,
/// `inf`, `infinity` and `nan` in any case, underscores between digits;
/// out of range is an error.
pub fn parse_float(s: &str) -> Result<f64, String> {
    let syntax = || num_error("ParseFloat", s, "invalid syntax");
    let body = s.strip_prefix(['+', '-']).unwrap_or(s);
    let neg = s.starts_with('-');
    let lower = body.to_ascii_lowercase();
    if lower == "inf" || lower == "infinity" {
        return Ok(if neg {
            f64::NEG_INFINITY
        } else {
            f64::INFINITY
        });
    }
    if lower == "nan" {
        // Go accepts no sign on NaN.
        return if body.len() == s.len() {
            Ok(f64::NAN)
        } else {
            Err(syntax())
        };
    }
    let cleaned: String;
    let mut text = s;
    if s.contains('_') {
        if !underscore_ok(s) {
            return Err(syntax());
        }
        cleaned = s.replace('_', "");
        text = &cleaned;
    }
    let tb = text.strip_prefix(['+', '-']).unwrap_or(text);
    let v = if tb.len() > 2 && tb.as_bytes()[0] == b'0' && tb.as_bytes()[1] | 0x20 == b'x' {
        hex_float(&tb[2..]).ok_or_else(syntax)?
    } else {
        // Rust's grammar is Go's for decimal forms, but for the words handled above.
        if !tb
            .bytes()
            .all(|b| b.is_ascii_digit() || matches!(b, b'.' | b'e' | b'E' | b'+' | b'-'))
        {
            return Err(syntax());
        }
        tb.parse::<f64>().map_err(|_| syntax())?
    };
    if v.is_infinite() {
        return Err(num_error("ParseFloat", s, "value out of range"));
    }
    Ok(if neg { -v } else { v })
}

/// A hex float body after `0x`: hex digits with an optional point, then a
/// required `p` exponent.
fn hex_float(s: &str) -> Option<f64> {
    let (mant, exp) = s.split_once(['p', 'P'])?;
    let exp: i64 = exp.parse().ok()?;
    let (int, frac) = mant.split_once('.').unwrap_or((mant, ""));
    if int.is_empty() && frac.is_empty() {
        return None;
    }
    let mut m: u64 = 0;
    let mut shift: i64 = 0;
    let mut sticky = false;
    for (i, c) in int.chars().chain(frac.chars()).enumerate() {
        let d = u64::from(c.to_digit(16)?);
        if m >> 60 == 0 {
            m = m * 16 + d;
            if i >= int.len() {
                shift -= 4;
            }
        } else {
            sticky |= d != 0;
            if i < int.len() {
                shift += 4;
            }
        }
    }
    let m = if sticky { m | 1 } else { m };
    let e = exp.checked_add(shift)?.clamp(-2000, 2000);
    let mut v = m as f64;
    let mut e = e as i32;
    while e > 0 {
        let step = e.min(1000);
        v *= 2f64.powi(step);
        e -= step;
    }
    while e < 0 {
        let step = e.max(-1000);
        v *= 2f64.powi(step);
        e -= step;
    }
    Some(v)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_parse_as_in_go() {
        assert_eq!(parse_int("+42"), Ok(42));
        assert_eq!(parse_int("-9223372036854775808"), Ok(i64::MIN));
        assert_eq!(
            parse_int("9223372036854775808").unwrap_err(),
            "strconv.ParseInt: parsing \"9223372036854775808\": value out of range"
        );
        assert_eq!(
            parse_int("1_000").unwrap_err(),
            "strconv.ParseInt: parsing \"1_000\": invalid syntax"
        );
        assert!(parse_uint("+1").is_err());
        assert_eq!(parse_uint("18446744073709551615"), Ok(u64::MAX));
        assert_eq!(parse_float("1_000.5"), Ok(1000.5));
        assert_eq!(parse_float("0x1p-2"), Ok(0.25));
        assert_eq!(parse_float("0x1.8p1"), Ok(3.0));
        assert_eq!(parse_float("-Inf"), Ok(f64::NEG_INFINITY));
        assert!(parse_float("NaN").unwrap().is_nan());
        assert!(parse_float("-nan").is_err());
        assert_eq!(
            parse_float("1e400").unwrap_err(),
            "strconv.ParseFloat: parsing \"1e400\": value out of range"
        );
        assert!(parse_float("1e").is_err());
        assert!(parse_float(" 1").is_err());
        assert_eq!(parse_bool("T"), Ok(true));
        assert!(parse_bool("yes").is_err());
    }
}
