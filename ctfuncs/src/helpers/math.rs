//! Math: `add subtract multiply divide modulo minimum maximum`.
//!
//! Each takes `(b, a)` and computes `a op b`, so that `5 | subtract 2` is 3.
//! Types promote as consul-template's reflection code does: int with int
//! gives int64, uint with uint gives uint64, int with uint gives int64 (the
//! uint converted with wrapping), anything with a float gives float64.
//! Integer overflow wraps as in Go; integer division by zero is Go's
//! runtime error; float division by zero gives ±Inf, as in Go.

use gotemplate::{FuncError, Funcs, Value};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Op {
    Add,
    Sub,
    Mul,
    Div,
    Mod,
    Min,
    Max,
}

pub(super) fn install(funcs: &mut Funcs) {
    for (name, op) in [
        ("add", Op::Add),
        ("subtract", Op::Sub),
        ("multiply", Op::Mul),
        ("divide", Op::Div),
        ("modulo", Op::Mod),
        ("minimum", Op::Min),
        ("maximum", Op::Max),
    ] {
        funcs.add_fixed(name, 2, move |a| apply(name, op, &a[1], &a[0]));
    }
}

/// The operands as Go's reflection sees their kinds.
#[derive(Clone, Copy)]
enum Num {
    I(i64),
    U(u64),
    F(f64),
}

fn num(v: &Value) -> Option<Num> {
    match v {
        Value::Int(i) => Some(Num::I(*i)),
        Value::Uint(u) => Some(Num::U(*u)),
        Value::Float(f) => Some(Num::F(*f)),
        _ => None,
    }
}

fn unknown(name: &str, v: &Value) -> FuncError {
    let q = match v {
        Value::Str(s) => gotemplate::fmt::quote(s),
        Value::Missing | Value::Nil => "%!q(<invalid reflect.Value>)".into(),
        other => gotemplate::fmt::sprintf("%q", std::slice::from_ref(other)),
    };
    FuncError::Call(format!("{name}: unknown type for {q} ({})", v.type_name()))
}

const DIV_ZERO: &str = "runtime error: integer divide by zero";

fn int_op(op: Op, a: i64, b: i64) -> Result<i64, FuncError> {
    Ok(match op {
        Op::Add => a.wrapping_add(b),
        Op::Sub => a.wrapping_sub(b),
        Op::Mul => a.wrapping_mul(b),
        Op::Div if b == 0 => return Err(DIV_ZERO.into()),
        Op::Div => a.wrapping_div(b),
        Op::Mod if b == 0 => return Err(DIV_ZERO.into()),
        Op::Mod => a.wrapping_rem(b),
        // Taken by `min_max` before this.
        Op::Min | Op::Max => a,
    })
}

fn uint_op(op: Op, a: u64, b: u64) -> Result<u64, FuncError> {
    Ok(match op {
        Op::Add => a.wrapping_add(b),
        Op::Sub => a.wrapping_sub(b),
        Op::Mul => a.wrapping_mul(b),
        Op::Div | Op::Mod if b == 0 => return Err(DIV_ZERO.into()),
        Op::Div => a / b,
        Op::Mod => a % b,
        Op::Min | Op::Max => a,
    })
}

fn float_op(op: Op, a: f64, b: f64) -> f64 {
    match op {
        Op::Add => a + b,
        Op::Sub => a - b,
        Op::Mul => a * b,
        Op::Div => a / b,
        // Taken by `apply` and `min_max` before this.
        Op::Mod | Op::Min | Op::Max => a,
    }
}

