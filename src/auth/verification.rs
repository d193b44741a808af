//! Proving an email address and a phone number (`User.emailVerified`,
//! `User.phoneVerified`): texts about bookings go only to proven numbers, and a
//! proven email is where a password reset may safely go.
//!
//! - Email: a link (its code names the challenge and carries an HMAC, `challenges`),
//!   sent on registration and on request. The code alone proves the user, so
//!   `verifyEmail` needs no session: a link opened on another device works. It works
//!   once, until `EMAIL_VERIFICATION_TTL_MINUTES`; any of a user's open links works
//!   (a second request does not void the first, which may be the one they open).
//! - Phone: six digits by SMS, until `PHONE_CODE_TTL_MINUTES`. Six digits can be
//!   guessed, so `PHONE_CODE_ATTEMPTS` wrong ones end the challenge, a new request
//!   ends the previous one (or each request would bring fresh guesses), and requests
//!   are rate limited. The code proves the number it was sent to: changing the number
//!   ends the challenge (`phone_changed`, from `update_profile`).
//! - Asking again once proven sends nothing and answers `false`: harmless, and no
//!   message goes out that the user has no use for.

use diesel::prelude::*;
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use uuid::Uuid;

use super::challenges::{self, Purpose};
use super::model::User;
use crate::app::App;
use crate::db::schema::users;
use crate::error::{AppError, AppResult};
use crate::ratelimit::{self, Decision};

async fn current_user(conn: &mut AsyncPgConnection, user: Uuid) -> AppResult<User> {
    users::table
        .find(user)
        .select(User::as_select())
        .first(conn)
        .await
        .optional()?
        .ok_or(AppError::NotFound { what: "user" })
}

async fn limited(app: &App, bucket: &str, user: Uuid) -> AppResult<()> {
    let limit = app.config.accounts.verification_limit;
    match ratelimit::hit(&app.redis, bucket, &user.to_string(), limit).await {
        Decision::Allowed => Ok(()),
        Decision::Limited {
            retry_after_seconds,
        } => Err(AppError::RateLimited {
            retry_after_seconds,
        }),
    }
}

/// Opens an email challenge for a user in the caller's transaction (registration
/// does, and `request_email`); returns the outbox row to deliver after commit.
pub async fn open_email_challenge(
    app: &App,
    conn: &mut AsyncPgConnection,
    user: &User,
) -> AppResult<Option<crate::outbox::Queued>> {
    challenges::open(
        conn,
        app.now(),
        user.id,
        Purpose::VerifyEmail,
        &user.email,
        app.config.accounts.email_verification_ttl,
    )
    .await
}

/// Sends the signed-in user a link that proves their email address. `false` (and
/// nothing sent) when it is proven already.
pub async fn request_email(app: &App, user: Uuid) -> AppResult<bool> {
    let mut conn = app.db().await?;
    let current = current_user(&mut conn, user).await?;
    if current.email_verified {
        return Ok(false);
    }
    limited(app, "verify-email", user).await?;
    let row = conn
        .transaction::<_, AppError, _>(async |conn| open_email_challenge(app, conn, &current).await)
        .await?;
    crate::outbox::deliver_now(app, conn, &row.into_iter().collect::<Vec<_>>()).await;
    Ok(true)
}

fn bad_code(message: &str) -> AppError {
    AppError::bad_input("code", message)
}

/// Proves the email address a link's code was sent to, for whoever holds the code.
pub async fn verify_email(app: &App, code: &str) -> AppResult<User> {
    let secret = &app.config.accounts.code_secret;
    let Some(id) = challenges::read_link_code(secret, Purpose::VerifyEmail, code) else {
        return Err(bad_code("this code is not valid"));
    };
    let now = app.now();
    let mut conn = app.db().await?;
    conn.transaction::<_, AppError, _>(async |conn| {
        let challenge = challenges::lock(conn, id, Purpose::VerifyEmail)
            .await?
            .filter(|c| c.is_open(now))
            .ok_or_else(|| bad_code("this code has expired or was used already"))?;
        let user = current_user(conn, challenge.user_id).await?;
        if user.email != challenge.target {
            return Err(bad_code("this code was for another email address"));
        }
        challenges::close_all(conn, now, user.id, Purpose::VerifyEmail).await?;
        Ok(diesel::update(users::table.find(user.id))
            .set((users::email_verified.eq(true), users::updated_at.eq(now)))
            .returning(User::as_returning())
            .get_result(conn)
            .await?)
    })
    .await
}

