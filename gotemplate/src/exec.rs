//! Execution: Go's `text/template/exec.go`.
//!
//! Variables live on one stack (`$` at the bottom); `if`, `with` and
//! `range` pop what their pipeline declared at `{{end}}`; a `{{template}}`
//! call starts a fresh stack. Every step, template call and byte of output
//! is counted against the limits in [`Options`](crate::Options).

use std::fmt::Display;
use std::sync::Arc;

use crate::ast::{Arg, Command, Control, Node, Number, Pipe};
use crate::builtins;
use crate::error::{Error, ErrorKind};
use crate::funcs::{Builtin, Context, Func, FuncError, Kind as FuncKind};
use crate::value::{Key, Value};
use crate::{MissingKey, Template};

/// Why a walk stopped early.
pub(crate) enum Flow {
    Break,
    Continue,
    Err(Error),
}

type R<T> = Result<T, Flow>;

pub(crate) struct State<'a> {
    pub tmpl: &'a Template,
    /// The template being executed (for error messages).
    pub executing: Arc<str>,
    pub vars: Vec<(Arc<str>, Value)>,
    pub out: String,
    pub depth: usize,
    /// Nesting of the walk itself: blocks, parentheses and template calls.
    pub nest: usize,
    pub steps: u64,
    pub locals: Vec<(String, Value)>,
}

impl Context for State<'_> {
    fn local(&mut self, key: &str, make: &mut dyn FnMut() -> Value) -> Value {
        if let Some((_, v)) = self.locals.iter().find(|(k, _)| k == key) {
            return v.clone();
        }
        let v = make();
        self.locals.push((key.to_string(), v.clone()));
        v
    }

    fn execute_template(&mut self, name: &str, dot: Value) -> Result<String, String> {
        let saved = std::mem::take(&mut self.out);
        let result = self.call_template(0, name, dot);
        let out = std::mem::replace(&mut self.out, saved);
        match result {
            Ok(()) => Ok(out),
            Err(Flow::Err(e)) => Err(e.to_string()),
            Err(_) => Err("break or continue outside range".into()),
        }
    }
}

