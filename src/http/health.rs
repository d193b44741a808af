//! Liveness (the process answers) and readiness (its backing services answer).

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use diesel_async::RunQueryDsl;
use serde_json::json;

use super::ServerState;

pub async fn live() -> impl IntoResponse {
    Json(json!({ "status": "ok" }))
}

pub async fn ready(State(state): State<ServerState>) -> impl IntoResponse {
    let timeout = state.app.config.graphql.probe_timeout;
    let (postgres, redis) = tokio::join!(
        tokio::time::timeout(timeout, async {
            let mut conn = state.app.db().await.map_err(|e| e.to_string())?;
            diesel::sql_query("SELECT 1")
                .execute(&mut conn)
                .await
                .map_err(|e| e.to_string())?;
            Ok::<(), String>(())
        }),
        tokio::time::timeout(timeout, async {
            state.app.redis.ping().await.map_err(|e| e.to_string())
        }),
    );
    let verdict = |r: Result<Result<(), String>, tokio::time::error::Elapsed>, what: &str| match r {
        Ok(Ok(())) => "up".to_owned(),
        Ok(Err(e)) => {
            tracing::warn!(service = what, error = %e, "readiness probe failed");
            "down".to_owned()
        }
        Err(_) => {
            tracing::warn!(service = what, "readiness probe timed out");
            "down".to_owned()
        }
    };
    let postgres = verdict(postgres, "postgres");
    let redis = verdict(redis, "redis");
    let ready = postgres == "up" && redis == "up";
    let down: Vec<&str> = [("postgres", &postgres), ("redis", &redis)]
        .into_iter()
        .filter(|(_, s)| s.as_str() != "up")
        .map(|(name, _)| name)
        .collect();
    let status = if ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    let body = json!({
        "status": if ready { "ready" } else { "unavailable" },
        "postgres": postgres,
        "redis": redis,
        "down": down,
    });
    (status, Json(body))
}
