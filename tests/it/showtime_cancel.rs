//! Cancelling a showtime through the API: every live booking refunded in full through
//! the outbox, unpaid ones ended, buyers and holders told, the showtime off sale and
//! out of the listings on every node, its screen's time free again.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::common;
use crate::exchanges::{paid, showtime_at, state};
use crate::ticket_types::room;

use chrono::{Duration, Utc};
use common::flow::{book, count, eventually, lock, seat_states};
use common::{Gql, TestApp, TestUser};
use screema::clock::Clock;
use screema::db::enums::Role;
use serde_json::{Value, json};
use uuid::Uuid;

const CANCEL: &str = "mutation($id: ID!, $r: String!) { cancelShowtime(id: $id, reason: $r) { id status cancelReason } }";

pub(crate) async fn cancel(app: &TestApp, user: &TestUser, showtime: Uuid, reason: &str) -> Gql {
    app.gql_as(
        &user.token,
        CANCEL,
        json!({"id": showtime.to_string(), "r": reason}),
    )
    .await
}

async fn booking(app: &TestApp, user: &TestUser, id: &str) -> Value {
    let r = app
        .gql_as(
            &user.token,
            "query($id: ID!) { booking(id: $id) { status qrCode refunds { amount { amount } status reason handedBackAt } } }",
            json!({"id": id}),
        )
        .await;
    r.data()["booking"].clone()
}

async fn messages(app: &TestApp, user: &TestUser) -> Vec<String> {
    let r = app
        .gql_as(
            &user.token,
            "{ notifications { title message } }",
            json!({}),
        )
        .await;
    r.data()["notifications"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| {
            format!(
                "{}: {}",
                n["title"].as_str().unwrap(),
                n["message"].as_str().unwrap()
            )
        })
        .collect()
}

#[tokio::test]
async fn a_cancelled_showtime_refunds_everyone_and_goes_off_sale() {
    let app = TestApp::builder()
        .env("SIMULATED_PAYMENT_DELAY_MS", "600000")
        .env("OUTBOX_POLL_MS", "50")
        .build()
        .await;
    let room = room(&app, None).await;
    let start = Utc::now() + Duration::days(2);
    let show = showtime_at(&app, &room, start, "10.00").await;
    let buyer = app.with_user(Role::Customer).await;
    let unpaid = app.with_user(Role::Customer).await;
    let holder = app.with_user(Role::Customer).await;
    let (paid_id, code) = paid(&app, &buyer, show, &["A1", "A2"]).await;
    let pending = book(&app, &unpaid, show, &["A3"]).await;
    let pending_id = pending["booking"]["id"].as_str().unwrap().to_owned();
    lock(&app, &holder, show, &["B2"]).await;

    // Only admins; a reason is required; an unknown showtime does not exist.
    let operator = app.with_user(Role::Operator).await;
    for user in [&buyer, &operator] {
        assert_eq!(
            cancel(&app, user, show, "projector").await.code(),
            "FORBIDDEN"
        );
    }
    let r = cancel(&app, &room.admin, show, "  ").await;
    assert_eq!((r.code(), r.field()), ("BAD_USER_INPUT", Some("reason")));
    let r = cancel(&app, &room.admin, show, &"x".repeat(501)).await;
    assert_eq!((r.code(), r.field()), ("BAD_USER_INPUT", Some("reason")));
    let r = cancel(&app, &room.admin, Uuid::new_v4(), "projector").await;
    assert_eq!(r.code(), "NOT_FOUND");
    assert_eq!(count(&app, "refunds").await, 0);

    let r = cancel(&app, &room.admin, show, "the projector broke").await;
    assert_eq!(
        r.data()["cancelShowtime"],
        json!({"id": show.to_string(), "status": "CANCELLED", "cancelReason": "the projector broke"})
    );

    // The paid booking is refunded in full by the outbox, and ends; the unpaid one ends.
    eventually("the refund", || async {
        booking(&app, &buyer, &paid_id).await["status"] == "CANCELLED"
    })
    .await;
    let b = booking(&app, &buyer, &paid_id).await;
    assert_eq!(
        b["refunds"],
        json!([{"amount": {"amount": "20.00"}, "status": "succeeded", "reason": "the showtime was cancelled", "handedBackAt": null}])
    );
    assert_eq!(b["qrCode"], Value::Null);
    assert_eq!(
        booking(&app, &unpaid, &pending_id).await["status"],
        "CANCELLED"
    );
    // Everyone is told, the holder too.
    for user in [&buyer, &unpaid, &holder] {
        assert!(
            messages(&app, user)
                .await
                .iter()
                .any(|m| m.starts_with("Showing cancelled: Nosferatu")
                    && m.contains("the projector broke")),
            "{:?}",
            messages(&app, user).await
        );
    }
    let operator_view = app
        .gql_as(
            &operator.token,
            "mutation($c: String!) { checkInTicket(code: $c) { id } }",
            json!({"c": code}),
        )
        .await;
    assert_eq!(
        operator_view.code(),
        "CONFLICT",
        "the ticket no longer admits"
    );

    // Off sale: no hold, no booking, no exchange to it; out of the listings; the seats free.
    let r = app
        .gql_as(
            &holder.token,
            "mutation($s: ID!) { lockSeats(input: {showtimeId: $s, seatNumbers: [\"A1\"]}) { lockToken } }",
            json!({"s": show.to_string()}),
        )
        .await;
    assert_eq!(
        (r.code(), r.field()),
        ("BAD_USER_INPUT", Some("showtimeId"))
    );
    assert!(r.error()["message"].as_str().unwrap().contains("cancelled"));
    let listed = app
        .gql(
            "query($m: ID!) { movie(id: $m) { showtimes { id } } }",
            json!({"m": room.movie}),
        )
        .await;
    assert_eq!(listed.data()["movie"]["showtimes"], json!([]));
    let found = app
        .gql(
            "query($s: ID!) { showtime(id: $s) { status } }",
            json!({"s": show.to_string()}),
        )
        .await;
    assert_eq!(found.data()["showtime"]["status"], "CANCELLED");
    let states = seat_states(&app, show).await;
    for seat in ["A1", "A2", "A3"] {
        assert_eq!(state(&states, seat), "AVAILABLE", "{seat}");
    }

    // The screen's time is free for another showing; cancelling again changes nothing.
    let again = showtime_at(&app, &room, start, "12.00").await;
    assert_ne!(again, show);
    let r = cancel(&app, &room.admin, show, "again").await;
    assert_eq!(
        r.data()["cancelShowtime"]["cancelReason"],
        "the projector broke"
    );
    assert_eq!(count(&app, "refunds").await, 1);
}

