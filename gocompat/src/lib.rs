//! Go conventions that Consul's tools share, so that the toolkit's binaries
//! accept what users already type:
//!
//! - [`flags::normalize`]: Go's `flag` package syntax (`-http-port=0`,
//!   `-dev`) on top of clap's `--long` options;
//! - [`duration`]: `time.ParseDuration` and `time.Duration.String()`, and
//!   [`duration::human`] for durations in messages;
//! - [`parse_bool`], Go's `strconv.ParseBool`.
#![warn(missing_docs)]

pub mod duration;
pub mod flags;

/// Go's `strconv.ParseBool`: `1 t T TRUE true True` and `0 f F FALSE false False`.
///
/// ```
/// assert_eq!(gocompat::parse_bool("T"), Some(true));
/// assert_eq!(gocompat::parse_bool("0"), Some(false));
/// assert_eq!(gocompat::parse_bool("yes"), None);
/// ```
pub fn parse_bool(v: &str) -> Option<bool> {
    match v {
        "1" | "t" | "T" | "TRUE" | "true" | "True" => Some(true),
        "0" | "f" | "F" | "FALSE" | "false" | "False" => Some(false),
        _ => None,
    }
}
