//! Live seat maps over websockets: a snapshot, then every change with versions one
//! apart, across server nodes, with expiry pushed by the sweeper.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::common;

use std::sync::Arc;

use chrono::{Duration, Utc};
use common::fixtures as fx;
use common::ws::{WsClient, changes, pair};
use common::{TestApp, TestUser};
use screema::clock::ManualClock;
use screema::db::enums::Role;
use serde_json::json;
use uuid::Uuid;

const SUBSCRIPTION: &str = "subscription($s: ID!) { seatMap(showtimeId: $s) { showtimeId version availableSeats
    changes { number state } snapshot { version rows { label seats { number state heldByMe } } } } }";
const LOCK: &str = "mutation($s: ID!, $seats: [String!]!) { lockSeats(input: {showtimeId: $s, seatNumbers: $seats}) { lockToken } }";
const RELEASE: &str = "mutation($t: String!) { releaseSeats(lockToken: $t) }";

async fn showtime(app: &TestApp) -> Uuid {
    let start = app.app.now() + Duration::days(1);
    let mut conn = app.conn().await;
    fx::one_row_showtime(&mut conn, 6, &[], start).await
}

async fn lock(app: &TestApp, user: &TestUser, st: Uuid, seats: &[&str]) -> String {
    let r = app
        .gql_as(
            &user.token,
            LOCK,
            json!({"s": st.to_string(), "seats": seats}),
        )
        .await;
    r.data()["lockSeats"]["lockToken"]
        .as_str()
        .unwrap()
        .to_owned()
}

async fn snapshot_then_changes(legacy: bool) {
    let app = TestApp::new().await;
    let st = showtime(&app).await;
    let alice = app.with_user(Role::Customer).await;
    lock(&app, &alice, st, &["A6"]).await;

    let mut ws = WsClient::connect(app.addr, legacy, Some(&alice.token)).await;
    ws.subscribe("1", SUBSCRIPTION, json!({"s": st.to_string()}))
        .await;
    let first = ws.next_data().await["seatMap"].clone();
    assert_eq!(first["showtimeId"], st.to_string());
    assert_eq!(first["version"], 1);
    assert_eq!(first["availableSeats"], 5);
    assert_eq!(first["changes"], json!([]));
    assert_eq!(first["snapshot"]["version"], 1);
    assert_eq!(
        first["snapshot"]["rows"][0]["seats"][5],
        json!({"number": "A6", "state": "HELD", "heldByMe": true})
    );

    let bob = app.with_user(Role::Customer).await;
    let t = lock(&app, &bob, st, &["A1", "A2"]).await;
    let second = ws.next_data().await["seatMap"].clone();
    assert_eq!(second["version"], 2);
    assert!(second["snapshot"].is_null());
    assert_eq!(changes(&second), [pair("A1", "HELD"), pair("A2", "HELD")]);
    assert_eq!(second["availableSeats"], 3);

    app.gql_as(&bob.token, RELEASE, json!({"t": t}))
        .await
        .data();
    let third = ws.next_data().await["seatMap"].clone();
    assert_eq!(third["version"], 3);
    assert_eq!(
        changes(&third),
        [pair("A1", "AVAILABLE"), pair("A2", "AVAILABLE")]
    );
    assert_eq!(third["availableSeats"], 5);
}

#[tokio::test]
async fn graphql_transport_ws_gets_a_snapshot_then_each_change() {
    snapshot_then_changes(false).await;
}

#[tokio::test]
async fn the_legacy_protocol_gets_the_same() {
    snapshot_then_changes(true).await;
}

