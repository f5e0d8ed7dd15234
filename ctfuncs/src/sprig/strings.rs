//! String functions backed by Go's `strings` package: case, trimming,
//! slicing, splitting, joining, quoting.

use gotemplate::fmt::{print_v, quote};
use gotemplate::{FuncError, Value};

use super::conv::{arg_int, arg_str, string_map, strval};
use super::{check_len, Reg};

/// Go's `unicode.ToUpper` of one rune: the simple mapping (a rune whose
/// uppercase is several runes, like `ß`, stays as it is).
pub(crate) fn upper_rune(c: char) -> char {
    let mut it = c.to_uppercase();
    match (it.next(), it.next()) {
        (Some(u), None) => u,
        _ => c,
    }
}

/// Go's `unicode.ToLower` of one rune (the simple mapping).
pub(crate) fn lower_rune(c: char) -> char {
    let mut it = c.to_lowercase();
    match (it.next(), it.next()) {
        (Some(u), None) => u,
        _ => c,
    }
}

/// Go's `s[a:b]` on bytes; a cut inside a UTF-8 sequence gives U+FFFD
/// where Go would keep the raw bytes.
pub(crate) fn byte_slice(s: &str, a: usize, b: usize) -> String {
    String::from_utf8_lossy(&s.as_bytes()[a..b]).into_owned()
}

/// Go's runtime message for a bad `s[a:b]`.
fn slice_panic(a: i64, b: Option<i64>, len: usize) -> FuncError {
    let msg = match b {
        None => format!("runtime error: slice bounds out of range [{a}:{len}]"),
        Some(b) if b < 0 || b as u128 > len as u128 => {
            if a == 0 {
                format!("runtime error: slice bounds out of range [:{b}] with length {len}")
            } else {
                format!("runtime error: slice bounds out of range [:{b}] with capacity {len}")
            }
        }
        Some(b) => format!("runtime error: slice bounds out of range [{a}:{b}]"),
    };
    FuncError::Call(msg)
}

/// `substr start end s` as Sprig does it, on bytes.
fn substr(start: i64, end: i64, s: &str) -> Result<String, FuncError> {
    let len = s.len();
    if start < 0 {
        // s[:end]
        if end < 0 || end as u128 > len as u128 {
            return Err(FuncError::Call(format!(
                "runtime error: slice bounds out of range [:{end}] with length {len}"
            )));
        }
        return Ok(byte_slice(s, 0, end as usize));
    }
    if end < 0 || end as u128 > len as u128 {
        // s[start:]
        if start as u128 > len as u128 {
            return Err(slice_panic(start, None, len));
        }
        return Ok(byte_slice(s, start as usize, len));
    }
    if start > end {
        return Err(slice_panic(start, Some(end), len));
    }
    Ok(byte_slice(s, start as usize, end as usize))
}

/// `trunc c s`: the first `c` bytes, or the last `-c`.
fn trunc(c: i64, s: &str) -> String {
    let len = s.len() as i128;
    let c128 = i128::from(c);
    if c < 0 && len + c128 > 0 {
        return byte_slice(s, (len + c128) as usize, s.len());
    }
    if c >= 0 && len > c128 {
        return byte_slice(s, 0, c as usize);
    }
    s.to_string()
}

/// Go's `strings.Repeat`, bounded.
pub(crate) fn repeat(s: &str, count: i64) -> Result<String, FuncError> {
    if count < 0 {
        return Err(FuncError::Call("strings: negative Repeat count".into()));
    }
    check_len(s.len() as u128 * count as u128)?;
    Ok(s.repeat(count as usize))
}

/// Sprig's `indent`.
fn indent(spaces: i64, v: &str) -> Result<String, FuncError> {
    let pad = repeat(" ", spaces)?;
    let lines = v.matches('\n').count() as u128 + 1;
    check_len(v.len() as u128 + lines * pad.len() as u128)?;
    Ok(format!("{pad}{}", v.replace('\n', &format!("\n{pad}"))))
}

/// Go's `strings.Replace(src, old, new, -1)`, bounded.
fn replace(old: &str, new: &str, src: &str) -> Result<String, FuncError> {
    if old.is_empty() {
        // Go inserts `new` before every rune and at the end.
        let n = src.chars().count() as u128 + 1;
        check_len(src.len() as u128 + n * new.len() as u128)?;
        let mut out = String::new();
        for c in src.chars() {
            out.push_str(new);
            out.push(c);
        }
        out.push_str(new);
        return Ok(out);
    }
    if new.len() > old.len() {
        let n = src.matches(old).count() as u128;
        check_len(src.len() as u128 + n * (new.len() - old.len()) as u128)?;
    }
    Ok(src.replace(old, new))
}

