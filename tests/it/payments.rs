//! Payments through the public API: the signed webhook (bad signatures, replays,
//! events in any order), refunds and their cut-off, the outbox's retries, and the
//! whole flow against localstripe, a fake Stripe server on loopback.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::common;

use chrono::{DateTime, Duration, Utc};
use common::fixtures as fx;
use common::flow::{
    self, book, event, eventually, intent_object, pending, post_webhook, send_event, status_of,
    stripe_signature,
};
use common::ws::WsClient;
use common::{TestApp, TestUser};
use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use fred::prelude::*;
use rust_decimal::Decimal;
use screema::clock::Clock;
use screema::db::enums::{PaymentStatus, Role};
use screema::db::schema::{notifications, payments, refunds};
use secrecy::ExposeSecret;
use serde_json::{Value, json};
use uuid::Uuid;

const NEVER: &str = "600000";

async fn app() -> TestApp {
    TestApp::builder()
        .env("SIMULATED_PAYMENT_DELAY_MS", NEVER)
        .build()
        .await
}

async fn showtime_at(app: &TestApp, start: DateTime<Utc>) -> Uuid {
    let mut conn = app.conn().await;
    fx::one_row_showtime(&mut conn, 10, &[], start).await
}

async fn succeeded(app: &TestApp, event_id: &str, intent: &str, booking: &str) -> u16 {
    send_event(
        app,
        &event(
            event_id,
            "payment_intent.succeeded",
            intent_object(app, intent, booking).await,
        ),
    )
    .await
}

async fn titles(app: &TestApp, user: &TestUser) -> Vec<String> {
    notifications::table
        .filter(notifications::user_id.eq(user.id))
        .order(notifications::created_at)
        .select(notifications::title)
        .load(&mut app.conn().await)
        .await
        .unwrap()
}

async fn payment_of(app: &TestApp, booking: &str) -> (PaymentStatus, Option<String>) {
    payments::table
        .filter(payments::booking_id.eq(Uuid::parse_str(booking).unwrap()))
        .select((payments::status, payments::failure_reason))
        .first(&mut app.conn().await)
        .await
        .unwrap()
}

async fn seat_state(app: &TestApp, showtime: Uuid, seat: &str) -> String {
    let r = app
        .gql(
            "query($s: ID!) { showtime(id: $s) { seatMap { rows { seats { number state } } } } }",
            json!({"s": showtime.to_string()}),
        )
        .await;
    r.data()["showtime"]["seatMap"]["rows"][0]["seats"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["number"] == seat)
        .unwrap()["state"]
        .as_str()
        .unwrap()
        .to_owned()
}

#[tokio::test]
async fn missing_bad_and_stale_signatures_are_refused_and_change_nothing() {
    let app = app().await;
    let showtime = showtime_at(&app, app.app.now() + Duration::days(1)).await;
    let user = app.with_user(Role::Customer).await;
    let (id, intent) = pending(&app, &user, showtime, &["A1"]).await;
    let body = event(
        "evt_sig",
        "payment_intent.succeeded",
        intent_object(&app, &intent, &id).await,
    );
    let secret = app
        .app
        .config
        .payments
        .webhook_secret
        .expose_secret()
        .to_owned();
    let now = app.app.now().timestamp();
    let good = stripe_signature(&secret, now, &body);

    let refused = [
        ("no header", None),
        (
            "another secret",
            Some(stripe_signature("whsec_someone_else", now, &body)),
        ),
        (
            "another body",
            Some(stripe_signature(
                &secret,
                now,
                &body.replace("evt_sig", "evt_sig2"),
            )),
        ),
        (
            "six minutes old",
            Some(stripe_signature(&secret, now - 301, &body)),
        ),
        (
            "six minutes ahead",
            Some(stripe_signature(&secret, now + 301, &body)),
        ),
        (
            "no timestamp",
            Some(good.split_once(',').unwrap().1.to_owned()),
        ),
        ("no v1", Some(format!("t={now},v0=abc"))),
        ("not hex", Some(format!("t={now},v1=zz"))),
    ];
    for (what, header) in refused {
        assert_eq!(
            post_webhook(&app, &body, header.as_deref()).await,
            400,
            "{what}"
        );
    }
    // A correctly signed body that is not an event is refused too.
    let junk = "not json";
    assert_eq!(
        post_webhook(&app, junk, Some(&stripe_signature(&secret, now, junk))).await,
        400
    );
    assert_eq!(status_of(&app, &user, &id).await, "PENDING");
    assert_eq!(flow::count(&app, "stripe_events").await, 0);
    assert_eq!(titles(&app, &user).await, Vec::<String>::new());

    // Stripe sends one v1 per secret while a secret is rolled: any match will do.
    let v1 = good.split_once(",v1=").unwrap().1;
    let rolled = format!("t={now},v1={},v1={v1}", "0".repeat(64));
    assert_eq!(post_webhook(&app, &body, Some(&rolled)).await, 200);
    assert_eq!(status_of(&app, &user, &id).await, "CONFIRMED");
}

