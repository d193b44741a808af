//! Typed configuration, read once from the environment.
//!
//! Every variable has a development default so that `screema serve` works on a
//! laptop; in production the defaults that are secrets are refused.

use std::net::SocketAddr;
use std::time::Duration;

use crate::money::Currency;

pub const DEFAULT_DATABASE_URL: &str = "postgres://screema:screema@127.0.0.1:5432/screema";
pub const DEFAULT_REDIS_URL: &str = "redis://127.0.0.1:6379";
pub const DEFAULT_JWT_SECRET: &str = "screema-development-jwt-secret-change-me";
const DEFAULT_WEBHOOK_SECRET: &str = "whsec_screema_development_only";
/// The development ticket-signing key (64 hex digits, an Ed25519 seed).
const DEFAULT_TICKET_KEY: &str = "5c7eea5c7eea5c7eea5c7eea5c7eea5c7eea5c7eea5c7eea5c7eea5c7eea5c7e";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AppEnv {
    Development,
    Production,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    Pretty,
    Json,
}

/// Who may read the schema through `__schema` and `__type` (`GRAPHQL_INTROSPECTION`).
/// `__typename` is always open: Apollo Client selects it everywhere.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Introspection {
    /// Anyone: the development default, and for a public API.
    Open,
    /// Signed-in admins (GraphiQL with an admin's token): the production default.
    Admins,
    /// Nobody; the schema is only in the repository's `schema.graphql`.
    Off,
}

#[derive(Clone)]
pub struct Config {
    pub env: AppEnv,
    pub database_url: String,
    pub database_pool_size: usize,
    /// How long a catalog read may be served from memory at most; admin changes clear
    /// it at once on every node. Zero turns the cache off.
    pub catalog_cache_ttl: Duration,
    /// How long a shutting-down node waits for requests in flight and the outbox item
    /// in hand before it exits anyway.
    pub shutdown_grace: Duration,
    pub redis_url: String,
    pub redis_key_prefix: String,
    pub bind_addr: SocketAddr,
    /// Public base URL, used for the links the server prints.
    pub public_url: Option<String>,
    pub jwt_secret: String,
    pub stripe_secret_key: Option<String>,
    pub stripe_webhook_secret: String,
    pub stripe_api_base: Option<String>,
    pub cors_origins: Vec<String>,
    pub currency: Currency,
    pub graphql: GraphqlLimits,
    pub auth: AuthSettings,
    pub rate_limits: RateLimits,
    pub websockets: WebsocketLimits,
    /// Peers whose `X-Forwarded-For` is believed (load balancers in front of us).
    pub trusted_proxies: Vec<std::net::IpAddr>,
    /// Added to a film's running time to get the showtime's end: the room is cleaned.
    pub cleaning_gap: Duration,
    pub holds: HoldSettings,
    pub payments: PaymentSettings,
    pub tickets: TicketSettings,
    pub messaging: MessagingSettings,
    pub tiers: crate::loyalty::Tiers,
    pub ticket_store: TicketStore,
    pub log_format: LogFormat,
}

/// Where ticket images are kept.
#[derive(Clone)]
pub enum TicketStore {
    /// A local folder (the default, `data/tickets`).
    Local { dir: std::path::PathBuf },
    /// An S3 bucket; credentials from `AWS_ACCESS_KEY_ID` and `AWS_SECRET_ACCESS_KEY`.
    S3 {
        bucket: String,
        region: String,
        endpoint: Option<String>,
        access_key_id: Option<String>,
        secret_access_key: Option<String>,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SmtpTls {
    None,
    StartTls,
    Tls,
}

#[derive(Clone)]
pub struct SmtpSettings {
    pub host: String,
    pub port: u16,
    pub tls: SmtpTls,
    pub username: Option<String>,
    pub password: Option<String>,
}

#[derive(Clone)]
pub struct SmsSettings {
    /// A Twilio-style API: `POST {base}/2010-04-01/Accounts/{sid}/Messages.json`.
    pub api_base: String,
    pub account_sid: String,
    pub auth_token: String,
    pub from: String,
}

/// Where customers' emails and text messages go; either may be absent, and then
/// those messages are skipped (and logged).
#[derive(Clone)]
pub struct MessagingSettings {
    pub smtp: Option<SmtpSettings>,
    pub mail_from: String,
    pub sms: Option<SmsSettings>,
}

#[derive(Clone, Copy)]
pub struct TicketSettings {
    /// The Ed25519 seed that signs ticket codes.
    pub signing_seed: [u8; 32],
    /// Check-in opens this long before a showtime starts (and closes when it ends).
    pub check_in_opens: Duration,
}

impl std::fmt::Debug for TicketSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TicketSettings")
            .field("signing_seed", &"***")
            .field("check_in_opens", &self.check_in_opens)
            .finish()
    }
}

