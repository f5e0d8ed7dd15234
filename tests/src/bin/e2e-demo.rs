//! The `demo` binary, for the end-to-end tests: the demo's own `main.rs`,
//! compiled into this binary.
#[path = "../../../examples/demo/src/main.rs"]
mod bin;

fn main() -> std::process::ExitCode {
    bin::main()
}
