//! The `app` binary, for the end-to-end tests: the example's own
//! `main.rs`, compiled into this binary.
#[path = "../../../examples/app/src/main.rs"]
mod bin;

fn main() -> std::process::ExitCode {
    bin::main()
}
