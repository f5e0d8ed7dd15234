//! `default`, `empty`, `coalesce`, `all`, `any`, `ternary` and `fail`.

use gotemplate::{FuncError, Value};

use super::conv::{arg_bool, arg_str, is_empty};
use super::Reg;

pub(super) fn install(r: &mut Reg<'_>) {
    r.add("default", 1, None, |a| {
        // dfault(d, given...): `given` empty or its first empty gives `d`.
        match a.get(1) {
            Some(g) if !is_empty(g) => Ok(g.clone()),
            _ => Ok(a[0].clone()),
        }
    });
    r.fixed("empty", 1, |a| Ok(Value::Bool(is_empty(&a[0]))));
    r.add("coalesce", 0, None, |a| {
        Ok(a.iter()
            .find(|v| !is_empty(v))
            .cloned()
            .unwrap_or(Value::Nil))
    });
    r.add("all", 0, None, |a| {
        Ok(Value::Bool(a.iter().all(|v| !is_empty(v))))
    });
    r.add("any", 0, None, |a| {
        Ok(Value::Bool(a.iter().any(|v| !is_empty(v))))
    });
    r.fixed("ternary", 3, |a| {
        Ok(if arg_bool(&a[2])? {
            a[0].clone()
        } else {
            a[1].clone()
        })
    });
    r.fixed("fail", 1, |a| {
        Err(FuncError::Call(arg_str(&a[0])?.to_string()))
    });
}
