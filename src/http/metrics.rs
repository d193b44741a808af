//! `/metrics` and the HTTP request counts behind it; and each request's span and
//! request id (`telemetry`).

use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderName, HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use tracing::Instrument;

use super::ServerState;
use crate::app::AppState;

pub async fn scrape(State(state): State<ServerState>) -> Response {
    match state.app.metrics.render(&state.app.db) {
        Ok(body) => (
            [(
                header::CONTENT_TYPE,
                "application/openmetrics-text; version=1.0.0; charset=utf-8",
            )],
            body,
        )
            .into_response(),
        Err(_) => StatusCode::INTERNAL_SERVER_ERROR.into_response(),
    }
}

/// A request's method as a label: the standard ones by name, any other (a client
/// may send any token as a method) as `other`.
fn method_label(method: &Method) -> &'static str {
    match *method {
        Method::GET => "GET",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::DELETE => "DELETE",
        Method::PATCH => "PATCH",
        Method::HEAD => "HEAD",
        Method::OPTIONS => "OPTIONS",
        Method::CONNECT => "CONNECT",
        Method::TRACE => "TRACE",
        _ => "other",
    }
}

const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// Counts HTTP requests by matched route (never by raw path) and standard method
/// (never by the raw token): labels a client could choose would be unbounded. Runs
/// each request in a span with its request id, which the response carries back as
/// `X-Request-Id`.
pub async fn track_http(State(app): State<AppState>, request: Request, next: Next) -> Response {
    let method = method_label(request.method());
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_owned())
        .unwrap_or_else(|| "unmatched".to_owned());
    let offered = request
        .headers()
        .get(&REQUEST_ID)
        .and_then(|v| v.to_str().ok());
    let id = crate::telemetry::request_id(offered);
    let span = tracing::info_span!("request", request_id = %id, %method, %route);
    let started = Instant::now();
    let mut response = crate::telemetry::with_request_id(id.clone(), next.run(request))
        .instrument(span)
        .await;
    if let Ok(value) = HeaderValue::from_str(&id) {
        response.headers_mut().insert(REQUEST_ID, value);
    }
    app.metrics
        .observe_http(method, &route, response.status().as_u16());
    tracing::debug!(%method, %route, status = response.status().as_u16(), elapsed_ms = started.elapsed().as_millis() as u64, "request");
    response
}
