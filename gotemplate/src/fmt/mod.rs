//! Go's `fmt` for template values: `Sprint`, `Sprintln`, `Sprintf` with
//! verbs, flags, width, precision and argument indexes, and `%v` of
//! lists (`[a b c]`), maps (`map[k:v]`), structs (`{a b}`) and nil (`<nil>`).
//!
//! Errors print as Go prints them (`%!d(string=x)`, `%!s(MISSING)`,
//! `%!(EXTRA int=1)`), never as a failure of the template.

mod float;
mod quote;

pub use float::shortest_g;
pub(crate) use quote::is_print;
pub use quote::{quote, quote_ascii, quote_rune};

use crate::value::Value;

/// Flags, width and precision of one verb.
#[derive(Clone, Copy, Debug, Default)]
struct Spec {
    minus: bool,
    plus: bool,
    sharp: bool,
    space: bool,
    zero: bool,
    /// `%+v`: struct fields with their names (the plus flag is not a sign then).
    plus_v: bool,
    width: Option<usize>,
    prec: Option<usize>,
    verb: char,
}

impl Spec {
    fn v() -> Spec {
        Spec {
            verb: 'v',
            ..Spec::default()
        }
    }
}

/// `fmt.Sprint`: operands printed with `%v`, a space between two operands
/// when neither is a string.
pub fn sprint(args: &[Value]) -> String {
    let mut out = String::new();
    let mut prev_string = false;
    for (i, a) in args.iter().enumerate() {
        let is_string = matches!(a, Value::Str(_));
        if i > 0 && !is_string && !prev_string {
            out.push(' ');
        }
        write_value(&mut out, a, &Spec::v());
        prev_string = is_string;
    }
    out
}

/// `fmt.Sprintln`: operands with a space between each, and a newline.
pub fn sprintln(args: &[Value]) -> String {
    let mut out = String::new();
    for (i, a) in args.iter().enumerate() {
        if i > 0 {
            out.push(' ');
        }
        write_value(&mut out, a, &Spec::v());
    }
    out.push('\n');
    out
}

/// `%v` of one value, as fmt prints it (a struct pointer as `&{...}`).
pub fn print_v(v: &Value) -> String {
    let mut out = String::new();
    write_value(&mut out, v, &Spec::v());
    out
}

/// `%+v` of one value: struct fields with their names.
pub fn print_plus_v(v: &Value) -> String {
    let mut out = String::new();
    let spec = Spec {
        plus_v: true,
        ..Spec::v()
    };
    write_value(&mut out, v, &spec);
    out
}

fn pad(out: &mut String, s: &str, spec: &Spec) {
    let Some(w) = spec.width else {
        out.push_str(s);
        return;
    };
    let n = s.chars().count();
    if n >= w {
        out.push_str(s);
        return;
    }
    let fill = w - n;
    if spec.minus {
        out.push_str(s);
        out.extend(std::iter::repeat_n(' ', fill));
    } else if spec.zero {
        // Zeros go after the sign.
        let (sign, rest) = match s.as_bytes().first() {
            Some(b'-' | b'+' | b' ') => s.split_at(1),
            _ => ("", s),
        };
        out.push_str(sign);
        out.extend(std::iter::repeat_n('0', fill));
        out.push_str(rest);
    } else {
        out.extend(std::iter::repeat_n(' ', fill));
        out.push_str(s);
    }
}

fn bad_verb(out: &mut String, v: &Value, verb: char) {
    out.push_str("%!");
    out.push(verb);
    out.push('(');
    if v.is_nil() {
        out.push_str("<nil>");
    } else {
        out.push_str(&v.type_name());
        out.push('=');
        write_value(out, v, &Spec::v());
    }
    out.push(')');
}

