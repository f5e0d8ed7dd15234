//! List functions (`list`, `append`, `first`, `uniq`, `slice`, `chunk`, ...)
//! and number sequences (`until`, `untilStep`, `seq`).
//!
//! Sprig's plain forms panic where the `must` forms return an error; both
//! fail here with the same message (Go prints a panic's value the same way).

use std::sync::Arc;

use gotemplate::{FuncError, List, Value};

use super::conv::{
    any_list, arg_int, deep_equal, int_list, is_empty, kind_of, to_i64, LIST_LIST, NIL_DEREF,
};
use super::{too_many, Reg, MAX_ITEMS};

/// The items of a slice, or Sprig's error naming the kind (a nil
/// interface makes Go dereference nil before it can name one).
fn items<'a>(v: &'a Value, msg: &str) -> Result<&'a [Value], FuncError> {
    match v {
        Value::List(l) => Ok(&l.items),
        Value::Missing | Value::Nil => Err(FuncError::Call(NIL_DEREF.into())),
        other => Err(FuncError::Call(format!("{msg} {}", kind_of(other)))),
    }
}

/// A nil `[]interface {}` (printed `[]`).
fn nil_list() -> Value {
    any_list(Vec::new())
}

/// Sprig's `untilStep`, bounded by [`MAX_ITEMS`].
pub(crate) fn until_step(start: i64, stop: i64, step: i64) -> Result<Vec<i64>, FuncError> {
    let count: u128 = if stop < start {
        if step >= 0 {
            return Ok(Vec::new());
        }
        let span = (i128::from(start) - i128::from(stop)) as u128;
        span.div_ceil(step.unsigned_abs() as u128)
    } else {
        if step <= 0 {
            return Ok(Vec::new());
        }
        let span = (i128::from(stop) - i128::from(start)) as u128;
        span.div_ceil(step as u128)
    };
    if count > MAX_ITEMS as u128 {
        return Err(too_many(count));
    }
    let mut v = Vec::with_capacity(count as usize);
    let mut i = i128::from(start);
    for _ in 0..count {
        v.push(i as i64);
        i += i128::from(step);
    }
    Ok(v)
}

/// Sprig's `seq`: numbers separated by spaces.
fn seq(params: &[i64]) -> Result<String, FuncError> {
    let nums = match *params {
        [end] => {
            let inc = if end < 1 { -1 } else { 1 };
            until_step(1, end.wrapping_add(inc), inc)?
        }
        [start, end] => {
            let step = if end < start { -1 } else { 1 };
            until_step(start, end.wrapping_add(step), step)?
        }
        [start, step, end] => {
            let mut inc = 1;
            if end < start {
                inc = -1;
                if step > 0 {
                    return Ok(String::new());
                }
            }
            until_step(start, end.wrapping_add(inc), step)?
        }
        _ => return Ok(String::new()),
    };
    let strs: Vec<String> = nums.iter().map(i64::to_string).collect();
    Ok(strs.join(" "))
}

/// Go's `reflect.Value.Slice(i, j)` bounds check.
fn slice_of(list: &Arc<List>, start: i64, end: i64) -> Result<Value, FuncError> {
    let len = list.items.len() as i64;
    if start < 0 || end < start || end > len {
        return Err(FuncError::Call(
            "reflect.Value.Slice: slice index out of bounds".into(),
        ));
    }
    Ok(Value::List(Arc::new(List::typed(
        list.items[start as usize..end as usize].to_vec(),
        list.ty,
    ))))
}

fn chunk(size: i64, v: &Value) -> Result<Value, FuncError> {
    let l = items(v, "Cannot chunk type")?;
    let len = l.len() as i64;
    if size <= 0 {
        // Go's float arithmetic ends in a slice of negative length.
        return Err(FuncError::Call(
            "runtime error: makeslice: len out of range".into(),
        ));
    }
    // Go computes floor((len-1)/size)+1 chunks: none for an empty list.
    let cs = if len == 0 { 0 } else { (len - 1) / size + 1 };
    let mut out = Vec::with_capacity(cs as usize);
    for i in 0..cs {
        let mut clen = size;
        if i == cs - 1 {
            clen = len % size;
            if clen == 0 {
                clen = size;
            }
        }
        let from = (i * size) as usize;
        let to = from + clen as usize;
        let Some(part) = l.get(from..to) else {
            return Err(FuncError::Call(format!(
                "runtime error: index out of range [{}] with length {len}",
                len.max(from as i64)
            )));
        };
        out.push(any_list(part.to_vec()));
    }
    Ok(Value::List(Arc::new(List::typed(out, &LIST_LIST))))
}

