//! Loyalty through the public API: points for paid bookings (pending until the
//! showtime starts or the ticket is used), tiers with their seat discount, the upgrade
//! notification, and refunds taking the points back.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::common;

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

async fn pending(app: &TestApp, user: &TestUser) -> i64 {
    let r = app
        .gql_as(&user.token, "{ me { pendingPoints } }", json!({}))
        .await;
    r.data()["me"]["pendingPoints"].as_i64().unwrap()
}

async fn upgrades(app: &TestApp, user: &TestUser) -> Vec<String> {
    let r = app
        .gql_as(&user.token, "{ notifications { type message } }", json!({}))
        .await;
    r.data()["notifications"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|n| n["type"] == "TIER_UPGRADE")
        .map(|n| n["message"].as_str().unwrap().to_owned())
        .collect()
}

const REFUND: &str =
    "mutation($id: ID!) { refundBooking(input: {bookingId: $id}) { status amount { amount } } }";

/// Points are pending until the showtime starts: a refundable booking buys no tier
/// and no discount (before, points counted at payment, so a customer could buy a
/// tier's discount with bookings refunded afterwards). Once counted they lift the
/// tier, whose discount applies; a refund before the start takes pending points back,
/// an admin's refund after it takes counted points back.
#[tokio::test]
async fn points_count_once_the_showtime_starts_lift_a_tier_and_refunds_take_them_back() {
    let (builder, clock) = TestApp::clocked();
    let app = builder
        .env("SIMULATED_PAYMENT_DELAY_MS", "600000")
        .env("ACCESS_TOKEN_TTL_SECONDS", "604800")
        .env("SWEEP_INTERVAL_MS", "50")
        .build()
        .await;
    let now = app.app.now();
    let (first_show, later_show, popcorn) = {
        let mut conn = app.conn().await;
        (
            fx::one_row_showtime(&mut conn, 10, &[], now + Duration::days(1)).await,
            fx::one_row_showtime(&mut conn, 10, &[], now + Duration::days(3)).await,
            fx::snack(&mut conn, "Popcorn", "food", "6.75", true).await,
        )
    };
    let user = app.with_user(Role::Customer).await;
    let admin = app.with_user(Role::Admin).await;
    diesel::update(users::table.find(user.id))
        .set(users::points.eq(485))
        .execute(&mut app.conn().await)
        .await
        .unwrap();
    assert_eq!(me(&app, &user).await, ("bronze".to_owned(), 485));

    // 2 × 10.00 earns 20 points, pending: still bronze, and still bronze's price.
    let (first, _) = confirmed(&app, &user, first_show, &["A1", "A2"]).await;
    assert_eq!(me(&app, &user).await, ("bronze".to_owned(), 485));
    assert_eq!(pending(&app, &user).await, 20);
    let token = lock(&app, &user, later_show, &["A3", "A4"]).await;
    let r = create_booking(&app, &user, later_show, &["A3", "A4"], &token, json!([])).await;
    let b = &r.data()["createBooking"]["booking"];
    assert_eq!(b["discountAmount"]["amount"], "0.00");
    let unpaid = b["id"].as_str().unwrap().to_owned();
    let r = common::flow::cancel(&app, &user, &unpaid).await;
    assert_eq!(r.data()["cancelBooking"]["status"], "CANCELLED");

    // The first showtime starts: its 20 points count and lift the customer to silver.
    clock.advance(Duration::days(1) + Duration::minutes(1));
    common::flow::eventually("the points count", || async {
        me(&app, &user).await == ("silver".to_owned(), 505)
    })
    .await;
    assert_eq!(pending(&app, &user).await, 0);
    let told = upgrades(&app, &user).await;
    assert_eq!(told.len(), 1);
    assert!(
        told[0].contains("silver with 505 points: 5% off"),
        "{told:?}"
    );

    // Silver: 5 % off the seats (2 × 10.00 → 1.00 off), not off the popcorn.
    let token = lock(&app, &user, later_show, &["A5", "A6"]).await;
    let r = create_booking(
        &app,
        &user,
        later_show,
        &["A5", "A6"],
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
        common::flow::intent_object(&app, &intent, &id).await,
    );
    assert_eq!(common::flow::send_event(&app, &body).await, 200);
    // 25.75 earns 25 points, pending until that showtime starts.
    assert_eq!(me(&app, &user).await, ("silver".to_owned(), 505));
    assert_eq!(pending(&app, &user).await, 25);

    // Refunded before it starts: the pending points go, the counted ones stay.
    let r = app.gql_as(&user.token, REFUND, json!({"id": id})).await;
    assert_eq!(r.data()["refundBooking"]["status"], "succeeded");
    assert_eq!(pending(&app, &user).await, 0);
    assert_eq!(me(&app, &user).await, ("silver".to_owned(), 505));

    // An admin refunds the first booking after its start: its counted points go back,
    // below 500: bronze again, without a notification.
    let r = app.gql_as(&admin.token, REFUND, json!({"id": first})).await;
    assert_eq!(r.data()["refundBooking"]["status"], "succeeded");
    assert_eq!(me(&app, &user).await, ("bronze".to_owned(), 485));
    assert_eq!(upgrades(&app, &user).await.len(), 1);
}

