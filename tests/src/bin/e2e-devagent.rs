//! The `devagent` binary, for the end-to-end tests: devagent's own command
//! line (`devagent/src/cli.rs`), compiled into this binary.
#[path = "../../../devagent/src/cli.rs"]
mod cli;

fn main() -> std::process::ExitCode {
    cli::main()
}
