//! The `devagent` binary, for the end-to-end tests.
fn main() -> std::process::ExitCode {
    devagent::cli::main()
}
