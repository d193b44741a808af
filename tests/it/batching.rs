//! Nested fields go through dataloaders: a page costs the same number of SQL
//! statements whatever its size (no 1 + N).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::common;

use chrono::{Duration, Utc};
use common::TestApp;
use common::fixtures::{self as fx, MovieSpec};
use diesel::prelude::*;
use diesel_async::{AsyncConnection, RunQueryDsl};
use fred::prelude::*;
use screema::db::enums::{BookingStatus, Role};
use secrecy::ExposeSecret;
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
    // movies with their count, showtimes, screens, theaters.
    assert_eq!((five, twenty), (4, 4));

    // The home screen: a page of films and the next few showtimes of each is two
    // statements, the films with their count and the first `limit` showtimes of each
    // (read with the page, not after the loaders' window), however many each film has.
    let home = "query($limit: Int) { movies(limit: $limit) { movies { title
        showtimes(limit: 2) { startTime } } pagination { total } } }";
    statements_for(&app, home, 20).await;
    assert_eq!(statements_for(&app, home, 20).await, 2);
    let page = app.gql(home, json!({"limit": 20})).await;
    let films = page.data()["movies"]["movies"].as_array().unwrap().clone();
    assert_eq!(films.len(), 20);
    assert!(
        films
            .iter()
            .all(|f| f["showtimes"].as_array().unwrap().len() == 2)
    );
    assert_eq!(page.data()["movies"]["pagination"]["total"], 25);
    // Past the last page: no rows to carry the count, which is read apart.
    let past = "{ movies(page: 9, limit: 5) { movies { title } pagination { total } } }";
    let before = app.statements().await;
    let r = app.gql(past, json!({})).await;
    assert_eq!(r.data()["movies"]["pagination"]["total"], 25);
    assert_eq!(r.data()["movies"]["movies"], json!([]));
    assert_eq!(app.statements().await - before, 2);

    // With seat maps: the same plus one for the booked seats of all showtimes.
    let with_maps = "query($limit: Int) { movies(limit: $limit) { movies { title
        showtimes { availableSeats screen { theater { name } } seatMap { version rows { seats { number state } } } } } } }";
    statements_for(&app, with_maps, 20).await;
    let five = statements_for(&app, with_maps, 5).await;
    let twenty = statements_for(&app, with_maps, 20).await;
    assert_eq!((five, twenty), (5, 5));
}

/// Once anyone has held a seat of a showtime, Redis knows its sold seats too (it
/// mirrors Postgres from then on): a seat map is read from Redis and the process's room
/// cache with no SQL at all, which is what keeps a flash sale's many map reads off the
/// database. When Redis has lost them, Postgres answers again.
#[tokio::test]
async fn a_seat_map_of_a_showtime_in_play_is_read_without_sql_and_from_postgres_after_redis_loses_it()
 {
    let app = TestApp::builder()
        .env("DATABASE_POOL_SIZE", "1")
        .env("SWEEP_INTERVAL_MS", "3600000")
        .env("OUTBOX_POLL_MS", "3600000")
        .build()
        .await;
    let showtime = {
        let mut conn = app.conn().await;
        let theater = fx::theater(&mut conn, "Odeon", "UTC").await;
        let screen = fx::screen(&mut conn, theater, 1, fx::small_layout()).await;
        let movie = fx::movie(&mut conn, MovieSpec::default()).await;
        let at = Utc::now() + Duration::days(1);
        let showtime = fx::showtime(&mut conn, movie, screen, at, "10.00").await;
        let buyer = fx::user(&mut conn, Role::Customer).await;
        fx::booking(
            &mut conn,
            buyer,
            showtime,
            &["A1"],
            BookingStatus::Confirmed,
        )
        .await
        .unwrap();
        showtime
    };
    let alice = app.with_user(Role::Customer).await;
    let bob = app.with_user(Role::Customer).await;
    common::flow::lock(&app, &alice, showtime, &["A2"]).await;
    common::flow::book(&app, &bob, showtime, &["B1", "B2"]).await;

    let query = "query($s: ID!) { showtime(id: $s) { availableSeats
        seatMap { version rows { seats { number state heldByMe } } } } }";
    let read = |token: String| {
        let app = &app;
        async move {
            let before = app.statements().await;
            let r = app
                .gql_as(&token, query, json!({"s": showtime.to_string()}))
                .await;
            let statements = app.statements().await - before;
            (r.data()["showtime"].clone(), statements)
        }
    };
    let states = |map: &serde_json::Value| -> Vec<(String, String, bool)> {
        map["seatMap"]["rows"]
            .as_array()
            .unwrap()
            .iter()
            .flat_map(|r| r["seats"].as_array().unwrap().clone())
            .map(|s| {
                (
                    s["number"].as_str().unwrap().to_owned(),
                    s["state"].as_str().unwrap().to_owned(),
                    s["heldByMe"].as_bool().unwrap(),
                )
            })
            .collect()
    };
    let expected = |mine: bool| {
        [
            ("A1", "BOOKED", false),
            ("A2", "HELD", mine),
            ("A3", "AVAILABLE", false),
            ("B1", "BOOKED", false),
            ("B2", "BOOKED", false),
            ("B3", "AVAILABLE", false),
        ]
        .map(|(n, s, m)| (n.to_owned(), s.to_owned(), m))
        .to_vec()
    };

    // The batch writers (the hold's record, the booking's deliveries) write a moment
    // after the requests that fed them: let them finish before counting.
    common::flow::eventually("the booking's deliveries recorded", || async {
        use screema::db::schema::{outbox, seat_locks};
        let mut conn = app.conn().await;
        let undelivered: i64 = outbox::table
            .filter(outbox::delivered_at.is_null())
            .count()
            .get_result(&mut conn)
            .await
            .unwrap();
        let holds: i64 = seat_locks::table
            .count()
            .get_result(&mut conn)
            .await
            .unwrap();
        undelivered == 0 && holds == 2
    })
    .await;
    let (map, statements) = read(alice.token.clone()).await;
    assert_eq!(states(&map), expected(true));
    assert_eq!(map["availableSeats"], 2);
    assert_eq!(statements, 0, "a seat map in play costs no SQL");
    let (map, statements) = read(bob.token.clone()).await;
    assert_eq!(states(&map), expected(false));
    assert_eq!(statements, 0);

    // Redis loses the sold seats: Postgres answers, and the map is the same.
    let redis = app.redis().await;
    let _: i64 = redis
        .del(format!("{}:seat:{{{showtime}}}:booked", app.prefix))
        .await
        .unwrap();
    let (map, statements) = read(alice.token.clone()).await;
    assert_eq!(states(&map), expected(true));
    assert!(
        statements >= 1,
        "read from Postgres: {statements} statements"
    );
}

