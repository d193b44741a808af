//! Payments: Stripe (or the simulated gateway), its webhook, refunds, and the outbox
//! that carries their effects.

use std::time::Duration;

use secrecy::{ExposeSecret, SecretString};

use super::vars::{Unit, Vars};
use super::{AppEnv, ConfigError};

const DEFAULT_WEBHOOK_SECRET: &str = "whsec_screema_development_only";

#[derive(Debug, Clone)]
pub struct PaymentSettings {
    /// Stripe's API key; `None` runs the simulated gateway.
    pub stripe_secret_key: Option<SecretString>,
    /// The key browsers load Stripe's Payment Element with (`pk_…`): public by
    /// design, served at `GET /api/payments/config`.
    pub stripe_publishable_key: Option<String>,
    /// Verifies `Stripe-Signature` (and signs the simulated gateway's events).
    pub webhook_secret: SecretString,
    /// Where Stripe's API is (tests point it at localstripe); `None`: Stripe's own.
    pub stripe_api_base: Option<String>,
    /// Customers may refund until this long before the showtime starts.
    pub refund_cutoff: Duration,
    /// How far a webhook signature's timestamp may be from our clock.
    pub webhook_tolerance: Duration,
    /// How long the simulated gateway waits before confirming a payment.
    pub simulated_delay: Duration,
    /// How often each node looks for outbox rows to deliver.
    pub outbox_poll: Duration,
}

impl PaymentSettings {
    pub(super) fn read(vars: &Vars, env: AppEnv) -> Result<Self, ConfigError> {
        let webhook_secret = vars.secret("STRIPE_WEBHOOK_SECRET", DEFAULT_WEBHOOK_SECRET);
        if env == AppEnv::Production && webhook_secret.expose_secret() == DEFAULT_WEBHOOK_SECRET {
            return Err(ConfigError::new(
                "STRIPE_WEBHOOK_SECRET",
                "the development default is refused in production",
            ));
        }
        Ok(Self {
            stripe_secret_key: vars.optional_secret("STRIPE_SECRET_KEY"),
            stripe_publishable_key: match vars.get("STRIPE_PUBLISHABLE_KEY") {
                Some(key) if !key.starts_with("pk_") => {
                    return Err(ConfigError::new(
                        "STRIPE_PUBLISHABLE_KEY",
                        "a publishable key starts with pk_ (never put the secret key here)",
                    ));
                }
                key => key,
            },
            webhook_secret,
            stripe_api_base: vars.get("STRIPE_API_BASE"),
            refund_cutoff: vars.duration(
                "REFUND_CUTOFF_MINUTES",
                Duration::from_secs(120 * 60),
                Unit::Minutes,
                Duration::ZERO,
            )?,
            webhook_tolerance: vars.duration(
                "WEBHOOK_TOLERANCE_SECONDS",
                Duration::from_secs(300),
                Unit::Seconds,
                Duration::from_secs(1),
            )?,
            simulated_delay: vars.duration(
                "SIMULATED_PAYMENT_DELAY_MS",
                Duration::from_millis(1500),
                Unit::Millis,
                Duration::ZERO,
            )?,
            outbox_poll: vars.duration(
                "OUTBOX_POLL_MS",
                Duration::from_millis(500),
                Unit::Millis,
                Duration::from_millis(10),
            )?,
        })
    }
}
