//! `POST /api/payments/webhook`: Stripe's events, on the raw body so that the
//! signature is checked over exactly the bytes Stripe signed. A missing, bad or stale
//! signature is a 400 that changes nothing; an event that cannot be applied now is a
//! 500, or a 503 when Postgres or Redis is away, both of which Stripe retries.

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use crate::error::{AppError, LogDisplay, UNAVAILABLE_RETRY_SECONDS};
use crate::http::ServerState;
use crate::payments::events::{self, Event, Handled};
use crate::payments::signature;
use secrecy::ExposeSecret;

pub async fn receive(
    State(state): State<ServerState>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let app = &state.app;
    let header = headers
        .get("stripe-signature")
        .and_then(|v| v.to_str().ok());
    if let Err(e) = signature::verify(
        header,
        &body,
        app.config.payments.webhook_secret.expose_secret(),
        app.now(),
        app.config.payments.webhook_tolerance.as_secs() as i64,
    ) {
        tracing::warn!(reason = %e, "webhook refused");
        return refuse(&e.to_string());
    }
    let event: Event = match serde_json::from_slice(&body) {
        Ok(event) => event,
        Err(_) => return refuse("the body is not a Stripe event"),
    };
    let (id, kind) = (event.id.clone(), event.kind.clone());
    // A booking's own payment first (nearly every event); one about an intent that is
    // no booking's is offered to the exchanges, whose differences are paid apart.
    let handled = match events::handle(app, &event).await {
        Ok(first @ (Handled::NotYet | Handled::Ignored)) => {
            match crate::checkout::exchange::handle_event(app, &event).await {
                Ok(Some(handled)) => Ok(handled),
                Ok(None) => Ok(first),
                Err(e) => Err(e),
            }
        }
        other => other,
    };
    match handled {
        Ok(Handled::NotYet) => {
            tracing::info!(event = %id, kind = %kind, "webhook for a booking not yet committed; Stripe will retry");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                axum::Json(json!({"error": "booking not ready; retry"})),
            )
                .into_response()
        }
        Ok(handled) => {
            tracing::info!(event = %id, kind = %kind, ?handled, "webhook");
            (StatusCode::OK, axum::Json(json!({"received": true}))).into_response()
        }
        // Postgres or Redis away: nothing is wrong with the event, and Stripe retries
        // a 503 as it does a 500; the status says which it is to whoever watches.
        Err(e @ AppError::Unavailable { .. }) => {
            tracing::warn!(event = %id, kind = %kind, error = %LogDisplay(&e), "webhook not applied; Stripe will retry");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                [(header::RETRY_AFTER, UNAVAILABLE_RETRY_SECONDS.to_string())],
                axum::Json(json!({"error": "unavailable; retry"})),
            )
                .into_response()
        }
        Err(e) => {
            tracing::error!(event = %id, kind = %kind, error = %LogDisplay(&e), "webhook failed; Stripe will retry");
            (
                StatusCode::INTERNAL_SERVER_ERROR,
                axum::Json(json!({"error": "internal error"})),
            )
                .into_response()
        }
    }
}

fn refuse(message: &str) -> Response {
    (
        StatusCode::BAD_REQUEST,
        axum::Json(json!({"error": message})),
    )
        .into_response()
}
