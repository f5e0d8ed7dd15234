//! Go's float formatting (`strconv.FormatFloat`): `%v`/`%g` with the
//! shortest digits that read back, `%e`, `%f` and `%g` with a precision.
//!
//! Rust's formatter already gives the shortest round-trip digits (`{:e}`)
//! and exactly rounded fixed digits (`{:.N}`, `{:.Ne}`); this module only
//! lays them out as Go does.

/// Decimal digits `d1 d2 ... dn` and the position of the decimal point:
/// the value is `0.d1d2...dn × 10^dp`.
struct Digits {
    neg: bool,
    digits: Vec<u8>,
    dp: i32,
}

/// Parses Rust's `{:e}` output (`-1.2345e-7`, `1e3`).
fn parse_exp(s: &str) -> Digits {
    let (neg, s) = match s.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, s),
    };
    let (mant, exp) = s.split_once('e').unwrap_or((s, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    let mut digits: Vec<u8> = mant.bytes().filter(u8::is_ascii_digit).collect();
    while digits.len() > 1 && digits.last() == Some(&b'0') {
        digits.pop();
    }
    if digits == [b'0'] {
        return Digits {
            neg,
            digits: Vec::new(),
            dp: 0,
        };
    }
    Digits {
        neg,
        digits,
        dp: exp + 1,
    }
}

fn shortest(v: f64) -> Digits {
    parse_exp(&format!("{v:e}"))
}

/// The digits of `v` rounded to `n` significant digits (n >= 1).
fn rounded(v: f64, n: usize) -> Digits {
    parse_exp(&format!("{:.*e}", n.saturating_sub(1), v))
}

fn special(v: f64) -> Option<&'static str> {
    if v.is_nan() {
        Some("NaN")
    } else if v == f64::INFINITY {
        Some("+Inf")
    } else if v == f64::NEG_INFINITY {
        Some("-Inf")
    } else {
        None
    }
}

/// `%e` layout: `d.ddde±XX` with `prec` digits after the point.
fn fmt_e(d: &Digits, prec: usize, upper: bool) -> String {
    let mut out = String::new();
    if d.neg {
        out.push('-');
    }
    let first = d.digits.first().copied().unwrap_or(b'0');
    out.push(first as char);
    if prec > 0 {
        out.push('.');
        for i in 1..=prec {
            out.push(d.digits.get(i).copied().unwrap_or(b'0') as char);
        }
    }
    out.push(if upper { 'E' } else { 'e' });
    let exp = if d.digits.is_empty() { 0 } else { d.dp - 1 };
    out.push(if exp < 0 { '-' } else { '+' });
    let e = exp.unsigned_abs();
    if e < 10 {
        out.push('0');
    }
    out.push_str(&e.to_string());
    out
}

/// `%f` layout with `prec` digits after the point.
fn fmt_f(d: &Digits, prec: usize) -> String {
    let mut out = String::new();
    if d.neg {
        out.push('-');
    }
    if d.dp > 0 {
        for i in 0..d.dp as usize {
            out.push(d.digits.get(i).copied().unwrap_or(b'0') as char);
        }
    } else {
        out.push('0');
    }
    if prec > 0 {
        out.push('.');
        for i in 0..prec as i32 {
            let j = d.dp + i;
            let c = if j < 0 {
                b'0'
            } else {
                d.digits.get(j as usize).copied().unwrap_or(b'0')
            };
            out.push(c as char);
        }
    }
    out
}

/// `strconv.FormatFloat(v, 'g', -1, 64)`: what `%v` prints.
pub fn shortest_g(v: f64) -> String {
    if let Some(s) = special(v) {
        return s.into();
    }
    let d = shortest(v);
    if d.digits.is_empty() {
        return if d.neg { "-0" } else { "0" }.into();
    }
    let nd = d.digits.len();
    let exp = if d.digits.is_empty() { 0 } else { d.dp - 1 };
    // Go decides between %e and %f with a precision of 6 for the shortest form.
    if !(-4..6).contains(&exp) {
        fmt_e(&d, nd - 1, false)
    } else {
        let prec = (nd as i32 - d.dp).max(0) as usize;
        fmt_f(&d, prec)
    }
}

/// `%e` (or `%E`) with a precision (`None`: Go's default of 6).
pub fn format_e(v: f64, prec: Option<usize>, upper: bool) -> String {
    if let Some(s) = special(v) {
        return s.into();
    }
    let p = prec.unwrap_or(6);
    let d = rounded(v, p + 1);
    fmt_e(&d, p, upper)
}

/// `%f` with a precision (`None`: 6).
pub fn format_f(v: f64, prec: Option<usize>) -> String {
    if let Some(s) = special(v) {
        return s.into();
    }
    format!("{:.*}", prec.unwrap_or(6), v)
}

/// `%g` (or `%G`) with a precision (`None`: the shortest digits).
pub fn format_g(v: f64, prec: Option<usize>, upper: bool) -> String {
    if let Some(s) = special(v) {
        return s.into();
    }
    let Some(p) = prec else {
        let s = shortest_g(v);
        return if upper { s.to_uppercase() } else { s };
    };
    let p = p.max(1);
    let d = rounded(v, p);
    let nd = d.digits.len().max(1);
    let mut eprec = p as i32;
    if eprec > nd as i32 && nd as i32 >= d.dp {
        eprec = nd as i32;
    }
    let exp = if d.digits.is_empty() { 0 } else { d.dp - 1 };
    if exp < -4 || exp >= eprec {
        fmt_e(&d, nd.min(p) - 1, upper)
    } else {
        let prec = (nd as i32 - d.dp).max(0) as usize;
        fmt_f(&d, prec)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shortest_matches_go() {
        for (v, want) in [
            (0.0, "0"),
            (1.0, "1"),
            (-1.5, "-1.5"),
            (2.75, "2.75"),
            (100000.0, "100000"),
            (1000000.0, "1e+06"),
            (1234567.0, "1.234567e+06"),
            (0.0001, "0.0001"),
            (0.00001, "1e-05"),
            (1e21, "1e+21"),
            (1.0 / 3.0, "0.3333333333333333"),
            (f64::NAN, "NaN"),
            (f64::INFINITY, "+Inf"),
        ] {
            assert_eq!(shortest_g(v), want, "{v}");
        }
    }

    #[test]
    fn precisions_match_go() {
        assert_eq!(format_f(1.23456, Some(2)), "1.23");
        assert_eq!(format_f(2.5, Some(0)), "2");
        assert_eq!(format_f(1.0, None), "1.000000");
        assert_eq!(format_e(1234.5678, Some(2), false), "1.23e+03");
        assert_eq!(format_e(0.0, None, false), "0.000000e+00");
        assert_eq!(format_g(1234.5678, Some(3), false), "1.23e+03");
        assert_eq!(format_g(0.5, Some(3), false), "0.5");
        assert_eq!(format_g(100.0, Some(3), false), "100");
        assert_eq!(format_g(1e-7, None, true), "1E-07");
    }
}
