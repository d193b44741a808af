//! Issue 17, "bookings that a customer can trust", through the public API: idempotent
//! checkout, a hold that lapses during `createBooking`, the per-user seat cap counting
//! unpaid bookings, voided tickets (and their signed list for offline scanners), and
//! showtimes' Redis keys (none for made-up showtimes; the others expire).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::common;

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Duration, Utc};
use common::fixtures as fx;
use common::flow::{self, BOOKING_FIELDS, LOCK, confirmed, eventually, lock, pending, status_of};
use common::ws::WsClient;
use common::{Gql, TestApp, TestUser};
use ed25519_dalek::{Signature, Verifier, VerifyingKey};
use fred::prelude::*;
use screema::db::enums::Role;
use serde_json::{Value, json};
use uuid::Uuid;

/// Payments that never confirm on their own: bookings stay PENDING.
const NO_AUTO_PAY: &str = "600000";

async fn showtime_in(app: &TestApp, seats: u16, from_now: Duration) -> Uuid {
    let mut conn = app.conn().await;
    fx::one_row_showtime(&mut conn, seats, &[], app.app.now() + from_now).await
}

fn keyed_booking_query() -> String {
    format!(
        "mutation($s: ID!, $seats: [String!]!, $t: String!, $snacks: [SnackOrderInput!], $k: String) {{ \
         createBooking(input: {{showtimeId: $s, seatNumbers: $seats, lockToken: $t, snacks: $snacks, idempotencyKey: $k}}) \
         {{ paymentClientSecret booking {{ {BOOKING_FIELDS} }} }} }}"
    )
}

async fn book_with_key(
    app: &TestApp,
    user: &TestUser,
    showtime: Uuid,
    seats: &[&str],
    token: &str,
    snacks: Value,
    key: &str,
) -> Gql {
    app.gql_as(
        &user.token,
        &keyed_booking_query(),
        json!({"s": showtime.to_string(), "seats": seats, "t": token, "snacks": snacks, "k": key}),
    )
    .await
}

fn id_and_secret(r: &Gql) -> (String, String) {
    let created = &r.data()["createBooking"];
    (
        created["booking"]["id"].as_str().unwrap().to_owned(),
        created["paymentClientSecret"].as_str().unwrap().to_owned(),
    )
}

// ---------------------------------------------------------------------------------
// Idempotent checkout

#[tokio::test]
async fn a_repeated_idempotency_key_answers_with_the_same_booking() {
    let app = TestApp::builder()
        .env("SIMULATED_PAYMENT_DELAY_MS", NO_AUTO_PAY)
        .build()
        .await;
    let showtime = showtime_in(&app, 10, Duration::days(1)).await;
    let user = app.with_user(Role::Customer).await;
    let snack = {
        let mut conn = app.conn().await;
        fx::snack(&mut conn, "Popcorn", "food", "4.50", true).await
    };
    let token = lock(&app, &user, showtime, &["A1", "A2"]).await;
    let snacks = json!([{"snackId": snack.to_string(), "quantity": 2}]);
    let key = Uuid::new_v4().to_string();

    let first = book_with_key(
        &app,
        &user,
        showtime,
        &["A1", "A2"],
        &token,
        snacks.clone(),
        &key,
    )
    .await;
    let (id, secret) = id_and_secret(&first);
    // Repeats, the seats in another order: the same booking and client secret, even
    // though the hold was used up by the first.
    for _ in 0..3 {
        let again = book_with_key(
            &app,
            &user,
            showtime,
            &["A2", "A1"],
            &token,
            snacks.clone(),
            &key,
        )
        .await;
        assert_eq!(id_and_secret(&again), (id.clone(), secret.clone()));
        assert_eq!(
            again.data()["createBooking"]["booking"]["bookingReference"],
            first.data()["createBooking"]["booking"]["bookingReference"]
        );
    }
    assert_eq!(flow::count(&app, "bookings").await, 1);
    assert_eq!(flow::count(&app, "payments").await, 1);

    // The same key with another body is refused, naming the key, and writes nothing.
    let other_token = lock(&app, &user, showtime, &["A3"]).await;
    for (seats, token, snacks) in [
        (vec!["A3"], other_token.as_str(), snacks.clone()),
        (vec!["A1", "A2"], token.as_str(), json!([])),
    ] {
        let r = book_with_key(&app, &user, showtime, &seats, token, snacks, &key).await;
        assert_eq!(r.code(), "BAD_USER_INPUT", "{:#}", r.body);
        assert_eq!(r.field(), Some("idempotencyKey"));
    }
    assert_eq!(flow::count(&app, "bookings").await, 1);

    // Another user's same key is theirs: no clash.
    let other = app.with_user(Role::Customer).await;
    let t = lock(&app, &other, showtime, &["A5"]).await;
    let r = book_with_key(&app, &other, showtime, &["A5"], &t, json!([]), &key).await;
    assert_ne!(id_and_secret(&r).0, id);

    // Bounded: 255 characters at most, not blank, no control characters (a NUL would
    // otherwise reach Postgres).
    for bad in [
        "x".repeat(256),
        "   ".to_owned(),
        String::new(),
        "nul\u{0}byte".to_owned(),
    ] {
        let r = book_with_key(
            &app,
            &user,
            showtime,
            &["A3"],
            &other_token,
            json!([]),
            &bad,
        )
        .await;
        assert_eq!(r.code(), "BAD_USER_INPUT", "{:#}", r.body);
        assert_eq!(r.field(), Some("idempotencyKey"));
    }
    let r = book_with_key(
        &app,
        &user,
        showtime,
        &["A3"],
        &other_token,
        json!([]),
        &"k".repeat(255),
    )
    .await;
    id_and_secret(&r);
}