#[derive(Debug, Clone, Copy)]
pub struct PaymentSettings {
    /// Customers may refund until this long before the showtime starts.
    pub refund_cutoff: Duration,
    /// How far a webhook signature's timestamp may be from our clock.
    pub webhook_tolerance: Duration,
    /// How long the simulated gateway waits before confirming a payment.
    pub simulated_delay: Duration,
    /// How often each node looks for outbox rows to deliver.
    pub outbox_poll: Duration,
}

#[derive(Debug, Clone, Copy)]
pub struct HoldSettings {
    /// How long a hold lasts, and what each extension adds.
    pub ttl: Duration,
    /// No hold lasts longer than this from when it was made.
    pub max_hold: Duration,
    pub max_seats_per_user: usize,
    /// How often lapsed holds are looked for.
    pub sweep_interval: Duration,
    /// How many seat-map events a live subscriber may fall behind before it is sent a
    /// snapshot instead.
    pub live_backlog: usize,
}

#[derive(Debug, Clone, Copy)]
pub struct AuthSettings {
    pub access_token_ttl: Duration,
    pub refresh_token_ttl: Duration,
    /// Argon2id memory cost in KiB and passes (OWASP: 19 MiB, 2).
    pub argon2_memory_kib: u32,
    pub argon2_iterations: u32,
    /// Password hashes computed at once (each takes `argon2_memory_kib`), and how
    /// many more may wait for a turn before sign-ins are refused as RATE_LIMITED.
    pub password_hash_concurrency: usize,
    pub password_hash_queue: usize,
}

/// `count` requests per `window`; `None` means no limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimit {
    pub count: u32,
    pub window: Duration,
}

#[derive(Debug, Clone, Copy)]
pub struct RateLimits {
    pub general: Option<RateLimit>,
    pub booking: Option<RateLimit>,
    /// Failed sign-ins, per email and per client.
    pub login: Option<RateLimit>,
}

/// Caps on websockets (`graphql::engine::ws`).
#[derive(Debug, Clone, Copy)]
pub struct WebsocketLimits {
    /// Operations one socket may have running at once (subscriptions, and queries
    /// and mutations not yet answered).
    pub max_operations: usize,
    /// Sockets one client IP may hold open on one node; `None`: no cap.
    pub max_connections_per_client: Option<usize>,
}

impl RateLimit {
    /// `100/15m`, `5/1m`, `10/30s`, `1000/1h`, or `off`.
    pub fn parse(raw: &str) -> Result<Option<Self>, String> {
        let raw = raw.trim();
        if raw.eq_ignore_ascii_case("off") {
            return Ok(None);
        }
        let bad = || format!("expected e.g. `100/15m` or `off`, got `{raw}`");
        let (count, window) = raw.split_once('/').ok_or_else(bad)?;
        let count: u32 = count
            .trim()
            .parse()
            .ok()
            .filter(|c| *c > 0)
            .ok_or_else(bad)?;
        let window = window.trim();
        let (digits, unit) = window.split_at(
            window
                .find(|c: char| !c.is_ascii_digit())
                .unwrap_or(window.len()),
        );
        let n: u64 = if digits.is_empty() {
            1
        } else {
            digits.parse().map_err(|_| bad())?
        };
        let seconds = match unit {
            "s" => n,
            "m" => n * 60,
            "h" => n * 3600,
            _ => return Err(bad()),
        };
        if seconds == 0 {
            return Err(bad());
        }
        Ok(Some(Self {
            count,
            window: Duration::from_secs(seconds),
        }))
    }
}

