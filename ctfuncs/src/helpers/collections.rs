//! Lists and maps: `in contains containsAll containsAny containsNone
//! containsNotAll explode explodeMap mergeMap mergeMapWithOverride loop`.

use std::collections::BTreeMap;
use std::sync::Arc;

use gotemplate::{FuncError, Funcs, Key, List, Map, Value, ANY_MAP};

use super::MAX_DEPTH;
use crate::args;

/// Most values `loop` gives (Go streams them from a goroutine; here they
/// are a list, so the count is bounded).
pub const MAX_LOOP: i64 = 1_000_000;

pub(super) fn install(funcs: &mut Funcs) {
    funcs.add_fixed("in", 2, |a| Ok(Value::Bool(is_in(&a[0], &a[1]))));
    funcs.add_fixed("contains", 2, |a| Ok(Value::Bool(is_in(&a[1], &a[0]))));
    // (ret_true, invert): containsAll, containsAny, containsNone, containsNotAll.
    for (name, ret_true, invert) in [
        ("containsAll", true, true),
        ("containsAny", false, false),
        ("containsNone", true, false),
        ("containsNotAll", false, true),
    ] {
        funcs.add_fixed(name, 2, move |a| {
            let needles = args::list(&a[0])?;
            for n in needles {
                if is_in(&a[1], n) != invert {
                    return Ok(Value::Bool(!ret_true));
                }
            }
            Ok(Value::Bool(ret_true))
        });
    }
    funcs.add_fixed("explode", 1, |a| {
        let mut root = Dir::default();
        for pair in key_pairs(&a[0], "[]*dependency.KeyPair")? {
            let (k, v) = (field_str(pair, "Key")?, field_value(pair, "Value")?);
            root.put(k, v.clone(), k)
                .map_err(|e| FuncError::Call(format!("explode: {e}")))?;
        }
        Ok(root.into_value())
    });
    funcs.add_fixed("explodeMap", 1, |a| {
        let m = string_map(&a[0], "map[string]interface {}")?;
        let mut root = Dir::default();
        for (k, v) in m {
            root.put(&k, v, &k)
                .map_err(|e| FuncError::Call(format!("explodeMap: {e}")))?;
        }
        Ok(root.into_value())
    });
    funcs.add_fixed("mergeMap", 2, |a| {
        let dst = any_map(&a[0])?;
        let src = any_map(&a[1])?;
        Ok(merge(&dst, &src, false))
    });
    funcs.add_fixed("mergeMapWithOverride", 2, |a| {
        let dst = any_map(&a[0])?;
        let src = any_map(&a[1])?;
        Ok(merge(&dst, &src, true))
    });
    funcs.add("loop", 1, None, |_, a| loop_values(a));
}

/// The `KeyPair`-like structs of a list (anything with the fields asked
/// for); nil gives none.
pub(super) fn key_pairs<'a>(
    v: &'a Value,
    want: &str,
) -> Result<Vec<&'a gotemplate::Struct>, FuncError> {
    match v {
        Value::Missing | Value::Nil => Ok(Vec::new()),
        Value::List(l) => l
            .items
            .iter()
            .map(|i| match i {
                Value::Struct(s) => Ok(&**s),
                _ => Err(args::wrong_type(want, v)),
            })
            .collect(),
        other => Err(args::wrong_type(want, other)),
    }
}

pub(super) fn field_value<'a>(
    s: &'a gotemplate::Struct,
    name: &str,
) -> Result<&'a Value, FuncError> {
    s.field(name).ok_or_else(|| {
        FuncError::Call(format!("can't evaluate field {name} in type {}", s.ty.name))
    })
}

pub(super) fn field_str<'a>(s: &'a gotemplate::Struct, name: &str) -> Result<&'a str, FuncError> {
    match field_value(s, name)? {
        Value::Str(v) => Ok(v),
        Value::Missing | Value::Nil => Ok(""),
        other => Err(FuncError::Call(format!(
            "field {name} of {} is a {}, not a string",
            s.ty.name,
            other.type_name()
        ))),
    }
}

/// A map with string keys as (key, value) pairs, sorted.
fn string_map(v: &Value, want: &str) -> Result<Vec<(String, Value)>, FuncError> {
    match v {
        Value::Missing | Value::Nil => Ok(Vec::new()),
        Value::Map(m) => m
            .entries
            .iter()
            .map(|(k, v)| match k {
                Key::Str(s) => Ok((s.to_string(), v.clone())),
                _ => Err(args::wrong_type(want, &Value::Map(Arc::clone(m)))),
            })
            .collect(),
        other => Err(args::wrong_type(want, other)),
    }
}