#[tokio::test]
async fn twenty_concurrent_repeats_make_one_booking_and_one_payment() {
    let app = Arc::new(
        TestApp::builder()
            .env("SIMULATED_PAYMENT_DELAY_MS", NO_AUTO_PAY)
            .build()
            .await,
    );
    let showtime = showtime_in(&app, 10, Duration::days(1)).await;
    let user = app.with_user(Role::Customer).await;
    let token = lock(&app, &user, showtime, &["A4", "A5"]).await;
    let key = Uuid::new_v4().to_string();
    let answers = futures_util::future::join_all((0..20).map(|_| {
        let (app, user, token, key) = (app.clone(), user.clone(), token.clone(), key.clone());
        async move {
            let r = book_with_key(
                &app,
                &user,
                showtime,
                &["A4", "A5"],
                &token,
                json!([]),
                &key,
            )
            .await;
            id_and_secret(&r)
        }
    }))
    .await;
    let distinct: BTreeSet<_> = answers.iter().cloned().collect();
    assert_eq!(distinct.len(), 1, "{distinct:?}");
    assert_eq!(flow::count(&app, "bookings").await, 1);
    assert_eq!(flow::count(&app, "payments").await, 1);
    assert_eq!(flow::count(&app, "booking_seats").await, 2);
    let (id, _) = &answers[0];
    assert_eq!(status_of(&app, &user, id).await, "PENDING");
}

// ---------------------------------------------------------------------------------
// A hold that lapses during createBooking

/// A Stripe that takes its time to create an intent (like one under load), and
/// records which intents were cancelled.
async fn slow_stripe(delay: std::time::Duration) -> (String, Arc<Mutex<Vec<String>>>) {
    use axum::routing::post;
    let cancelled = Arc::new(Mutex::new(Vec::new()));
    let seen = cancelled.clone();
    let intent = |id: &str, status: &str| {
        json!({"id": id, "object": "payment_intent", "client_secret": format!("{id}_secret_slow"),
               "status": status, "amount": 2000, "currency": "usd"})
    };
    let router = axum::Router::new()
        .route(
            "/v1/payment_intents",
            post(move || async move {
                tokio::time::sleep(delay).await;
                axum::Json(intent("pi_slow_1", "requires_payment_method"))
            }),
        )
        .route(
            "/v1/payment_intents/{id}/cancel",
            post(
                move |axum::extract::Path(id): axum::extract::Path<String>| async move {
                    seen.lock().unwrap().push(id.clone());
                    axum::Json(intent(&id, "canceled"))
                },
            ),
        );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move {
        let _ = axum::serve(listener, router).await;
    });
    (url, cancelled)
}

