//! `demo`: see the library (`cargo run --release --bin demo`).
fn main() -> std::process::ExitCode {
    demo::main()
}