/// A counter of the server's `/metrics`.
async fn counter(app: &TestApp, name: &str) -> u64 {
    let text = app.get("/metrics").await.text().await.unwrap();
    let series = format!("screema_{name}_total ");
    text.lines()
        .find_map(|l| l.strip_prefix(series.as_str()))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or_else(|| panic!("{series} in /metrics"))
}

#[tokio::test]
async fn a_confirmed_booking_costs_four_transactions_and_its_deliveries_are_recorded_in_batches() {
    use screema::db::schema::{outbox, seat_locks};
    let app = TestApp::builder()
        // The background workers run transactions too: keep them out of the way.
        .env("SWEEP_INTERVAL_MS", "3600000")
        .env("OUTBOX_POLL_MS", "3600000")
        .env("SIMULATED_PAYMENT_DELAY_MS", "600000")
        .build()
        .await;
    let showtime = {
        let mut conn = app.conn().await;
        fx::one_row_showtime(&mut conn, 10, &[], Utc::now() + Duration::days(1)).await
    };
    let user = app.with_user(Role::Customer).await;
    // A first checkout warms the caches (the room, the ticket caption) that a sale's
    // first booking fills once.
    common::flow::confirmed(&app, &user, showtime, &["A1"]).await;
    // The test's own reads go through a connection of its own, outside the server's
    // counters.
    let own = tokio::sync::Mutex::new(
        diesel_async::AsyncPgConnection::establish(app.app.config.database.url.expose_secret())
            .await
            .unwrap(),
    );
    let undelivered = || async {
        outbox::table
            .filter(outbox::delivered_at.is_null())
            .count()
            .get_result::<i64>(&mut *own.lock().await)
            .await
            .unwrap()
    };
    common::flow::eventually("the first checkout's deliveries recorded", || async {
        undelivered().await == 0
    })
    .await;

    let (transactions, batches) = (
        counter(&app, "db_transactions").await,
        counter(&app, "db_batch_writes").await,
    );
    let token = common::flow::lock(&app, &user, showtime, &["A2", "A3"]).await;
    let r = app
        .gql_as(
            &user.token,
            "mutation($s: ID!, $seats: [String!]!, $t: String!) { createBooking(input: \
             {showtimeId: $s, seatNumbers: $seats, lockToken: $t}) { booking { id } } }",
            json!({"s": showtime.to_string(), "seats": ["A2", "A3"], "t": token}),
        )
        .await;
    let id = r.data()["createBooking"]["booking"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    common::flow::pay(&app, &id).await;
    common::flow::eventually("every delivery recorded, and the hold", || async {
        let held: i64 = seat_locks::table
            .filter(seat_locks::lock_token.eq(&token))
            .count()
            .get_result(&mut *own.lock().await)
            .await
            .unwrap();
        undelivered().await == 0 && held == 1
    })
    .await;
    // What this checkout's requests ran, leaving out the batch writers, which one
    // booking in a sale shares with every other (BENCHMARKS, issue 22): the price's
    // reads, the booking, its seats in Redis, the payment's confirmation.
    // `pay` reads the payment's amount through the server's pool: one more.
    let spent = counter(&app, "db_transactions").await - transactions;
    let batched = counter(&app, "db_batch_writes").await - batches;
    assert!(
        batched >= 2,
        "the hold's record and the deliveries' ({batched})"
    );
    assert_eq!(
        spent - batched - 1,
        4,
        "{spent} transactions, {batched} of them batch writes"
    );
    assert_eq!(
        common::flow::booking(&app, &user, &id).await["status"],
        "CONFIRMED"
    );
}
