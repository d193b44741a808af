//! What lets an operation in, over HTTP and the websocket alike: who the client is,
//! the general rate limit (one bucket for both transports) and whether the caller's
//! sign-in has ended.

use std::net::IpAddr;

use secrecy::ExposeSecret;

use crate::app::App;
use crate::auth::tokens::{self, AccessToken, bearer_token};
use crate::error::AppError;
use crate::ratelimit::{self, Admission};

/// The client's IP address, as far as we can trust it (`http::client` reads it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientAddr(pub IpAddr);

/// The general limit, and that the caller's sign-in has not ended, for one HTTP
/// request or one websocket query or mutation: both count in the same bucket.
pub async fn admit_operation(
    app: &App,
    token: Option<&AccessToken>,
    client: ClientAddr,
) -> Result<(), AppError> {
    let caller = token.map(|token| crate::auth::sessions::signed_in(&app.redis, token));
    let limit = app.config.rate_limits.general;
    match ratelimit::general(&app.redis, limit, caller.as_ref(), client.0).await {
        Admission::Allowed => Ok(()),
        Admission::Limited {
            retry_after_seconds,
        } => Err(AppError::RateLimited {
            retry_after_seconds,
        }),
        Admission::Revoked => Err(revoked()),
    }
}

/// Whether the sign-in `token` comes from has ended (logout, a new role, refresh-token
/// reuse): the general check with no limit, which counts nothing.
pub async fn sign_in_ended(app: &App, token: &AccessToken) -> bool {
    let caller = crate::auth::sessions::signed_in(&app.redis, token);
    // With no limit given, the address is not used.
    let unused = IpAddr::from([0, 0, 0, 0]);
    ratelimit::general(&app.redis, None, Some(&caller), unused).await == Admission::Revoked
}

pub fn revoked() -> AppError {
    AppError::Unauthenticated {
        message: "this sign-in has ended; sign in again".to_owned(),
    }
}

/// The token a `connection_init` payload proves, `None` for an anonymous one.
pub fn token_from_init(
    app: &App,
    payload: &serde_json::Value,
) -> Result<Option<AccessToken>, AppError> {
    let Some(header) = ["authorization", "Authorization"]
        .iter()
        .find_map(|k| payload.get(*k).and_then(|v| v.as_str()))
    else {
        return Ok(None);
    };
    // Another scheme is no token at all: refused like a bad one.
    let token = bearer_token(header).unwrap_or_default();
    tokens::verify(app.config.auth.jwt_secret.expose_secret(), token, app.now()).map(Some)
}
