//! The `app` binary, for the end-to-end tests.
fn main() -> std::process::ExitCode {
    app::main()
}
