//! Dearer exchanges through the API: the exchange waits for its difference, paid
//! through its own payment intent, and is carried out when the money arrives; money
//! for an exchange that can no longer be carried out goes back; a booking with two
//! payments is refunded from both, latest first, and only once.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::common;
use crate::exchanges::{BOOKING, app_builder, exchange, paid, showtime_at, state};
use crate::ticket_types::room;

use chrono::{Duration, Utc};
use common::flow::{
    count, event, intent_object, lock, paid_intent_object, seat_states, send_event,
};
use common::{Gql, TestApp, TestUser};
use screema::db::enums::Role;
use serde_json::{Value, json};
use uuid::Uuid;

const PENDING: &str = "query($id: ID!) { booking(id: $id) { status seatNumbers finalAmount { amount } \
    qrCode pendingExchange { seatNumbers amountDue { amount currency } finalAmount { amount } \
    expiresAt showtime { id } } refunds { amount { amount } status seatNumbers } } }";

async fn booking(app: &TestApp, user: &TestUser, id: &str) -> Value {
    let r = app.gql_as(&user.token, PENDING, json!({"id": id})).await;
    r.data()["booking"].clone()
}

async fn intent(app: &TestApp, user: &TestUser, id: &str) -> Gql {
    app.gql_as(
        &user.token,
        "mutation($b: ID!) { createPaymentIntent(bookingId: $b) { paymentIntentId clientSecret } }",
        json!({"b": id}),
    )
    .await
}

async fn intent_id(app: &TestApp, user: &TestUser, id: &str) -> String {
    let r = intent(app, user, id).await;
    r.data()["createPaymentIntent"]["paymentIntentId"]
        .as_str()
        .unwrap_or_else(|| panic!("{r:?}"))
        .to_owned()
}

async fn pay_intent(app: &TestApp, intent: &str, booking: &str) {
    let body = event(
        &format!("evt_{}", Uuid::new_v4().simple()),
        "payment_intent.succeeded",
        intent_object(app, intent, booking).await,
    );
    assert_eq!(send_event(app, &body).await, 200);
}