#[tokio::test]
async fn changes_made_on_two_nodes_reach_a_subscriber_on_either_in_order() {
    let node_a = TestApp::new().await;
    let node_b = node_a.another_node().build().await;
    let st = showtime(&node_a).await;
    let alice = node_a.with_user(Role::Customer).await;

    let mut on_b = WsClient::connect(node_b.addr, false, None).await;
    on_b.subscribe("s", SUBSCRIPTION, json!({"s": st.to_string()}))
        .await;
    let mut on_a = WsClient::connect(node_a.addr, true, None).await;
    on_a.subscribe("s", SUBSCRIPTION, json!({"s": st.to_string()}))
        .await;
    assert_eq!(on_b.next_data().await["seatMap"]["version"], 0);
    assert_eq!(on_a.next_data().await["seatMap"]["version"], 0);

    // Alternate nodes, as a load balancer would.
    let t1 = lock(&node_a, &alice, st, &["A1"]).await;
    let t2 = lock(&node_b, &alice, st, &["A2"]).await;
    node_a
        .gql_as(&alice.token, RELEASE, json!({"t": t2}))
        .await
        .data();
    node_b
        .gql_as(&alice.token, RELEASE, json!({"t": t1}))
        .await
        .data();
    for subscriber in [&mut on_b, &mut on_a] {
        let mut seen = Vec::new();
        for expected in 1..=4 {
            let event = subscriber.next_data().await["seatMap"].clone();
            assert_eq!(event["version"], expected, "{event}");
            assert!(event["snapshot"].is_null());
            seen.extend(changes(&event));
        }
        assert_eq!(
            seen,
            [
                pair("A1", "HELD"),
                pair("A2", "HELD"),
                pair("A2", "AVAILABLE"),
                pair("A1", "AVAILABLE")
            ]
        );
    }
}

#[tokio::test]
async fn lapsed_holds_are_pushed_to_subscribers_by_the_sweeper() {
    let clock = Arc::new(ManualClock::new(Utc::now()));
    let app = TestApp::builder()
        .clock(clock.clone())
        .env("SWEEP_INTERVAL_MS", "100")
        .env("ACCESS_TOKEN_TTL_SECONDS", "7200")
        .build()
        .await;
    // A second node sweeps the same showtimes: sweepers on several nodes do no harm.
    let other = app
        .another_node()
        .clock(clock.clone())
        .env("SWEEP_INTERVAL_MS", "100")
        .build()
        .await;
    let st = showtime(&app).await;
    let alice = app.with_user(Role::Customer).await;
    lock(&app, &alice, st, &["A3", "A4"]).await;

    let mut ws = WsClient::connect(other.addr, false, None).await;
    ws.subscribe("1", SUBSCRIPTION, json!({"s": st.to_string()}))
        .await;
    assert_eq!(ws.next_data().await["seatMap"]["availableSeats"], 4);
    assert!(
        ws.maybe_next(300).await.is_none(),
        "nothing lapses before its time"
    );

    clock.advance(Duration::minutes(10) + Duration::seconds(1));
    // Nobody touches the showtime: only the sweeper can tell the subscriber.
    let started = std::time::Instant::now();
    let event = ws.next_data().await["seatMap"].clone();
    assert!(
        started.elapsed() < std::time::Duration::from_secs(2),
        "pushed within 2 s"
    );
    assert_eq!(event["version"], 2);
    assert_eq!(
        changes(&event),
        [pair("A3", "AVAILABLE"), pair("A4", "AVAILABLE")]
    );
    assert_eq!(event["availableSeats"], 6);
    // Released once, by whichever sweeper came first; nothing doubled.
    assert!(ws.maybe_next(500).await.is_none());
}

#[tokio::test]
async fn a_subscription_to_a_missing_or_malformed_showtime_is_refused() {
    let app = TestApp::new().await;
    let mut ws = WsClient::connect(app.addr, false, None).await;
    ws.subscribe("1", SUBSCRIPTION, json!({"s": "nope"})).await;
    let message = ws.maybe_next(5000).await.unwrap();
    assert_eq!(message["type"], "next");
    assert_eq!(
        message["payload"]["errors"][0]["extensions"]["code"],
        "BAD_USER_INPUT"
    );
    assert_eq!(
        message["payload"]["errors"][0]["extensions"]["field"],
        "showtimeId"
    );
    ws.subscribe("2", SUBSCRIPTION, json!({"s": Uuid::new_v4().to_string()}))
        .await;
    // The first subscription ends with `complete`; look for the second's answer.
    let message = loop {
        let message = ws.maybe_next(5000).await.unwrap();
        if message["id"] == "2" && message["type"] == "next" {
            break message;
        }
    };
    assert_eq!(
        message["payload"]["errors"][0]["extensions"]["field"],
        "showtimeId"
    );
}

