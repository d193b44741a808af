//! Live seat maps that resume: `seatMap(showtimeId, since: {epoch, version})` after a
//! reconnection sends only the changes missed (from the showtime's history in Redis),
//! one version apart, then the live ones; a snapshot when they cannot all be proven
//! (another epoch, too far back, a version from the future). Across nodes, a node
//! restart and Redis losing the showtime's data.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::common;

use chrono::Duration;
use common::fixtures as fx;
use common::ws::{WsClient, changes, pair};
use common::{TestApp, TestUser};
use fred::prelude::*;
use screema::db::enums::Role;
use serde_json::{Value, json};
use uuid::Uuid;

/// Plain fields: the websocket's fast path writes the change events.
const FAST: &str = "subscription($s: ID!, $since: SeatMapCursorInput) { seatMap(showtimeId: $s, since: $since) {
    version epoch availableSeats changes { number state } snapshot { version rows { seats { number state } } } } }";
/// A fragment: the executor writes every event.
const EXECUTOR: &str = "subscription($s: ID!, $since: SeatMapCursorInput) { seatMap(showtimeId: $s, since: $since) { ...E } }
    fragment E on SeatMapEvent { version epoch availableSeats changes { number state } snapshot { version rows { seats { number state } } } }";
const LOCK: &str = "mutation($s: ID!, $seats: [String!]!) { lockSeats(input: {showtimeId: $s, seatNumbers: $seats}) { lockToken } }";
const RELEASE: &str = "mutation($t: String!) { releaseSeats(lockToken: $t) }";

/// One row of six seats, A1 to A6.
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

async fn release(app: &TestApp, user: &TestUser, token: &str) {
    app.gql_as(&user.token, RELEASE, json!({"t": token}))
        .await
        .data();
}

/// Subscribes on a fresh connection, resuming from `since` when given.
async fn follow(
    app: &TestApp,
    legacy: bool,
    query: &str,
    st: Uuid,
    since: Option<(&str, i64)>,
) -> WsClient {
    let mut ws = WsClient::connect(app.addr, legacy, None).await;
    let since = since.map(|(epoch, version)| json!({"epoch": epoch, "version": version}));
    ws.subscribe("1", query, json!({"s": st.to_string(), "since": since}))
        .await;
    ws
}

async fn next(ws: &mut WsClient) -> Value {
    ws.next_data().await["seatMap"].clone()
}

/// The first event of a fresh subscription: a snapshot, and its epoch.
async fn snapshot(ws: &mut WsClient) -> (Value, String) {
    let event = next(ws).await;
    assert!(event["snapshot"].is_object(), "{event}");
    let epoch = event["epoch"].as_str().unwrap().to_owned();
    assert!(!epoch.is_empty(), "{event}");
    (event, epoch)
}

/// Nothing more arrives for a while: no double, no stray snapshot.
async fn quiet(ws: &mut WsClient) {
    if let Some(extra) = ws.maybe_next(300).await {
        panic!("nothing more was expected: {extra}");
    }
}

async fn resume_gets_only_what_was_missed(legacy: bool, query: &str) {
    let app = TestApp::new().await;
    let st = showtime(&app).await;
    let alice = app.with_user(Role::Customer).await;

    let mut ws = follow(&app, legacy, query, st, None).await;
    let (first, epoch) = snapshot(&mut ws).await;
    assert_eq!(first["version"], 0);
    let a1 = lock(&app, &alice, st, &["A1"]).await;
    let seen = next(&mut ws).await;
    assert_eq!(
        (seen["version"].clone(), seen["epoch"].clone()),
        (json!(1), json!(epoch))
    );
    drop(ws);

    // While the client is away (a phone in a tunnel).
    lock(&app, &alice, st, &["A2"]).await;
    release(&app, &alice, &a1).await;
    lock(&app, &alice, st, &["A3", "A4"]).await;

    let mut ws = follow(&app, legacy, query, st, Some((&epoch, 1))).await;
    let expected = [
        (2, vec![pair("A2", "HELD")], 4),
        (3, vec![pair("A1", "AVAILABLE")], 5),
        (4, vec![pair("A3", "HELD"), pair("A4", "HELD")], 3),
    ];
    for (version, seats, available) in expected {
        let event = next(&mut ws).await;
        assert!(event["snapshot"].is_null(), "{event}");
        assert_eq!(event["version"], version, "{event}");
        assert_eq!(event["epoch"], epoch.as_str(), "{event}");
        assert_eq!(changes(&event), seats, "{event}");
        assert_eq!(event["availableSeats"], available, "{event}");
    }
    // Then the live changes, on from there.
    lock(&app, &alice, st, &["A5"]).await;
    let live = next(&mut ws).await;
    assert_eq!(live["version"], 5, "{live}");
    assert_eq!(changes(&live), [pair("A5", "HELD")]);
    assert_eq!(live["availableSeats"], 2);
    quiet(&mut ws).await;

    // The history expires with the showtime's other keys.
    let redis = app.redis().await;
    let key = format!("{}:seat:{{{st}}}:history", app.prefix);
    let ttl: i64 = redis.pttl(&key).await.unwrap();
    let version_ttl: i64 = redis
        .pttl(format!("{}:seat:{{{st}}}:version", app.prefix))
        .await
        .unwrap();
    assert!(
        ttl > 0 && (ttl - version_ttl).abs() < 60_000,
        "{ttl} {version_ttl}"
    );
}

