//! `screema-load`: drives a running SCREEMA server over HTTP and websockets and reports
//! throughput, latency percentiles (HDR histograms), errors by code and the server's
//! resident memory, as Markdown and JSON. Loopback only: it refuses any other host.
//!
//! Fixtures (users, rooms, showtimes) are prepared before the clock starts: users are
//! written straight into the database with tokens signed by the server's `JWT_SECRET`
//! (registering thousands of users through argon2 would measure argon2), and the catalog
//! is created through the admin API.

mod args;
mod broadcast;
mod client;
mod fixtures;
mod report;
mod scenarios;
mod stats;
mod ws;

use std::process::ExitCode;

// The server's allocator: the client builds and drops an answer's JSON per request, and
// with glibc's allocator that was a third of its CPU in a flash sale (perf), taken
// from the machine the server is measured on.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use anyhow::Context;

const USAGE: &str = "usage: screema-load <scenario> [options]

scenarios:
  health       GET /health/live: the HTTP ceiling of this machine
  catalog      the home screen's movies query from --connections clients
  holds        users holding and releasing seats across many showtimes
  flash-sale   --buyers racing for the --seats of one showtime, with --subscribers watching
  best-available  --buyers (2,000) asking holdBestAvailable for 2-4 seats each of one
               showtime (--seats 1,000) at once; each hold replayed against the ranking
  waitlist     a sold-out showtime (--seats 200), --buyers (500) on its waiting list, a
               tenth of the bookings refunded: every freed seat offered once, live
  subscribers  --subscribers websocket subscribers on --showtimes showtimes while holds are made
  fanout       --subscribers (19,000) on ONE showtime, --changes (10) seat changes one at a
               time: when each subscriber has each; then the same client against a raw
               websocket broadcast server (below) the tool starts itself, as the ceiling
  checkout     hold, book, pay (simulated gateway), confirmed, end to end
  peer         the home screen asked of SCREEMA (cache on, --url; cache off,
               --uncached-url) and of PostGraphile (--peer-url) in alternating legs

options (defaults depend on the scenario):
  --url URL            server (default http://127.0.0.1:8080; loopback only)
  --duration SECONDS   how long the timed phase runs
  --requests N         stop after N requests (catalog, health, holds)
  --connections N      concurrent clients
  --buyers N           flash-sale buyers
  --seats N            flash-sale seats
  --subscribers N      websocket subscribers
  --showtimes N        showtimes to spread over
  --changes N          fanout: seat changes, one at a time
  --server-pid PID     read the server's resident memory from /proc
  --uncached-url URL   peer: a SCREEMA node with CATALOG_CACHE_TTL_MS=0
  --peer-url URL       peer: PostGraphile's base URL
  --out DIR            where <scenario>.md and <scenario>.json go (default target/load)

environment: DATABASE_URL and JWT_SECRET as the server has them (same defaults)

screema-load broadcast-server [--port P]
               the raw broadcast server `fanout` measures against (it starts one itself):
               graphql-transport-ws subscribers get a snapshot, then every frame sent
               through its /control socket, encoded once";

#[tokio::main]
async fn main() -> ExitCode {
    let argv: Vec<String> = std::env::args().skip(1).collect();
    if argv.first().is_some_and(|a| a == "broadcast-server") {
        if argv.iter().any(|a| a == "-h" || a == "--help") {
            println!("{}", broadcast::USAGE);
            return ExitCode::SUCCESS;
        }
        return match broadcast::serve(&argv[1..]).await {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("screema-load broadcast-server: {e:#}");
                ExitCode::FAILURE
            }
        };
    }
    if argv.is_empty() || argv.iter().any(|a| a == "-h" || a == "--help") {
        println!("{USAGE}");
        return ExitCode::SUCCESS;
    }
    match run(argv).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("screema-load: {e:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run(argv: Vec<String>) -> anyhow::Result<()> {
    let args = args::Args::parse(&argv).with_context(|| format!("\n\n{USAGE}"))?;
    let report = scenarios::run(&args).await?;
    let (md, json) = report.write(&args.out)?;
    println!("{}", report.markdown());
    println!("written: {} and {}", md.display(), json.display());
    if report.failed_checks() > 0 {
        anyhow::bail!("{} check(s) failed", report.failed_checks());
    }
    Ok(())
}
