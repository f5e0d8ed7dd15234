//! `grpc-worker`: see the library.
fn main() -> std::process::ExitCode {
    use clap::Parser;
    let args = grpc_worker::Args::parse_from(gocompat::flags::normalize(std::env::args()));
    grpc_worker::block_on(async move {
        let client = dcy::Client::from_env()?;
        grpc_worker::run(args, &client, grpc_worker::shutdown_signal(), |addr| {
            println!("grpc-worker listening on {addr}")
        })
        .await
    })
}