#[tokio::test]
async fn a_replayed_event_or_a_reused_event_id_has_no_second_effect() {
    let app = app().await;
    let showtime = showtime_at(&app, app.app.now() + Duration::days(1)).await;
    let user = app.with_user(Role::Customer).await;
    let (id, intent) = pending(&app, &user, showtime, &["A1", "A2"]).await;
    assert_eq!(succeeded(&app, "evt_1", &intent, &id).await, 200);
    let first = flow::booking(&app, &user, &id).await;
    assert_eq!(first["status"], "CONFIRMED");
    let outbox_rows = flow::count(&app, "outbox").await;

    // The same delivery again, the same id with another body, and a second
    // "succeeded" event for the same payment: all acknowledged, none does anything.
    assert_eq!(succeeded(&app, "evt_1", &intent, &id).await, 200);
    let failed = event(
        "evt_1",
        "payment_intent.payment_failed",
        json!({"id": intent, "last_payment_error": {"message": "declined"}}),
    );
    assert_eq!(send_event(&app, &failed).await, 200);
    assert_eq!(succeeded(&app, "evt_2", &intent, &id).await, 200);

    assert_eq!(flow::booking(&app, &user, &id).await, first);
    assert_eq!(titles(&app, &user).await, ["Booking confirmed"]);
    assert_eq!(flow::count(&app, "outbox").await, outbox_rows);
    assert_eq!(
        payment_of(&app, &id).await,
        (PaymentStatus::Succeeded, None)
    );
    assert_eq!(flow::count(&app, "stripe_events").await, 2);

    // Events for intents that are not ours, and types we do not handle, are
    // acknowledged so that Stripe stops sending them.
    let foreign = event(
        "evt_3",
        "payment_intent.succeeded",
        json!({"id": "pi_foreign", "metadata": {}}),
    );
    assert_eq!(send_event(&app, &foreign).await, 200);
    let other = event("evt_4", "customer.created", json!({"id": "cus_1"}));
    assert_eq!(send_event(&app, &other).await, 200);
    // One that names a booking of ours not yet committed is refused, so that Stripe
    // sends it again later, and it is not recorded as seen.
    let early = Uuid::new_v4().to_string();
    assert_eq!(succeeded(&app, "evt_5", "pi_early", &early).await, 503);
    assert_eq!(flow::count(&app, "stripe_events").await, 2);
}

#[tokio::test]
async fn a_payment_after_expiry_confirms_if_the_seats_are_free_and_is_refunded_if_not() {
    let (builder, clock) = TestApp::clocked();
    let app = builder
        .env("HOLD_TTL_SECONDS", "60")
        .env("SWEEP_INTERVAL_MS", "20")
        .env("OUTBOX_POLL_MS", "20")
        .env("SIMULATED_PAYMENT_DELAY_MS", NEVER)
        .build()
        .await;
    let showtime = showtime_at(&app, clock.now() + Duration::days(1)).await;
    let alice = app.with_user(Role::Customer).await;
    let bob = app.with_user(Role::Customer).await;
    let (taken, taken_intent) = pending(&app, &alice, showtime, &["A1"]).await;
    let (free, free_intent) = pending(&app, &alice, showtime, &["A2"]).await;
    clock.advance(Duration::seconds(61));
    eventually("expiry", || async {
        status_of(&app, &alice, &taken).await == "EXPIRED"
            && status_of(&app, &alice, &free).await == "EXPIRED"
    })
    .await;
    // Bob takes A1 meanwhile.
    pending(&app, &bob, showtime, &["A1"]).await;

    assert_eq!(
        succeeded(&app, "evt_late_1", &taken_intent, &taken).await,
        200
    );
    assert_eq!(status_of(&app, &alice, &taken).await, "EXPIRED");
    eventually("the automatic refund", || async {
        payment_of(&app, &taken).await.0 == PaymentStatus::Refunded
    })
    .await;
    let refund: (Decimal, String, Option<String>) = refunds::table
        .filter(refunds::booking_id.eq(Uuid::parse_str(&taken).unwrap()))
        .select((refunds::amount, refunds::status, refunds::stripe_refund_id))
        .first(&mut app.conn().await)
        .await
        .unwrap();
    assert_eq!(refund.0, fx::dec("10.00"));
    assert_eq!(refund.1, "succeeded");
    assert!(refund.2.unwrap().starts_with("re_"));
    assert!(
        titles(&app, &alice)
            .await
            .contains(&"Payment refunded".to_owned())
    );

    // A2 is still free: the late payment confirms its booking.
    assert_eq!(
        succeeded(&app, "evt_late_2", &free_intent, &free).await,
        200
    );
    assert_eq!(status_of(&app, &alice, &free).await, "CONFIRMED");
    eventually("A2 shown booked", || async {
        seat_state(&app, showtime, "A2").await == "BOOKED"
    })
    .await;
}

#[tokio::test]
async fn failures_cancellations_and_refunds_from_stripe_apply_in_any_order() {
    let app = app().await;
    let showtime = showtime_at(&app, app.app.now() + Duration::days(1)).await;
    let user = app.with_user(Role::Customer).await;

    // A failed attempt leaves the booking payable; the next attempt confirms it.
    let (id, intent) = pending(&app, &user, showtime, &["A1"]).await;
    let failed = event(
        "evt_f1",
        "payment_intent.payment_failed",
        json!({"id": intent, "last_payment_error": {"message": "Your card was declined."}}),
    );
    assert_eq!(send_event(&app, &failed).await, 200);
    assert_eq!(status_of(&app, &user, &id).await, "PENDING");
    assert_eq!(
        payment_of(&app, &id).await,
        (
            PaymentStatus::Failed,
            Some("Your card was declined.".to_owned())
        )
    );
    assert_eq!(titles(&app, &user).await, ["Payment failed"]);
    assert_eq!(succeeded(&app, "evt_s1", &intent, &id).await, 200);
    assert_eq!(status_of(&app, &user, &id).await, "CONFIRMED");

    // "canceled" after "succeeded" does not undo a paid booking.
    let canceled = event("evt_c1", "payment_intent.canceled", json!({"id": intent}));
    assert_eq!(send_event(&app, &canceled).await, 200);
    assert_eq!(status_of(&app, &user, &id).await, "CONFIRMED");

    // A refund made at Stripe (its dashboard) cancels it and frees the seat.
    let refunded = event(
        "evt_r1",
        "charge.refunded",
        json!({"id": "ch_1", "object": "charge", "payment_intent": intent, "amount_refunded": 1000,
               "refunds": {"data": [{"id": "re_dashboard", "status": "succeeded"}]}}),
    );
    assert_eq!(send_event(&app, &refunded).await, 200);
    assert_eq!(status_of(&app, &user, &id).await, "CANCELLED");
    assert_eq!(payment_of(&app, &id).await.0, PaymentStatus::Refunded);
    assert_eq!(seat_state(&app, showtime, "A1").await, "AVAILABLE");
    let recorded: (String, Decimal) = refunds::table
        .select((refunds::status, refunds::amount))
        .first(&mut app.conn().await)
        .await
        .unwrap();
    assert_eq!(recorded, ("succeeded".to_owned(), fx::dec("10.00")));

    // "canceled" on a pending booking cancels it.
    let (other, other_intent) = pending(&app, &user, showtime, &["A2"]).await;
    let canceled = event(
        "evt_c2",
        "payment_intent.canceled",
        json!({"id": other_intent}),
    );
    assert_eq!(send_event(&app, &canceled).await, 200);
    assert_eq!(status_of(&app, &user, &other).await, "CANCELLED");
    assert_eq!(seat_state(&app, showtime, "A2").await, "AVAILABLE");
    // And money arriving for it after all goes back.
    assert_eq!(succeeded(&app, "evt_s2", &other_intent, &other).await, 200);
    assert_eq!(status_of(&app, &user, &other).await, "CANCELLED");
    eventually("refund of a cancelled booking's payment", || async {
        payment_of(&app, &other).await.0 == PaymentStatus::Refunded
    })
    .await;
}