#[tokio::test]
async fn subscribers_get_a_fresh_snapshot_after_redis_loses_the_showtime() {
    let app = TestApp::new().await;
    let st = showtime(&app).await;
    let alice = app.with_user(Role::Customer).await;
    let bob = app.with_user(Role::Customer).await;
    lock(&app, &alice, st, &["A1"]).await;
    let mut ws = WsClient::connect(app.addr, false, Some(&bob.token)).await;
    ws.subscribe("1", SUBSCRIPTION, json!({"s": st.to_string()}))
        .await;
    assert_eq!(ws.next_data().await["seatMap"]["version"], 1);

    // As FLUSHALL would, but only this test's keys: other tests share the server.
    let redis = app.redis().await;
    let keys: Vec<String> = fred::interfaces::ClientLike::custom(
        &redis,
        fred::cmd!("KEYS"),
        vec![format!("{}:*", app.prefix)],
    )
    .await
    .unwrap();
    let _: i64 = fred::interfaces::KeysInterface::del(&redis, keys)
        .await
        .unwrap();

    // Versions start again at 1 in a new epoch: the subscriber cannot apply that as a
    // change, so it gets the whole map again, with Alice's lost hold gone.
    lock(&app, &bob, st, &["A2"]).await;
    let event = ws.next_data().await["seatMap"].clone();
    assert!(event["snapshot"].is_object(), "{event}");
    assert_eq!(event["changes"], json!([]));
    assert_eq!(event["version"], 1);
    let seats = &event["snapshot"]["rows"][0]["seats"];
    assert_eq!(
        seats[0],
        json!({"number": "A1", "state": "AVAILABLE", "heldByMe": false})
    );
    assert_eq!(
        seats[1],
        json!({"number": "A2", "state": "HELD", "heldByMe": true})
    );
    assert_eq!(event["availableSeats"], 5);

    // And it follows the new epoch's changes from there.
    lock(&app, &alice, st, &["A3"]).await;
    let next = ws.next_data().await["seatMap"].clone();
    assert_eq!(next["version"], 2);
    assert_eq!(changes(&next), [pair("A3", "HELD")]);
}

#[tokio::test]
async fn subscribers_get_a_fresh_snapshot_when_the_redis_connection_comes_back() {
    let app = TestApp::new().await;
    let st = showtime(&app).await;
    let alice = app.with_user(Role::Customer).await;
    let mut ws = WsClient::connect(app.addr, false, None).await;
    ws.subscribe("1", SUBSCRIPTION, json!({"s": st.to_string()}))
        .await;
    assert_eq!(ws.next_data().await["seatMap"]["version"], 0);
    lock(&app, &alice, st, &["A1"]).await;
    assert_eq!(ws.next_data().await["seatMap"]["version"], 1);

    // Cut this server's subscriber connection, and only it: Redis is shared.
    let redis = app.redis().await;
    let name = app.app.pubsub.connection_name();
    let clients: String =
        fred::interfaces::ClientLike::custom(&redis, fred::cmd!("CLIENT"), vec!["LIST"])
            .await
            .unwrap();
    let id = clients
        .lines()
        .find(|l| l.split(' ').any(|f| f == format!("name={name}")))
        .and_then(|l| l.split(' ').find_map(|f| f.strip_prefix("id=")))
        .expect("the subscriber's connection")
        .to_owned();
    let _: String = fred::interfaces::ClientLike::custom(
        &redis,
        fred::cmd!("CLIENT"),
        vec!["KILL", "ID", id.as_str()],
    )
    .await
    .unwrap();

    // It cannot prove it missed nothing: a snapshot comes.
    let event = ws.next_data().await["seatMap"].clone();
    assert!(event["snapshot"].is_object(), "{event}");
    assert_eq!(event["version"], 1);
    // And changes flow again over the new connection.
    lock(&app, &alice, st, &["A2"]).await;
    let next = ws.next_data().await["seatMap"].clone();
    assert_eq!(next["version"], 2);
    assert_eq!(changes(&next), [pair("A2", "HELD")]);
}

