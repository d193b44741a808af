//! Promotions through the API: customers opt in (and out) with `updateProfile`; an
//! admin's promotion reaches every customer who opted in, in the app and by email,
//! with its voucher's code, in batches at a bounded rate, and nobody else.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::common;
use crate::messages::SmtpSink;

use common::tools::free_port;
use common::{Gql, TestApp, TestUser};
use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use screema::db::enums::{NotificationType, Role};
use screema::db::schema::{notifications, users};
use serde_json::json;

const SEND: &str = "mutation($i: SendPromotionInput!) { sendPromotion(input: $i) \
    { id title voucherCode recipients finishedAt } }";
const OPT: &str =
    "mutation($on: Boolean!) { updateProfile(input: {marketingOptIn: $on}) { marketingOptIn } }";

async fn opt(app: &TestApp, user: &TestUser, on: bool) {
    let r = app.gql_as(&user.token, OPT, json!({"on": on})).await;
    assert_eq!(r.data()["updateProfile"]["marketingOptIn"], on);
}

async fn email_of(app: &TestApp, user: &TestUser) -> String {
    users::table
        .find(user.id)
        .select(users::email)
        .first(&mut app.conn().await)
        .await
        .unwrap()
}

/// The promotions a user was told of, with when.
async fn told(app: &TestApp, user: &TestUser) -> Vec<(String, chrono::DateTime<chrono::Utc>)> {
    notifications::table
        .filter(notifications::user_id.eq(user.id))
        .filter(notifications::type_.eq(NotificationType::Promotion))
        .select((notifications::message, notifications::created_at))
        .load(&mut app.conn().await)
        .await
        .unwrap()
}

#[tokio::test]
async fn a_promotion_reaches_those_who_opted_in_in_batches_and_nobody_else() {
    let smtp = SmtpSink::start_on(free_port()).await;
    // Two customers a batch, two a second: a batch every second.
    let app = TestApp::builder()
        .env("SMTP_HOST", "127.0.0.1")
        .env("SMTP_PORT", &smtp.port.to_string())
        .env("SMTP_TLS", "none")
        .env("PROMOTION_BATCH", "2")
        .env("PROMOTION_RATE_PER_SECOND", "2")
        .env("OUTBOX_POLL_MS", "100")
        .build()
        .await;
    let admin = app.with_user(Role::Admin).await;
    app.gql_as(
        &admin.token,
        "mutation { createVoucher(input: {code: \"FILMFEST\", kind: PERCENT_OFF, value: \"20\"}) { id } }",
        json!({}),
    )
    .await;
    let mut fans = Vec::new();
    for _ in 0..3 {
        let fan = app.with_user(Role::Customer).await;
        opt(&app, &fan, true).await;
        fans.push(fan);
    }
    let quiet = app.with_user(Role::Customer).await;
    let changed_mind = app.with_user(Role::Customer).await;
    opt(&app, &changed_mind, true).await;
    opt(&app, &changed_mind, false).await;

    let r = app
        .gql_as(
            &admin.token,
            SEND,
            json!({"i": {"title": "Festival week", "message": "Twenty films, one pass.",
                         "voucherCode": "filmfest"}}),
        )
        .await;
    let promotion = r.data()["sendPromotion"].clone();
    assert_eq!(promotion["voucherCode"], "FILMFEST");

    // Everyone who opted in is told, in the app and by email, with the code.
    for fan in &fans {
        let email = email_of(&app, fan).await;
        let message = smtp.message_to(&email).await;
        assert!(message.contains("Subject: Festival week"), "{message}");
        assert!(message.contains("Your code: FILMFEST"), "{message}");
    }
    let mut times = Vec::new();
    for fan in &fans {
        let told = told(&app, fan).await;
        assert_eq!(told.len(), 1);
        assert!(told[0].0.contains("Twenty films") && told[0].0.contains("FILMFEST"));
        times.push(told[0].1);
    }
    for other in [&quiet, &changed_mind, &admin] {
        assert!(told(&app, other).await.is_empty());
        let email = email_of(&app, other).await;
        assert!(!smtp.messages().iter().any(|m| m.contains(&email)));
    }
    // Two batches, the second a second after the first: the rate is bounded.
    times.sort();
    let spread = times[2] - times[0];
    assert!(
        spread >= chrono::Duration::milliseconds(900),
        "three customers told within {spread:?}: {times:?}"
    );
    let listed = app
        .gql_as(
            &admin.token,
            "{ promotions { title recipients finishedAt } }",
            json!({}),
        )
        .await;
    assert_eq!(listed.data()["promotions"][0]["recipients"], 3);
    assert!(listed.data()["promotions"][0]["finishedAt"].is_string());
}

#[tokio::test]
async fn bad_promotions_are_refused_and_customers_cannot_send_them() {
    let app = TestApp::new().await;
    let admin = app.with_user(Role::Admin).await;
    let customer = app.with_user(Role::Customer).await;
    let send = |user: &TestUser, input: serde_json::Value| {
        let token = user.token.clone();
        let app = &app;
        async move { app.gql_as(&token, SEND, json!({"i": input})).await }
    };
    let cases: Vec<(serde_json::Value, &str)> = vec![
        (json!({"title": " ", "message": "Hi"}), "title"),
        (json!({"title": "Hi", "message": ""}), "message"),
        (
            json!({"title": "Hi", "message": "x".repeat(2001)}),
            "message",
        ),
        (
            json!({"title": "Hi", "message": "Hi", "voucherCode": "NOSUCH"}),
            "voucherCode",
        ),
        // Not a code's shape: no voucher's, and not sent to Postgres.
        (
            json!({"title": "Hi", "message": "Hi", "voucherCode": "1' OR '1'='1"}),
            "voucherCode",
        ),
        // Found by the schema fuzzer: Postgres cannot take NUL, and answered INTERNAL.
        (
            json!({"title": "Drama", "message": "c", "voucherCode": "1'\u{0}\u{16}"}),
            "voucherCode",
        ),
    ];
    for (input, field) in cases {
        let r: Gql = send(&admin, input.clone()).await;
        assert_eq!(
            (r.code(), r.field()),
            ("BAD_USER_INPUT", Some(field)),
            "{input}"
        );
    }
    let r = send(&customer, json!({"title": "Hi", "message": "Hi"})).await;
    assert_eq!(r.code(), "FORBIDDEN");
    assert_eq!(common::flow::count(&app, "promotions").await, 0);
}
