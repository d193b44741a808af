//! In-app notifications through the public API: listed newest first, marked read by
//! their owner only, and pushed live to a subscription on any node.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::common;

use chrono::Duration;
use common::TestApp;
use common::fixtures as fx;
use common::flow::{book, confirmed, event, send_event};
use common::ws::WsClient;
use screema::db::enums::Role;
use serde_json::{Value, json};
use uuid::Uuid;

const LIST: &str = "query($u: Boolean) { notifications(unreadOnly: $u) { id title message type isRead createdAt } }";
const READ: &str = "mutation($id: ID!) { markNotificationRead(id: $id) { id isRead } }";
const LIVE: &str = "subscription { myNotifications { id title type isRead } }";

async fn app() -> TestApp {
    TestApp::builder()
        .env("SIMULATED_PAYMENT_DELAY_MS", "600000")
        .build()
        .await
}

async fn showtime(app: &TestApp) -> Uuid {
    let mut conn = app.conn().await;
    fx::one_row_showtime(&mut conn, 10, &[], app.app.now() + Duration::days(1)).await
}

fn titles(list: &Value) -> Vec<&str> {
    list.as_array()
        .unwrap()
        .iter()
        .map(|n| n["title"].as_str().unwrap())
        .collect()
}

/// A payment failure for a pending booking, which the customer is told of.
async fn failed_payment(app: &TestApp, booking: &str) {
    let intent = format!("pi_sim_{}", Uuid::parse_str(booking).unwrap().simple());
    let body = event(
        &format!("evt_{}", Uuid::new_v4().simple()),
        "payment_intent.payment_failed",
        json!({"id": intent, "last_payment_error": {"message": "Insufficient funds."}}),
    );
    assert_eq!(send_event(app, &body).await, 200);
}

#[tokio::test]
async fn notifications_are_listed_newest_first_and_marked_read_by_their_owner() {
    let app = app().await;
    let st = showtime(&app).await;
    let user = app.with_user(Role::Customer).await;
    let other = app.with_user(Role::Customer).await;
    let pending = book(&app, &user, st, &["A1"]).await;
    failed_payment(&app, pending["booking"]["id"].as_str().unwrap()).await;
    confirmed(&app, &user, st, &["A2"]).await;

    let all = app.gql_as(&user.token, LIST, json!({})).await;
    let list = &all.data()["notifications"];
    assert_eq!(titles(list), ["Booking confirmed", "Payment failed"]);
    assert_eq!(list[1]["type"], "PAYMENT");
    assert_eq!(list[0]["type"], "BOOKING");
    assert!(
        list[1]["message"]
            .as_str()
            .unwrap()
            .contains("Insufficient funds.")
    );
    assert_eq!(list[0]["isRead"], false);
    let first = list[0]["id"].as_str().unwrap().to_owned();

    // Someone else's is not found, exactly as one that does not exist.
    let r = app.gql_as(&other.token, READ, json!({"id": first})).await;
    assert_eq!(r.code(), "NOT_FOUND");
    let r = app
        .gql_as(&user.token, READ, json!({"id": Uuid::new_v4().to_string()}))
        .await;
    assert_eq!(r.code(), "NOT_FOUND");
    let r = app.gql_as(&user.token, READ, json!({"id": "x"})).await;
    assert_eq!((r.code(), r.field()), ("BAD_USER_INPUT", Some("id")));
    let r = app.gql_as(&user.token, READ, json!({"id": first})).await;
    assert_eq!(
        r.data()["markNotificationRead"],
        json!({"id": first, "isRead": true})
    );

    let unread = app.gql_as(&user.token, LIST, json!({"u": true})).await;
    assert_eq!(titles(&unread.data()["notifications"]), ["Payment failed"]);
    let theirs = app.gql_as(&other.token, LIST, json!({})).await;
    assert_eq!(theirs.data()["notifications"], json!([]));
    assert_eq!(app.gql(LIST, json!({})).await.code(), "UNAUTHENTICATED");
    assert_eq!(
        app.gql(READ, json!({"id": first})).await.code(),
        "UNAUTHENTICATED"
    );
}

#[tokio::test]
async fn a_notification_written_on_one_node_reaches_a_subscription_on_another() {
    let a = app().await;
    let b = a
        .another_node()
        .env("SIMULATED_PAYMENT_DELAY_MS", "600000")
        .build()
        .await;
    let st = showtime(&a).await;
    let user = a.with_user(Role::Customer).await;
    let other = a.with_user(Role::Customer).await;

    let mut mine = WsClient::connect(b.addr, false, Some(&user.token)).await;
    mine.subscribe("n", LIVE, json!({})).await;
    let mut theirs = WsClient::connect(b.addr, true, Some(&other.token)).await;
    theirs.subscribe("n", LIVE, json!({})).await;
    // Subscribing is asynchronous: give both a moment to be in place on node B.
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;

    let (id, _) = confirmed(&a, &user, st, &["A3"]).await;
    let pushed = mine.next_data().await;
    assert_eq!(pushed["myNotifications"]["title"], "Booking confirmed");
    assert_eq!(pushed["myNotifications"]["type"], "BOOKING");
    assert_eq!(pushed["myNotifications"]["isRead"], false);
    let listed = a.gql_as(&user.token, LIST, json!({})).await;
    assert_eq!(
        listed.data()["notifications"][0]["id"],
        pushed["myNotifications"]["id"]
    );
    assert!(!id.is_empty());
    // Nobody else hears of it.
    assert!(theirs.maybe_next(300).await.is_none());

    // A signed-out connection may not subscribe.
    let mut anonymous = WsClient::connect(b.addr, false, None).await;
    anonymous.subscribe("n", LIVE, json!({})).await;
    let refused = anonymous.receive().await;
    let text = refused.to_string();
    assert!(text.contains("UNAUTHENTICATED"), "{text}");
}
