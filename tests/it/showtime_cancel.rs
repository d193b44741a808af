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
            "query($id: ID!) { booking(id: $id) { status qrCode refunds { amount { amount } status reason } } }",
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
        json!([{"amount": {"amount": "20.00"}, "status": "succeeded", "reason": "the showtime was cancelled"}])
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
