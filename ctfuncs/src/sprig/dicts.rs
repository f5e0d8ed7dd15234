//! Dictionary functions (`dict`, `get`, `set`, `merge`, `pluck`, `dig`, ...).
//!
//! Go's maps are references: Sprig's `set`, `unset`, `merge` and
//! `mergeOverwrite` change the map they are given and return it. Template
//! values here are immutable, so these return the changed map and the
//! variable passed in keeps its old content (`$_ := set $d "k" "v"` alone
//! does not change `$d`; `$d = set $d "k" "v"` does).

use std::collections::BTreeMap;
use std::sync::Arc;

use gotemplate::{FuncError, Key, Map, Value, ANY_MAP};

use super::conv::{any_list, arg_dict, arg_str, is_empty, strval};
use super::Reg;

fn new_map(entries: BTreeMap<Key, Value>) -> Value {
    Value::Map(Arc::new(Map::typed(entries, &ANY_MAP)))
}

fn entries(m: Option<&Map>) -> BTreeMap<Key, Value> {
    m.map(|m| m.entries.clone()).unwrap_or_default()
}

/// mergo's merge of `src` into `dst` (maps of any value type).
fn merge_into(dst: &mut BTreeMap<Key, Value>, src: &Map, overwrite: bool, depth: usize) {
    for (k, s) in &src.entries {
        let d = dst.get(k).cloned();
        if s.is_nil() {
            if overwrite {
                dst.insert(k.clone(), Value::Nil);
            }
            continue;
        }
        if let (Value::Map(sm), Some(Value::Map(dm))) = (s, &d) {
            // Nested maps merge in place (Go mutates the inner map).
            if depth < 1000 {
                let mut inner = dm.entries.clone();
                merge_into(&mut inner, sm, overwrite, depth + 1);
                dst.insert(k.clone(), Value::Map(Arc::new(Map::typed(inner, dm.ty))));
            }
        }
        let src_is_container = matches!(s, Value::Map(_) | Value::List(_));
        if let Some(d) = &d {
            if !is_empty(d) && src_is_container {
                if overwrite && matches!(s, Value::List(_)) {
                    dst.insert(k.clone(), s.clone());
                }
                continue;
            }
        }
        if overwrite || d.as_ref().is_none_or(is_empty) {
            dst.insert(k.clone(), s.clone());
        }
    }
}

fn merge(a: &[Value], overwrite: bool) -> Result<Value, FuncError> {
    let dst = arg_dict(&a[0])?;
    let mut out = entries(dst);
    for s in &a[1..] {
        if let Some(src) = arg_dict(s)? {
            merge_into(&mut out, src, overwrite, 0);
        }
    }
    let ty = dst.map_or(&ANY_MAP, |m| m.ty);
    Ok(Value::Map(Arc::new(Map::typed(out, ty))))
}

/// Go's panic for a failed type assertion `x.(T)`.
fn assertion(v: &Value, want: &str) -> FuncError {
    let got = if v.is_nil() {
        "nil".to_string()
    } else {
        v.type_name()
    };
    FuncError::Call(format!(
        "interface conversion: interface {{}} is {got}, not {want}"
    ))
}

fn dig(ps: &[Value]) -> Result<Value, FuncError> {
    if ps.len() < 3 {
        return Err(FuncError::Call("dig needs at least three arguments".into()));
    }
    let n = ps.len();
    let dict = match &ps[n - 1] {
        Value::Map(m) if m.ty.name == ANY_MAP.name => m.clone(),
        other => return Err(assertion(other, "map[string]interface {}")),
    };
    let default = &ps[n - 2];
    let keys = ps[..n - 2]
        .iter()
        .map(|k| match k {
            Value::Str(s) => Ok(s.clone()),
            other => Err(assertion(other, "string")),
        })
        .collect::<Result<Vec<_>, _>>()?;
    let mut cur = dict;
    for (i, k) in keys.iter().enumerate() {
        let Some(step) = cur.entries.get(&Key::Str(k.clone())) else {
            return Ok(default.clone());
        };
        if i + 1 == keys.len() {
            return Ok(step.clone());
        }
        cur = match step {
            Value::Map(m) if m.ty.name == ANY_MAP.name => m.clone(),
            other => return Err(assertion(other, "map[string]interface {}")),
        };
    }
    Ok(default.clone())
}

