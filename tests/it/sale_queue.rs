//! The fair queue of an on-sale through the API: the sale's settings and their checks,
//! an order drawn at random at opening for those who came early and the back of the
//! line for the others, letting in at the rate, holds and bookings refused `QUEUED`
//! (with the position) to anyone not let in, live positions that only go down across
//! two nodes, and nobody let in twice when two nodes admit at once.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::best_seats::showtime;
use crate::common;

use std::collections::BTreeSet;

use chrono::{DateTime, Duration, Utc};
use common::flow::{LOCK, create_booking};
use common::ws::WsClient;
use common::{Gql, TestApp, TestUser};
use screema::db::enums::Role;
use serde_json::{Value, json};
use uuid::Uuid;

const UPDATE: &str = "mutation($id: ID!, $i: UpdateShowtimeInput!) { updateShowtime(id: $id, input: $i) \
    { id onSaleAt queue queueRate } }";
const JOIN: &str = "mutation($s: ID!) { joinSaleQueue(showtimeId: $s) { showtimeId status position \
    estimatedWaitSeconds ratePerMinute soldOut opensAt admittedUntil } }";
const BEST: &str =
    "mutation($s: ID!) { holdBestAvailable(input: {showtimeId: $s, count: 2}) { lockToken } }";
const POSITION: &str = "subscription($s: ID!) { saleQueuePosition(showtimeId: $s) { status position \
    estimatedWaitSeconds admittedUntil } }";
const POSITION_SOLD_OUT: &str =
    "subscription($s: ID!) { saleQueuePosition(showtimeId: $s) { status position soldOut } }";

