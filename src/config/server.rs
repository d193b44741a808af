//! The HTTP server: where it listens, who may call it from a browser, which proxies
//! are believed, how it stops, how it logs.

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use super::vars::{Unit, Vars};
use super::{AppEnv, ConfigError};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    Pretty,
    Json,
}

#[derive(Debug, Clone)]
pub struct ServerSettings {
    pub bind_addr: SocketAddr,
    /// Public base URL, used for the links the server prints.
    pub public_url: Option<String>,
    pub cors_origins: Vec<String>,
    /// Peers whose `X-Forwarded-For` is believed (load balancers in front of us).
    pub trusted_proxies: Vec<IpAddr>,
    /// How long a shutting-down node waits for requests in flight and the outbox item
    /// in hand before it exits anyway.
    pub shutdown_grace: Duration,
    pub log_format: LogFormat,
    /// The reference web app's built files (`clients/web`, `npm run build`), served at
    /// `/app/`.
    pub web_app_dir: std::path::PathBuf,
}

impl ServerSettings {
    pub(super) fn read(vars: &Vars, env: AppEnv) -> Result<Self, ConfigError> {
        let bind_raw = vars.string("BIND_ADDR", "127.0.0.1:8080");
        let bind_addr = bind_raw.parse().map_err(|_| {
            ConfigError::new("BIND_ADDR", format!("expected host:port, got `{bind_raw}`"))
        })?;
        let cors_origins = vars.list("CORS_ORIGINS").unwrap_or_else(|| match env {
            AppEnv::Development => vec![
                "http://localhost:3000".to_owned(),
                "http://localhost:5173".to_owned(),
            ],
            AppEnv::Production => Vec::new(),
        });
        for origin in &cors_origins {
            if !(origin.starts_with("http://") || origin.starts_with("https://")) {
                return Err(ConfigError::new(
                    "CORS_ORIGINS",
                    format!("`{origin}` is not an http(s) origin"),
                ));
            }
        }
        let trusted_proxies = vars
            .list("TRUSTED_PROXIES")
            .unwrap_or_default()
            .iter()
            .map(|ip| {
                ip.parse().map_err(|_| {
                    ConfigError::new("TRUSTED_PROXIES", format!("`{ip}` is not an IP address"))
                })
            })
            .collect::<Result<_, _>>()?;
        Ok(Self {
            bind_addr,
            public_url: vars.get("PUBLIC_URL"),
            cors_origins,
            trusted_proxies,
            shutdown_grace: vars.duration(
                "SHUTDOWN_GRACE_SECONDS",
                Duration::from_secs(25),
                Unit::Seconds,
                Duration::ZERO,
            )?,
            log_format: vars.choice(
                "LOG_FORMAT",
                LogFormat::Pretty,
                &[("pretty", LogFormat::Pretty), ("json", LogFormat::Json)],
            )?,
            web_app_dir: vars.string("WEB_APP_DIR", "clients/web/dist").into(),
        })
    }

    /// The address people type into a browser.
    pub fn base_url(&self) -> String {
        match &self.public_url {
            Some(url) => url.trim_end_matches('/').to_owned(),
            None => format!("http://{}", self.bind_addr),
        }
    }
}
