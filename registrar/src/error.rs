//! The one error type of the crate.

use std::path::PathBuf;

use crate::definition::Problem;

/// What went wrong in `registrar`.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The command line is inconsistent (for example `--service-file` with `--name`).
    #[error("{0}")]
    Usage(String),
    /// Definition files (or flags) describe an invalid service.
    #[error("{}", .0.iter().map(ToString::to_string).collect::<Vec<_>>().join("\n"))]
    Definition(Vec<Problem>),
    /// A file or directory could not be read, or a listener not bound.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file, directory or address concerned.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// Consul refused a request, or a definite Consul error.
    #[error(transparent)]
    Consul(#[from] dcy::Error),
    /// The supervised program could not be started or never became ready.
    #[error("{0}")]
    Child(String),
}

/// `Result<T, registrar::Error>`.
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// An I/O error about `path`.
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Error {
        Error::Io {
            path: path.into(),
            source,
        }
    }

    /// The process exit code for this error: 2 for bad input, 1 otherwise.
    pub fn exit_code(&self) -> u8 {
        match self {
            Error::Usage(_) | Error::Definition(_) => 2,
            _ => 1,
        }
    }
}
