//! Loyalty through the public API: points for paid bookings, tiers with their seat
//! discount, the upgrade notification, and a refund taking the points back.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use chrono::Duration;
use common::fixtures as fx;
use common::flow::{confirmed, create_booking, lock};
use common::{TestApp, TestUser};
use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use screema::db::enums::Role;
use screema::db::schema::users;
use serde_json::json;
use uuid::Uuid;

async fn me(app: &TestApp, user: &TestUser) -> (String, i64) {
    let r = app
        .gql_as(&user.token, "{ me { tier points } }", json!({}))
        .await;
    let me = &r.data()["me"];
    (
        me["tier"].as_str().unwrap().to_owned(),
        me["points"].as_i64().unwrap(),
    )
}

#[tokio::test]
async fn points_lift_a_tier_whose_discount_applies_and_a_refund_takes_them_back() {
    let app = TestApp::builder()
        .env("SIMULATED_PAYMENT_DELAY_MS", "600000")
        .build()
        .await;
    let (showtime, popcorn) = {
        let mut conn = app.conn().await;
        (
            fx::one_row_showtime(&mut conn, 10, &[], app.app.now() + Duration::days(1)).await,
            fx::snack(&mut conn, "Popcorn", "food", "6.75", true).await,
        )
    };
    let user = app.with_user(Role::Customer).await;
    diesel::update(users::table.find(user.id))
        .set(users::points.eq(485))
        .execute(&mut app.conn().await)
        .await
        .unwrap();
    assert_eq!(me(&app, &user).await, ("bronze".to_owned(), 485));

    // Bronze pays full price: 2 × 10.00; 20 points lift the customer to silver.
    confirmed(&app, &user, showtime, &["A1", "A2"]).await;
    assert_eq!(me(&app, &user).await, ("silver".to_owned(), 505));
    let r = app
        .gql_as(
            &user.token,
            "{ notifications { title message type } }",
            json!({}),
        )
        .await;
    let upgrade = r.data()["notifications"]
        .as_array()
        .unwrap()
        .iter()
        .find(|n| n["type"] == "TIER_UPGRADE")
        .cloned()
        .expect("a tier-upgrade notification");
    assert!(
        upgrade["message"]
            .as_str()
            .unwrap()
            .contains("silver with 505 points: 5% off")
    );

    // Silver: 5 % off the seats (2 × 10.00 → 1.00 off), not off the popcorn.
    let token = lock(&app, &user, showtime, &["A3", "A4"]).await;
    let r = create_booking(
        &app,
        &user,
        showtime,
        &["A3", "A4"],
        &token,
        json!([{"snackId": popcorn.to_string(), "quantity": 1}]),
    )
    .await;
    let b = &r.data()["createBooking"]["booking"];
    assert_eq!(b["totalAmount"]["amount"], "26.75");
    assert_eq!(b["discountAmount"]["amount"], "1.00");
    assert_eq!(b["finalAmount"]["amount"], "25.75");
    let id = b["id"].as_str().unwrap().to_owned();
    let intent = format!("pi_sim_{}", Uuid::parse_str(&id).unwrap().simple());
    let body = common::flow::event(
        "evt_l2",
        "payment_intent.succeeded",
        common::flow::intent_object(&intent, &id),
    );
    assert_eq!(common::flow::send_event(&app, &body).await, 200);
    // 25.75 earns 25 points.
    assert_eq!(me(&app, &user).await, ("silver".to_owned(), 530));

    // Refunding the first booking takes its 20 points back; 510 is still silver.
    let first = app
        .gql_as(
            &user.token,
            "{ myBookings { id finalAmount { amount } } }",
            json!({}),
        )
        .await;
    let first_id = first.data()["myBookings"][1]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let r = app
        .gql_as(
            &user.token,
            "mutation($id: ID!) { refundBooking(input: {bookingId: $id}) { status } }",
            json!({"id": first_id}),
        )
        .await;
    assert_eq!(r.data()["refundBooking"]["status"], "succeeded");
    assert_eq!(me(&app, &user).await, ("silver".to_owned(), 510));
    // And refunding the second drops below 500: back to bronze, without a notification.
    let r = app
        .gql_as(
            &user.token,
            "mutation($id: ID!) { refundBooking(input: {bookingId: $id}) { status } }",
            json!({"id": id}),
        )
        .await;
    assert_eq!(r.data()["refundBooking"]["status"], "succeeded");
    assert_eq!(me(&app, &user).await, ("bronze".to_owned(), 485));
    let r = app
        .gql_as(&user.token, "{ notifications { type } }", json!({}))
        .await;
    let upgrades = r.data()["notifications"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|n| n["type"] == "TIER_UPGRADE")
        .count();
    assert_eq!(upgrades, 1);
}

#[tokio::test]
async fn tiers_are_configurable_and_a_bad_setting_is_named() {
    let app = TestApp::builder()
        .env("LOYALTY_TIERS", "member:0:0,vip:10:50")
        .env("SIMULATED_PAYMENT_DELAY_MS", "600000")
        .build()
        .await;
    let showtime = {
        let mut conn = app.conn().await;
        fx::one_row_showtime(&mut conn, 10, &[], app.app.now() + Duration::days(1)).await
    };
    let user = app.with_user(Role::Customer).await;
    diesel::update(users::table.find(user.id))
        .set(users::tier.eq("member"))
        .execute(&mut app.conn().await)
        .await
        .unwrap();
    confirmed(&app, &user, showtime, &["A1"]).await;
    assert_eq!(me(&app, &user).await, ("vip".to_owned(), 10));
    let token = lock(&app, &user, showtime, &["A2"]).await;
    let r = create_booking(&app, &user, showtime, &["A2"], &token, json!([])).await;
    assert_eq!(
        r.data()["createBooking"]["booking"]["finalAmount"]["amount"],
        "5.00"
    );

    let bad = screema::config::Config::from_lookup(|k| {
        (k == "LOYALTY_TIERS").then(|| "gold:100:10".to_owned())
    });
    assert_eq!(bad.err().unwrap().var, "LOYALTY_TIERS");
}