fn write_value(out: &mut String, v: &Value, spec: &Spec) {
    match v {
        Value::Missing | Value::Nil => match spec.verb {
            'v' => pad(out, "<nil>", spec),
            _ => bad_verb(out, v, spec.verb),
        },
        Value::Bool(b) => match spec.verb {
            't' | 'v' => pad(out, if *b { "true" } else { "false" }, spec),
            _ => bad_verb(out, v, spec.verb),
        },
        Value::Int(i) => write_int(out, v, *i < 0, i.unsigned_abs(), spec),
        Value::Uint(u) => write_int(out, v, false, *u, spec),
        Value::Float(f) => write_float(out, v, *f, spec),
        Value::Str(s) => write_str(out, v, s, spec),
        Value::List(l) => {
            out.push('[');
            for (i, item) in l.items.iter().enumerate() {
                if i > 0 {
                    out.push(' ');
                }
                write_value(out, item, spec);
            }
            out.push(']');
        }
        Value::Map(m) => {
            out.push_str("map[");
            for (i, (k, val)) in m.entries.iter().enumerate() {
                if i > 0 {
                    out.push(' ');
                }
                write_value(out, &k.to_value(), spec);
                out.push(':');
                write_value(out, val, spec);
            }
            out.push(']');
        }
        Value::Struct(s) => {
            if s.ty.is_pointer() {
                out.push('&');
            }
            out.push('{');
            for (i, (name, val)) in s.ty.fields.iter().zip(&s.fields).enumerate() {
                if i > 0 {
                    out.push(' ');
                }
                if spec.plus_v {
                    out.push_str(name);
                    out.push(':');
                }
                write_value(out, val, spec);
            }
            out.push('}');
        }
        Value::Object(o) => match spec.verb {
            'v' | 's' => pad(out, &o.print(), spec),
            _ => bad_verb(out, v, spec.verb),
        },
    }
}

fn with_sign(neg: bool, digits: &str, spec: &Spec) -> String {
    let mut s = String::with_capacity(digits.len() + 1);
    if neg {
        s.push('-');
    } else if spec.plus {
        s.push('+');
    } else if spec.space {
        s.push(' ');
    }
    s.push_str(digits);
    s
}

fn write_int(out: &mut String, v: &Value, neg: bool, abs: u64, spec: &Spec) {
    let mut digits = match spec.verb {
        'd' | 'v' => abs.to_string(),
        'b' => format!("{abs:b}"),
        'o' | 'O' => format!("{abs:o}"),
        'x' => format!("{abs:x}"),
        'X' => format!("{abs:X}"),
        'c' => {
            let c = u32::try_from(abs)
                .ok()
                .and_then(char::from_u32)
                .unwrap_or('\u{FFFD}');
            return pad(out, &c.to_string(), spec);
        }
        'q' => {
            let c = u32::try_from(abs)
                .ok()
                .and_then(char::from_u32)
                .unwrap_or('\u{FFFD}');
            return pad(out, &quote_rune(c), spec);
        }
        'U' => {
            let mut s = format!("U+{abs:04X}");
            if spec.sharp {
                if let Some(c) = u32::try_from(abs).ok().and_then(char::from_u32) {
                    s.push_str(&format!(" '{c}'"));
                }
            }
            return pad(out, &s, spec);
        }
        _ => return bad_verb(out, v, spec.verb),
    };
    if let Some(p) = spec.prec {
        if p == 0 && abs == 0 {
            digits.clear();
        }
        while digits.len() < p {
            digits.insert(0, '0');
        }
    }
    let prefix = match spec.verb {
        'O' => "0o",
        'o' if spec.sharp && !digits.starts_with('0') => "0",
        'x' if spec.sharp => "0x",
        'X' if spec.sharp => "0X",
        'b' if spec.sharp => "0b",
        _ => "",
    };
    let digits = format!("{prefix}{digits}");
    let s = with_sign(neg, &digits, spec);
    // A precision turns zero padding off.
    let spec = Spec {
        zero: spec.zero && spec.prec.is_none() && !spec.minus,
        ..*spec
    };
    pad(out, &s, &spec);
}

