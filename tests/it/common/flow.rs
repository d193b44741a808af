//! The booking flow as a client drives it, and Stripe's side of the webhook.

use std::time::Duration;

use chrono::{DateTime, Utc};
use diesel::{ExpressionMethods, QueryDsl};
use diesel_async::RunQueryDsl;
use hmac::{Hmac, Mac};
use screema::db::schema::{outbox, payments};
use screema::money::{Currency, Money};
use serde_json::{Value, json};
use sha2::Sha256;
use uuid::Uuid;

use super::{Gql, TestApp, TestUser};
use secrecy::ExposeSecret;

pub const LOCK: &str = "mutation($s: ID!, $seats: [String!]!) { lockSeats(input: {showtimeId: $s, seatNumbers: $seats}) { lockToken expiresAt lockedSeats } }";

pub const BOOKING_FIELDS: &str = "id bookingReference status seatNumbers expiresAt qrCode ticketImageUrl createdAt \
    totalAmount { amount currency } discountAmount { amount currency } finalAmount { amount currency } \
    snacks { quantity unitPrice { amount } totalPrice { amount } snack { id name } } showtime { id }";

pub fn create_booking_query() -> String {
    format!(
        "mutation($s: ID!, $seats: [String!]!, $t: String!, $snacks: [SnackOrderInput!]) {{ \
         createBooking(input: {{showtimeId: $s, seatNumbers: $seats, lockToken: $t, snacks: $snacks}}) \
         {{ paymentClientSecret booking {{ {BOOKING_FIELDS} }} }} }}"
    )
}

pub fn booking_query() -> String {
    format!("query($id: ID!) {{ booking(id: $id) {{ {BOOKING_FIELDS} }} }}")
}

pub async fn lock(app: &TestApp, user: &TestUser, showtime: Uuid, seats: &[&str]) -> String {
    let r = app
        .gql_as(
            &user.token,
            LOCK,
            json!({"s": showtime.to_string(), "seats": seats}),
        )
        .await;
    r.data()["lockSeats"]["lockToken"]
        .as_str()
        .unwrap()
        .to_owned()
}

pub async fn create_booking(
    app: &TestApp,
    user: &TestUser,
    showtime: Uuid,
    seats: &[&str],
    token: &str,
    snacks: Value,
) -> Gql {
    app.gql_as(
        &user.token,
        &create_booking_query(),
        json!({"s": showtime.to_string(), "seats": seats, "t": token, "snacks": snacks}),
    )
    .await
}

/// Holds and books `seats`; returns the booking as `createBooking` answered.
pub async fn book(app: &TestApp, user: &TestUser, showtime: Uuid, seats: &[&str]) -> Value {
    let token = lock(app, user, showtime, seats).await;
    let r = create_booking(app, user, showtime, seats, &token, json!([])).await;
    r.data()["createBooking"].clone()
}

pub async fn booking(app: &TestApp, user: &TestUser, id: &str) -> Value {
    app.gql_as(&user.token, &booking_query(), json!({"id": id}))
        .await
        .data()["booking"]
        .clone()
}

pub const CANCEL: &str = "mutation($id: ID!) { cancelBooking(id: $id) { id status } }";

pub async fn cancel(app: &TestApp, user: &TestUser, id: &str) -> Gql {
    app.gql_as(&user.token, CANCEL, json!({"id": id})).await
}

/// Polls until `check` holds (a background step such as a webhook or a sweep), for
/// at most ten seconds.
pub async fn eventually<F, Fut>(what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    for _ in 0..200 {
        if check().await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("timed out waiting for {what}");
}

pub async fn status_of(app: &TestApp, user: &TestUser, id: &str) -> String {
    booking(app, user, id).await["status"]
        .as_str()
        .unwrap_or("null")
        .to_owned()
}

/// The `Stripe-Signature` header Stripe would send, computed here independently.
pub fn stripe_signature(secret: &str, timestamp: i64, body: &str) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(format!("{timestamp}.{body}").as_bytes());
    format!(
        "t={timestamp},v1={}",
        hex::encode(mac.finalize().into_bytes())
    )
}

pub fn event(id: &str, kind: &str, object: Value) -> String {
    json!({"id": id, "object": "event", "type": kind, "created": 0, "data": {"object": object}})
        .to_string()
}

