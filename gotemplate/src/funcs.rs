//! Functions a template can call: Go's builtins and any added by the
//! embedding program.
//!
//! A function takes its arguments in call order, the piped value last (as
//! Go passes it), and returns a value or an error. The engine checks the
//! argument count against the function's arity before calling it.

use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;

use crate::value::Value;

/// Why a function failed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FuncError {
    /// The function ran and failed: reported as `error calling NAME: ...`.
    Call(String),
    /// An argument has the wrong type: reported as is, as Go reports its
    /// argument conversions (`wrong type for value; expected string; got int`).
    Arg(String),
}

impl From<String> for FuncError {
    fn from(s: String) -> FuncError {
        FuncError::Call(s)
    }
}

impl From<&str> for FuncError {
    fn from(s: &str) -> FuncError {
        FuncError::Call(s.to_string())
    }
}

/// What a function sees of the template being executed.
pub trait Context {
    /// Executes the template called `name` with `dot` as its data, as
    /// consul-template's `executeTemplate` does.
    fn execute_template(&mut self, name: &str, dot: Value) -> Result<String, String>;
    /// A value kept for the rest of this execution under `key` (e.g.
    /// consul-template's `scratch`, one per execution), made by `make` on
    /// first use.
    fn local(&mut self, key: &str, make: &mut dyn FnMut() -> Value) -> Value;
}

/// The signature of an added function.
pub type FnImpl = dyn Fn(&mut dyn Context, &[Value]) -> Result<Value, FuncError> + Send + Sync;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Builtin {
    And,
    Or,
    Not,
    Len,
    Index,
    Slice,
    Print,
    Printf,
    Println,
    Html,
    Js,
    Urlquery,
    Call,
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
}

pub(crate) enum Kind {
    Builtin(Builtin),
    Added(Box<FnImpl>),
}

pub(crate) struct Inner {
    pub name: String,
    pub min: usize,
    pub max: Option<usize>,
    pub kind: Kind,
}

/// A function, shared by every template parsed with it.
#[derive(Clone)]
pub struct Func(pub(crate) Arc<Inner>);

impl fmt::Debug for Func {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Func({})", self.0.name)
    }
}

impl Func {
    /// The function's name.
    pub fn name(&self) -> &str {
        &self.0.name
    }
}

/// A set of functions by name: Go's builtins, plus what is added.
#[derive(Clone)]
pub struct Funcs {
    map: HashMap<String, Func>,
}

impl fmt::Debug for Funcs {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Funcs")
            .field("count", &self.map.len())
            .finish()
    }
}

impl Default for Funcs {
    fn default() -> Funcs {
        Funcs::new()
    }
}

impl Funcs {
    /// Go's builtins: `and or not len index slice print printf println
    /// html js urlquery call eq ne lt le gt ge`.
    pub fn new() -> Funcs {
        use Builtin::*;
        let mut f = Funcs {
            map: HashMap::new(),
        };
        for (name, b, min, max) in [
            ("and", And, 1, None),
            ("or", Or, 1, None),
            ("not", Not, 1, Some(1)),
            ("len", Len, 1, Some(1)),
            ("index", Index, 1, None),
            ("slice", Slice, 1, None),
            ("print", Print, 0, None),
            ("printf", Printf, 1, None),
            ("println", Println, 0, None),
            ("html", Html, 0, None),
            ("js", Js, 0, None),
            ("urlquery", Urlquery, 0, None),
            ("call", Call, 1, None),
            ("eq", Eq, 1, None),
            ("ne", Ne, 2, Some(2)),
            ("lt", Lt, 2, Some(2)),
            ("le", Le, 2, Some(2)),
            ("gt", Gt, 2, Some(2)),
            ("ge", Ge, 2, Some(2)),
        ] {
            f.map.insert(
                name.to_string(),
                Func(Arc::new(Inner {
                    name: name.to_string(),
                    min,
                    max,
                    kind: Kind::Builtin(b),
                })),
            );
        }
        f
    }

    /// Adds (or replaces) `name`, taking between `min` and `max` arguments
    /// (`None`: any number above `min`).
    pub fn add<F>(&mut self, name: &str, min: usize, max: Option<usize>, f: F)
    where
        F: Fn(&mut dyn Context, &[Value]) -> Result<Value, FuncError> + Send + Sync + 'static,
    {
        self.map.insert(
            name.to_string(),
            Func(Arc::new(Inner {
                name: name.to_string(),
                min,
                max,
                kind: Kind::Added(Box::new(f)),
            })),
        );
    }

    /// Adds `name` with a fixed number of arguments and no need of the context.
    pub fn add_fixed<F>(&mut self, name: &str, arity: usize, f: F)
    where
        F: Fn(&[Value]) -> Result<Value, FuncError> + Send + Sync + 'static,
    {
        self.add(name, arity, Some(arity), move |_, args| f(args));
    }

    /// The function called `name`.
    pub fn get(&self, name: &str) -> Option<Func> {
        self.map.get(name).cloned()
    }

    /// Whether `name` is defined.
    pub fn contains(&self, name: &str) -> bool {
        self.map.contains_key(name)
    }

    /// Every name, sorted.
    pub fn names(&self) -> Vec<&str> {
        let mut v: Vec<&str> = self.map.keys().map(String::as_str).collect();
        v.sort_unstable();
        v
    }
}
