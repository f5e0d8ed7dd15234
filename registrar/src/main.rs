//! `registrar`: register programs that cannot link dcy with Consul. The
//! process (flags, logging, runtime, exit codes) is in `bin.rs`.

mod bin;

fn main() -> std::process::ExitCode {
    bin::main_with(std::env::args())
}