const REFUND: &str = "mutation($id: ID!, $r: String) { refundBooking(input: {bookingId: $id, reason: $r}) { refundId amount { amount currency } status } }";

#[tokio::test]
async fn owners_refund_until_the_cutoff_admins_any_time_and_only_once() {
    let app = app().await;
    let now = app.app.now();
    let tomorrow = showtime_at(&app, now + Duration::days(1)).await;
    let soon = showtime_at(&app, now + Duration::minutes(90)).await;
    let owner = app.with_user(Role::Customer).await;
    let stranger = app.with_user(Role::Customer).await;
    let admin = app.with_user(Role::Admin).await;
    let (early, early_intent) = pending(&app, &owner, tomorrow, &["A1", "A2"]).await;
    let (late, late_intent) = pending(&app, &owner, soon, &["A1"]).await;
    let (unpaid, _) = pending(&app, &owner, tomorrow, &["A3"]).await;
    succeeded(&app, "evt_a", &early_intent, &early).await;
    succeeded(&app, "evt_b", &late_intent, &late).await;

    let refund = |user: &TestUser, id: &str, reason: Option<String>| {
        let token = user.token.clone();
        let vars = json!({"id": id, "r": reason});
        let app = &app;
        async move { app.gql_as(&token, REFUND, vars).await }
    };
    assert_eq!(refund(&stranger, &early, None).await.code(), "NOT_FOUND");
    assert_eq!(refund(&owner, &unpaid, None).await.code(), "CONFLICT");
    let r = refund(&owner, &early, Some("x".repeat(501))).await;
    assert_eq!((r.code(), r.field()), ("BAD_USER_INPUT", Some("reason")));
    let r = refund(&owner, "not-an-id", None).await;
    assert_eq!((r.code(), r.field()), ("BAD_USER_INPUT", Some("bookingId")));
    assert_eq!(
        refund(&owner, &Uuid::new_v4().to_string(), None)
            .await
            .code(),
        "NOT_FOUND"
    );
    assert_eq!(flow::count(&app, "refunds").await, 0);

    let r = refund(&owner, &early, Some("cannot make it".into())).await;
    let given = &r.data()["refundBooking"];
    assert!(given["refundId"].as_str().unwrap().starts_with("re_"));
    assert_eq!(
        given["amount"],
        json!({"amount": "20.00", "currency": "USD"})
    );
    assert_eq!(given["status"], "succeeded");
    assert_eq!(status_of(&app, &owner, &early).await, "CANCELLED");
    assert_eq!(seat_state(&app, tomorrow, "A1").await, "AVAILABLE");
    assert_eq!(payment_of(&app, &early).await.0, PaymentStatus::Refunded);
    assert_eq!(refund(&owner, &early, None).await.code(), "CONFLICT");
    assert!(
        titles(&app, &owner)
            .await
            .contains(&"Refund issued".to_owned())
    );

    // 90 minutes before the start is inside the 2-hour cut-off: only an admin may.
    let r = refund(&owner, &late, None).await;
    assert_eq!(r.code(), "CONFLICT");
    assert!(
        r.error()["message"]
            .as_str()
            .unwrap()
            .contains("120 minutes")
    );
    let r = refund(&admin, &late, Some("projector broke".into())).await;
    assert_eq!(r.data()["refundBooking"]["status"], "succeeded");
    assert_eq!(status_of(&app, &owner, &late).await, "CANCELLED");
    assert_eq!(flow::count(&app, "refunds").await, 2);
}

#[tokio::test]
async fn two_refunds_at_once_give_back_the_money_once() {
    let app = app().await;
    let showtime = showtime_at(&app, app.app.now() + Duration::days(1)).await;
    let owner = app.with_user(Role::Customer).await;
    let (id, intent) = pending(&app, &owner, showtime, &["A5"]).await;
    succeeded(&app, "evt_x", &intent, &id).await;
    let vars = json!({"id": id, "r": null});
    let (a, b) = tokio::join!(
        app.gql_as(&owner.token, REFUND, vars.clone()),
        app.gql_as(&owner.token, REFUND, vars.clone()),
    );
    let ok = [&a, &b]
        .iter()
        .filter(|r| r.body.get("errors").is_none())
        .count();
    assert_eq!(ok, 1, "{:#} {:#}", a.body, b.body);
    for r in [&a, &b] {
        if r.body.get("errors").is_some() {
            assert_eq!(r.code(), "CONFLICT");
        }
    }
    assert_eq!(flow::count(&app, "refunds").await, 1);
}

