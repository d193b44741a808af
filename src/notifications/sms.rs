//! Text messages through an `SmsSender`; the one here speaks a Twilio-style HTTP API
//! (`POST {base}/2010-04-01/Accounts/{sid}/Messages.json`, form fields To, From, Body,
//! basic auth with the account sid and token).

use async_trait::async_trait;

use crate::config::SmsSettings;
use secrecy::ExposeSecret;

#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct SmsError(pub String);

#[async_trait]
pub trait SmsSender: Send + Sync {
    async fn send(&self, to: &str, body: &str) -> Result<(), SmsError>;
}

pub struct HttpSms {
    settings: SmsSettings,
    http: reqwest::Client,
}

impl HttpSms {
    pub fn new(settings: SmsSettings) -> Self {
        Self {
            settings,
            http: reqwest::Client::builder()
                .timeout(std::time::Duration::from_secs(10))
                .build()
                .unwrap_or_default(),
        }
    }
}

#[async_trait]
impl SmsSender for HttpSms {
    async fn send(&self, to: &str, body: &str) -> Result<(), SmsError> {
        let s = &self.settings;
        let url = format!(
            "{}/2010-04-01/Accounts/{}/Messages.json",
            s.api_base, s.account_sid
        );
        let response = self
            .http
            .post(url)
            .basic_auth(&s.account_sid, Some(s.auth_token.expose_secret()))
            .form(&[("To", to), ("From", s.from.as_str()), ("Body", body)])
            .send()
            .await
            .map_err(|e| SmsError(format!("SMS API unreachable: {e}")))?;
        if response.status().is_success() {
            Ok(())
        } else {
            Err(SmsError(format!("SMS API answered {}", response.status())))
        }
    }
}
