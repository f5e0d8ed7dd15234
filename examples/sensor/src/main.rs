//! `sensor`: see the library. The process (logging, runtime, exit code) is
//! kit's `bin/entry.rs`, compiled into this binary.

use clap::Parser;

#[path = "../../kit/bin/entry.rs"]
mod entry;

/// Parses the flags and serves until SIGINT or SIGTERM (`pub(crate)`: the
/// end-to-end tests' `e2e-sensor` compiles this file too).
pub(crate) fn main() -> std::process::ExitCode {
    let args = sensor::Args::parse_from(gocompat::flags::normalize(std::env::args()));
    entry::run(|| {
        sensor::run(args, kit::shutdown_signal(), |addr| {
            println!("sensor listening on {addr}")
        })
    })
}
