//! Giving back at the counter what was sold there: `refundBooking` by an operator on a
//! sale paid in cash or on the counter's card terminal is answered at once (the money
//! is handed over), whole or in part, whatever the cut-off; a complimentary sale gives
//! its tickets back; the customer cannot take it online; an operator cannot refund an
//! online sale.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::common;
use crate::exchanges::{showtime_at, state};
use crate::ticket_types::room;

use chrono::{Duration, Utc};
use common::flow::{count, seat_states};
use common::{Gql, TestApp, TestUser};
use screema::db::enums::Role;
use serde_json::{Value, json};
use uuid::Uuid;

const SELL: &str = "mutation($i: SellAtCounterInput!) { sellAtCounter(input: $i) { id qrCode } }";

const REFUND: &str = "mutation($i: RefundInput!) { refundBooking(input: $i) { amount { amount } \
    status seatNumbers handedBackAt } }";

const BOOKING: &str = "query($id: ID!) { booking(id: $id) { status seatNumbers qrCode \
    finalAmount { amount } refunds { amount { amount } status seatNumbers handedBackAt } } }";

async fn sell(app: &TestApp, seller: &TestUser, input: Value) -> (String, String) {
    let r = app.gql_as(&seller.token, SELL, json!({ "i": input })).await;
    let b = &r.data()["sellAtCounter"];
    (
        b["id"].as_str().unwrap().to_owned(),
        b["qrCode"].as_str().unwrap().to_owned(),
    )
}

async fn refund(app: &TestApp, user: &TestUser, input: Value) -> Gql {
    app.gql_as(&user.token, REFUND, json!({ "i": input })).await
}

async fn booking(app: &TestApp, user: &TestUser, id: &str) -> Value {
    app.gql_as(&user.token, BOOKING, json!({ "id": id }))
        .await
        .data()["booking"]
        .clone()
}

async fn email_of(app: &TestApp, user: &TestUser) -> String {
    use diesel::prelude::*;
    use diesel_async::RunQueryDsl;
    screema::db::schema::users::table
        .find(user.id)
        .select(screema::db::schema::users::email)
        .first(&mut app.conn().await)
        .await
        .unwrap()
}

async fn pending_points(app: &TestApp, user: &TestUser) -> i64 {
    let me = app
        .gql_as(&user.token, "{ me { pendingPoints } }", json!({}))
        .await;
    me.data()["me"]["pendingPoints"].as_i64().unwrap()
}

fn adults(seats: &[&str]) -> Value {
    seats
        .iter()
        .map(|seat| json!({"seatNumber": seat, "ticketType": "ADULT"}))
        .collect()
}

#[tokio::test]
async fn an_operator_hands_back_a_cash_sale_in_part_then_whole() {
    let app = TestApp::new().await;
    let room = room(&app, None).await;
    // It starts within the refund cut-off (2 hours): the counter is not bound by it.
    let show = showtime_at(&app, &room, Utc::now() + Duration::minutes(30), "10.00").await;
    let operator = app.with_user(Role::Operator).await;
    let customer = app.with_user(Role::Customer).await;
    let (id, code) = sell(
        &app,
        &operator,
        json!({"showtimeId": show.to_string(), "tickets": adults(&["A1", "A2"]),
               "payment": "CASH", "customerEmail": email_of(&app, &customer).await}),
    )
    .await;

    // The customer cannot take cash back online.
    let r = refund(&app, &customer, json!({"bookingId": id})).await;
    assert_eq!(r.code(), "CONFLICT");
    assert!(
        r.error()["message"]
            .as_str()
            .unwrap()
            .contains("paid at the counter"),
        "{:?}",
        r.error()
    );
    assert_eq!(count(&app, "refunds").await, 0);

    assert_eq!(
        pending_points(&app, &customer).await,
        20,
        "a counter sale earns points"
    );

    // One seat of two, handed back over the counter: answered at once.
    let r = refund(
        &app,
        &operator,
        json!({"bookingId": id, "seatNumbers": ["A1"], "reason": "one of them is ill"}),
    )
    .await;
    let given = &r.data()["refundBooking"];
    assert_eq!(given["status"], "succeeded");
    assert_eq!(given["amount"]["amount"], "10.00");
    assert_eq!(given["seatNumbers"], json!(["A1"]));
    assert!(given["handedBackAt"].is_string());
    let b = booking(&app, &customer, &id).await;
    assert_eq!(b["status"], "CONFIRMED");
    assert_eq!(b["seatNumbers"], json!(["A2"]));
    assert_eq!(b["finalAmount"]["amount"], "10.00");
    assert_ne!(
        b["qrCode"], code,
        "the old ticket is voided, a new code issued"
    );
    let states = seat_states(&app, show).await;
    assert_eq!(state(&states, "A1"), "AVAILABLE");
    assert_eq!(state(&states, "A2"), "BOOKED");
    assert_eq!(
        pending_points(&app, &customer).await,
        10,
        "points follow the money kept"
    );

    // The rest: the booking ends, both refunds listed.
    let r = refund(&app, &operator, json!({"bookingId": id})).await;
    assert_eq!(r.data()["refundBooking"]["amount"]["amount"], "10.00");
    let b = booking(&app, &customer, &id).await;
    assert_eq!(b["status"], "CANCELLED");
    assert_eq!(b["refunds"].as_array().unwrap().len(), 2);
    assert_eq!(pending_points(&app, &customer).await, 0);
    assert_eq!(
        state(&seat_states(&app, show).await, "A2"),
        "AVAILABLE",
        "the last seat is free again"
    );
    // The payment is refunded in full, in the ledger as in the reports.
    let (status, back): (screema::db::enums::PaymentStatus, rust_decimal::Decimal) = {
        use diesel::prelude::*;
        use diesel_async::RunQueryDsl;
        use screema::db::schema::payments;
        payments::table
            .filter(payments::booking_id.eq(Uuid::parse_str(&id).unwrap()))
            .select((payments::status, payments::amount_refunded))
            .first(&mut app.conn().await)
            .await
            .unwrap()
    };
    assert_eq!(status, screema::db::enums::PaymentStatus::Refunded);
    assert_eq!(back.to_string(), "20.00");

    // Nothing is left: asking again is CONFLICT and writes nothing.
    let r = refund(&app, &operator, json!({"bookingId": id})).await;
    assert_eq!(r.code(), "CONFLICT");
    assert_eq!(count(&app, "refunds").await, 2);
}

