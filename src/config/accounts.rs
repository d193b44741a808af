//! Account care: how long verification codes and reset links live, how many wrong
//! phone codes a challenge takes, how often they may be asked for, and the secret
//! their codes are derived from.
//!
//! The secret defaults to one derived from `JWT_SECRET` (with a label, so the two
//! never sign the same thing): production already refuses a default `JWT_SECRET`,
//! so a deployment has a real secret here without one more variable to set. Setting
//! `ACCOUNT_CODE_SECRET` separates them, e.g. to rotate one without the other.

use std::time::Duration;

use hmac::{Hmac, Mac};
use secrecy::{ExposeSecret, SecretString};
use sha2::Sha256;

use super::ConfigError;
use super::auth::RateLimit;
use super::vars::{Unit, Vars};

#[derive(Debug, Clone)]
pub struct AccountSettings {
    /// Derives every emailed code, reset token and SMS code from its challenge's id.
    pub code_secret: SecretString,
    pub email_verification_ttl: Duration,
    pub phone_code_ttl: Duration,
    /// Wrong phone codes that end a challenge.
    pub phone_code_attempts: u32,
    pub password_reset_ttl: Duration,
    /// Verification emails and texts a user may ask for (each kind counted apart).
    pub verification_limit: Option<RateLimit>,
    /// Password reset emails asked for, per email address and per client.
    pub password_reset_limit: Option<RateLimit>,
}

impl AccountSettings {
    pub(super) fn read(vars: &Vars, jwt_secret: &SecretString) -> Result<Self, ConfigError> {
        let minute = Duration::from_secs(60);
        let rate = |var: &'static str, default: &str| -> Result<Option<RateLimit>, ConfigError> {
            RateLimit::parse(&vars.string(var, default)).map_err(|m| ConfigError::new(var, m))
        };
        Ok(Self {
            code_secret: vars
                .optional_secret("ACCOUNT_CODE_SECRET")
                .unwrap_or_else(|| derived_secret(jwt_secret)),
            email_verification_ttl: vars.duration(
                "EMAIL_VERIFICATION_TTL_MINUTES",
                24 * 60 * minute,
                Unit::Minutes,
                minute,
            )?,
            phone_code_ttl: vars.duration(
                "PHONE_CODE_TTL_MINUTES",
                10 * minute,
                Unit::Minutes,
                minute,
            )?,
            phone_code_attempts: vars.number("PHONE_CODE_ATTEMPTS", 5, 1)?,
            password_reset_ttl: vars.duration(
                "PASSWORD_RESET_TTL_MINUTES",
                30 * minute,
                Unit::Minutes,
                minute,
            )?,
            verification_limit: rate("RATE_LIMIT_VERIFICATION", "5/1h")?,
            password_reset_limit: rate("RATE_LIMIT_PASSWORD_RESET", "5/1h")?,
        })
    }
}

fn derived_secret(jwt_secret: &SecretString) -> SecretString {
    let mac = <Hmac<Sha256> as Mac>::new_from_slice(jwt_secret.expose_secret().as_bytes())
        .map(|mac| mac.chain_update(b"screema account codes v1").finalize());
    // HMAC takes a key of any length, so this never fails; an empty key would still
    // be refused in production through JWT_SECRET's own checks.
    let bytes = mac.map(|m| m.into_bytes().to_vec()).unwrap_or_default();
    SecretString::from(hex::encode(bytes))
}
