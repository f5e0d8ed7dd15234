//! `worker`: see the library.
fn main() -> std::process::ExitCode {
    worker::main()
}
