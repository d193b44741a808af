//! The HTTP surface: GraphQL (POST, GET, GraphiQL, websocket), health, metrics.

pub mod client;
pub mod graphiql;
pub mod graphql;
pub mod health;
pub mod metrics;
pub mod seatmap;
pub mod ws;

use std::future::Future;
use std::net::SocketAddr;

use axum::Router;
use axum::http::{HeaderValue, Method, header};
use axum::routing::get;
use tokio::net::TcpListener;
use tower_http::cors::{AllowOrigin, CorsLayer};
use tower_http::limit::RequestBodyLimitLayer;

use crate::app::AppState;
use crate::graphql::{AppSchema, build_schema};

#[derive(Clone)]
pub struct ServerState {
    pub app: AppState,
    pub schema: AppSchema,
    /// Turns true when the server starts shutting down; websockets close on it.
    pub closing: tokio::sync::watch::Receiver<bool>,
}

pub fn router(app: AppState, closing: tokio::sync::watch::Receiver<bool>) -> Router {
    let schema = build_schema(app.clone());
    let state = ServerState {
        app: app.clone(),
        schema,
        closing,
    };
    Router::new()
        .route("/graphql", get(graphql::get).post(graphql::post))
        .route("/graphiql/{file}", get(graphiql::asset))
        .route("/health/live", get(health::live))
        .route("/health/ready", get(health::ready))
        .route("/metrics", get(metrics::scrape))
        .route(
            "/api/tickets/public-key",
            get(crate::tickets::http::public_key),
        )
        .route("/api/tickets/{file}", get(crate::tickets::http::image))
        .route("/seatmap/{showtime}", get(seatmap::page))
        .route(
            "/api/payments/webhook",
            axum::routing::post(crate::payments::webhook::receive),
        )
        .layer(RequestBodyLimitLayer::new(
            app.config.graphql.max_body_bytes,
        ))
        .layer(cors(&app.config.cors_origins))
        .layer(axum::middleware::from_fn_with_state(
            app,
            metrics::track_http,
        ))
        .with_state(state)
}

fn cors(origins: &[String]) -> CorsLayer {
    let allowed: Vec<HeaderValue> = origins
        .iter()
        .filter_map(|o| HeaderValue::from_str(o).ok())
        .collect();
    CorsLayer::new()
        .allow_origin(AllowOrigin::list(allowed))
        .allow_methods([Method::GET, Method::POST, Method::OPTIONS])
        .allow_headers([header::AUTHORIZATION, header::CONTENT_TYPE])
        .max_age(std::time::Duration::from_secs(600))
}

/// Serves until `shutdown` resolves, then lets requests in flight finish.
pub async fn serve(
    app: AppState,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    if let Ok(addr) = listener.local_addr() {
        let _ = app.base_url.set(format!("http://{addr}"));
    }
    // Expiry is pushed, and the outbox delivered, by every node while it serves.
    let workers = crate::worker::spawn_all(app.clone());
    let (closing, closing_rx) = tokio::sync::watch::channel(false);
    let service = router(app, closing_rx).into_make_service_with_connect_info::<SocketAddr>();
    let served = axum::serve(listener, service)
        .with_graceful_shutdown(async move {
            shutdown.await;
            // Websockets never end by themselves: tell them to close, or the graceful
            // shutdown would wait on them forever.
            let _ = closing.send(true);
        })
        .await;
    for worker in workers {
        worker.abort();
    }
    served
}
