//! templater
