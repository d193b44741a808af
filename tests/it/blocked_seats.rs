//! Blocked seats through the public API (`blockSeats`, `unblockSeats`,
//! `Seat.blockedReason`): live on every node, atomic against holds, refused by Redis
//! after it lost everything and by Postgres whatever Redis says.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::common;

use chrono::Duration;
use common::fixtures as fx;
use common::ws::{WsClient, changes, pair};
use common::{Gql, TestApp, TestUser, flow};
use diesel_async::RunQueryDsl;
use screema::db::enums::Role;
use serde_json::{Value, json};
use uuid::Uuid;

const BLOCK: &str = "mutation($s: ID!, $seats: [String!]!, $r: String!) { blockSeats(input: {showtimeId: $s, seatNumbers: $seats, reason: $r}) { version rows { seats { number state blockedReason } } } }";
const UNBLOCK: &str = "mutation($s: ID!, $seats: [String!]!) { unblockSeats(input: {showtimeId: $s, seatNumbers: $seats}) { version rows { seats { number state blockedReason } } } }";
const MAP: &str = "query($s: ID!) { showtime(id: $s) { availableSeats seatMap { rows { seats { number state blockedReason } } } } }";
const SUBSCRIPTION: &str =
    "subscription($s: ID!) { seatMap(showtimeId: $s) { version availableSeats
    changes { number state } snapshot { rows { seats { number state blockedReason } } } } }";

/// A row of 8 seats, A1..A8, and a showtime tomorrow.
async fn showtime(app: &TestApp) -> Uuid {
    let start = app.app.now() + Duration::days(1);
    fx::one_row_showtime(&mut *app.conn().await, 8, &[], start).await
}

async fn block(app: &TestApp, who: &TestUser, st: Uuid, seats: &[&str], reason: &str) -> Gql {
    app.gql_as(
        &who.token,
        BLOCK,
        json!({"s": st.to_string(), "seats": seats, "r": reason}),
    )
    .await
}

async fn unblock(app: &TestApp, who: &TestUser, st: Uuid, seats: &[&str]) -> Gql {
    app.gql_as(
        &who.token,
        UNBLOCK,
        json!({"s": st.to_string(), "seats": seats}),
    )
    .await
}

async fn lock(app: &TestApp, who: &TestUser, st: Uuid, seats: &[&str]) -> Gql {
    app.gql_as(
        &who.token,
        flow::LOCK,
        json!({"s": st.to_string(), "seats": seats}),
    )
    .await
}

/// `(seat, state, blockedReason)` of a map's only row.
fn seats(map: &Value) -> Vec<(String, String, Value)> {
    map["rows"][0]["seats"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            (
                s["number"].as_str().unwrap().to_owned(),
                s["state"].as_str().unwrap().to_owned(),
                s["blockedReason"].clone(),
            )
        })
        .collect()
}

fn state_of(map: &Value, seat: &str) -> (String, Value) {
    let (_, state, reason) = seats(map).into_iter().find(|(n, ..)| n == seat).unwrap();
    (state, reason)
}

async fn map_as(app: &TestApp, who: Option<&TestUser>, st: Uuid) -> Value {
    let vars = json!({"s": st.to_string()});
    let r = match who {
        Some(u) => app.gql_as(&u.token, MAP, vars).await,
        None => app.gql(MAP, vars).await,
    };
    r.data()["showtime"]["seatMap"].clone()
}

/// What Postgres has: the showtime's list and the blocks in force with their reasons.
async fn in_postgres(app: &TestApp, st: Uuid) -> (Vec<String>, Vec<(String, String)>) {
    use diesel::{ExpressionMethods, QueryDsl};
    use screema::db::schema::{seat_blocks, showtimes};
    let mut conn = app.conn().await;
    let list: Vec<Option<String>> = showtimes::table
        .find(st)
        .select(showtimes::blocked_seats)
        .first(&mut conn)
        .await
        .unwrap();
    let mut rows: Vec<(String, String)> = seat_blocks::table
        .filter(seat_blocks::showtime_id.eq(st))
        .filter(seat_blocks::unblocked_at.is_null())
        .select((seat_blocks::seat_number, seat_blocks::reason))
        .load(&mut conn)
        .await
        .unwrap();
    rows.sort();
    (list.into_iter().flatten().collect(), rows)
}

