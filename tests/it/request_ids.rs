//! A request can be followed through the logs: each HTTP request has a request id
//! (the client's `X-Request-Id` when it is a sane one, echoed back), and the outbox rows
//! it writes carry that id, so that their delivery (a seat sync, an email) logs under
//! it too.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::common;

use chrono::Duration;
use common::TestApp;
use common::fixtures as fx;
use common::flow::{create_booking_query, lock};
use diesel::QueryDsl;
use diesel_async::RunQueryDsl;
use screema::db::enums::Role;
use screema::db::schema::outbox;
use serde_json::{Value, json};

async fn post_with_id(
    app: &TestApp,
    token: &str,
    id: &str,
    query: &str,
    vars: Value,
) -> reqwest::Response {
    app.client
        .post(app.url("/graphql"))
        .bearer_auth(token)
        .header("x-request-id", id)
        .json(&json!({"query": query, "variables": vars}))
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn the_request_id_is_echoed_and_carried_into_the_outbox_rows_it_writes() {
    let app = TestApp::new().await;
    let alice = app.with_user(Role::Customer).await;
    let showtime = {
        let mut conn = app.conn().await;
        let start = app.app.now() + Duration::days(1);
        fx::one_row_showtime(&mut conn, 6, &[], start).await
    };
    let hold = lock(&app, &alice, showtime, &["A1"]).await;
    let vars = json!({"s": showtime.to_string(), "seats": ["A1"], "t": hold, "snacks": []});
    let response = post_with_id(
        &app,
        &alice.token,
        "checkout-7f3a",
        &create_booking_query(),
        vars,
    )
    .await;
    assert_eq!(response.headers()["x-request-id"], "checkout-7f3a");
    let body: Value = response.json().await.unwrap();
    assert!(body["errors"].is_null(), "{body}");

    let ids: Vec<Option<String>> = outbox::table
        .select(outbox::request_id)
        .load(&mut app.conn().await)
        .await
        .unwrap();
    assert!(!ids.is_empty(), "createBooking writes outbox rows");
    assert!(
        ids.iter().all(|id| id.as_deref() == Some("checkout-7f3a")),
        "{ids:?}"
    );
}

#[tokio::test]
async fn an_id_a_client_could_forge_log_lines_with_is_replaced() {
    let app = TestApp::new().await;
    let alice = app.with_user(Role::Customer).await;
    for offered in ["two words", "quote\"d", &"x".repeat(65)] {
        let response = post_with_id(&app, &alice.token, offered, "{ __typename }", json!({})).await;
        let given = response.headers()["x-request-id"]
            .to_str()
            .unwrap()
            .to_owned();
        assert_ne!(given, offered);
        assert_eq!(given.len(), 32);
        assert!(given.bytes().all(|b| b.is_ascii_hexdigit()), "{given}");
    }
    let response = app.get("/health/live").await;
    assert_eq!(
        response.headers()["x-request-id"].len(),
        32,
        "every route has one"
    );
}
