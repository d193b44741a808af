//! `GET /api/tickets/revoked?showtimeId=<id>&since=<RFC 3339>`: the tickets of a
//! showtime voided since an instant, signed with the ticket key, so that a scanner
//! that verifies codes offline also refuses a ticket that was refunded or cancelled.
//!
//! The body is JSON, `{"showtimeId", "since", "until", "revoked": [{"bookingId",
//! "revokedAt"}]}`; the `Screema-Signature` header carries the Ed25519 signature
//! (base64url) of `"screema-revoked-v1\0"` followed by the body's exact bytes, made
//! with the key `GET /api/tickets/public-key` publishes. A scanner refuses a code whose
//! booking is listed with `revokedAt` at or after the code's issue time (a booking
//! that expired unpaid and was then paid late has a code issued after its listing;
//! it leaves the list once it is live again).
//!
//! `until` is where the next request should start (`since=<until>`): the server's
//! clock, held back to the start of the oldest transaction still open, since a void
//! is stamped with its transaction's start and is seen only once it commits. Asking
//! from `until` therefore misses nothing; a repeated id is harmless.
//!
//! Scanners are staff: an operator's or admin's bearer token.

use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::json;
use uuid::Uuid;

use crate::db::enums::Role;
use crate::door::revoked::read;
use crate::http::ServerState;

/// The response header that carries the body's signature.
pub const SIGNATURE_HEADER: &str = "screema-signature";

#[derive(serde::Deserialize)]
pub struct Params {
    #[serde(rename = "showtimeId")]
    showtime_id: Option<String>,
    since: Option<String>,
}

fn refuse(status: StatusCode, field: Option<&str>, message: &str) -> Response {
    let mut body = json!({ "error": message });
    if let Some(field) = field {
        body["field"] = json!(field);
    }
    (status, axum::Json(body)).into_response()
}

fn stamp(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Micros, true)
}

pub async fn revoked(
    State(state): State<ServerState>,
    Query(params): Query<Params>,
    headers: HeaderMap,
) -> Response {
    let app = &state.app;
    let viewer = match crate::http::client::signed_in(app, &headers).await {
        Some(viewer) => viewer,
        _ => {
            return (
                StatusCode::UNAUTHORIZED,
                [(header::WWW_AUTHENTICATE, "Bearer")],
                axum::Json(json!({"error": "sign in as staff (operator or admin)"})),
            )
                .into_response();
        }
    };
    if !matches!(viewer.role, Role::Operator | Role::Admin) {
        return refuse(
            StatusCode::FORBIDDEN,
            None,
            "only staff (operators and admins) may read voided tickets",
        );
    }
    let Some(showtime) = params
        .showtime_id
        .as_deref()
        .and_then(|id| Uuid::parse_str(id.trim()).ok())
    else {
        return refuse(
            StatusCode::BAD_REQUEST,
            Some("showtimeId"),
            "give the showtime's id: showtimeId=<uuid>",
        );
    };
    let Some(since) = params
        .since
        .as_deref()
        .and_then(|t| DateTime::parse_from_rfc3339(t.trim()).ok())
        .map(|t| t.with_timezone(&Utc))
    else {
        return refuse(
            StatusCode::BAD_REQUEST,
            Some("since"),
            "give an RFC 3339 instant: since=2026-12-05T18:00:00Z",
        );
    };
    let (voids, until) = match read(app, showtime, since).await {
        Ok(Some(found)) => found,
        Ok(None) => {
            return refuse(
                StatusCode::NOT_FOUND,
                Some("showtimeId"),
                "no such showtime",
            );
        }
        Err(e) => {
            tracing::error!(error = %crate::error::LogDisplay(&e), "voided tickets not read");
            return refuse(
                StatusCode::SERVICE_UNAVAILABLE,
                None,
                "voided tickets could not be read; try again",
            );
        }
    };
    let body = json!({
        "showtimeId": showtime,
        "since": stamp(since),
        "until": stamp(until),
        "revoked": voids
            .iter()
            .map(|(booking, at)| json!({"bookingId": booking, "revokedAt": stamp(*at)}))
            .collect::<Vec<_>>(),
    })
    .to_string();
    let signature = app.tickets.sign_revoked(body.as_bytes());
    (
        [
            (header::CONTENT_TYPE, "application/json".to_owned()),
            (header::CACHE_CONTROL, "no-store".to_owned()),
            (header::HeaderName::from_static(SIGNATURE_HEADER), signature),
        ],
        body,
    )
        .into_response()
}
