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
    }))
}