#[tokio::test]
async fn a_hold_that_lapses_while_the_intent_is_made_books_nothing() {
    let (stripe, cancelled) = slow_stripe(std::time::Duration::from_millis(1500)).await;
    let (builder, clock) = TestApp::clocked();
    let app = Arc::new(
        builder
            .env("STRIPE_SECRET_KEY", "sk_test_slow")
            .env("STRIPE_API_BASE", &stripe)
            .build()
            .await,
    );
    let showtime = showtime_in(&app, 10, Duration::days(1)).await;
    let user = app.with_user(Role::Customer).await;
    let token = lock(&app, &user, showtime, &["A1", "A2"]).await;
    let booking = {
        let (app, user, token) = (app.clone(), user.clone(), token.clone());
        tokio::spawn(async move {
            flow::create_booking(&app, &user, showtime, &["A1", "A2"], &token, json!([])).await
        })
    };
    // The hold was alive when createBooking looked at it; it lapses while Stripe works.
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    clock.advance(Duration::seconds(601));
    let r = booking.await.unwrap();
    assert_eq!(r.code(), "LOCK_EXPIRED", "{:#}", r.body);
    assert_eq!(flow::count(&app, "bookings").await, 0);
    assert_eq!(flow::count(&app, "payments").await, 0);
    // The seats are free for someone else, and the unused intent is cancelled.
    let other = app.with_user(Role::Customer).await;
    let r = app
        .gql_as(
            &other.token,
            LOCK,
            json!({"s": showtime.to_string(), "seats": ["A1", "A2"]}),
        )
        .await;
    assert_eq!(r.data()["lockSeats"]["lockedSeats"], json!(["A1", "A2"]));
    eventually("the unused intent is cancelled", || {
        let cancelled = cancelled.clone();
        async move { cancelled.lock().unwrap().contains(&"pi_slow_1".to_owned()) }
    })
    .await;
}

#[tokio::test]
async fn a_booking_postgres_refuses_gives_the_claimed_hold_back() {
    // Two nodes with their own Redis: both hold A1; Postgres sells it to the first,
    // and refuses the second after its hold was claimed. That hold is restored as it
    // was (still the caller's to extend or release), not left claimed.
    let a = TestApp::builder()
        .env("SIMULATED_PAYMENT_DELAY_MS", NO_AUTO_PAY)
        .build()
        .await;
    let b = a
        .node_with_own_redis()
        .env("SIMULATED_PAYMENT_DELAY_MS", NO_AUTO_PAY)
        .build()
        .await;
    let showtime = showtime_in(&a, 10, Duration::days(1)).await;
    let alice = a.with_user(Role::Customer).await;
    let bob = b.with_user(Role::Customer).await;
    let ta = lock(&a, &alice, showtime, &["A1"]).await;
    let tb = lock(&b, &bob, showtime, &["A1"]).await;
    flow::create_booking(&a, &alice, showtime, &["A1"], &ta, json!([]))
        .await
        .data();
    let r = flow::create_booking(&b, &bob, showtime, &["A1"], &tb, json!([])).await;
    assert_eq!(r.code(), "SEATS_UNAVAILABLE", "{:#}", r.body);
    assert_eq!(flow::count(&a, "bookings").await, 1);
    let r = b
        .gql_as(
            &bob.token,
            "mutation($t: String!) { extendSeatLock(lockToken: $t) { lockedSeats } }",
            json!({"t": tb}),
        )
        .await;
    assert_eq!(r.data()["extendSeatLock"]["lockedSeats"], json!(["A1"]));
    let r = b
        .gql_as(
            &bob.token,
            "mutation($t: String!) { releaseSeats(lockToken: $t) }",
            json!({"t": tb}),
        )
        .await;
    assert_eq!(r.data()["releaseSeats"], true);
}

// ---------------------------------------------------------------------------------
// The per-user seat cap counts unpaid bookings

async fn try_lock(app: &TestApp, user: &TestUser, showtime: Uuid, seats: &[&str]) -> Gql {
    app.gql_as(
        &user.token,
        LOCK,
        json!({"s": showtime.to_string(), "seats": seats}),
    )
    .await
}

