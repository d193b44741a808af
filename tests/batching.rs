//! Nested fields go through dataloaders: a page costs the same number of SQL
//! statements whatever its size (no 1 + N).

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use chrono::{Duration, Utc};
use common::TestApp;
use common::fixtures::{self as fx, MovieSpec};
use screema::db::enums::{BookingStatus, Role};
use serde_json::json;

async fn statements_for(app: &TestApp, query: &str, limit: i64) -> u64 {
    let before = app.statements().await;
    let r = app.gql(query, json!({ "limit": limit })).await;
    r.data();
    app.statements().await - before
}

#[tokio::test]
async fn a_page_of_movies_with_showtimes_screens_and_theaters_costs_a_constant_number_of_statements()
 {
    // One connection, so that its one-off type lookups are done by the warm-up; a wide
    // batching window, so that timing on a busy machine cannot split a batch.
    let app = TestApp::builder()
        .env("DATABASE_POOL_SIZE", "1")
        .env("GRAPHQL_BATCH_DELAY_MS", "50")
        // The background workers count statements too: keep them out of the way.
        .env("SWEEP_INTERVAL_MS", "3600000")
        .env("OUTBOX_POLL_MS", "3600000")
        // This is about the loaders, not about reads served from memory.
        .env("CATALOG_CACHE_TTL_MS", "0")
        .build()
        .await;
    let mut conn = app.conn().await;
    let mut screens = Vec::new();
    for t in 0..3 {
        let theater = fx::theater(&mut conn, &format!("Theater {t}"), "UTC").await;
        for n in 1..=2 {
            screens.push(fx::screen(&mut conn, theater, n, fx::small_layout()).await);
        }
    }
    let user = fx::user(&mut conn, Role::Customer).await;
    let start = Utc::now() + Duration::days(1);
    for m in 0..25 {
        let title = format!("Movie {m:02}");
        let movie = fx::movie(
            &mut conn,
            MovieSpec {
                title: &title,
                ..Default::default()
            },
        )
        .await;
        for k in 0..3 {
            let screen = screens[(m + k) % screens.len()];
            let at = start + Duration::hours(((m * 3 + k) * 2) as i64);
            let showtime = fx::showtime(&mut conn, movie, screen, at, "10.00").await;
            if k == 0 {
                fx::booking(&mut conn, user, showtime, &["A1"], BookingStatus::Confirmed)
                    .await
                    .unwrap();
            }
        }
    }
    drop(conn);

    let page = "query($limit: Int) { movies(limit: $limit) { movies { title
        showtimes { startTime screen { screenNumber theater { name } } } } pagination { total } } }";
    statements_for(&app, page, 20).await;
    let five = statements_for(&app, page, 5).await;
    let twenty = statements_for(&app, page, 20).await;
    // count, movies, showtimes, screens, theaters.
    assert_eq!((five, twenty), (5, 5));

    // With seat maps: the same plus one for the booked seats of all showtimes.
    let with_maps = "query($limit: Int) { movies(limit: $limit) { movies { title
        showtimes { availableSeats screen { theater { name } } seatMap { version rows { seats { number state } } } } } } }";
    statements_for(&app, with_maps, 20).await;
    let five = statements_for(&app, with_maps, 5).await;
    let twenty = statements_for(&app, with_maps, 20).await;
    assert_eq!((five, twenty), (6, 6));
}
