//! Go's builtin template functions (`and` and `or` live in the executor,
//! since they do not evaluate every argument).

use std::sync::Arc;

use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};

use crate::fmt::{sprint, sprintf, sprintln};
use crate::funcs::{Builtin, FuncError};
use crate::value::{equal, less, Key, List, Value};

type R = Result<Value, FuncError>;

pub(crate) fn call(b: Builtin, args: &[Value]) -> R {
    match b {
        // The executor handles these; a value is what they give.
        Builtin::And | Builtin::Or => Ok(args.last().cloned().unwrap_or_default()),
        Builtin::Not => Ok(Value::Bool(!args[0].is_true())),
        Builtin::Len => len(&args[0]),
        Builtin::Index => index(&args[0], &args[1..]),
        Builtin::Slice => slice(&args[0], &args[1..]),
        Builtin::Print => Ok(Value::from(sprint(args))),
        Builtin::Printf => {
            let Value::Str(f) = &args[0] else {
                return Err(FuncError::Arg(format!(
                    "wrong type for value; expected string; got {}",
                    args[0].type_name()
                )));
            };
            Ok(Value::from(sprintf(f, &args[1..])))
        }
        Builtin::Println => Ok(Value::from(sprintln(args))),
        Builtin::Html => Ok(Value::from(html_escape(&eval_args(args)))),
        Builtin::Js => Ok(Value::from(js_escape(&eval_args(args)))),
        Builtin::Urlquery => Ok(Value::from(query_escape(&eval_args(args)))),
        Builtin::Call => Err(FuncError::Call(format!(
            "non-function of type {}",
            args[0].type_name()
        ))),
        Builtin::Eq => {
            if args.len() < 2 {
                return Err("missing argument for comparison".into());
            }
            for b in &args[1..] {
                if equal(&args[0], b)? {
                    return Ok(Value::Bool(true));
                }
            }
            Ok(Value::Bool(false))
        }
        Builtin::Ne => Ok(Value::Bool(!equal(&args[0], &args[1])?)),
        Builtin::Lt => Ok(Value::Bool(less(&args[0], &args[1])?)),
        Builtin::Le => Ok(Value::Bool(le(&args[0], &args[1])?)),
        Builtin::Gt => Ok(Value::Bool(!le(&args[0], &args[1])?)),
        Builtin::Ge => Ok(Value::Bool(!less(&args[0], &args[1])?)),
    }
}

fn le(a: &Value, b: &Value) -> Result<bool, String> {
    if less(a, b)? {
        return Ok(true);
    }
    equal(a, b)
}

fn len(v: &Value) -> R {
    Ok(Value::Int(match v {
        Value::Str(s) => s.len() as i64,
        Value::List(l) => l.items.len() as i64,
        Value::Map(m) => m.entries.len() as i64,
        Value::Missing | Value::Nil => return Err("len of nil pointer".into()),
        other => return Err(format!("len of type {}", other.type_name()).into()),
    }))
}

/// An index into a slice or string of length `len` (Go's `indexArg`).
fn index_arg(i: &Value, cap: usize) -> Result<usize, FuncError> {
    let x: i128 = match i {
        Value::Int(n) => i128::from(*n),
        Value::Uint(n) => i128::from(*n),
        Value::Missing | Value::Nil => return Err("cannot index slice/array with nil".into()),
        other => {
            return Err(format!("cannot index slice/array with type {}", other.type_name()).into())
        }
    };
    if x < 0 || x > cap as i128 {
        return Err(format!("index out of range: {x}").into());
    }
    Ok(x as usize)
}

fn index(item: &Value, indexes: &[Value]) -> R {
    if item.is_nil() {
        return Err("index of untyped nil".into());
    }
    let mut item = item.clone();
    for i in indexes {
        item = match &item {
            Value::List(l) => {
                let x = index_arg(i, l.items.len())?;
                match l.items.get(x) {
                    Some(v) => v.clone(),
                    None => return Err(format!("index out of range: {x}").into()),
                }
            }
            Value::Str(s) => {
                let x = index_arg(i, s.len())?;
                match s.as_bytes().get(x) {
                    Some(b) => Value::Uint(u64::from(*b)),
                    None => return Err(format!("index out of range: {x}").into()),
                }
            }
            Value::Map(m) => {
                let Some(k) = Key::from_value(i) else {
                    return Err(if i.is_nil() {
                        "value is nil; should be of type string".to_string().into()
                    } else {
                        format!("value has type {}; should be string", i.type_name()).into()
                    });
                };
                match m.entries.get(&k) {
                    Some(v) => v.clone(),
                    None => m.ty.elem.value(),
                }
            }
            Value::Missing | Value::Nil => return Err("index of nil pointer".into()),
            other => return Err(format!("can't index item of type {}", other.type_name()).into()),
        };
    }
    Ok(item)
}