fn any_map(v: &Value) -> Result<Arc<Map>, FuncError> {
    match v {
        Value::Missing | Value::Nil => Ok(Arc::new(Map::new(BTreeMap::new()))),
        Value::Map(m) => Ok(Arc::clone(m)),
        other => Err(args::wrong_type("map[string]interface {}", other)),
    }
}

/// consul-template's `in`: membership in a slice (ints with ints, floats
/// with floats, strings with strings), or a substring of a string.
pub fn is_in(list: &Value, needle: &Value) -> bool {
    match list {
        Value::List(l) => l.items.iter().any(|item| match (item, needle) {
            (Value::Int(a), Value::Int(b)) => a == b,
            (Value::Float(a), Value::Float(b)) => a == b,
            (Value::Str(a), Value::Str(b)) => a == b,
            _ => false,
        }),
        Value::Str(s) => match needle {
            Value::Str(n) => s.contains(&**n),
            _ => false,
        },
        _ => false,
    }
}

/// A tree being built by `explode`: leaves and directories.
#[derive(Default)]
struct Dir {
    entries: BTreeMap<String, Node>,
}

enum Node {
    Leaf(Value),
    Dir(Dir),
}

impl Dir {
    /// Puts `v` at the `/`-separated `key` (`path` names it in errors), as
    /// consul-template's `explodeHelper` does: a value where a directory is
    /// needed is an error, a directory where a value goes is replaced.
    fn put(&mut self, key: &str, v: Value, path: &str) -> Result<(), String> {
        let mut dir = self;
        let mut k = key;
        let mut p = path;
        let mut depth = 0usize;
        while let Some((top, rest)) = k.split_once('/') {
            depth += 1;
            if depth > MAX_DEPTH {
                return Err(format!(
                    "{} is nested deeper than {MAX_DEPTH} levels",
                    gotemplate::fmt::quote(path)
                ));
            }
            let node = dir
                .entries
                .entry(top.to_string())
                .or_insert_with(|| Node::Dir(Dir::default()));
            match node {
                Node::Dir(d) => dir = d,
                Node::Leaf(existing) => {
                    return Err(format!(
                        "not a map: {}: {} already has value {}",
                        gotemplate::fmt::quote(p),
                        gotemplate::fmt::quote(top),
                        gotemplate::fmt::sprintf("%q", std::slice::from_ref(existing))
                    ))
                }
            }
            p = k;
            k = rest;
        }
        if !k.is_empty() {
            dir.entries.insert(k.to_string(), Node::Leaf(v));
        }
        Ok(())
    }

    fn into_value(self) -> Value {
        let m: BTreeMap<Key, Value> = self
            .entries
            .into_iter()
            .map(|(k, n)| {
                let v = match n {
                    Node::Leaf(v) => v,
                    Node::Dir(d) => d.into_value(),
                };
                (Key::from(k), v)
            })
            .collect();
        Value::Map(Arc::new(Map::typed(m, &ANY_MAP)))
    }
}

/// mergo's notion of an empty value.
fn is_empty(v: &Value) -> bool {
    match v {
        Value::Missing | Value::Nil => true,
        Value::Bool(b) => !b,
        Value::Int(i) => *i == 0,
        Value::Uint(u) => *u == 0,
        Value::Float(f) => *f == 0.0,
        Value::Str(s) => s.is_empty(),
        Value::List(l) => l.items.is_empty(),
        Value::Map(m) => m.entries.is_empty(),
        Value::Struct(_) | Value::Object(_) => false,
    }
}

/// `mergo.Map(&dst, src)` (with `WithOverride` when `overwrite`): keys of
/// `src` that `dst` lacks or holds empty are added; maps on both sides are
/// merged; with `overwrite`, other values of `src` win, a nil one included.
pub fn merge(dst: &Map, src: &Map, overwrite: bool) -> Value {
    let mut out = dst.entries.clone();
    for (k, s) in &src.entries {
        let d = dst.entries.get(k);
        if s.is_nil() {
            if overwrite {
                out.insert(k.clone(), Value::Nil);
            }
            continue;
        }
        let d_empty = d.is_none_or(is_empty);
        match (s, d) {
            (Value::Map(sm), Some(Value::Map(dm))) if !dm.entries.is_empty() => {
                out.insert(k.clone(), merge(dm, sm, overwrite));
            }
            (Value::Map(_), _) => {
                if d_empty {
                    out.insert(k.clone(), s.clone());
                }
            }
            _ => {
                if overwrite || d_empty {
                    out.insert(k.clone(), s.clone());
                }
            }
        }
    }
    Value::Map(Arc::new(Map::typed(out, &ANY_MAP)))
}