fn at(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

/// Times are answered to the second.
fn whole(t: DateTime<Utc>) -> DateTime<Utc> {
    use chrono::DurationRound;
    t.duration_trunc(Duration::seconds(1)).unwrap()
}

/// A showtime a day away whose sale opens in an hour, queued, `rate` buyers a minute.
async fn queued(app: &TestApp, admin: &TestUser, rate: i32) -> (Uuid, DateTime<Utc>) {
    let st = showtime(app, &["oooooooooo", "oooooooooo"]).await;
    let opens = whole(app.app.now() + Duration::hours(1));
    let r = app
        .gql_as(
            &admin.token,
            UPDATE,
            json!({"id": st.to_string(), "i": {"onSaleAt": at(opens), "queue": true, "queueRate": rate}}),
        )
        .await;
    let updated = &r.data()["updateShowtime"];
    assert_eq!(updated["queue"], true);
    assert_eq!(updated["queueRate"], rate);
    (st, opens)
}

/// A server whose clock moves only when told, set on a whole second (times are
/// answered to the second).
async fn clocked() -> (TestApp, std::sync::Arc<screema::clock::ManualClock>) {
    let (builder, clock) = TestApp::clocked();
    let app = builder.build().await;
    clock.set(whole(app.app.now()));
    (app, clock)
}

async fn join(app: &TestApp, user: &TestUser, st: Uuid) -> Value {
    app.gql_as(&user.token, JOIN, json!({"s": st.to_string()}))
        .await
        .data()["joinSaleQueue"]
        .clone()
}

async fn lock(app: &TestApp, user: &TestUser, st: Uuid, seats: &[&str]) -> Gql {
    app.gql_as(
        &user.token,
        LOCK,
        json!({"s": st.to_string(), "seats": seats}),
    )
    .await
}

async fn customers(app: &TestApp, n: usize) -> Vec<TestUser> {
    let mut users = Vec::with_capacity(n);
    for _ in 0..n {
        users.push(app.with_user(Role::Customer).await);
    }
    users
}

fn position(standing: &Value) -> Option<i64> {
    standing["position"].as_i64()
}

#[tokio::test]
async fn the_sales_settings_are_set_and_checked_by_create_and_update() {
    let app = TestApp::new().await;
    let admin = app.with_user(Role::Admin).await;
    let st = showtime(&app, &["oooo"]).await;
    let start = app.app.now() + Duration::days(1);
    let id = st.to_string();
    let cases = [
        (
            json!({"onSaleAt": at(start + Duration::hours(1))}),
            "onSaleAt",
        ),
        (json!({"queue": true}), "queue"),
        (
            json!({"onSaleAt": at(app.app.now()), "queue": true, "queueRate": 0}),
            "queueRate",
        ),
        (json!({"queueRate": 100_001}), "queueRate"),
    ];
    for (input, field) in cases {
        let r = app
            .gql_as(&admin.token, UPDATE, json!({"id": id, "i": input}))
            .await;
        assert_eq!(
            (r.code(), r.field()),
            ("BAD_USER_INPUT", Some(field)),
            "{input}"
        );
    }
    let r = app
        .gql(
            "query($id: ID!) { showtime(id: $id) { onSaleAt queue queueRate } }",
            json!({"id": id}),
        )
        .await;
    // Nothing was written; the rate shown is the server's default.
    assert_eq!(
        r.data()["showtime"],
        json!({"onSaleAt": null, "queue": false, "queueRate": 600})
    );

    // A sale that opens later, without a queue: customers wait for it, the box office
    // does not.
    let opens = app.app.now() + Duration::hours(2);
    app.gql_as(
        &admin.token,
        UPDATE,
        json!({"id": id, "i": {"onSaleAt": at(opens)}}),
    )
    .await
    .data();
    let customer = app.with_user(Role::Customer).await;
    let r = lock(&app, &customer, st, &["A1"]).await;
    assert_eq!(
        (r.code(), r.field()),
        ("BAD_USER_INPUT", Some("showtimeId"))
    );
    assert!(
        r.error()["message"]
            .as_str()
            .unwrap()
            .contains("goes on sale")
    );
    let r = app.gql_as(&customer.token, JOIN, json!({"s": id})).await;
    assert_eq!(
        (r.code(), r.field()),
        ("BAD_USER_INPUT", Some("showtimeId"))
    );
    let operator = app.with_user(Role::Operator).await;
    let r = app
        .gql_as(
            &operator.token,
            "mutation($s: ID!) { sellAtCounter(input: {showtimeId: $s, tickets: [{seatNumber: \"A1\", ticketType: \"ADULT\"}], payment: CASH}) { status } }",
            json!({"s": id}),
        )
        .await;
    assert_eq!(r.data()["sellAtCounter"]["status"], "CONFIRMED");

    // `null` clears; a created showtime takes the settings too.
    let r = app
        .gql_as(
            &admin.token,
            UPDATE,
            json!({"id": id, "i": {"onSaleAt": null}}),
        )
        .await;
    assert_eq!(r.data()["updateShowtime"]["onSaleAt"], Value::Null);
    lock(&app, &customer, st, &["A2"]).await.data();

    let mut conn = app.conn().await;
    let movie = common::fixtures::movie(&mut conn, Default::default()).await;
    let theater = common::fixtures::theater(&mut conn, "Queue", "UTC").await;
    let screen =
        common::fixtures::screen(&mut conn, theater, 1, crate::best_seats::room(&["o"])).await;
    let r = app
        .gql_as(
            &admin.token,
            "mutation($i: CreateShowtimeInput!) { createShowtime(input: $i) { onSaleAt queue queueRate } }",
            json!({"i": {"movieId": movie, "screenId": screen, "startTime": at(start), "basePrice": "9",
                "onSaleAt": at(opens), "queue": true, "queueRate": 120}}),
        )
        .await;
    assert_eq!(
        r.data()["createShowtime"],
        json!({"onSaleAt": at(opens), "queue": true, "queueRate": 120})
    );
}

#[tokio::test]
async fn early_buyers_are_drawn_at_random_let_in_at_the_rate_and_the_rest_refused_queued() {
    let (app, clock) = clocked().await;
    let admin = app.with_user(Role::Admin).await;
    // 600 a minute: ten a second.
    let (st, opens) = queued(&app, &admin, 600).await;
    let buyers = customers(&app, 15).await;
    for buyer in &buyers {
        let standing = join(&app, buyer, st).await;
        assert_eq!(standing["status"], "BEFORE_OPENING", "{standing}");
        assert_eq!(standing["position"], Value::Null);
        assert_eq!(standing["opensAt"], at(opens));
        assert_eq!(standing["estimatedWaitSeconds"], 3600);
    }
    // Asking for seats before the opening: QUEUED, no position yet.
    let r = lock(&app, &buyers[0], st, &["A1"]).await;
    assert_eq!(r.code(), "QUEUED", "{}", r.body);
    assert_eq!(r.error()["extensions"]["position"], Value::Null);
    assert_eq!(r.error()["extensions"]["opensAt"], at(opens));

    // The opening draws the order; nobody is let in until the rate has earned it.
    clock.set(opens);
    screema::sale_queue::admit_all(&app.app).await.unwrap();
    let mut drawn = Vec::new();
    for buyer in &buyers {
        let standing = join(&app, buyer, st).await;
        assert_eq!(standing["status"], "WAITING", "{standing}");
        drawn.push(position(&standing).unwrap());
    }
    let mut sorted = drawn.clone();
    sorted.sort();
    assert_eq!(sorted, (1..=15).collect::<Vec<i64>>(), "one place each");
    assert_ne!(
        drawn, sorted,
        "arriving first gave no edge (1 chance in 15!)"
    );

    // A latecomer goes to the back.
    let late = app.with_user(Role::Customer).await;
    let standing = join(&app, &late, st).await;
    assert_eq!(position(&standing), Some(16));
    assert_eq!(standing["estimatedWaitSeconds"], 2, "16 at ten a second");

    // A second at ten a second lets in the first ten.
    clock.advance(Duration::seconds(1));
    screema::sale_queue::admit_all(&app.app).await.unwrap();
    for (buyer, was) in buyers.iter().zip(&drawn) {
        let standing = join(&app, buyer, st).await;
        if *was <= 10 {
            assert_eq!(standing["status"], "ADMITTED", "{standing}");
            assert_eq!(
                standing["admittedUntil"],
                at(opens + Duration::seconds(1) + Duration::minutes(5))
            );
        } else {
            assert_eq!(position(&standing), Some(was - 10), "{standing}");
        }
    }

    // The others are refused QUEUED with their position, whatever they ask.
    let (first, waiting) = {
        let admitted = drawn.iter().position(|p| *p == 1).unwrap();
        let waiting = drawn.iter().position(|p| *p == 11).unwrap();
        (&buyers[admitted], &buyers[waiting])
    };
    let r = lock(&app, waiting, st, &["A1"]).await;
    assert_eq!(r.code(), "QUEUED");
    assert_eq!(r.error()["extensions"]["position"], 1);
    let r = app
        .gql_as(&waiting.token, BEST, json!({"s": st.to_string()}))
        .await;
    assert_eq!(
        (r.code(), &r.error()["extensions"]["position"]),
        ("QUEUED", &json!(1))
    );
    let r = create_booking(&app, waiting, st, &["A1"], "made-up", json!([])).await;
    assert_eq!(r.code(), "QUEUED");

    // One let in holds, and books after their window has passed (the hold runs its own
    // ten minutes).
    let token = lock(&app, first, st, &["A1", "A2"]).await.data()["lockSeats"]["lockToken"]
        .as_str()
        .unwrap()
        .to_owned();
    clock.advance(Duration::minutes(6));
    let r = create_booking(&app, first, st, &["A1", "A2"], &token, json!([])).await;
    assert_eq!(r.data()["createBooking"]["booking"]["status"], "PENDING");
    // Asking for more after the window: back in the queue, at the back.
    let r = lock(&app, first, st, &["A3"]).await;
    assert_eq!(r.code(), "QUEUED");
    assert!(r.error()["extensions"]["position"].as_i64().unwrap() >= 1);
}

#[tokio::test]
async fn positions_go_down_live_on_another_node_until_the_buyer_is_let_in() {
    let (app, clock) = clocked().await;
    let other = app.another_node().clock(clock.clone()).build().await;
    let admin = app.with_user(Role::Admin).await;
    let (st, opens) = queued(&app, &admin, 600).await;
    let buyers = customers(&app, 4).await;
    for buyer in &buyers {
        join(&app, buyer, st).await;
    }
    let watcher = &buyers[3];
    let mut ws = WsClient::connect(other.addr, false, Some(&watcher.token)).await;
    ws.subscribe("q", POSITION, json!({"s": st.to_string()}))
        .await;
    let first = ws.next_data().await;
    assert_eq!(first["saleQueuePosition"]["status"], "BEFORE_OPENING");

    clock.set(opens);
    screema::sale_queue::admit_all(&app.app).await.unwrap();
    let mut seen: Vec<i64> = Vec::new();
    let admitted = loop {
        let event = ws.next_data().await["saleQueuePosition"].clone();
        if event["status"] == "ADMITTED" {
            break event;
        }
        assert_eq!(event["status"], "WAITING", "{event}");
        let p = position(&event).unwrap();
        assert!(
            seen.last().is_none_or(|last| p < *last),
            "{seen:?} then {p}"
        );
        assert_eq!(event["estimatedWaitSeconds"], (p * 60 + 599) / 600);
        seen.push(p);
        // A tenth of a second lets one more in, on the first node.
        clock.advance(Duration::milliseconds(100));
        screema::sale_queue::admit_all(&app.app).await.unwrap();
    };
    assert!(!seen.is_empty());
    assert!(admitted["admittedUntil"].is_string(), "{admitted}");
    let complete = ws.receive().await;
    assert_eq!(complete["type"], "complete", "{complete}");

    // Someone not in the queue cannot follow it.
    let stranger = app.with_user(Role::Customer).await;
    let mut ws = WsClient::connect(other.addr, false, Some(&stranger.token)).await;
    ws.subscribe("q", POSITION, json!({"s": st.to_string()}))
        .await;
    let refused = ws.receive().await;
    assert_eq!(
        refused["payload"]["errors"][0]["extensions"]["field"], "showtimeId",
        "{refused}"
    );
}

#[tokio::test]
async fn two_nodes_admitting_at_once_let_everyone_in_once_in_order() {
    let (app, clock) = clocked().await;
    let other = app.another_node().clock(clock.clone()).build().await;
    let admin = app.with_user(Role::Admin).await;
    let (st, opens) = queued(&app, &admin, 600).await;
    clock.set(opens);
    screema::sale_queue::admit_all(&app.app).await.unwrap();

    // Sixty join at once after the opening: sixty places, one each.
    let buyers = customers(&app, 60).await;
    let joined = futures_util::future::join_all(buyers.iter().map(|b| join(&app, b, st))).await;
    let places: BTreeSet<i64> = joined.iter().filter_map(position).collect();
    assert_eq!(places, (1..=60).collect());

    let admit = screema::sale_queue::line::admit;
    let expire = opens + Duration::days(2);
    let mut let_in = 0;
    for _ in 0..12 {
        clock.advance(Duration::milliseconds(500));
        let (a, b) = tokio::join!(
            admit(&app.app, st, 20, 600, expire),
            admit(&other.app, st, 20, 600, expire)
        );
        for run in [a.unwrap(), b.unwrap()] {
            let_in += run.let_in;
        }
    }
    assert_eq!(let_in, 60, "each let in once");
    for (buyer, standing) in buyers.iter().zip(&joined) {
        let now = join(&app, buyer, st).await;
        assert_eq!(now["status"], "ADMITTED", "{standing} → {now}");
    }
}

#[tokio::test]
async fn joining_needs_a_queued_showtime_and_a_sign_in() {
    let app = TestApp::new().await;
    let customer = app.with_user(Role::Customer).await;
    let r = app
        .gql(JOIN, json!({"s": Uuid::new_v4().to_string()}))
        .await;
    assert_eq!(r.code(), "UNAUTHENTICATED");
    for s in ["nope".to_owned(), Uuid::new_v4().to_string()] {
        let r = app.gql_as(&customer.token, JOIN, json!({"s": s})).await;
        assert_eq!(
            (r.code(), r.field()),
            ("BAD_USER_INPUT", Some("showtimeId")),
            "{s}"
        );
    }
    let plain = showtime(&app, &["oo"]).await;
    let r = app
        .gql_as(&customer.token, JOIN, json!({"s": plain.to_string()}))
        .await;
    assert_eq!(
        (r.code(), r.field()),
        ("BAD_USER_INPUT", Some("showtimeId"))
    );
    // Holds on a showtime without a queue are as before.
    lock(&app, &customer, plain, &["A1"]).await.data();
}

#[tokio::test]
async fn nobody_is_let_in_while_no_seat_is_free_and_the_line_moves_when_one_is() {
    let (app, clock) = clocked().await;
    let admin = app.with_user(Role::Admin).await;
    let st = showtime(&app, &["oo"]).await;
    let opens = whole(app.app.now() + Duration::minutes(1));
    app.gql_as(
        &admin.token,
        UPDATE,
        json!({"id": st.to_string(), "i": {"onSaleAt": at(opens), "queue": true, "queueRate": 600}}),
    )
    .await
    .data();
    let buyers = customers(&app, 3).await;
    for buyer in &buyers {
        join(&app, buyer, st).await;
    }
    clock.set(opens);
    screema::sale_queue::admit_all(&app.app).await.unwrap();
    let mut order: Vec<(i64, &TestUser)> = Vec::new();
    for buyer in &buyers {
        order.push((position(&join(&app, buyer, st).await).unwrap(), buyer));
    }
    order.sort_by_key(|(p, _)| *p);
    let [(_, first), (_, second), (_, third)] = order[..] else {
        unreachable!()
    };

    // A second earns ten, but a room of two seats lets in two.
    clock.advance(Duration::seconds(1));
    screema::sale_queue::admit_all(&app.app).await.unwrap();
    assert_eq!(join(&app, second, st).await["status"], "ADMITTED");
    let waiting = join(&app, third, st).await;
    assert_eq!(
        (position(&waiting), &waiting["soldOut"]),
        (Some(1), &json!(false))
    );

    // Both seats held: the line stops, and says why, live.
    let mut ws = WsClient::connect(app.addr, false, Some(&third.token)).await;
    ws.subscribe("q", POSITION_SOLD_OUT, json!({"s": st.to_string()}))
        .await;
    assert_eq!(ws.next_data().await["saleQueuePosition"]["soldOut"], false);
    let held = lock(&app, first, st, &["A1"]).await.data()["lockSeats"]["lockToken"]
        .as_str()
        .unwrap()
        .to_owned();
    lock(&app, second, st, &["A2"]).await.data();
    clock.advance(Duration::seconds(10));
    screema::sale_queue::admit_all(&app.app).await.unwrap();
    let event = ws.next_data().await["saleQueuePosition"].clone();
    assert_eq!(
        (&event["status"], &event["soldOut"]),
        (&json!("WAITING"), &json!(true))
    );
    clock.advance(Duration::seconds(10));
    screema::sale_queue::admit_all(&app.app).await.unwrap();
    assert_eq!(join(&app, third, st).await["status"], "WAITING");

    // A seat comes back: the next buyer is let in.
    app.gql_as(
        &first.token,
        "mutation($t: String!) { releaseSeats(lockToken: $t) }",
        json!({"t": held}),
    )
    .await
    .data();
    clock.advance(Duration::seconds(1));
    screema::sale_queue::admit_all(&app.app).await.unwrap();
    let now = join(&app, third, st).await;
    assert_eq!(now["status"], "ADMITTED", "{now}");
    let mut last = ws.next_data().await["saleQueuePosition"].clone();
    while last["status"] != "ADMITTED" {
        last = ws.next_data().await["saleQueuePosition"].clone();
    }
    assert_eq!(last["soldOut"], false, "{last}");
    lock(&app, third, st, &["A1"]).await.data();
}
