//! Consul service-definition files: parsing (JSON and HCL) and validation,
//! with every problem reported as `file:line: message`.
//!
//! The format is the one Consul reads from its `-config-dir`: a top-level
//! `service` (an object) or `services` (a list, or repeated HCL blocks), each
//! with `name`, `id`, `tags`, `address`, `port`, `meta`,
//! `enable_tag_override`, `weights` and a `check` or `checks`. Keys match
//! case-insensitively and with or without `_` (`EnableTagOverride` and
//! `enable_tag_override` are one key), as Consul's decoder does. A file is
//! valid or not as a whole: when it has an error, none of its services is
//! used. Warnings (a field registrar ignores, a name DNS cannot serve) do not
//! make a file invalid.

mod convert;

use std::fmt;
use std::path::{Path, PathBuf};

use dcy::agent::ServiceRegistration;
use serde_json::Value;

use crate::locate::{hcl_line, json_line, Seg};
use convert::Converter;

/// How bad a [`Problem`] is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Severity {
    /// The file is not used.
    Error,
    /// The file is used; something in it is ignored or may surprise.
    Warning,
}

/// A problem in a definition file, at a line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Problem {
    /// The file.
    pub file: PathBuf,
    /// 1-based line (1 when the problem concerns the whole file).
    pub line: usize,
    /// Error or warning.
    pub severity: Severity,
    /// What is wrong and how to fix it.
    pub message: String,
}

impl Problem {
    /// An error at `line` of `file`.
    pub fn error(file: &Path, line: usize, message: impl Into<String>) -> Problem {
        Problem {
            file: file.to_path_buf(),
            line,
            severity: Severity::Error,
            message: message.into(),
        }
    }
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kind = match self.severity {
            Severity::Error => "",
            Severity::Warning => "warning: ",
        };
        write!(
            f,
            "{}:{}: {kind}{}",
            self.file.display(),
            self.line,
            self.message
        )
    }
}

/// One service of a definition file, ready to register.
#[derive(Clone, Debug, PartialEq)]
pub struct ServiceDef {
    /// The registration, its ID filled (it defaults to the name).
    pub registration: ServiceRegistration,
    /// Line where the service's block starts.
    pub line: usize,
}

/// What a definition file holds: its services (empty if it has an error) and its problems.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Definitions {
    /// The services, in file order; empty when the file has an error.
    pub services: Vec<ServiceDef>,
    /// Errors and warnings, in file order.
    pub problems: Vec<Problem>,
}

impl Definitions {
    /// Whether the file has an error (and so no usable service).
    pub fn has_errors(&self) -> bool {
        self.problems.iter().any(|p| p.severity == Severity::Error)
    }
}

/// The syntax of a definition file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// `.json`
    Json,
    /// `.hcl`
    Hcl,
}

/// The format of `path` by its extension; `None` for files registrar ignores
/// (other extensions, hidden files such as editors' `.#web.json`).
pub fn format_of(path: &Path) -> Option<Format> {
    let name = path.file_name()?.to_str()?;
    if name.starts_with('.') {
        return None;
    }
    match path.extension()?.to_str()? {
        "json" => Some(Format::Json),
        "hcl" => Some(Format::Hcl),
        _ => None,
    }
}

/// Parses and validates the text of definition file `file`.
///
/// Its format comes from the extension (JSON when it is neither `.json` nor `.hcl`).
pub fn parse(file: &Path, text: &str) -> Definitions {
    let format = format_of(file).unwrap_or(Format::Json);
    let value = match format {
        Format::Json => serde_json::from_str::<Value>(text).map_err(|e| {
            let what = match e.classify() {
                serde_json::error::Category::Eof => "unexpected end of file",
                _ => "invalid JSON",
            };
            let msg = e.to_string();
            let msg = msg.split(" at line ").next().unwrap_or(&msg).to_string();
            Problem::error(
                file,
                e.line().max(1),
                format!("{what}: {msg} (column {})", e.column()),
            )
        }),
        Format::Hcl => hcl::from_str::<Value>(text).map_err(|e| match &e {
            hcl::Error::Parse(p) => Problem::error(
                file,
                p.location().line(),
                format!(
                    "invalid HCL: {} (column {})",
                    p.message(),
                    p.location().column()
                ),
            ),
            other => Problem::error(file, 1, format!("invalid HCL: {other}")),
        }),
    };
    let value = match value {
        Ok(v) => v,
        Err(p) => {
            return Definitions {
                services: Vec::new(),
                problems: vec![p],
            }
        }
    };
    let mut conv = Converter::default();
    let services = conv.document(&value);
    let line = |path: &[Seg]| match format {
        Format::Json => json_line(text, path),
        Format::Hcl => hcl_line(text, path),
    };
    let problems: Vec<Problem> = conv
        .problems
        .iter()
        .map(|(path, severity, message)| Problem {
            file: file.to_path_buf(),
            line: line(path),
            severity: *severity,
            message: message.clone(),
        })
        .collect();
    let failed = problems.iter().any(|p| p.severity == Severity::Error);
    Definitions {
        services: if failed {
            Vec::new()
        } else {
            services
                .into_iter()
                .map(|(path, registration)| ServiceDef {
                    line: line(&path),
                    registration,
                })
                .collect()
        },
        problems,
    }
}
