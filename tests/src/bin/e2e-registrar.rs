//! The `registrar` binary, for the end-to-end tests: registrar's own
//! process (`registrar/src/bin.rs`), compiled into this binary.
#[path = "../../../registrar/src/bin.rs"]
mod bin;

fn main() -> std::process::ExitCode {
    bin::main_with(std::env::args())
}
