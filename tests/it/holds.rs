//! Seat holds through the public API: atomic, all-or-nothing, capped, expiring,
//! versioned and published.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::common;

use std::collections::HashSet;
use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use common::fixtures as fx;
use common::{Gql, TestApp, TestUser};
use fred::prelude::*;
use screema::clock::{Clock, ManualClock};
use screema::db::enums::{BookingStatus, Role};
use serde_json::{Value, json};
use uuid::Uuid;

const LOCK: &str = "mutation($s: ID!, $seats: [String!]!) { lockSeats(input: {showtimeId: $s, seatNumbers: $seats}) { lockToken expiresAt lockedSeats } }";
const EXTEND: &str =
    "mutation($t: String!) { extendSeatLock(lockToken: $t) { lockToken expiresAt lockedSeats } }";
const RELEASE: &str = "mutation($t: String!) { releaseSeats(lockToken: $t) }";
const MAP: &str = "query($s: ID!) { showtime(id: $s) { availableSeats seatMap { version rows { seats { number state heldByMe } } } } }";

/// A row of 20 seats, A1..A20, and a showtime tomorrow.
async fn showtime(app: &TestApp) -> Uuid {
    let start = app.app.now() + Duration::days(1);
    let mut conn = app.conn().await;
    fx::one_row_showtime(&mut conn, 20, &["A20"], start).await
}

async fn lock(app: &TestApp, user: &TestUser, showtime: Uuid, seats: &[&str]) -> Gql {
    app.gql_as(
        &user.token,
        LOCK,
        json!({"s": showtime.to_string(), "seats": seats}),
    )
    .await
}

fn token(r: &Gql) -> String {
    r.data()["lockSeats"]["lockToken"]
        .as_str()
        .unwrap()
        .to_owned()
}

async fn states(
    app: &TestApp,
    as_user: Option<&TestUser>,
    showtime: Uuid,
) -> (Value, Vec<(String, String, bool)>) {
    let vars = json!({"s": showtime.to_string()});
    let r = match as_user {
        Some(u) => app.gql_as(&u.token, MAP, vars).await,
        None => app.gql(MAP, vars).await,
    };
    let s = r.data()["showtime"].clone();
    let seats = s["seatMap"]["rows"][0]["seats"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|x| x["state"] != "AVAILABLE")
        .map(|x| {
            (
                x["number"].as_str().unwrap().to_owned(),
                x["state"].as_str().unwrap().to_owned(),
                x["heldByMe"].as_bool().unwrap(),
            )
        })
        .collect();
    (s, seats)
}

