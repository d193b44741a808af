//! Refunds of part of a booking through the API: one seat of four (and a snack) back,
//! at exactly what it cost after its share of the discount; the seat is on sale again
//! at once; the rest stands with a new ticket code and the old one is void; points
//! follow the money kept; `Booking.refunds` lists it; what is left is refunded whole.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::common;
use crate::ticket_types::{BOOK, family_prices, room, showtime};

use common::fixtures as fx;
use common::flow::{check_in, count, lock, pay, revoked, seat_states};
use common::{TestApp, TestUser};
use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use screema::db::enums::Role;
use screema::db::schema::users;
use serde_json::{Value, json};
use uuid::Uuid;

const REFUND: &str = "mutation($i: RefundInput!) { refundBooking(input: $i) { refundId amount { amount } status seatNumbers snacks { snackId quantity } } }";
const BOOKING: &str = "query($id: ID!) { booking(id: $id) { status seatNumbers qrCode \
    totalAmount { amount } discountAmount { amount } finalAmount { amount } \
    tickets { seatNumber ticketType finalPrice { amount } } snacks { quantity snack { id } } \
    refunds { amount { amount } status seatNumbers snacks { snackId quantity } reason } } }";

struct Bought {
    showtime: Uuid,
    booking: String,
    popcorn: Uuid,
    buyer: TestUser,
}

