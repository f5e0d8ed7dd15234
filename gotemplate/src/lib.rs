//! Go's `text/template` in Rust: the syntax, the semantics and `fmt`'s
//! printing, so that a template written for a Go program (consul-template,
//! Nomad, Helm-less tooling) renders the same bytes here.
//!
//! - the lexer and parser of `text/template/parse`, with its error
//!   messages: trim markers (`{{-`, `-}}`), comments, custom delimiters,
//!   pipelines, variables (`:=`, `=`), `if`/`else if`/`with`/`else with`/
//!   `range` (with `else`, `break`, `continue`), `define`/`template`/`block`;
//! - execution with Go's truth, comparison and field rules, `missingkey`
//!   (`default`, `zero`, `error`), and the builtins `and or not len index
//!   slice print printf println html js urlquery call eq ne lt le gt ge`;
//! - `fmt`'s `%v` of lists (`[a b c]`), maps (`map[k:v]`), structs and nil,
//!   and `printf` with verbs, flags, width and precision.
//!
//! Everything is bounded: nesting depth at parse time (a recursive parser
//! never overflows the stack), template calls, evaluation steps and output
//! size at execution time.
//!
//! ```
//! use gotemplate::{Funcs, Options, Template, Value};
//!
//! let mut funcs = Funcs::new();
//! funcs.add_fixed("upper", 1, |args| {
//!     Ok(Value::from(args[0].as_str().unwrap_or_default().to_uppercase()))
//! });
//! let t = Template::parse(
//!     "hello",
//!     "{{ range $i, $n := . }}{{ if $i }}, {{ end }}{{ $n | upper }}{{ end }}",
//!     &funcs,
//!     &Options::default(),
//! )?;
//! let names = Value::strings(["ann", "bob"]);
//! assert_eq!(t.execute(&names)?, "ANN, BOB");
//! # Ok::<(), gotemplate::Error>(())
//! ```
#![warn(missing_docs)]

mod ast;
mod builtins;
mod error;
mod exec;
pub mod fmt;
mod funcs;
mod lex;
mod parse;
mod value;

use std::sync::Arc;

pub use builtins::{html_escape, js_escape, query_escape};
pub use error::{Error, ErrorKind};
pub use funcs::{Context, FnImpl, Func, FuncError, Funcs};
pub use value::{Key, List, Map, Method, Object, Struct, Type, Value, Zero};
pub use value::{ANY_LIST, ANY_MAP, STRING_LIST, STRING_MAP};

/// What a missing map key gives (Go's `missingkey` option).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum MissingKey {
    /// No value: printed `<no value>` (Go's default).
    #[default]
    Default,
    /// The zero value of the map's element type (consul-template's default).
    Zero,
    /// An error naming the key (consul-template's `error_on_missing_key`).
    Error,
}

/// Parse and execution settings.
#[derive(Clone, Debug)]
pub struct Options {
    /// The left delimiter (`{{` when empty).
    pub left_delim: String,
    /// The right delimiter (`}}` when empty).
    pub right_delim: String,
    /// What a missing map key gives.
    pub missing_key: MissingKey,
    /// Deepest nesting of blocks and parentheses the parser accepts.
    pub max_depth: usize,
    /// Deepest chain of `{{template}}` calls (Go allows 100,000; recursion
    /// that deep here would need a large stack).
    pub max_template_calls: usize,
    /// Deepest nesting while executing: blocks, parentheses and template
    /// calls counted together, so that recursion through deeply nested
    /// templates cannot overflow the stack either (1,000 levels fit in a
    /// 2 MiB stack in a debug build, 2,000 do not: the default keeps half).
    pub max_nesting: usize,
    /// Deepest nesting of lists, maps and structs a function may return.
    pub max_value_depth: usize,
    /// Most evaluation steps (actions, function calls, range iterations) in one execution.
    pub max_steps: u64,
    /// Largest output of one execution, in bytes.
    pub max_output: usize,
}

/// The default nesting limit: deeper than any hand-written template, and
/// safe on a 2 MiB thread stack in a debug build.
pub const MAX_DEPTH: usize = 100;

impl Default for Options {
    fn default() -> Options {
        Options {
            left_delim: "{{".into(),
            right_delim: "}}".into(),
            missing_key: MissingKey::Default,
            max_depth: MAX_DEPTH,
            max_template_calls: 100,
            max_nesting: 500,
            max_value_depth: 1000,
            max_steps: 100_000_000,
            max_output: 256 << 20,
        }
    }
}

/// A parsed template and the templates it defines.
#[derive(Debug, Clone)]
pub struct Template {
    name: String,
    text: Arc<str>,
    trees: Arc<parse::TreeSet>,
    options: Options,
}

impl Template {
    /// Parses `text` (named `name` in errors) with the functions of `funcs`.
    ///
    /// Calling a function that `funcs` does not hold is a parse error, as in Go.
    pub fn parse(
        name: &str,
        text: &str,
        funcs: &Funcs,
        options: &Options,
    ) -> Result<Template, Error> {
        let trees = parse::parse(
            name,
            text,
            &options.left_delim,
            &options.right_delim,
            funcs,
            options.max_depth,
        )?;
        Ok(Template {
            name: name.to_string(),
            text: Arc::from(text),
            trees: Arc::new(trees),
            options: options.clone(),
        })
    }

    /// The name given at parse time.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Whether a template called `name` is defined (the main one included).
    pub fn is_defined(&self, name: &str) -> bool {
        self.trees.contains_key(name)
    }

    /// Executes the main template with `data` as `.` and `$`.
    pub fn execute(&self, data: &Value) -> Result<String, Error> {
        self.execute_named(&self.name, data)
    }

    /// Executes the template called `name` (Go's `ExecuteTemplate`).
    pub fn execute_named(&self, name: &str, data: &Value) -> Result<String, Error> {
        let Some(tree) = self.trees.get(name).cloned() else {
            return Err(Error::parse(
                &self.name,
                1,
                format!("no template {} defined", fmt::quote(name)),
            ));
        };
        let mut state = exec::State {
            tmpl: self,
            executing: Arc::from(name),
            vars: vec![(Arc::from("$"), data.clone())],
            out: String::new(),
            depth: 0,
            nest: 0,
            steps: 0,
            locals: Vec::new(),
        };
        match state.walk_list(data, &tree.root) {
            Ok(()) => Ok(state.out),
            Err(exec::Flow::Err(e)) => Err(e),
            // The parser only accepts break/continue inside a range.
            Err(_) => Ok(state.out),
        }
    }
}

#[cfg(test)]
mod tests;
