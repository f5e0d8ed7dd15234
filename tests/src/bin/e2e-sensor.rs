//! The `sensor` binary, for the end-to-end tests.
fn main() -> std::process::ExitCode {
    sensor::main()
}
