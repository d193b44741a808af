//! Password hashing with argon2id, with the cost from the configuration (tests make it
//! cheap). Hashing runs on the blocking pool: it is deliberately slow.

use std::sync::{Arc, OnceLock};

use argon2::password_hash::{
    PasswordHash, PasswordHasher, PasswordVerifier, SaltString, rand_core::OsRng,
};
use argon2::{Algorithm, Argon2, Params, Version};

use crate::config::AuthSettings;

#[derive(Clone)]
pub struct Passwords(Arc<Inner>);

struct Inner {
    params: Params,
    /// A hash to verify against when the email is unknown, so that a wrong email
    /// costs the same time as a wrong password.
    decoy: OnceLock<String>,
}

impl Passwords {
    pub fn new(settings: &AuthSettings) -> anyhow::Result<Self> {
        let params = Params::new(
            settings.argon2_memory_kib,
            settings.argon2_iterations,
            1,
            None,
        )
        .map_err(|e| anyhow::anyhow!("argon2 parameters: {e}"))?;
        Ok(Self(Arc::new(Inner {
            params,
            decoy: OnceLock::new(),
        })))
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

    pub async fn hash(&self, password: &str) -> anyhow::Result<String> {
        let (this, password) = (self.clone(), password.to_owned());
        tokio::task::spawn_blocking(move || this.hash_blocking(&password)).await?
    }

    /// Checks `password` against `stored`, or against a decoy when there is no user,
    /// taking about the same time either way.
    pub async fn verify(&self, password: &str, stored: Option<&str>) -> bool {
        let this = self.clone();
        let password = password.to_owned();
        let stored = stored.map(str::to_owned);
        tokio::task::spawn_blocking(move || {
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
        .unwrap_or(false)
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
    let settings = AuthSettings {
        access_token_ttl: std::time::Duration::from_secs(1),
        refresh_token_ttl: std::time::Duration::from_secs(1),
        argon2_memory_kib: 19 * 1024,
        argon2_iterations: 2,
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