#[tokio::test]
async fn holds_are_all_or_nothing_and_show_on_the_map() {
    let app = TestApp::new().await;
    let st = showtime(&app).await;
    let alice = app.with_user(Role::Customer).await;
    let bob = app.with_user(Role::Customer).await;

    let first = lock(&app, &alice, st, &["A1", "A2"]).await;
    let r = &first;
    assert_eq!(r.data()["lockSeats"]["lockedSeats"], json!(["A1", "A2"]));
    let expires: DateTime<Utc> = r.data()["lockSeats"]["expiresAt"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(
        (expires - Utc::now() - Duration::minutes(10))
            .num_seconds()
            .abs()
            < 5
    );

    // Bob wants A2 and A3: A2 is Alice's, so he gets neither.
    let r = lock(&app, &bob, st, &["A3", "A2", "A20"]).await;
    assert_eq!(r.code(), "SEATS_UNAVAILABLE");
    let r = lock(&app, &bob, st, &["A3", "A2"]).await;
    assert_eq!(r.code(), "SEATS_UNAVAILABLE");
    assert_eq!(r.error()["extensions"]["seats"], json!(["A2"]));

    let (alice_view, seats) = states(&app, Some(&alice), st).await;
    assert_eq!(
        seats,
        [
            ("A1".into(), "HELD".into(), true),
            ("A2".into(), "HELD".into(), true),
            ("A20".into(), "BLOCKED".into(), false)
        ]
    );
    assert_eq!(alice_view["availableSeats"], 17);
    assert_eq!(alice_view["seatMap"]["version"], 1);
    let (_, seats) = states(&app, Some(&bob), st).await;
    assert_eq!(seats[0], ("A1".into(), "HELD".into(), false));
    let (_, seats) = states(&app, None, st).await;
    assert_eq!(seats[1], ("A2".into(), "HELD".into(), false));

    // The record for support is written, off the request path, and so is its release.
    let records = || async {
        use diesel::{ExpressionMethods, QueryDsl};
        use diesel_async::RunQueryDsl;
        use screema::db::schema::seat_locks;
        seat_locks::table
            .select((
                seat_locks::seat_numbers,
                seat_locks::released_at.is_not_null(),
            ))
            .load::<(Vec<Option<String>>, bool)>(&mut app.conn().await)
            .await
            .unwrap()
    };
    common::flow::eventually("the hold's record", || async { records().await.len() == 1 }).await;
    assert_eq!(
        records().await,
        [(vec![Some("A1".to_owned()), Some("A2".to_owned())], false)]
    );
    let alice_token = token(&first);
    let released = app
        .gql_as(&alice.token, RELEASE, json!({"t": alice_token}))
        .await;
    assert_eq!(released.data()["releaseSeats"], true);
    common::flow::eventually("the release's record", || async { records().await[0].1 }).await;
}

#[tokio::test]
async fn fifty_racing_holds_win_each_seat_exactly_once() {
    let app = TestApp::new().await;
    let st = showtime(&app).await;
    let mut users = Vec::new();
    for _ in 0..50 {
        users.push(app.with_user(Role::Customer).await);
    }
    // Overlapping pairs: A1+A2, A2+A3, … over A1..A10.
    let attempts = users.iter().enumerate().map(|(i, user)| {
        let first = i % 9 + 1;
        let seats = vec![format!("A{first}"), format!("A{}", first + 1)];
        let app = &app;
        async move {
            let r = app
                .gql_as(
                    &user.token,
                    LOCK,
                    json!({"s": st.to_string(), "seats": seats}),
                )
                .await;
            (user.id, seats, r)
        }
    });
    let results = futures_util::future::join_all(attempts).await;
    let mut won: Vec<String> = Vec::new();
    for (_, seats, r) in &results {
        if r.body["errors"].is_null() {
            won.extend(seats.iter().cloned());
        } else {
            assert_eq!(r.code(), "SEATS_UNAVAILABLE");
            let refused: Vec<String> =
                serde_json::from_value(r.error()["extensions"]["seats"].clone()).unwrap();
            assert!(!refused.is_empty() && refused.iter().all(|s| seats.contains(s)));
        }
    }
    let unique: HashSet<&String> = won.iter().collect();
    assert_eq!(unique.len(), won.len(), "a seat was won twice: {won:?}");
    assert!(won.len() >= 2);
    let (view, seats) = states(&app, None, st).await;
    let held: HashSet<String> = seats
        .into_iter()
        .filter(|s| s.1 == "HELD")
        .map(|s| s.0)
        .collect();
    assert_eq!(held, won.iter().cloned().collect());
    assert_eq!(
        view["seatMap"]["version"],
        (won.len() / 2) as i64,
        "one version per successful hold"
    );
}

/// A flash sale's first buyers all find the showtime's booked seats missing from Redis
/// at once: one copy is made from Postgres, not one each (each waited on the advisory
/// lock holding a pool connection, and a crowd emptied the pool).
#[tokio::test]
async fn a_crowd_on_a_showtime_redis_does_not_know_copies_its_seats_once() {
    let app = TestApp::builder()
        .env("DATABASE_POOL_SIZE", "4")
        .build()
        .await;
    let st = showtime(&app).await;
    let mut users = Vec::new();
    for _ in 0..40 {
        users.push(app.with_user(Role::Customer).await);
    }
    let before = app.statements().await;
    let attempts = users.iter().enumerate().map(|(i, user)| {
        let seat = format!("A{}", i % 19 + 1);
        let app = &app;
        async move { lock(app, user, st, &[seat.as_str()]).await }
    });
    let results = futures_util::future::join_all(attempts).await;
    for r in &results {
        if !r.body["errors"].is_null() {
            assert_eq!(r.code(), "SEATS_UNAVAILABLE", "{}", r.body);
        }
    }
    let held = results
        .iter()
        .filter(|r| r.body["errors"].is_null())
        .count();
    assert_eq!(held, 19, "each free seat held once");
    // One copy is five statements (BEGIN, the advisory lock, the booked and blocked
    // seats, COMMIT); forty would be two hundred. The rest are the room's loads before
    // it was cached, one each at most.
    let statements = app.statements().await - before;
    assert!(statements <= 5 + 40, "{statements} statements");
}

#[tokio::test]
async fn every_refusal_has_its_code() {
    let clock = Arc::new(ManualClock::new(Utc::now()));
    // The clock moves a day: tokens must outlive it.
    let app = TestApp::builder()
        .clock(clock.clone())
        .env("MAX_SEATS_PER_USER", "3")
        .env("ACCESS_TOKEN_TTL_SECONDS", "172800")
        .build()
        .await;
    let st = showtime(&app).await;
    let alice = app.with_user(Role::Customer).await;
    let bob = app.with_user(Role::Customer).await;
    {
        let mut conn = app.conn().await;
        fx::booking(&mut conn, bob.id, st, &["A5"], BookingStatus::Confirmed)
            .await
            .unwrap();
    }
    let bad_input = |r: Gql, field: &str| {
        assert_eq!(
            (r.code(), r.field()),
            ("BAD_USER_INPUT", Some(field)),
            "{}",
            r.body
        );
    };
    bad_input(lock(&app, &alice, st, &[]).await, "seatNumbers");
    bad_input(lock(&app, &alice, st, &["A1", "A1"]).await, "seatNumbers");
    bad_input(lock(&app, &alice, st, &["A21"]).await, "seatNumbers");
    bad_input(lock(&app, &alice, st, &["B1"]).await, "seatNumbers");
    bad_input(lock(&app, &alice, st, &["seat one"]).await, "seatNumbers");
    bad_input(
        lock(&app, &alice, st, &["A1", "A2", "A3", "A4"]).await,
        "seatNumbers",
    );
    bad_input(
        lock(&app, &alice, Uuid::new_v4(), &["A1"]).await,
        "showtimeId",
    );
    let r = app
        .gql_as(&alice.token, LOCK, json!({"s": "x", "seats": ["A1"]}))
        .await;
    bad_input(r, "showtimeId");

    let r = lock(&app, &alice, st, &["A5", "A6"]).await;
    assert_eq!(
        (r.code(), r.error()["extensions"]["seats"].clone()),
        ("SEATS_UNAVAILABLE", json!(["A5"]))
    );
    let r = lock(&app, &alice, st, &["A20"]).await;
    assert_eq!(
        (r.code(), r.error()["extensions"]["seats"].clone()),
        ("SEATS_UNAVAILABLE", json!(["A20"]))
    );

    // The cap counts what the user already holds.
    let first = lock(&app, &alice, st, &["A1", "A2"]).await;
    bad_input(lock(&app, &alice, st, &["A3", "A4"]).await, "seatNumbers");
    assert_eq!(
        app.gql(LOCK, json!({"s": st.to_string(), "seats": ["A9"]}))
            .await
            .code(),
        "UNAUTHENTICATED"
    );

    let t = token(&first);
    assert_eq!(
        app.gql_as(&bob.token, EXTEND, json!({"t": t})).await.code(),
        "FORBIDDEN"
    );
    assert_eq!(
        app.gql_as(&bob.token, RELEASE, json!({"t": t}))
            .await
            .code(),
        "FORBIDDEN"
    );
    bad_input(
        app.gql_as(&alice.token, RELEASE, json!({"t": "forged"}))
            .await,
        "lockToken",
    );
    assert_eq!(
        app.gql_as(&alice.token, RELEASE, json!({"t": t}))
            .await
            .data()["releaseSeats"],
        true
    );
    assert_eq!(
        app.gql_as(&alice.token, RELEASE, json!({"t": t}))
            .await
            .code(),
        "LOCK_EXPIRED"
    );
    assert_eq!(
        app.gql_as(&alice.token, EXTEND, json!({"t": t}))
            .await
            .code(),
        "LOCK_EXPIRED"
    );
    let forged = format!("{}.AAAAAAAAAAAAAAAAAAAAAA", st.simple());
    assert_eq!(
        app.gql_as(&alice.token, EXTEND, json!({"t": forged}))
            .await
            .code(),
        "LOCK_EXPIRED"
    );

    // Once the film has started, its seats are no longer held.
    clock.advance(Duration::days(1));
    bad_input(lock(&app, &alice, st, &["A7"]).await, "showtimeId");
}

#[tokio::test]
async fn extensions_stop_at_the_cap_and_lapsed_holds_free_their_seats() {
    let clock = Arc::new(ManualClock::new(Utc::now()));
    let app = TestApp::builder()
        .clock(clock.clone())
        .env("ACCESS_TOKEN_TTL_SECONDS", "7200")
        .build()
        .await;
    let st = showtime(&app).await;
    let alice = app.with_user(Role::Customer).await;
    let start = clock.now();
    let t = token(&lock(&app, &alice, st, &["A1"]).await);

    clock.advance(Duration::minutes(9));
    let r = app.gql_as(&alice.token, EXTEND, json!({"t": t})).await;
    let expires: DateTime<Utc> = r.data()["extendSeatLock"]["expiresAt"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    assert_eq!(
        expires.timestamp(),
        (start + Duration::minutes(19)).timestamp()
    );
    assert_eq!(r.data()["extendSeatLock"]["lockedSeats"], json!(["A1"]));
    // At 17 and 25 minutes: each extension reaches ten minutes on, up to the cap.
    for _ in 0..2 {
        clock.advance(Duration::minutes(8));
        app.gql_as(&alice.token, EXTEND, json!({"t": t}))
            .await
            .data();
    }
    // The cap is 30 minutes after the hold was made.
    clock.set(start + Duration::minutes(29));
    let r = app.gql_as(&alice.token, EXTEND, json!({"t": t})).await;
    let expires: DateTime<Utc> = r.data()["extendSeatLock"]["expiresAt"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    assert_eq!(
        expires.timestamp(),
        (start + Duration::minutes(30)).timestamp()
    );

    clock.set(start + Duration::minutes(30) + Duration::seconds(1));
    let (view, seats) = states(&app, Some(&alice), st).await;
    assert_eq!(seats.len(), 1, "only the blocked seat: {seats:?}");
    assert_eq!(view["availableSeats"], 19);
    assert_eq!(
        app.gql_as(&alice.token, EXTEND, json!({"t": t}))
            .await
            .code(),
        "LOCK_EXPIRED"
    );
    let bob = app.with_user(Role::Customer).await;
    lock(&app, &bob, st, &["A1"]).await.data();
}

#[tokio::test]
async fn each_change_is_versioned_and_published_in_order() {
    let app = TestApp::new().await;
    let st = showtime(&app).await;
    let alice = app.with_user(Role::Customer).await;
    let subscriber = app.redis().await;
    let mut messages = subscriber.message_rx();
    subscriber
        .subscribe(format!("{}:seatmap:{{{st}}}", app.prefix))
        .await
        .unwrap();

    let t1 = token(&lock(&app, &alice, st, &["A1", "A2"]).await);
    let t2 = token(&lock(&app, &alice, st, &["A3"]).await);
    app.gql_as(&alice.token, RELEASE, json!({"t": t1}))
        .await
        .data();
    app.gql_as(&alice.token, EXTEND, json!({"t": t2}))
        .await
        .data();

    let mut seen = Vec::new();
    while seen.len() < 3 {
        let message = tokio::time::timeout(std::time::Duration::from_secs(5), messages.recv())
            .await
            .unwrap()
            .unwrap();
        let text: String = message.value.convert().unwrap();
        seen.push(serde_json::from_str::<Value>(&text).unwrap());
    }
    // A HELD change names its holder, for `heldByMe` in live snapshots.
    let me = alice.id.to_string();
    // Every message carries the showtime's epoch.
    let epoch = seen[0]["e"].as_str().unwrap().to_owned();
    assert_eq!(epoch.len(), 32);
    assert_eq!(
        seen[0],
        json!({"v": 1, "e": epoch, "c": [["A1", "HELD", me], ["A2", "HELD", me]]})
    );
    assert_eq!(
        seen[1],
        json!({"v": 2, "e": epoch, "c": [["A3", "HELD", me]]})
    );
    assert_eq!(
        seen[2],
        json!({"v": 3, "e": epoch, "c": [["A1", "AVAILABLE"], ["A2", "AVAILABLE"]]})
    );
    // Extending changes no seat, so it publishes nothing and keeps the version.
    assert!(
        tokio::time::timeout(std::time::Duration::from_millis(300), messages.recv())
            .await
            .is_err()
    );
    assert_eq!(states(&app, None, st).await.0["seatMap"]["version"], 3);
}

#[tokio::test]
async fn a_booked_seat_stays_taken_after_redis_forgets_everything() {
    let app = TestApp::new().await;
    let st = showtime(&app).await;
    let alice = app.with_user(Role::Customer).await;
    let bob = app.with_user(Role::Customer).await;
    lock(&app, &alice, st, &["A2"]).await.data();
    {
        let mut conn = app.conn().await;
        fx::booking(&mut conn, bob.id, st, &["A1"], BookingStatus::Confirmed)
            .await
            .unwrap();
    }
    // As FLUSHALL would, but only this test's keys: other tests share the server.
    let redis = app.redis().await;
    let keys: Vec<String> = redis
        .custom(fred::cmd!("KEYS"), vec![format!("{}:*", app.prefix)])
        .await
        .unwrap();
    assert!(!keys.is_empty());
    let _: i64 = redis.del(keys).await.unwrap();

    let r = lock(&app, &alice, st, &["A1", "A3"]).await;
    assert_eq!(
        (r.code(), r.error()["extensions"]["seats"].clone()),
        ("SEATS_UNAVAILABLE", json!(["A1"]))
    );
    // The lost hold on A2 is gone with Redis; the seat can be held again.
    lock(&app, &alice, st, &["A2", "A3"]).await.data();
}

#[tokio::test]
async fn the_booking_rate_limit_applies_to_holds() {
    let app = TestApp::builder()
        .env("RATE_LIMIT_BOOKING", "2/1m")
        .build()
        .await;
    let st = showtime(&app).await;
    let alice = app.with_user(Role::Customer).await;
    lock(&app, &alice, st, &["A1"]).await.data();
    lock(&app, &alice, st, &["A2"]).await.data();
    let r = lock(&app, &alice, st, &["A3"]).await;
    assert_eq!(r.code(), "RATE_LIMITED");
    assert!(
        r.error()["extensions"]["retryAfterSeconds"]
            .as_u64()
            .unwrap()
            >= 1
    );
    let bob = app.with_user(Role::Customer).await;
    lock(&app, &bob, st, &["A3"]).await.data();
}
