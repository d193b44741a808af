//! `changePassword`: a signed-in user who knows their password sets a new one, and
//! every other sign-in ends (a password changed because it leaked should lock the
//! other holder out), while the caller's own stays, and reset links mailed before
//! the change stop working.
//!
//! The current password is checked like a sign-in and counted against the same
//! failed sign-in limits (per email and per client, `service::PasswordAttempt`): a
//! stolen access token must not become a way to guess the password faster than
//! `login` allows.

use std::collections::BTreeSet;

use diesel::prelude::*;
use diesel_async::{AsyncConnection, RunQueryDsl};
use uuid::Uuid;

use super::challenges::{self, Purpose};
use super::input::Password;
use super::model::User;
use super::service::PasswordAttempt;
use super::sessions;
use crate::app::App;
use crate::db::schema::{refresh_tokens, users};
use crate::error::{AppError, AppResult};

pub struct PasswordChange<'a> {
    pub user: Uuid,
    /// The caller's sign-in (their access token's refresh family), which stays.
    pub family: Option<Uuid>,
    pub current_password: &'a str,
    pub new_password: &'a str,
    pub client: &'a str,
}

pub async fn change(app: &App, change: PasswordChange<'_>) -> AppResult<bool> {
    if change.current_password.is_empty() {
        return Err(AppError::bad_input(
            "currentPassword",
            "enter your current password",
        ));
    }
    let new = Password::parse(change.new_password).map_err(|e| match e {
        AppError::BadInput { message, .. } => AppError::bad_input("newPassword", message),
        other => other,
    })?;
    let user: User = {
        let mut conn = app.db().await?;
        users::table
            .find(change.user)
            .select(User::as_select())
            .first(&mut conn)
            .await
            .optional()?
            .ok_or(AppError::NotFound { what: "user" })?
    };
    let attempt = PasswordAttempt::begin(app, &user.email, change.client).await?;
    match app
        .passwords
        .verify(change.current_password, Some(&user.password_hash))
        .await
    {
        Ok(true) => attempt.right().await,
        // The reservation stands: a wrong password counts as a failed sign-in.
        Ok(false) => {
            return Err(AppError::bad_input(
                "currentPassword",
                "this is not your current password",
            ));
        }
        Err(e) => {
            attempt.unchecked().await;
            return Err(e);
        }
    }
    let hash = app.passwords.hash(new.expose()).await?;
    let now = app.now();
    let mut conn = app.db().await?;
    let ended: Vec<Uuid> = conn
        .transaction::<_, AppError, _>(async |conn| {
            // Only if the password is still the one checked: two changes at once do
            // not both win.
            let changed = diesel::update(
                users::table
                    .find(user.id)
                    .filter(users::password_hash.eq(&user.password_hash)),
            )
            .set((users::password_hash.eq(&hash), users::updated_at.eq(now)))
            .execute(conn)
            .await?;
            if changed == 0 {
                return Err(AppError::conflict(
                    "the password was changed meanwhile; sign in again",
                ));
            }
            // A reset link mailed before the change must not undo it.
            challenges::close_all(conn, now, user.id, Purpose::ResetPassword).await?;
            // No family (a token no sign-in issued): every sign-in is another one.
            let own = change.family.unwrap_or(Uuid::nil());
            let families: Vec<Uuid> = diesel::update(
                refresh_tokens::table
                    .filter(refresh_tokens::user_id.eq(user.id))
                    .filter(refresh_tokens::revoked_at.is_null())
                    .filter(refresh_tokens::family_id.ne(own)),
            )
            .set(refresh_tokens::revoked_at.eq(now))
            .returning(refresh_tokens::family_id)
            .get_results(conn)
            .await?;
            Ok(families)
        })
        .await?;
    drop(conn);
    let families: BTreeSet<Uuid> = ended.into_iter().collect();
    for family in families {
        sessions::family_revoked(app, user.id, family).await;
    }
    Ok(true)
}
