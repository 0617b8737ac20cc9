//! The `alpr` command: parses arguments, sets up tracing and hands over to the library.

use clap::Parser;

// jemalloc in place of glibc's malloc, for Rust and C code alike. librdkafka's broker thread
// allocates every fetched message and the thread that consumes it frees it. glibc's `free`
// then takes the allocating thread's arena lock and often has to wake that thread through a
// futex, which took 8 % of a matcher's samples while it drained reads. In side-by-side runs of
// `pipeline-bench` with a 1 M-entry hotlist, the at-least-once matcher drained 1.3 to 1.5 times
// as many reads per second with jemalloc (BENCHMARKS.md has the runs).
#[cfg(target_os = "linux")]
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

fn main() -> std::process::ExitCode {
    let cli = alpr::cli::Cli::parse();
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("error: cannot start the async runtime: {error}");
            return std::process::ExitCode::FAILURE;
        }
    };
    match runtime.block_on(alpr::cli::execute(cli)) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
