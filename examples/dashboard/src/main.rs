//! `dashboard`: see the library.
fn main() -> std::process::ExitCode {
    dashboard::main()
}