#[derive(Debug, Clone, Copy)]
pub struct GraphqlLimits {
    pub max_depth: usize,
    pub max_complexity: usize,
    pub max_body_bytes: usize,
    pub introspection: Introspection,
    /// How long a dataloader waits to gather keys into one batch.
    pub batch_delay: Duration,
    /// How long a health probe waits for Postgres or Redis before calling it down.
    pub probe_timeout: Duration,
}

impl std::fmt::Debug for Config {
    // Secrets never reach a log line.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Config")
            .field("env", &self.env)
            .field("database_url", &redact_url(&self.database_url))
            .field("database_pool_size", &self.database_pool_size)
            .field("redis_url", &redact_url(&self.redis_url))
            .field("redis_key_prefix", &self.redis_key_prefix)
            .field("bind_addr", &self.bind_addr)
            .field("stripe", &self.stripe_secret_key.is_some())
            .field("cors_origins", &self.cors_origins)
            .field("currency", &self.currency)
            .field("graphql", &self.graphql)
            .finish_non_exhaustive()
    }
}

/// A configuration problem, naming the variable at fault.
#[derive(Debug, thiserror::Error)]
#[error("{var}: {message}")]
pub struct ConfigError {
    pub var: &'static str,
    pub message: String,
}

impl ConfigError {
    fn new(var: &'static str, message: impl Into<String>) -> Self {
        Self {
            var,
            message: message.into(),
        }
    }
}

