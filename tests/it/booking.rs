//! Bookings through the public API: made from a hold with snacks at exact prices,
//! confirmed by the (simulated) payment, cancelled, expired, and never sold twice.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::common;

use chrono::Duration;
use common::fixtures as fx;
use common::flow::{self, book, create_booking, eventually, lock, status_of};
use common::ws::WsClient;
use common::{TestApp, TestUser};
use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use fred::prelude::*;
use screema::clock::Clock;
use screema::db::enums::Role;
use screema::db::schema::{bookings, notifications, outbox};
use serde_json::{Value, json};
use uuid::Uuid;

/// No payment confirms by itself within a test unless the test wants it to.
const NEVER: &str = "600000";

async fn app_with_payment_delay(ms: &str) -> TestApp {
    TestApp::builder()
        .env("SIMULATED_PAYMENT_DELAY_MS", ms)
        .build()
        .await
}

/// The small room (A1 A2 A3 standard/accessible, B1 B2 premium ×1.50, B3 couple ×2.00)
/// at 12.99 tomorrow.
async fn small_showtime(app: &TestApp) -> Uuid {
    let mut conn = app.conn().await;
    let theater = fx::theater(&mut conn, "Odeon", "UTC").await;
    let screen = fx::screen(&mut conn, theater, 1, fx::small_layout()).await;
    let movie = fx::movie(&mut conn, fx::MovieSpec::default()).await;
    fx::showtime(
        &mut conn,
        movie,
        screen,
        app.app.now() + Duration::days(1),
        "12.99",
    )
    .await
}

async fn booking_count(app: &TestApp) -> i64 {
    bookings::table
        .count()
        .get_result(&mut app.conn().await)
        .await
        .unwrap()
}

async fn state_of(app: &TestApp, showtime: Uuid, seat: &str) -> String {
    flow::seat_states(app, showtime)
        .await
        .into_iter()
        .find(|(n, _)| n == seat)
        .unwrap()
        .1
}

