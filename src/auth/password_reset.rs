//! A forgotten password: `requestPasswordReset(email)` mails a single-use link that
//! expires (`PASSWORD_RESET_TTL_MINUTES`), and `resetPassword(token, newPassword)`
//! sets the new password with it.
//!
//! - No account enumeration: every well-formed email gets the same answer (`true`)
//!   in about the same time. The email is sent by the outbox after the answer, never
//!   while the caller waits, so a known address is not slower by an SMTP round trip;
//!   an unknown one sends nothing. The rate limits (per email and per client address)
//!   count known and unknown addresses alike.
//! - The token is the challenge's id and an HMAC of it (`challenges`): nothing stored
//!   can be presented. A reset ends every open reset link of the user.
//! - A reset signs the user out everywhere (every refresh family revoked, access
//!   tokens and websockets end, `sessions`), forgets the email's failed sign-ins
//!   (the owner proved themselves), and proves the email address: the link was read
//!   there.

use diesel::prelude::*;
use diesel_async::{AsyncConnection, RunQueryDsl};

use super::challenges::{self, Purpose};
use super::input::{Email, Password};
use super::model::User;
use super::sessions;
use crate::app::App;
use crate::db::schema::{refresh_tokens, users};
use crate::error::{AppError, AppResult};
use crate::ratelimit::{self, Decision};

/// Mails a reset link if the address has an account. The answer is the same either
/// way; a malformed address is BAD_USER_INPUT (that reveals nothing about accounts).
pub async fn request(app: &App, email: &str, client: &str) -> AppResult<bool> {
    let email = Email::parse(email)?;
    let limit = app.config.accounts.password_reset_limit;
    let mut limited: Option<u64> = None;
    for (bucket, subject) in [("reset-email", email.as_str()), ("reset-client", client)] {
        if let Decision::Limited {
            retry_after_seconds,
        } = ratelimit::hit(&app.redis, bucket, subject, limit).await
        {
            limited = Some(limited.unwrap_or(0).max(retry_after_seconds));
        }
    }
    if let Some(retry_after_seconds) = limited {
        return Err(AppError::RateLimited {
            retry_after_seconds,
        });
    }
    let now = app.now();
    let ttl = app.config.accounts.password_reset_ttl;
    let mut conn = app.db().await?;
    // One transaction either way, so both answers cost the same round trips.
    let message = conn
        .transaction::<_, AppError, _>(async |conn| {
            let user: Option<(uuid::Uuid, String)> = users::table
                .filter(users::email.eq(email.as_str()))
                .select((users::id, users::email))
                .first(conn)
                .await
                .optional()?;
            match user {
                Some((id, address)) => {
                    challenges::open(conn, now, id, Purpose::ResetPassword, &address, ttl).await
                }
                None => Ok(None),
            }
        })
        .await?;
    drop(conn);
    if let Some(row) = message {
        // Delivered by this node's worker soon after (`OUTBOX_POLL_MS`); sending it
        // now, before answering, would make known addresses measurably slower.
        tracing::debug!(outbox = row.id, "password reset email queued");
    }
    Ok(true)
}

fn bad_token(message: &str) -> AppError {
    AppError::bad_input("token", message)
}

/// Sets a new password with a reset link's token, and signs the user out everywhere.
pub async fn reset(app: &App, token: &str, new_password: &str) -> AppResult<bool> {
    let password = Password::parse(new_password).map_err(|e| match e {
        AppError::BadInput { message, .. } => AppError::bad_input("newPassword", message),
        other => other,
    })?;
    let secret = &app.config.accounts.code_secret;
    let Some(id) = challenges::read_link_code(secret, Purpose::ResetPassword, token) else {
        return Err(bad_token("this reset link is not valid"));
    };
    let used_or_expired = || bad_token("this reset link has expired or was used already");
    let now = app.now();
    // A cheap look before the deliberately slow hash: a dead link costs no argon2.
    {
        let mut conn = app.db().await?;
        let open = challenges::find(&mut conn, id)
            .await?
            .is_some_and(|c| c.is_open(now));
        if !open {
            return Err(used_or_expired());
        }
    }
    let hash = app.passwords.hash(password.expose()).await?;
    let now = app.now();
    let mut conn = app.db().await?;
    let user = conn
        .transaction::<_, AppError, _>(async |conn| {
            let challenge = challenges::lock(conn, id, Purpose::ResetPassword)
                .await?
                .filter(|c| c.is_open(now))
                .ok_or_else(used_or_expired)?;
            let user: User = diesel::update(
                users::table
                    .find(challenge.user_id)
                    .filter(users::email.eq(&challenge.target)),
            )
            .set((
                users::password_hash.eq(hash),
                users::email_verified.eq(true),
                users::updated_at.eq(now),
            ))
            .returning(User::as_returning())
            .get_result(conn)
            .await
            .optional()?
            .ok_or_else(|| bad_token("this reset link was for another email address"))?;
            challenges::close_all(conn, now, user.id, Purpose::ResetPassword).await?;
            diesel::update(
                refresh_tokens::table
                    .filter(refresh_tokens::user_id.eq(user.id))
                    .filter(refresh_tokens::revoked_at.is_null()),
            )
            .set(refresh_tokens::revoked_at.eq(now))
            .execute(conn)
            .await?;
            Ok(user)
        })
        .await?;
    drop(conn);
    sessions::user_revoked(app, user.id).await;
    ratelimit::clear(&app.redis, "login-email", &user.email).await;
    Ok(true)
}
