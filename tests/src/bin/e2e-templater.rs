//! The `templater` binary, for the end-to-end tests: templater's own
//! command line (`templater/src/bin.rs`), compiled into this binary.
#[path = "../../../templater/src/bin.rs"]
mod bin;

fn main() -> std::process::ExitCode {
    bin::main()
}