/// A family of four at 10 % loyalty discount: A1 ADULT 10.00, A2 CHILD 6.50, B1 SENIOR
/// 10.50, B3 MEMBER 16.00 and two popcorns at 5.00; paid.
async fn bought(app: &TestApp) -> Bought {
    let room = room(app, None).await;
    let created = showtime(app, &room, Some(family_prices())).await;
    let showtime: Uuid = created.data()["createShowtime"]["id"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    let popcorn = {
        let mut conn = app.conn().await;
        fx::snack(&mut conn, "Popcorn", "popcorn", "5.00", true).await
    };
    let buyer = app.with_user(Role::Customer).await;
    diesel::update(users::table.find(buyer.id))
        .set((users::points.eq(100), users::tier.eq("silver")))
        .execute(&mut app.conn().await)
        .await
        .unwrap();
    let token = lock(app, &buyer, showtime, &["A1", "A2", "B1", "B3"]).await;
    let r = app
        .gql_as(
            &buyer.token,
            BOOK,
            json!({"i": {"showtimeId": showtime.to_string(), "lockToken": token,
                "snacks": [{"snackId": popcorn.to_string(), "quantity": 2}],
                "tickets": [
                    {"seatNumber": "A1", "ticketType": "ADULT"},
                    {"seatNumber": "A2", "ticketType": "CHILD"},
                    {"seatNumber": "B1", "ticketType": "SENIOR"},
                    {"seatNumber": "B3", "ticketType": "MEMBER"}]}}),
        )
        .await;
    let booking = r.data()["createBooking"]["booking"].clone();
    assert_eq!(booking["finalAmount"]["amount"], "48.70", "{booking}");
    let id = booking["id"].as_str().unwrap().to_owned();
    pay(app, &id).await;
    Bought {
        showtime,
        booking: id,
        popcorn,
        buyer,
    }
}

fn tiers(builder: common::TestAppBuilder) -> common::TestAppBuilder {
    builder
        .env("SIMULATED_PAYMENT_DELAY_MS", "600000")
        .env("LOYALTY_TIERS", "bronze:0:0,silver:100:10")
}

async fn booking(app: &TestApp, user: &TestUser, id: &str) -> Value {
    app.gql_as(&user.token, BOOKING, json!({"id": id}))
        .await
        .data()["booking"]
        .clone()
}

fn state(states: &[(String, String)], seat: &str) -> String {
    states.iter().find(|(s, _)| s == seat).unwrap().1.clone()
}

#[tokio::test]
async fn one_seat_of_four_and_a_snack_go_back_at_what_they_cost_and_the_rest_stands() {
    let app = tiers(TestApp::builder()).build().await;
    let b = bought(&app).await;
    let before = booking(&app, &b.buyer, &b.booking).await;
    let old_code = before["qrCode"].as_str().unwrap().to_owned();

    let r = app
        .gql_as(
            &b.buyer.token,
            REFUND,
            json!({"i": {"bookingId": b.booking, "reason": "the little one is ill",
                         "seatNumbers": ["A2"], "snacks": [{"snackId": b.popcorn.to_string(), "quantity": 1}]}}),
        )
        .await;
    let refund = &r.data()["refundBooking"];
    // The CHILD ticket's 6.50 less its 0.65 share of the discount, and a popcorn.
    assert_eq!(refund["amount"]["amount"], "10.85");
    assert_eq!(refund["status"], "succeeded");
    assert_eq!(refund["seatNumbers"], json!(["A2"]));
    assert_eq!(
        refund["snacks"],
        json!([{"snackId": b.popcorn.to_string(), "quantity": 1}])
    );

    // The seat is on sale again at once: on the map, and to the next buyer.
    let states = seat_states(&app, b.showtime).await;
    assert_eq!(state(&states, "A2"), "AVAILABLE");
    assert_eq!(state(&states, "A1"), "BOOKED");
    let next = app.with_user(Role::Customer).await;
    lock(&app, &next, b.showtime, &["A2"]).await;

    let after = booking(&app, &b.buyer, &b.booking).await;
    assert_eq!(after["status"], "CONFIRMED");
    assert_eq!(after["seatNumbers"], json!(["A1", "B1", "B3"]));
    assert_eq!(after["totalAmount"]["amount"], "41.50");
    assert_eq!(after["discountAmount"]["amount"], "3.65");
    assert_eq!(after["finalAmount"]["amount"], "37.85");
    assert_eq!(
        after["tickets"],
        json!([
            {"seatNumber": "A1", "ticketType": "ADULT", "finalPrice": {"amount": "9.00"}},
            {"seatNumber": "B1", "ticketType": "SENIOR", "finalPrice": {"amount": "9.45"}},
            {"seatNumber": "B3", "ticketType": "MEMBER", "finalPrice": {"amount": "14.40"}}
        ])
    );
    assert_eq!(after["snacks"][0]["quantity"], 1);
    assert_eq!(
        after["refunds"],
        json!([{"amount": {"amount": "10.85"}, "status": "succeeded", "seatNumbers": ["A2"],
                "snacks": [{"snackId": b.popcorn.to_string(), "quantity": 1}],
                "reason": "the little one is ill"}])
    );

    // A new ticket for what is left; the old code is refused at the door.
    let new_code = after["qrCode"].as_str().unwrap().to_owned();
    assert_ne!(new_code, old_code);
    let claims = app.app.tickets.verify(&new_code).unwrap();
    assert_eq!(claims.seats, ["A1", "B1", "B3"]);
    let operator = app.with_user(Role::Operator).await;
    let r = check_in(&app, &operator, &old_code).await;
    assert_eq!(r.code(), "BAD_USER_INPUT");
    assert!(
        r.error()["message"]
            .as_str()
            .unwrap()
            .contains("not the booking's current ticket")
    );
    // And a scanner offline learns it: the booking is listed as revoked after the old
    // code was issued and before the new one was.
    let listed = revoked(&app, &operator, b.showtime)
        .await
        .into_iter()
        .find(|r| r["bookingId"] == b.booking)
        .expect("the partly refunded booking is listed");
    let revoked_at: chrono::DateTime<chrono::Utc> =
        listed["revokedAt"].as_str().unwrap().parse().unwrap();
    let old_claims = app.app.tickets.verify(&old_code).unwrap();
    assert!(revoked_at >= old_claims.issued_at && revoked_at < claims.issued_at);

    // Points follow the money kept: 37.85 → 37.
    let me = app
        .gql_as(&b.buyer.token, "{ me { pendingPoints } }", json!({}))
        .await;
    assert_eq!(me.data()["me"]["pendingPoints"], 37);

    // Every seat that is left, back: the whole of what remains, and the booking ends.
    let r = app
        .gql_as(
            &b.buyer.token,
            REFUND,
            json!({"i": {"bookingId": b.booking, "seatNumbers": ["B3", "A1", "B1"]}}),
        )
        .await;
    assert_eq!(r.data()["refundBooking"]["amount"]["amount"], "37.85");
    let ended = booking(&app, &b.buyer, &b.booking).await;
    assert_eq!(ended["status"], "CANCELLED");
    assert_eq!(ended["qrCode"], Value::Null);
    assert_eq!(ended["refunds"].as_array().unwrap().len(), 2);
    let states = seat_states(&app, b.showtime).await;
    for seat in ["A1", "B1", "B3"] {
        assert_eq!(state(&states, seat), "AVAILABLE", "{seat}");
    }
    let me = app
        .gql_as(&b.buyer.token, "{ me { pendingPoints } }", json!({}))
        .await;
    assert_eq!(me.data()["me"]["pendingPoints"], 0);
}

#[tokio::test]
async fn asking_back_what_the_booking_does_not_have_is_refused_and_writes_nothing() {
    let app = tiers(TestApp::builder()).build().await;
    let b = bought(&app).await;
    let stranger = app.with_user(Role::Customer).await;
    let ask = |user: &TestUser, extra: Value| {
        let mut i = json!({"bookingId": b.booking});
        for (k, v) in extra.as_object().unwrap() {
            i[k] = v.clone();
        }
        let token = user.token.clone();
        let app = &app;
        async move { app.gql_as(&token, REFUND, json!({"i": i})).await }
    };
    for (extra, field) in [
        (json!({"seatNumbers": ["C9"]}), "seatNumbers"),
        (json!({"seatNumbers": ["A2", "A2"]}), "seatNumbers"),
        (json!({"seatNumbers": ["not a seat"]}), "seatNumbers"),
        (
            json!({"snacks": [{"snackId": b.popcorn.to_string(), "quantity": 3}]}),
            "snacks",
        ),
        (
            json!({"snacks": [{"snackId": b.popcorn.to_string(), "quantity": 0}]}),
            "snacks",
        ),
        (
            json!({"snacks": [{"snackId": Uuid::new_v4().to_string(), "quantity": 1}]}),
            "snacks",
        ),
        (
            json!({"snacks": [{"snackId": "popcorn", "quantity": 1}]}),
            "snacks",
        ),
    ] {
        let r = ask(&b.buyer, extra.clone()).await;
        assert_eq!(r.code(), "BAD_USER_INPUT", "{extra}");
        assert_eq!(r.field(), Some(field), "{extra}");
    }
    assert_eq!(
        ask(&stranger, json!({"seatNumbers": ["A2"]})).await.code(),
        "NOT_FOUND"
    );
    assert_eq!(count(&app, "refunds").await, 0);
    let unchanged = booking(&app, &b.buyer, &b.booking).await;
    assert_eq!(unchanged["seatNumbers"], json!(["A1", "A2", "B1", "B3"]));
    assert_eq!(unchanged["finalAmount"]["amount"], "48.70");
}

/// Two customers' devices give back different seats of one booking at the same moment:
/// the money that goes back is exactly what the seats taken off cost, and every seat
/// is either still booked or free, never both lost nor kept twice.
#[tokio::test]
async fn two_partial_refunds_at_once_give_back_exactly_what_they_take_off() {
    let app = tiers(TestApp::builder()).build().await;
    let b = bought(&app).await;
    let (a, c) = tokio::join!(
        app.gql_as(
            &b.buyer.token,
            REFUND,
            json!({"i": {"bookingId": b.booking, "seatNumbers": ["A1"]}})
        ),
        app.gql_as(
            &b.buyer.token,
            REFUND,
            json!({"i": {"bookingId": b.booking, "seatNumbers": ["B1"]}})
        ),
    );
    let succeeded: Vec<&Value> = [&a, &c]
        .iter()
        .filter(|r| r.body["errors"].is_null())
        .map(|r| &r.data()["refundBooking"])
        .collect();
    for r in [&a, &c] {
        if !r.body["errors"].is_null() {
            assert_eq!(r.code(), "CONFLICT");
        }
    }
    assert!(!succeeded.is_empty());
    let after = booking(&app, &b.buyer, &b.booking).await;
    let kept: Vec<String> = after["seatNumbers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s.as_str().unwrap().to_owned())
        .collect();
    let states = seat_states(&app, b.showtime).await;
    let mut given_back = rust_decimal::Decimal::ZERO;
    for (seat, price) in [("A1", "9.00"), ("B1", "9.45")] {
        let freed = !kept.contains(&seat.to_owned());
        assert_eq!(
            state(&states, seat),
            if freed { "AVAILABLE" } else { "BOOKED" }
        );
        if freed {
            given_back += fx::dec(price);
        }
    }
    let refunded: rust_decimal::Decimal = succeeded
        .iter()
        .map(|r| fx::dec(r["amount"]["amount"].as_str().unwrap()))
        .sum();
    assert_eq!(refunded, given_back);
    assert_eq!(
        fx::dec(after["finalAmount"]["amount"].as_str().unwrap()) + given_back,
        fx::dec("48.70")
    );
}