fn assert_over_cap(r: &Gql) {
    assert_eq!(r.code(), "BAD_USER_INPUT", "{:#}", r.body);
    assert_eq!(r.field(), Some("seatNumbers"));
    assert!(
        r.error()["message"]
            .as_str()
            .unwrap()
            .contains("at most 4 seats"),
        "{:#}",
        r.body
    );
}

#[tokio::test]
async fn unpaid_bookings_count_against_the_seat_cap_until_they_end() {
    let (builder, clock) = TestApp::clocked();
    let app = builder
        .env("MAX_SEATS_PER_USER", "4")
        .env("SIMULATED_PAYMENT_DELAY_MS", NO_AUTO_PAY)
        .build()
        .await;
    let showtime = showtime_in(&app, 12, Duration::days(1)).await;
    let user = app.with_user(Role::Customer).await;
    let (first, _) = pending(&app, &user, showtime, &["A1", "A2"]).await;
    let (second, _) = pending(&app, &user, showtime, &["A3", "A4"]).await;
    // Four seats in unpaid bookings: a fifth is over the cap, held or not.
    assert_over_cap(&try_lock(&app, &user, showtime, &["A5"]).await);
    // Someone else is not affected.
    let other = app.with_user(Role::Customer).await;
    lock(&app, &other, showtime, &["A12"]).await;

    // Cancelled: its seats count no more.
    flow::cancel(&app, &user, &first).await.data();
    lock(&app, &user, showtime, &["A5"]).await;
    lock(&app, &user, showtime, &["A6"]).await;
    assert_over_cap(&try_lock(&app, &user, showtime, &["A7"]).await);

    // Expired (with the holds): nothing counts, four seats may be held again.
    clock.advance(Duration::seconds(601));
    eventually("the unpaid booking expires", || {
        let (app, user, second) = (&app, &user, &second);
        async move { status_of(app, user, second).await == "EXPIRED" }
    })
    .await;
    lock(&app, &user, showtime, &["A7", "A8", "A9", "A10"]).await;
    assert_over_cap(&try_lock(&app, &user, showtime, &["A11"]).await);
}

/// The cap asks Postgres only about a user who may have unpaid bookings (a claimed
/// hold in Redis): a hold refused over the cap costs no SQL for a user with none, or
/// after paying; with a booking unpaid it reads Postgres. Paid seats never count.
/// (Refused holds are measured: a granted one writes its record off the request path.)
#[tokio::test]
async fn the_seat_cap_reads_postgres_only_for_users_with_unpaid_bookings() {
    let app = TestApp::builder()
        .env("MAX_SEATS_PER_USER", "4")
        .env("SIMULATED_PAYMENT_DELAY_MS", NO_AUTO_PAY)
        .env("SWEEP_INTERVAL_MS", "3600000")
        .env("OUTBOX_POLL_MS", "3600000")
        .build()
        .await;
    let showtime = showtime_in(&app, 12, Duration::days(1)).await;
    let user = app.with_user(Role::Customer).await;
    // Statements once background writes have settled.
    let settled = || {
        let app = &app;
        async move {
            let mut last = app.statements().await;
            loop {
                tokio::time::sleep(std::time::Duration::from_millis(300)).await;
                let now = app.statements().await;
                if now == last {
                    return now;
                }
                last = now;
            }
        }
    };
    let refused_over_cap = |seats: &'static [&'static str]| {
        let (app, user) = (&app, &user);
        async move {
            let before = settled().await;
            assert_over_cap(&try_lock(app, user, showtime, seats).await);
            settled().await - before
        }
    };
    let four = lock(&app, &user, showtime, &["A1", "A2", "A3", "A4"]).await;
    assert_eq!(
        refused_over_cap(&["A5"]).await,
        0,
        "no unpaid booking: no SQL"
    );
    let released = app
        .gql_as(
            &user.token,
            "mutation($t: String!) { releaseSeats(lockToken: $t) }",
            json!({"t": four}),
        )
        .await;
    assert_eq!(released.data()["releaseSeats"], true);

    let (id, intent) = pending(&app, &user, showtime, &["A1", "A2", "A3"]).await;
    assert!(
        refused_over_cap(&["A4", "A5"]).await >= 1,
        "an unpaid booking is read from Postgres"
    );

    let body = flow::event(
        "evt_paid",
        "payment_intent.succeeded",
        flow::intent_object(&app, &intent, &id).await,
    );
    assert_eq!(flow::send_event(&app, &body).await, 200);
    assert_eq!(status_of(&app, &user, &id).await, "CONFIRMED");
    // Paid seats do not count: four more may be held, and the fifth is refused
    // without a look at Postgres.
    lock(&app, &user, showtime, &["A4", "A5", "A6", "A7"]).await;
    assert_eq!(refused_over_cap(&["A8"]).await, 0, "after paying: no SQL");
}