/// The node that cancels forgets the showtime at once; another node's cached room
/// forgets it on the catalog's word, so it refuses holds too.
#[tokio::test]
async fn every_node_stops_selling_a_cancelled_showtime() {
    let app = TestApp::builder().build().await;
    let other = app.another_node().build().await;
    let room = room(&app, None).await;
    let show = showtime_at(&app, &room, Utc::now() + Duration::days(2), "10.00").await;
    let buyer = app.with_user(Role::Customer).await;
    // The other node has the room cached: it sold a hold from it.
    lock(&other, &buyer, show, &["A1"]).await;
    let r = cancel(&app, &room.admin, show, "storm").await;
    assert_eq!(r.data()["cancelShowtime"]["status"], "CANCELLED");
    eventually("the other node refuses", || async {
        let r = other
            .gql_as(
                &buyer.token,
                "mutation($s: ID!) { lockSeats(input: {showtimeId: $s, seatNumbers: [\"A2\"]}) { lockToken } }",
                json!({"s": show.to_string()}),
            )
            .await;
        r.body.get("errors").is_some() && r.code() == "BAD_USER_INPUT"
    })
    .await;
}

/// Postgres decides, not the caches: a booking that expired before the showtime was
/// cancelled, paid afterwards, is not sold again (it would be, its seats being free);
/// the money goes back.
#[tokio::test]
async fn a_late_payment_cannot_sell_a_seat_of_a_cancelled_showtime() {
    let (builder, clock) = TestApp::clocked();
    let app = builder
        .env("SIMULATED_PAYMENT_DELAY_MS", "600000")
        .build()
        .await;
    let room = room(&app, None).await;
    let show = showtime_at(&app, &room, clock.now() + Duration::days(2), "10.00").await;
    let buyer = app.with_user(Role::Customer).await;
    let created = book(&app, &buyer, show, &["A1"]).await;
    let id = created["booking"]["id"].as_str().unwrap().to_owned();
    clock.advance(Duration::minutes(11));
    eventually("the booking expires", || async {
        booking(&app, &buyer, &id).await["status"] == "EXPIRED"
    })
    .await;
    let r = cancel(&app, &room.admin, show, "the projector broke").await;
    assert_eq!(r.data()["cancelShowtime"]["status"], "CANCELLED");
    common::flow::pay(&app, &id).await;
    eventually("the late payment goes back", || async {
        booking(&app, &buyer, &id).await["refunds"]
            .as_array()
            .is_some_and(|r| r.len() == 1)
    })
    .await;
    let b = booking(&app, &buyer, &id).await;
    assert_eq!(b["status"], "EXPIRED");
    assert_eq!(b["qrCode"], Value::Null);
    assert_eq!(state(&seat_states(&app, show).await, "A1"), "AVAILABLE");
}

