//! Typed configuration, read once from the environment.
//!
//! Every variable has a development default so that `screema serve` works on a
//! laptop; in production the defaults that are secrets are refused. One file per
//! concern, each reading its own variables through the typed helpers of `vars`
//! (numbers, durations with units, choices, secrets), so a bad value is always
//! refused with the variable's name. Secrets are `secrecy` types and URLs that may
//! carry a password are `ServiceUrl`s: the derived `Debug` of `Config` shows neither.

mod accounts;
mod auth;
mod catalog;
mod database;
mod graphql;
mod holds;
pub mod loyalty;
mod messaging;
mod payments;
mod redis;
mod secret;
mod server;
mod tickets;
mod vars;

pub use accounts::AccountSettings;
pub use auth::{AuthSettings, DEFAULT_JWT_SECRET, PasswordHashing, RateLimit, RateLimits};
pub use catalog::CatalogSettings;
pub use database::{DEFAULT_DATABASE_URL, DatabaseSettings};
pub use graphql::{GraphqlLimits, Introspection, WebsocketLimits};
pub use holds::HoldSettings;
pub use messaging::{MessagingSettings, SmsSettings, SmtpSettings, SmtpTls};
pub use payments::PaymentSettings;
pub use redis::{DEFAULT_REDIS_URL, RedisSettings};
pub use secret::ServiceUrl;
pub use server::{LogFormat, ServerSettings};
pub use tickets::{ScanSettings, Seed, TicketSettings, TicketStore};

use crate::money::Currency;
use vars::Vars;

/// Every variable the configuration reads, by section: what `screema serve --help`
/// lists. A test holds it to what `from_lookup` actually reads, both ways.
pub const VARIABLES: &[(&str, &[&str])] = &[
    (
        "server",
        &[
            "APP_ENV",
            "BIND_ADDR",
            "PUBLIC_URL",
            "CORS_ORIGINS",
            "TRUSTED_PROXIES",
            "SHUTDOWN_GRACE_SECONDS",
            "LOG_FORMAT",
            "WEB_APP_DIR",
        ],
    ),
    (
        "database",
        &[
            "DATABASE_URL",
            "DATABASE_POOL_SIZE",
            "DATABASE_READ_URL",
            "DATABASE_READ_RETRY_MS",
        ],
    ),
    ("redis", &["REDIS_URL", "REDIS_KEY_PREFIX"]),
    (
        "auth",
        &[
            "JWT_SECRET",
            "ACCESS_TOKEN_TTL_SECONDS",
            "REFRESH_TOKEN_TTL_SECONDS",
            "ARGON2_MEMORY_KIB",
            "ARGON2_ITERATIONS",
            "PASSWORD_HASH_CONCURRENCY",
            "PASSWORD_HASH_QUEUE",
        ],
    ),
    (
        "rate limits",
        &[
            "RATE_LIMIT_GENERAL",
            "RATE_LIMIT_BOOKING",
            "RATE_LIMIT_LOGIN",
        ],
    ),
    (
        "graphql",
        &[
            "GRAPHQL_MAX_DEPTH",
            "GRAPHQL_MAX_COMPLEXITY",
            "GRAPHQL_INTROSPECTION",
            "GRAPHQL_BATCH_DELAY_MS",
            "MAX_BODY_BYTES",
            "HEALTH_PROBE_TIMEOUT_MS",
            "PERSISTED_QUERIES_MAX",
            "PUBLIC_CACHE_MAX_AGE_SECONDS",
        ],
    ),
    (
        "websockets",
        &["WS_MAX_SUBSCRIPTIONS", "WS_MAX_CONNECTIONS_PER_CLIENT"],
    ),
    (
        "accounts",
        &[
            "ACCOUNT_CODE_SECRET",
            "EMAIL_VERIFICATION_TTL_MINUTES",
            "PHONE_CODE_TTL_MINUTES",
            "PHONE_CODE_ATTEMPTS",
            "PASSWORD_RESET_TTL_MINUTES",
            "RATE_LIMIT_VERIFICATION",
            "RATE_LIMIT_PASSWORD_RESET",
        ],
    ),
    ("money", &["CURRENCY", "LOYALTY_TIERS"]),
    (
        "catalog",
        &[
            "CATALOG_CACHE_TTL_MS",
            "CLEANING_GAP_MINUTES",
            "CHILD_MAX_AGE",
        ],
    ),
    (
        "holds",
        &[
            "HOLD_TTL_SECONDS",
            "HOLD_MAX_SECONDS",
            "MAX_SEATS_PER_USER",
            "SWEEP_INTERVAL_MS",
            "LIVE_BACKLOG",
            "SEAT_HISTORY_LEN",
            "SALE_QUEUE_RATE",
            "SALE_QUEUE_WINDOW_SECONDS",
        ],
    ),
    (
        "payments",
        &[
            "STRIPE_SECRET_KEY",
            "STRIPE_PUBLISHABLE_KEY",
            "STRIPE_WEBHOOK_SECRET",
            "STRIPE_API_BASE",
            "WEBHOOK_TOLERANCE_SECONDS",
            "REFUND_CUTOFF_MINUTES",
            "SIMULATED_PAYMENT_DELAY_MS",
            "OUTBOX_POLL_MS",
        ],
    ),
    (
        "tickets",
        &[
            "TICKET_SIGNING_KEY",
            "CHECK_IN_OPENS_MINUTES",
            "CHECK_IN_BATCH_MAX",
            "CHECK_IN_CLOCK_SKEW_SECONDS",
            "CHECK_IN_SCAN_MAX_AGE_MINUTES",
            "TICKET_STORE",
            "TICKET_STORE_DIR",
            "S3_BUCKET",
            "S3_REGION",
            "S3_ENDPOINT",
            "AWS_ACCESS_KEY_ID",
            "AWS_SECRET_ACCESS_KEY",
        ],
    ),
    (
        "messaging",
        &[
            "SMTP_HOST",
            "SMTP_PORT",
            "SMTP_TLS",
            "SMTP_USERNAME",
            "SMTP_PASSWORD",
            "MAIL_FROM",
            "SMS_API_BASE",
            "SMS_ACCOUNT_SID",
            "SMS_AUTH_TOKEN",
            "SMS_FROM",
            "PROMOTION_BATCH",
            "PROMOTION_RATE_PER_SECOND",
        ],
    ),
];

