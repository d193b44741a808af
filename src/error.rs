//! Domain errors: what went wrong, in terms a caller can act on.
//!
//! `AppError` deliberately has no `Display` impl: async-graphql converts anything
//! that displays into an error *without* a code, and we never want a domain error to
//! reach a client that way. The one mapping to `extensions.code` is in
//! `graphql::error`.

use std::fmt;

#[derive(Debug)]
pub enum AppError {
    /// Input that cannot be accepted; `field` names the offending argument or input field.
    BadInput {
        field: String,
        message: String,
    },
    NotFound {
        what: &'static str,
    },
    Unauthenticated {
        message: String,
    },
    Forbidden {
        message: String,
    },
    SeatsUnavailable {
        seats: Vec<String>,
    },
    LockExpired,
    Conflict {
        message: String,
        field: Option<String>,
    },
    RateLimited {
        retry_after_seconds: u64,
    },
    PaymentFailed {
        message: String,
    },
    /// Anything unexpected. The cause is logged, never shown.
    Internal(anyhow::Error),
}

pub type AppResult<T> = Result<T, AppError>;

impl AppError {
    pub fn bad_input(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self::BadInput {
            field: field.into(),
            message: message.into(),
        }
    }

    pub fn conflict(message: impl Into<String>) -> Self {
        Self::Conflict {
            message: message.into(),
            field: None,
        }
    }

    pub fn internal(cause: impl Into<anyhow::Error>) -> Self {
        Self::Internal(cause.into())
    }

    /// The stable code clients switch on (API.md).
    pub fn code(&self) -> &'static str {
        match self {
            Self::BadInput { .. } => "BAD_USER_INPUT",
            Self::NotFound { .. } => "NOT_FOUND",
            Self::Unauthenticated { .. } => "UNAUTHENTICATED",
            Self::Forbidden { .. } => "FORBIDDEN",
            Self::SeatsUnavailable { .. } => "SEATS_UNAVAILABLE",
            Self::LockExpired => "LOCK_EXPIRED",
            Self::Conflict { .. } => "CONFLICT",
            Self::RateLimited { .. } => "RATE_LIMITED",
            Self::PaymentFailed { .. } => "PAYMENT_FAILED",
            Self::Internal(_) => "INTERNAL",
        }
    }

    /// The message a client may see.
    pub fn public_message(&self) -> String {
        match self {
            Self::BadInput { message, .. } => message.clone(),
            Self::NotFound { what } => format!("{what} not found"),
            Self::Unauthenticated { message } | Self::Forbidden { message } => message.clone(),
            Self::SeatsUnavailable { seats } => {
                format!("seats not available: {}", seats.join(", "))
            }
            Self::LockExpired => "the seat hold has expired or was released".to_owned(),
            Self::Conflict { message, .. } => message.clone(),
            Self::RateLimited {
                retry_after_seconds,
            } => {
                format!("too many requests; retry in {retry_after_seconds} s")
            }
            Self::PaymentFailed { message } => message.clone(),
            Self::Internal(_) => "internal error".to_owned(),
        }
    }
}

/// For logs only; the public message is `public_message`.
pub struct LogDisplay<'a>(pub &'a AppError);

impl fmt::Display for LogDisplay<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            AppError::Internal(cause) => write!(f, "INTERNAL: {cause:#}"),
            other => write!(f, "{}: {}", other.code(), other.public_message()),
        }
    }
}

/// A refused seat layout is bad input at the path it names. Here rather than next to
/// `LayoutError`, whose crate (`screema-formats`) does not know `AppError`.
impl From<screema_formats::layout::LayoutError> for AppError {
    fn from(e: screema_formats::layout::LayoutError) -> Self {
        AppError::bad_input(e.field, e.message)
    }
}

impl From<diesel::result::Error> for AppError {
    fn from(e: diesel::result::Error) -> Self {
        match e {
            diesel::result::Error::NotFound => Self::NotFound { what: "record" },
            other => Self::Internal(anyhow::Error::new(other).context("database query failed")),
        }
    }
}

impl From<crate::db::PoolError> for AppError {
    fn from(e: crate::db::PoolError) -> Self {
        Self::Internal(anyhow::anyhow!("database unavailable: {e}"))
    }
}

impl From<fred::error::Error> for AppError {
    fn from(e: fred::error::Error) -> Self {
        Self::Internal(anyhow::Error::new(e).context("redis command failed"))
    }
}

impl From<anyhow::Error> for AppError {
    fn from(e: anyhow::Error) -> Self {
        Self::Internal(e)
    }
}