#[tokio::test]
async fn a_subscriber_that_falls_behind_gets_a_snapshot_not_a_queue() {
    let clock = Arc::new(ManualClock::new(Utc::now()));
    let app = TestApp::builder()
        .clock(clock.clone())
        .env("LIVE_BACKLOG", "2")
        .env("SWEEP_INTERVAL_MS", "100")
        .env("ACCESS_TOKEN_TTL_SECONDS", "7200")
        .build()
        .await;
    let st = showtime(&app).await;
    for seat in ["A1", "A2", "A3", "A4", "A5", "A6"] {
        let user = app.with_user(Role::Customer).await;
        lock(&app, &user, st, &[seat]).await;
    }
    let mut ws = WsClient::connect(app.addr, false, None).await;
    ws.subscribe("1", SUBSCRIPTION, json!({"s": st.to_string()}))
        .await;
    let first = ws.next_data().await["seatMap"].clone();
    assert_eq!(
        (first["version"].as_i64(), first["availableSeats"].as_i64()),
        (Some(6), Some(0))
    );

    // One sweep releases all six holds: six changes published back to back, more than
    // the subscriber's backlog of two.
    clock.advance(Duration::minutes(11));
    let event = ws.next_data().await["seatMap"].clone();
    assert!(
        event["snapshot"].is_object(),
        "a snapshot, not a queue: {event}"
    );
    assert_eq!(event["version"], 12);
    assert_eq!(event["availableSeats"], 6);
    assert!(
        ws.maybe_next(300).await.is_none(),
        "and no stale changes after it"
    );
}

#[tokio::test]
async fn a_room_reopened_right_after_it_closed_still_hears_changes() {
    let app = TestApp::new().await;
    let st = showtime(&app).await;
    let alice = app.with_user(Role::Customer).await;
    for round in 0..5 {
        let mut first = WsClient::connect(app.addr, false, None).await;
        first
            .subscribe("1", SUBSCRIPTION, json!({"s": st.to_string()}))
            .await;
        first.next_data().await;
        // The last subscriber leaves (closing the room), and another arrives at once.
        drop(first);
        let mut second = WsClient::connect(app.addr, round % 2 == 1, None).await;
        second
            .subscribe("1", SUBSCRIPTION, json!({"s": st.to_string()}))
            .await;
        let snapshot = second.next_data().await["seatMap"].clone();
        let seat = format!("A{}", round + 1);
        lock(&app, &alice, st, &[seat.as_str()]).await;
        let event = second.next_data().await["seatMap"].clone();
        assert_eq!(
            event["version"],
            snapshot["version"].as_i64().unwrap() + 1,
            "round {round}"
        );
        assert_eq!(changes(&event), [pair(&seat, "HELD")]);
    }
}

#[tokio::test]
async fn queries_over_a_long_lived_websocket_see_fresh_data() {
    let app = TestApp::new().await;
    let st = showtime(&app).await;
    let alice = app.with_user(Role::Customer).await;
    let query = "query($s: ID!) { showtime(id: $s) { availableSeats } }";
    let mut ws = WsClient::connect(app.addr, false, None).await;
    ws.subscribe("q1", query, json!({"s": st.to_string()}))
        .await;
    assert_eq!(ws.next_data().await["showtime"]["availableSeats"], 6);
    lock(&app, &alice, st, &["A1"]).await;
    ws.subscribe("q2", query, json!({"s": st.to_string()}))
        .await;
    // Skip the first query's `complete`.
    let answer = loop {
        let message = ws.maybe_next(5000).await.unwrap();
        if message["id"] == "q2" && message["type"] == "next" {
            break message;
        }
    };
    assert_eq!(answer["payload"]["data"]["showtime"]["availableSeats"], 5);
}
