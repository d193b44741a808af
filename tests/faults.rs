//! What must hold when the outside world misbehaves: webhook storms (the same events
//! replayed many times, concurrently, out of order, to two nodes) have each effect once.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use chrono::Duration;
use common::fixtures as fx;
use common::flow::{self, event, intent_object, pending, send_event};
use common::{TestApp, TestUser};
use diesel::{ExpressionMethods, QueryDsl};
use diesel_async::RunQueryDsl;
use rand::seq::SliceRandom;
use rust_decimal::prelude::ToPrimitive;
use screema::db::enums::Role;
use screema::db::schema::{notifications, outbox, stripe_events};
use serde_json::json;

async fn points(app: &TestApp, user: &TestUser) -> i64 {
    app.gql_as(&user.token, "{ me { points } }", json!({}))
        .await
        .data()["me"]["points"]
        .as_i64()
        .unwrap()
}

async fn confirmations(app: &TestApp, user: &TestUser) -> i64 {
    notifications::table
        .filter(notifications::user_id.eq(user.id))
        .filter(notifications::title.eq("Booking confirmed"))
        .count()
        .get_result(&mut app.conn().await)
        .await
        .unwrap()
}

#[tokio::test]
async fn a_webhook_storm_on_two_nodes_has_each_effect_once() {
    let app = TestApp::builder()
        .env("SIMULATED_PAYMENT_DELAY_MS", "600000")
        .build()
        .await;
    let other = app
        .another_node()
        .env("SIMULATED_PAYMENT_DELAY_MS", "600000")
        .build()
        .await;
    let showtime = {
        let mut conn = app.conn().await;
        fx::one_row_showtime(&mut conn, 10, &[], app.app.now() + Duration::days(1)).await
    };
    let (alice, bob) = (
        app.with_user(Role::Customer).await,
        app.with_user(Role::Customer).await,
    );
    let (a1, a1_intent) = pending(&app, &alice, showtime, &["A1"]).await;
    let (a2, a2_intent) = pending(&app, &alice, showtime, &["A2", "A3"]).await;
    let (b1, b1_intent) = pending(&app, &bob, showtime, &["A4"]).await;

    let succeeded = |id: &str, intent: &str, booking: &str| {
        event(
            id,
            "payment_intent.succeeded",
            intent_object(intent, booking),
        )
    };
    let failed = |id: &str, intent: &str| {
        event(
            id,
            "payment_intent.payment_failed",
            json!({"id": intent, "last_payment_error": {"message": "declined"}}),
        )
    };
    // Each delivery many times over; a second "succeeded" event for one payment; a
    // failure that arrives after the success it preceded.
    let mut storm = Vec::new();
    for _ in 0..12 {
        storm.push(succeeded("evt_a1", &a1_intent, &a1));
        storm.push(succeeded("evt_b1", &b1_intent, &b1));
        storm.push(succeeded("evt_a2", &a2_intent, &a2));
    }
    for _ in 0..6 {
        storm.push(succeeded("evt_a1_again", &a1_intent, &a1));
        storm.push(failed("evt_a2_failed_late", &a2_intent));
    }
    storm.shuffle(&mut rand::rng());
    let statuses = futures_util::future::join_all(storm.iter().enumerate().map(|(i, body)| {
        let node = if i % 2 == 0 { &app } else { &other };
        send_event(node, body)
    }))
    .await;
    assert!(statuses.iter().all(|s| *s == 200), "{statuses:?}");

    for (user, id) in [(&alice, &a1), (&alice, &a2), (&bob, &b1)] {
        assert_eq!(flow::status_of(&app, user, id).await, "CONFIRMED");
    }
    assert_eq!(confirmations(&app, &alice).await, 2);
    assert_eq!(confirmations(&app, &bob).await, 1);
    // Points once per booking: A1 alone, A2 and A3 together, A4.
    let final_amount = |user: &TestUser, id: &str| {
        let (app, user, id) = (&app, user.clone(), id.to_owned());
        async move {
            let b = flow::booking(app, &user, &id).await;
            let amount: rust_decimal::Decimal = b["finalAmount"]["amount"]
                .as_str()
                .unwrap()
                .parse()
                .unwrap();
            amount.floor().to_i64().unwrap()
        }
    };
    assert_eq!(
        points(&app, &alice).await,
        final_amount(&alice, &a1).await + final_amount(&alice, &a2).await
    );
    assert_eq!(points(&app, &bob).await, final_amount(&bob, &b1).await);
    let mut conn = app.conn().await;
    let seen: i64 = stripe_events::table
        .count()
        .get_result(&mut conn)
        .await
        .unwrap();
    assert_eq!(seen, 5, "one record per distinct event id");
    // One confirmation email per booking, however many deliveries.
    let emails: i64 = outbox::table
        .filter(outbox::kind.eq("email"))
        .count()
        .get_result(&mut conn)
        .await
        .unwrap();
    assert_eq!(emails, 3);
}
