//! Argument conversions with Go's messages.
//!
//! A Go template function declares typed parameters; text/template
//! converts each argument or fails with `wrong type for value; expected T;
//! got U`. These helpers do the same for functions written here.

use std::sync::Arc;

use gotemplate::{FuncError, List, Value, STRING_LIST};

/// The "wrong type" error Go gives for an argument of the wrong type.
pub fn wrong_type(want: &str, got: &Value) -> FuncError {
    FuncError::Arg(format!(
        "wrong type for value; expected {want}; got {}",
        got.type_name()
    ))
}

/// A `string` parameter.
pub fn string(v: &Value) -> Result<&str, FuncError> {
    match v {
        Value::Str(s) => Ok(s),
        other => Err(wrong_type("string", other)),
    }
}

/// An `int` parameter (Go converts untyped constants; ints of either sign).
pub fn int(v: &Value) -> Result<i64, FuncError> {
    match v {
        Value::Int(i) => Ok(*i),
        Value::Uint(u) => i64::try_from(*u).map_err(|_| wrong_type("int", v)),
        other => Err(wrong_type("int", other)),
    }
}

/// A `bool` parameter.
pub fn boolean(v: &Value) -> Result<bool, FuncError> {
    match v {
        Value::Bool(b) => Ok(*b),
        other => Err(wrong_type("bool", other)),
    }
}

/// A `[]string` parameter (a slice whose elements are all strings).
pub fn strings(v: &Value) -> Result<Vec<&str>, FuncError> {
    match v {
        Value::List(l) => l
            .items
            .iter()
            .map(|i| i.as_str().ok_or_else(|| wrong_type("[]string", v)))
            .collect(),
        Value::Missing | Value::Nil => Ok(Vec::new()),
        other => Err(wrong_type("[]string", other)),
    }
}

/// A `[]interface {}` parameter (any slice).
pub fn list(v: &Value) -> Result<&[Value], FuncError> {
    match v {
        Value::List(l) => Ok(&l.items),
        Value::Missing | Value::Nil => Ok(&[]),
        other => Err(wrong_type("[]interface {}", other)),
    }
}

/// A `[]string` result.
pub fn string_list<I: IntoIterator<Item = String>>(items: I) -> Value {
    Value::List(Arc::new(List::typed(
        items.into_iter().map(Value::from).collect(),
        &STRING_LIST,
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_are_go_s() {
        let e = string(&Value::Int(1)).unwrap_err();
        assert_eq!(
            e,
            FuncError::Arg("wrong type for value; expected string; got int".into())
        );
        assert_eq!(int(&Value::Uint(3)).unwrap(), 3);
        assert_eq!(strings(&Value::strings(["a", "b"])).unwrap(), ["a", "b"]);
    }
}