fn write_float(out: &mut String, v: &Value, f: f64, spec: &Spec) {
    let body = match spec.verb {
        'v' | 'g' => float::format_g(f, spec.prec, false),
        'G' => float::format_g(f, spec.prec, true),
        'e' => float::format_e(f, spec.prec, false),
        'E' => float::format_e(f, spec.prec, true),
        'f' | 'F' => float::format_f(f, spec.prec),
        _ => return bad_verb(out, v, spec.verb),
    };
    let (neg, digits) = match body.strip_prefix('-') {
        Some(rest) => (true, rest.to_string()),
        None => (false, body),
    };
    let s = if digits == "+Inf" {
        digits
    } else {
        with_sign(neg, &digits, spec)
    };
    let infinite = f.is_infinite() || f.is_nan();
    let spec = Spec {
        zero: spec.zero && !spec.minus && !infinite,
        ..*spec
    };
    pad(out, &s, &spec);
}

fn write_str(out: &mut String, v: &Value, s: &str, spec: &Spec) {
    let s = match spec.prec {
        Some(p) if matches!(spec.verb, 's' | 'v' | 'q') => match s.char_indices().nth(p) {
            Some((i, _)) => &s[..i],
            None => s,
        },
        _ => s,
    };
    match spec.verb {
        's' | 'v' => pad(out, s, spec),
        'q' => {
            let q = if spec.sharp
                && !s.contains('`')
                && !s.chars().any(|c| c.is_control() && c != '\t')
            {
                format!("`{s}`")
            } else if spec.plus {
                quote::quote_ascii(s)
            } else {
                quote(s)
            };
            pad(out, &q, spec)
        }
        'x' | 'X' => {
            let upper = spec.verb == 'X';
            let bytes = match spec.prec {
                Some(p) => &s.as_bytes()[..p.min(s.len())],
                None => s.as_bytes(),
            };
            let mut h = String::with_capacity(bytes.len() * 3);
            for (i, b) in bytes.iter().enumerate() {
                if spec.space && i > 0 {
                    h.push(' ');
                }
                if spec.sharp && (spec.space || i == 0) {
                    h.push_str(if upper { "0X" } else { "0x" });
                }
                if upper {
                    h.push_str(&format!("{b:02X}"));
                } else {
                    h.push_str(&format!("{b:02x}"));
                }
            }
            let spec = Spec {
                zero: false,
                ..*spec
            };
            pad(out, &h, &spec)
        }
        _ => bad_verb(out, v, spec.verb),
    }
}

