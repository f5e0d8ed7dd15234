//! The error type, with consul-template's exit codes.

use std::fmt;

/// What failed, which decides the exit code.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ErrorKind {
    /// A config file or flag value is invalid (exit 15).
    Config,
    /// The command line is invalid (exit 13).
    Flags,
    /// Rendering or a command failed where that is fatal (exit 14).
    Runner,
    /// Stopped by the kill signal (exit 12).
    Interrupted,
    /// Anything else (exit 11).
    Other,
}

/// An error with a message that names the input and the fix.
#[derive(Debug)]
pub struct Error {
    kind: ErrorKind,
    message: String,
}

/// `Result<T, templater::Error>`.
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// An error of this kind.
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Error {
        Error {
            kind,
            message: message.into(),
        }
    }

    /// A configuration error.
    pub fn config(message: impl Into<String>) -> Error {
        Error::new(ErrorKind::Config, message)
    }

    /// A runner error.
    pub fn runner(message: impl Into<String>) -> Error {
        Error::new(ErrorKind::Runner, message)
    }

    /// The kind.
    pub fn kind(&self) -> ErrorKind {
        self.kind
    }

    /// consul-template's exit code for this error.
    pub fn exit_code(&self) -> u8 {
        match self.kind {
            ErrorKind::Other => 11,
            ErrorKind::Interrupted => 12,
            ErrorKind::Flags => 13,
            ErrorKind::Runner => 14,
            ErrorKind::Config => 15,
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Error {}

impl From<dcy::Error> for Error {
    fn from(e: dcy::Error) -> Self {
        Error::new(ErrorKind::Other, e.to_string())
    }
}