fn slice(item: &Value, indexes: &[Value]) -> R {
    if item.is_nil() {
        return Err("slice of untyped nil".into());
    }
    if indexes.len() > 3 {
        return Err(format!("too many slice indexes: {}", indexes.len()).into());
    }
    let len = match item {
        Value::Str(s) => {
            if indexes.len() == 3 {
                return Err("cannot 3-index slice a string".into());
            }
            s.len()
        }
        Value::List(l) => l.items.len(),
        other => return Err(format!("can't slice item of type {}", other.type_name()).into()),
    };
    let mut idx = [0, len, len];
    for (n, i) in indexes.iter().enumerate() {
        idx[n] = index_arg(i, len)?;
    }
    if idx[0] > idx[1] {
        return Err(format!("invalid slice index: {} > {}", idx[0], idx[1]).into());
    }
    if indexes.len() == 3 && idx[1] > idx[2] {
        return Err(format!("invalid slice index: {} > {}", idx[1], idx[2]).into());
    }
    Ok(match item {
        Value::Str(s) => {
            Value::from(String::from_utf8_lossy(&s.as_bytes()[idx[0]..idx[1]]).into_owned())
        }
        Value::List(l) => Value::List(Arc::new(List::typed(
            l.items[idx[0]..idx[1]].to_vec(),
            l.ty,
        ))),
        _ => Value::Missing,
    })
}

/// Go's `evalArgs`: one string as is, anything else through `fmt.Sprint`
/// (with no value printed as `<no value>`).
fn eval_args(args: &[Value]) -> String {
    if let [Value::Str(s)] = args {
        return s.to_string();
    }
    let printable: Vec<Value> = args
        .iter()
        .map(|a| match a {
            Value::Missing | Value::Nil => Value::str("<no value>"),
            other => other.clone(),
        })
        .collect();
    sprint(&printable)
}

/// Go's `template.HTMLEscapeString`.
pub fn html_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '"' => out.push_str("&#34;"),
            '\'' => out.push_str("&#39;"),
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '\0' => out.push('\u{FFFD}'),
            c => out.push(c),
        }
    }
    out
}

/// Go's `template.JSEscapeString`.
pub fn js_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\'' => out.push_str("\\'"),
            '"' => out.push_str("\\\""),
            '<' => out.push_str("\\u003C"),
            '>' => out.push_str("\\u003E"),
            '&' => out.push_str("\\u0026"),
            '=' => out.push_str("\\u003D"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04X}", c as u32)),
            c if c.is_ascii() || crate::fmt::is_print(c) => out.push(c),
            c => out.push_str(&format!("\\u{:04X}", c as u32)),
        }
    }
    out
}

const QUERY: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~')
    .remove(b' ');

/// Go's `url.QueryEscape`: spaces become `+`.
pub fn query_escape(s: &str) -> String {
    utf8_percent_encode(s, QUERY).to_string().replace(' ', "+")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_like_go() {
        assert_eq!(
            html_escape(r#"<a href="x">'&'</a>"#),
            "&lt;a href=&#34;x&#34;&gt;&#39;&amp;&#39;&lt;/a&gt;"
        );
        assert_eq!(
            js_escape("a'b\"c<d>=&\n"),
            r#"a\'b\"c\u003Cd\u003E\u003D\u0026\u000A"#
        );
        assert_eq!(query_escape("a b&c=d/é"), "a+b%26c%3Dd%2F%C3%A9");
    }

    #[test]
    fn index_and_slice() {
        let l = Value::list(vec![Value::Int(1), Value::Int(2), Value::Int(3)]);
        assert_eq!(index(&l, &[Value::Int(1)]).unwrap(), Value::Int(2));
        assert!(
            matches!(index(&l, &[Value::Int(3)]), Err(FuncError::Call(m)) if m == "index out of range: 3")
        );
        assert_eq!(
            slice(&l, &[Value::Int(1)]).unwrap(),
            Value::list(vec![Value::Int(2), Value::Int(3)])
        );
        assert_eq!(
            slice(&Value::str("hello"), &[Value::Int(1), Value::Int(3)]).unwrap(),
            Value::str("el")
        );
        let m = Value::map(vec![("a".into(), Value::Int(1))]);
        assert_eq!(index(&m, &[Value::str("b")]).unwrap(), Value::Nil);
    }
}