#[tokio::test]
async fn a_booking_costs_exactly_its_seats_and_snacks_and_is_confirmed_by_payment() {
    let app = app_with_payment_delay("100").await;
    let showtime = small_showtime(&app).await;
    let (popcorn, cola) = {
        let mut conn = app.conn().await;
        (
            fx::snack(&mut conn, "Popcorn", "food", "6.75", true).await,
            fx::snack(&mut conn, "Cola", "drink", "3.20", true).await,
        )
    };
    let user = app.with_user(Role::Customer).await;
    let mut ws = WsClient::connect(app.addr, false, None).await;
    ws.subscribe(
        "m",
        "subscription($s: ID!) { seatMap(showtimeId: $s) { version snapshot { version } changes { number state } } }",
        json!({"s": showtime.to_string()}),
    )
    .await;
    let first = ws.next_data().await;
    let v0 = first["seatMap"]["version"].as_i64().unwrap();

    let token = lock(&app, &user, showtime, &["A1", "B1", "B3"]).await;
    let held = ws.next_data().await;
    assert_eq!(held["seatMap"]["version"].as_i64().unwrap(), v0 + 1);

    let r = create_booking(
        &app,
        &user,
        showtime,
        &["B3", "A1", "B1"],
        &token,
        json!([{"snackId": popcorn.to_string(), "quantity": 2}, {"snackId": cola.to_string(), "quantity": 3}]),
    )
    .await;
    let created = &r.data()["createBooking"];
    let b = &created["booking"];
    assert_eq!(b["status"], "PENDING");
    // 12.99 + 19.485→19.49 + 25.98 = 58.46 for the seats; 13.50 + 9.60 for the snacks.
    assert_eq!(
        b["totalAmount"],
        json!({"amount": "81.56", "currency": "USD"})
    );
    assert_eq!(b["discountAmount"]["amount"], "0.00");
    assert_eq!(b["finalAmount"]["amount"], "81.56");
    let snacks: Vec<(String, i64, String, String)> = b["snacks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            (
                s["snack"]["name"].as_str().unwrap().to_owned(),
                s["quantity"].as_i64().unwrap(),
                s["unitPrice"]["amount"].as_str().unwrap().to_owned(),
                s["totalPrice"]["amount"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert_eq!(
        snacks,
        [
            ("Cola".into(), 3, "3.20".into(), "9.60".into()),
            ("Popcorn".into(), 2, "6.75".into(), "13.50".into())
        ]
    );
    let reference = b["bookingReference"].as_str().unwrap();
    assert_eq!(reference.len(), 8);
    assert!(
        reference
            .chars()
            .all(|c| c.is_ascii_alphanumeric() && !"ILOU".contains(c))
    );
    assert_eq!(b["showtime"]["id"], showtime.to_string());
    assert!(b["qrCode"].is_null());
    assert!(
        created["paymentClientSecret"]
            .as_str()
            .unwrap()
            .starts_with("pi_sim_")
    );
    let id = b["id"].as_str().unwrap().to_owned();

    // The hold became a booking: one event, BOOKED, the next version.
    let booked = ws.next_data().await;
    assert_eq!(booked["seatMap"]["version"].as_i64().unwrap(), v0 + 2);
    let mut changes: Vec<(String, String)> = booked["seatMap"]["changes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["number"].as_str().unwrap().into(),
                c["state"].as_str().unwrap().into(),
            )
        })
        .collect();
    changes.sort();
    assert_eq!(
        changes,
        [
            ("A1".into(), "BOOKED".into()),
            ("B1".into(), "BOOKED".into()),
            ("B3".into(), "BOOKED".into())
        ]
    );
    // The lock was used up: it can be neither extended nor released.
    let r = app
        .gql_as(
            &user.token,
            "mutation($t: String!) { releaseSeats(lockToken: $t) }",
            json!({"t": token}),
        )
        .await;
    assert_eq!(r.code(), "LOCK_EXPIRED");

    // The simulated gateway's signed webhook confirms it.
    eventually("confirmation", || async {
        status_of(&app, &user, &id).await == "CONFIRMED"
    })
    .await;
    let confirmed = flow::booking(&app, &user, &id).await;
    assert!(confirmed["qrCode"].as_str().unwrap().starts_with("T1."));
    assert!(
        confirmed["expiresAt"].is_null(),
        "a paid booking does not lapse"
    );
    // Confirming changed no seat, so no event was published for it.
    assert!(ws.maybe_next(300).await.is_none());

    let mut conn = app.conn().await;
    let titles: Vec<String> = notifications::table
        .filter(notifications::user_id.eq(user.id))
        .select(notifications::title)
        .load(&mut conn)
        .await
        .unwrap();
    assert_eq!(titles, ["Booking confirmed"]);
    let mut kinds: Vec<String> = outbox::table
        .select(outbox::kind)
        .load(&mut conn)
        .await
        .unwrap();
    kinds.sort();
    // One seat change, the booking's own: confirming a pending booking changes no seat,
    // so it queues none (a late payment reviving an expired booking does).
    assert_eq!(kinds, ["email", "notify", "seats", "sms", "ticket_image"]);
}

