//! Email through SMTP (lettre), pooled, with the TLS the configuration asks for.

use lettre::message::{Mailbox, MessageBuilder};
use lettre::transport::smtp::authentication::Credentials;
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};

use crate::app::App;
use crate::error::{AppError, AppResult};

use crate::config::{SmtpSettings, SmtpTls};
use secrecy::ExposeSecret;

pub struct Mailer {
    transport: AsyncSmtpTransport<Tokio1Executor>,
}

impl Mailer {
    pub fn new(s: &SmtpSettings) -> anyhow::Result<Self> {
        let builder = match s.tls {
            SmtpTls::None => AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(&s.host),
            SmtpTls::StartTls => AsyncSmtpTransport::<Tokio1Executor>::starttls_relay(&s.host)?,
            SmtpTls::Tls => AsyncSmtpTransport::<Tokio1Executor>::relay(&s.host)?,
        };
        let mut builder = builder
            .port(s.port)
            .timeout(Some(std::time::Duration::from_secs(10)));
        if let (Some(user), Some(password)) = (&s.username, &s.password) {
            builder = builder.credentials(Credentials::new(
                user.clone(),
                password.expose_secret().to_owned(),
            ));
        }
        Ok(Self {
            transport: builder.build(),
        })
    }

    pub async fn send(&self, message: Message) -> anyhow::Result<()> {
        self.transport.send(message).await?;
        Ok(())
    }

    /// Sends `message`, as every email path reports a failure (the outbox retries it).
    pub async fn deliver(&self, message: Result<Message, lettre::error::Error>) -> AppResult<()> {
        self.send(message.map_err(failed)?)
            .await
            .map_err(|e| AppError::internal(e.context("sending email")))
    }

    /// A plain-text email from the configured sender to `name <address>`.
    pub async fn send_text(
        &self,
        app: &App,
        (name, address): (&str, &str),
        subject: &str,
        body: String,
    ) -> AppResult<()> {
        self.deliver(addressed(app, name, address, subject)?.body(body))
            .await
    }
}

/// What every email shares: from the configured sender, to `name <address>`, its subject.
pub fn addressed(app: &App, name: &str, address: &str, subject: &str) -> AppResult<MessageBuilder> {
    let from: Mailbox = app.config.messaging.mail_from.parse().map_err(failed)?;
    let to = Mailbox::new(Some(name.to_owned()), address.parse().map_err(failed)?);
    Ok(Message::builder().from(from).to(to).subject(subject))
}

/// An email that could not be made (a bad address, a bad header).
pub fn failed(e: impl std::fmt::Display) -> AppError {
    AppError::internal(anyhow::anyhow!("email: {e}"))
}