/// Go's `strings.SplitN` (`n < 0`: all; `n == 0`: none).
pub(crate) fn split_n(s: &str, sep: &str, n: i64) -> Vec<String> {
    if n == 0 {
        return Vec::new();
    }
    if sep.is_empty() {
        // explode: one element per rune, the rest in the last.
        let chars: Vec<(usize, char)> = s.char_indices().collect();
        let count = if n < 0 || n as usize > chars.len() {
            chars.len()
        } else {
            n as usize
        };
        let mut out = Vec::with_capacity(count);
        for (i, &(at, c)) in chars.iter().enumerate().take(count) {
            if i + 1 == count {
                out.push(s[at..].to_string());
            } else {
                out.push(c.to_string());
            }
        }
        return out;
    }
    if n < 0 {
        s.split(sep).map(str::to_string).collect()
    } else {
        s.splitn(n as usize, sep).map(str::to_string).collect()
    }
}

fn split_map(parts: Vec<String>) -> Value {
    string_map(
        parts
            .into_iter()
            .enumerate()
            .map(|(i, p)| (format!("_{i}"), p)),
    )
}

/// Sprig's `strslice`: the strings of a list (nils left out), or of one value.
pub(crate) fn strslice(v: &Value) -> Vec<String> {
    match v {
        Value::List(l) => l.items.iter().filter(|i| !i.is_nil()).map(strval).collect(),
        Value::Missing | Value::Nil => Vec::new(),
        other => vec![strval(other)],
    }
}

/// Go's `strconv.Atoi` with its error ignored: 0 for bad syntax, the
/// nearest int64 for a value out of range.
fn atoi(s: &str) -> i64 {
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
        n = n * 10 + i128::from(b - b'0');
        if n > 1 << 64 {
            break;
        }
    }
    let n = if neg { -n } else { n };
    n.clamp(i128::from(i64::MIN), i128::from(i64::MAX)) as i64
}

/// Go's `strings.Title`: the first letter of each word in title case.
fn title(s: &str) -> String {
    let is_sep = |r: char| {
        if r.is_ascii() {
            return !(r.is_ascii_alphanumeric() || r == '_');
        }
        if r.is_alphabetic() || r.is_numeric() {
            return false;
        }
        r.is_whitespace()
    };
    let mut prev = ' ';
    s.chars()
        .map(|r| {
            let out = if is_sep(prev) { upper_rune(r) } else { r };
            prev = r;
            out
        })
        .collect()
}

/// Go's `strings.Trim(s, cutset)`.
fn trim_set(s: &str, cutset: &str) -> String {
    s.trim_matches(|c| cutset.contains(c)).to_string()
}