#[tokio::test]
async fn a_block_shows_live_on_every_node_refuses_holds_and_an_unblock_gives_the_seat_back() {
    let app = TestApp::new().await;
    let other = app.another_node().build().await;
    let st = showtime(&app).await;
    let operator = app.with_user(Role::Operator).await;
    let admin = app.with_user(Role::Admin).await;
    let customer = app.with_user(Role::Customer).await;

    // A customer watches the map on the other node; so does an operator.
    let mut watcher = WsClient::connect(other.addr, false, Some(&customer.token)).await;
    watcher
        .subscribe("m", SUBSCRIPTION, json!({"s": st.to_string()}))
        .await;
    let first = watcher.next_data().await["seatMap"].clone();
    assert_eq!(first["availableSeats"], 8);
    let mut staff = WsClient::connect(other.addr, true, Some(&operator.token)).await;
    staff
        .subscribe("m", SUBSCRIPTION, json!({"s": st.to_string()}))
        .await;
    staff.next_data().await;

    let r = block(&app, &operator, st, &["A2", "A3"], "  Broken armrest ").await;
    let map = &r.data()["blockSeats"];
    assert_eq!(
        state_of(map, "A2"),
        ("BLOCKED".to_owned(), json!("Broken armrest"))
    );
    assert_eq!(state_of(map, "A1"), ("AVAILABLE".to_owned(), Value::Null));

    // Live, on the other node, as one change.
    let event = watcher.next_data().await["seatMap"].clone();
    assert_eq!(
        changes(&event),
        [pair("A2", "BLOCKED"), pair("A3", "BLOCKED")]
    );
    assert_eq!(event["availableSeats"], 6);
    assert_eq!(event["version"], first["version"].as_i64().unwrap() + 1);
    let event = staff.next_data().await["seatMap"].clone();
    assert_eq!(
        changes(&event),
        [pair("A2", "BLOCKED"), pair("A3", "BLOCKED")]
    );

    // Queries on either node; the reason for staff only.
    for node in [&app, &other] {
        let as_customer = map_as(node, Some(&customer), st).await;
        assert_eq!(
            state_of(&as_customer, "A3"),
            ("BLOCKED".to_owned(), Value::Null)
        );
        let anonymous = map_as(node, None, st).await;
        assert_eq!(
            state_of(&anonymous, "A3"),
            ("BLOCKED".to_owned(), Value::Null)
        );
        let as_admin = map_as(node, Some(&admin), st).await;
        assert_eq!(
            state_of(&as_admin, "A3"),
            ("BLOCKED".to_owned(), json!("Broken armrest"))
        );
    }
    // A new subscriber's snapshot: the reason for staff, not for a customer.
    let mut late = WsClient::connect(app.addr, false, Some(&customer.token)).await;
    late.subscribe("m", SUBSCRIPTION, json!({"s": st.to_string()}))
        .await;
    let snap = late.next_data().await["seatMap"]["snapshot"].clone();
    assert_eq!(state_of(&snap, "A2"), ("BLOCKED".to_owned(), Value::Null));
    let mut late_staff = WsClient::connect(app.addr, true, Some(&admin.token)).await;
    late_staff
        .subscribe("m", SUBSCRIPTION, json!({"s": st.to_string()}))
        .await;
    let snap = late_staff.next_data().await["seatMap"]["snapshot"].clone();
    assert_eq!(
        state_of(&snap, "A2"),
        ("BLOCKED".to_owned(), json!("Broken armrest"))
    );

    // Nobody can hold it, on either node, alone or with a free seat; nor sell it at
    // the counter.
    for node in [&app, &other] {
        let r = lock(node, &customer, st, &["A1", "A2"]).await;
        assert_eq!(r.code(), "SEATS_UNAVAILABLE");
        assert_eq!(r.error()["extensions"]["seats"], json!(["A2"]));
    }
    let r = app
        .gql_as(
            &operator.token,
            "mutation($i: SellAtCounterInput!) { sellAtCounter(input: $i) { id } }",
            json!({"i": {"showtimeId": st.to_string(), "payment": "CASH",
                   "tickets": [{"seatNumber": "A3", "ticketType": "ADULT"}]}}),
        )
        .await;
    assert_eq!(r.code(), "SEATS_UNAVAILABLE");
    assert_eq!(r.error()["extensions"]["seats"], json!(["A3"]));
    assert_eq!(
        in_postgres(&app, st).await,
        (
            vec!["A2".to_owned(), "A3".to_owned()],
            vec![
                ("A2".to_owned(), "Broken armrest".to_owned()),
                ("A3".to_owned(), "Broken armrest".to_owned())
            ]
        )
    );

    // Blocking again replaces the reason; an admin may do it too.
    let r = block(&app, &admin, st, &["A3"], "Camera position").await;
    assert_eq!(
        state_of(&r.data()["blockSeats"], "A3"),
        ("BLOCKED".to_owned(), json!("Camera position"))
    );

    // Unblocked on this node: available at once, live on the other.
    let r = unblock(&app, &operator, st, &["A2"]).await;
    assert_eq!(
        state_of(&r.data()["unblockSeats"], "A2"),
        ("AVAILABLE".to_owned(), Value::Null)
    );
    let event = watcher.next_data().await["seatMap"].clone();
    assert_eq!(changes(&event), [pair("A2", "AVAILABLE")]);
    assert_eq!(event["availableSeats"], 7);
    let held = lock(&other, &customer, st, &["A2"]).await;
    assert!(held.data()["lockSeats"]["lockToken"].is_string());
    assert_eq!(
        in_postgres(&app, st).await,
        (
            vec!["A3".to_owned()],
            vec![("A3".to_owned(), "Camera position".to_owned())]
        )
    );
}

