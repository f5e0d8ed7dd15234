//! Debugging: `spew_dump spew_sdump spew_printf spew_sprintf`, in go-spew's
//! format (`(string) (len=3) "abc"`, `([]string) (len=1 cap=1) {...}`).
//! Map keys come sorted (go-spew's default order is Go's random one);
//! pointers print the address of the shared value.

use std::fmt::Write as _;
use std::io::Write as _;
use std::sync::Arc;

use gotemplate::{Funcs, Value};

use super::MAX_DEPTH;
use crate::args;

pub(super) fn install(funcs: &mut Funcs) {
    funcs.add("spew_sdump", 0, None, |_, a| Ok(Value::from(sdump(a))));
    funcs.add("spew_dump", 0, None, |_, a| {
        let _ = std::io::stdout().write_all(sdump(a).as_bytes());
        Ok(Value::str(""))
    });
    funcs.add("spew_sprintf", 1, None, |_, a| {
        Ok(Value::from(sprintf(args::string(&a[0])?, &a[1..])))
    });
    funcs.add("spew_printf", 1, None, |_, a| {
        let s = sprintf(args::string(&a[0])?, &a[1..]);
        let _ = std::io::stdout().write_all(s.as_bytes());
        Ok(Value::str(""))
    });
}

/// `spew.Sdump`: each value on its own line(s).
pub fn sdump(args: &[Value]) -> String {
    let mut out = String::new();
    for a in args {
        dump(&mut out, a, 0, true);
        out.push('\n');
    }
    out
}

fn type_of(v: &Value) -> String {
    match v {
        Value::Missing | Value::Nil => "interface {}".into(),
        other => other.type_name(),
    }
}

fn address(v: &Value) -> usize {
    match v {
        Value::Struct(s) => Arc::as_ptr(s) as usize,
        _ => 0,
    }
}

fn indent(out: &mut String, depth: usize) {
    for _ in 0..depth {
        out.push(' ');
    }
}

fn dump(out: &mut String, v: &Value, depth: usize, typed: bool) {
    if depth > MAX_DEPTH {
        out.push_str("<max depth reached>");
        return;
    }
    let ty = type_of(v);
    match v {
        Value::Struct(s) if s.ty.is_pointer() => {
            let _ = write!(out, "({ty})(0x{:x})(", address(v));
            dump_fields(out, s, depth);
            out.push(')');
            return;
        }
        _ => {}
    }
    if typed {
        let _ = write!(out, "({ty}) ");
    }
    match v {
        Value::Missing | Value::Nil => out.push_str("<nil>"),
        Value::Bool(b) => {
            let _ = write!(out, "{b}");
        }
        Value::Int(i) => {
            let _ = write!(out, "{i}");
        }
        Value::Uint(u) => {
            let _ = write!(out, "{u}");
        }
        Value::Float(f) => out.push_str(&gotemplate::fmt::shortest_g(*f)),
        Value::Str(s) => {
            let _ = write!(out, "(len={}) {}", s.len(), gotemplate::fmt::quote(s));
        }
        Value::List(l) => {
            if !l.items.is_empty() {
                let _ = write!(out, "(len={0} cap={0}) ", l.items.len());
            }
            out.push_str("{\n");
            for (i, item) in l.items.iter().enumerate() {
                indent(out, depth + 1);
                dump(out, item, depth + 1, true);
                if i + 1 < l.items.len() {
                    out.push(',');
                }
                out.push('\n');
            }
            indent(out, depth);
            out.push('}');
        }
        Value::Map(m) => {
            if !m.entries.is_empty() {
                let _ = write!(out, "(len={}) ", m.entries.len());
            }
            out.push_str("{\n");
            let n = m.entries.len();
            for (i, (k, val)) in m.entries.iter().enumerate() {
                indent(out, depth + 1);
                dump(out, &k.to_value(), depth + 1, true);
                out.push_str(": ");
                dump(out, val, depth + 1, true);
                if i + 1 < n {
                    out.push(',');
                }
                out.push('\n');
            }
            indent(out, depth);
            out.push('}');
        }
        Value::Struct(s) => dump_fields(out, s, depth),
        Value::Object(o) => out.push_str(&o.print()),
    }
}

