//! registrar
#![warn(missing_docs)]

pub mod definition;
pub mod error;
mod locate;
pub mod validate;

pub use error::{Error, Result};
