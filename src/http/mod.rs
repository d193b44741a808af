//! The HTTP surface: GraphQL (POST, GET, GraphiQL, websocket), health, metrics.

pub mod client;
pub mod graphiql;
pub mod graphql;
pub mod health;
pub mod media;
pub mod metrics;
pub mod revoked_tickets;
pub mod sales_report;
pub mod seatmap;
pub mod stripe_webhook;
pub mod tickets;
pub mod web_app;

use std::future::Future;
use std::net::SocketAddr;

use axum::Router;
use axum::http::{HeaderValue, Method, header};
use axum::routing::get;
use tokio::net::TcpListener;
use tower_http::cors::{AllowOrigin, CorsLayer};
use tower_http::limit::RequestBodyLimitLayer;

use crate::app::AppState;
use crate::graphql::engine::Engine;
use crate::graphql::seat_map::SeatMapEvents;

#[derive(Clone)]
pub struct ServerState {
    pub app: AppState,
    pub engine: Engine,
    /// The websocket transport's hook for shared seat map payloads.
    pub seat_map_events: SeatMapEvents,
}

pub fn router(app: AppState) -> Router {
    let state = ServerState {
        engine: Engine::new(app.clone()),
        seat_map_events: SeatMapEvents::new(app.metrics.clone()),
        app: app.clone(),
    };
    Router::new()
        .route("/graphql", get(graphql::get).post(graphql::post))
        .route("/graphiql/{file}", get(graphiql::asset))
        .route("/health/live", get(health::live))
        .route("/health/ready", get(health::ready))
        .route("/metrics", get(metrics::scrape))
        .route("/api/tickets/public-key", get(tickets::public_key))
        .route("/api/tickets/revoked", get(revoked_tickets::revoked))
        .route("/api/admin/reports/sales.csv", get(sales_report::sales_csv))
        .route("/api/tickets/{file}", get(tickets::image))
        .route("/seatmap/{showtime}", get(seatmap::page))
        .route(
            "/api/payments/webhook",
            axum::routing::post(stripe_webhook::receive),
        )
        .merge(web_app::routes(&app.config.server.web_app_dir))
        .layer(RequestBodyLimitLayer::new(
            app.config.graphql.max_body_bytes,
        ))
        .layer(cors(&app.config.server.cors_origins))
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

/// Serves until `shutdown` resolves. Then: no new connections, websockets are closed
/// (1001), requests in flight and the background workers' items in hand are finished,
/// for at most `SHUTDOWN_GRACE_SECONDS`.
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
    let service = router(app.clone()).into_make_service_with_connect_info::<SocketAddr>();
    let stopping = app.clone();
    let server = axum::serve(listener, service).with_graceful_shutdown(async move {
        shutdown.await;
        tracing::info!("shutting down: finishing requests in flight");
        // Websockets never end by themselves: they close on this, or the graceful
        // shutdown would wait on them forever.
        stopping.shutdown.begin();
    });
    let grace = app.config.server.shutdown_grace;
    let overdue = async {
        app.shutdown.begun().await;
        tokio::time::sleep(grace).await;
    };
    let served = tokio::select! {
        served = server => served,
        _ = overdue => {
            tracing::warn!(?grace, "requests still in flight after the grace period; stopping anyway");
            Ok(())
        }
    };
    // The workers stop after their item in hand; the grace period bounds the wait.
    app.shutdown.begin();
    let deadline = tokio::time::Instant::now() + grace;
    for mut worker in workers {
        if tokio::time::timeout_at(deadline, &mut worker)
            .await
            .is_err()
        {
            worker.abort();
        }
    }
    // What the requests and workers delivered, recorded before the exit.
    if tokio::time::timeout_at(deadline, app.delivered.flush())
        .await
        .is_err()
    {
        tracing::warn!("outbox deliveries not recorded before the exit; their leases will run out");
    }
    served
}