fn dump_fields(out: &mut String, s: &gotemplate::Struct, depth: usize) {
    out.push_str("{\n");
    let n = s.fields.len();
    for (i, (name, val)) in s.ty.fields.iter().zip(&s.fields).enumerate() {
        indent(out, depth + 1);
        out.push_str(name);
        out.push_str(": ");
        dump(out, val, depth + 1, true);
        if i + 1 < n {
            out.push(',');
        }
        out.push('\n');
    }
    indent(out, depth);
    out.push('}');
}

/// spew's `%#v`: values with their types, compact.
fn typed_compact(out: &mut String, v: &Value, depth: usize) {
    if depth > MAX_DEPTH {
        out.push_str("<max depth reached>");
        return;
    }
    let _ = write!(out, "({})", type_of(v));
    match v {
        Value::List(l) => {
            out.push('[');
            for (i, item) in l.items.iter().enumerate() {
                if i > 0 {
                    out.push(' ');
                }
                typed_compact(out, item, depth + 1);
            }
            out.push(']');
        }
        Value::Map(m) => {
            out.push_str("map[");
            for (i, (k, val)) in m.entries.iter().enumerate() {
                if i > 0 {
                    out.push(' ');
                }
                out.push_str(&gotemplate::fmt::print_v(&k.to_value()));
                out.push(':');
                typed_compact(out, val, depth + 1);
            }
            out.push(']');
        }
        Value::Struct(s) => {
            out.push('{');
            for (i, (name, val)) in s.ty.fields.iter().zip(&s.fields).enumerate() {
                if i > 0 {
                    out.push(' ');
                }
                out.push_str(name);
                out.push(':');
                typed_compact(out, val, depth + 1);
            }
            out.push('}');
        }
        other => out.push_str(&gotemplate::fmt::print_v(other)),
    }
}

/// `spew.Sprintf`: `%v`/`%+v` as fmt prints them, `%#v`/`%#+v` with
/// types; other verbs as fmt.
pub fn sprintf(format: &str, args: &[Value]) -> String {
    let mut out = String::new();
    let mut arg = 0usize;
    let bytes = format.as_bytes();
    let mut i = 0;
    let mut lit = 0;
    while i < bytes.len() {
        if bytes[i] != b'%' {
            i += 1;
            continue;
        }
        out.push_str(&format[lit..i]);
        let start = i;
        i += 1;
        while i < bytes.len() && b"+-# 0123456789.*[]".contains(&bytes[i]) {
            i += 1;
        }
        let Some(verb) = format[i..].chars().next() else {
            out.push_str(&gotemplate::fmt::sprintf(&format[start..], &[]));
            lit = bytes.len();
            break;
        };
        i += verb.len_utf8();
        lit = i;
        let spec = &format[start..i];
        if verb == '%' {
            out.push('%');
            continue;
        }
        let Some(a) = args.get(arg) else {
            let _ = write!(out, "%!{verb}(MISSING)");
            continue;
        };
        arg += 1;
        if verb == 'v' && spec.contains('#') {
            typed_compact(&mut out, a, 0);
        } else if verb == 'v' {
            out.push_str(&gotemplate::fmt::print_v(a));
        } else {
            out.push_str(&gotemplate::fmt::sprintf(spec, std::slice::from_ref(a)));
        }
    }
    out.push_str(&format[lit.min(format.len())..]);
    if arg < args.len() {
        out.push_str("%!(EXTRA ");
        let extra: Vec<String> = args[arg..]
            .iter()
            .map(|a| format!("{}={}", a.type_name(), gotemplate::fmt::print_v(a)))
            .collect();
        out.push_str(&extra.join(", "));
        out.push(')');
    }
    out
}