/// Texts the signed-in user's phone a six-digit code; the previous code stops
/// working. `false` (and nothing sent) when the number is proven already.
pub async fn request_phone(app: &App, user: Uuid) -> AppResult<bool> {
    let mut conn = app.db().await?;
    let current = current_user(&mut conn, user).await?;
    let Some(phone) = current.phone.clone() else {
        return Err(AppError::bad_input(
            "phone",
            "add a phone number to your profile first",
        ));
    };
    if current.phone_verified {
        return Ok(false);
    }
    limited(app, "verify-phone", user).await?;
    let now = app.now();
    let ttl = app.config.accounts.phone_code_ttl;
    let row = conn
        .transaction::<_, AppError, _>(async |conn| {
            challenges::close_all(conn, now, user, Purpose::VerifyPhone).await?;
            challenges::open(conn, now, user, Purpose::VerifyPhone, &phone, ttl).await
        })
        .await?;
    crate::outbox::deliver_now(app, conn, &row.into_iter().collect::<Vec<_>>()).await;
    Ok(true)
}

enum PhoneAnswer {
    Right(User),
    Wrong { left: u32 },
    NoChallenge,
}

/// Checks the code texted to the signed-in user's phone. A wrong one counts (and is
/// written even though the answer is an error); the last allowed wrong one ends the
/// challenge.
pub async fn verify_phone(app: &App, user: Uuid, code: &str) -> AppResult<User> {
    let typed: String = code.chars().filter(|c| !c.is_whitespace()).collect();
    if typed.len() != 6 || !typed.chars().all(|c| c.is_ascii_digit()) {
        return Err(bad_code("the code has six digits"));
    }
    let now = app.now();
    let secret = &app.config.accounts.code_secret;
    let max = app.config.accounts.phone_code_attempts;
    let mut conn = app.db().await?;
    let answer = conn
        .transaction::<_, AppError, _>(async |conn| {
            let current = current_user(conn, user).await?;
            let Some(challenge) =
                challenges::lock_latest_open(conn, now, user, Purpose::VerifyPhone).await?
            else {
                return Ok(PhoneAnswer::NoChallenge);
            };
            if current.phone.as_deref() != Some(challenge.target.as_str()) {
                // `update_profile` closes these; a row left open is closed here.
                challenges::close_all(conn, now, user, Purpose::VerifyPhone).await?;
                return Ok(PhoneAnswer::NoChallenge);
            }
            if challenges::phone_code_matches(secret, challenge.id, &typed) {
                challenges::close_all(conn, now, user, Purpose::VerifyPhone).await?;
                let user = diesel::update(users::table.find(user))
                    .set((users::phone_verified.eq(true), users::updated_at.eq(now)))
                    .returning(User::as_returning())
                    .get_result(conn)
                    .await?;
                return Ok(PhoneAnswer::Right(user));
            }
            use crate::db::schema::account_challenges as ac;
            let attempts = challenge.attempts.saturating_add(1);
            let worn_out = u32::try_from(attempts).unwrap_or(u32::MAX) >= max;
            diesel::update(ac::table.find(challenge.id))
                .set((
                    ac::attempts.eq(attempts),
                    ac::used_at.eq(worn_out.then_some(now)),
                ))
                .execute(conn)
                .await?;
            Ok(PhoneAnswer::Wrong {
                left: max.saturating_sub(u32::try_from(attempts).unwrap_or(u32::MAX)),
            })
        })
        .await?;
    match answer {
        PhoneAnswer::Right(user) => Ok(user),
        PhoneAnswer::Wrong { left: 0 } => Err(bad_code(
            "wrong code, and that was the last try: ask for a new code",
        )),
        PhoneAnswer::Wrong { left } => Err(bad_code(&format!(
            "wrong code; {left} {} left",
            if left == 1 { "try" } else { "tries" }
        ))),
        PhoneAnswer::NoChallenge => Err(bad_code(
            "no code is waiting for this number (expired, used up, or the number changed): \
             ask for a new one",
        )),
    }
}

/// The user's phone number changed (or was removed): a code sent to the old number
/// must not prove the new one. In the caller's transaction.
pub async fn phone_changed(
    conn: &mut AsyncPgConnection,
    now: chrono::DateTime<chrono::Utc>,
    user: Uuid,
) -> AppResult<()> {
    challenges::close_all(conn, now, user, Purpose::VerifyPhone).await?;
    Ok(())
}
