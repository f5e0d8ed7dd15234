//! Go's conversions as Sprig applies them: spf13/cast's `ToInt64`,
//! `ToInt` and `ToFloat64` (errors become 0), Sprig's `strval`, and the
//! typed parameters text/template checks before a call.

use std::sync::Arc;

use gotemplate::{FuncError, List, Map, Type, Value, Zero, ANY_LIST, ANY_MAP, STRING_MAP};

/// `[]int` (until, untilStep).
pub static INT_LIST: Type = Type::named("[]int", Zero::Int);
/// `[][]interface {}` (chunk).
pub static LIST_LIST: Type = Type::named("[][]interface {}", Zero::List);

/// Sprig's `strval`: strings as they are, Stringers and errors by their
/// text, everything else with `%v`.
pub fn strval(v: &Value) -> String {
    match v {
        Value::Str(s) => s.to_string(),
        other => gotemplate::fmt::print_v(other),
    }
}

/// Go's `int64(f)` on amd64: truncation, and the "integer indefinite"
/// value (the smallest int64) for NaN and out-of-range values.
pub fn f64_to_i64(f: f64) -> i64 {
    // 2^63: the first float past i64::MAX; -2^63 is i64::MIN itself.
    const LIMIT: f64 = 9_223_372_036_854_775_808.0;
    if f.is_nan() || !(-LIMIT..LIMIT).contains(&f) {
        i64::MIN
    } else {
        f as i64
    }
}

/// Go's `strconv.ParseInt(s, 0, 64)`: a sign, then a base prefix (`0x`,
/// `0o`, `0b`, or a leading `0` for octal), underscores between digits
/// only with a prefix.
pub fn parse_int_base0(s: &str) -> Option<i64> {
    let (neg, body) = match s.as_bytes().first() {
        Some(b'-') => (true, &s[1..]),
        Some(b'+') => (false, &s[1..]),
        _ => (false, s),
    };
    let mag = parse_uint_base0(body)?;
    if neg {
        if mag > 1u64 << 63 {
            return None;
        }
        Some((mag as i64).wrapping_neg())
    } else {
        i64::try_from(mag).ok()
    }
}

/// Go's `strconv.ParseUint(s, 0, 64)`.
pub fn parse_uint_base0(s: &str) -> Option<u64> {
    let b = s.as_bytes();
    if b.is_empty() {
        return None;
    }
    let (base, digits, prefixed, letter) = if b[0] == b'0' && b.len() > 1 {
        match b[1] {
            b'x' | b'X' => (16, &s[2..], true, true),
            b'o' | b'O' => (8, &s[2..], true, true),
            b'b' | b'B' => (2, &s[2..], true, true),
            _ => (8, &s[1..], true, false),
        }
    } else {
        (10, s, false, false)
    };
    if prefixed && !underscores_ok(s) {
        return None;
    }
    let mut n: u64 = 0;
    let mut any = false;
    for c in digits.chars() {
        if c == '_' {
            if !prefixed {
                return None;
            }
            continue;
        }
        let d = c.to_digit(base)?;
        n = n.checked_mul(u64::from(base))?.checked_add(u64::from(d))?;
        any = true;
    }
    // "0x" alone is not a number.
    if !any && (letter || !prefixed) {
        return None;
    }
    Some(n)
}

/// Go's `underscoreOK`: underscores only between digits or after the prefix.
fn underscores_ok(s: &str) -> bool {
    // 'i' is "digit or prefix"; '_' is an underscore; '!' anything else.
    let b = s.as_bytes();
    let mut saw = '^';
    let mut i = 0;
    let hex = b.len() >= 2 && b[0] == b'0' && b[1] | 0x20 == b'x';
    if b.len() >= 2 && b[0] == b'0' && matches!(b[1] | 0x20, b'x' | b'b' | b'o') {
        i = 2;
        saw = '0';
    }
    while i < b.len() {
        let c = b[i];
        if c.is_ascii_digit() || (hex && c.is_ascii_hexdigit()) {
            saw = '0';
        } else if c == b'_' {
            if saw != '0' {
                return false;
            }
            saw = '_';
        } else {
            if saw == '_' {
                return false;
            }
            saw = '!';
        }
        i += 1;
    }
    saw != '_'
}

/// cast's `trimZeroDecimal`: "1.00" is "1", "1.50" stays.
fn trim_zero_decimal(s: &str) -> &str {
    let b = s.as_bytes();
    let mut found_zero = false;
    for i in (1..=b.len()).rev() {
        match b[i - 1] {
            b'.' => {
                if found_zero {
                    return &s[..i - 1];
                }
            }
            b'0' => found_zero = true,
            _ => return s,
        }
    }
    s
}