/// Posts a webhook body with a given `Stripe-Signature` (or none); returns the status.
pub async fn post_webhook(app: &TestApp, body: &str, signature: Option<&str>) -> u16 {
    let mut request = app
        .client
        .post(app.url("/api/payments/webhook"))
        .header("Content-Type", "application/json")
        .body(body.to_owned());
    if let Some(sig) = signature {
        request = request.header("Stripe-Signature", sig);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    // A refusal says why in plain words, never with internals.
    app.assert_no_leak(&response.text().await.unwrap());
    status
}

/// Posts an event signed with the app's webhook secret at the app's clock time.
pub async fn send_event(app: &TestApp, body: &str) -> u16 {
    let sig = stripe_signature(
        app.app.config.payments.webhook_secret.expose_secret(),
        app.app.now().timestamp(),
        body,
    );
    post_webhook(app, body, Some(&sig)).await
}

/// A succeeded intent as Stripe sends it, with the amount received in the currency's
/// minor units: what the booking's payment row asks for (nothing, for an intent that
/// has no row yet).
pub async fn intent_object(app: &TestApp, intent: &str, booking: &str) -> Value {
    use diesel::OptionalExtension;
    let (amount, currency): (rust_decimal::Decimal, String) = payments::table
        .filter(payments::stripe_payment_intent_id.eq(intent))
        .select((payments::amount, payments::currency))
        .first(&mut app.conn().await)
        .await
        .optional()
        .unwrap()
        .unwrap_or((rust_decimal::Decimal::ZERO, "USD".to_owned()));
    let minor = Money::new(amount, Currency::parse(&currency).unwrap())
        .minor_units()
        .unwrap();
    paid_intent_object(intent, booking, minor, &currency)
}

/// A succeeded intent that says `minor` units of `currency` arrived.
pub fn paid_intent_object(intent: &str, booking: &str, minor: i64, currency: &str) -> Value {
    json!({"id": intent, "object": "payment_intent", "status": "succeeded",
           "amount": minor, "amount_received": minor, "currency": currency.to_ascii_lowercase(),
           "payment_method": "pm_test", "metadata": {"booking_id": booking}})
}

/// A pending booking of `seats`; returns its id and payment intent.
pub async fn pending(
    app: &TestApp,
    user: &TestUser,
    showtime: Uuid,
    seats: &[&str],
) -> (String, String) {
    let created = book(app, user, showtime, seats).await;
    let id = created["booking"]["id"].as_str().unwrap().to_owned();
    let intent = format!("pi_sim_{}", Uuid::parse_str(&id).unwrap().simple());
    (id, intent)
}

/// The outbox row with this idempotency key: its attempts, delivery time and last error.
pub async fn outbox_row(app: &TestApp, key: &str) -> (i32, Option<DateTime<Utc>>, Option<String>) {
    outbox::table
        .filter(outbox::idempotency_key.eq(key))
        .select((outbox::attempts, outbox::delivered_at, outbox::last_error))
        .first(&mut app.conn().await)
        .await
        .unwrap()
}

/// An operator's scan of a ticket code at the door.
pub async fn check_in(app: &TestApp, operator: &TestUser, code: &str) -> Gql {
    app.gql_as(
        &operator.token,
        "mutation($c: String!) { checkInTicket(code: $c) { id } }",
        json!({"c": code}),
    )
    .await
}

/// Every ticket of a showtime voided so far, as a scanner offline fetches the list.
pub async fn revoked(app: &TestApp, operator: &TestUser, showtime: Uuid) -> Vec<Value> {
    let list: Value = app
        .client
        .get(app.url(&format!(
            "/api/tickets/revoked?showtimeId={showtime}&since=2000-01-01T00:00:00Z"
        )))
        .bearer_auth(&operator.token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    list["revoked"].as_array().unwrap().clone()
}

/// Pays a pending booking as Stripe tells it: a signed `payment_intent.succeeded` for
/// its (simulated) intent.
pub async fn pay(app: &TestApp, booking: &str) {
    let intent = format!("pi_sim_{}", Uuid::parse_str(booking).unwrap().simple());
    let body = event(
        &format!("evt_{}", Uuid::new_v4().simple()),
        "payment_intent.succeeded",
        intent_object(app, &intent, booking).await,
    );
    assert_eq!(send_event(app, &body).await, 200);
}

/// A booking confirmed by a signed `payment_intent.succeeded`; its id and ticket code.
pub async fn confirmed(
    app: &TestApp,
    user: &TestUser,
    showtime: Uuid,
    seats: &[&str],
) -> (String, String) {
    let (id, intent) = pending(app, user, showtime, seats).await;
    let body = event(
        &format!("evt_{}", Uuid::new_v4().simple()),
        "payment_intent.succeeded",
        intent_object(app, &intent, &id).await,
    );
    assert_eq!(send_event(app, &body).await, 200);
    let code = booking(app, user, &id).await["qrCode"]
        .as_str()
        .expect("a confirmed booking has a ticket code")
        .to_owned();
    (id, code)
}

/// Every seat of a showtime and its state, as the API reports them, in layout order.
pub async fn seat_states(app: &TestApp, showtime: Uuid) -> Vec<(String, String)> {
    let r = app
        .gql(
            "query($s: ID!) { showtime(id: $s) { seatMap { rows { seats { number state } } } } }",
            json!({"s": showtime.to_string()}),
        )
        .await;
    r.data()["showtime"]["seatMap"]["rows"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|row| row["seats"].as_array().unwrap().clone())
        .map(|s| {
            (
                s["number"].as_str().unwrap().to_owned(),
                s["state"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

#[derive(diesel::QueryableByName)]
struct Rows {
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    n: i64,
}

/// How many rows `table` has.
pub async fn count(app: &TestApp, table: &str) -> i64 {
    diesel::sql_query(format!("SELECT count(*) AS n FROM {table}"))
        .get_result::<Rows>(&mut app.conn().await)
        .await
        .unwrap()
        .n
}