#[tokio::test]
async fn a_resume_gets_only_the_missed_changes_then_live_ones() {
    resume_gets_only_what_was_missed(false, FAST).await;
}

#[tokio::test]
async fn a_resume_over_the_legacy_protocol_gets_the_same() {
    resume_gets_only_what_was_missed(true, FAST).await;
}

#[tokio::test]
async fn a_resume_through_the_executor_gets_the_same() {
    resume_gets_only_what_was_missed(false, EXECUTOR).await;
}

#[tokio::test]
async fn a_resume_at_the_current_version_waits_for_the_next_change() {
    let app = TestApp::new().await;
    let st = showtime(&app).await;
    let alice = app.with_user(Role::Customer).await;
    lock(&app, &alice, st, &["A1"]).await;
    let mut ws = follow(&app, true, FAST, st, None).await;
    let (first, epoch) = snapshot(&mut ws).await;
    assert_eq!(first["version"], 1);
    drop(ws);

    let mut ws = follow(&app, false, FAST, st, Some((&epoch, 1))).await;
    quiet(&mut ws).await;
    lock(&app, &alice, st, &["A2"]).await;
    let event = next(&mut ws).await;
    assert!(event["snapshot"].is_null(), "{event}");
    assert_eq!(event["version"], 2);
    assert_eq!(changes(&event), [pair("A2", "HELD")]);
    assert_eq!(event["availableSeats"], 4);
}

#[tokio::test]
async fn a_resume_from_beyond_the_history_gets_a_snapshot() {
    let app = TestApp::builder()
        .env("SEAT_HISTORY_LEN", "5")
        .build()
        .await;
    let st = showtime(&app).await;
    let alice = app.with_user(Role::Customer).await;
    let mut ws = follow(&app, false, FAST, st, None).await;
    let (_, epoch) = snapshot(&mut ws).await;
    drop(ws);
    // Eight changes: versions 1 to 8.
    for seat in ["A1", "A2", "A3", "A4"] {
        let token = lock(&app, &alice, st, &[seat]).await;
        release(&app, &alice, &token).await;
    }

    // Eight back is more than the history keeps: the whole map instead.
    let mut ws = follow(&app, false, FAST, st, Some((&epoch, 0))).await;
    let (event, again) = snapshot(&mut ws).await;
    assert_eq!(event["version"], 8);
    assert_eq!(again, epoch);
    assert_eq!(event["availableSeats"], 6);
    quiet(&mut ws).await;

    // Five back it still has.
    let mut ws = follow(&app, false, FAST, st, Some((&epoch, 3))).await;
    for version in 4..=8 {
        let event = next(&mut ws).await;
        assert!(event["snapshot"].is_null(), "{event}");
        assert_eq!(event["version"], version, "{event}");
    }
    quiet(&mut ws).await;
}