#[tokio::test]
async fn every_bad_booking_request_is_refused_and_writes_nothing() {
    let app = app_with_payment_delay(NEVER).await;
    let showtime = small_showtime(&app).await;
    let (popcorn, sold_out) = {
        let mut conn = app.conn().await;
        (
            fx::snack(&mut conn, "Popcorn", "food", "6.75", true).await,
            fx::snack(&mut conn, "Nachos", "food", "5.00", false).await,
        )
    };
    let user = app.with_user(Role::Customer).await;
    let other = app.with_user(Role::Customer).await;
    let token = lock(&app, &user, showtime, &["A1", "A2"]).await;
    let others_token = lock(&app, &other, showtime, &["B2"]).await;
    let later = {
        let mut conn = app.conn().await;
        fx::one_row_showtime(&mut conn, 5, &[], app.app.now() + Duration::days(2)).await
    };
    let later_token = lock(&app, &user, later, &["A1"]).await;
    let snack = |id: Uuid, q: i32| json!([{"snackId": id.to_string(), "quantity": q}]);

    /// What is tried, on which showtime, seats, lock and snacks; the code and field.
    type Case<'a> = (
        &'a str,
        Uuid,
        Vec<&'a str>,
        String,
        Value,
        &'a str,
        Option<&'a str>,
    );
    let cases: Vec<Case> = vec![
        (
            "fewer seats than the lock",
            showtime,
            vec!["A1"],
            token.clone(),
            json!([]),
            "BAD_USER_INPUT",
            Some("seatNumbers"),
        ),
        (
            "other seats than the lock",
            showtime,
            vec!["A1", "A3"],
            token.clone(),
            json!([]),
            "BAD_USER_INPUT",
            Some("seatNumbers"),
        ),
        (
            "no seats",
            showtime,
            vec![],
            token.clone(),
            json!([]),
            "BAD_USER_INPUT",
            Some("seatNumbers"),
        ),
        (
            "a seat twice",
            showtime,
            vec!["A1", "A1"],
            token.clone(),
            json!([]),
            "BAD_USER_INPUT",
            Some("seatNumbers"),
        ),
        (
            "someone else's lock",
            showtime,
            vec!["B2"],
            others_token.clone(),
            json!([]),
            "FORBIDDEN",
            None,
        ),
        (
            "a lock of another showtime",
            showtime,
            vec!["A1"],
            later_token.clone(),
            json!([]),
            "BAD_USER_INPUT",
            Some("lockToken"),
        ),
        (
            "a made-up lock",
            showtime,
            vec!["A1", "A2"],
            format!("{}.AAAAAAAAAAAAAAAAAAAAAA", showtime.simple()),
            json!([]),
            "LOCK_EXPIRED",
            None,
        ),
        (
            "garbage for a lock",
            showtime,
            vec!["A1", "A2"],
            "nonsense".into(),
            json!([]),
            "BAD_USER_INPUT",
            Some("lockToken"),
        ),
        (
            "no snacks of zero",
            showtime,
            vec!["A1", "A2"],
            token.clone(),
            snack(popcorn, 0),
            "BAD_USER_INPUT",
            Some("snacks"),
        ),
        (
            "no more than 20 of a snack",
            showtime,
            vec!["A1", "A2"],
            token.clone(),
            snack(popcorn, 21),
            "BAD_USER_INPUT",
            Some("snacks"),
        ),
        (
            "an unknown snack",
            showtime,
            vec!["A1", "A2"],
            token.clone(),
            snack(Uuid::new_v4(), 1),
            "BAD_USER_INPUT",
            Some("snacks"),
        ),
        (
            "a snack not on sale",
            showtime,
            vec!["A1", "A2"],
            token.clone(),
            snack(sold_out, 1),
            "BAD_USER_INPUT",
            Some("snacks"),
        ),
        (
            "a snack listed twice",
            showtime,
            vec!["A1", "A2"],
            token.clone(),
            json!([{"snackId": popcorn.to_string(), "quantity": 1}, {"snackId": popcorn.to_string(), "quantity": 2}]),
            "BAD_USER_INPUT",
            Some("snacks"),
        ),
        (
            "a showtime that does not exist",
            Uuid::new_v4(),
            vec!["A1", "A2"],
            token.clone(),
            json!([]),
            "BAD_USER_INPUT",
            Some("showtimeId"),
        ),
    ];
    for (what, st, seats, tok, snacks, code, field) in cases {
        let r = create_booking(&app, &user, st, &seats, &tok, snacks).await;
        assert_eq!(r.code(), code, "{what}: {:#}", r.body);
        assert_eq!(r.field(), field, "{what}");
    }
    let r = app
        .gql_as(
            &user.token,
            &flow::create_booking_query(),
            json!({"s": "not-an-id", "seats": ["A1"], "t": token, "snacks": []}),
        )
        .await;
    assert_eq!(
        (r.code(), r.field()),
        ("BAD_USER_INPUT", Some("showtimeId"))
    );
    let r = app
        .gql_as(
            &user.token,
            &flow::create_booking_query(),
            json!({"s": showtime.to_string(), "seats": ["A1", "A2"], "t": token, "snacks": [{"snackId": "x", "quantity": 1}]}),
        )
        .await;
    assert_eq!((r.code(), r.field()), ("BAD_USER_INPUT", Some("snacks")));
    let r = app
        .gql(
            &flow::create_booking_query(),
            json!({"s": showtime.to_string(), "seats": ["A1", "A2"], "t": token, "snacks": []}),
        )
        .await;
    assert_eq!(r.code(), "UNAUTHENTICATED");
    assert_eq!(booking_count(&app).await, 0);
    // And the hold is still there to book with.
    let r = create_booking(&app, &user, showtime, &["A2", "A1"], &token, json!([])).await;
    assert_eq!(r.data()["createBooking"]["booking"]["status"], "PENDING");
    assert_eq!(booking_count(&app).await, 1);
}

