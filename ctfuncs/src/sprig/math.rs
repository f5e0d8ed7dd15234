//! Arithmetic: int64 (`add`, `sub`, `mul`, `div`, `mod`, `max`, `min`),
//! float64 through exact decimals (`addf`, `subf`, `mulf`, `divf`), and
//! conversions (`int`, `int64`, `float64`, `toDecimal`).
//!
//! int64 arithmetic wraps on overflow, as Go's does; division by zero
//! fails with Go's runtime message.

use gotemplate::{FuncError, Value};

use super::conv::{arg_float, arg_int, to_f64, to_i64};
use super::decimal::Dec;
use super::Reg;

const DIV_ZERO: &str = "runtime error: integer divide by zero";

/// Go's `math.Max`.
fn go_max(x: f64, y: f64) -> f64 {
    if x.is_infinite() && x > 0.0 || y.is_infinite() && y > 0.0 {
        return f64::INFINITY;
    }
    if x.is_nan() || y.is_nan() {
        return f64::NAN;
    }
    if x == 0.0 && x == y {
        return if x.is_sign_negative() { y } else { x };
    }
    if x > y {
        x
    } else {
        y
    }
}

/// Go's `math.Min`.
fn go_min(x: f64, y: f64) -> f64 {
    if x.is_infinite() && x < 0.0 || y.is_infinite() && y < 0.0 {
        return f64::NEG_INFINITY;
    }
    if x.is_nan() || y.is_nan() {
        return f64::NAN;
    }
    if x == 0.0 && x == y {
        return if x.is_sign_negative() { x } else { y };
    }
    if x < y {
        x
    } else {
        y
    }
}

/// Go's `math.Pow(10, p)`.
fn pow10(p: f64) -> f64 {
    if p.fract() == 0.0 && p.abs() < 1e9 {
        10f64.powi(p as i32)
    } else {
        10f64.powf(p)
    }
}

/// Sprig's `round`.
fn round(val: f64, places: f64, round_on: f64) -> f64 {
    let pow = pow10(places);
    let digit = pow * val;
    let div = if digit.is_infinite() {
        f64::NAN
    } else {
        digit.fract()
    };
    let r = if div >= round_on {
        digit.ceil()
    } else {
        digit.floor()
    };
    r / pow
}

/// Sprig's `execDecimalOp`.
fn decimal_op(
    first: &Value,
    rest: &[Value],
    f: fn(&Dec, &Dec) -> Result<Dec, FuncError>,
) -> Result<Value, FuncError> {
    let mut acc = Dec::from_f64(to_f64(first))?;
    for x in rest {
        acc = f(&acc, &Dec::from_f64(to_f64(x))?)?;
    }
    Ok(Value::Float(acc.to_f64()))
}

/// Go's `strconv.ParseInt(s, 8, 64)` (errors give 0, as in Sprig).
fn parse_octal(s: &str) -> i64 {
    let (neg, digits) = match s.as_bytes().first() {
        Some(b'-') => (true, &s[1..]),
        Some(b'+') => (false, &s[1..]),
        _ => (false, s),
    };
    if digits.is_empty() {
        return 0;
    }
    let mut n: i128 = 0;
    for c in digits.chars() {
        let Some(d) = c.to_digit(8) else {
            return 0;
        };
        n = n * 8 + i128::from(d);
        if n > 1 << 64 {
            return 0;
        }
    }
    let n = if neg { -n } else { n };
    i64::try_from(n).unwrap_or(0)
}

pub(super) fn install(r: &mut Reg<'_>) {
    r.fixed("add1", 1, |a| Ok(Value::Int(to_i64(&a[0]).wrapping_add(1))));
    r.add("add", 0, None, |a| {
        Ok(Value::Int(
            a.iter().fold(0i64, |acc, v| acc.wrapping_add(to_i64(v))),
        ))
    });
    r.fixed("sub", 2, |a| {
        Ok(Value::Int(to_i64(&a[0]).wrapping_sub(to_i64(&a[1]))))
    });
    r.fixed("div", 2, |a| {
        let (x, y) = (to_i64(&a[0]), to_i64(&a[1]));
        if y == 0 {
            return Err(FuncError::Call(DIV_ZERO.into()));
        }
        Ok(Value::Int(x.wrapping_div(y)))
    });
    r.fixed("mod", 2, |a| {
        let (x, y) = (to_i64(&a[0]), to_i64(&a[1]));
        if y == 0 {
            return Err(FuncError::Call(DIV_ZERO.into()));
        }
        Ok(Value::Int(x.wrapping_rem(y)))
    });
    r.add("mul", 1, None, |a| {
        Ok(Value::Int(
            a[1..]
                .iter()
                .fold(to_i64(&a[0]), |acc, v| acc.wrapping_mul(to_i64(v))),
        ))
    });
    r.fixed("add1f", 1, |a| {
        decimal_op(&a[0], &[Value::Int(1)], Dec::add)
    });
    r.add("addf", 0, None, |a| {
        decimal_op(&Value::Float(0.0), a, Dec::add)
    });
    r.add("subf", 1, None, |a| decimal_op(&a[0], &a[1..], Dec::sub));
    r.add("mulf", 1, None, |a| decimal_op(&a[0], &a[1..], Dec::mul));
    r.add("divf", 1, None, |a| decimal_op(&a[0], &a[1..], Dec::div));
    for name in ["max", "biggest"] {
        r.add(name, 1, None, |a| {
            Ok(Value::Int(
                a[1..].iter().map(to_i64).fold(to_i64(&a[0]), i64::max),
            ))
        });
    }
    r.add("min", 1, None, |a| {
        Ok(Value::Int(
            a[1..].iter().map(to_i64).fold(to_i64(&a[0]), i64::min),
        ))
    });
    r.add("maxf", 1, None, |a| {
        Ok(Value::Float(
            a[1..].iter().map(to_f64).fold(to_f64(&a[0]), go_max),
        ))
    });
    r.add("minf", 1, None, |a| {
        Ok(Value::Float(
            a[1..].iter().map(to_f64).fold(to_f64(&a[0]), go_min),
        ))
    });
    r.fixed("ceil", 1, |a| Ok(Value::Float(to_f64(&a[0]).ceil())));
    r.fixed("floor", 1, |a| Ok(Value::Float(to_f64(&a[0]).floor())));
    r.add("round", 2, None, |a| {
        let places = arg_int(&a[1])?;
        let round_on = match a.get(2) {
            Some(v) => arg_float(v)?,
            None => 0.5,
        };
        for v in a.iter().skip(3) {
            arg_float(v)?;
        }
        Ok(Value::Float(round(to_f64(&a[0]), places as f64, round_on)))
    });
    r.fixed("int64", 1, |a| Ok(Value::Int(to_i64(&a[0]))));
    r.fixed("int", 1, |a| Ok(Value::Int(to_i64(&a[0]))));
    r.fixed("float64", 1, |a| Ok(Value::Float(to_f64(&a[0]))));
    r.fixed("toDecimal", 1, |a| {
        Ok(Value::Int(parse_octal(&gotemplate::fmt::sprint(
            std::slice::from_ref(&a[0]),
        ))))
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_float_helpers() {
        assert_eq!(round(1.23456, 2.0, 0.5), 1.23);
        assert_eq!(round(2.5, 0.0, 0.5), 3.0);
        assert_eq!(round(-2.5, 0.0, 0.5), -3.0);
        assert!(go_max(1.0, f64::NAN).is_nan());
        assert_eq!(parse_octal("0777"), 511);
        assert_eq!(parse_octal("8"), 0);
    }
}
