//! Sending account challenges (the outbox's `account_message` effect): the link that
//! verifies an email address, the link that resets a password, and the code texted
//! to a phone. The code is derived here, at delivery, from the challenge's id
//! (`auth::challenges`), so nothing stored holds it. A challenge that was used or
//! has expired by the time its row is delivered is not sent: there is nothing to
//! retry. With no SMTP or SMS configured the message is skipped and logged, as
//! booking messages are.

use uuid::Uuid;

use crate::app::App;
use crate::auth::challenges::{self, Challenge, Purpose};
use crate::error::{AppError, AppResult};

pub async fn send(app: &App, challenge: Uuid) -> AppResult<()> {
    let (found, user) = {
        let mut conn = app.db().await?;
        let found = challenges::find(&mut conn, challenge).await?;
        let user = match &found {
            Some(c) => crate::auth::service::user_by_id(&mut conn, c.user_id).await?,
            None => None,
        };
        (found, user)
    };
    let (Some(c), Some(user)) = (found, user) else {
        tracing::info!(%challenge, "account challenge gone; message skipped");
        return Ok(());
    };
    if !c.is_open(app.now()) {
        tracing::info!(%challenge, "account challenge used or expired; message skipped");
        return Ok(());
    }
    let secret = &app.config.accounts.code_secret;
    let base = app.config.base_url();
    match c.purpose() {
        Some(Purpose::VerifyEmail) => {
            let code = challenges::link_code(secret, Purpose::VerifyEmail, c.id);
            let body = format!(
                "Hello {},\n\nplease confirm that this is your email address by opening\n\n  \
                 {base}/verify-email?code={code}\n\nor by entering this code in the app:\n\n  \
                 {code}\n\nIt works once, until {}. If you did not sign up for SCREEMA, \
                 ignore this email.\n\nSCREEMA\n",
                user.full_name,
                expiry(&c)
            );
            email(app, &c, &user.full_name, "Confirm your email address", body).await
        }
        Some(Purpose::ResetPassword) => {
            let token = challenges::link_code(secret, Purpose::ResetPassword, c.id);
            let body = format!(
                "Hello {},\n\nsomeone (we hope you) asked to reset your SCREEMA password. \
                 Choose a new one here:\n\n  {base}/reset-password?token={token}\n\n\
                 or enter this code in the app:\n\n  {token}\n\nThe link works once, until {}, and signs you out everywhere. If you did \
                 not ask, ignore this email: your password stays as it is.\n\nSCREEMA\n",
                user.full_name,
                expiry(&c)
            );
            email(
                app,
                &c,
                &user.full_name,
                "Reset your SCREEMA password",
                body,
            )
            .await
        }
        Some(Purpose::VerifyPhone) => {
            let Some(sms) = &app.sms else {
                tracing::info!(%challenge, "no SMS configured; phone code skipped");
                return Ok(());
            };
            let minutes = (c.expires_at - c.created_at).num_minutes();
            let text = format!(
                "SCREEMA: your code is {}. It expires in {minutes} minutes. \
                 Nobody from SCREEMA will ask you for it.",
                challenges::phone_code(secret, c.id)
            );
            sms.send(&c.target, &text)
                .await
                .map_err(|e| AppError::internal(anyhow::anyhow!("{e}")))
        }
        None => Err(AppError::internal(anyhow::anyhow!(
            "account challenge {} has an unknown purpose {}",
            c.id,
            c.purpose
        ))),
    }
}

fn expiry(c: &Challenge) -> String {
    c.expires_at.format("%a %d %b %Y %H:%M UTC").to_string()
}

/// To the address the challenge proves (not whatever the profile says later).
async fn email(
    app: &App,
    c: &Challenge,
    full_name: &str,
    subject: &str,
    body: String,
) -> AppResult<()> {
    let Some(mailer) = &app.mailer else {
        tracing::info!(challenge = %c.id, "no SMTP configured; account email skipped");
        return Ok(());
    };
    mailer
        .send_text(app, (full_name, &c.target), subject, body)
        .await
}
