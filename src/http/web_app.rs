//! `/app/`: the reference web app (`clients/web`), served from its built files
//! (`WEB_APP_DIR`), and `GET /api/payments/config`, what it needs to know of payments.
//!
//! The app routes in the URL's hash, so every file is a real file: no fallback to
//! `index.html`. Vite names the bundles after their content (`assets/…`), so those are
//! kept for a year; the shell (`index.html`), the service worker and the manifest
//! are checked again on every visit, so that a new build reaches every browser.

use axum::Router;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use tower_http::services::ServeDir;

use super::ServerState;

pub fn routes(dir: &std::path::Path) -> Router<ServerState> {
    let files = ServeDir::new(dir)
        .append_index_html_on_directories(true)
        .fallback(axum::routing::any(not_built));
    Router::new()
        .route(
            "/app",
            axum::routing::get(|| async { Redirect::permanent("/app/") }),
        )
        .nest_service("/app/", files)
        .layer(axum::middleware::map_response(cache_headers))
        .route("/api/payments/config", axum::routing::get(payments_config))
}

async fn not_built() -> Response {
    (
        StatusCode::NOT_FOUND,
        "no such file: is the web app built? (cd clients/web && npm ci && npm run build)",
    )
        .into_response()
}

async fn cache_headers(uri: axum::http::Uri, mut response: Response) -> Response {
    if response.status().is_success() {
        let value = if uri.path().starts_with("/app/assets/") {
            "public, max-age=31536000, immutable"
        } else {
            "no-cache"
        };
        response
            .headers_mut()
            .insert(header::CACHE_CONTROL, HeaderValue::from_static(value));
    }
    response
}

/// `{"stripePublishableKey": "pk_…"}` when Stripe is configured with one, else null:
/// the app then pays through the simulated gateway's flow.
async fn payments_config(
    axum::extract::State(state): axum::extract::State<ServerState>,
) -> impl IntoResponse {
    let key = state
        .app
        .config
        .payments
        .stripe_secret_key
        .as_ref()
        .and(state.app.config.payments.stripe_publishable_key.clone());
    axum::Json(serde_json::json!({ "stripePublishableKey": key }))
}
