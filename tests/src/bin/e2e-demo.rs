//! The `demo` binary, for the end-to-end tests.
fn main() -> std::process::ExitCode {
    demo::main()
}