#[tokio::test]
async fn the_outbox_retries_a_failed_delivery_until_it_succeeds() {
    let (builder, clock) = TestApp::clocked();
    let app = builder
        .env("OUTBOX_POLL_MS", "20")
        .env("SIMULATED_PAYMENT_DELAY_MS", NEVER)
        .build()
        .await;
    let showtime = showtime_at(&app, clock.now() + Duration::days(1)).await;
    let user = app.with_user(Role::Customer).await;
    let (id, _) = pending(&app, &user, showtime, &["A1"]).await;
    let mut ws = WsClient::connect(app.addr, false, None).await;
    ws.subscribe(
        "m",
        "subscription($s: ID!) { seatMap(showtimeId: $s) { version changes { number state } } }",
        json!({"s": showtime.to_string()}),
    )
    .await;
    let first = ws.next_data().await;

    // Break Redis for this showtime: its booked-seats set becomes a string.
    let redis = app.redis().await;
    let booked_key = format!("{}:seat:{{{showtime}}}:booked", app.prefix);
    // The booking's own seat change may still be on its way (the worker can beat the
    // request to it).
    eventually("A1 in the booked set", || async {
        let members: Vec<String> = redis.smembers(&booked_key).await.unwrap();
        members.contains(&"A1".to_owned())
    })
    .await;
    // Its change may reach the map after the map's snapshot: take it now.
    let mut version = first["seatMap"]["version"].as_i64().unwrap();
    while let Some(late) = ws.maybe_next(200).await {
        let late = &late["payload"]["data"]["seatMap"];
        assert_eq!(
            late["changes"],
            json!([{"number": "A1", "state": "BOOKED"}]),
            "{late}"
        );
        version = late["version"].as_i64().unwrap();
    }
    let members: Vec<String> = redis.smembers(&booked_key).await.unwrap();
    let _: i64 = redis.del(&booked_key).await.unwrap();
    let _: () = redis
        .set(&booked_key, "broken", None, None, false)
        .await
        .unwrap();

    // The cancellation itself succeeds; publishing its seat change does not, yet.
    let r = flow::cancel(&app, &user, &id).await;
    assert_eq!(r.data()["cancelBooking"]["status"], "CANCELLED");
    let key = format!("booking-cancelled-{id}");
    let row = || flow::outbox_row(&app, &key);
    // Delivered at once after commit, or leased by the worker polling beside it,
    // which records its attempt a moment later.
    eventually("the first attempt", || async { row().await.0 >= 1 }).await;
    let (attempts, delivered, error) = row().await;
    assert_eq!((attempts, delivered), (1, None));
    assert!(error.unwrap().contains("WRONGTYPE"));
    // Not due again until its back-off (2 s on the app's clock) has passed.
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    assert_eq!(row().await.0, 1);
    assert!(ws.maybe_next(100).await.is_none());

    // Redis is mended; after the back-off the worker delivers it.
    let _: i64 = redis.del(&booked_key).await.unwrap();
    let _: i64 = redis.sadd(&booked_key, members).await.unwrap();
    clock.advance(Duration::seconds(3));
    eventually("the retried delivery", || async { row().await.1.is_some() }).await;
    let (attempts, _, error) = row().await;
    assert_eq!((attempts, error), (2, None));
    let freed = ws.next_data().await;
    assert_eq!(
        freed["seatMap"]["changes"],
        json!([{"number": "A1", "state": "AVAILABLE"}])
    );
    assert_eq!(freed["seatMap"]["version"].as_i64().unwrap(), version + 1);
}

pub(crate) fn localstripe_url() -> String {
    std::env::var("LOCALSTRIPE_URL").unwrap_or_else(|_| "http://127.0.0.1:8420".to_owned())
}

/// Stripe's API as the client (Stripe.js) and the dashboard use it.
pub(crate) async fn stripe(
    client: &reqwest::Client,
    path: &str,
    form: &[(&str, &str)],
) -> (u16, Value) {
    let response = client
        .post(format!("{}{path}", localstripe_url()))
        .basic_auth("sk_test_screema", Some(""))
        .form(form)
        .send()
        .await
        .unwrap_or_else(|e| panic!("localstripe unreachable ({e}); run scripts/localstripe.sh"));
    let status = response.status().as_u16();
    let body = response.text().await.unwrap();
    (status, serde_json::from_str(&body).unwrap_or(Value::Null))
}

/// localstripe sends the test server's webhooks for `events`, signed with `secret`
/// (the server's `STRIPE_WEBHOOK_SECRET`).
pub(crate) async fn send_webhooks_to(
    client: &reqwest::Client,
    app: &TestApp,
    secret: &str,
    events: &[&str],
) {
    let names: Vec<String> = (0..events.len()).map(|i| format!("events[{i}]")).collect();
    let url = app.url("/api/payments/webhook");
    let mut form = vec![("url", url.as_str()), ("secret", secret)];
    form.extend(names.iter().map(String::as_str).zip(events.iter().copied()));
    let (status, _) = stripe(client, &format!("/_config/webhooks/{}", app.prefix), &form).await;
    assert_eq!(status, 200);
}

/// The refunds localstripe holds for an intent, as Stripe lists them.
pub(crate) async fn refunds_at_stripe(client: &reqwest::Client, intent: &str) -> Value {
    client
        .get(format!(
            "{}/v1/refunds?payment_intent={intent}",
            localstripe_url()
        ))
        .basic_auth("sk_test_screema", Some(""))
        .send()
        .await
        .unwrap()
        .json::<Value>()
        .await
        .unwrap()
}

