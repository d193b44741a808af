//! Postgres: `DATABASE_URL`, `DATABASE_POOL_SIZE`, and an optional streaming replica for
//! catalog reads: `DATABASE_READ_URL`, `DATABASE_READ_RETRY_MS`.

use super::ConfigError;
use super::secret::ServiceUrl;
use super::vars::{Unit, Vars};

pub const DEFAULT_DATABASE_URL: &str = "postgres://screema:screema@127.0.0.1:5432/screema";

#[derive(Debug, Clone)]
pub struct DatabaseSettings {
    /// May carry the password: `Debug` shows it as `***`.
    pub url: ServiceUrl,
    /// Connections per server process.
    pub pool_size: usize,
    /// A streaming replica that serves catalog reads (`db::reads`); `None`: the primary
    /// serves everything.
    pub read_url: Option<ServiceUrl>,
    /// How long the replica is left alone after it failed a read.
    pub read_retry: std::time::Duration,
}

fn postgres_url(var: &'static str, url: &str) -> Result<(), ConfigError> {
    if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        Ok(())
    } else {
        Err(ConfigError::new(var, "expected a postgres:// URL"))
    }
}

impl DatabaseSettings {
    pub(super) fn read(vars: &Vars) -> Result<Self, ConfigError> {
        let url = vars.string("DATABASE_URL", DEFAULT_DATABASE_URL);
        postgres_url("DATABASE_URL", &url)?;
        let read_url = vars.get("DATABASE_READ_URL");
        if let Some(read_url) = &read_url {
            postgres_url("DATABASE_READ_URL", read_url)?;
        }
        Ok(Self {
            url: ServiceUrl::new(url),
            pool_size: vars.number("DATABASE_POOL_SIZE", 16, 1)?,
            read_url: read_url.map(ServiceUrl::new),
            read_retry: vars.duration(
                "DATABASE_READ_RETRY_MS",
                std::time::Duration::from_secs(5),
                Unit::Millis,
                std::time::Duration::from_millis(1),
            )?,
        })
    }
}