#[tokio::test]
async fn a_complimentary_sale_gives_its_tickets_back() {
    let app = TestApp::new().await;
    let room = room(&app, None).await;
    let show = showtime_at(&app, &room, Utc::now() + Duration::days(1), "10.00").await;
    let operator = app.with_user(Role::Operator).await;
    let (id, _) = sell(
        &app,
        &operator,
        json!({"showtimeId": show.to_string(), "tickets": adults(&["A1", "A2", "A3"]),
               "payment": "COMPLIMENTARY"}),
    )
    .await;
    // One of three: the others stand.
    let r = refund(
        &app,
        &operator,
        json!({"bookingId": id, "seatNumbers": ["A3"]}),
    )
    .await;
    assert_eq!(r.data()["refundBooking"]["amount"]["amount"], "0.00");
    let b = booking(&app, &operator, &id).await;
    assert_eq!(b["status"], "CONFIRMED");
    assert_eq!(b["seatNumbers"], json!(["A1", "A2"]));
    assert_eq!(state(&seat_states(&app, show).await, "A3"), "AVAILABLE");
    // Then all of it.
    refund(&app, &operator, json!({"bookingId": id}))
        .await
        .data();
    let b = booking(&app, &operator, &id).await;
    assert_eq!(b["status"], "CANCELLED");
    let states = seat_states(&app, show).await;
    for seat in ["A1", "A2"] {
        assert_eq!(state(&states, seat), "AVAILABLE", "{seat}");
    }
}

#[tokio::test]
async fn only_staff_give_counter_money_back_and_operators_only_that() {
    let app = TestApp::new().await;
    let room = room(&app, None).await;
    let show = showtime_at(&app, &room, Utc::now() + Duration::days(1), "10.00").await;
    let operator = app.with_user(Role::Operator).await;
    let stranger = app.with_user(Role::Customer).await;
    let (id, _) = sell(
        &app,
        &operator,
        json!({"showtimeId": show.to_string(), "tickets": adults(&["A1"]), "payment": "CARD_PRESENT"}),
    )
    .await;
    // Someone else's booking: not even seen.
    let r = refund(&app, &stranger, json!({"bookingId": id})).await;
    assert_eq!(r.code(), "NOT_FOUND");
    // A seat that is not in it names the field.
    let r = refund(
        &app,
        &operator,
        json!({"bookingId": id, "seatNumbers": ["B1"]}),
    )
    .await;
    assert_eq!(r.code(), "BAD_USER_INPUT");
    assert_eq!(r.field(), Some("seatNumbers"));
    assert_eq!(count(&app, "refunds").await, 0);

    // An online sale is the customer's or an admin's to refund, not the counter's.
    let buyer = app.with_user(Role::Customer).await;
    let (online, _) = common::flow::confirmed(&app, &buyer, show, &["B1"]).await;
    let r = refund(&app, &operator, json!({"bookingId": online})).await;
    assert_eq!(r.code(), "FORBIDDEN");
    assert_eq!(count(&app, "refunds").await, 0);

    // An admin hands back a card-present sale as an operator does.
    let admin = app.with_user(Role::Admin).await;
    let r = refund(&app, &admin, json!({"bookingId": id})).await;
    assert_eq!(r.data()["refundBooking"]["status"], "succeeded");
    assert_eq!(booking(&app, &admin, &id).await["status"], "CANCELLED");
}