#[tokio::test]
async fn a_resume_with_another_epoch_or_a_future_version_gets_a_snapshot() {
    let app = TestApp::new().await;
    let st = showtime(&app).await;
    let alice = app.with_user(Role::Customer).await;
    lock(&app, &alice, st, &["A1"]).await;
    lock(&app, &alice, st, &["A2"]).await;
    let mut ws = follow(&app, false, FAST, st, None).await;
    let (_, epoch) = snapshot(&mut ws).await;
    drop(ws);

    // Versions of another epoch mean nothing now; one ahead of the server's cannot
    // have been seen. Either way the whole map comes first.
    for since in [("not-the-epoch", 1), (epoch.as_str(), 3)] {
        let mut ws = follow(&app, true, FAST, st, Some(since)).await;
        let (event, now) = snapshot(&mut ws).await;
        assert_eq!(event["version"], 2, "{since:?}");
        assert_eq!(now, epoch);
        quiet(&mut ws).await;
    }
    let mut ws = follow(&app, false, FAST, st, Some(("not-the-epoch", 2))).await;
    let (event, _) = snapshot(&mut ws).await;
    assert_eq!(event["version"], 2);
    lock(&app, &alice, st, &["A3"]).await;
    let live = next(&mut ws).await;
    assert_eq!(live["version"], 3, "{live}");
    assert!(live["snapshot"].is_null(), "{live}");
}

#[tokio::test]
async fn bad_cursors_are_bad_user_input_naming_since() {
    let app = TestApp::new().await;
    let st = showtime(&app).await;
    for since in [
        json!({"epoch": "e", "version": -1}),
        json!({"epoch": "", "version": 0}),
    ] {
        let mut ws = WsClient::connect(app.addr, false, None).await;
        ws.subscribe("1", FAST, json!({"s": st.to_string(), "since": since}))
            .await;
        let refused = ws.receive().await;
        let errors = match refused["type"].as_str() {
            Some("error") => refused["payload"].clone(),
            _ => refused["payload"]["errors"].clone(),
        };
        assert_eq!(
            errors[0]["extensions"]["code"], "BAD_USER_INPUT",
            "{refused}"
        );
        assert_eq!(errors[0]["extensions"]["field"], "since", "{refused}");
    }
}

#[tokio::test]
async fn a_resume_on_another_node_gets_the_changes() {
    let node_a = TestApp::new().await;
    let node_b = node_a.another_node().build().await;
    let st = showtime(&node_a).await;
    let alice = node_a.with_user(Role::Customer).await;

    let mut on_a = follow(&node_a, false, FAST, st, None).await;
    let (_, epoch) = snapshot(&mut on_a).await;
    lock(&node_a, &alice, st, &["A1"]).await;
    assert_eq!(next(&mut on_a).await["version"], 1);
    drop(on_a);

    lock(&node_b, &alice, st, &["A2"]).await;
    lock(&node_a, &alice, st, &["A3"]).await;
    let mut on_b = follow(&node_b, true, FAST, st, Some((&epoch, 1))).await;
    for (version, seat) in [(2, "A2"), (3, "A3")] {
        let event = next(&mut on_b).await;
        assert!(event["snapshot"].is_null(), "{event}");
        assert_eq!(event["version"], version);
        assert_eq!(changes(&event), [pair(seat, "HELD")]);
    }
    lock(&node_a, &alice, st, &["A4"]).await;
    assert_eq!(next(&mut on_b).await["version"], 4);
    quiet(&mut on_b).await;
}

#[tokio::test]
async fn a_resume_after_the_node_restarts_still_gets_the_changes() {
    // The first app owns the database and the Redis prefix; the subscriber's node is
    // another, which goes away and comes back as a new process would.
    let owner = TestApp::new().await;
    let st = showtime(&owner).await;
    let alice = owner.with_user(Role::Customer).await;
    let mut node = owner.another_node().build().await;

    let mut ws = follow(&node, false, FAST, st, None).await;
    let (_, epoch) = snapshot(&mut ws).await;
    lock(&node, &alice, st, &["A1"]).await;
    assert_eq!(next(&mut ws).await["version"], 1);
    node.shut_down();
    drop(ws);

    lock(&owner, &alice, st, &["A2", "A3"]).await;
    let restarted = owner.another_node().build().await;
    let mut ws = follow(&restarted, false, FAST, st, Some((&epoch, 1))).await;
    let event = next(&mut ws).await;
    assert!(event["snapshot"].is_null(), "{event}");
    assert_eq!(event["version"], 2);
    assert_eq!(changes(&event), [pair("A2", "HELD"), pair("A3", "HELD")]);
    assert_eq!(event["availableSeats"], 3);
    quiet(&mut ws).await;
    // Dropped last: a test node's drop clears the prefix's keys.
    drop(restarted);
    drop(node);
}