/// `a op b`, `a` being the piped (last) argument.
fn apply(name: &str, op: Op, a: &Value, b: &Value) -> Result<Value, FuncError> {
    let na = num(a).ok_or_else(|| unknown(name, a))?;
    let nb = num(b).ok_or_else(|| unknown(name, b))?;
    if matches!(op, Op::Min | Op::Max) {
        return Ok(min_max(op, na, nb));
    }
    if op == Op::Mod && (matches!(na, Num::F(_)) || matches!(nb, Num::F(_))) {
        // consul-template's modulo has no float case.
        let f = if matches!(na, Num::F(_)) { a } else { b };
        return Err(unknown(name, f));
    }
    Ok(match (na, nb) {
        (Num::I(x), Num::I(y)) => Value::Int(int_op(op, x, y)?),
        (Num::I(x), Num::U(y)) => Value::Int(int_op(op, x, y as i64)?),
        (Num::U(x), Num::I(y)) => Value::Int(int_op(op, x as i64, y)?),
        (Num::U(x), Num::U(y)) => Value::Uint(uint_op(op, x, y)?),
        (Num::I(x), Num::F(y)) => Value::Float(float_op(op, x as f64, y)),
        (Num::U(x), Num::F(y)) => Value::Float(float_op(op, x as f64, y)),
        (Num::F(x), Num::I(y)) => Value::Float(float_op(op, x, y as f64)),
        (Num::F(x), Num::U(y)) => Value::Float(float_op(op, x, y as f64)),
        (Num::F(x), Num::F(y)) => Value::Float(float_op(op, x, y)),
    })
}

/// consul-template's minimum/maximum: compared after promotion, the winner
/// keeps its own type.
fn min_max(op: Op, a: Num, b: Num) -> Value {
    let (fa, fb) = (as_f(a), as_f(b));
    let a_wins = match (a, b) {
        (Num::I(x), Num::I(y)) => {
            if op == Op::Min {
                x < y
            } else {
                x > y
            }
        }
        (Num::U(x), Num::U(y)) => {
            if op == Op::Min {
                x < y
            } else {
                x > y
            }
        }
        (Num::I(x), Num::U(y)) => {
            if op == Op::Min {
                x < y as i64
            } else {
                x > y as i64
            }
        }
        (Num::U(x), Num::I(y)) => {
            if op == Op::Min {
                (x as i64) < y
            } else {
                (x as i64) > y
            }
        }
        _ => {
            if op == Op::Min {
                fa < fb
            } else {
                fa > fb
            }
        }
    };
    let w = if a_wins { a } else { b };
    match w {
        Num::I(i) => Value::Int(i),
        Num::U(u) => Value::Uint(u),
        Num::F(f) => Value::Float(f),
    }
}

fn as_f(n: Num) -> f64 {
    match n {
        Num::I(i) => i as f64,
        Num::U(u) => u as f64,
        Num::F(f) => f,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(op: Op, b: Value, a: Value) -> String {
        match apply("op", op, &a, &b) {
            Ok(v) => gotemplate::fmt::print_v(&v),
            Err(FuncError::Call(e) | FuncError::Arg(e)) => e,
        }
    }

    #[test]
    fn order_and_promotion_are_consul_template_s() {
        assert_eq!(run(Op::Sub, Value::Int(2), Value::Int(5)), "3");
        assert_eq!(run(Op::Div, Value::Int(2), Value::Int(10)), "5");
        assert_eq!(run(Op::Mod, Value::Int(2), Value::Int(5)), "1");
        assert_eq!(run(Op::Add, Value::Float(1.5), Value::Int(1)), "2.5");
        assert_eq!(
            run(Op::Sub, Value::Uint(3), Value::Uint(2)),
            "18446744073709551615"
        );
        assert_eq!(run(Op::Div, Value::Int(0), Value::Int(1)), DIV_ZERO);
        assert_eq!(run(Op::Div, Value::Float(0.0), Value::Int(1)), "+Inf");
        assert_eq!(
            run(Op::Div, Value::Int(-1), Value::Int(i64::MIN)),
            i64::MIN.to_string()
        );
        assert_eq!(run(Op::Min, Value::Int(2), Value::Float(5.5)), "2");
        assert_eq!(run(Op::Max, Value::Int(2), Value::Float(5.5)), "5.5");
        assert_eq!(
            run(Op::Add, Value::str("x"), Value::Int(1)),
            r#"op: unknown type for "x" (string)"#
        );
        assert_eq!(
            run(Op::Mod, Value::Float(2.0), Value::Int(1)),
            "op: unknown type for %!q(float64=2) (float64)"
        );
    }
}
