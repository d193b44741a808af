//! Tickets: the key that signs their codes, when check-in opens, where images go.

use std::path::PathBuf;
use std::time::Duration;

use secrecy::zeroize::Zeroize;
use secrecy::{CloneableSecret, ExposeSecret, SecretBox, SecretString};

use super::vars::{Unit, Vars};
use super::{AppEnv, ConfigError};

/// The development ticket-signing key (64 hex digits, an Ed25519 seed).
const DEFAULT_TICKET_KEY: &str = "5c7eea5c7eea5c7eea5c7eea5c7eea5c7eea5c7eea5c7eea5c7eea5c7eea5c7e";

/// An Ed25519 seed. Kept in a `SecretBox`, so it is wiped when dropped and `Debug`
/// never shows it.
#[derive(Clone)]
pub struct Seed(pub [u8; 32]);

impl Zeroize for Seed {
    fn zeroize(&mut self) {
        self.0.zeroize();
    }
}

impl CloneableSecret for Seed {}

#[derive(Debug, Clone)]
pub struct TicketSettings {
    /// The Ed25519 seed that signs ticket codes.
    pub signing_seed: SecretBox<Seed>,
    /// Check-in opens this long before a showtime starts (and closes when it ends).
    pub check_in_opens: Duration,
    /// Where ticket images are kept.
    pub store: TicketStore,
    /// The door's offline scanners (`door::scans`).
    pub scans: ScanSettings,
}

/// What `checkInTickets` accepts from scanners that worked offline.
#[derive(Debug, Clone)]
pub struct ScanSettings {
    /// The most scans one upload may carry.
    pub batch_max: usize,
    /// How far past the server's clock a device's `scannedAt` may run (clocks drift).
    pub clock_skew: Duration,
    /// How long after a scan it may still be uploaded.
    pub max_age: Duration,
}

/// Where ticket images are kept.
#[derive(Debug, Clone)]
pub enum TicketStore {
    /// A local folder (the default, `data/tickets`).
    Local { dir: PathBuf },
    /// An S3 bucket; credentials from `AWS_ACCESS_KEY_ID` and `AWS_SECRET_ACCESS_KEY`.
    S3 {
        bucket: String,
        region: String,
        endpoint: Option<String>,
        access_key_id: Option<String>,
        secret_access_key: Option<SecretString>,
    },
}

impl TicketSettings {
    pub(super) fn read(vars: &Vars, env: AppEnv) -> Result<Self, ConfigError> {
        let key = vars.secret("TICKET_SIGNING_KEY", DEFAULT_TICKET_KEY);
        let seed = SecretBox::try_init_with(|| {
            let mut bytes = hex::decode(key.expose_secret().trim()).unwrap_or_default();
            let seed = <[u8; 32]>::try_from(bytes.as_slice()).map(Seed);
            bytes.zeroize();
            seed.map_err(|_| {
                ConfigError::new(
                    "TICKET_SIGNING_KEY",
                    "expected 64 hex digits (an Ed25519 seed)",
                )
            })
        })?;
        if env == AppEnv::Production && key.expose_secret().trim() == DEFAULT_TICKET_KEY {
            return Err(ConfigError::new(
                "TICKET_SIGNING_KEY",
                "the development default is refused in production",
            ));
        }
        Ok(Self {
            signing_seed: seed,
            check_in_opens: vars.duration(
                "CHECK_IN_OPENS_MINUTES",
                Duration::from_secs(60 * 60),
                Unit::Minutes,
                Duration::ZERO,
            )?,
            store: store(vars)?,
            scans: ScanSettings {
                batch_max: vars.number("CHECK_IN_BATCH_MAX", 100, 1)?,
                clock_skew: vars.duration(
                    "CHECK_IN_CLOCK_SKEW_SECONDS",
                    Duration::from_secs(5 * 60),
                    Unit::Seconds,
                    Duration::ZERO,
                )?,
                max_age: vars.duration(
                    "CHECK_IN_SCAN_MAX_AGE_MINUTES",
                    Duration::from_secs(24 * 60 * 60),
                    Unit::Minutes,
                    Duration::from_secs(60),
                )?,
            },
        })
    }
}

fn store(vars: &Vars) -> Result<TicketStore, ConfigError> {
    match vars.get("TICKET_STORE").as_deref() {
        None | Some("local") => Ok(TicketStore::Local {
            dir: vars.string("TICKET_STORE_DIR", "data/tickets").into(),
        }),
        Some("s3") => Ok(TicketStore::S3 {
            bucket: vars
                .get("S3_BUCKET")
                .ok_or_else(|| ConfigError::new("S3_BUCKET", "required when TICKET_STORE is s3"))?,
            region: vars.string("S3_REGION", "us-east-1"),
            endpoint: vars.get("S3_ENDPOINT"),
            access_key_id: vars.get("AWS_ACCESS_KEY_ID"),
            secret_access_key: vars.optional_secret("AWS_SECRET_ACCESS_KEY"),
        }),
        Some(other) => Err(ConfigError::new(
            "TICKET_STORE",
            format!("expected `local` or `s3`, got `{other}`"),
        )),
    }
}
