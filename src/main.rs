use std::process::ExitCode;
use std::time::Duration;

// A request allocates and frees hundreds of small values, often on different worker
// threads; glibc's malloc spent a fifth of the catalog page's CPU doing it (perf,
// BENCHMARKS.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("screema: starting the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(screema::cli::run(std::env::args().collect()));
    // Blocking work still under way (a password being hashed for a request the grace
    // period gave up on) must not hold the exit up: the shutdown has its own bound.
    runtime.shutdown_timeout(Duration::from_millis(200));
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("screema: {e:#}");
            ExitCode::FAILURE
        }
    }
}
