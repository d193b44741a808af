//! Password hashing with argon2id, with the cost from the configuration (tests make it
//! cheap). Hashing runs on the blocking pool: it is deliberately slow.
//!
//! Each hash holds `ARGON2_MEMORY_KIB` (19 MiB) and a core for its whole run, and the
//! blocking pool would start hundreds at once: a flood of `login` or `register`
//! would exhaust memory long before the rate limits (counted per email and client)
//! caught up. So hashes run `PASSWORD_HASH_CONCURRENCY` at a time (the machine's
//! cores by default); `PASSWORD_HASH_QUEUE` more may wait for a turn, and beyond
//! that a request is refused at once with RATE_LIMITED rather than queued without
//! bound (a queue that long would answer too late anyway).

use std::sync::{Arc, OnceLock};

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use argon2::password_hash::{
    PasswordHash, PasswordHasher, PasswordVerifier, SaltString, rand_core::OsRng,
};
use argon2::{Algorithm, Argon2, Params, Version};

use crate::config::PasswordHashing;
use crate::error::{AppError, AppResult};

/// How long a refused caller is told to wait: hashes take tens of milliseconds, so
/// the queue has moved on by then.
const BUSY_RETRY_SECONDS: u64 = 1;

#[derive(Clone)]
pub struct Passwords(Arc<Inner>);

struct Inner {
    params: Params,
    /// A hash to verify against when the email is unknown, so that a wrong email
    /// costs the same time as a wrong password.
    decoy: OnceLock<String>,
    /// Turns to hash: `concurrency` of them.
    running: Arc<Semaphore>,
    /// Places in the building: `concurrency + queue`, taken without waiting.
    admitted: Arc<Semaphore>,
}

impl Passwords {
    pub fn new(settings: &PasswordHashing) -> anyhow::Result<Self> {
        let params = Params::new(
            settings.argon2_memory_kib,
            settings.argon2_iterations,
            1,
            None,
        )
        .map_err(|e| anyhow::anyhow!("argon2 parameters: {e}"))?;
        let concurrency = settings.concurrency.max(1);
        Ok(Self(Arc::new(Inner {
            params,
            decoy: OnceLock::new(),
            running: Arc::new(Semaphore::new(concurrency)),
            admitted: Arc::new(Semaphore::new(concurrency.saturating_add(settings.queue))),
        })))
    }

    /// A turn to hash: waits behind at most the queue's length, or is refused.
    async fn turn(&self) -> AppResult<(OwnedSemaphorePermit, OwnedSemaphorePermit)> {
        let busy = || AppError::RateLimited {
            retry_after_seconds: BUSY_RETRY_SECONDS,
        };
        let admitted = self.0.admitted.clone().try_acquire_owned().map_err(|_| {
            tracing::warn!("password hashing saturated; refusing a sign-in or registration");
            busy()
        })?;
        let running = self
            .0
            .running
            .clone()
            .acquire_owned()
            .await
            .map_err(|_| busy())?;
        Ok((admitted, running))
    }

    fn hasher(&self) -> Argon2<'static> {
        Argon2::new(Algorithm::Argon2id, Version::V0x13, self.0.params.clone())
    }

    pub fn hash_blocking(&self, password: &str) -> anyhow::Result<String> {
        let salt = SaltString::generate(&mut OsRng);
        self.hasher()
            .hash_password(password.as_bytes(), &salt)
            .map(|h| h.to_string())
            .map_err(|e| anyhow::anyhow!("hashing a password: {e}"))
    }

    /// Hashes in its turn; RATE_LIMITED when too many are waiting already.
    pub async fn hash(&self, password: &str) -> AppResult<String> {
        let turn = self.turn().await?;
        let (this, password) = (self.clone(), password.to_owned());
        tokio::task::spawn_blocking(move || {
            // The turn ends with the hash, even if the request was abandoned meanwhile.
            let _turn = turn;
            this.hash_blocking(&password)
        })
        .await
        .map_err(AppError::internal)?
        .map_err(AppError::internal)
    }

    /// Checks `password` against `stored`, or against a decoy when there is no user,
    /// taking about the same time either way; in its turn, and RATE_LIMITED when too
    /// many are waiting already.
    pub async fn verify(&self, password: &str, stored: Option<&str>) -> AppResult<bool> {
        let turn = self.turn().await?;
        let this = self.clone();
        let password = password.to_owned();
        let stored = stored.map(str::to_owned);
        Ok(tokio::task::spawn_blocking(move || {
            let _turn = turn;
            let decoy;
            let (hash, real) = match &stored {
                Some(h) => (h.as_str(), true),
                None => {
                    decoy = this.decoy();
                    (decoy.as_str(), false)
                }
            };
            let ok = PasswordHash::new(hash)
                .map(|parsed| {
                    this.hasher()
                        .verify_password(password.as_bytes(), &parsed)
                        .is_ok()
                })
                .unwrap_or(false);
            ok && real
        })
        .await
        .unwrap_or(false))
    }

    fn decoy(&self) -> String {
        self.0
            .decoy
            .get_or_init(|| {
                self.hash_blocking("decoy password that matches nothing")
                    .unwrap_or_default()
            })
            .clone()
    }
}

/// A one-off hash with the production cost (the seed uses it).
pub fn hash(password: &str) -> anyhow::Result<String> {
    let settings = PasswordHashing {
        argon2_memory_kib: 19 * 1024,
        argon2_iterations: 2,
        concurrency: 1,
        queue: 0,
    };
    Passwords::new(&settings)?.hash_blocking(password)
}

/// Whether `password` matches `stored`, whatever cost `stored` was hashed with.
pub fn verify(password: &str, stored: &str) -> bool {
    PasswordHash::new(stored)
        .map(|parsed| {
            Argon2::default()
                .verify_password(password.as_bytes(), &parsed)
                .is_ok()
        })
        .unwrap_or(false)
}

#[cfg(test)]
mod tests {
    #[test]
    fn hashes_verify_and_differ() {
        let a = super::hash("correct horse").unwrap();
        let b = super::hash("correct horse").unwrap();
        assert_ne!(a, b);
        assert!(a.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"));
        assert!(super::verify("correct horse", &a));
        assert!(!super::verify("wrong horse", &a));
        assert!(!super::verify("correct horse", "not a hash"));
    }
}