pub(super) fn install(r: &mut Reg<'_>) {
    for name in ["list", "tuple"] {
        r.add(name, 0, None, |a| Ok(any_list(a.to_vec())));
    }
    for (name, msg) in [
        ("append", "Cannot push on type"),
        ("push", "Cannot push on type"),
        ("mustAppend", "Cannot push on type"),
        ("mustPush", "Cannot push on type"),
    ] {
        r.fixed(name, 2, move |a| {
            let mut v = items(&a[0], msg)?.to_vec();
            v.push(a[1].clone());
            Ok(any_list(v))
        });
    }
    for name in ["prepend", "mustPrepend"] {
        r.fixed(name, 2, |a| {
            let l = items(&a[0], "Cannot prepend on type")?;
            let mut v = Vec::with_capacity(l.len() + 1);
            v.push(a[1].clone());
            v.extend_from_slice(l);
            Ok(any_list(v))
        });
    }
    for name in ["first", "mustFirst"] {
        r.fixed(name, 1, |a| {
            let l = items(&a[0], "Cannot find first on type")?;
            Ok(l.first().cloned().unwrap_or(Value::Nil))
        });
    }
    for name in ["last", "mustLast"] {
        r.fixed(name, 1, |a| {
            let l = items(&a[0], "Cannot find last on type")?;
            Ok(l.last().cloned().unwrap_or(Value::Nil))
        });
    }
    for name in ["rest", "mustRest"] {
        r.fixed(name, 1, |a| {
            let l = items(&a[0], "Cannot find rest on type")?;
            Ok(l.get(1..).map_or_else(nil_list, |r| any_list(r.to_vec())))
        });
    }
    for name in ["initial", "mustInitial"] {
        r.fixed(name, 1, |a| {
            let l = items(&a[0], "Cannot find initial on type")?;
            Ok(match l.len() {
                0 => nil_list(),
                n => any_list(l[..n - 1].to_vec()),
            })
        });
    }
    for name in ["reverse", "mustReverse"] {
        r.fixed(name, 1, |a| {
            let l = items(&a[0], "Cannot find reverse on type")?;
            Ok(any_list(l.iter().rev().cloned().collect()))
        });
    }
    for name in ["compact", "mustCompact"] {
        r.fixed(name, 1, |a| {
            let l = items(&a[0], "Cannot compact on type")?;
            Ok(any_list(
                l.iter().filter(|v| !is_empty(v)).cloned().collect(),
            ))
        });
    }
    for name in ["uniq", "mustUniq"] {
        r.fixed(name, 1, |a| {
            let l = items(&a[0], "Cannot find uniq on type")?;
            let mut out: Vec<Value> = Vec::new();
            for v in l {
                if !out.iter().any(|o| deep_equal(v, o)) {
                    out.push(v.clone());
                }
            }
            Ok(any_list(out))
        });
    }
    for name in ["without", "mustWithout"] {
        r.add(name, 1, None, |a| {
            let l = items(&a[0], "Cannot find without on type")?;
            let omit = &a[1..];
            Ok(any_list(
                l.iter()
                    .filter(|v| !omit.iter().any(|o| deep_equal(v, o)))
                    .cloned()
                    .collect(),
            ))
        });
    }
    for name in ["has", "mustHas"] {
        r.fixed(name, 2, |a| {
            if a[1].is_nil() {
                return Ok(Value::Bool(false));
            }
            let l = items(&a[1], "Cannot find has on type")?;
            Ok(Value::Bool(l.iter().any(|v| deep_equal(&a[0], v))))
        });
    }
    for name in ["slice", "mustSlice"] {
        r.add(name, 1, None, |a| {
            let list = match &a[0] {
                Value::List(l) => l,
                Value::Missing | Value::Nil => return Err(FuncError::Call(NIL_DEREF.into())),
                other => {
                    return Err(FuncError::Call(format!(
                        "list should be type of slice or array but {}",
                        kind_of(other)
                    )))
                }
            };
            if list.items.is_empty() {
                return Ok(Value::Nil);
            }
            let start = a.get(1).map_or(0, to_i64);
            let end = a.get(2).map_or(list.items.len() as i64, to_i64);
            slice_of(list, start, end)
        });
    }
    r.add("concat", 0, None, |a| {
        let mut out = Vec::new();
        for l in a {
            match l {
                Value::List(l) => {
                    if out.len() + l.items.len() > MAX_ITEMS {
                        return Err(too_many((out.len() + l.items.len()) as u128));
                    }
                    out.extend(l.items.iter().cloned());
                }
                Value::Missing | Value::Nil => return Err(FuncError::Call(NIL_DEREF.into())),
                other => {
                    return Err(FuncError::Call(format!(
                        "Cannot concat type {} as list",
                        kind_of(other)
                    )))
                }
            }
        }
        Ok(any_list(out))
    });
    for name in ["chunk", "mustChunk"] {
        r.fixed(name, 2, |a| chunk(arg_int(&a[0])?, &a[1]));
    }
    r.fixed("until", 1, |a| {
        let count = arg_int(&a[0])?;
        let step = if count < 0 { -1 } else { 1 };
        Ok(int_list(until_step(0, count, step)?))
    });
    r.fixed("untilStep", 3, |a| {
        Ok(int_list(until_step(
            arg_int(&a[0])?,
            arg_int(&a[1])?,
            arg_int(&a[2])?,
        )?))
    });
    r.add("seq", 0, None, |a| {
        let params = a.iter().map(arg_int).collect::<Result<Vec<_>, _>>()?;
        Ok(Value::from(seq(&params)?))
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sequences_follow_sprig() {
        assert_eq!(until_step(0, 5, 2).unwrap(), [0, 2, 4]);
        assert_eq!(until_step(5, 0, -2).unwrap(), [5, 3, 1]);
        assert!(until_step(0, 5, -1).unwrap().is_empty());
        assert!(until_step(0, i64::MAX, 1).is_err());
        assert_eq!(seq(&[3]).unwrap(), "1 2 3");
        assert_eq!(seq(&[0]).unwrap(), "1 0");
        assert_eq!(seq(&[2, -2]).unwrap(), "2 1 0 -1 -2");
        assert_eq!(seq(&[0, 3, 10]).unwrap(), "0 3 6 9");
        assert_eq!(seq(&[10, -3, 0]).unwrap(), "10 7 4 1");
    }
}