#[tokio::test]
async fn blocking_a_held_or_sold_seat_is_a_conflict_naming_it_and_changes_nothing() {
    let app = TestApp::new().await;
    let st = showtime(&app).await;
    let operator = app.with_user(Role::Operator).await;
    let customer = app.with_user(Role::Customer).await;
    lock(&app, &customer, st, &["A1"]).await.data();
    flow::book(&app, &customer, st, &["A5"]).await;

    for (asked, named) in [
        (vec!["A4", "A1"], "A1"),
        (vec!["A5", "A6"], "A5"),
        (vec!["A1", "A5", "A7"], "A1, A5"),
    ] {
        let r = block(&app, &operator, st, &asked, "Reserved for the press").await;
        assert_eq!(r.code(), "CONFLICT", "{asked:?}");
        let message = r.error()["message"].as_str().unwrap();
        assert!(message.contains(named), "{message}");
        assert_eq!(r.field(), Some("seatNumbers"));
    }
    assert_eq!(in_postgres(&app, st).await, (vec![], vec![]));
    let map = map_as(&app, Some(&operator), st).await;
    for seat in ["A4", "A6", "A7"] {
        assert_eq!(state_of(&map, seat).0, "AVAILABLE", "{seat}");
    }
    assert_eq!(state_of(&map, "A1").0, "HELD");
    assert_eq!(state_of(&map, "A5").0, "BOOKED");
    // Nothing blocked in Redis either: the free seats can still be held.
    lock(&app, &customer, st, &["A4", "A6", "A7"]).await.data();
}