#[tokio::test]
async fn a_lapsed_hold_cannot_be_booked() {
    let (builder, clock) = TestApp::clocked();
    let app = builder
        .env("HOLD_TTL_SECONDS", "60")
        .env("SIMULATED_PAYMENT_DELAY_MS", NEVER)
        .build()
        .await;
    let showtime = small_showtime(&app).await;
    let user = app.with_user(Role::Customer).await;
    let token = lock(&app, &user, showtime, &["A1"]).await;
    clock.advance(Duration::seconds(61));
    let r = create_booking(&app, &user, showtime, &["A1"], &token, json!([])).await;
    assert_eq!(r.code(), "LOCK_EXPIRED");
    assert_eq!(booking_count(&app).await, 0);
}

#[tokio::test]
async fn two_nodes_that_share_no_redis_still_sell_a_seat_once() {
    // Each node has its own Redis prefix: as if Redis forgot every hold between them.
    let a = app_with_payment_delay(NEVER).await;
    let b = a
        .node_with_own_redis()
        .env("SIMULATED_PAYMENT_DELAY_MS", NEVER)
        .build()
        .await;
    let showtime = small_showtime(&a).await;
    for round in 0..5 {
        let seat = ["A1", "A2", "A3", "B1", "B2"][round];
        let alice = a.with_user(Role::Customer).await;
        let bob = b.with_user(Role::Customer).await;
        let ta = lock(&a, &alice, showtime, &[seat]).await;
        let tb = lock(&b, &bob, showtime, &[seat]).await;
        let seats = [seat];
        let (ra, rb) = tokio::join!(
            create_booking(&a, &alice, showtime, &seats, &ta, json!([])),
            create_booking(&b, &bob, showtime, &seats, &tb, json!([])),
        );
        let outcomes = [&ra, &rb].map(|r| {
            if r.body.get("errors").is_some() {
                assert_eq!(r.code(), "SEATS_UNAVAILABLE", "{:#}", r.body);
                assert_eq!(r.error()["extensions"]["seats"], json!([seat]));
                false
            } else {
                true
            }
        });
        assert_eq!(
            outcomes.iter().filter(|ok| **ok).count(),
            1,
            "round {round}"
        );
    }
    assert_eq!(booking_count(&a).await, 5);
}

#[tokio::test]
async fn after_redis_loses_everything_booked_seats_are_still_taken() {
    let app = app_with_payment_delay(NEVER).await;
    let showtime = small_showtime(&app).await;
    let alice = app.with_user(Role::Customer).await;
    let bob = app.with_user(Role::Customer).await;
    book(&app, &alice, showtime, &["A1"]).await;
    let redis = app.redis().await;
    let keys: Vec<String> = redis
        .custom(fred::cmd!("KEYS"), vec![format!("{}:*", app.prefix)])
        .await
        .unwrap();
    let _: i64 = redis.del(keys).await.unwrap();
    let r = app
        .gql_as(
            &bob.token,
            flow::LOCK,
            json!({"s": showtime.to_string(), "seats": ["A1", "A2"]}),
        )
        .await;
    assert_eq!(r.code(), "SEATS_UNAVAILABLE");
    assert_eq!(r.error()["extensions"]["seats"], json!(["A1"]));
    assert_eq!(state_of(&app, showtime, "A1").await, "BOOKED");
}

