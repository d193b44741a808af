//! Customers' emails (SMTP) and text messages (a Twilio-style API).

use secrecy::SecretString;

use super::ConfigError;
use super::vars::Vars;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SmtpTls {
    None,
    StartTls,
    Tls,
}

#[derive(Debug, Clone)]
pub struct SmtpSettings {
    pub host: String,
    pub port: u16,
    pub tls: SmtpTls,
    pub username: Option<String>,
    pub password: Option<SecretString>,
}

#[derive(Debug, Clone)]
pub struct SmsSettings {
    /// A Twilio-style API: `POST {base}/2010-04-01/Accounts/{sid}/Messages.json`.
    pub api_base: String,
    pub account_sid: String,
    pub auth_token: SecretString,
    pub from: String,
}

/// Where customers' emails and text messages go; either may be absent, and then
/// those messages are skipped (and logged).
#[derive(Debug, Clone)]
pub struct MessagingSettings {
    pub smtp: Option<SmtpSettings>,
    pub mail_from: String,
    pub sms: Option<SmsSettings>,
    /// Customers told of a promotion per batch (`notifications::promotions`).
    pub promotion_batch: u32,
    /// At most this many customers told of a promotion per second.
    pub promotion_rate: u32,
}

impl MessagingSettings {
    pub(super) fn read(vars: &Vars) -> Result<Self, ConfigError> {
        Ok(Self {
            smtp: vars
                .get("SMTP_HOST")
                .map(|host| smtp(vars, host))
                .transpose()?,
            mail_from: vars.string("MAIL_FROM", "SCREEMA <tickets@screema.local>"),
            sms: vars
                .get("SMS_API_BASE")
                .map(|base| sms(vars, base))
                .transpose()?,
            promotion_batch: vars.number("PROMOTION_BATCH", 200, 1)?,
            promotion_rate: vars.number("PROMOTION_RATE_PER_SECOND", 50, 1)?,
        })
    }
}

fn smtp(vars: &Vars, host: String) -> Result<SmtpSettings, ConfigError> {
    let tls = vars.choice(
        "SMTP_TLS",
        SmtpTls::StartTls,
        &[
            ("starttls", SmtpTls::StartTls),
            ("tls", SmtpTls::Tls),
            ("none", SmtpTls::None),
        ],
    )?;
    let default_port = match tls {
        SmtpTls::Tls => 465,
        SmtpTls::StartTls => 587,
        SmtpTls::None => 25,
    };
    Ok(SmtpSettings {
        host,
        port: vars.number("SMTP_PORT", default_port, 1)?,
        tls,
        username: vars.get("SMTP_USERNAME"),
        password: vars.optional_secret("SMTP_PASSWORD"),
    })
}

fn sms(vars: &Vars, api_base: String) -> Result<SmsSettings, ConfigError> {
    let need = |var: &'static str| {
        vars.get(var)
            .ok_or_else(|| ConfigError::new(var, "required when SMS_API_BASE is set"))
    };
    Ok(SmsSettings {
        api_base: api_base.trim_end_matches('/').to_owned(),
        account_sid: need("SMS_ACCOUNT_SID")?,
        auth_token: SecretString::from(need("SMS_AUTH_TOKEN")?),
        from: need("SMS_FROM")?,
    })
}
