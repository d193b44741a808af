//! Showtimes that have ended: their open seat maps end on every node, their seating
//! keys leave Redis, and a map cannot be followed any more; a payment for an expired
//! booking that arrives once the showing has begun goes back instead of selling a seat.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::common;
use crate::exchanges::{paid, showtime_at, state};
use crate::ticket_types::room;

use chrono::{DateTime, Duration, Utc};
use common::flow::{book, eventually, lock, outbox_row, seat_states};
use common::ws::WsClient;
use common::{TestApp, TestUser};
use fred::prelude::*;
use screema::clock::Clock;
use screema::db::enums::Role;
use screema::outbox::{Deliverer, Effect};
use serde_json::{Value, json};
use uuid::Uuid;

const BLOCK: &str = "mutation($s: ID!, $seats: [String!]!, $r: String!) { \
    blockSeats(input: {showtimeId: $s, seatNumbers: $seats, reason: $r}) { version } }";
const FOLLOW: &str = "subscription($s: ID!) { seatMap(showtimeId: $s) { version availableSeats } }";

async fn ends_at(app: &TestApp, showtime: Uuid) -> DateTime<Utc> {
    let r = app
        .gql(
            "query($id: ID!) { showtime(id: $id) { endTime } }",
            json!({"id": showtime.to_string()}),
        )
        .await;
    r.data()["showtime"]["endTime"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap()
}

async fn seating_keys(app: &TestApp, showtime: Uuid) -> Vec<String> {
    app.redis()
        .await
        .custom(
            fred::cmd!("KEYS"),
            vec![format!("{}:seat:{{{showtime}}}:*", app.prefix)],
        )
        .await
        .unwrap()
}

async fn closed_at(app: &TestApp, showtime: Uuid) -> Option<DateTime<Utc>> {
    use diesel::prelude::*;
    use diesel_async::RunQueryDsl;
    use screema::db::schema::showtimes;
    showtimes::table
        .find(showtime)
        .select(showtimes::live_closed_at)
        .first(&mut app.conn().await)
        .await
        .unwrap()
}

/// Reads until the subscription `id` completes; the messages before it.
async fn until_complete(ws: &mut WsClient, id: &str) -> Vec<Value> {
    let mut before = Vec::new();
    loop {
        let message = ws.receive().await;
        if message["type"] == "complete" && message["id"] == id {
            return before;
        }
        before.push(message);
    }
}

async fn watch(node: &TestApp, user: &TestUser, showtime: Uuid) -> WsClient {
    let mut ws = WsClient::connect(node.addr, false, Some(&user.token)).await;
    ws.subscribe("m", FOLLOW, json!({"s": showtime.to_string()}))
        .await;
    let first = ws.next_data().await;
    assert_eq!(first["seatMap"]["availableSeats"], 4, "{first}");
    ws
}

#[tokio::test]
async fn an_ended_showtime_ends_its_maps_on_every_node_and_leaves_redis() {
    let (builder, clock) = TestApp::clocked();
    let app = builder.env("SWEEP_INTERVAL_MS", "100").build().await;
    let other = app
        .another_node()
        .clock(clock.clone())
        .env("SWEEP_INTERVAL_MS", "100")
        .env("ACCESS_TOKEN_TTL_SECONDS", "86400")
        .build()
        .await;
    let room = room(&app, None).await;
    let show = showtime_at(&app, &room, clock.now() + Duration::hours(3), "10.00").await;
    let end = ends_at(&app, show).await;
    let buyer = app.with_user(Role::Customer).await;
    paid(&app, &buyer, show, &["A1"]).await;
    let holder = app.with_user(Role::Customer).await;
    lock(&app, &holder, show, &["A2"]).await;
    assert!(!seating_keys(&app, show).await.is_empty());

    // Someone watches the map on each node.
    let mut here = watch(&app, &buyer, show).await;
    let mut there = watch(&other, &holder, show).await;

    // Started, not ended: the maps stay open (the lapsed hold still shows).
    clock.advance(Duration::hours(3) + Duration::minutes(15));
    eventually("the lapsed hold is released", || async {
        state(&seat_states(&app, show).await, "A2") == "AVAILABLE"
    })
    .await;
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert_eq!(closed_at(&app, show).await, None);

    // Ended: every open map completes, on both nodes, and Redis forgets the showtime.
    clock.set(end + Duration::minutes(1));
    for ws in [&mut here, &mut there] {
        for message in until_complete(ws, "m").await {
            assert_eq!(message["type"], "next", "{message}");
        }
    }
    eventually("the showtime is closed", || async {
        closed_at(&app, show).await.is_some()
    })
    .await;
    assert_eq!(seating_keys(&app, show).await, Vec::<String>::new());
    let active: Vec<String> = app
        .redis()
        .await
        .smembers(format!("{}:seating:active", app.prefix))
        .await
        .unwrap();
    assert!(!active.contains(&show.to_string()), "{active:?}");

    // Nothing to follow any more; nothing to hold; the map still reads from Postgres.
    let mut late = WsClient::connect(other.addr, false, Some(&buyer.token)).await;
    late.subscribe("m", FOLLOW, json!({"s": show.to_string()}))
        .await;
    let refused = late.receive().await;
    let errors = match refused["type"].as_str() {
        Some("error") => refused["payload"].clone(),
        _ => refused["payload"]["errors"].clone(),
    };
    assert_eq!(
        errors[0]["extensions"]["code"], "BAD_USER_INPUT",
        "{refused}"
    );
    assert_eq!(errors[0]["extensions"]["field"], "showtimeId", "{refused}");
    let r = app
        .gql_as(
            &holder.token,
            common::flow::LOCK,
            json!({"s": show.to_string(), "seats": ["A3"]}),
        )
        .await;
    assert_eq!(
        (r.code(), r.field()),
        ("BAD_USER_INPUT", Some("showtimeId"))
    );
    let states = seat_states(&app, show).await;
    assert_eq!(state(&states, "A1"), "BOOKED");
    assert_eq!(state(&states, "A2"), "AVAILABLE");

    // Nor does anything later put the showtime back into Redis: the best seats read,
    // a block refused, a seat sync the outbox still had for it.
    let best = other
        .gql(
            "query($s: ID!) { bestAvailableSeats(showtimeId: $s, count: 2) { number } }",
            json!({"s": show.to_string()}),
        )
        .await;
    assert_eq!(
        best.data()["bestAvailableSeats"].as_array().map(Vec::len),
        Some(2),
        "{}",
        best.body
    );
    let operator = app.with_user(Role::Operator).await;
    let r = app
        .gql_as(
            &operator.token,
            BLOCK,
            json!({"s": show.to_string(), "seats": ["B3"], "r": "Broken"}),
        )
        .await;
    assert_eq!(
        (r.code(), r.field()),
        ("BAD_USER_INPUT", Some("showtimeId"))
    );
    let key = format!("late-seat-sync-{show}");
    let mut conn = app.conn().await;
    screema::outbox::enqueue_for(
        &mut conn,
        clock.now(),
        key.clone(),
        &Effect::Seats {
            showtime: show,
            seats: vec!["A1".to_owned()],
            used_lock: None,
        },
        Deliverer::Workers,
    )
    .await
    .unwrap();
    drop(conn);
    eventually("the late seat sync is delivered", || async {
        outbox_row(&app, &key).await.1.is_some()
    })
    .await;
    assert_eq!(seating_keys(&app, show).await, Vec::<String>::new());
}

/// A node whose open map missed the word `ended` (its connection to Redis away when it
/// was sent) finds the showtime's seats gone from Redis at its next check: it ends the
/// map rather than copy the seats back into Redis.
#[tokio::test]
async fn a_map_that_missed_the_end_ends_without_writing_redis_again() {
    let (builder, clock) = TestApp::clocked();
    let app = builder
        .env("SWEEP_INTERVAL_MS", "100")
        .env("ACCESS_TOKEN_TTL_SECONDS", "86400")
        .build()
        .await;
    let room = room(&app, None).await;
    let show = showtime_at(&app, &room, clock.now() + Duration::hours(3), "10.00").await;
    let end = ends_at(&app, show).await;
    let buyer = app.with_user(Role::Customer).await;
    paid(&app, &buyer, show, &["A1"]).await;
    let holder = app.with_user(Role::Customer).await;
    lock(&app, &holder, show, &["A2"]).await;
    let mut ws = watch(&app, &buyer, show).await;

    // Another node closed it, and its word did not come here: Redis has forgotten the
    // showtime, and this node's room is still open.
    {
        use diesel::prelude::*;
        use diesel_async::RunQueryDsl;
        use screema::db::schema::showtimes;
        diesel::update(showtimes::table.find(show))
            .set(showtimes::live_closed_at.eq(Some(end)))
            .execute(&mut app.conn().await)
            .await
            .unwrap();
    }
    clock.set(end + Duration::minutes(1));
    let keys = seating_keys(&app, show).await;
    let _: i64 = app.redis().await.del(keys).await.unwrap();

    // It ends as the word would have ended it: no new snapshot, no error.
    for message in until_complete(&mut ws, "m").await {
        assert_eq!(message["type"], "next", "{message}");
        assert!(message["payload"]["errors"].is_null(), "{message}");
    }
    // A few more checks of the open rooms' epochs: none writes the keys back.
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert_eq!(seating_keys(&app, show).await, Vec::<String>::new());
}

#[tokio::test]
async fn a_late_payment_once_the_showing_has_begun_goes_back() {
    let (builder, clock) = TestApp::clocked();
    let app = builder
        .env("SIMULATED_PAYMENT_DELAY_MS", "600000")
        .build()
        .await;
    let room = room(&app, None).await;
    let show = showtime_at(&app, &room, clock.now() + Duration::minutes(30), "10.00").await;
    let buyer = app.with_user(Role::Customer).await;
    let created = book(&app, &buyer, show, &["A1"]).await;
    let id = created["booking"]["id"].as_str().unwrap().to_owned();
    clock.advance(Duration::minutes(11));
    eventually("the booking expires", || async {
        common::flow::status_of(&app, &buyer, &id).await == "EXPIRED"
    })
    .await;
    // The seat is free, but the film is under way: the money goes back.
    clock.advance(Duration::minutes(20));
    common::flow::pay(&app, &id).await;
    eventually("the late payment goes back", || async {
        refunds(&app, &buyer, &id).await.len() == 1
    })
    .await;
    assert_eq!(common::flow::status_of(&app, &buyer, &id).await, "EXPIRED");
    assert_eq!(state(&seat_states(&app, show).await, "A1"), "AVAILABLE");
}

async fn refunds(app: &TestApp, user: &TestUser, id: &str) -> Vec<Value> {
    let r = app
        .gql_as(
            &user.token,
            "query($id: ID!) { booking(id: $id) { refunds { status } } }",
            json!({"id": id}),
        )
        .await;
    r.data()["booking"]["refunds"].as_array().unwrap().clone()
}