// ---------------------------------------------------------------------------------
// A refunded or cancelled ticket is void everywhere

const REFUND: &str =
    "mutation($id: ID!) { refundBooking(input: {bookingId: $id, reason: \"test\"}) { status } }";
const CHECK_IN: &str = "mutation($c: String!) { checkInTicket(code: $c) { id status } }";

async fn revoked(app: &TestApp, token: Option<&str>, query: &str) -> reqwest::Response {
    let mut request = app
        .client
        .get(app.url(&format!("/api/tickets/revoked?{query}")));
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    request.send().await.unwrap()
}

async fn image_status(app: &TestApp, user: &TestUser, id: &str) -> u16 {
    app.client
        .get(app.url(&format!("/api/tickets/{id}.png")))
        .bearer_auth(&user.token)
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

#[tokio::test]
async fn refunded_and_cancelled_tickets_are_void_and_listed_signed() {
    let app = TestApp::builder()
        .env("SIMULATED_PAYMENT_DELAY_MS", NO_AUTO_PAY)
        .env("CHECK_IN_OPENS_MINUTES", "1440")
        .build()
        .await;
    let showtime = showtime_in(&app, 10, Duration::hours(3)).await;
    let user = app.with_user(Role::Customer).await;
    let admin = app.with_user(Role::Admin).await;
    let operator = app.with_user(Role::Operator).await;
    let started: DateTime<Utc> = Utc::now() - Duration::seconds(5);

    let (refunded, code) = confirmed(&app, &user, showtime, &["A1", "A2"]).await;
    let (kept, kept_code) = confirmed(&app, &user, showtime, &["A5"]).await;
    let (cancelled, _) = pending(&app, &user, showtime, &["A3"]).await;
    assert_eq!(image_status(&app, &user, &refunded).await, 200);

    let r = app
        .gql_as(&admin.token, REFUND, json!({"id": refunded}))
        .await;
    assert_eq!(r.data()["refundBooking"]["status"], "succeeded");
    eventually("the refunded booking is cancelled", || {
        let (app, user, id) = (&app, &user, &refunded);
        async move { status_of(app, user, id).await == "CANCELLED" }
    })
    .await;
    flow::cancel(&app, &user, &cancelled).await.data();

    // The void ticket's code is shown no more, its image is not served, and check-in
    // refuses it; the kept ticket is untouched.
    let b = flow::booking(&app, &user, &refunded).await;
    assert!(b["qrCode"].is_null(), "{b:#}");
    assert!(b["ticketImageUrl"].is_null(), "{b:#}");
    assert_eq!(image_status(&app, &user, &refunded).await, 404);
    assert_eq!(flow::booking(&app, &user, &kept).await["qrCode"], kept_code);
    assert_eq!(image_status(&app, &user, &kept).await, 200);
    let r = app
        .gql_as(&operator.token, CHECK_IN, json!({"c": code}))
        .await;
    assert_eq!(r.code(), "CONFLICT", "{:#}", r.body);

    // The signed list: both voided bookings, not the kept one.
    let query = format!(
        "showtimeId={showtime}&since={}",
        urlencode(&started.to_rfc3339())
    );
    let response = revoked(&app, Some(&operator.token), &query).await;
    assert_eq!(response.status().as_u16(), 200);
    let signature = response
        .headers()
        .get("screema-signature")
        .expect("a signature header")
        .to_str()
        .unwrap()
        .to_owned();
    let body = response.bytes().await.unwrap();
    let list: Value = serde_json::from_slice(&body).unwrap();
    let ids: BTreeSet<String> = list["revoked"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["bookingId"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(ids, BTreeSet::from([refunded.clone(), cancelled.clone()]));
    assert_eq!(list["showtimeId"], showtime.to_string());
    for entry in list["revoked"].as_array().unwrap() {
        let at = DateTime::parse_from_rfc3339(entry["revokedAt"].as_str().unwrap()).unwrap();
        assert!(at >= started, "{entry}");
    }
    let until = DateTime::parse_from_rfc3339(list["until"].as_str().unwrap()).unwrap();
    assert!(until >= started);

    // The signature verifies with the published key over the exact bytes, and not
    // over anything else.
    let published: Value = app
        .get("/api/tickets/public-key")
        .await
        .json()
        .await
        .unwrap();
    let key: [u8; 32] = URL_SAFE_NO_PAD
        .decode(published["publicKey"].as_str().unwrap())
        .unwrap()
        .try_into()
        .unwrap();
    let key = VerifyingKey::from_bytes(&key).unwrap();
    let signature: [u8; 64] = URL_SAFE_NO_PAD
        .decode(&signature)
        .unwrap()
        .try_into()
        .unwrap();
    let signature = Signature::from_bytes(&signature);
    let signed = [b"screema-revoked-v1\0".as_slice(), &body].concat();
    key.verify(&signed, &signature).expect("the list verifies");
    let mut tampered = signed.clone();
    let last = tampered.len() - 2;
    tampered[last] ^= 1;
    assert!(key.verify(&tampered, &signature).is_err());
    assert!(
        key.verify(&body, &signature).is_err(),
        "the domain tag is signed"
    );

    // From `until` on, nothing new; an admin may ask too.
    let later = format!(
        "showtimeId={showtime}&since={}",
        urlencode(list["until"].as_str().unwrap())
    );
    let response = revoked(&app, Some(&admin.token), &later).await;
    assert_eq!(response.status().as_u16(), 200);
    let list: Value = response.json().await.unwrap();
    assert_eq!(list["revoked"], json!([]));

    // Staff only; bad parameters are named.
    assert_eq!(revoked(&app, None, &query).await.status().as_u16(), 401);
    assert_eq!(
        revoked(&app, Some(&user.token), &query)
            .await
            .status()
            .as_u16(),
        403
    );
    for (bad, field) in [
        (
            format!("since={}", urlencode(&started.to_rfc3339())),
            "showtimeId",
        ),
        (
            format!("showtimeId=nope&since={}", urlencode(&started.to_rfc3339())),
            "showtimeId",
        ),
        (format!("showtimeId={showtime}"), "since"),
        (format!("showtimeId={showtime}&since=yesterday"), "since"),
    ] {
        let response = revoked(&app, Some(&operator.token), &bad).await;
        assert_eq!(response.status().as_u16(), 400, "{bad}");
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["field"], field, "{bad}: {body}");
    }
    let unknown = format!(
        "showtimeId={}&since={}",
        Uuid::new_v4(),
        urlencode(&started.to_rfc3339())
    );
    assert_eq!(
        revoked(&app, Some(&operator.token), &unknown)
            .await
            .status()
            .as_u16(),
        404
    );
}

fn urlencode(raw: &str) -> String {
    raw.replace('+', "%2B").replace(':', "%3A")
}

// ---------------------------------------------------------------------------------
// Redis keys: none for a showtime that does not exist; the others expire

async fn keys_under(app: &TestApp) -> BTreeSet<String> {
    let redis = app.redis().await;
    let mut cursor = "0".to_owned();
    let mut out = BTreeSet::new();
    loop {
        let (next, keys): (String, Vec<String>) = redis
            .custom(
                fred::cmd!("SCAN"),
                vec![
                    cursor.clone(),
                    "MATCH".into(),
                    format!("{}:*", app.prefix),
                    "COUNT".into(),
                    "1000".into(),
                ],
            )
            .await
            .unwrap();
        out.extend(keys);
        if next == "0" {
            break;
        }
        cursor = next;
    }
    out
}

#[tokio::test]
async fn a_showtime_that_does_not_exist_writes_nothing() {
    let app = TestApp::new().await;
    let user = app.with_user(Role::Customer).await;
    // A real showtime in play, so that the node's own keys are there already.
    let real = showtime_in(&app, 10, Duration::days(1)).await;
    lock(&app, &user, real, &["A1"]).await;
    // The hold's record is written off the request's path: wait for it.
    eventually("the real hold is recorded", || {
        let app = &app;
        async move { flow::count(app, "seat_locks").await == 1 }
    })
    .await;
    let ghost = Uuid::new_v4();
    let keys_before = keys_under(&app).await;
    let locks_before = flow::count(&app, "seat_locks").await;

    let r = try_lock(&app, &user, ghost, &["A1"]).await;
    assert_eq!(r.code(), "BAD_USER_INPUT");
    assert_eq!(r.field(), Some("showtimeId"));
    let r = app
        .gql(
            "query($s: ID!) { showtime(id: $s) { id seatMap { version } availableSeats } }",
            json!({"s": ghost.to_string()}),
        )
        .await;
    assert!(r.data()["showtime"].is_null());
    let r = app
        .gql(
            "query($s: ID!) { bestAvailableSeats(showtimeId: $s, count: 2) { number } }",
            json!({"s": ghost.to_string()}),
        )
        .await;
    assert_eq!(r.code(), "BAD_USER_INPUT");
    for legacy in [false, true] {
        let mut ws = WsClient::connect(app.addr, legacy, Some(&user.token)).await;
        ws.subscribe(
            "1",
            "subscription($s: ID!) { seatMap(showtimeId: $s) { version } }",
            json!({"s": ghost.to_string()}),
        )
        .await;
        let message = ws.receive().await;
        let errors = if message["type"] == "error" {
            message["payload"].clone()
        } else {
            message["payload"]["errors"].clone()
        };
        assert!(errors.to_string().contains("BAD_USER_INPUT"), "{message:#}");
    }

    let keys_after = keys_under(&app).await;
    let ghostly: Vec<_> = keys_after
        .difference(&keys_before)
        .filter(|k| !k.contains(":ratelimit:"))
        .collect();
    assert!(
        ghostly.is_empty(),
        "keys written for a made-up showtime: {ghostly:?}"
    );
    assert!(keys_after.iter().all(|k| !k.contains(&ghost.to_string())));
    assert_eq!(flow::count(&app, "seat_locks").await, locks_before);
    assert_eq!(flow::count(&app, "bookings").await, 0);
}

#[tokio::test]
async fn a_showtimes_keys_expire_a_day_after_it_ends() {
    let app = TestApp::builder()
        .env("SIMULATED_PAYMENT_DELAY_MS", NO_AUTO_PAY)
        .build()
        .await;
    let showtime = showtime_in(&app, 10, Duration::days(2)).await;
    let end: DateTime<Utc> = {
        use diesel::prelude::*;
        use diesel_async::RunQueryDsl;
        use screema::db::schema::showtimes;
        showtimes::table
            .find(showtime)
            .select(showtimes::end_time)
            .first(&mut app.conn().await)
            .await
            .unwrap()
    };
    let expected = (end + Duration::days(1)).timestamp_millis();
    let user = app.with_user(Role::Customer).await;
    pending(&app, &user, showtime, &["A1", "A2"]).await;
    lock(&app, &user, showtime, &["A3"]).await;

    let redis = app.redis().await;
    let tag = format!("{}:seat:{{{showtime}}}:", app.prefix);
    let keys: Vec<String> = keys_under(&app)
        .await
        .into_iter()
        .filter(|k| k.starts_with(&tag))
        .collect();
    let parts: BTreeSet<&str> = keys.iter().map(|k| &k[tag.len()..]).collect();
    assert_eq!(
        parts,
        BTreeSet::from([
            "blocked", "booked", "epoch", "expiry", "history", "holds", "locks", "version"
        ])
    );
    for key in &keys {
        let at: i64 = redis
            .custom(fred::cmd!("PEXPIRETIME"), vec![key.clone()])
            .await
            .unwrap();
        assert_eq!(
            at, expected,
            "{key} expires at {at}, not a day after the end"
        );
    }
}