impl State<'_> {
    fn location(&self, pos: usize) -> (usize, usize) {
        let text = &self.tmpl.text;
        let before = &text[..pos.min(text.len())];
        let line = 1 + before.matches('\n').count();
        let col = match before.rfind('\n') {
            Some(nl) => pos - nl - 1,
            None => pos,
        };
        (line, col)
    }

    fn fail(&self, kind: ErrorKind, pos: usize, context: &dyn Display, msg: String) -> Flow {
        Flow::Err(Error::exec(
            kind,
            &self.tmpl.name,
            self.location(pos),
            &self.executing,
            context.to_string(),
            msg,
        ))
    }

    fn err(&self, pos: usize, context: &dyn Display, msg: String) -> Flow {
        self.fail(ErrorKind::Exec, pos, context, msg)
    }

    /// Enters one level of the walk's recursion (a block, a parenthesis, a
    /// template call); their product is bounded, not only each of them.
    fn enter(&mut self, pos: usize, context: &dyn Display) -> R<()> {
        self.nest += 1;
        if self.nest > self.tmpl.options.max_nesting {
            return Err(self.fail(
                ErrorKind::Limit,
                pos,
                context,
                format!(
                    "execution nested deeper than {} levels (blocks, parentheses and template calls together)",
                    self.tmpl.options.max_nesting
                ),
            ));
        }
        Ok(())
    }

    fn step(&mut self, pos: usize, context: &dyn Display) -> R<()> {
        self.steps += 1;
        if self.steps > self.tmpl.options.max_steps {
            return Err(self.fail(
                ErrorKind::Limit,
                pos,
                context,
                format!(
                    "more than {} evaluation steps: the template never ends or its data is far larger than expected",
                    self.tmpl.options.max_steps
                ),
            ));
        }
        Ok(())
    }

    fn write(&mut self, pos: usize, context: &dyn Display, s: &str) -> R<()> {
        if self.out.len() + s.len() > self.tmpl.options.max_output {
            return Err(self.fail(
                ErrorKind::Limit,
                pos,
                context,
                format!("output larger than {} bytes", self.tmpl.options.max_output),
            ));
        }
        self.out.push_str(s);
        Ok(())
    }

    pub(crate) fn walk_list(&mut self, dot: &Value, list: &[Node]) -> R<()> {
        for node in list {
            self.walk(dot, node)?;
        }
        Ok(())
    }

    fn walk(&mut self, dot: &Value, node: &Node) -> R<()> {
        match node {
            Node::Text(t) => self.write(0, &"text", t),
            Node::Action(pipe) => {
                self.step(pipe.pos, pipe)?;
                let v = self.eval_pipeline(dot, pipe)?;
                if pipe.decl.is_empty() {
                    match &v {
                        Value::Str(s) => self.write(pipe.pos, pipe, s)?,
                        Value::Int(i) => {
                            let mut buf = itoa::Buffer::new();
                            let s = buf.format(*i);
                            self.write(pipe.pos, pipe, s)?;
                        }
                        other => {
                            let s = printable(other);
                            self.write(pipe.pos, pipe, &s)?;
                        }
                    }
                }
                Ok(())
            }
            Node::If(c) | Node::With(c) | Node::Range(c) => {
                self.enter(c.pipe.pos, &c.pipe)?;
                let r = match node {
                    Node::If(_) => self.walk_if_or_with(dot, c, false),
                    Node::With(_) => self.walk_if_or_with(dot, c, true),
                    _ => self.walk_range(dot, c),
                };
                self.nest -= 1;
                r
            }
            Node::Template { pos, name, pipe } => {
                self.step(*pos, &format_args!("template {}", crate::fmt::quote(name)))?;
                let dot = match pipe {
                    Some(p) => self.eval_pipeline(dot, p)?,
                    None => Value::Missing,
                };
                self.call_template(*pos, name, dot)
            }
            Node::Break => Err(Flow::Break),
            Node::Continue => Err(Flow::Continue),
        }
    }

    fn call_template(&mut self, pos: usize, name: &str, dot: Value) -> R<()> {
        let context = format_args!("template {}", crate::fmt::quote(name));
        let Some(tree) = self.tmpl.trees.get(name).cloned() else {
            return Err(self.err(
                pos,
                &context,
                format!("template {} not defined", crate::fmt::quote(name)),
            ));
        };
        if self.depth >= self.tmpl.options.max_template_calls {
            return Err(self.fail(
                ErrorKind::Limit,
                pos,
                &context,
                format!(
                    "exceeded maximum template depth ({})",
                    self.tmpl.options.max_template_calls
                ),
            ));
        }
        self.enter(pos, &context)?;
        let saved_vars = std::mem::replace(&mut self.vars, vec![(Arc::from("$"), dot.clone())]);
        let saved_name = std::mem::replace(&mut self.executing, Arc::from(name));
        self.depth += 1;
        let result = self.walk_list(&dot, &tree.root);
        self.depth -= 1;
        self.nest -= 1;
        self.executing = saved_name;
        self.vars = saved_vars;
        result
    }

    fn walk_if_or_with(&mut self, dot: &Value, c: &Control, with: bool) -> R<()> {
        let mark = self.vars.len();
        let result = (|| {
            let val = self.eval_pipeline(dot, &c.pipe)?;
            if val.is_true() {
                if with {
                    self.walk_list(&val, &c.list)
                } else {
                    self.walk_list(dot, &c.list)
                }
            } else if let Some(e) = &c.else_list {
                self.walk_list(dot, e)
            } else {
                Ok(())
            }
        })();
        self.vars.truncate(mark);
        result
    }

    fn walk_range(&mut self, dot: &Value, c: &Control) -> R<()> {
        let mark0 = self.vars.len();
        let result = self.range_inner(dot, c);
        self.vars.truncate(mark0);
        match result {
            Err(Flow::Break) => Ok(()),
            other => other,
        }
    }

    fn range_inner(&mut self, dot: &Value, c: &Control) -> R<()> {
        let val = self.eval_pipeline(dot, &c.pipe)?;
        let mark = self.vars.len();
        match &val {
            Value::List(l) if !l.items.is_empty() => {
                for (i, elem) in l.items.iter().enumerate() {
                    self.iteration(c, Value::Int(i as i64), elem.clone(), mark)?;
                }
                return Ok(());
            }
            Value::Map(m) if !m.entries.is_empty() => {
                for (k, elem) in &m.entries {
                    self.iteration(c, k.to_value(), elem.clone(), mark)?;
                }
                return Ok(());
            }
            Value::Int(n) if *n > 0 => {
                for i in 0..*n {
                    self.iteration(c, Value::Int(i), Value::Int(i), mark)?;
                }
                return Ok(());
            }
            Value::Uint(n) if *n > 0 => {
                for i in 0..*n {
                    self.iteration(c, Value::Uint(i), Value::Uint(i), mark)?;
                }
                return Ok(());
            }
            Value::List(_) | Value::Map(_) | Value::Int(_) | Value::Uint(_) => {}
            Value::Missing | Value::Nil => {}
            other => {
                return Err(self.err(
                    c.pipe.pos,
                    &c.pipe,
                    format!("range can't iterate over {}", crate::fmt::print_v(other)),
                ))
            }
        }
        if let Some(e) = &c.else_list {
            self.walk_list(dot, e)?;
        }
        Ok(())
    }

    /// One pass of a range body; `Err(Flow::Break)` ends the loop.
    fn iteration(&mut self, c: &Control, index: Value, elem: Value, mark: usize) -> R<()> {
        self.step(c.pipe.pos, &c.pipe)?;
        let decl = &c.pipe.decl;
        if !decl.is_empty() {
            if c.pipe.is_assign {
                if decl.len() > 1 {
                    self.set_var(c.pipe.pos, &decl[0], index.clone())?;
                    self.set_var(c.pipe.pos, &decl[1], elem.clone())?;
                } else {
                    self.set_var(c.pipe.pos, &decl[0], elem.clone())?;
                }
            } else {
                let n = self.vars.len();
                self.vars[n - 1].1 = elem.clone();
                if decl.len() > 1 {
                    self.vars[n - 2].1 = index;
                }
            }
        }
        let result = self.walk_list(&elem, &c.list);
        self.vars.truncate(mark);
        match result {
            Err(Flow::Continue) => Ok(()),
            other => other,
        }
    }

    fn var_value(&self, pos: usize, name: &str) -> R<Value> {
        match self.vars.iter().rev().find(|(n, _)| &**n == name) {
            Some((_, v)) => Ok(v.clone()),
            None => Err(self.err(pos, &name, format!("undefined variable: {name}"))),
        }
    }

    fn set_var(&mut self, pos: usize, name: &str, v: Value) -> R<()> {
        match self.vars.iter_mut().rev().find(|(n, _)| &**n == name) {
            Some(slot) => {
                slot.1 = v;
                Ok(())
            }
            None => Err(self.err(pos, &name, format!("undefined variable: {name}"))),
        }
    }

    pub(crate) fn eval_pipeline(&mut self, dot: &Value, pipe: &Pipe) -> R<Value> {
        let mut value: Option<Value> = None;
        for cmd in &pipe.cmds {
            let v = self.eval_command(dot, cmd, value.take())?;
            // A nil interface{} result is no value at all (Go digs one level down).
            value = Some(if matches!(v, Value::Nil) {
                Value::Missing
            } else {
                v
            });
        }
        let value = value.unwrap_or_default();
        for name in &pipe.decl {
            if pipe.is_assign {
                self.set_var(pipe.pos, name, value.clone())?;
            } else {
                self.vars.push((Arc::from(name.as_str()), value.clone()));
            }
        }
        Ok(value)
    }

    fn not_a_function(&self, cmd: &Command, fin: &Option<Value>) -> R<()> {
        if cmd.args.len() > 1 || fin.is_some() {
            return Err(self.err(
                cmd.pos,
                cmd,
                format!("can't give argument to non-function {}", cmd.args[0]),
            ));
        }
        Ok(())
    }

    fn eval_command(&mut self, dot: &Value, cmd: &Command, fin: Option<Value>) -> R<Value> {
        let first = &cmd.args[0];
        match first {
            Arg::Field(_, idents) => {
                self.eval_field_chain(dot, dot.clone(), first, idents, Some(cmd), fin)
            }
            Arg::Chain(pos, node, fields) => {
                if matches!(**node, Arg::Nil(_)) {
                    return Err(self.err(
                        *pos,
                        first,
                        format!("indirection through explicit nil in {first}"),
                    ));
                }
                let v = self.eval_arg(dot, node)?;
                self.eval_field_chain(dot, v, first, fields, Some(cmd), fin)
            }
            Arg::Ident(_, _, f) => self.eval_function(dot, f, cmd, fin),
            Arg::Pipe(pos, p) => {
                self.not_a_function(cmd, &fin)?;
                self.enter(*pos, p)?;
                let r = self.eval_pipeline(dot, p);
                self.nest -= 1;
                r
            }
            Arg::Variable(pos, idents) => {
                let v = self.var_value(*pos, &idents[0])?;
                if idents.len() == 1 {
                    self.not_a_function(cmd, &fin)?;
                    return Ok(v);
                }
                self.eval_field_chain(dot, v, first, &idents[1..], Some(cmd), fin)
            }
            Arg::Bool(_, b) => {
                self.not_a_function(cmd, &fin)?;
                Ok(Value::Bool(*b))
            }
            Arg::Dot(_) => {
                self.not_a_function(cmd, &fin)?;
                Ok(dot.clone())
            }
            Arg::Nil(pos) => Err(self.err(*pos, first, "nil is not a command".into())),
            Arg::Number(pos, n) => {
                self.not_a_function(cmd, &fin)?;
                self.ideal_constant(*pos, n)
            }
            Arg::Str(_, s, _) => {
                self.not_a_function(cmd, &fin)?;
                Ok(Value::Str(Arc::clone(s)))
            }
        }
    }

    fn ideal_constant(&self, pos: usize, n: &Number) -> R<Value> {
        let hex_int = n.text.len() > 2
            && n.text.starts_with('0')
            && matches!(n.text.as_bytes()[1], b'x' | b'X')
            && !n.text.contains(['p', 'P']);
        if let Some(f) = n.float {
            if !hex_int && !n.is_char && n.text.contains(['.', 'e', 'E', 'p', 'P']) {
                return Ok(Value::Float(f));
            }
        }
        if let Some(i) = n.int {
            return Ok(Value::Int(i));
        }
        Err(self.err(pos, &n.text, format!("{} overflows int", n.text)))
    }

    /// An argument's value (Go's `evalArg` for an `interface{}` parameter).
    fn eval_arg(&mut self, dot: &Value, arg: &Arg) -> R<Value> {
        match arg {
            Arg::Dot(_) => Ok(dot.clone()),
            Arg::Nil(_) => Ok(Value::Nil),
            Arg::Field(_, idents) => {
                self.eval_field_chain(dot, dot.clone(), arg, idents, None, None)
            }
            Arg::Variable(pos, idents) => {
                let v = self.var_value(*pos, &idents[0])?;
                if idents.len() == 1 {
                    return Ok(v);
                }
                self.eval_field_chain(dot, v, arg, &idents[1..], None, None)
            }
            Arg::Pipe(pos, p) => {
                self.enter(*pos, p)?;
                let r = self.eval_pipeline(dot, p);
                self.nest -= 1;
                r
            }
            Arg::Ident(pos, _, f) => {
                let cmd = Command {
                    pos: *pos,
                    args: Vec::new(),
                };
                self.call(dot, f, *pos, &cmd, arg, &[], None)
            }
            Arg::Chain(pos, node, fields) => {
                if matches!(**node, Arg::Nil(_)) {
                    return Err(self.err(
                        *pos,
                        arg,
                        format!("indirection through explicit nil in {arg}"),
                    ));
                }
                let v = self.eval_arg(dot, node)?;
                self.eval_field_chain(dot, v, arg, fields, None, None)
            }
            Arg::Bool(_, b) => Ok(Value::Bool(*b)),
            Arg::Number(pos, n) => self.ideal_constant(*pos, n),
            Arg::Str(_, s, _) => Ok(Value::Str(Arc::clone(s))),
        }
    }

    fn eval_function(
        &mut self,
        dot: &Value,
        f: &Func,
        cmd: &Command,
        fin: Option<Value>,
    ) -> R<Value> {
        self.call(dot, f, cmd.pos, cmd, cmd, &cmd.args[1..], fin)
    }

    #[allow(clippy::too_many_arguments)]
    fn call(
        &mut self,
        dot: &Value,
        f: &Func,
        pos: usize,
        cmd: &Command,
        context: &dyn Display,
        args: &[Arg],
        fin: Option<Value>,
    ) -> R<Value> {
        let _ = cmd;
        self.step(pos, context)?;
        let inner = &f.0;
        let n = args.len() + usize::from(fin.is_some());
        if n < inner.min || inner.max.is_some_and(|m| n > m) {
            let want = match inner.max {
                Some(m) if m == inner.min => format!("want {m}"),
                Some(m) => format!("want {} to {m}", inner.min),
                None => format!("want at least {}", inner.min),
            };
            return Err(self.err(
                pos,
                context,
                format!("wrong number of args for {}: {want} got {n}", inner.name),
            ));
        }
        if let FuncKind::Builtin(b @ (Builtin::And | Builtin::Or)) = inner.kind {
            // and/or stop at the first argument that decides.
            let or = b == Builtin::Or;
            let mut v = Value::Missing;
            for a in args {
                v = self.eval_arg(dot, a)?;
                if v.is_true() == or {
                    return Ok(v);
                }
            }
            if let Some(f) = fin {
                v = f;
            }
            return Ok(v);
        }
        let mut values = Vec::with_capacity(n);
        for a in args {
            values.push(self.eval_arg(dot, a)?);
        }
        if let Some(f) = fin {
            values.push(f);
        }
        let result = match &inner.kind {
            FuncKind::Builtin(b) => builtins::call(*b, &values),
            FuncKind::Added(imp) => imp(self, &values),
        };
        let v = result.map_err(|e| match e {
            FuncError::Call(m) => {
                self.err(pos, context, format!("error calling {}: {m}", inner.name))
            }
            FuncError::Arg(m) => self.err(pos, context, m),
        })?;
        self.bounded(pos, context, v)
    }

    /// A function's result, unless it nests deeper than the limit (a
    /// template that wraps a list in a list 100,000 times would overflow
    /// the stack when it is printed or dropped).
    fn bounded(&self, pos: usize, context: &dyn Display, v: Value) -> R<Value> {
        if v.depth() as usize > self.tmpl.options.max_value_depth {
            return Err(self.fail(
                ErrorKind::Limit,
                pos,
                context,
                format!(
                    "a value nested deeper than {} levels",
                    self.tmpl.options.max_value_depth
                ),
            ));
        }
        Ok(v)
    }

    fn eval_field_chain(
        &mut self,
        dot: &Value,
        mut receiver: Value,
        node: &Arg,
        idents: &[String],
        cmd: Option<&Command>,
        fin: Option<Value>,
    ) -> R<Value> {
        let Some((last, init)) = idents.split_last() else {
            return Ok(receiver);
        };
        for name in init {
            receiver = self.eval_field(dot, name, node, None, None, receiver)?;
        }
        self.eval_field(dot, last, node, cmd, fin, receiver)
    }

    fn eval_field(
        &mut self,
        dot: &Value,
        name: &str,
        node: &Arg,
        cmd: Option<&Command>,
        fin: Option<Value>,
        receiver: Value,
    ) -> R<Value> {
        let pos = node.pos();
        let args: &[Arg] = cmd.map(|c| &c.args[1..]).unwrap_or(&[]);
        let has_args = !args.is_empty() || fin.is_some();
        match &receiver {
            Value::Missing => {
                if self.tmpl.options.missing_key == MissingKey::Error {
                    return Err(self.err(
                        pos,
                        node,
                        format!("nil data; no entry for key {}", crate::fmt::quote(name)),
                    ));
                }
                return Ok(Value::Missing);
            }
            Value::Nil => {
                return Err(self.err(
                    pos,
                    node,
                    format!("nil pointer evaluating interface {{}}.{name}"),
                ))
            }
            _ => {}
        }
        // Methods first, as Go looks them up before fields.
        let method = receiver.method(name);
        if method.is_some() || matches!(receiver, Value::Object(_)) {
            let mut values = Vec::with_capacity(args.len() + 1);
            for a in args {
                values.push(self.eval_arg(dot, a)?);
            }
            if let Some(f) = fin.clone() {
                values.push(f);
            }
            self.step(pos, node)?;
            let result = match (&receiver, method) {
                (_, Some(m)) => Some(m(&receiver, &values)),
                (Value::Object(o), None) => o.call(name, &values),
                _ => None,
            };
            match result {
                Some(Ok(v)) => return self.bounded(pos, node, v),
                Some(Err(m)) => {
                    return Err(self.err(pos, node, format!("error calling {name}: {m}")))
                }
                None => {}
            }
        }
        match &receiver {
            Value::Struct(s) => {
                if let Some(v) = s.field(name) {
                    if has_args {
                        return Err(self.err(
                            pos,
                            node,
                            format!("{name} has arguments but cannot be invoked as function"),
                        ));
                    }
                    return Ok(v.clone());
                }
            }
            Value::Map(m) => {
                if has_args {
                    return Err(self.err(
                        pos,
                        node,
                        format!("{name} is not a method but has arguments"),
                    ));
                }
                if let Some(v) = m.entries.get(&Key::Str(Arc::from(name))) {
                    return Ok(v.clone());
                }
                return match self.tmpl.options.missing_key {
                    MissingKey::Default => Ok(Value::Missing),
                    MissingKey::Zero => Ok(m.ty.elem.value()),
                    MissingKey::Error => Err(self.err(
                        pos,
                        node,
                        format!("map has no entry for key {}", crate::fmt::quote(name)),
                    )),
                };
            }
            _ => {}
        }
        Err(self.err(
            pos,
            node,
            format!(
                "can't evaluate field {name} in type {}",
                receiver.type_name()
            ),
        ))
    }
}

/// What an action prints: Go's `printableValue` then `fmt.Fprint`.
fn printable(v: &Value) -> String {
    match v {
        Value::Missing | Value::Nil => "<no value>".into(),
        Value::Str(s) => s.to_string(),
        Value::Struct(s) => {
            // A pointer is followed: the struct prints without '&'.
            let inner = crate::fmt::print_v(v);
            if s.ty.is_pointer() {
                inner.trim_start_matches('&').to_string()
            } else {
                inner
            }
        }
        other => crate::fmt::print_v(other),
    }
}