#[tokio::test]
async fn bad_input_names_its_field_and_blocks_nothing() {
    let app = TestApp::new().await;
    let st = showtime(&app).await;
    let operator = app.with_user(Role::Operator).await;
    let long = "x".repeat(201);
    for (seats, reason, field) in [
        (vec!["A9"], "Broken", "seatNumbers"),
        (vec!["A1", "A1"], "Broken", "seatNumbers"),
        (vec![], "Broken", "seatNumbers"),
        (vec!["A1"], "", "reason"),
        (vec!["A1"], "   ", "reason"),
        (vec!["A1"], "two\nlines", "reason"),
        (vec!["A1"], long.as_str(), "reason"),
    ] {
        let r = block(&app, &operator, st, &seats, reason).await;
        assert_eq!(r.code(), "BAD_USER_INPUT", "{seats:?} {reason:?}");
        assert_eq!(r.field(), Some(field), "{seats:?} {reason:?}");
    }
    let r = block(&app, &operator, st, &["A1"], &"é".repeat(200)).await;
    r.data();
    // Unblocking a seat that is not blocked: refused whole.
    let r = unblock(&app, &operator, st, &["A1", "A2"]).await;
    assert_eq!(r.code(), "BAD_USER_INPUT");
    assert_eq!(r.field(), Some("seatNumbers"));
    assert!(r.error()["message"].as_str().unwrap().contains("A2"));
    assert_eq!(in_postgres(&app, st).await.0, vec!["A1".to_owned()]);

    // Unknown, cancelled and ended showtimes.
    let r = block(&app, &operator, Uuid::new_v4(), &["A1"], "Broken").await;
    assert_eq!(r.field(), Some("showtimeId"));
    let mut conn = app.conn().await;
    let ended = fx::one_row_showtime(&mut conn, 4, &[], app.app.now() - Duration::hours(5)).await;
    let cancelled = showtime(&app).await;
    diesel::sql_query("UPDATE showtimes SET status = 'cancelled' WHERE id = $1")
        .bind::<diesel::sql_types::Uuid, _>(cancelled)
        .execute(&mut conn)
        .await
        .unwrap();
    drop(conn);
    for st in [ended, cancelled] {
        let r = block(&app, &operator, st, &["A1"], "Broken").await;
        assert_eq!(r.code(), "BAD_USER_INPUT");
        assert_eq!(r.field(), Some("showtimeId"));
        let r = unblock(&app, &operator, st, &["A1"]).await;
        assert_eq!(r.field(), Some("showtimeId"));
    }
}

/// Customers hammer `lockSeats` while an operator blocks the same seats, seat by seat:
/// each seat ends held or blocked, never both, and Postgres and the map agree.
#[tokio::test]
async fn a_hold_racing_a_block_never_ends_with_both() {
    let app = TestApp::builder()
        .env("MAX_SEATS_PER_USER", "40")
        .build()
        .await;
    let start = app.app.now() + Duration::days(1);
    let st = fx::one_row_showtime(&mut *app.conn().await, 40, &[], start).await;
    let operator = app.with_user(Role::Operator).await;
    let customers = [
        app.with_user(Role::Customer).await,
        app.with_user(Role::Customer).await,
    ];
    let seats: Vec<String> = (1..=40).map(|n| format!("A{n}")).collect();
    // Every seat gets a block and two holds at once.
    let mut outcomes = Vec::new();
    for seat in &seats {
        let s = [seat.as_str()];
        let (blocked, held_a, held_b) = tokio::join!(
            block(&app, &operator, st, &s, "Race"),
            lock(&app, &customers[0], st, &s),
            lock(&app, &customers[1], st, &s),
        );
        for r in [&held_a, &held_b] {
            if !r.body["errors"].is_null() {
                assert_eq!(r.code(), "SEATS_UNAVAILABLE", "{}", r.body);
            }
        }
        if !blocked.body["errors"].is_null() {
            assert_eq!(blocked.code(), "CONFLICT", "{}", blocked.body);
        }
        let holds = [&held_a, &held_b]
            .iter()
            .filter(|r| r.body["errors"].is_null())
            .count();
        let was_blocked = blocked.body["errors"].is_null();
        assert_eq!(
            holds + usize::from(was_blocked),
            1,
            "{seat}: exactly one of the block and the holds"
        );
        outcomes.push((seat.clone(), was_blocked));
    }
    let (list, _) = in_postgres(&app, st).await;
    let map = map_as(&app, Some(&operator), st).await;
    for (seat, was_blocked) in &outcomes {
        assert_eq!(list.contains(seat), *was_blocked, "{seat} in Postgres");
        let expected = if *was_blocked { "BLOCKED" } else { "HELD" };
        assert_eq!(state_of(&map, seat).0, expected, "{seat} on the map");
    }
}