#[tokio::test]
async fn the_owner_cancels_a_pending_booking_and_its_seats_come_back() {
    let app = app_with_payment_delay(NEVER).await;
    let showtime = small_showtime(&app).await;
    let user = app.with_user(Role::Customer).await;
    let other = app.with_user(Role::Customer).await;
    let created = book(&app, &user, showtime, &["A1", "A2"]).await;
    let id = created["booking"]["id"].as_str().unwrap().to_owned();
    assert_eq!(state_of(&app, showtime, "A1").await, "BOOKED");

    // To another customer the booking does not exist, as with an unknown id.
    assert_eq!(flow::cancel(&app, &other, &id).await.code(), "NOT_FOUND");
    let nobody = Uuid::new_v4().to_string();
    assert_eq!(flow::cancel(&app, &user, &nobody).await.code(), "NOT_FOUND");
    let r = flow::cancel(&app, &user, "x").await;
    assert_eq!((r.code(), r.field()), ("BAD_USER_INPUT", Some("id")));
    let r = flow::cancel(&app, &user, &id).await;
    assert_eq!(r.data()["cancelBooking"]["status"], "CANCELLED");
    assert_eq!(state_of(&app, showtime, "A1").await, "AVAILABLE");
    assert_eq!(state_of(&app, showtime, "A2").await, "AVAILABLE");
    assert_eq!(flow::cancel(&app, &user, &id).await.code(), "CONFLICT");
    // The seats can be held and booked again.
    let again = book(&app, &other, showtime, &["A1"]).await;
    assert_eq!(again["booking"]["status"], "PENDING");
}

#[tokio::test]
async fn an_unpaid_booking_expires_with_its_hold_and_frees_its_seats() {
    let (builder, clock) = TestApp::clocked();
    let app = builder
        .env("HOLD_TTL_SECONDS", "120")
        .env("SWEEP_INTERVAL_MS", "20")
        .env("SIMULATED_PAYMENT_DELAY_MS", NEVER)
        .build()
        .await;
    let showtime = small_showtime(&app).await;
    let user = app.with_user(Role::Customer).await;
    let created = book(&app, &user, showtime, &["B1", "B2"]).await;
    let id = created["booking"]["id"].as_str().unwrap().to_owned();
    let expires = created["booking"]["expiresAt"].as_str().unwrap().to_owned();
    let expires: chrono::DateTime<chrono::Utc> = expires.parse().unwrap();
    assert!(expires > clock.now() && expires <= clock.now() + Duration::seconds(120));

    let mut ws = WsClient::connect(app.addr, true, None).await;
    ws.subscribe(
        "m",
        "subscription($s: ID!) { seatMap(showtimeId: $s) { version changes { number state } availableSeats } }",
        json!({"s": showtime.to_string()}),
    )
    .await;
    let first = ws.next_data().await;
    assert_eq!(first["seatMap"]["availableSeats"], 4);

    clock.advance(Duration::seconds(60));
    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    assert_eq!(status_of(&app, &user, &id).await, "PENDING");

    clock.advance(Duration::seconds(61));
    eventually("expiry", || async {
        status_of(&app, &user, &id).await == "EXPIRED"
    })
    .await;
    let freed = ws.next_data().await;
    assert_eq!(freed["seatMap"]["availableSeats"], 6);
    assert_eq!(
        freed["seatMap"]["version"].as_i64().unwrap(),
        first["seatMap"]["version"].as_i64().unwrap() + 1
    );
    let titles: Vec<String> = notifications::table
        .filter(notifications::user_id.eq(user.id))
        .select(notifications::title)
        .load(&mut app.conn().await)
        .await
        .unwrap();
    assert_eq!(titles, ["Booking expired"]);
}