impl Config {
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|key| std::env::var(key).ok())
    }

    /// Builds the configuration from any source of variables (tests pass a map).
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let get = |key: &str| lookup(key).filter(|v| !v.trim().is_empty());
        let env = match get("APP_ENV").as_deref() {
            None | Some("development") | Some("dev") | Some("test") => AppEnv::Development,
            Some("production") | Some("prod") => AppEnv::Production,
            Some(other) => {
                return Err(ConfigError::new(
                    "APP_ENV",
                    format!("expected `development` or `production`, got `{other}`"),
                ));
            }
        };
        let parse_num =
            |var: &'static str, default: usize, min: usize| -> Result<usize, ConfigError> {
                match get(var) {
                    None => Ok(default),
                    Some(v) => match v.trim().parse::<usize>() {
                        Ok(n) if n >= min => Ok(n),
                        _ => Err(ConfigError::new(
                            var,
                            format!("expected a whole number ≥ {min}, got `{v}`"),
                        )),
                    },
                }
            };

        let database_url = get("DATABASE_URL").unwrap_or_else(|| DEFAULT_DATABASE_URL.to_owned());
        if !(database_url.starts_with("postgres://") || database_url.starts_with("postgresql://")) {
            return Err(ConfigError::new(
                "DATABASE_URL",
                "expected a postgres:// URL",
            ));
        }
        let redis_url = get("REDIS_URL").unwrap_or_else(|| DEFAULT_REDIS_URL.to_owned());
        if !(redis_url.starts_with("redis://")
            || redis_url.starts_with("rediss://")
            || redis_url.starts_with("redis-cluster://"))
        {
            return Err(ConfigError::new("REDIS_URL", "expected a redis:// URL"));
        }
        let redis_key_prefix = get("REDIS_KEY_PREFIX").unwrap_or_else(|| "screema".to_owned());
        if redis_key_prefix.contains(['{', '}', ' ', '*']) {
            return Err(ConfigError::new(
                "REDIS_KEY_PREFIX",
                "must not contain braces, spaces or `*`",
            ));
        }
        let bind_raw = get("BIND_ADDR").unwrap_or_else(|| "127.0.0.1:8080".to_owned());
        let bind_addr = bind_raw.parse().map_err(|_| {
            ConfigError::new("BIND_ADDR", format!("expected host:port, got `{bind_raw}`"))
        })?;
        let currency_raw = get("CURRENCY").unwrap_or_else(|| "USD".to_owned());
        let currency = Currency::parse(&currency_raw).map_err(|_| {
            ConfigError::new(
                "CURRENCY",
                format!("expected an ISO 4217 code, got `{currency_raw}`"),
            )
        })?;
        let log_format = match get("LOG_FORMAT").as_deref() {
            None | Some("pretty") => LogFormat::Pretty,
            Some("json") => LogFormat::Json,
            Some(other) => {
                return Err(ConfigError::new(
                    "LOG_FORMAT",
                    format!("expected `pretty` or `json`, got `{other}`"),
                ));
            }
        };

        let introspection = match get("GRAPHQL_INTROSPECTION").as_deref() {
            None if env == AppEnv::Production => Introspection::Admins,
            None => Introspection::Open,
            Some("open") => Introspection::Open,
            Some("admins") => Introspection::Admins,
            Some("off") => Introspection::Off,
            Some(other) => {
                return Err(ConfigError::new(
                    "GRAPHQL_INTROSPECTION",
                    format!("expected `open`, `admins` or `off`, got `{other}`"),
                ));
            }
        };

        let jwt_secret = get("JWT_SECRET").unwrap_or_else(|| DEFAULT_JWT_SECRET.to_owned());
        let stripe_webhook_secret =
            get("STRIPE_WEBHOOK_SECRET").unwrap_or_else(|| DEFAULT_WEBHOOK_SECRET.to_owned());
        let ticket_key = get("TICKET_SIGNING_KEY").unwrap_or_else(|| DEFAULT_TICKET_KEY.to_owned());
        let signing_seed: [u8; 32] = hex::decode(ticket_key.trim())
            .ok()
            .and_then(|bytes| bytes.try_into().ok())
            .ok_or_else(|| {
                ConfigError::new(
                    "TICKET_SIGNING_KEY",
                    "expected 64 hex digits (an Ed25519 seed)",
                )
            })?;
        if env == AppEnv::Production {
            if jwt_secret == DEFAULT_JWT_SECRET {
                return Err(ConfigError::new(
                    "JWT_SECRET",
                    "the development default is refused in production",
                ));
            }
            if jwt_secret.len() < 32 {
                return Err(ConfigError::new(
                    "JWT_SECRET",
                    "must be at least 32 characters in production",
                ));
            }
            if stripe_webhook_secret == DEFAULT_WEBHOOK_SECRET {
                return Err(ConfigError::new(
                    "STRIPE_WEBHOOK_SECRET",
                    "the development default is refused in production",
                ));
            }
            if ticket_key.trim() == DEFAULT_TICKET_KEY {
                return Err(ConfigError::new(
                    "TICKET_SIGNING_KEY",
                    "the development default is refused in production",
                ));
            }
        }

        let cors_origins = get("CORS_ORIGINS")
            .map(|v| {
                v.split(',')
                    .map(|o| o.trim().to_owned())
                    .filter(|o| !o.is_empty())
                    .collect()
            })
            .unwrap_or_else(|| match env {
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

        let rate = |var: &'static str, default: &str| -> Result<Option<RateLimit>, ConfigError> {
            RateLimit::parse(&get(var).unwrap_or_else(|| default.to_owned()))
                .map_err(|m| ConfigError::new(var, m))
        };
        let trusted_proxies = match get("TRUSTED_PROXIES") {
            None => Vec::new(),
            Some(list) => list
                .split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(|ip| {
                    ip.parse().map_err(|_| {
                        ConfigError::new("TRUSTED_PROXIES", format!("`{ip}` is not an IP address"))
                    })
                })
                .collect::<Result<_, _>>()?,
        };
        let secs =
            |var: &'static str, default: usize, min: usize| -> Result<Duration, ConfigError> {
                Ok(Duration::from_secs(parse_num(var, default, min)? as u64))
            };

        Ok(Self {
            auth: AuthSettings {
                access_token_ttl: secs("ACCESS_TOKEN_TTL_SECONDS", 15 * 60, 1)?,
                refresh_token_ttl: secs("REFRESH_TOKEN_TTL_SECONDS", 30 * 24 * 3600, 1)?,
                argon2_memory_kib: parse_num("ARGON2_MEMORY_KIB", 19 * 1024, 8)? as u32,
                argon2_iterations: parse_num("ARGON2_ITERATIONS", 2, 1)? as u32,
                password_hash_concurrency: parse_num(
                    "PASSWORD_HASH_CONCURRENCY",
                    machine_parallelism(),
                    1,
                )?,
                password_hash_queue: parse_num(
                    "PASSWORD_HASH_QUEUE",
                    16 * machine_parallelism(),
                    0,
                )?,
            },
            rate_limits: RateLimits {
                general: rate("RATE_LIMIT_GENERAL", "100/15m")?,
                booking: rate("RATE_LIMIT_BOOKING", "5/1m")?,
                login: rate("RATE_LIMIT_LOGIN", "10/15m")?,
            },
            websockets: WebsocketLimits {
                max_operations: parse_num("WS_MAX_SUBSCRIPTIONS", 50, 1)?,
                max_connections_per_client: match get("WS_MAX_CONNECTIONS_PER_CLIENT") {
                    Some(v) if v.trim().eq_ignore_ascii_case("off") => None,
                    _ => Some(parse_num("WS_MAX_CONNECTIONS_PER_CLIENT", 20, 1)?),
                },
            },
            trusted_proxies,
            cleaning_gap: Duration::from_secs(
                parse_num("CLEANING_GAP_MINUTES", 20, 0)? as u64 * 60,
            ),
            holds: HoldSettings {
                ttl: secs("HOLD_TTL_SECONDS", 600, 1)?,
                max_hold: secs("HOLD_MAX_SECONDS", 1800, 1)?,
                max_seats_per_user: parse_num("MAX_SEATS_PER_USER", 10, 1)?,
                sweep_interval: Duration::from_millis(
                    parse_num("SWEEP_INTERVAL_MS", 500, 10)? as u64
                ),
                live_backlog: parse_num("LIVE_BACKLOG", 64, 1)?,
            },
            payments: PaymentSettings {
                refund_cutoff: Duration::from_secs(
                    parse_num("REFUND_CUTOFF_MINUTES", 120, 0)? as u64 * 60,
                ),
                webhook_tolerance: secs("WEBHOOK_TOLERANCE_SECONDS", 300, 1)?,
                simulated_delay: Duration::from_millis(parse_num(
                    "SIMULATED_PAYMENT_DELAY_MS",
                    1500,
                    0,
                )? as u64),
                outbox_poll: Duration::from_millis(parse_num("OUTBOX_POLL_MS", 500, 10)? as u64),
            },
            ticket_store: match get("TICKET_STORE").as_deref() {
                None | Some("local") => TicketStore::Local {
                    dir: get("TICKET_STORE_DIR")
                        .unwrap_or_else(|| "data/tickets".to_owned())
                        .into(),
                },
                Some("s3") => TicketStore::S3 {
                    bucket: get("S3_BUCKET").ok_or_else(|| {
                        ConfigError::new("S3_BUCKET", "required when TICKET_STORE is s3")
                    })?,
                    region: get("S3_REGION").unwrap_or_else(|| "us-east-1".to_owned()),
                    endpoint: get("S3_ENDPOINT"),
                    access_key_id: get("AWS_ACCESS_KEY_ID"),
                    secret_access_key: get("AWS_SECRET_ACCESS_KEY"),
                },
                Some(other) => {
                    return Err(ConfigError::new(
                        "TICKET_STORE",
                        format!("expected `local` or `s3`, got `{other}`"),
                    ));
                }
            },
            tiers: crate::loyalty::Tiers::parse(
                &get("LOYALTY_TIERS").unwrap_or_else(|| crate::loyalty::DEFAULT_TIERS.to_owned()),
            )
            .map_err(|m| ConfigError::new("LOYALTY_TIERS", m))?,
            messaging: MessagingSettings {
                smtp: match get("SMTP_HOST") {
                    None => None,
                    Some(host) => {
                        let tls = match get("SMTP_TLS").as_deref() {
                            None | Some("starttls") => SmtpTls::StartTls,
                            Some("tls") => SmtpTls::Tls,
                            Some("none") => SmtpTls::None,
                            Some(other) => {
                                return Err(ConfigError::new(
                                    "SMTP_TLS",
                                    format!("expected `starttls`, `tls` or `none`, got `{other}`"),
                                ));
                            }
                        };
                        let default_port = match tls {
                            SmtpTls::Tls => 465,
                            SmtpTls::StartTls => 587,
                            SmtpTls::None => 25,
                        };
                        Some(SmtpSettings {
                            host,
                            port: u16::try_from(parse_num("SMTP_PORT", default_port, 1)?).map_err(
                                |_| ConfigError::new("SMTP_PORT", "expected a port number"),
                            )?,
                            tls,
                            username: get("SMTP_USERNAME"),
                            password: get("SMTP_PASSWORD"),
                        })
                    }
                },
                mail_from: get("MAIL_FROM")
                    .unwrap_or_else(|| "SCREEMA <tickets@screema.local>".to_owned()),
                sms: match get("SMS_API_BASE") {
                    None => None,
                    Some(api_base) => {
                        let need = |var: &'static str| {
                            get(var).ok_or_else(|| {
                                ConfigError::new(var, "required when SMS_API_BASE is set")
                            })
                        };
                        Some(SmsSettings {
                            api_base: api_base.trim_end_matches('/').to_owned(),
                            account_sid: need("SMS_ACCOUNT_SID")?,
                            auth_token: need("SMS_AUTH_TOKEN")?,
                            from: need("SMS_FROM")?,
                        })
                    }
                },
            },
            tickets: TicketSettings {
                signing_seed,
                check_in_opens: Duration::from_secs(
                    parse_num("CHECK_IN_OPENS_MINUTES", 60, 0)? as u64 * 60,
                ),
            },
            env,
            database_url,
            database_pool_size: parse_num("DATABASE_POOL_SIZE", 16, 1)?,
            redis_url,
            redis_key_prefix,
            bind_addr,
            public_url: get("PUBLIC_URL"),
            jwt_secret,
            stripe_secret_key: get("STRIPE_SECRET_KEY"),
            stripe_webhook_secret,
            stripe_api_base: get("STRIPE_API_BASE"),
            cors_origins,
            currency,
            graphql: GraphqlLimits {
                max_depth: parse_num("GRAPHQL_MAX_DEPTH", 15, 2)?,
                max_complexity: parse_num("GRAPHQL_MAX_COMPLEXITY", 1000, 10)?,
                max_body_bytes: parse_num("MAX_BODY_BYTES", 64 * 1024, 1024)?,
                introspection,
                batch_delay: Duration::from_millis(
                    parse_num("GRAPHQL_BATCH_DELAY_MS", 2, 0)? as u64
                ),
                probe_timeout: Duration::from_millis(
                    parse_num("HEALTH_PROBE_TIMEOUT_MS", 2000, 10)? as u64,
                ),
            },
            log_format,
            shutdown_grace: secs("SHUTDOWN_GRACE_SECONDS", 25, 0)?,
            catalog_cache_ttl: Duration::from_millis(
                parse_num("CATALOG_CACHE_TTL_MS", 10_000, 0)? as u64
            ),
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

fn redact_url(url: &str) -> String {
    // postgres://user:password@host → postgres://user:***@host
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme_end), Some(at)) if at > scheme_end => {
            let creds = &url[scheme_end + 3..at];
            match creds.find(':') {
                Some(colon) => format!(
                    "{}{}:***{}",
                    &url[..scheme_end + 3],
                    &creds[..colon],
                    &url[at..]
                ),
                None => url.to_owned(),
            }
        }
        _ => url.to_owned(),
    }
}

