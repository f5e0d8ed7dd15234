//! `devagent`: run a Consul-compatible dev agent (`devagent agent -dev`).

/// jemalloc keeps an idle held connection small: hyper gives every connection
/// an 8 KiB read and an 8 KiB write buffer up front, and jemalloc's slabs leave
/// the untouched parts of them out of RSS, where glibc's inline chunk headers
/// do not (16 KB against about 9 KB per waiting blocking query).
#[cfg(feature = "jemalloc")]
#[global_allocator]
static ALLOC: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

mod cli;

fn main() -> std::process::ExitCode {
    cli::main()
}
