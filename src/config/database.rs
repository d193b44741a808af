//! Postgres: `DATABASE_URL`, `DATABASE_POOL_SIZE`.

use super::ConfigError;
use super::secret::ServiceUrl;
use super::vars::Vars;

pub const DEFAULT_DATABASE_URL: &str = "postgres://screema:screema@127.0.0.1:5432/screema";

#[derive(Debug, Clone)]
pub struct DatabaseSettings {
    /// May carry the password: `Debug` shows it as `***`.
    pub url: ServiceUrl,
    /// Connections per server process.
    pub pool_size: usize,
}

impl DatabaseSettings {
    pub(super) fn read(vars: &Vars) -> Result<Self, ConfigError> {
        let url = vars.string("DATABASE_URL", DEFAULT_DATABASE_URL);
        if !(url.starts_with("postgres://") || url.starts_with("postgresql://")) {
            return Err(ConfigError::new(
                "DATABASE_URL",
                "expected a postgres:// URL",
            ));
        }
        Ok(Self {
            url: ServiceUrl::new(url),
            pool_size: vars.number("DATABASE_POOL_SIZE", 16, 1)?,
        })
    }
}