/// Stripe in front of localstripe as this test needs it: Stripe's idempotency (the
/// first answer to a key is saved and given again; localstripe has none) and network
/// faults on refunds. Of the first attempts at a refund, one in six fails before Stripe
/// sees it and one in six after Stripe made it (the answer is lost): a third in all.
/// Each refund also takes a moment, so that a node can die halfway through a hundred.
mod flaky_stripe {
    use std::collections::{HashMap, HashSet};
    use std::sync::Mutex;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::Duration;

    use axum::body::Bytes;
    use axum::extract::State;
    use axum::http::{HeaderMap, Method, StatusCode, Uri};
    use axum::response::{IntoResponse, Response};

    #[derive(Default)]
    pub struct Faults {
        answers: Mutex<HashMap<String, (u16, String)>>,
        attempted: Mutex<HashSet<String>>,
        firsts: AtomicUsize,
        pub refund_posts: AtomicUsize,
        pub failed_before: AtomicUsize,
        pub failed_after: AtomicUsize,
    }

    pub async fn start(upstream: String) -> (String, std::sync::Arc<Faults>) {
        let faults = std::sync::Arc::new(Faults::default());
        let app = axum::Router::new()
            .fallback(forward)
            .with_state((faults.clone(), upstream));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await });
        (format!("http://{addr}"), faults)
    }

    fn failure() -> Response {
        (
            StatusCode::INTERNAL_SERVER_ERROR,
            [("content-type", "application/json")],
            r#"{"error":{"type":"api_error","message":"injected fault"}}"#,
        )
            .into_response()
    }

    async fn forward(
        State((faults, upstream)): State<(std::sync::Arc<Faults>, String)>,
        method: Method,
        uri: Uri,
        headers: HeaderMap,
        body: Bytes,
    ) -> Response {
        let key = headers
            .get("idempotency-key")
            .and_then(|k| k.to_str().ok())
            .map(str::to_owned);
        if method == Method::POST
            && let Some(k) = &key
            && let Some((status, text)) = faults.answers.lock().unwrap().get(k).cloned()
        {
            return (
                StatusCode::from_u16(status).unwrap(),
                [("content-type", "application/json")],
                text,
            )
                .into_response();
        }
        let refund = method == Method::POST && uri.path() == "/v1/refunds";
        let mut fault = None;
        if refund {
            faults.refund_posts.fetch_add(1, Ordering::SeqCst);
            tokio::time::sleep(Duration::from_millis(60)).await;
            let first = key
                .as_ref()
                .is_some_and(|k| faults.attempted.lock().unwrap().insert(k.clone()));
            if first {
                fault = match faults.firsts.fetch_add(1, Ordering::SeqCst) % 6 {
                    0 => Some("before"),
                    3 => Some("after"),
                    _ => None,
                };
            }
        }
        if fault == Some("before") {
            faults.failed_before.fetch_add(1, Ordering::SeqCst);
            return failure();
        }
        let mut request = reqwest::Client::new().request(
            method.clone(),
            format!(
                "{upstream}{}",
                uri.path_and_query().map_or("/", |p| p.as_str())
            ),
        );
        for (name, value) in &headers {
            if name != "host" && name != "content-length" {
                request = request.header(name, value);
            }
        }
        let answer = request.body(body).send().await.unwrap();
        let status = answer.status().as_u16();
        let text = answer.text().await.unwrap();
        if method == Method::POST
            && let Some(k) = key
        {
            faults
                .answers
                .lock()
                .unwrap()
                .insert(k, (status, text.clone()));
        }
        if fault == Some("after") {
            faults.failed_after.fetch_add(1, Ordering::SeqCst);
            return failure();
        }
        (
            StatusCode::from_u16(status).unwrap(),
            [("content-type", "application/json")],
            text,
        )
            .into_response()
    }
}

