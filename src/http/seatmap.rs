//! `GET /seatmap/<showtimeId>`: a live seat map page, drawn as SVG from the `seatMap`
//! subscription, for box-office displays and as the reference for client teams.
//! Self-contained (no library, no CDN), so it works offline.

use axum::extract::Path;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};

const PAGE: &str = include_str!("../../assets/seatmap/index.html");

pub async fn page(Path(showtime): Path<String>) -> Response {
    if uuid::Uuid::parse_str(&showtime).is_err() {
        return (StatusCode::NOT_FOUND, "no such showtime").into_response();
    }
    (
        [
            (header::CONTENT_TYPE, "text/html; charset=utf-8"),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        PAGE,
    )
        .into_response()
}
