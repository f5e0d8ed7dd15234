//! The `templater` binary, for the end-to-end tests.
fn main() -> std::process::ExitCode {
    templater::bin::main()
}