/// A hundred paid bookings; the showtime is cancelled; a separate node delivers the
/// refunds through a gateway that fails a third of the first attempts (before and
/// after making the refund) and is killed (SIGKILL) halfway; this node finishes.
/// Every booking ends refunded exactly once: at Stripe each intent has refunds adding
/// up to exactly what it charged.
#[tokio::test]
async fn a_hundred_refunds_survive_a_failing_gateway_and_a_killed_node() {
    use crate::payments::{localstripe_url, pay_with_card};
    use std::sync::atomic::Ordering;
    let (proxy, faults) = flaky_stripe::start(localstripe_url()).await;
    let secret = format!("whsec_{}", Uuid::new_v4().simple());
    let (builder, clock) = TestApp::clocked();
    let app = builder
        .env("STRIPE_SECRET_KEY", "sk_test_screema")
        .env("STRIPE_API_BASE", &proxy)
        .env("STRIPE_WEBHOOK_SECRET", &secret)
        // This node's worker stays out of it until the other is dead.
        .env("OUTBOX_POLL_MS", "3600000")
        .build()
        .await;
    let client = reqwest::Client::new();
    crate::payments::send_webhooks_to(&client, &app, &secret, &["payment_intent.succeeded"]).await;
    let show = {
        let mut conn = app.conn().await;
        common::fixtures::one_row_showtime(&mut conn, 100, &[], clock.now() + Duration::days(2))
            .await
    };
    let admin = app.with_user(Role::Admin).await;

    // A hundred customers book a seat each and pay by card, ten at a time.
    let mut bookings: Vec<(TestUser, String, String)> = Vec::new();
    for chunk in (1..=100).collect::<Vec<u16>>().chunks(10) {
        let mut round = Vec::new();
        for seat in chunk {
            let user = app.with_user(Role::Customer).await;
            let (app, client) = (&app, &client);
            round.push(async move {
                let seat = format!("A{seat}");
                let created = book(app, &user, show, &[seat.as_str()]).await;
                let id = created["booking"]["id"].as_str().unwrap().to_owned();
                let secret = created["paymentClientSecret"].as_str().unwrap();
                let intent = secret.split_once("_secret_").unwrap().0.to_owned();
                assert_eq!(
                    pay_with_card(client, &intent, "4242424242424242").await,
                    200
                );
                (user, id, intent)
            });
        }
        bookings.extend(futures_util::future::join_all(round).await);
    }
    eventually("a hundred confirmations", || async {
        count_status(&app, "confirmed").await == 100
    })
    .await;

    // The other node, with a worker that delivers at once.
    let mut node = common::node::Node::start(
        &app,
        &[
            ("STRIPE_SECRET_KEY", "sk_test_screema"),
            ("STRIPE_API_BASE", &proxy),
            ("STRIPE_WEBHOOK_SECRET", &secret),
            ("OUTBOX_POLL_MS", "20"),
        ],
    )
    .await;
    let r = cancel(&app, &admin, show, "the projector broke").await;
    assert_eq!(r.data()["cancelShowtime"]["status"], "CANCELLED");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while faults.refund_posts.load(Ordering::SeqCst) < 35 {
        assert!(
            std::time::Instant::now() < deadline,
            "the other node refunds nothing"
        );
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    node.kill();
    let done_by_the_dead = count_status(&app, "cancelled").await;
    assert!(done_by_the_dead < 100, "killed too late to show anything");

    // This node takes over once the dead node's leases and the retries' backoffs run
    // out (its clock is moved on rather than waited for).
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(120);
    while count_status(&app, "cancelled").await < 100 {
        assert!(
            std::time::Instant::now() < deadline,
            "the refunds never finished"
        );
        clock.advance(Duration::minutes(2));
        screema::outbox::deliver_due(&app.app, 500).await.unwrap();
    }
    assert!(faults.failed_before.load(Ordering::SeqCst) > 0);
    assert!(faults.failed_after.load(Ordering::SeqCst) > 0);

    // Exactly once: each intent's refunds at Stripe add up to its 10.00.
    for (_, id, intent) in &bookings {
        let cents: i64 = crate::payments::refunded_cents(&client, intent)
            .await
            .iter()
            .sum();
        assert_eq!(cents, 1000, "booking {id}, intent {intent}");
    }
    let (user, id, _) = &bookings[0];
    let b = booking(&app, user, id).await;
    assert_eq!(b["status"], "CANCELLED");
    let back: Vec<&str> = b["refunds"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["status"] == "succeeded")
        .map(|r| r["amount"]["amount"].as_str().unwrap())
        .collect();
    assert_eq!(back, vec!["10.00"]);
    let states = seat_states(&app, show).await;
    assert!(states.iter().all(|(_, s)| s == "AVAILABLE"), "{states:?}");
}

async fn count_status(app: &TestApp, status: &str) -> i64 {
    use diesel::prelude::*;
    use diesel_async::RunQueryDsl;
    use screema::db::schema::bookings;
    let status = match status {
        "confirmed" => screema::db::enums::BookingStatus::Confirmed,
        _ => screema::db::enums::BookingStatus::Cancelled,
    };
    bookings::table
        .filter(bookings::status.eq(status))
        .count()
        .get_result(&mut app.conn().await)
        .await
        .unwrap()
}

/// Tickets sold at the counter have no payment intent: a cancelled showtime ends them
/// at once, and the cash is given back at the counter (the booking is flagged for
/// staff, the customer told where); nothing is sent to the gateway and the outbox
/// does not retry forever.
#[tokio::test]
async fn counter_sales_of_a_cancelled_showtime_are_given_back_at_the_counter() {
    let app = TestApp::builder().env("OUTBOX_POLL_MS", "50").build().await;
    let room = room(&app, None).await;
    let show = showtime_at(&app, &room, Utc::now() + Duration::days(2), "10.00").await;
    let operator = app.with_user(Role::Operator).await;
    let mut sold = Vec::new();
    for (seat, payment) in [("A1", "CASH"), ("A2", "COMPLIMENTARY")] {
        let r = app
            .gql_as(
                &operator.token,
                "mutation($i: SellAtCounterInput!) { sellAtCounter(input: $i) { id } }",
                json!({"i": {"showtimeId": show.to_string(), "payment": payment,
                             "tickets": [{"seatNumber": seat, "ticketType": "ADULT"}]}}),
            )
            .await;
        sold.push(r.data()["sellAtCounter"]["id"].as_str().unwrap().to_owned());
    }
    cancel(&app, &room.admin, show, "storm").await.data();
    for id in &sold {
        eventually("the counter sale ends", || async {
            booking(&app, &operator, id).await["status"] == "CANCELLED"
        })
        .await;
    }
    // The cash is owed at the counter: a refund pending until it is handed over; the
    // complimentary sale owes nothing.
    let owed = booking(&app, &operator, &sold[0]).await["refunds"].clone();
    assert_eq!(
        owed,
        json!([{"amount": {"amount": "10.00"}, "status": "pending",
                "reason": "the showtime was cancelled", "handedBackAt": null}])
    );
    assert_eq!(count(&app, "refunds").await, 1);
    assert!(
        messages(&app, &operator)
            .await
            .iter()
            .any(|m| m.contains("bring its reference to the box office for your 10.00 USD")),
        "{:?}",
        messages(&app, &operator).await
    );
    // Both refund_cancelled rows were delivered at the first attempt, none failed (a
    // row is marked delivered just after its booking ends).
    let rows = || async {
        use diesel::prelude::*;
        use diesel_async::RunQueryDsl;
        use screema::db::schema::outbox;
        outbox::table
            .filter(outbox::kind.eq("refund_cancelled"))
            .select((
                outbox::attempts,
                outbox::last_error,
                outbox::delivered_at.is_not_null(),
            ))
            .load::<(i32, Option<String>, bool)>(&mut app.conn().await)
            .await
            .unwrap()
    };
    eventually("both rows delivered", || async {
        rows().await.iter().all(|r| r.2)
    })
    .await;
    assert_eq!(rows().await, vec![(1, None, true), (1, None, true)]);
    assert_eq!(state(&seat_states(&app, show).await, "A1"), "AVAILABLE");

    // The customer comes for it: the operator hands it over, once.
    let handed = app
        .gql_as(
            &operator.token,
            "mutation($i: RefundInput!) { refundBooking(input: $i) { amount { amount } status handedBackAt } }",
            json!({"i": {"bookingId": sold[0]}}),
        )
        .await;
    let handed = &handed.data()["refundBooking"];
    assert_eq!(handed["status"], "succeeded");
    assert_eq!(handed["amount"]["amount"], "10.00");
    assert!(handed["handedBackAt"].is_string());
    let again = app
        .gql_as(
            &operator.token,
            "mutation($i: RefundInput!) { refundBooking(input: $i) { status } }",
            json!({"i": {"bookingId": sold[0]}}),
        )
        .await;
    assert_eq!(again.code(), "CONFLICT");
    assert_eq!(count(&app, "refunds").await, 1);
}
