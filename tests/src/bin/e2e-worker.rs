//! The `worker` binary, for the end-to-end tests.
fn main() -> std::process::ExitCode {
    worker::main()
}
