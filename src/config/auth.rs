//! Accounts: token signing and lifetimes, password hashing, and the rate limits.

use std::time::Duration;

use secrecy::{ExposeSecret, SecretString};

use super::vars::{Unit, Vars};
use super::{AppEnv, ConfigError};

pub const DEFAULT_JWT_SECRET: &str = "screema-development-jwt-secret-change-me";

#[derive(Debug, Clone)]
pub struct AuthSettings {
    /// Signs access tokens (HS256).
    pub jwt_secret: SecretString,
    pub access_token_ttl: Duration,
    pub refresh_token_ttl: Duration,
    pub passwords: PasswordHashing,
}

/// What hashing a password costs, and how many may be hashed at once.
#[derive(Debug, Clone, Copy)]
pub struct PasswordHashing {
    /// Argon2id memory cost in KiB and passes (OWASP: 19 MiB, 2).
    pub argon2_memory_kib: u32,
    pub argon2_iterations: u32,
    /// Password hashes computed at once (each takes `argon2_memory_kib`), and how
    /// many more may wait for a turn before sign-ins are refused as RATE_LIMITED.
    pub concurrency: usize,
    pub queue: usize,
}

impl AuthSettings {
    pub(super) fn read(vars: &Vars, env: AppEnv) -> Result<Self, ConfigError> {
        let jwt_secret = vars.secret("JWT_SECRET", DEFAULT_JWT_SECRET);
        if env == AppEnv::Production {
            if jwt_secret.expose_secret() == DEFAULT_JWT_SECRET {
                return Err(ConfigError::new(
                    "JWT_SECRET",
                    "the development default is refused in production",
                ));
            }
            if jwt_secret.expose_secret().len() < 32 {
                return Err(ConfigError::new(
                    "JWT_SECRET",
                    "must be at least 32 characters in production",
                ));
            }
        }
        let second = Duration::from_secs(1);
        Ok(Self {
            jwt_secret,
            access_token_ttl: vars.duration(
                "ACCESS_TOKEN_TTL_SECONDS",
                15 * 60 * second,
                Unit::Seconds,
                second,
            )?,
            refresh_token_ttl: vars.duration(
                "REFRESH_TOKEN_TTL_SECONDS",
                30 * 24 * 3600 * second,
                Unit::Seconds,
                second,
            )?,
            passwords: PasswordHashing {
                argon2_memory_kib: vars.number("ARGON2_MEMORY_KIB", 19 * 1024, 8)?,
                argon2_iterations: vars.number("ARGON2_ITERATIONS", 2, 1)?,
                concurrency: vars.number("PASSWORD_HASH_CONCURRENCY", machine_parallelism(), 1)?,
                queue: vars.number("PASSWORD_HASH_QUEUE", 16 * machine_parallelism(), 0)?,
            },
        })
    }
}

/// The cores this process may use: what password hashing is sized to by default.
fn machine_parallelism() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
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

impl RateLimits {
    pub(super) fn read(vars: &Vars) -> Result<Self, ConfigError> {
        let rate = |var: &'static str, default: &str| -> Result<Option<RateLimit>, ConfigError> {
            RateLimit::parse(&vars.string(var, default)).map_err(|m| ConfigError::new(var, m))
        };
        Ok(Self {
            general: rate("RATE_LIMIT_GENERAL", "100/15m")?,
            booking: rate("RATE_LIMIT_BOOKING", "5/1m")?,
            login: rate("RATE_LIMIT_LOGIN", "10/15m")?,
        })
    }
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
            "s" => Some(n),
            "m" => n.checked_mul(60),
            "h" => n.checked_mul(3600),
            _ => return Err(bad()),
        };
        match seconds {
            Some(seconds) if seconds > 0 => Ok(Some(Self {
                count,
                window: Duration::from_secs(seconds),
            })),
            _ => Err(bad()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
}
