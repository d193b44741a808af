use std::process::ExitCode;

#[tokio::main]
async fn main() -> ExitCode {
    match screema::cli::run(std::env::args().collect()).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("screema: {e:#}");
            ExitCode::FAILURE
        }
    }
}
