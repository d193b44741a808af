//! Registration, sign-in, token rotation, sign-out and roles.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel::result::{DatabaseErrorKind, Error as DieselError};
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use uuid::Uuid;

use super::input::{Email, FullName, Password, Phone};
use super::model::{RefreshToken, User, Viewer};
use super::{sessions, tokens};
use crate::app::App;
use crate::db::enums::Role;
use crate::db::schema::{refresh_tokens, users};
use crate::error::{AppError, AppResult};
use crate::ratelimit::{self, Decision};
use secrecy::ExposeSecret;

pub struct Registration {
    pub email: Email,
    pub password: Password,
    pub full_name: FullName,
    pub phone: Option<Phone>,
}

#[derive(Debug, Clone)]
pub struct TokenPair {
    pub access_token: String,
    pub refresh_token: String,
}

pub struct Session {
    pub user: User,
    pub tokens: TokenPair,
}

fn wrong_credentials() -> AppError {
    AppError::Unauthenticated {
        message: "wrong email or password".to_owned(),
    }
}

fn refused_refresh() -> AppError {
    AppError::Unauthenticated {
        message: "refresh token is invalid, expired or revoked; sign in again".to_owned(),
    }
}

/// Creates the account and signs it in; the link that proves the email address goes
/// out through the outbox, written in the same transaction as the user.
pub async fn register(app: &App, registration: Registration) -> AppResult<Session> {
    let hash = app.passwords.hash(registration.password.expose()).await?;
    let mut conn = app.db().await?;
    let (user, message) = conn
        .transaction::<_, AppError, _>(async |conn| {
            let inserted = diesel::insert_into(users::table)
                .values((
                    users::email.eq(registration.email.as_str()),
                    users::password_hash.eq(hash),
                    users::full_name.eq(registration.full_name.as_str()),
                    users::phone.eq(registration.phone.as_ref().map(Phone::as_str)),
                ))
                .returning(User::as_returning())
                .get_result(conn)
                .await;
            let user = match inserted {
                Ok(user) => user,
                Err(DieselError::DatabaseError(DatabaseErrorKind::UniqueViolation, _)) => {
                    return Err(AppError::Conflict {
                        message: "an account with this email already exists".to_owned(),
                        field: Some("email".to_owned()),
                    });
                }
                Err(e) => return Err(e.into()),
            };
            let message = super::verification::open_email_challenge(app, conn, &user).await?;
            Ok((user, message))
        })
        .await?;
    let tokens = start_session(app, &mut conn, &user, Uuid::new_v4()).await?;
    crate::outbox::deliver_now(app, conn, &message.into_iter().collect::<Vec<_>>()).await;
    Ok(Session { user, tokens })
}

/// Signs in. Failures are counted per email and per client, and both limits are
/// checked before the password is, so guessing gets slow whichever way it spreads.
///
/// Each attempt counts as a failure in both counts before its password is verified
/// (refused ones too, so a guesser's hammering never frees a place), and gives it
/// back when the password is right (or was never checked): checked first and
/// counted after, 50 guesses sent at once would all pass the check before the first
/// of them failed. The price: attempts in flight count against the limit while they
/// run (tens of milliseconds each).
pub async fn login(app: &App, email: &str, password: &str, client: &str) -> AppResult<Session> {
    if email.trim().is_empty() {
        return Err(AppError::bad_input("email", "enter your email address"));
    }
    if password.is_empty() {
        return Err(AppError::bad_input("password", "enter your password"));
    }
    let attempt = PasswordAttempt::begin(app, email, client).await?;
    match check_credentials(app, email, password).await {
        Ok((user, mut conn)) => {
            attempt.right().await;
            let tokens = start_session(app, &mut conn, &user, Uuid::new_v4()).await?;
            Ok(Session { user, tokens })
        }
        // The reservation stands: it was a failed sign-in.
        Err(Credentials::Wrong) => Err(wrong_credentials()),
        // Never checked (the database, or password hashing busy): not a failure.
        Err(Credentials::Unchecked(e)) => {
            attempt.unchecked().await;
            Err(e)
        }
    }
}

