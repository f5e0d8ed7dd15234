//! `sensor`: see the library.
fn main() -> std::process::ExitCode {
    sensor::main()
}
