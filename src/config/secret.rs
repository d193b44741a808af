//! A URL that may carry a password (`postgres://user:password@host/db`): kept as a
//! secret, and shown by `Debug` with the password replaced, so that a logged
//! configuration still says which server it points at.

use std::fmt;

use secrecy::{ExposeSecret, SecretString};

#[derive(Clone)]
pub struct ServiceUrl(SecretString);

impl ServiceUrl {
    pub fn new(url: String) -> Self {
        Self(SecretString::from(url))
    }
}

impl ExposeSecret<str> for ServiceUrl {
    fn expose_secret(&self) -> &str {
        self.0.expose_secret()
    }
}

impl fmt::Debug for ServiceUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}", redact_url(self.0.expose_secret()))
    }
}

/// `postgres://user:password@host` → `postgres://user:***@host`. A query string may
/// carry a password too (`?password=…`), so it is dropped altogether.
pub fn redact_url(url: &str) -> String {
    let (url, query) = match url.split_once('?') {
        Some((base, _)) => (base, "?***"),
        None => (url, ""),
    };
    let redacted = match (url.find("://"), url.rfind('@')) {
        (Some(scheme_end), Some(at)) if at > scheme_end => {
            let creds = &url[scheme_end + 3..at];
            match creds.find(':') {
                Some(colon) => format!(
                    "{}{}:***{}",
                    &url[..scheme_end + 3],
                    &creds[..colon],
                    &url[at..]
                ),
                None => url.to_owned(),
            }
        }
        _ => url.to_owned(),
    };
    format!("{redacted}{query}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_are_hidden_and_the_server_shown() {
        assert_eq!(
            redact_url("postgres://u:hunter2@h:5432/db"),
            "postgres://u:***@h:5432/db"
        );
        assert_eq!(redact_url("redis://:hunter2@h"), "redis://:***@h");
        assert_eq!(redact_url("redis://h:6379"), "redis://h:6379");
        assert_eq!(
            redact_url("postgres://h/db?password=hunter2"),
            "postgres://h/db?***"
        );
        let shown = format!("{:?}", ServiceUrl::new("redis://a:b@c?d=e".into()));
        assert_eq!(shown, "\"redis://a:***@c?***\"");
    }
}