#[tokio::test]
async fn bookings_are_seen_by_their_owner_and_staff_only() {
    let app = app_with_payment_delay(NEVER).await;
    let showtime = small_showtime(&app).await;
    let owner = app.with_user(Role::Customer).await;
    let stranger = app.with_user(Role::Customer).await;
    let operator = app.with_user(Role::Operator).await;
    let admin = app.with_user(Role::Admin).await;
    let first = book(&app, &owner, showtime, &["A1"]).await["booking"]["id"].clone();
    let second = book(&app, &owner, showtime, &["A2"]).await["booking"]["id"].clone();
    let id = first.as_str().unwrap();

    for viewer in [&owner, &operator, &admin] {
        assert_eq!(flow::booking(&app, viewer, id).await["id"], first);
    }
    assert!(flow::booking(&app, &stranger, id).await.is_null());
    assert!(
        flow::booking(&app, &owner, &Uuid::new_v4().to_string())
            .await
            .is_null()
    );
    let r = app.gql(&flow::booking_query(), json!({"id": id})).await;
    assert_eq!(r.code(), "UNAUTHENTICATED");

    const MINE: &str = "{ myBookings { id seatNumbers } }";
    let mine = app.gql_as(&owner.token, MINE, json!({})).await;
    let ids: Vec<Value> = mine.data()["myBookings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["id"].clone())
        .collect();
    assert_eq!(ids, [second, first]);
    let theirs = app.gql_as(&stranger.token, MINE, json!({})).await;
    assert_eq!(theirs.data()["myBookings"], json!([]));
    assert_eq!(app.gql(MINE, json!({})).await.code(), "UNAUTHENTICATED");
}

#[tokio::test]
async fn the_payment_intent_of_a_booking_is_asked_for_again_and_stays_the_same() {
    let app = app_with_payment_delay(NEVER).await;
    let showtime = small_showtime(&app).await;
    let user = app.with_user(Role::Customer).await;
    let other = app.with_user(Role::Customer).await;
    let created = book(&app, &user, showtime, &["A3"]).await;
    let id = created["booking"]["id"].as_str().unwrap().to_owned();
    const INTENT: &str = "mutation($id: ID!) { createPaymentIntent(bookingId: $id) { clientSecret paymentIntentId } }";
    let one = app.gql_as(&user.token, INTENT, json!({"id": id})).await;
    let two = app.gql_as(&user.token, INTENT, json!({"id": id})).await;
    assert_eq!(one.data(), two.data());
    assert_eq!(
        one.data()["createPaymentIntent"]["clientSecret"],
        created["paymentClientSecret"]
    );
    let intent = one.data()["createPaymentIntent"]["paymentIntentId"]
        .as_str()
        .unwrap();
    assert!(intent.starts_with("pi_"));
    assert_eq!(
        app.gql_as(&other.token, INTENT, json!({"id": id}))
            .await
            .code(),
        "NOT_FOUND"
    );
    assert_eq!(
        app.gql_as(
            &user.token,
            INTENT,
            json!({"id": Uuid::new_v4().to_string()})
        )
        .await
        .code(),
        "NOT_FOUND"
    );
    let r = app.gql_as(&user.token, INTENT, json!({"id": "nope"})).await;
    assert_eq!((r.code(), r.field()), ("BAD_USER_INPUT", Some("bookingId")));
    flow::cancel(&app, &user, &id).await.data();
    assert_eq!(
        app.gql_as(&user.token, INTENT, json!({"id": id}))
            .await
            .code(),
        "CONFLICT"
    );
}

#[tokio::test]
async fn booking_is_rate_limited_with_holds() {
    let app = TestApp::builder()
        .env("RATE_LIMIT_BOOKING", "2/1m")
        .env("SIMULATED_PAYMENT_DELAY_MS", NEVER)
        .build()
        .await;
    let showtime = small_showtime(&app).await;
    let user: TestUser = app.with_user(Role::Customer).await;
    let token = lock(&app, &user, showtime, &["A1"]).await;
    create_booking(&app, &user, showtime, &["A1"], &token, json!([]))
        .await
        .data();
    let token = "x".repeat(10);
    let r = create_booking(&app, &user, showtime, &["A2"], &token, json!([])).await;
    assert_eq!(r.code(), "RATE_LIMITED");
    assert!(
        r.error()["extensions"]["retryAfterSeconds"]
            .as_u64()
            .unwrap()
            > 0
    );
}

#[tokio::test]
async fn a_booking_cancelled_before_the_simulated_payment_is_never_paid() {
    let app = app_with_payment_delay("300").await;
    let showtime = small_showtime(&app).await;
    let user = app.with_user(Role::Customer).await;
    let created = book(&app, &user, showtime, &["A1"]).await;
    let id = created["booking"]["id"].as_str().unwrap().to_owned();
    let r = flow::cancel(&app, &user, &id).await;
    assert_eq!(r.data()["cancelBooking"]["status"], "CANCELLED");
    // Past the simulated gateway's delay: its confirmation was withheld, as Stripe
    // never pays a cancelled intent, so nothing had to be refunded either.
    tokio::time::sleep(std::time::Duration::from_millis(800)).await;
    assert_eq!(status_of(&app, &user, &id).await, "CANCELLED");
    let refunds: i64 = screema::db::schema::refunds::table
        .count()
        .get_result(&mut app.conn().await)
        .await
        .unwrap();
    assert_eq!(refunds, 0);
    let titles: Vec<String> = notifications::table
        .select(notifications::title)
        .load(&mut app.conn().await)
        .await
        .unwrap();
    assert_eq!(titles, Vec::<String>::new());
}
