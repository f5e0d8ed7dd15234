//! `devagent`: run a Consul-compatible dev agent (`devagent agent -dev`).

fn main() -> std::process::ExitCode {
    devagent::cli::main()
}
