//! `templater`: render config files from Consul (consul-template compatible).

//!
//! The process: flags, logging, the runtime, signals and exit codes are in
//! [`bin`]; rendering is the library's ([`templater::run`]).

mod bin;

fn main() -> std::process::ExitCode {
    bin::main()
}
