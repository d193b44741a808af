//! `GET /api/tickets/public-key`: what a scanner needs to verify tickets offline.

use axum::Json;
use axum::extract::State;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Value, json};

use crate::http::ServerState;

pub async fn public_key(State(state): State<ServerState>) -> Json<Value> {
    let key = state.app.tickets.public_key();
    Json(json!({
        "algorithm": "Ed25519",
        "publicKey": URL_SAFE_NO_PAD.encode(key.as_bytes()),
        "format": "T1.<base64url payload>.<base64url signature>; the signature covers \
                   \"screema-ticket-v1\\0\" followed by the payload: booking id (16 bytes), \
                   showtime id (16), issue time (i64 big-endian seconds), seats (comma-separated)",
        "revokedFormat": "GET /api/tickets/revoked?showtimeId=<id>&since=<RFC 3339> (staff): JSON                           {showtimeId, since, until, revoked: [{bookingId, revokedAt}]}; the                           Screema-Signature header is the base64url Ed25519 signature, with this                           key, of \"screema-revoked-v1\\0\" followed by the body's exact bytes;                           a code is void when its booking is listed with revokedAt at or after                           its issue time; ask again from `until`",
    }))
}

/// `GET /api/tickets/{bookingId}.png`: the ticket image, for the booking's owner, and
/// for the staff member who sold it at the counter, who prints it for the customer
/// (`Authorization: Bearer <accessToken>`); to anyone else it does not exist.
pub async fn image(
    State(state): State<ServerState>,
    axum::extract::Path(file): axum::extract::Path<String>,
    headers: axum::http::HeaderMap,
) -> axum::response::Response {
    use axum::http::{StatusCode, header};
    use axum::response::IntoResponse;
    use diesel::prelude::*;
    use diesel_async::RunQueryDsl;

    use crate::booking::model::Booking;
    use crate::db::schema::bookings;

    let app = &state.app;
    let not_found = || (StatusCode::NOT_FOUND, "no such ticket").into_response();
    let viewer = match crate::http::client::signed_in(app, &headers).await {
        Some(viewer) => viewer,
        _ => {
            return (
                StatusCode::UNAUTHORIZED,
                [(header::WWW_AUTHENTICATE, "Bearer")],
                "sign in to fetch your ticket",
            )
                .into_response();
        }
    };
    let Some(id) = file
        .strip_suffix(".png")
        .and_then(|id| uuid::Uuid::parse_str(id).ok())
    else {
        return not_found();
    };
    let found = async {
        // Given back before the image is made, which may read its caption.
        let booking: Option<Booking> = {
            let mut conn = app.db().await?;
            bookings::table
                .find(id)
                .filter(
                    bookings::user_id
                        .eq(viewer.user_id)
                        .or(bookings::sold_by.eq(viewer.user_id)),
                )
                .select(Booking::as_select())
                .first(&mut conn)
                .await
                .optional()?
        };
        match booking {
            Some(b) => crate::tickets::store::image_of(app, &b).await,
            None => Ok(None),
        }
    }
    .await;
    match found {
        Ok(Some(png)) => (
            [
                (header::CONTENT_TYPE, "image/png"),
                (header::CACHE_CONTROL, "private, max-age=300"),
            ],
            png,
        )
            .into_response(),
        Ok(None) => not_found(),
        Err(e) => {
            tracing::error!(error = %crate::error::LogDisplay(&e), "ticket image failed");
            (StatusCode::INTERNAL_SERVER_ERROR, "internal error").into_response()
        }
    }
}
