//! Access tokens (short-lived JWT, HS256 only) and refresh tokens (opaque, 256 random
//! bits, stored only as a SHA-256 hash).

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use rand::RngCore;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use uuid::Uuid;

use super::model::Viewer;
use crate::db::enums::Role;
use crate::error::{AppError, AppResult};

#[derive(Debug, Serialize, Deserialize)]
struct Claims {
    sub: Uuid,
    role: String,
    jti: Uuid,
    iat: i64,
    exp: i64,
    /// The refresh family the token was issued from, so that revoking the family
    /// voids its access tokens too (`auth::sessions`). Absent on tokens that no
    /// sign-in issued (tests' and the load tool's), which only a user-wide
    /// revocation reaches.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    fam: Option<Uuid>,
    /// The issue time in milliseconds (`iat` is whole seconds): a user-wide
    /// revocation voids exactly the tokens issued before it, not a sign-in made in
    /// the same second after it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    ims: Option<i64>,
}

/// A verified access token: who, and what a revocation check needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AccessToken {
    pub viewer: Viewer,
    pub family: Option<Uuid>,
    /// Milliseconds since the epoch.
    pub issued_ms: i64,
    pub expires_at: DateTime<Utc>,
}

fn role_claim(role: Role) -> &'static str {
    role.as_db_str()
}

fn role_from_claim(s: &str) -> Option<Role> {
    Role::ALL.iter().copied().find(|r| r.as_db_str() == s)
}

pub fn issue_access_token(
    secret: &str,
    viewer: Viewer,
    now: DateTime<Utc>,
    ttl: std::time::Duration,
) -> AppResult<String> {
    issue_access_token_in_family(secret, viewer, None, now, ttl)
}

/// An access token tied to the refresh family `family` (a sign-in).
pub fn issue_access_token_in_family(
    secret: &str,
    viewer: Viewer,
    family: Option<Uuid>,
    now: DateTime<Utc>,
    ttl: std::time::Duration,
) -> AppResult<String> {
    let claims = Claims {
        sub: viewer.user_id,
        role: role_claim(viewer.role).to_owned(),
        jti: Uuid::new_v4(),
        iat: now.timestamp(),
        exp: now.timestamp() + ttl.as_secs() as i64,
        fam: family,
        ims: Some(now.timestamp_millis()),
    };
    jsonwebtoken::encode(
        &Header::new(Algorithm::HS256),
        &claims,
        &EncodingKey::from_secret(secret.as_bytes()),
    )
    .map_err(|e| AppError::internal(anyhow::anyhow!("signing an access token: {e}")))
}

/// Verifies signature and algorithm (HS256, nothing else, never `none`), then expiry
/// against the application's clock.
pub fn verify_access_token(secret: &str, token: &str, now: DateTime<Utc>) -> AppResult<Viewer> {
    verify(secret, token, now).map(|t| t.viewer)
}

/// `verify_access_token`, with what revocation checks need.
pub fn verify(secret: &str, token: &str, now: DateTime<Utc>) -> AppResult<AccessToken> {
    let refused = |why: &str| AppError::Unauthenticated {
        message: format!("invalid access token: {why}"),
    };
    let mut validation = Validation::new(Algorithm::HS256);
    validation.algorithms = vec![Algorithm::HS256];
    // Expiry is checked below against the injectable clock, not the system's.
    validation.validate_exp = false;
    validation.required_spec_claims = ["exp", "sub"].iter().map(|s| s.to_string()).collect();
    let data = jsonwebtoken::decode::<Claims>(
        token,
        &DecodingKey::from_secret(secret.as_bytes()),
        &validation,
    )
    .map_err(|_| refused("bad signature or format"))?;
    if data.claims.exp <= now.timestamp() {
        return Err(AppError::Unauthenticated {
            message: "access token expired".to_owned(),
        });
    }
    let role = role_from_claim(&data.claims.role).ok_or_else(|| refused("unknown role"))?;
    let claims = data.claims;
    Ok(AccessToken {
        viewer: Viewer {
            user_id: claims.sub,
            role,
        },
        family: claims.fam,
        issued_ms: claims.ims.unwrap_or(claims.iat.saturating_mul(1000)),
        expires_at: DateTime::from_timestamp(claims.exp, 0).unwrap_or(DateTime::<Utc>::MAX_UTC),
    })
}

/// A new refresh token: what the client keeps, and the hash we keep.
pub fn new_refresh_token() -> (String, Vec<u8>) {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    let token = URL_SAFE_NO_PAD.encode(bytes);
    let hash = hash_refresh_token(&token);
    (token, hash)
}

pub fn hash_refresh_token(token: &str) -> Vec<u8> {
    Sha256::digest(token.trim().as_bytes()).to_vec()
}

/// `Bearer <token>` → the token (the scheme in any case).
pub fn bearer_token(value: &str) -> Option<&str> {
    let (scheme, token) = value.trim().split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Duration;

    const SECRET: &str = "a-test-secret-that-is-long-enough-to-sign";

    fn viewer() -> Viewer {
        Viewer {
            user_id: Uuid::new_v4(),
            role: Role::Operator,
        }
    }

    #[test]
    fn tokens_verify_until_they_expire() {
        let now = Utc::now();
        let v = viewer();
        let token =
            issue_access_token(SECRET, v, now, std::time::Duration::from_secs(900)).unwrap();
        assert_eq!(verify_access_token(SECRET, &token, now).unwrap(), v);
        assert_eq!(
            verify_access_token(SECRET, &token, now + Duration::seconds(899)).unwrap(),
            v
        );
        assert!(verify_access_token(SECRET, &token, now + Duration::seconds(900)).is_err());
        assert!(verify_access_token("another-secret-another-secret-xx", &token, now).is_err());
    }

    #[test]
    fn other_algorithms_and_none_are_refused() {
        let now = Utc::now();
        let claims = Claims {
            sub: Uuid::new_v4(),
            role: "admin".into(),
            jti: Uuid::new_v4(),
            iat: now.timestamp(),
            exp: now.timestamp() + 600,
            fam: None,
            ims: None,
        };
        let hs512 = jsonwebtoken::encode(
            &Header::new(Algorithm::HS512),
            &claims,
            &EncodingKey::from_secret(SECRET.as_bytes()),
        )
        .unwrap();
        assert!(verify_access_token(SECRET, &hs512, now).is_err());
        let header = URL_SAFE_NO_PAD.encode(br#"{"alg":"none","typ":"JWT"}"#);
        let body = URL_SAFE_NO_PAD.encode(serde_json::to_vec(&claims).unwrap());
        assert!(verify_access_token(SECRET, &format!("{header}.{body}."), now).is_err());
        assert!(verify_access_token(SECRET, "garbage", now).is_err());
    }

    #[test]
    fn refresh_tokens_are_random_and_hashed() {
        let (a, ha) = new_refresh_token();
        let (b, _) = new_refresh_token();
        assert_ne!(a, b);
        assert_eq!(a.len(), 43);
        assert_eq!(hash_refresh_token(&a), ha);
        assert_eq!(ha.len(), 32);
    }
}