fn loop_bound(v: &Value) -> Result<i64, FuncError> {
    match v {
        Value::Int(i) => Ok(*i),
        // Go converts with int64(v.Uint()), wrapping.
        Value::Uint(u) => Ok(*u as i64),
        Value::Str(s) => {
            if s.is_empty() {
                return Ok(0);
            }
            super::parse::parse_int(s).map_err(|e| FuncError::Call(format!("parseInt: {e}")))
        }
        other => Err(FuncError::Call(format!(
            "loop: bad argument type: {}",
            other.type_name()
        ))),
    }
}

/// `loop [start] stop`: the integers from `start` (0) up to `stop`.
fn loop_values(a: &[Value]) -> Result<Value, FuncError> {
    let (start, stop) = match a {
        [stop] => (0, loop_bound(stop)?),
        [start, stop] => (loop_bound(start)?, loop_bound(stop)?),
        _ => {
            return Err(FuncError::Call(format!(
                "loop: wrong number of arguments, expected 1 or 2, but got {}",
                a.len()
            )))
        }
    };
    let count = (i128::from(stop) - i128::from(start)).max(0);
    if count > i128::from(MAX_LOOP) {
        return Err(FuncError::Call(format!(
            "loop: {start} to {stop} is {count} values, more than the {MAX_LOOP} allowed"
        )));
    }
    let items = (start..stop).map(Value::Int).collect();
    Ok(Value::List(Arc::new(List::typed(items, &INT64_LIST))))
}

static INT64_LIST: gotemplate::Type = gotemplate::Type::named("[]int64", gotemplate::Zero::Int);

#[cfg(test)]
mod tests {
    use super::*;

    fn m(entries: Vec<(&str, Value)>) -> Map {
        Map::new(
            entries
                .into_iter()
                .map(|(k, v)| (Key::from(k), v))
                .collect(),
        )
    }

    #[test]
    fn merge_keeps_or_overrides_as_mergo() {
        let dst = m(vec![
            ("a", Value::str("dst")),
            ("e", Value::str("")),
            ("n", Value::map(vec![("x".into(), Value::Int(1))])),
            ("s", Value::str("keep")),
        ]);
        let src = m(vec![
            ("a", Value::str("src")),
            ("b", Value::str("new")),
            ("e", Value::str("filled")),
            (
                "n",
                Value::map(vec![
                    ("x".into(), Value::Int(2)),
                    ("y".into(), Value::Int(3)),
                ]),
            ),
            ("s", Value::map(vec![("z".into(), Value::Int(1))])),
        ]);
        let plain = gotemplate::fmt::print_v(&merge(&dst, &src, false));
        assert_eq!(plain, "map[a:dst b:new e:filled n:map[x:1 y:3] s:keep]");
        let over = gotemplate::fmt::print_v(&merge(&dst, &src, true));
        assert_eq!(over, "map[a:src b:new e:filled n:map[x:2 y:3] s:keep]");
    }

    #[test]
    fn explode_refuses_a_value_where_a_directory_goes() {
        let mut d = Dir::default();
        d.put("a", Value::str("x"), "a").unwrap();
        let e = d.put("a/b", Value::str("y"), "a/b").unwrap_err();
        assert_eq!(e, r#"not a map: "a/b": "a" already has value "x""#);
        let deep = "a/".repeat(MAX_DEPTH + 1) + "b";
        assert!(Dir::default().put(&deep, Value::Nil, &deep).is_err());
    }

    #[test]
    fn loop_is_bounded() {
        assert_eq!(
            gotemplate::fmt::print_v(&loop_values(&[Value::Int(5), Value::Int(8)]).unwrap()),
            "[5 6 7]"
        );
        assert!(loop_values(&[Value::Int(MAX_LOOP + 1)]).is_err());
        assert_eq!(
            gotemplate::fmt::print_v(&loop_values(&[Value::str("3")]).unwrap()),
            "[0 1 2]"
        );
        assert!(loop_values(&[Value::Float(1.0)]).is_err());
    }
}
