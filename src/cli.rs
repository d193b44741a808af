//! The command line: `serve`, `migrate`, `seed`, `print-schema`.

use anyhow::Context;
use tokio::net::TcpListener;

use crate::app::App;
use crate::config::Config;
use crate::{db, graphql, http, seed, telemetry};
use secrecy::ExposeSecret;

const USAGE: &str = "usage: screema <command>

commands:
  serve          run migrations, then serve the API (GraphQL at /graphql)
  migrate        run pending database migrations and exit
  seed           load the demo catalog, showtimes and users (idempotent)
  print-schema   print the GraphQL schema (SDL) to standard output

configuration comes from environment variables; see README.md";

pub async fn run(args: Vec<String>) -> anyhow::Result<()> {
    let command = args.get(1).map(String::as_str).unwrap_or("");
    if command == "print-schema" {
        print!("{}", graphql::sdl());
        return Ok(());
    }
    if matches!(command, "" | "-h" | "--help" | "help") {
        println!("{USAGE}");
        return Ok(());
    }
    if !matches!(command, "serve" | "migrate" | "seed") {
        anyhow::bail!("unknown command `{command}`\n\n{USAGE}");
    }
    let config = Config::from_env().context("invalid configuration")?;
    telemetry::init(config.server.log_format);
    match command {
        "migrate" => migrate(&config).await,
        "seed" => {
            migrate(&config).await?;
            let app = App::build(config)?;
            let mut conn = app.db().await.context("connecting to Postgres")?;
            let report = seed::run(
                &mut conn,
                app.config.env,
                app.now().date_naive(),
                app.config.catalog.cleaning_gap,
            )
            .await?;
            println!("seeded: {report}");
            Ok(())
        }
        _ => serve(config).await,
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
