//! The command line: `serve`, `migrate`, `seed`, `print-schema`, through clap's
//! derive so that `screema --help` and `screema <command> --help` say what exists.
//! Configuration is not taken from flags: it comes from the environment
//! (`Config::from_env`), the one source scripts, tests and deployments share; the
//! help of each command lists the variables.

use anyhow::Context;
use clap::error::{ContextKind, ContextValue, ErrorKind};
use clap::{CommandFactory, Parser, Subcommand};
use secrecy::ExposeSecret;
use tokio::net::TcpListener;

use crate::app::App;
use crate::config::{self, Config};
use crate::{db, graphql, http, seed, telemetry};

#[derive(Debug, Parser)]
#[command(
    name = "screema",
    version,
    about = "SCREEMA: a cinema seat-booking backend (GraphQL over Postgres and Redis)",
    after_help = "Configuration comes from environment variables, each with a development \
                  default: `screema serve --help` lists them, README.md (\"Configuration\") \
                  says what each means."
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Subcommand)]
enum Command {
    /// Serve the API, after running pending migrations
    ///
    /// GraphQL at /graphql (GraphiQL from a browser, websockets for subscriptions),
    /// /health/live, /health/ready and /metrics. SIGTERM or Ctrl-C stops it within
    /// SHUTDOWN_GRACE_SECONDS.
    #[command(after_help = config::variables_help())]
    Serve,
    /// Run pending database migrations and exit
    #[command(after_help = "Reads DATABASE_URL (and refuses a bad value of any variable).")]
    Migrate,
    /// Load the demo catalog, showtimes and users (idempotent; no demo users in production)
    #[command(
        after_help = "Runs pending migrations first. Reads the variables `serve` reads \
                            (`screema serve --help`): DATABASE_URL above all; with \
                            APP_ENV=production no demo users are made."
    )]
    Seed,
    /// Print the GraphQL schema (SDL) to standard output, as `schema.graphql` holds it
    PrintSchema,
}

/// Runs the command line `args` (the program's name first).
pub async fn run(args: Vec<String>) -> anyhow::Result<()> {
    let command = match Cli::try_parse_from(args) {
        Ok(Cli {
            command: Some(command),
        }) => command,
        // Nothing to do: say what there is.
        Ok(Cli { command: None }) => {
            println!("{}", Cli::command().render_help());
            return Ok(());
        }
        Err(e) => return usage_error(e),
    };
    match command {
        Command::PrintSchema => {
            print!("{}", graphql::sdl());
            Ok(())
        }
        Command::Migrate => migrate(&configure()?).await,
        Command::Seed => {
            let config = configure()?;
            migrate(&config).await?;
            let app = App::build(config)?;
            let mut conn = app.db().await.context("connecting to Postgres")?;
            let report = seed::run(
                &mut conn,
                app.config.env,
                app.now().date_naive(),
                app.config.catalog.cleaning_gap,
                app.config.currency,
            )
            .await?;
            println!("seeded: {report}");
            Ok(())
        }
        Command::Serve => serve(configure()?).await,
    }
}

/// The configuration from the environment, and logging as it asks.
fn configure() -> anyhow::Result<Config> {
    let config = Config::from_env().context("invalid configuration")?;
    telemetry::init(config.server.log_format);
    Ok(config)
}

/// `--help` and `--version` print and succeed; anything else clap refuses fails with
/// its message (an unknown command with the list of commands).
fn usage_error(e: clap::Error) -> anyhow::Result<()> {
    match e.kind() {
        ErrorKind::DisplayHelp | ErrorKind::DisplayVersion => {
            println!("{}", e.render().to_string().trim_end());
            Ok(())
        }
        ErrorKind::InvalidSubcommand => {
            let name = match e.get(ContextKind::InvalidSubcommand) {
                Some(ContextValue::String(name)) => name.clone(),
                _ => String::new(),
            };
            anyhow::bail!(
                "unknown command `{name}`\n\n{}",
                Cli::command().render_help()
            )
        }
        _ => {
            let message = e.render().to_string();
            anyhow::bail!("{}", message.trim_start_matches("error: ").trim_end())
        }
    }
}

async fn migrate(config: &Config) -> anyhow::Result<()> {
    let applied = db::run_migrations(config.database.url.expose_secret()).await?;
    if applied.is_empty() {
        tracing::info!("database schema up to date");
    } else {
        tracing::info!(migrations = ?applied, "applied migrations");
    }
    Ok(())
}

async fn serve(config: Config) -> anyhow::Result<()> {
    migrate(&config).await?;
    let app = App::build(config)?;
    if let Err(e) = app.redis.ping().await {
        tracing::warn!(error = %e, "Redis is not reachable yet; /health/ready reports it until it is");
    }
    let listener = TcpListener::bind(app.config.server.bind_addr)
        .await
        .with_context(|| format!("binding {}", app.config.server.bind_addr))?;
    let base = app.config.base_url();
    tracing::info!(addr = %app.config.server.bind_addr, env = ?app.config.env, "SCREEMA listening");
    println!(
        "SCREEMA is up. GraphiQL: {base}/graphql  (health: {base}/health/ready, metrics: {base}/metrics)"
    );
    if app.config.server.web_app_dir.join("index.html").is_file() {
        println!("The web app: {base}/app/");
    }
    http::serve(app.clone(), listener, shutdown_signal()).await?;
    app.redis.quit().await;
    tracing::info!("stopped");
    Ok(())
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = terminate => {},
    }
}
