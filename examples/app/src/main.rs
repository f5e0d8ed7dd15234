//! `app`: see the library.
fn main() -> std::process::ExitCode {
    app::main()
}