#[tokio::test]
async fn after_redis_loses_the_showtime_a_resume_gets_a_snapshot_then_changes() {
    let app = TestApp::builder()
        .env("SWEEP_INTERVAL_MS", "100")
        .build()
        .await;
    let st = showtime(&app).await;
    let alice = app.with_user(Role::Customer).await;
    let bob = app.with_user(Role::Customer).await;

    let mut ws = follow(&app, true, FAST, st, None).await;
    let (_, old_epoch) = snapshot(&mut ws).await;
    lock(&app, &alice, st, &["A1"]).await;
    lock(&app, &alice, st, &["A2"]).await;
    assert_eq!(next(&mut ws).await["version"], 1);
    assert_eq!(next(&mut ws).await["version"], 2);
    drop(ws);

    // Redis loses everything (a restart without persistence).
    let redis = app.redis().await;
    let keys: Vec<String> = redis
        .custom(fred::cmd!("KEYS"), vec![format!("{}:*", app.prefix)])
        .await
        .unwrap();
    let _: i64 = redis.del(keys).await.unwrap();
    // Versions start again, under a new epoch.
    lock(&app, &bob, st, &["A3"]).await;

    let mut ws = follow(&app, true, FAST, st, Some((&old_epoch, 2))).await;
    let (event, epoch) = snapshot(&mut ws).await;
    assert_ne!(epoch, old_epoch);
    assert_eq!(event["version"], 1);
    let states: Vec<Value> = event["snapshot"]["rows"][0]["seats"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["state"].clone())
        .collect();
    assert_eq!(
        states[..3],
        [json!("AVAILABLE"), json!("AVAILABLE"), json!("HELD")]
    );
    lock(&app, &bob, st, &["A4"]).await;
    let live = next(&mut ws).await;
    assert_eq!(live["version"], 2, "{live}");
    assert_eq!(live["epoch"], epoch.as_str());
    drop(ws);

    // And a later resume in the new epoch is served from its own history only.
    lock(&app, &bob, st, &["A5"]).await;
    let mut ws = follow(&app, false, FAST, st, Some((&epoch, 1))).await;
    for (version, seat) in [(2, "A4"), (3, "A5")] {
        let event = next(&mut ws).await;
        assert!(event["snapshot"].is_null(), "{event}");
        assert_eq!(event["version"], version, "{event}");
        assert_eq!(event["epoch"], epoch.as_str());
        assert_eq!(changes(&event), [pair(seat, "HELD")]);
    }
    quiet(&mut ws).await;
}

#[tokio::test]
async fn a_resumed_subscriber_that_falls_behind_gets_a_snapshot_not_the_replay_again() {
    let (builder, clock) = TestApp::clocked();
    let app = builder
        .env("LIVE_BACKLOG", "2")
        .env("SWEEP_INTERVAL_MS", "100")
        .build()
        .await;
    let st = showtime(&app).await;
    for seat in ["A1", "A2", "A3", "A4", "A5"] {
        let user = app.with_user(Role::Customer).await;
        lock(&app, &user, st, &[seat]).await;
    }
    let mut ws = follow(&app, false, FAST, st, None).await;
    let (first, epoch) = snapshot(&mut ws).await;
    assert_eq!(first["version"], 5);
    drop(ws);

    let mut ws = follow(&app, false, FAST, st, Some((&epoch, 5))).await;
    let user = app.with_user(Role::Customer).await;
    lock(&app, &user, st, &["A6"]).await;
    assert_eq!(next(&mut ws).await["version"], 6);
    // One sweep releases all six holds back to back, more than the backlog of two: the
    // subscription starts again from a snapshot, never from `since` (it had version 6).
    clock.advance(Duration::minutes(11));
    let event = next(&mut ws).await;
    assert!(event["snapshot"].is_object(), "{event}");
    assert_eq!(event["version"], 12);
    assert_eq!(event["availableSeats"], 6);
    quiet(&mut ws).await;
}