/// `fmt.Sprintf`.
pub fn sprintf(format: &str, args: &[Value]) -> String {
    let mut out = String::with_capacity(format.len() + 16);
    let mut arg = 0usize;
    let mut reordered = false;
    let mut chars = format.char_indices().peekable();
    while let Some((_, c)) = chars.next() {
        if c != '%' {
            out.push(c);
            continue;
        }
        let mut spec = Spec::default();
        // Flags.
        while let Some(&(_, f)) = chars.peek() {
            match f {
                '-' => spec.minus = true,
                '+' => spec.plus = true,
                '#' => spec.sharp = true,
                ' ' => spec.space = true,
                '0' => spec.zero = !spec.minus,
                _ => break,
            }
            chars.next();
        }
        // An argument index, then the width.
        let index = |chars: &mut std::iter::Peekable<std::str::CharIndices<'_>>,
                     arg: &mut usize,
                     reordered: &mut bool|
         -> Result<(), ()> {
            if chars.peek().map(|&(_, c)| c) != Some('[') {
                return Ok(());
            }
            chars.next();
            let mut n = 0usize;
            let mut any = false;
            while let Some(&(_, d)) = chars.peek() {
                if let Some(v) = d.to_digit(10) {
                    n = n.saturating_mul(10).saturating_add(v as usize);
                    any = true;
                    chars.next();
                } else {
                    break;
                }
            }
            if chars.next().map(|(_, c)| c) != Some(']') || !any || n == 0 || n > args.len() {
                return Err(());
            }
            *arg = n - 1;
            *reordered = true;
            Ok(())
        };
        let mut bad_index = index(&mut chars, &mut arg, &mut reordered).is_err();
        if chars.peek().map(|&(_, c)| c) == Some('*') {
            chars.next();
            match args.get(arg).and_then(Value::to_i64) {
                Some(w) => {
                    if w < 0 {
                        spec.minus = true;
                        spec.zero = false;
                    }
                    spec.width = Some(w.unsigned_abs() as usize);
                }
                None => out.push_str("%!(BADWIDTH)"),
            }
            arg += 1;
        } else {
            spec.width = digits(&mut chars);
        }
        if chars.peek().map(|&(_, c)| c) == Some('.') {
            chars.next();
            bad_index |= index(&mut chars, &mut arg, &mut reordered).is_err();
            if chars.peek().map(|&(_, c)| c) == Some('*') {
                chars.next();
                match args.get(arg).and_then(Value::to_i64) {
                    Some(p) if p >= 0 => spec.prec = Some(p as usize),
                    _ => out.push_str("%!(BADPREC)"),
                }
                arg += 1;
            } else {
                spec.prec = Some(digits(&mut chars).unwrap_or(0));
            }
        }
        bad_index |= index(&mut chars, &mut arg, &mut reordered).is_err();
        let Some((_, verb)) = chars.next() else {
            out.push_str("%!(NOVERB)");
            break;
        };
        spec.verb = verb;
        if verb == 'v' && spec.plus {
            spec.plus = false;
            spec.plus_v = true;
        }
        if verb == '%' {
            out.push('%');
            continue;
        }
        if bad_index {
            out.push_str("%!");
            out.push(verb);
            out.push_str("(BADINDEX)");
            continue;
        }
        let Some(a) = args.get(arg) else {
            out.push_str("%!");
            out.push(verb);
            out.push_str("(MISSING)");
            continue;
        };
        arg += 1;
        match verb {
            'T' => pad(&mut out, &a.type_name(), &spec),
            'v' if spec.sharp => out.push_str(&go_syntax(a)),
            _ => write_value(&mut out, a, &spec),
        }
    }
    if !reordered && arg < args.len() {
        out.push_str("%!(EXTRA ");
        for (i, a) in args[arg..].iter().enumerate() {
            if i > 0 {
                out.push_str(", ");
            }
            if a.is_nil() {
                out.push_str("<nil>");
            } else {
                out.push_str(&a.type_name());
                out.push('=');
                write_value(&mut out, a, &Spec::v());
            }
        }
        out.push(')');
    }
    out
}

fn digits(chars: &mut std::iter::Peekable<std::str::CharIndices<'_>>) -> Option<usize> {
    let mut n: Option<usize> = None;
    while let Some(&(_, d)) = chars.peek() {
        let Some(v) = d.to_digit(10) else { break };
        n = Some(
            n.unwrap_or(0)
                .saturating_mul(10)
                .saturating_add(v as usize)
                .min(1 << 20),
        );
        chars.next();
    }
    n
}

/// `%#v`: a Go-syntax representation.
fn go_syntax(v: &Value) -> String {
    match v {
        Value::Missing | Value::Nil => "<nil>".into(),
        Value::Str(s) => quote(s),
        Value::Uint(u) => format!("0x{u:x}"),
        Value::Float(f) => shortest_g(*f),
        Value::List(l) => {
            let items: Vec<String> = l.items.iter().map(go_syntax).collect();
            format!("{}{{{}}}", l.ty.name, items.join(", "))
        }
        Value::Map(m) => {
            let items: Vec<String> = m
                .entries
                .iter()
                .map(|(k, v)| format!("{}:{}", go_syntax(&k.to_value()), go_syntax(v)))
                .collect();
            format!("{}{{{}}}", m.ty.name, items.join(", "))
        }
        Value::Struct(s) => {
            let fields: Vec<String> =
                s.ty.fields
                    .iter()
                    .zip(&s.fields)
                    .map(|(n, v)| format!("{n}:{}", go_syntax(v)))
                    .collect();
            let name = s.ty.name.trim_start_matches('*');
            let amp = if s.ty.is_pointer() { "&" } else { "" };
            format!("{amp}{name}{{{}}}", fields.join(", "))
        }
        other => print_v(other),
    }
}

#[cfg(test)]
mod tests;
