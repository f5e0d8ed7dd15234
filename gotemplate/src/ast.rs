//! The parse tree (Go's `text/template/parse` nodes).

use std::sync::Arc;

use crate::funcs::Func;

/// A list of nodes.
pub(crate) type List = Vec<Node>;

/// A node of a template body.
#[derive(Debug)]
pub(crate) enum Node {
    /// Plain text.
    Text(String),
    /// `{{ pipeline }}`.
    Action(Pipe),
    /// `{{ if }}`.
    If(Control),
    /// `{{ range }}`.
    Range(Control),
    /// `{{ with }}`.
    With(Control),
    /// `{{ template "name" pipeline }}` (and the call half of `block`).
    Template {
        pos: usize,
        name: String,
        pipe: Option<Pipe>,
    },
    /// `{{ break }}`.
    Break,
    /// `{{ continue }}`.
    Continue,
}

/// The shared shape of `if`, `range` and `with`.
#[derive(Debug)]
pub(crate) struct Control {
    pub pipe: Pipe,
    pub list: List,
    pub else_list: Option<List>,
}

/// A pipeline: optional variable declarations and commands joined by `|`.
#[derive(Debug)]
pub(crate) struct Pipe {
    pub pos: usize,
    /// `$x = ...` (assignment) rather than `$x := ...` (declaration).
    pub is_assign: bool,
    pub decl: Vec<String>,
    pub cmds: Vec<Command>,
}

/// One command: an operand and its arguments.
#[derive(Debug)]
pub(crate) struct Command {
    pub pos: usize,
    pub args: Vec<Arg>,
}

/// A number literal, with the forms it can take (Go's `NumberNode`).
#[derive(Debug, Clone)]
pub(crate) struct Number {
    pub text: String,
    pub int: Option<i64>,
    pub uint: Option<u64>,
    pub float: Option<f64>,
    pub is_char: bool,
}

/// An operand.
#[derive(Debug)]
pub(crate) enum Arg {
    Bool(usize, bool),
    Dot(usize),
    Nil(usize),
    Number(usize, Number),
    /// A string literal (its value, and the text as written).
    Str(usize, Arc<str>, String),
    /// `.A.B`
    Field(usize, Vec<String>),
    /// `$x.A.B` (the first name is the variable).
    Variable(usize, Vec<String>),
    /// A function name.
    Ident(usize, String, Func),
    /// `(pipe).A.B` or `fn.A`
    Chain(usize, Box<Arg>, Vec<String>),
    /// `( pipeline )`
    Pipe(usize, Box<Pipe>),
}

impl Arg {
    pub(crate) fn pos(&self) -> usize {
        match self {
            Arg::Bool(p, _)
            | Arg::Dot(p)
            | Arg::Nil(p)
            | Arg::Number(p, _)
            | Arg::Str(p, _, _)
            | Arg::Field(p, _)
            | Arg::Variable(p, _)
            | Arg::Ident(p, _, _)
            | Arg::Chain(p, _, _)
            | Arg::Pipe(p, _) => *p,
        }
    }
}

impl std::fmt::Display for Arg {
    /// The operand as written (Go's `Node.String`), for error messages.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Arg::Bool(_, b) => write!(f, "{b}"),
            Arg::Dot(_) => f.write_str("."),
            Arg::Nil(_) => f.write_str("nil"),
            Arg::Number(_, n) => f.write_str(&n.text),
            Arg::Str(_, _, text) => f.write_str(text),
            Arg::Field(_, idents) => {
                for i in idents {
                    write!(f, ".{i}")?;
                }
                Ok(())
            }
            Arg::Variable(_, idents) => f.write_str(&idents.join(".")),
            Arg::Ident(_, name, _) => f.write_str(name),
            Arg::Chain(_, node, fields) => {
                if matches!(**node, Arg::Pipe(..)) {
                    write!(f, "({node})")?;
                } else {
                    write!(f, "{node}")?;
                }
                for i in fields {
                    write!(f, ".{i}")?;
                }
                Ok(())
            }
            Arg::Pipe(_, p) => write!(f, "{p}"),
        }
    }
}

impl std::fmt::Display for Pipe {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if !self.decl.is_empty() {
            f.write_str(&self.decl.join(", "))?;
            f.write_str(if self.is_assign { " = " } else { " := " })?;
        }
        for (i, c) in self.cmds.iter().enumerate() {
            if i > 0 {
                f.write_str(" | ")?;
            }
            write!(f, "{c}")?;
        }
        Ok(())
    }
}

impl std::fmt::Display for Command {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for (i, a) in self.args.iter().enumerate() {
            if i > 0 {
                f.write_str(" ")?;
            }
            if matches!(a, Arg::Pipe(..)) {
                write!(f, "({a})")?;
            } else {
                write!(f, "{a}")?;
            }
        }
        Ok(())
    }
}