/// The cores this process may use: what password hashing is sized to by default.
fn machine_parallelism() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn config(vars: &[(&str, &str)]) -> Result<Config, ConfigError> {
        let map: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Config::from_lookup(|k| map.get(k).cloned())
    }

    #[test]
    fn defaults_are_for_development() {
        let c = config(&[]).unwrap();
        assert_eq!(c.env, AppEnv::Development);
        assert_eq!(c.database_url, DEFAULT_DATABASE_URL);
        assert_eq!(c.redis_key_prefix, "screema");
        assert_eq!(c.bind_addr.to_string(), "127.0.0.1:8080");
    }

    #[test]
    fn production_refuses_default_secrets_naming_them() {
        let err = config(&[("APP_ENV", "production")]).err().unwrap();
        assert_eq!(err.var, "JWT_SECRET");
        let err = config(&[
            ("APP_ENV", "production"),
            ("JWT_SECRET", "x".repeat(40).as_str()),
        ])
        .err()
        .unwrap();
        assert_eq!(err.var, "STRIPE_WEBHOOK_SECRET");
        let err = config(&[
            ("APP_ENV", "production"),
            ("JWT_SECRET", "x".repeat(40).as_str()),
            ("STRIPE_WEBHOOK_SECRET", "whsec_live"),
        ])
        .err()
        .unwrap();
        assert_eq!(err.var, "TICKET_SIGNING_KEY");
        let ok = config(&[
            ("APP_ENV", "production"),
            ("JWT_SECRET", "x".repeat(40).as_str()),
            ("STRIPE_WEBHOOK_SECRET", "whsec_live"),
            ("TICKET_SIGNING_KEY", "ab".repeat(32).as_str()),
        ]);
        assert!(ok.is_ok());
    }

    #[test]
    fn bad_values_name_their_variable() {
        for (var, value) in [
            ("BIND_ADDR", "nowhere"),
            ("DATABASE_POOL_SIZE", "0"),
            ("DATABASE_URL", "mysql://x"),
            ("REDIS_URL", "http://x"),
            ("APP_ENV", "staging"),
            ("CURRENCY", "dollars"),
            ("CORS_ORIGINS", "example.com"),
            ("GRAPHQL_MAX_DEPTH", "deep"),
            ("GRAPHQL_INTROSPECTION", "admin"),
            ("RATE_LIMIT_GENERAL", "lots"),
            ("RATE_LIMIT_BOOKING", "5/0m"),
            ("RATE_LIMIT_LOGIN", "0/1m"),
            ("TRUSTED_PROXIES", "10.0.0.1,proxy"),
            ("ACCESS_TOKEN_TTL_SECONDS", "-1"),
        ] {
            let err = config(&[(var, value)])
                .err()
                .unwrap_or_else(|| panic!("{var}={value} accepted"));
            assert_eq!(err.var, var);
        }
    }

    #[test]
    fn rate_limits_parse() {
        assert_eq!(
            RateLimit::parse("100/15m").unwrap(),
            Some(RateLimit {
                count: 100,
                window: Duration::from_secs(900)
            })
        );
        assert_eq!(
            RateLimit::parse("5/m").unwrap().unwrap().window,
            Duration::from_secs(60)
        );
        assert_eq!(RateLimit::parse("3/10s").unwrap().unwrap().count, 3);
        assert_eq!(RateLimit::parse("OFF").unwrap(), None);
        for bad in ["", "100", "x/1m", "10/1d", "10/", "0/1m", "1/0s"] {
            assert!(RateLimit::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn debug_output_hides_passwords() {
        let c = config(&[("DATABASE_URL", "postgres://u:hunter2@h/db")]).unwrap();
        let shown = format!("{c:?}");
        assert!(!shown.contains("hunter2"));
        assert!(!shown.contains(DEFAULT_JWT_SECRET));
    }
}