async fn titles(app: &TestApp, user: &TestUser) -> Vec<String> {
    let r = app
        .gql_as(&user.token, "{ notifications { title } }", json!({}))
        .await;
    r.data()["notifications"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["title"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn a_dearer_exchange_is_carried_out_once_its_difference_is_paid() {
    let app = app_builder().build().await;
    let room = room(&app, None).await;
    let show = showtime_at(&app, &room, Utc::now() + Duration::days(2), "10.00").await;
    let buyer = app.with_user(Role::Customer).await;
    let (id, old_code) = paid(&app, &buyer, show, &["A1", "A2"]).await;

    // A2 stays, A1 becomes the couple seat B3: 10.00 + 20.00 against 20.00 paid.
    let token = lock(&app, &buyer, show, &["B3"]).await;
    let r = exchange(&app, &buyer, &id, show, &["A2", "B3"], &token).await;
    let b = &r.data()["exchangeBooking"];
    assert_eq!(
        b["seatNumbers"],
        json!(["A1", "A2"]),
        "nothing moves before it is paid"
    );
    assert_eq!(b["finalAmount"]["amount"], "20.00");
    let waiting = booking(&app, &buyer, &id).await;
    let pending = &waiting["pendingExchange"];
    assert_eq!(pending["seatNumbers"], json!(["A2", "B3"]));
    assert_eq!(
        pending["amountDue"],
        json!({"amount": "10.00", "currency": "USD"})
    );
    assert_eq!(pending["finalAmount"]["amount"], "30.00");
    assert_eq!(pending["showtime"]["id"], show.to_string());
    assert!(pending["expiresAt"].is_string());

    // The difference has an intent of its own; asking again gives the same one.
    let pi = intent_id(&app, &buyer, &id).await;
    assert_eq!(intent_id(&app, &buyer, &id).await, pi);
    // Only the owner pays it.
    let stranger = app.with_user(Role::Customer).await;
    assert_eq!(intent(&app, &stranger, &id).await.code(), "NOT_FOUND");

    pay_intent(&app, &pi, &id).await;
    let after = booking(&app, &buyer, &id).await;
    assert_eq!(after["status"], "CONFIRMED");
    assert_eq!(after["seatNumbers"], json!(["A2", "B3"]));
    assert_eq!(after["finalAmount"]["amount"], "30.00");
    assert_eq!(after["pendingExchange"], Value::Null);
    assert_ne!(after["qrCode"], json!(old_code));
    let states = seat_states(&app, show).await;
    assert_eq!(
        (
            state(&states, "A1"),
            state(&states, "A2"),
            state(&states, "B3")
        ),
        ("AVAILABLE".into(), "BOOKED".into(), "BOOKED".into())
    );
    let me = app
        .gql_as(&buyer.token, "{ me { pendingPoints } }", json!({}))
        .await;
    assert_eq!(
        me.data()["me"]["pendingPoints"],
        30,
        "points follow both payments"
    );
    // A replay of the event changes nothing.
    pay_intent(&app, &pi, &id).await;
    assert_eq!(
        booking(&app, &buyer, &id).await["seatNumbers"],
        json!(["A2", "B3"])
    );
    // Nothing left to pay.
    assert_eq!(intent(&app, &buyer, &id).await.code(), "CONFLICT");

    // Giving back B3 (20.00) takes 10.00 from the difference's payment and 10.00 from
    // the booking's own, latest first.
    let r = app
        .gql_as(
            &buyer.token,
            "mutation($i: RefundInput!) { refundBooking(input: $i) { amount { amount } seatNumbers } }",
            json!({"i": {"bookingId": id, "seatNumbers": ["B3"]}}),
        )
        .await;
    assert_eq!(
        r.data()["refundBooking"]["seatNumbers"],
        json!(["B3"]),
        "{r:?}"
    );
    let after = booking(&app, &buyer, &id).await;
    assert_eq!(after["seatNumbers"], json!(["A2"]));
    assert_eq!(after["finalAmount"]["amount"], "10.00");
    let mut amounts: Vec<(String, String)> = after["refunds"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["amount"]["amount"].as_str().unwrap().to_owned(),
                r["status"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    amounts.sort();
    assert_eq!(
        amounts,
        vec![
            ("10.00".to_owned(), "succeeded".to_owned()),
            ("10.00".to_owned(), "succeeded".to_owned())
        ]
    );
    // The rest of the booking: what is left of the first payment, 10.00.
    let r = app
        .gql_as(
            &buyer.token,
            "mutation($i: RefundInput!) { refundBooking(input: $i) { amount { amount } status } }",
            json!({"i": {"bookingId": id}}),
        )
        .await;
    assert_eq!(
        r.data()["refundBooking"],
        json!({"amount": {"amount": "10.00"}, "status": "succeeded"})
    );
    let after = booking(&app, &buyer, &id).await;
    assert_eq!(after["status"], "CANCELLED");
    let given: Vec<(String, String)> = screema_payments(&app, &id).await;
    assert_eq!(
        given,
        vec![
            ("10.00".to_owned(), "refunded".to_owned()),
            ("20.00".to_owned(), "refunded".to_owned())
        ],
        "each payment given back in full, once"
    );
    assert_eq!(count(&app, "booking_exchanges").await, 1);
}

/// Each payment of the booking: amount refunded and status, smallest first.
async fn screema_payments(app: &TestApp, booking: &str) -> Vec<(String, String)> {
    use diesel::prelude::*;
    use diesel_async::RunQueryDsl;
    use screema::db::schema::payments;
    let rows: Vec<(rust_decimal::Decimal, screema::db::enums::PaymentStatus)> = payments::table
        .filter(payments::booking_id.eq(Uuid::parse_str(booking).unwrap()))
        .order(payments::amount_refunded)
        .select((payments::amount_refunded, payments::status))
        .load(&mut app.conn().await)
        .await
        .unwrap();
    rows.into_iter()
        .map(|(a, s)| (format!("{a:.2}"), format!("{s:?}").to_lowercase()))
        .collect()
}

#[tokio::test]
async fn money_for_an_exchange_that_cannot_be_carried_out_goes_back() {
    let app = app_builder().build().await;
    let room = room(&app, None).await;
    let show = showtime_at(&app, &room, Utc::now() + Duration::days(2), "10.00").await;
    let buyer = app.with_user(Role::Customer).await;
    let rival = app.with_user(Role::Customer).await;
    let (id, _) = paid(&app, &buyer, show, &["A1"]).await;

    // Replaced: an exchange to B1 (5.00 more), then one to B3 (10.00 more). The first's
    // intent is cancelled; paid all the same, its money goes back.
    let b1 = lock(&app, &buyer, show, &["B1"]).await;
    exchange(&app, &buyer, &id, show, &["B1"], &b1).await;
    let first = intent_id(&app, &buyer, &id).await;
    let b3 = lock(&app, &buyer, show, &["B3"]).await;
    exchange(&app, &buyer, &id, show, &["B3"], &b3).await;
    assert_eq!(
        booking(&app, &buyer, &id).await["pendingExchange"]["amountDue"]["amount"],
        "10.00"
    );
    pay_intent(&app, &first, &id).await;
    let b = booking(&app, &buyer, &id).await;
    assert_eq!(b["seatNumbers"], json!(["A1"]));
    assert_eq!(
        b["refunds"],
        json!([{"amount": {"amount": "5.00"}, "status": "succeeded", "seatNumbers": []}])
    );
    assert!(
        titles(&app, &buyer)
            .await
            .contains(&"Exchange not made".to_owned())
    );

    // Sold meanwhile: the buyer lets the B3 hold go, a rival books B3, then the
    // buyer pays the difference: the money goes back, the booking stays as it was.
    let second = intent_id(&app, &buyer, &id).await;
    assert_ne!(second, first);
    let released = app
        .gql_as(
            &buyer.token,
            "mutation($t: String!) { releaseSeats(lockToken: $t) }",
            json!({"t": b3}),
        )
        .await;
    assert_eq!(released.data()["releaseSeats"], true);
    let (theirs, _) = paid(&app, &rival, show, &["B3"]).await;
    pay_intent(&app, &second, &id).await;
    let b = booking(&app, &buyer, &id).await;
    assert_eq!(b["seatNumbers"], json!(["A1"]));
    assert_eq!(b["pendingExchange"], Value::Null);
    assert_eq!(b["refunds"].as_array().unwrap().len(), 2);
    assert_eq!(b["refunds"][1]["amount"]["amount"], "10.00");
    let r = app
        .gql_as(&rival.token, BOOKING, json!({"id": theirs}))
        .await;
    assert_eq!(r.data()["booking"]["seatNumbers"], json!(["B3"]));
    assert_eq!(state(&seat_states(&app, show).await, "B3"), "BOOKED");

    // The wrong amount: not carried out, and refunded.
    let b2 = lock(&app, &buyer, show, &["B2"]).await;
    exchange(&app, &buyer, &id, show, &["B2"], &b2).await;
    let third = intent_id(&app, &buyer, &id).await;
    let body = event(
        &format!("evt_{}", Uuid::new_v4().simple()),
        "payment_intent.succeeded",
        paid_intent_object(&third, &id, 100, "USD"),
    );
    assert_eq!(send_event(&app, &body).await, 200);
    let b = booking(&app, &buyer, &id).await;
    assert_eq!(b["seatNumbers"], json!(["A1"]));
    assert_eq!(b["finalAmount"]["amount"], "10.00");
    assert_eq!(b["refunds"][2]["amount"]["amount"], "1.00");
    // The booking's own payment is whole: all of it can still be refunded.
    let r = app
        .gql_as(
            &buyer.token,
            "mutation($i: RefundInput!) { refundBooking(input: $i) { amount { amount } } }",
            json!({"i": {"bookingId": id}}),
        )
        .await;
    assert_eq!(r.data()["refundBooking"]["amount"]["amount"], "10.00");
    assert_eq!(booking(&app, &buyer, &id).await["status"], "CANCELLED");
}

#[tokio::test]
async fn an_exchange_nobody_pays_lapses_with_its_hold() {
    let app = app_builder()
        .env("HOLD_TTL_SECONDS", "3")
        .env("SWEEP_INTERVAL_MS", "100")
        .build()
        .await;
    let room = room(&app, None).await;
    let show = showtime_at(&app, &room, Utc::now() + Duration::days(2), "10.00").await;
    let buyer = app.with_user(Role::Customer).await;
    let (id, _) = paid(&app, &buyer, show, &["A1"]).await;
    let token = lock(&app, &buyer, show, &["B3"]).await;
    exchange(&app, &buyer, &id, show, &["B3"], &token).await;
    let pi = intent_id(&app, &buyer, &id).await;
    // The hold lapses, then the sweeper gives the exchange up after its grace.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while !booking(&app, &buyer, &id).await["pendingExchange"].is_null() {
        assert!(
            std::time::Instant::now() < deadline,
            "the exchange never lapsed"
        );
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    let r = intent(&app, &buyer, &id).await;
    assert_eq!(r.code(), "CONFLICT");
    // Paid late all the same: it goes back.
    pay_intent(&app, &pi, &id).await;
    let b = booking(&app, &buyer, &id).await;
    assert_eq!(b["seatNumbers"], json!(["A1"]));
    assert_eq!(b["refunds"][0]["amount"]["amount"], "10.00");
}

/// Against localstripe, Stripe's API as our gateway and Stripe.js use it: the booking
/// is paid by card, its dearer exchange by a second card payment on its own intent
/// (the exchange's id in its metadata), and a refund of the whole booking is one
/// refund per intent, each of what that intent holds.
#[tokio::test]
async fn a_dearer_exchange_paid_by_card_through_stripe() {
    use crate::payments::{localstripe_url, pay_with_card};
    let secret = format!("whsec_{}", Uuid::new_v4().simple());
    let app = TestApp::builder()
        .env("STRIPE_SECRET_KEY", "sk_test_screema")
        .env("STRIPE_API_BASE", &localstripe_url())
        .env("STRIPE_WEBHOOK_SECRET", &secret)
        .build()
        .await;
    let client = reqwest::Client::new();
    crate::payments::send_webhooks_to(&client, &app, &secret, &["payment_intent.succeeded"]).await;
    let room = room(&app, None).await;
    let show = showtime_at(&app, &room, Utc::now() + Duration::days(2), "10.00").await;
    let buyer = app.with_user(Role::Customer).await;
    let created = common::flow::book(&app, &buyer, show, &["A1"]).await;
    let id = created["booking"]["id"].as_str().unwrap().to_owned();
    let first = intent_id(&app, &buyer, &id).await;
    assert_eq!(
        pay_with_card(&client, &first, "4242424242424242").await,
        200
    );
    common::flow::eventually("the booking's payment", || async {
        booking(&app, &buyer, &id).await["status"] == "CONFIRMED"
    })
    .await;

    let token = lock(&app, &buyer, show, &["B3"]).await;
    exchange(&app, &buyer, &id, show, &["B3"], &token).await;
    let second = intent_id(&app, &buyer, &id).await;
    assert_ne!(second, first);
    let shown = client
        .get(format!("{}/v1/payment_intents/{second}", localstripe_url()))
        .basic_auth("sk_test_screema", Some(""))
        .send()
        .await
        .unwrap()
        .json::<Value>()
        .await
        .unwrap();
    assert_eq!(shown["amount"], 1000);
    assert_eq!(shown["metadata"]["booking_id"], id);
    assert!(shown["metadata"]["exchange_id"].is_string());
    assert_eq!(
        pay_with_card(&client, &second, "4242424242424242").await,
        200
    );
    common::flow::eventually("the exchange", || async {
        booking(&app, &buyer, &id).await["seatNumbers"] == json!(["B3"])
    })
    .await;

    let r = app
        .gql_as(
            &buyer.token,
            "mutation($i: RefundInput!) { refundBooking(input: $i) { amount { amount } status } }",
            json!({"i": {"bookingId": id}}),
        )
        .await;
    assert_eq!(
        r.data()["refundBooking"]["amount"]["amount"],
        "10.00",
        "{r:?}"
    );
    common::flow::eventually("both refunds", || async {
        booking(&app, &buyer, &id).await["status"] == "CANCELLED"
    })
    .await;
    for (intent, cents) in [(&first, 1000), (&second, 1000)] {
        assert_eq!(
            crate::payments::refunded_cents(&client, intent).await,
            vec![cents],
            "{intent}"
        );
    }
    assert_eq!(state(&seat_states(&app, show).await, "B3"), "AVAILABLE");
}

/// An event about an exchange's intent whose payment row is not written yet is
/// refused with 503, so that Stripe sends it again.
#[tokio::test]
async fn an_exchange_event_before_its_payment_is_written_is_asked_again() {
    let app = app_builder().build().await;
    let object = json!({"id": "pi_not_yet", "object": "payment_intent", "status": "succeeded",
        "amount": 500, "amount_received": 500, "currency": "usd",
        "metadata": {"booking_id": Uuid::new_v4().to_string(), "exchange_id": Uuid::new_v4().to_string()}});
    let body = event("evt_not_yet", "payment_intent.succeeded", object);
    assert_eq!(send_event(&app, &body).await, 503);
    assert_eq!(count(&app, "stripe_events").await, 0);
}

/// The difference's events in Stripe's order, not ours: a refund before the success
/// means the exchange is not made (and what was not refunded goes back too); a failed
/// payment tells the customer and keeps the exchange waiting; a cancelled intent gives
/// it up; an exchange made at once gives up the one waiting.
#[tokio::test]
async fn the_differences_events_apply_in_any_order() {
    let app = app_builder().build().await;
    let room = room(&app, None).await;
    let show = showtime_at(&app, &room, Utc::now() + Duration::days(2), "10.00").await;
    let buyer = app.with_user(Role::Customer).await;
    let (id, _) = paid(&app, &buyer, show, &["A1"]).await;
    let send = |kind: &'static str, object: Value| {
        let app = &app;
        async move {
            let body = event(&format!("evt_{}", Uuid::new_v4().simple()), kind, object);
            assert_eq!(send_event(app, &body).await, 200);
        }
    };

    // Failed, then refunded in part (4.00 of 10.00) before the success is seen.
    let token = lock(&app, &buyer, show, &["B3"]).await;
    exchange(&app, &buyer, &id, show, &["B3"], &token).await;
    let pi = intent_id(&app, &buyer, &id).await;
    send(
        "payment_intent.payment_failed",
        json!({"id": pi, "object": "payment_intent", "status": "requires_payment_method",
               "last_payment_error": {"message": "Your card was declined."}}),
    )
    .await;
    assert!(
        titles(&app, &buyer)
            .await
            .contains(&"Payment failed".to_owned())
    );
    assert!(!booking(&app, &buyer, &id).await["pendingExchange"].is_null());
    send(
        "charge.refunded",
        json!({"id": "ch_1", "object": "charge", "payment_intent": pi, "amount": 1000,
               "amount_refunded": 400, "currency": "usd",
               "refunds": {"data": [{"id": "re_dash", "amount": 400, "status": "succeeded"}]}}),
    )
    .await;
    let b = booking(&app, &buyer, &id).await;
    assert_eq!(b["seatNumbers"], json!(["A1"]));
    assert_eq!(b["pendingExchange"], Value::Null);
    let mut back: Vec<String> = b["refunds"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["amount"]["amount"].as_str().unwrap().to_owned())
        .collect();
    back.sort();
    assert_eq!(
        back,
        vec!["4.00", "6.00"],
        "all of the difference goes back"
    );
    // The success, late: nothing more happens.
    pay_intent(&app, &pi, &id).await;
    let b = booking(&app, &buyer, &id).await;
    assert_eq!(
        (
            b["seatNumbers"].clone(),
            b["refunds"].as_array().unwrap().len()
        ),
        (json!(["A1"]), 2)
    );
    assert_eq!(b["status"], "CONFIRMED");

    // Cancelled intent: the exchange is given up.
    let token = lock(&app, &buyer, show, &["B2"]).await;
    exchange(&app, &buyer, &id, show, &["B2"], &token).await;
    let pi = intent_id(&app, &buyer, &id).await;
    send(
        "payment_intent.canceled",
        json!({"id": pi, "object": "payment_intent", "status": "canceled"}),
    )
    .await;
    assert_eq!(
        booking(&app, &buyer, &id).await["pendingExchange"],
        Value::Null
    );

    // An exchange made at once (to A2, the same price) gives up the one waiting.
    let token = lock(&app, &buyer, show, &["B1"]).await;
    exchange(&app, &buyer, &id, show, &["B1"], &token).await;
    let pi = intent_id(&app, &buyer, &id).await;
    let a2 = lock(&app, &buyer, show, &["A2"]).await;
    let r = exchange(&app, &buyer, &id, show, &["A2"], &a2).await;
    assert_eq!(r.data()["exchangeBooking"]["seatNumbers"], json!(["A2"]));
    assert_eq!(
        booking(&app, &buyer, &id).await["pendingExchange"],
        Value::Null
    );
    pay_intent(&app, &pi, &id).await;
    let b = booking(&app, &buyer, &id).await;
    assert_eq!(b["seatNumbers"], json!(["A2"]));
    assert_eq!(
        b["refunds"].as_array().unwrap().len(),
        3,
        "the late 5.00 goes back"
    );
    assert_eq!(b["finalAmount"]["amount"], "10.00");
}