/// Go's `strconv.ParseFloat(s, 64)` for decimal forms, infinities and NaN
/// (hexadecimal floats are not read: they give `None`).
pub fn parse_float(s: &str) -> Option<f64> {
    let t = s.strip_prefix(['+', '-']).unwrap_or(s);
    let lower = t.to_ascii_lowercase();
    if matches!(lower.as_str(), "inf" | "infinity" | "nan") {
        return s.parse().ok();
    }
    if t.is_empty()
        || !t
            .bytes()
            .all(|c| c.is_ascii_digit() || matches!(c, b'.' | b'e' | b'E' | b'+' | b'-'))
    {
        return None;
    }
    let v: f64 = s.parse().ok()?;
    // Go reports a range error (cast then gives 0) where Rust gives infinity.
    if v.is_infinite() {
        return None;
    }
    Some(v)
}

/// cast's `ToInt64` as Sprig uses it (errors give 0).
pub fn to_i64(v: &Value) -> i64 {
    match v {
        Value::Int(i) => *i,
        Value::Uint(u) => *u as i64,
        Value::Float(f) => f64_to_i64(*f),
        Value::Str(s) => parse_int_base0(trim_zero_decimal(s)).unwrap_or(0),
        Value::Bool(b) => i64::from(*b),
        _ => 0,
    }
}

/// cast's `ToFloat64` as Sprig uses it (errors give 0).
pub fn to_f64(v: &Value) -> f64 {
    match v {
        Value::Int(i) => *i as f64,
        Value::Uint(u) => *u as f64,
        Value::Float(f) => *f,
        Value::Str(s) => parse_float(s).unwrap_or(0.0),
        Value::Bool(b) => f64::from(u8::from(*b)),
        _ => 0.0,
    }
}

/// Go's `int` of this value, for a typed parameter.
fn go_type_error(want: &str, got: &Value) -> FuncError {
    match got {
        Value::Missing => FuncError::Arg(format!("invalid value; expected {want}")),
        // A nil out of a map or a slice is an interface{} holding nothing.
        Value::Nil => FuncError::Arg(format!(
            "wrong type for value; expected {want}; got interface {{}}"
        )),
        other => FuncError::Arg(format!(
            "wrong type for value; expected {want}; got {}",
            other.type_name()
        )),
    }
}

/// A `string` parameter.
pub fn arg_str(v: &Value) -> Result<&str, FuncError> {
    match v {
        Value::Str(s) => Ok(s),
        other => Err(go_type_error("string", other)),
    }
}

/// An `int` parameter.
pub fn arg_int(v: &Value) -> Result<i64, FuncError> {
    match v {
        Value::Int(i) => Ok(*i),
        Value::Uint(u) => i64::try_from(*u).map_err(|_| go_type_error("int", v)),
        other => Err(go_type_error("int", other)),
    }
}

/// A `float64` parameter (an integer constant converts, as Go's does).
pub fn arg_float(v: &Value) -> Result<f64, FuncError> {
    match v {
        Value::Float(f) => Ok(*f),
        Value::Int(i) => Ok(*i as f64),
        Value::Uint(u) => Ok(*u as f64),
        other => Err(go_type_error("float64", other)),
    }
}

/// A `bool` parameter.
pub fn arg_bool(v: &Value) -> Result<bool, FuncError> {
    match v {
        Value::Bool(b) => Ok(*b),
        other => Err(go_type_error("bool", other)),
    }
}

/// A `map[string]interface {}` parameter: only that type is assignable.
pub fn arg_dict(v: &Value) -> Result<Option<&Map>, FuncError> {
    match v {
        Value::Map(m) if std::ptr::eq(m.ty, &ANY_MAP) || m.ty.name == ANY_MAP.name => Ok(Some(m)),
        // A nil map of the right type: reads give nothing.
        Value::Missing => Ok(None),
        other => Err(go_type_error("map[string]interface {}", other)),
    }
}

/// A `[]interface {}` parameter: only that type is assignable.
#[allow(dead_code)]
pub fn arg_any_list(v: &Value) -> Result<&[Value], FuncError> {
    match v {
        Value::List(l) if l.ty.name == ANY_LIST.name => Ok(&l.items),
        Value::Missing => Ok(&[]),
        other => Err(go_type_error("[]interface {}", other)),
    }
}

/// A `[]interface {}` result.
pub fn any_list(items: Vec<Value>) -> Value {
    Value::List(Arc::new(List::new(items)))
}