pub(super) fn install(r: &mut Reg<'_>) {
    r.fixed("hello", 0, |_| Ok(Value::str("Hello!")));
    r.fixed("trim", 1, |a| Ok(Value::str(arg_str(&a[0])?.trim())));
    r.fixed("upper", 1, |a| {
        Ok(Value::from(
            arg_str(&a[0])?.chars().map(upper_rune).collect::<String>(),
        ))
    });
    r.fixed("lower", 1, |a| {
        Ok(Value::from(
            arg_str(&a[0])?.chars().map(lower_rune).collect::<String>(),
        ))
    });
    r.fixed("title", 1, |a| Ok(Value::from(title(arg_str(&a[0])?))));
    r.fixed("substr", 3, |a| {
        Ok(Value::from(substr(
            arg_int(&a[0])?,
            arg_int(&a[1])?,
            arg_str(&a[2])?,
        )?))
    });
    r.fixed("repeat", 2, |a| {
        Ok(Value::from(repeat(arg_str(&a[1])?, arg_int(&a[0])?)?))
    });
    for name in ["trimall", "trimAll"] {
        r.fixed(name, 2, |a| {
            Ok(Value::from(trim_set(arg_str(&a[1])?, arg_str(&a[0])?)))
        });
    }
    r.fixed("trimSuffix", 2, |a| {
        let (suffix, s) = (arg_str(&a[0])?, arg_str(&a[1])?);
        Ok(Value::str(s.strip_suffix(suffix).unwrap_or(s)))
    });
    r.fixed("trimPrefix", 2, |a| {
        let (prefix, s) = (arg_str(&a[0])?, arg_str(&a[1])?);
        Ok(Value::str(s.strip_prefix(prefix).unwrap_or(s)))
    });
    r.fixed("trunc", 2, |a| {
        Ok(Value::from(trunc(arg_int(&a[0])?, arg_str(&a[1])?)))
    });
    r.fixed("contains", 2, |a| {
        Ok(Value::Bool(arg_str(&a[1])?.contains(arg_str(&a[0])?)))
    });
    r.fixed("hasPrefix", 2, |a| {
        Ok(Value::Bool(arg_str(&a[1])?.starts_with(arg_str(&a[0])?)))
    });
    r.fixed("hasSuffix", 2, |a| {
        Ok(Value::Bool(arg_str(&a[1])?.ends_with(arg_str(&a[0])?)))
    });
    r.add("quote", 0, None, |a| {
        let parts: Vec<String> = a
            .iter()
            .filter(|v| !v.is_nil())
            .map(|v| quote(&strval(v)))
            .collect();
        Ok(Value::from(parts.join(" ")))
    });
    r.add("squote", 0, None, |a| {
        let parts: Vec<String> = a
            .iter()
            .filter(|v| !v.is_nil())
            .map(|v| format!("'{}'", print_v(v)))
            .collect();
        Ok(Value::from(parts.join(" ")))
    });
    r.add("cat", 0, None, |a| {
        let parts: Vec<String> = a.iter().filter(|v| !v.is_nil()).map(print_v).collect();
        Ok(Value::from(parts.join(" ")))
    });
    r.fixed("indent", 2, |a| {
        Ok(Value::from(indent(arg_int(&a[0])?, arg_str(&a[1])?)?))
    });
    r.fixed("nindent", 2, |a| {
        Ok(Value::from(format!(
            "\n{}",
            indent(arg_int(&a[0])?, arg_str(&a[1])?)?
        )))
    });
    r.fixed("replace", 3, |a| {
        Ok(Value::from(replace(
            arg_str(&a[0])?,
            arg_str(&a[1])?,
            arg_str(&a[2])?,
        )?))
    });
    r.fixed("plural", 3, |a| {
        let (one, many) = (arg_str(&a[0])?, arg_str(&a[1])?);
        Ok(Value::str(if arg_int(&a[2])? == 1 { one } else { many }))
    });
    r.fixed("toString", 1, |a| Ok(Value::from(strval(&a[0]))));
    r.fixed("atoi", 1, |a| Ok(Value::Int(atoi(arg_str(&a[0])?))));
    r.fixed("split", 2, |a| {
        Ok(split_map(split_n(arg_str(&a[1])?, arg_str(&a[0])?, -1)))
    });
    r.fixed("splitn", 3, |a| {
        let (sep, n, s) = (arg_str(&a[0])?, arg_int(&a[1])?, arg_str(&a[2])?);
        Ok(split_map(split_n(s, sep, n)))
    });
    r.fixed("splitList", 2, |a| {
        Ok(gotemplate::Value::strings(split_n(
            arg_str(&a[1])?,
            arg_str(&a[0])?,
            -1,
        )))
    });
    r.fixed("toStrings", 1, |a| Ok(Value::strings(strslice(&a[0]))));
    r.fixed("join", 2, |a| {
        let sep = arg_str(&a[0])?;
        let parts = strslice(&a[1]);
        let total: u128 = parts.iter().map(|p| p.len() as u128).sum::<u128>()
            + sep.len() as u128 * parts.len().saturating_sub(1) as u128;
        check_len(total)?;
        Ok(Value::from(parts.join(sep)))
    });
    r.fixed("sortAlpha", 1, |a| {
        let mut v = match &a[0] {
            Value::List(_) => strslice(&a[0]),
            other => vec![strval(other)],
        };
        v.sort();
        Ok(Value::strings(v))
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_string_semantics() {
        assert_eq!(split_n("a,b,c", ",", 2), ["a", "b,c"]);
        assert_eq!(split_n("abc", "", -1), ["a", "b", "c"]);
        assert_eq!(split_n("abc", "", 2), ["a", "bc"]);
        assert!(split_n("abc", ",", 0).is_empty());
        assert_eq!(atoi("99999999999999999999"), i64::MAX);
        assert_eq!(atoi("-12"), -12);
        assert_eq!(atoi("1x"), 0);
        assert_eq!(title("hello wOrld-foo_bar"), "Hello WOrld-Foo_bar");
        assert_eq!(trunc(-3, "hello"), "llo");
        assert_eq!(substr(1, 3, "hello").unwrap(), "el");
        assert!(substr(4, 2, "hello").is_err());
        assert!(repeat("ab", 1 << 40).is_err());
    }
}