pub(super) fn install(r: &mut Reg<'_>) {
    r.add("dict", 0, None, |a| {
        let mut m = BTreeMap::new();
        for pair in a.chunks(2) {
            let v = pair.get(1).cloned().unwrap_or_else(|| Value::str(""));
            m.insert(Key::from(strval(&pair[0])), v);
        }
        Ok(new_map(m))
    });
    r.fixed("get", 2, |a| {
        let (d, k) = (arg_dict(&a[0])?, arg_str(&a[1])?);
        Ok(d.and_then(|d| d.get(k))
            .cloned()
            .unwrap_or_else(|| Value::str("")))
    });
    r.fixed("set", 3, |a| {
        let (d, k) = (arg_dict(&a[0])?, arg_str(&a[1])?);
        let Some(d) = d else {
            return Err(FuncError::Call("assignment to entry in nil map".into()));
        };
        let mut m = d.entries.clone();
        m.insert(Key::from(k), a[2].clone());
        Ok(new_map(m))
    });
    r.fixed("unset", 2, |a| {
        let (d, k) = (arg_dict(&a[0])?, arg_str(&a[1])?);
        let mut m = entries(d);
        m.remove(&Key::from(k));
        Ok(new_map(m))
    });
    r.fixed("hasKey", 2, |a| {
        let (d, k) = (arg_dict(&a[0])?, arg_str(&a[1])?);
        Ok(Value::Bool(d.is_some_and(|d| d.get(k).is_some())))
    });
    r.add("pluck", 1, None, |a| {
        let k = Key::from(arg_str(&a[0])?);
        let mut out = Vec::new();
        for d in &a[1..] {
            if let Some(v) = arg_dict(d)?.and_then(|d| d.entries.get(&k)) {
                out.push(v.clone());
            }
        }
        Ok(any_list(out))
    });
    r.add("keys", 0, None, |a| {
        let mut out = Vec::new();
        for d in a {
            if let Some(d) = arg_dict(d)? {
                out.extend(d.entries.keys().map(|k| strval(&k.to_value())));
            }
        }
        Ok(Value::strings(out))
    });
    r.add("pick", 1, None, |a| {
        let d = arg_dict(&a[0])?;
        let mut m = BTreeMap::new();
        for k in &a[1..] {
            let k = Key::from(arg_str(k)?);
            if let Some(v) = d.and_then(|d| d.entries.get(&k)) {
                m.insert(k, v.clone());
            }
        }
        Ok(new_map(m))
    });
    r.add("omit", 1, None, |a| {
        let mut m = entries(arg_dict(&a[0])?);
        for k in &a[1..] {
            m.remove(&Key::from(arg_str(k)?));
        }
        Ok(new_map(m))
    });
    for (name, overwrite) in [
        ("merge", false),
        ("mustMerge", false),
        ("mergeOverwrite", true),
        ("mustMergeOverwrite", true),
    ] {
        r.add(name, 1, None, move |a| merge(a, overwrite));
    }
    r.fixed("values", 1, |a| {
        let d = arg_dict(&a[0])?;
        Ok(any_list(
            d.map(|d| d.entries.values().cloned().collect())
                .unwrap_or_default(),
        ))
    });
    for name in ["deepCopy", "mustDeepCopy"] {
        // Values are immutable: a copy is the value itself.
        r.fixed(name, 1, |a| Ok(a[0].clone()));
    }
    r.add("dig", 0, None, dig);
}