/// A `[]int` result.
pub fn int_list(items: Vec<i64>) -> Value {
    Value::List(Arc::new(List::typed(
        items.into_iter().map(Value::Int).collect(),
        &INT_LIST,
    )))
}

/// A `map[string]string` result.
pub fn string_map<I: IntoIterator<Item = (String, String)>>(entries: I) -> Value {
    Value::Map(Arc::new(Map::typed(
        entries
            .into_iter()
            .map(|(k, v)| (gotemplate::Key::from(k), Value::from(v)))
            .collect(),
        &STRING_MAP,
    )))
}

/// Go's `reflect.Value.Kind().String()` of a value.
pub fn kind_of(v: &Value) -> &'static str {
    match v {
        Value::Missing | Value::Nil => "invalid",
        Value::Bool(_) => "bool",
        Value::Int(_) => "int",
        Value::Uint(_) => "uint64",
        Value::Float(_) => "float64",
        Value::Str(_) => "string",
        Value::List(_) => "slice",
        Value::Map(_) => "map",
        Value::Struct(s) if s.ty.is_pointer() => "ptr",
        Value::Struct(_) => "struct",
        Value::Object(o) if o.type_name().starts_with('*') => "ptr",
        Value::Object(_) => "struct",
    }
}

/// Sprig's `empty`: the zero value of its type (structs never are).
pub fn is_empty(v: &Value) -> bool {
    match v {
        Value::Struct(_) | Value::Object(_) => false,
        other => !other.is_true(),
    }
}

/// `reflect.DeepEqual`: same types, same contents (NaN is never equal).
/// Values nested deeper than [`MAX_NESTING`] compare unequal (a recursive
/// walk that deep would need the stack for more).
pub fn deep_equal(a: &Value, b: &Value) -> bool {
    deep_equal_at(a, b, 0)
}

/// How deep [`deep_equal`] looks.
pub const MAX_NESTING: usize = 1000;

fn deep_equal_at(a: &Value, b: &Value, depth: usize) -> bool {
    if depth > MAX_NESTING {
        return false;
    }
    let eq = |p: &Value, q: &Value| deep_equal_at(p, q, depth + 1);
    match (a, b) {
        (Value::Missing | Value::Nil, Value::Missing | Value::Nil) => true,
        (Value::Bool(x), Value::Bool(y)) => x == y,
        (Value::Int(x), Value::Int(y)) => x == y,
        (Value::Uint(x), Value::Uint(y)) => x == y,
        (Value::Float(x), Value::Float(y)) => x == y,
        (Value::Str(x), Value::Str(y)) => x == y,
        (Value::List(x), Value::List(y)) => {
            x.ty.name == y.ty.name
                && x.items.len() == y.items.len()
                && x.items.iter().zip(&y.items).all(|(p, q)| eq(p, q))
        }
        (Value::Map(x), Value::Map(y)) => {
            x.ty.name == y.ty.name
                && x.entries.len() == y.entries.len()
                && x.entries
                    .iter()
                    .all(|(k, v)| y.entries.get(k).is_some_and(|w| eq(v, w)))
        }
        (Value::Struct(x), Value::Struct(y)) => {
            x.ty.name == y.ty.name && x.fields.iter().zip(&y.fields).all(|(p, q)| eq(p, q))
        }
        (Value::Object(x), Value::Object(y)) => {
            x.type_name() == y.type_name() && x.print() == y.print()
        }
        _ => false,
    }
}

/// Go's message for `reflect.TypeOf(nil).Kind()`.
pub const NIL_DEREF: &str = "runtime error: invalid memory address or nil pointer dereference";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn casts_like_spf13() {
        assert_eq!(to_i64(&Value::str("0x10")), 16);
        assert_eq!(to_i64(&Value::str("010")), 8);
        assert_eq!(to_i64(&Value::str("1.00")), 1);
        assert_eq!(to_i64(&Value::str("1.5")), 0);
        assert_eq!(to_i64(&Value::str("1_000")), 0);
        assert_eq!(to_i64(&Value::str("0x_1f")), 31);
        assert_eq!(to_i64(&Value::str("-9223372036854775808")), i64::MIN);
        assert_eq!(to_i64(&Value::str("9223372036854775808")), 0);
        assert_eq!(to_i64(&Value::Float(f64::NAN)), i64::MIN);
        assert_eq!(to_i64(&Value::Float(-2.7)), -2);
        assert_eq!(to_f64(&Value::str("1e400")), 0.0);
        assert_eq!(to_f64(&Value::str("-Inf")), f64::NEG_INFINITY);
        assert_eq!(to_f64(&Value::str(" 1")), 0.0);
        assert_eq!(to_f64(&Value::Bool(true)), 1.0);
    }
}