/// The variables as `screema serve --help` shows them.
pub fn variables_help() -> String {
    let mut help = String::from(
        "Configuration: environment variables, each with a development default \
         (README.md, \"Configuration\", says what each means). A bad value stops the \
         server naming the variable; in production the development secrets are refused.\n\
         Durations take a plain number in the unit their name gives, as always \
         (HOLD_TTL_SECONDS=600), or units (HOLD_TTL_SECONDS=10m, CATALOG_CACHE_TTL_MS=250ms).\n",
    );
    for (section, names) in VARIABLES {
        let mut line = format!("  {section:<12}");
        for name in *names {
            if line.len() + name.len() > 78 {
                help.push_str(line.trim_end());
                help.push('\n');
                line = " ".repeat(14);
            }
            line.push_str(name);
            line.push(' ');
        }
        help.push_str(line.trim_end());
        help.push('\n');
    }
    help.push_str("  logging     RUST_LOG (the tracing filter, e.g. `info,screema=debug`)\n");
    help
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AppEnv {
    Development,
    Production,
}

#[derive(Debug, Clone)]
pub struct Config {
    pub env: AppEnv,
    pub server: ServerSettings,
    pub database: DatabaseSettings,
    pub redis: RedisSettings,
    pub auth: AuthSettings,
    pub accounts: AccountSettings,
    pub rate_limits: RateLimits,
    pub graphql: GraphqlLimits,
    pub websockets: WebsocketLimits,
    pub catalog: CatalogSettings,
    pub holds: HoldSettings,
    pub payments: PaymentSettings,
    pub tickets: TicketSettings,
    pub messaging: MessagingSettings,
    /// The ISO 4217 currency of every price; its minor unit sets every amount's decimals.
    pub currency: Currency,
    pub tiers: loyalty::Tiers,
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
        let vars = Vars::new(&lookup);
        let env = vars.choice(
            "APP_ENV",
            AppEnv::Development,
            &[
                ("development", AppEnv::Development),
                ("dev", AppEnv::Development),
                ("test", AppEnv::Development),
                ("production", AppEnv::Production),
                ("prod", AppEnv::Production),
            ],
        )?;
        let currency_raw = vars.string("CURRENCY", "USD");
        let currency = Currency::parse(&currency_raw).map_err(|_| {
            ConfigError::new(
                "CURRENCY",
                format!("expected an ISO 4217 code, got `{currency_raw}`"),
            )
        })?;
        // The sections that refuse development secrets in production go in the order
        // the README lists those secrets, so the first one missing is named first.
        let server = ServerSettings::read(&vars, env)?;
        let database = DatabaseSettings::read(&vars)?;
        let redis = RedisSettings::read(&vars)?;
        let auth = AuthSettings::read(&vars, env)?;
        Ok(Self {
            server,
            database,
            redis,
            accounts: AccountSettings::read(&vars, &auth.jwt_secret)?,
            auth,
            payments: PaymentSettings::read(&vars, env)?,
            tickets: TicketSettings::read(&vars, env)?,
            rate_limits: RateLimits::read(&vars)?,
            graphql: GraphqlLimits::read(&vars, env)?,
            websockets: WebsocketLimits::read(&vars)?,
            catalog: CatalogSettings::read(&vars)?,
            holds: HoldSettings::read(&vars)?,
            messaging: MessagingSettings::read(&vars)?,
            tiers: loyalty::Tiers::parse(&vars.string("LOYALTY_TIERS", loyalty::DEFAULT_TIERS))
                .map_err(|m| ConfigError::new("LOYALTY_TIERS", m))?,
            currency,
            env,
        })
    }

    /// The address people type into a browser.
    pub fn base_url(&self) -> String {
        self.server.base_url()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use secrecy::ExposeSecret;
    use std::collections::HashMap;
    use std::time::Duration;

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
        assert_eq!(c.database.url.expose_secret(), DEFAULT_DATABASE_URL);
        assert_eq!(c.redis.key_prefix, "screema");
        assert_eq!(c.server.bind_addr.to_string(), "127.0.0.1:8080");
        assert_eq!(c.holds.ttl, Duration::from_secs(600));
        assert_eq!(c.catalog.cache_ttl, Duration::from_secs(10));
        assert_eq!(c.catalog.cleaning_gap, Duration::from_secs(20 * 60));
    }

    #[test]
    fn durations_take_their_old_plain_numbers_and_units() {
        let c = config(&[
            ("HOLD_TTL_SECONDS", "900"),
            ("HOLD_MAX_SECONDS", "1h"),
            ("CATALOG_CACHE_TTL_MS", "250"),
            ("SWEEP_INTERVAL_MS", "2s"),
            ("REFUND_CUTOFF_MINUTES", "3h"),
            ("SHUTDOWN_GRACE_SECONDS", "1m 30s"),
        ])
        .unwrap();
        assert_eq!(c.holds.ttl, Duration::from_secs(900));
        assert_eq!(c.holds.max_hold, Duration::from_secs(3600));
        assert_eq!(c.catalog.cache_ttl, Duration::from_millis(250));
        assert_eq!(c.holds.sweep_interval, Duration::from_secs(2));
        assert_eq!(c.payments.refund_cutoff, Duration::from_secs(3 * 3600));
        assert_eq!(c.server.shutdown_grace, Duration::from_secs(90));
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
            ("DATABASE_READ_URL", "mysql://replica"),
            ("STRIPE_PUBLISHABLE_KEY", "sk_live_oops"),
            ("PERSISTED_QUERIES_MAX", "lots"),
            ("PUBLIC_CACHE_MAX_AGE_SECONDS", "soon"),
            ("DATABASE_READ_RETRY_MS", "0"),
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
            ("HOLD_TTL_SECONDS", "ten minutes"),
            ("HOLD_TTL_SECONDS", "0s"),
            ("SWEEP_INTERVAL_MS", "1ms"),
            ("CLEANING_GAP_MINUTES", "90s"),
            ("CATALOG_CACHE_TTL_MS", "1.5ms"),
            ("LOG_FORMAT", "xml"),
            ("TICKET_SIGNING_KEY", "abcd"),
            ("ARGON2_MEMORY_KIB", "5000000000"),
            ("PHONE_CODE_ATTEMPTS", "0"),
            ("PASSWORD_RESET_TTL_MINUTES", "90s"),
            ("EMAIL_VERIFICATION_TTL_MINUTES", "soon"),
            ("RATE_LIMIT_VERIFICATION", "often"),
            ("RATE_LIMIT_PASSWORD_RESET", "0/1h"),
        ] {
            let err = config(&[(var, value)])
                .err()
                .unwrap_or_else(|| panic!("{var}={value} accepted"));
            assert_eq!(err.var, var, "{value}");
        }
        let err = config(&[("SMTP_HOST", "mail"), ("SMTP_PORT", "70000")])
            .err()
            .unwrap();
        assert_eq!(err.var, "SMTP_PORT");
    }

    #[test]
    fn debug_output_shows_no_secret() {
        let secrets = [
            "db-hunter2",
            "redis-hunter2",
            "jwt-secret-that-is-long-enough-0123456789",
            "sk_test_stripe_hunter2",
            "whsec_hunter2",
            "smtp-hunter2",
            "sms-token-hunter2",
            "aws-secret-hunter2",
            "account-codes-hunter2",
        ];
        let seed = "0123456789abcdef".repeat(4);
        let c = config(&[
            ("DATABASE_URL", "postgres://u:db-hunter2@h/db"),
            ("REDIS_URL", "redis://:redis-hunter2@h:6379"),
            ("JWT_SECRET", secrets[2]),
            ("STRIPE_SECRET_KEY", secrets[3]),
            ("STRIPE_WEBHOOK_SECRET", secrets[4]),
            ("SMTP_HOST", "mail.example"),
            ("SMTP_USERNAME", "mailer"),
            ("SMTP_PASSWORD", secrets[5]),
            ("SMS_API_BASE", "http://sms.example"),
            ("SMS_ACCOUNT_SID", "AC1"),
            ("SMS_AUTH_TOKEN", secrets[6]),
            ("SMS_FROM", "+15550000"),
            ("TICKET_STORE", "s3"),
            ("S3_BUCKET", "tickets"),
            ("AWS_ACCESS_KEY_ID", "AKIA1"),
            ("AWS_SECRET_ACCESS_KEY", secrets[7]),
            ("TICKET_SIGNING_KEY", &seed),
            ("ACCOUNT_CODE_SECRET", secrets[8]),
        ])
        .unwrap();
        for shown in [format!("{c:?}"), format!("{c:#?}")] {
            for secret in secrets {
                assert!(!shown.contains(secret), "{secret} in {shown}");
            }
            assert!(!shown.contains(&seed), "{shown}");
            // Bytes of the seed as `Debug` of an array would print them.
            assert!(!shown.contains("1, 35, 69"), "{shown}");
            // What is not secret is still there to read.
            assert!(shown.contains("postgres://u:***@h/db"), "{shown}");
            assert!(shown.contains("mail.example"), "{shown}");
            assert!(shown.contains("bind_addr"), "{shown}");
        }
        // The values themselves are intact behind the types.
        assert_eq!(c.auth.jwt_secret.expose_secret(), secrets[2]);
        assert_eq!(
            c.database.url.expose_secret(),
            "postgres://u:db-hunter2@h/db"
        );
        assert_eq!(hex::encode(c.tickets.signing_seed.expose_secret().0), seed);
        assert_eq!(c.accounts.code_secret.expose_secret(), secrets[8]);
    }

    #[test]
    fn account_codes_have_their_own_secret_derived_from_the_jwt_secret_by_default() {
        let a = config(&[("JWT_SECRET", "one-secret-one-secret-one-secret-1")]).unwrap();
        let b = config(&[("JWT_SECRET", "two-secret-two-secret-two-secret-2")]).unwrap();
        let derived = a.accounts.code_secret.expose_secret().to_owned();
        assert_eq!(derived.len(), 64);
        assert_ne!(derived, a.auth.jwt_secret.expose_secret());
        assert_ne!(derived, b.accounts.code_secret.expose_secret());
        assert_eq!(a.accounts.password_reset_ttl, Duration::from_secs(30 * 60));
        assert_eq!(a.accounts.phone_code_attempts, 5);
    }

    #[test]
    fn the_listed_variables_are_the_ones_read() {
        use std::cell::RefCell;
        use std::collections::BTreeSet;
        let read = RefCell::new(BTreeSet::new());
        // Every branch that reads more: SMTP, SMS, and each ticket store.
        for store in ["local", "s3"] {
            let vars: HashMap<&str, &str> = HashMap::from([
                ("SMTP_HOST", "mail"),
                ("SMS_API_BASE", "http://sms"),
                ("SMS_ACCOUNT_SID", "AC1"),
                ("SMS_AUTH_TOKEN", "token"),
                ("SMS_FROM", "+1555"),
                ("TICKET_STORE", store),
                ("S3_BUCKET", "b"),
            ]);
            Config::from_lookup(|k| {
                read.borrow_mut().insert(k.to_owned());
                vars.get(k).map(|v| v.to_string())
            })
            .unwrap();
        }
        let listed: BTreeSet<String> = VARIABLES
            .iter()
            .flat_map(|(_, names)| names.iter().map(|n| n.to_string()))
            .collect();
        assert_eq!(read.into_inner(), listed);
        let help = variables_help();
        for name in &listed {
            assert!(help.contains(name.as_str()), "{name}");
        }
    }
}