/// What localstripe refunded of an intent, refund by refund, in cents.
pub(crate) async fn refunded_cents(client: &reqwest::Client, intent: &str) -> Vec<i64> {
    refunds_at_stripe(client, intent).await["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["amount"].as_i64().unwrap())
        .collect()
}

pub(crate) async fn pay_with_card(client: &reqwest::Client, intent: &str, card: &str) -> u16 {
    let (_, pm) = stripe(
        client,
        "/v1/payment_methods",
        &[
            ("type", "card"),
            ("card[number]", card),
            ("card[exp_month]", "12"),
            ("card[exp_year]", "2034"),
            ("card[cvc]", "123"),
        ],
    )
    .await;
    let pm = pm["id"].as_str().unwrap();
    let (status, _) = stripe(
        client,
        &format!("/v1/payment_intents/{intent}"),
        &[("payment_method", pm)],
    )
    .await;
    assert_eq!(status, 200);
    stripe(
        client,
        &format!("/v1/payment_intents/{intent}/confirm"),
        &[],
    )
    .await
    .0
}

#[tokio::test]
async fn the_whole_flow_against_localstripe() {
    let secret = format!("whsec_{}", Uuid::new_v4().simple());
    let app = TestApp::builder()
        .env("STRIPE_SECRET_KEY", "sk_test_screema")
        .env("STRIPE_API_BASE", &localstripe_url())
        .env("STRIPE_WEBHOOK_SECRET", &secret)
        .build()
        .await;
    let client = reqwest::Client::new();
    // localstripe signs its webhooks for this test's server with this test's secret.
    send_webhooks_to(
        &client,
        &app,
        &secret,
        &["payment_intent.succeeded", "payment_intent.payment_failed"],
    )
    .await;
    let showtime = showtime_at(&app, app.app.now() + Duration::days(1)).await;
    let user = app.with_user(Role::Customer).await;

    let created = book(&app, &user, showtime, &["A1", "A2"]).await;
    let id = created["booking"]["id"].as_str().unwrap().to_owned();
    let client_secret = created["paymentClientSecret"].as_str().unwrap();
    let (intent, _) = client_secret.split_once("_secret_").unwrap();
    assert!(intent.starts_with("pi_") && !intent.starts_with("pi_sim_"));
    // The intent, as localstripe has it: our amount in cents, our booking id.
    let shown = client
        .get(format!("{}/v1/payment_intents/{intent}", localstripe_url()))
        .basic_auth("sk_test_screema", Some(""))
        .send()
        .await
        .unwrap()
        .json::<Value>()
        .await
        .unwrap();
    assert_eq!(shown["amount"], 2000);
    assert_eq!(shown["currency"], "usd");
    assert_eq!(shown["metadata"]["booking_id"], id);
    let again = app
        .gql_as(
            &user.token,
            "mutation($id: ID!) { createPaymentIntent(bookingId: $id) { clientSecret paymentIntentId } }",
            json!({"id": id}),
        )
        .await;
    assert_eq!(
        again.data()["createPaymentIntent"]["clientSecret"],
        client_secret
    );
    assert_eq!(
        again.data()["createPaymentIntent"]["paymentIntentId"],
        intent
    );

    assert_eq!(
        pay_with_card(&client, intent, "4242424242424242").await,
        200
    );
    eventually("localstripe's webhook", || async {
        status_of(&app, &user, &id).await == "CONFIRMED"
    })
    .await;

    let r = app
        .gql_as(&user.token, REFUND, json!({"id": id, "r": "plans changed"}))
        .await;
    let refund = &r.data()["refundBooking"];
    assert_eq!(refund["status"], "succeeded");
    assert_eq!(refund["amount"]["amount"], "20.00");
    let listed = client
        .get(format!(
            "{}/v1/refunds?payment_intent={intent}",
            localstripe_url()
        ))
        .basic_auth("sk_test_screema", Some(""))
        .send()
        .await
        .unwrap()
        .json::<Value>()
        .await
        .unwrap();
    assert_eq!(listed["data"][0]["id"], refund["refundId"]);
    assert_eq!(listed["data"][0]["amount"], 2000);
    assert_eq!(status_of(&app, &user, &id).await, "CANCELLED");

    // A card that attaches but is declined when charged: the payment fails and the
    // booking waits for another try.
    let created = book(&app, &user, showtime, &["A3"]).await;
    let other = created["booking"]["id"].as_str().unwrap().to_owned();
    let (intent, _) = created["paymentClientSecret"]
        .as_str()
        .unwrap()
        .split_once("_secret_")
        .unwrap();
    assert_eq!(
        pay_with_card(&client, intent, "4000000000000341").await,
        402
    );
    eventually("the failure webhook", || async {
        payment_of(&app, &other).await.0 == PaymentStatus::Failed
    })
    .await;
    assert_eq!(status_of(&app, &user, &other).await, "PENDING");
    assert!(
        titles(&app, &user)
            .await
            .contains(&"Payment failed".to_owned())
    );
}

#[tokio::test]
async fn a_payment_provider_that_is_down_fails_cleanly_and_writes_nothing() {
    let app = app().await;
    // Another node of the same deployment whose Stripe cannot be reached.
    let cut_off = app
        .another_node()
        .env("STRIPE_SECRET_KEY", "sk_test_screema")
        .env("STRIPE_API_BASE", "http://127.0.0.1:9")
        .build()
        .await;
    let showtime = showtime_at(&app, app.app.now() + Duration::days(1)).await;
    let user = app.with_user(Role::Customer).await;

    let token = flow::lock(&cut_off, &user, showtime, &["A1"]).await;
    let r = flow::create_booking(&cut_off, &user, showtime, &["A1"], &token, json!([])).await;
    assert_eq!(r.code(), "PAYMENT_FAILED");
    assert!(r.error()["message"].as_str().unwrap().contains("try again"));
    assert_eq!(flow::count(&app, "bookings").await, 0);
    assert_eq!(flow::count(&app, "payments").await, 0);
    // The hold survived: the customer books with it once payments work again.
    let r = flow::create_booking(&app, &user, showtime, &["A1"], &token, json!([])).await;
    let id = r.data()["createBooking"]["booking"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let intent = format!("pi_sim_{}", Uuid::parse_str(&id).unwrap().simple());
    succeeded(&app, "evt_ok", &intent, &id).await;

    let r = cut_off
        .gql_as(&user.token, REFUND, json!({"id": id, "r": null}))
        .await;
    assert_eq!(r.code(), "PAYMENT_FAILED");
    assert_eq!(status_of(&app, &user, &id).await, "CONFIRMED");
    // The failed attempt does not count as the booking's one refund.
    let r = app
        .gql_as(&user.token, REFUND, json!({"id": id, "r": null}))
        .await;
    assert_eq!(r.data()["refundBooking"]["status"], "succeeded");
    assert_eq!(status_of(&app, &user, &id).await, "CANCELLED");
}

#[tokio::test]
async fn booking_and_payment_mutations_need_a_signed_in_caller() {
    let app = app().await;
    let id = Uuid::new_v4().to_string();
    for (query, vars) in [
        (
            "mutation($id: ID!) { cancelBooking(id: $id) { id } }",
            json!({"id": id}),
        ),
        (
            "mutation($id: ID!) { createPaymentIntent(bookingId: $id) { clientSecret } }",
            json!({"id": id}),
        ),
        (REFUND, json!({"id": id, "r": null})),
        ("{ myBookings { id } }", json!({})),
    ] {
        assert_eq!(
            app.gql(query, vars).await.code(),
            "UNAUTHENTICATED",
            "{query}"
        );
    }
}

// ------------------------------------------------ Stripe as it really behaves

/// The four events Stripe sends about a booking's payment, for one intent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stripe {
    Succeeded,
    Failed,
    Canceled,
    /// `charge.refunded` for the whole charge (support refunded in the Dashboard).
    Refunded,
}

impl Stripe {
    const ALL: [Stripe; 4] = [
        Stripe::Succeeded,
        Stripe::Failed,
        Stripe::Canceled,
        Stripe::Refunded,
    ];

    async fn body(self, app: &TestApp, event_id: &str, intent: &str, booking: &str) -> String {
        let object = match self {
            Stripe::Succeeded => intent_object(app, intent, booking).await,
            Stripe::Failed => json!({"id": intent, "object": "payment_intent",
                "last_payment_error": {"message": "Your card was declined."}}),
            Stripe::Canceled => {
                json!({"id": intent, "object": "payment_intent", "status": "canceled"})
            }
            Stripe::Refunded => {
                let paid = intent_object(app, intent, booking).await;
                json!({"id": format!("ch_{intent}"), "object": "charge", "payment_intent": intent,
                       "amount": paid["amount"], "currency": paid["currency"],
                       "amount_refunded": paid["amount"], "refunded": true})
            }
        };
        let kind = match self {
            Stripe::Succeeded => "payment_intent.succeeded",
            Stripe::Failed => "payment_intent.payment_failed",
            Stripe::Canceled => "payment_intent.canceled",
            Stripe::Refunded => "charge.refunded",
        };
        event(event_id, kind, object)
    }
}

async fn pending_points(app: &TestApp, user: &TestUser) -> (i64, i64) {
    let r = app
        .gql_as(&user.token, "{ me { points pendingPoints } }", json!({}))
        .await;
    (
        r.data()["me"]["points"].as_i64().unwrap(),
        r.data()["me"]["pendingPoints"].as_i64().unwrap(),
    )
}

/// Every pair of the four events, in both orders (and each event twice): whatever
/// the order, a refunded payment leaves no live booking, no ticket, no sold seat and
/// no points; a payment that succeeded and was not refunded leaves a confirmed one.
/// Before the state machine, `charge.refunded` then `succeeded` confirmed the
/// refunded booking and sold its seat.
#[tokio::test]
async fn every_pair_of_stripe_events_in_either_order_leaves_money_and_seats_right() {
    let app = TestApp::builder()
        .env("SIMULATED_PAYMENT_DELAY_MS", NEVER)
        .env("RATE_LIMIT_BOOKING", "off")
        .env("OUTBOX_POLL_MS", "50")
        .build()
        .await;
    let start = app.app.now() + Duration::days(1);
    let showtime = {
        let mut conn = app.conn().await;
        fx::one_row_showtime(&mut conn, 16, &[], start).await
    };
    let mut seat = 0;
    for first in Stripe::ALL {
        for second in Stripe::ALL {
            seat += 1;
            let number = format!("A{seat}");
            let user = app.with_user(Role::Customer).await;
            let (id, intent) = pending(&app, &user, showtime, &[&number]).await;
            for (n, kind) in [first, second].into_iter().enumerate() {
                let body = kind
                    .body(&app, &format!("evt_{seat}_{n}"), &intent, &id)
                    .await;
                assert_eq!(send_event(&app, &body).await, 200, "{first:?} {second:?}");
            }
            let pair = [first, second];
            let has = |k: Stripe| pair.contains(&k);
            let label = format!("{first:?} then {second:?}");
            let money_back = first == Stripe::Canceled && second == Stripe::Succeeded;
            // What the booking, its payment, its seat and its points must be after both.
            let (booking, payment, seat, points) = if has(Stripe::Refunded) {
                (
                    "CANCELLED",
                    Some(PaymentStatus::Refunded),
                    "AVAILABLE",
                    (0, 0),
                )
            } else if money_back {
                // Money for an intent already given up: it goes back by itself (below).
                ("CANCELLED", None, "AVAILABLE", (0, 0))
            } else if has(Stripe::Succeeded) {
                (
                    "CONFIRMED",
                    Some(PaymentStatus::Succeeded),
                    "BOOKED",
                    (0, 10),
                )
            } else if has(Stripe::Canceled) {
                ("CANCELLED", None, "AVAILABLE", (0, 0))
            } else {
                ("PENDING", Some(PaymentStatus::Failed), "BOOKED", (0, 0))
            };
            assert_eq!(status_of(&app, &user, &id).await, booking, "{label}");
            if let Some(payment) = payment {
                assert_eq!(payment_of(&app, &id).await.0, payment, "{label}");
            }
            assert_eq!(seat_state(&app, showtime, &number).await, seat, "{label}");
            assert_eq!(pending_points(&app, &user).await, points, "{label}");
            let ticket = flow::booking(&app, &user, &id).await["qrCode"].clone();
            assert_eq!(ticket.is_string(), booking == "CONFIRMED", "{label}");
            if money_back {
                eventually(&format!("{label}: the money goes back"), || async {
                    payment_of(&app, &id).await.0 == PaymentStatus::Refunded
                })
                .await;
            }
            // A refunded booking's seat is for sale again, and sells.
            if has(Stripe::Refunded) {
                let other = app.with_user(Role::Customer).await;
                let token = flow::lock(&app, &other, showtime, &[&number]).await;
                assert!(!token.is_empty(), "{label}");
            }
        }
    }
}

fn refunded_event(event_id: &str, intent: &str, charged: i64, refunded: i64) -> String {
    event(
        event_id,
        "charge.refunded",
        json!({"id": format!("ch_{intent}"), "object": "charge", "payment_intent": intent,
               "amount": charged, "currency": "usd", "amount_refunded": refunded,
               "refunded": refunded >= charged}),
    )
}

/// A goodwill refund of part of a charge in Stripe's Dashboard: the booking stands,
/// the amount is recorded, points follow the money kept, and the rest stays
/// refundable through the API. Before, any `charge.refunded` cancelled the booking.
#[tokio::test]
async fn a_partial_refund_keeps_the_booking_and_the_rest_stays_refundable() {
    let app = app().await;
    let showtime = showtime_at(&app, app.app.now() + Duration::days(1)).await;
    let user = app.with_user(Role::Customer).await;
    let (id, intent) = pending(&app, &user, showtime, &["A1", "A2"]).await;
    assert_eq!(succeeded(&app, "evt_paid", &intent, &id).await, 200);
    assert_eq!(pending_points(&app, &user).await, (0, 20));

    // 5.00 of 20.00 back.
    assert_eq!(
        send_event(&app, &refunded_event("evt_part", &intent, 2000, 500)).await,
        200
    );
    assert_eq!(status_of(&app, &user, &id).await, "CONFIRMED");
    assert_eq!(
        payment_of(&app, &id).await.0,
        PaymentStatus::PartiallyRefunded
    );
    assert_eq!(seat_state(&app, showtime, "A1").await, "BOOKED");
    assert_eq!(pending_points(&app, &user).await, (0, 15));
    assert!(
        titles(&app, &user)
            .await
            .contains(&"Partial refund".to_owned())
    );
    let recorded: Vec<Decimal> = refunds::table
        .filter(refunds::status.eq("succeeded"))
        .select(refunds::amount)
        .load(&mut app.conn().await)
        .await
        .unwrap();
    assert_eq!(recorded, [fx::dec("5.00")]);

    // An older event (a smaller running total) arriving late changes nothing.
    assert_eq!(
        send_event(&app, &refunded_event("evt_older", &intent, 2000, 300)).await,
        200
    );
    assert_eq!(
        payment_of(&app, &id).await.0,
        PaymentStatus::PartiallyRefunded
    );
    assert_eq!(pending_points(&app, &user).await, (0, 15));

    // The customer refunds the rest: 15.00, not 20.00.
    let r = app
        .gql_as(&user.token, REFUND, json!({"id": id, "r": "plans changed"}))
        .await;
    assert_eq!(
        r.data()["refundBooking"]["amount"]["amount"],
        "15.00",
        "{r:?}"
    );
    assert_eq!(status_of(&app, &user, &id).await, "CANCELLED");
    assert_eq!(payment_of(&app, &id).await.0, PaymentStatus::Refunded);
    assert_eq!(seat_state(&app, showtime, "A1").await, "AVAILABLE");
    assert_eq!(pending_points(&app, &user).await, (0, 0));
    // Nothing is left to refund.
    let again = app
        .gql_as(&user.token, REFUND, json!({"id": id, "r": "again"}))
        .await;
    assert_eq!(again.code(), "CONFLICT");
    let total: Vec<Decimal> = refunds::table
        .filter(refunds::status.eq("succeeded"))
        .select(refunds::amount)
        .load(&mut app.conn().await)
        .await
        .unwrap();
    assert_eq!(total.iter().sum::<Decimal>(), fx::dec("20.00"));
    // Stripe's event for our own refund (running total 20.00) adds nothing more.
    assert_eq!(
        send_event(&app, &refunded_event("evt_rest", &intent, 2000, 2000)).await,
        200
    );
    assert_eq!(flow::count(&app, "refunds").await, 2);
}

/// A payment whose amount or currency is not the booking's does not confirm it: the
/// booking is flagged, its seat goes back on sale and what arrived is refunded by the
/// outbox. Before, any `succeeded` confirmed the booking whatever was paid.
#[tokio::test]
async fn a_payment_that_does_not_match_its_booking_is_refunded_not_confirmed() {
    let app = TestApp::builder()
        .env("SIMULATED_PAYMENT_DELAY_MS", NEVER)
        .env("OUTBOX_POLL_MS", "50")
        .build()
        .await;
    let showtime = showtime_at(&app, app.app.now() + Duration::days(1)).await;
    let user = app.with_user(Role::Customer).await;
    for (n, (minor, currency)) in [(999, "usd"), (1000, "eur"), (100_000, "usd")]
        .into_iter()
        .enumerate()
    {
        let seat = format!("A{}", n + 1);
        let (id, intent) = pending(&app, &user, showtime, &[&seat]).await;
        let body = event(
            &format!("evt_mismatch_{n}"),
            "payment_intent.succeeded",
            flow::paid_intent_object(&intent, &id, minor, currency),
        );
        assert_eq!(send_event(&app, &body).await, 200);
        assert_eq!(
            status_of(&app, &user, &id).await,
            "CANCELLED",
            "{minor} {currency}"
        );
        assert!(flow::booking(&app, &user, &id).await["qrCode"].is_null());
        assert_eq!(seat_state(&app, showtime, &seat).await, "AVAILABLE");
        let flag: Option<String> = screema::db::schema::bookings::table
            .find(Uuid::parse_str(&id).unwrap())
            .select(screema::db::schema::bookings::payment_flag)
            .first(&mut app.conn().await)
            .await
            .unwrap();
        let flag = flag.expect("the booking is flagged for operators");
        assert!(flag.contains("payment mismatch"), "{flag}");
        eventually("what arrived goes back", || async {
            payment_of(&app, &id).await.0 == PaymentStatus::Refunded
        })
        .await;
        let back: (Decimal, String) = refunds::table
            .filter(refunds::booking_id.eq(Uuid::parse_str(&id).unwrap()))
            .select((refunds::amount, refunds::currency))
            .first(&mut app.conn().await)
            .await
            .unwrap();
        let expected = Decimal::new(minor, 2);
        assert_eq!(back, (expected, currency.to_ascii_uppercase()));
    }
    assert_eq!(pending_points(&app, &user).await, (0, 0));
}

/// Prices, amounts sent to the gateway and amounts read from Stripe's events follow
/// ISO 4217's minor unit of the configured currency: none for JPY, three for KWD.
/// Before, every amount had two decimals and went to Stripe times 100.
#[tokio::test]
async fn jpy_and_kwd_amounts_use_their_minor_units_end_to_end() {
    for (currency, base, refused, shown, minor) in [
        ("JPY", "1800", "1800.5", "1800", 1800_i64),
        ("KWD", "3.250", "3.2505", "3.250", 3250_i64),
    ] {
        let app = TestApp::builder()
            .env("SIMULATED_PAYMENT_DELAY_MS", NEVER)
            .env("CURRENCY", currency)
            .build()
            .await;
        let admin = app.with_user(Role::Admin).await;
        let (movie, screen) = {
            let mut conn = app.conn().await;
            let theater = fx::theater(&mut conn, "Yen", "UTC").await;
            let screen = fx::screen(&mut conn, theater, 1, fx::small_layout()).await;
            (fx::movie(&mut conn, fx::MovieSpec::default()).await, screen)
        };
        const CREATE: &str = "mutation($m: ID!, $s: ID!, $t: DateTime!, $p: Decimal!) { createShowtime(input: {movieId: $m, screenId: $s, startTime: $t, basePrice: $p}) { id basePrice { amount currency } } }";
        let vars = |price: &str, day: i64| {
            json!({"m": movie.to_string(), "s": screen.to_string(),
                   "t": (app.app.now() + Duration::days(day)).to_rfc3339(), "p": price})
        };
        let bad = app.gql_as(&admin.token, CREATE, vars(refused, 2)).await;
        assert_eq!(bad.code(), "BAD_USER_INPUT", "{currency}");
        assert_eq!(bad.field(), Some("basePrice"));
        let r = app.gql_as(&admin.token, CREATE, vars(base, 1)).await;
        let created = &r.data()["createShowtime"];
        assert_eq!(
            created["basePrice"],
            json!({"amount": shown, "currency": currency})
        );
        let showtime = Uuid::parse_str(created["id"].as_str().unwrap()).unwrap();

        let user = app.with_user(Role::Customer).await;
        let (id, intent) = pending(&app, &user, showtime, &["A1"]).await;
        let b = flow::booking(&app, &user, &id).await;
        assert_eq!(
            b["finalAmount"],
            json!({"amount": shown, "currency": currency})
        );
        // What a 100-based conversion would have sent is refused as a mismatch...
        let (other, other_intent) = pending(&app, &user, showtime, &["A2"]).await;
        let hundredths = if minor == 1800 { 180_000 } else { 325 };
        let wrong = event(
            "evt_wrong_unit",
            "payment_intent.succeeded",
            flow::paid_intent_object(&other_intent, &other, hundredths, currency),
        );
        assert_eq!(send_event(&app, &wrong).await, 200);
        assert_eq!(status_of(&app, &user, &other).await, "CANCELLED");
        // ...and the amount in the currency's own minor units confirms.
        let right = event(
            "evt_right_unit",
            "payment_intent.succeeded",
            flow::paid_intent_object(&intent, &id, minor, currency),
        );
        assert_eq!(send_event(&app, &right).await, 200);
        assert_eq!(status_of(&app, &user, &id).await, "CONFIRMED", "{currency}");
        // The intent the gateway was asked for: the same minor units.
        let expected = intent_object(&app, &intent, &id).await;
        assert_eq!(expected["amount"], minor, "{currency}");
    }
}

/// The same against localstripe: the intent it holds for a JPY booking is in yen,
/// not hundredths of a yen, and its webhook confirms the booking.
#[tokio::test]
async fn a_jpy_booking_goes_to_localstripe_in_yen() {
    let secret = format!("whsec_{}", Uuid::new_v4().simple());
    let app = TestApp::builder()
        .env("STRIPE_SECRET_KEY", "sk_test_screema")
        .env("STRIPE_API_BASE", &localstripe_url())
        .env("STRIPE_WEBHOOK_SECRET", &secret)
        .env("CURRENCY", "JPY")
        .build()
        .await;
    let client = reqwest::Client::new();
    send_webhooks_to(&client, &app, &secret, &["payment_intent.succeeded"]).await;
    // One row of 10 seats at 10 (yen, now): 1,800 yen for A1 after the update below.
    let showtime = showtime_at(&app, app.app.now() + Duration::days(1)).await;
    diesel::update(screema::db::schema::showtimes::table.find(showtime))
        .set(screema::db::schema::showtimes::base_price.eq(fx::dec("1800")))
        .execute(&mut app.conn().await)
        .await
        .unwrap();
    let user = app.with_user(Role::Customer).await;
    let created = book(&app, &user, showtime, &["A1"]).await;
    let id = created["booking"]["id"].as_str().unwrap().to_owned();
    assert_eq!(created["booking"]["finalAmount"]["amount"], "1800");
    let client_secret = created["paymentClientSecret"].as_str().unwrap();
    let (intent, _) = client_secret.split_once("_secret_").unwrap();
    let shown = client
        .get(format!("{}/v1/payment_intents/{intent}", localstripe_url()))
        .basic_auth("sk_test_screema", Some(""))
        .send()
        .await
        .unwrap()
        .json::<Value>()
        .await
        .unwrap();
    assert_eq!(shown["amount"], 1800);
    assert_eq!(shown["currency"], "jpy");
    assert_eq!(
        pay_with_card(&client, intent, "4242424242424242").await,
        200
    );
    eventually("localstripe's webhook", || async {
        status_of(&app, &user, &id).await == "CONFIRMED"
    })
    .await;
}