/// Redis loses every key of the showtime: the blocked seats come back from Postgres
/// before the next hold is decided, and the map still shows them.
#[tokio::test]
async fn after_redis_lost_the_showtime_blocked_seats_are_still_refused() {
    let app = TestApp::new().await;
    let st = showtime(&app).await;
    let operator = app.with_user(Role::Operator).await;
    let customer = app.with_user(Role::Customer).await;
    block(&app, &operator, st, &["A4"], "Wheelchair space")
        .await
        .data();
    let mut watcher = WsClient::connect(app.addr, false, None).await;
    watcher
        .subscribe("m", SUBSCRIPTION, json!({"s": st.to_string()}))
        .await;
    watcher.next_data().await;

    let redis = app.redis().await;
    let tag = format!("{}:seat:{{{st}}}:", app.prefix);
    for part in [
        "holds", "locks", "expiry", "booked", "version", "epoch", "blocked",
    ] {
        let _: i64 = fred::prelude::KeysInterface::del(&redis, format!("{tag}{part}"))
            .await
            .unwrap();
    }
    let map = map_as(&app, None, st).await;
    assert_eq!(state_of(&map, "A4").0, "BLOCKED");
    let r = lock(&app, &customer, st, &["A3", "A4"]).await;
    assert_eq!(r.code(), "SEATS_UNAVAILABLE");
    assert_eq!(r.error()["extensions"]["seats"], json!(["A4"]));
    lock(&app, &customer, st, &["A3"]).await.data();
    // The live map starts again from a snapshot that still has the seat blocked.
    let snapshot = loop {
        let event = watcher.next_data().await["seatMap"].clone();
        if !event["snapshot"].is_null() {
            break event["snapshot"].clone();
        }
    };
    assert_eq!(state_of(&snapshot, "A4").0, "BLOCKED");
    // Unblocking still reaches Redis after the rebuild.
    unblock(&app, &operator, st, &["A4"]).await.data();
    lock(&app, &customer, st, &["A4"]).await.data();
}

/// Redis is wrong (the seat was blocked straight in Postgres after the hold): Postgres
/// refuses the sale in its own transaction, naming the seat, and writes no booking.
#[tokio::test]
async fn postgres_refuses_the_sale_of_a_blocked_seat_whatever_redis_says() {
    let app = TestApp::new().await;
    let st = showtime(&app).await;
    let customer = app.with_user(Role::Customer).await;
    let token = flow::lock(&app, &customer, st, &["A2", "A3"]).await;
    diesel::sql_query("UPDATE showtimes SET blocked_seats = '{A3}' WHERE id = $1")
        .bind::<diesel::sql_types::Uuid, _>(st)
        .execute(&mut app.conn().await)
        .await
        .unwrap();
    let r = flow::create_booking(&app, &customer, st, &["A2", "A3"], &token, json!([])).await;
    assert_eq!(r.code(), "SEATS_UNAVAILABLE", "{}", r.body);
    assert_eq!(r.error()["extensions"]["seats"], json!(["A3"]));
    assert_eq!(flow::count(&app, "bookings").await, 0);
    assert_eq!(flow::count(&app, "booking_seats").await, 0);
}
