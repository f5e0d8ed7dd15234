//! The one error type: where (template, line, column), what was being
//! evaluated, and what went wrong, printed as Go prints it.

use std::fmt;

/// What kind of failure.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ErrorKind {
    /// The source does not parse.
    Parse,
    /// Executing the template failed (a function's error, a bad field, ...).
    Exec,
    /// A limit was reached (nesting, steps, output size, template calls).
    Limit,
}

/// A parse or execution error.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Error(Box<Inner>);

#[derive(Clone, Debug, PartialEq, Eq)]
struct Inner {
    kind: ErrorKind,
    name: String,
    line: usize,
    col: Option<usize>,
    executing: Option<String>,
    context: Option<String>,
    message: String,
}

impl Error {
    pub(crate) fn parse(name: &str, line: usize, message: String) -> Error {
        let kind = if message.starts_with("nesting deeper") {
            ErrorKind::Limit
        } else {
            ErrorKind::Parse
        };
        Error(Box::new(Inner {
            kind,
            name: name.to_string(),
            line,
            col: None,
            executing: None,
            context: None,
            message,
        }))
    }

    pub(crate) fn exec(
        kind: ErrorKind,
        name: &str,
        (line, col): (usize, usize),
        executing: &str,
        context: String,
        message: String,
    ) -> Error {
        Error(Box::new(Inner {
            kind,
            name: name.to_string(),
            line,
            col: Some(col),
            executing: Some(executing.to_string()),
            context: Some(context),
            message,
        }))
    }

    /// The kind of failure.
    pub fn kind(&self) -> ErrorKind {
        self.0.kind
    }

    /// Whether the source does not parse.
    pub fn is_parse(&self) -> bool {
        self.0.kind == ErrorKind::Parse
    }

    /// Whether a limit was reached.
    pub fn is_limit(&self) -> bool {
        self.0.kind == ErrorKind::Limit
    }

    /// The template (source) name.
    pub fn name(&self) -> &str {
        &self.0.name
    }

    /// The 1-based line.
    pub fn line(&self) -> usize {
        self.0.line
    }

    /// The message alone, without the location.
    pub fn message(&self) -> &str {
        &self.0.message
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (&self.0.col, &self.0.executing, &self.0.context) {
            (Some(col), Some(executing), Some(context)) => write!(
                f,
                "template: {}:{}:{}: executing {} at <{}>: {}",
                self.0.name,
                self.0.line,
                col,
                crate::fmt::quote(executing),
                context,
                self.0.message
            ),
            _ => write!(
                f,
                "template: {}:{}: {}",
                self.0.name, self.0.line, self.0.message
            ),
        }
    }
}

impl std::error::Error for Error {}
