//! `templater`: render config files from Consul (consul-template compatible).

fn main() -> std::process::ExitCode {
    templater::bin::main()
}