/// A ticket used at the door counts its points at once.
#[tokio::test]
async fn a_used_ticket_counts_its_points_at_once() {
    let (builder, clock) = TestApp::clocked();
    let app = builder
        .env("SIMULATED_PAYMENT_DELAY_MS", "600000")
        .env("ACCESS_TOKEN_TTL_SECONDS", "604800")
        .env("SWEEP_INTERVAL_MS", "3600000")
        .build()
        .await;
    let showtime = {
        let mut conn = app.conn().await;
        fx::one_row_showtime(&mut conn, 10, &[], app.app.now() + Duration::hours(2)).await
    };
    let user = app.with_user(Role::Customer).await;
    let operator = app.with_user(Role::Operator).await;
    let (_, code) = confirmed(&app, &user, showtime, &["A1", "A2", "A3"]).await;
    assert_eq!(pending(&app, &user).await, 30);
    clock.advance(Duration::minutes(90));
    let r = app
        .gql_as(
            &operator.token,
            "mutation($c: String!) { checkInTicket(code: $c) { status } }",
            json!({"c": code}),
        )
        .await;
    assert_eq!(r.data()["checkInTicket"]["status"], "USED");
    assert_eq!(pending(&app, &user).await, 0);
    assert_eq!(me(&app, &user).await, ("bronze".to_owned(), 30));
}

#[tokio::test]
async fn tiers_are_configurable_and_a_bad_setting_is_named() {
    let (builder, clock) = TestApp::clocked();
    let app = builder
        .env("LOYALTY_TIERS", "member:0:0,vip:10:50")
        .env("SIMULATED_PAYMENT_DELAY_MS", "600000")
        .env("ACCESS_TOKEN_TTL_SECONDS", "604800")
        .env("SWEEP_INTERVAL_MS", "50")
        .build()
        .await;
    let (showtime, later) = {
        let mut conn = app.conn().await;
        let now = app.app.now();
        (
            fx::one_row_showtime(&mut conn, 10, &[], now + Duration::days(1)).await,
            fx::one_row_showtime(&mut conn, 10, &[], now + Duration::days(3)).await,
        )
    };
    let user = app.with_user(Role::Customer).await;
    diesel::update(users::table.find(user.id))
        .set(users::tier.eq("member"))
        .execute(&mut app.conn().await)
        .await
        .unwrap();
    confirmed(&app, &user, showtime, &["A1"]).await;
    clock.advance(Duration::days(1) + Duration::minutes(1));
    common::flow::eventually("the points count", || async {
        me(&app, &user).await == ("vip".to_owned(), 10)
    })
    .await;
    let token = lock(&app, &user, later, &["A2"]).await;
    let r = create_booking(&app, &user, later, &["A2"], &token, json!([])).await;
    assert_eq!(
        r.data()["createBooking"]["booking"]["finalAmount"]["amount"],
        "5.00"
    );

    let bad = screema::config::Config::from_lookup(|k| {
        (k == "LOYALTY_TIERS").then(|| "gold:100:10".to_owned())
    });
    assert_eq!(bad.err().unwrap().var, "LOYALTY_TIERS");
}