/// One password check counted against the failed sign-in limits of an email and a
/// client (`login`, and `changePassword`, so that guessing through it is no way
/// around them): reserved as a failure before the check, given back after it.
pub(super) struct PasswordAttempt<'a> {
    app: &'a App,
    email_key: String,
    client: &'a str,
}

impl<'a> PasswordAttempt<'a> {
    /// Counts the attempt, or refuses it when either limit is reached.
    pub(super) async fn begin(app: &'a App, email: &str, client: &'a str) -> AppResult<Self> {
        let limit = app.config.rate_limits.login;
        let attempt = Self {
            app,
            email_key: email.trim().to_lowercase(),
            client,
        };
        let mut limited: Option<u64> = None;
        for (bucket, subject) in attempt.buckets() {
            if let Decision::Limited {
                retry_after_seconds,
            } = ratelimit::hit(&app.redis, bucket, subject, limit).await
            {
                limited = Some(limited.unwrap_or(0).max(retry_after_seconds));
            }
        }
        match limited {
            Some(retry_after_seconds) => Err(AppError::RateLimited {
                retry_after_seconds,
            }),
            None => Ok(attempt),
        }
    }

    fn buckets(&self) -> [(&'static str, &str); 2] {
        [
            ("login-email", self.email_key.as_str()),
            ("login-client", self.client),
        ]
    }

    /// A right password forgets the email's failures, and gives the client back its
    /// reservation.
    pub(super) async fn right(self) {
        let (app, limit) = (self.app, self.app.config.rate_limits.login);
        ratelimit::clear(&app.redis, "login-email", &self.email_key).await;
        ratelimit::release(&app.redis, "login-client", self.client, limit).await;
    }

    /// The password was never checked: not a failure.
    pub(super) async fn unchecked(self) {
        let (app, limit) = (self.app, self.app.config.rate_limits.login);
        for (bucket, subject) in self.buckets() {
            ratelimit::release(&app.redis, bucket, subject, limit).await;
        }
    }
}

enum Credentials {
    Wrong,
    Unchecked(AppError),
}

impl From<AppError> for Credentials {
    fn from(e: AppError) -> Self {
        Self::Unchecked(e)
    }
}

/// The user these credentials prove, with the connection that read it.
async fn check_credentials(
    app: &App,
    email: &str,
    password: &str,
) -> Result<(User, crate::db::Conn), Credentials> {
    let mut conn = app.db().await.map_err(AppError::from)?;
    let user: Option<User> = match Email::parse(email) {
        Ok(email) => users::table
            .filter(users::email.eq(email.as_str()))
            .select(User::as_select())
            .first(&mut conn)
            .await
            .optional()
            .map_err(AppError::from)?,
        Err(_) => None,
    };
    let ok = app
        .passwords
        .verify(password, user.as_ref().map(|u| u.password_hash.as_str()))
        .await?;
    match user.filter(|_| ok) {
        Some(user) => Ok((user, conn)),
        None => Err(Credentials::Wrong),
    }
}

async fn start_session(
    app: &App,
    conn: &mut AsyncPgConnection,
    user: &User,
    family: Uuid,
) -> AppResult<TokenPair> {
    let now = app.now();
    let refresh_token = insert_refresh_token(app, conn, user.id, family, now).await?;
    let access_token = access_token(app, user, family, now)?;
    Ok(TokenPair {
        access_token,
        refresh_token,
    })
}

/// An access token of the sign-in `family`, so that revoking the family voids it.
fn access_token(app: &App, user: &User, family: Uuid, now: DateTime<Utc>) -> AppResult<String> {
    let viewer = Viewer {
        user_id: user.id,
        role: user.role,
    };
    tokens::issue_access_token_in_family(
        app.config.auth.jwt_secret.expose_secret(),
        viewer,
        Some(family),
        now,
        app.config.auth.access_token_ttl,
    )
}

async fn insert_refresh_token(
    app: &App,
    conn: &mut AsyncPgConnection,
    user: Uuid,
    family: Uuid,
    now: DateTime<Utc>,
) -> AppResult<String> {
    let (token, hash) = tokens::new_refresh_token();
    let ttl = chrono::Duration::from_std(app.config.auth.refresh_token_ttl)
        .map_err(AppError::internal)?;
    diesel::insert_into(refresh_tokens::table)
        .values((
            refresh_tokens::user_id.eq(user),
            refresh_tokens::family_id.eq(family),
            refresh_tokens::token_hash.eq(hash),
            refresh_tokens::expires_at.eq(now + ttl),
            refresh_tokens::created_at.eq(now),
        ))
        .execute(conn)
        .await?;
    Ok(token)
}

enum Rotation {
    Rotated(TokenPair),
    Refused,
    /// A token already rotated was presented again: someone holds a copy.
    Reused {
        user: Uuid,
        family: Uuid,
    },
}

/// Trades a refresh token for a new pair. The old token stops working; presenting it
/// again revokes its whole family, the thief's newer tokens and the owner's alike.
pub async fn refresh(app: &App, refresh_token: &str) -> AppResult<TokenPair> {
    let hash = tokens::hash_refresh_token(refresh_token);
    let now = app.now();
    let mut conn = app.db().await?;
    let outcome = conn
        .transaction::<_, AppError, _>(async |conn| {
            let row: Option<RefreshToken> = refresh_tokens::table
                .filter(refresh_tokens::token_hash.eq(&hash))
                .select(RefreshToken::as_select())
                .for_update()
                .first(conn)
                .await
                .optional()?;
            let Some(RefreshToken {
                id,
                user_id,
                family_id: family,
                expires_at,
                rotated_at,
                revoked_at,
                ..
            }) = row
            else {
                return Ok(Rotation::Refused);
            };
            if revoked_at.is_some() {
                return Ok(Rotation::Refused);
            }
            if rotated_at.is_some() {
                revoke_family(conn, family, now).await?;
                return Ok(Rotation::Reused {
                    user: user_id,
                    family,
                });
            }
            if expires_at <= now {
                return Ok(Rotation::Refused);
            }
            diesel::update(refresh_tokens::table.find(id))
                .set(refresh_tokens::rotated_at.eq(now))
                .execute(conn)
                .await?;
            let user: User = users::table
                .find(user_id)
                .select(User::as_select())
                .first(conn)
                .await?;
            let refresh_token = insert_refresh_token(app, conn, user.id, family, now).await?;
            let access_token = access_token(app, &user, family, now)?;
            Ok(Rotation::Rotated(TokenPair {
                access_token,
                refresh_token,
            }))
        })
        .await?;
    match outcome {
        Rotation::Rotated(pair) => Ok(pair),
        Rotation::Refused => Err(refused_refresh()),
        Rotation::Reused { user, family } => {
            tracing::warn!("refresh token reused: its family is revoked");
            // The thief's access tokens die now too, and their websockets close.
            sessions::family_revoked(app, user, family).await;
            Err(refused_refresh())
        }
    }
}

async fn revoke_family(
    conn: &mut AsyncPgConnection,
    family: Uuid,
    now: DateTime<Utc>,
) -> AppResult<usize> {
    Ok(diesel::update(
        refresh_tokens::table
            .filter(refresh_tokens::family_id.eq(family))
            .filter(refresh_tokens::revoked_at.is_null()),
    )
    .set(refresh_tokens::revoked_at.eq(now))
    .execute(conn)
    .await?)
}

/// Revokes the sign-in the token belongs to. True if there was one to revoke.
pub async fn logout(app: &App, refresh_token: &str) -> AppResult<bool> {
    let hash = tokens::hash_refresh_token(refresh_token);
    let mut conn = app.db().await?;
    let found: Option<(Uuid, Uuid)> = refresh_tokens::table
        .filter(refresh_tokens::token_hash.eq(hash))
        .select((refresh_tokens::user_id, refresh_tokens::family_id))
        .first(&mut conn)
        .await
        .optional()?;
    let Some((user, family)) = found else {
        return Ok(false);
    };
    let revoked = revoke_family(&mut conn, family, app.now()).await? > 0;
    // Even when it was revoked already: a second logout repairs a revocation that
    // did not reach Redis the first time.
    sessions::family_revoked(app, user, family).await;
    Ok(revoked)
}

pub async fn user_by_id(conn: &mut AsyncPgConnection, id: Uuid) -> AppResult<Option<User>> {
    Ok(users::table
        .find(id)
        .select(User::as_select())
        .first(conn)
        .await
        .optional()?)
}

/// Changes a user's role and signs them out everywhere, so the new role applies at
/// their next sign-in: access tokens already issued stop working and their
/// websockets close (`auth::sessions`).
pub async fn set_role(app: &App, by: Viewer, user_id: Uuid, role: Role) -> AppResult<User> {
    if by.user_id == user_id && role != Role::Admin {
        return Err(AppError::bad_input(
            "userId",
            "an admin cannot demote themselves",
        ));
    }
    let now = app.now();
    let mut conn = app.db().await?;
    let user = conn
        .transaction::<_, AppError, _>(async |conn| {
            let user: Option<User> = diesel::update(users::table.find(user_id))
                .set(users::role.eq(role))
                .returning(User::as_returning())
                .get_result(conn)
                .await
                .optional()?;
            let user = user.ok_or_else(|| AppError::bad_input("userId", "no such user"))?;
            diesel::update(
                refresh_tokens::table
                    .filter(refresh_tokens::user_id.eq(user_id))
                    .filter(refresh_tokens::revoked_at.is_null()),
            )
            .set(refresh_tokens::revoked_at.eq(now))
            .execute(conn)
            .await?;
            Ok(user)
        })
        .await?;
    sessions::user_revoked(app, user_id).await;
    Ok(user)
}

/// What a user changes of their own profile; absent fields stay as they are.
pub struct ProfileChanges {
    pub full_name: Option<FullName>,
    /// `Some(None)` removes the phone number.
    pub phone: Option<Option<Phone>>,
    /// Whether the user wants promotions (`notifications::promotions`).
    pub marketing_opt_in: Option<bool>,
}

/// Changes the signed-in user's name and phone. A phone number that changes (or is
/// removed) is no longer verified: texts go only to numbers the user has proven.
pub async fn update_profile(app: &App, user: Uuid, changes: ProfileChanges) -> AppResult<User> {
    let mut conn = app.db().await?;
    conn.transaction::<_, AppError, _>(async |conn| {
        let current = users::table
            .find(user)
            .select(User::as_select())
            .for_update()
            .first(conn)
            .await
            .optional()?
            .ok_or(AppError::NotFound { what: "user" })?;
        let full_name = changes
            .full_name
            .as_ref()
            .map_or(current.full_name.as_str(), FullName::as_str);
        let phone = match &changes.phone {
            None => current.phone.clone(),
            Some(phone) => phone.as_ref().map(|p| p.as_str().to_owned()),
        };
        let phone_verified = current.phone_verified && phone == current.phone;
        if phone != current.phone {
            super::verification::phone_changed(conn, app.now(), user).await?;
        }
        Ok(diesel::update(users::table.find(user))
            .set((
                users::full_name.eq(full_name),
                users::phone.eq(&phone),
                users::phone_verified.eq(phone_verified),
                users::marketing_opt_in
                    .eq(changes.marketing_opt_in.unwrap_or(current.marketing_opt_in)),
                users::updated_at.eq(app.now()),
            ))
            .returning(User::as_returning())
            .get_result(conn)
            .await?)
    })
    .await
}
