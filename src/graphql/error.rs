//! The error boundary: domain errors become GraphQL errors with `extensions.code`,
//! and errors from the GraphQL machinery itself (parse, validation, limits) get one too.

use std::sync::Arc;

use async_graphql::{ErrorExtensionValues, Pos, ServerError, Value};

use crate::error::{AppError, LogDisplay};

impl From<AppError> for async_graphql::Error {
    fn from(e: AppError) -> Self {
        to_graphql_error(&e)
    }
}

/// A domain error shared between the callers of one dataloader batch.
#[derive(Debug, Clone)]
pub struct SharedError(pub Arc<AppError>);

impl From<AppError> for SharedError {
    fn from(e: AppError) -> Self {
        Self(Arc::new(e))
    }
}

impl From<SharedError> for async_graphql::Error {
    fn from(e: SharedError) -> Self {
        to_graphql_error(&e.0)
    }
}

fn to_graphql_error(e: &AppError) -> async_graphql::Error {
    let mut extensions = ErrorExtensionValues::default();
    extensions.set("code", e.code());
    let message = match e {
        AppError::Internal(_) => {
            // The cause goes to the log with a reference the client can quote.
            let reference = uuid::Uuid::new_v4().simple().to_string();
            tracing::error!(error.reference = %reference, error = %LogDisplay(e), "internal error");
            extensions.set("reference", reference);
            e.public_message()
        }
        AppError::Unavailable { .. } => {
            // Worth a warning (someone should know Postgres or Redis is away), not an
            // error with a reference: there is no bug to find.
            tracing::warn!(error = %LogDisplay(e), "backing service unavailable");
            extensions.set("retryAfterSeconds", crate::error::UNAVAILABLE_RETRY_SECONDS);
            e.public_message()
        }
        other => {
            tracing::debug!(error = %LogDisplay(other), "request refused");
            other.public_message()
        }
    };
    match e {
        AppError::BadInput { field, .. } => extensions.set("field", field.as_str()),
        AppError::Conflict {
            field: Some(field), ..
        } => extensions.set("field", field.as_str()),
        AppError::SeatsUnavailable { seats } => extensions.set(
            "seats",
            Value::List(seats.iter().map(|s| Value::from(s.as_str())).collect()),
        ),
        AppError::RateLimited {
            retry_after_seconds,
        } => extensions.set("retryAfterSeconds", *retry_after_seconds),
        AppError::Queued { position, opens_at } => {
            if let Some(position) = position {
                extensions.set("position", *position);
            }
            if let Some(opens_at) = opens_at {
                extensions.set(
                    "opensAt",
                    opens_at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
                );
            }
        }
        _ => {}
    }
    async_graphql::Error {
        message,
        source: None,
        extensions: Some(extensions),
    }
}

/// Gives every error a code. Errors without one come from async-graphql itself: the
/// request was malformed, failed validation or exceeded a limit, all before any
/// resolver ran, so they are the client's to fix.
/// `arguments` gives where each argument's value stands in the query, so that an
/// error which only carries a position can still name its field.
pub fn label_errors(errors: &mut [ServerError], arguments: &[(Pos, String)]) {
    for error in errors {
        let at_argument = error.locations.iter().find_map(|loc| {
            arguments
                .iter()
                .find(|(pos, _)| pos == loc)
                .map(|(_, name)| name.clone())
        });
        let extensions = error
            .extensions
            .get_or_insert_with(ErrorExtensionValues::default);
        if extensions.get("code").is_some() {
            continue;
        }
        extensions.set("code", "BAD_USER_INPUT");
        if let Some(argument) = quoted_after(&error.message, "argument \"") {
            extensions.set("field", argument);
        } else if let Some(variable) = quoted_after(&error.message, "variable \"") {
            extensions.set("field", variable.trim_start_matches('$'));
        } else if let Some(argument) = at_argument {
            extensions.set("field", argument);
        }
    }
}

/// `Invalid value for argument "limit", …` → `limit`.
fn quoted_after<'a>(message: &'a str, marker: &str) -> Option<&'a str> {
    // The message may quote a path such as `input.seatNumbers`; the field is all of it.
    between(message, marker, "\"").filter(|name| !name.is_empty())
}

/// The text between the first `start` and the `end` after it.
pub fn between<'a>(text: &'a str, start: &str, end: &str) -> Option<&'a str> {
    let from = text.find(start)? + start.len();
    let len = text[from..].find(end)?;
    Some(&text[from..from + len])
}

pub fn code_of(error: &ServerError) -> &str {
    match error.extensions.as_ref().and_then(|e| e.get("code")) {
        Some(Value::String(code)) => code,
        _ => "INTERNAL",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_the_argument_of_a_validation_error() {
        let mut errors = vec![ServerError::new(
            "Invalid value for argument \"limit\", expected type \"Int\"",
            None,
        )];
        label_errors(&mut errors, &[]);
        let ext = errors[0].extensions.as_ref().unwrap();
        assert_eq!(ext.get("code"), Some(&Value::from("BAD_USER_INPUT")));
        assert_eq!(ext.get("field"), Some(&Value::from("limit")));
    }
}
