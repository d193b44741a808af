//! `GET /api/admin/reports/sales.csv?from=<YYYY-MM-DD>&to=<YYYY-MM-DD>`: the sales of a
//! range of UTC days as CSV (`admin::sales_csv`), for an admin's bearer token; by
//! default the last 30 days. Streamed a page at a time.

use axum::body::Body;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::{Duration, NaiveDate};
use serde_json::json;

use crate::db::enums::Role;
use crate::http::ServerState;

#[derive(serde::Deserialize)]
pub struct Params {
    from: Option<String>,
    to: Option<String>,
}

fn refuse(status: StatusCode, field: Option<&str>, message: &str) -> Response {
    let mut body = json!({ "error": message });
    if let Some(field) = field {
        body["field"] = json!(field);
    }
    (status, axum::Json(body)).into_response()
}

/// A date parameter; on a bad one, the field it names.
fn date<'f>(field: &'f str, raw: Option<&str>) -> Result<Option<NaiveDate>, &'f str> {
    match raw.map(str::trim).filter(|r| !r.is_empty()) {
        None => Ok(None),
        Some(raw) => NaiveDate::parse_from_str(raw, "%Y-%m-%d")
            .map(Some)
            .map_err(|_| field),
    }
}

pub async fn sales_csv(
    State(state): State<ServerState>,
    Query(params): Query<Params>,
    headers: HeaderMap,
) -> Response {
    let app = &state.app;
    let Some(viewer) = crate::http::client::signed_in(app, &headers).await else {
        return (
            StatusCode::UNAUTHORIZED,
            [(header::WWW_AUTHENTICATE, "Bearer")],
            axum::Json(json!({"error": "sign in as an admin"})),
        )
            .into_response();
    };
    if viewer.role != Role::Admin {
        return refuse(StatusCode::FORBIDDEN, None, "only admins may export sales");
    }
    let (from, to) = match (
        date("from", params.from.as_deref()),
        date("to", params.to.as_deref()),
    ) {
        (Ok(from), Ok(to)) => (from, to),
        (Err(field), _) | (_, Err(field)) => {
            return refuse(
                StatusCode::BAD_REQUEST,
                Some(field),
                "give a date as YYYY-MM-DD",
            );
        }
    };
    let to = to.unwrap_or_else(|| app.now().date_naive());
    let from = from.unwrap_or(to - Duration::days(29));
    if let Err(crate::error::AppError::BadInput { field, message }) =
        crate::admin::analytics::check_range(from, to)
    {
        return refuse(StatusCode::BAD_REQUEST, Some(&field), &message);
    }
    let body = Body::from_stream(crate::admin::sales_csv::stream(app.clone(), from, to));
    (
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_owned()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"sales-{from}-{to}.csv\""),
            ),
            (header::CACHE_CONTROL, "no-store".to_owned()),
        ],
        body,
    )
        .into_response()
}
