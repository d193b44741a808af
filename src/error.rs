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
    /// The showtime's sale is queued and this buyer has not been let in
    /// (`sale_queue`): their place in the queue (`None` before the order is drawn,
    /// at opening), and when the sale opens.
    Queued {
        position: Option<i64>,
        opens_at: Option<chrono::DateTime<chrono::Utc>>,
    },
    /// A backing service (Postgres, Redis) is away: nothing is wrong with the request,
    /// and the same request may well succeed in a moment. The cause is logged, never
    /// shown (it names hosts and drivers).
    Unavailable {
        service: Service,
        cause: anyhow::Error,
    },
    /// Anything unexpected. The cause is logged, never shown.
    Internal(anyhow::Error),
}

pub type AppResult<T> = Result<T, AppError>;

/// The backing services whose absence is `UNAVAILABLE`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Service {
    Postgres,
    Redis,
}

impl Service {
    pub fn name(self) -> &'static str {
        match self {
            Service::Postgres => "postgres",
            Service::Redis => "redis",
        }
    }
}

/// How long a client is asked to wait before retrying an `UNAVAILABLE` answer: a
/// pool gives up on a connection after 5 s and Redis commands after 2 s, and a
/// restart or failover takes seconds, so a few seconds, not minutes.
pub const UNAVAILABLE_RETRY_SECONDS: u64 = 3;

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
            Self::Queued { .. } => "QUEUED",
            Self::Unavailable { .. } => "UNAVAILABLE",
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
            Self::Queued {
                position: Some(p),
                ..
            } => format!("this sale is queued: you are number {p} in the queue"),
            Self::Queued { position: None, .. } => {
                "this sale is queued: you are in the queue, whose order is drawn when the sale opens"
                    .to_owned()
            }
            Self::Unavailable { .. } => format!(
                "a service this request needs is unavailable; retry in {UNAVAILABLE_RETRY_SECONDS} s"
            ),
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
            AppError::Unavailable { service, cause } => {
                write!(f, "UNAVAILABLE ({}): {cause:#}", service.name())
            }
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
            // `screema_showtime_on_sale`: a seat sold for a showtime no longer on sale.
            diesel::result::Error::DatabaseError(
                diesel::result::DatabaseErrorKind::CheckViolation,
                ref info,
            ) if info.constraint_name() == Some("showtime_on_sale") => {
                Self::bad_input("showtimeId", "this showtime was cancelled")
            }
            // `screema_showtime_on_sale`: a seat the house has blocked, whatever Redis
            // said when it was held; the trigger names it in the detail.
            diesel::result::Error::DatabaseError(
                diesel::result::DatabaseErrorKind::CheckViolation,
                ref info,
            ) if info.constraint_name() == Some("seat_blocked") => Self::SeatsUnavailable {
                seats: info.details().map(str::to_owned).into_iter().collect(),
            },
            other if postgres_away(&other) => Self::Unavailable {
                service: Service::Postgres,
                cause: anyhow::Error::new(other).context("the database connection was lost"),
            },
            other => Self::Internal(anyhow::Error::new(other).context("database query failed")),
        }
    }
}

/// Whether a query failed because the connection did, not because of the query.
/// diesel-async reports an error without a SQLSTATE (the socket closed, an I/O error)
/// as `UnableToSendCommand`; a server that is shutting down or had the backend
/// terminated answers SQLSTATE 57P01, which diesel does not expose, with this message.
fn postgres_away(e: &diesel::result::Error) -> bool {
    use diesel::result::DatabaseErrorKind as Kind;
    match e {
        diesel::result::Error::DatabaseError(Kind::ClosedConnection, _)
        | diesel::result::Error::DatabaseError(Kind::UnableToSendCommand, _) => true,
        diesel::result::Error::DatabaseError(_, info) => info
            .message()
            .starts_with("terminating connection due to administrator command"),
        _ => false,
    }
}

impl From<crate::db::PoolError> for AppError {
    fn from(e: crate::db::PoolError) -> Self {
        use deadpool::managed::PoolError as P;
        match e {
            // No connection to be had in time, none could be opened, or the pool is
            // closing: Postgres (or the way to it) is away or overwhelmed.
            P::Timeout(_) | P::Backend(_) | P::Closed => Self::Unavailable {
                service: Service::Postgres,
                cause: anyhow::anyhow!("database unavailable: {e}"),
            },
            other => Self::Internal(anyhow::anyhow!("database pool: {other}")),
        }
    }
}

/// Whether a Redis command failed because Redis could not be reached in time (the
/// connection is down, reconnecting, or the command timed out waiting for it), not
/// because of the command.
fn redis_away(e: &fred::error::Error) -> bool {
    use fred::error::ErrorKind as K;
    matches!(e.kind(), K::IO | K::Timeout | K::Canceled | K::Backpressure)
}

impl From<fred::error::Error> for AppError {
    fn from(e: fred::error::Error) -> Self {
        if redis_away(&e) {
            Self::Unavailable {
                service: Service::Redis,
                cause: anyhow::Error::new(e).context("redis unavailable"),
            }
        } else {
            Self::Internal(anyhow::Error::new(e).context("redis command failed"))
        }
    }
}

impl From<anyhow::Error> for AppError {
    /// A cause that was given context on its way up is still recognised as a service
    /// that is away.
    fn from(e: anyhow::Error) -> Self {
        let away = e.chain().find_map(|cause| {
            if let Some(redis) = cause.downcast_ref::<fred::error::Error>() {
                redis_away(redis).then_some(Service::Redis)
            } else if let Some(query) = cause.downcast_ref::<diesel::result::Error>() {
                postgres_away(query).then_some(Service::Postgres)
            } else if let Some(pool) = cause.downcast_ref::<crate::db::PoolError>() {
                use deadpool::managed::PoolError as P;
                matches!(pool, P::Timeout(_) | P::Backend(_) | P::Closed)
                    .then_some(Service::Postgres)
            } else {
                None
            }
        });
        match away {
            Some(service) => Self::Unavailable { service, cause: e },
            None => Self::Internal(e),
        }
    }
}
