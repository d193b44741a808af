//! SIGTERM to a real `screema serve` process: it stops accepting, closes websockets
//! with 1001, finishes requests in flight and the outbox item in hand, and exits; a
//! request that outlasts `SHUTDOWN_GRACE_SECONDS` does not hold the exit up.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::common;

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::TestApp;
use common::fixtures as fx;
use common::flow::{confirmed, outbox_row};
use common::node::Node;
use common::ws::WsClient;
use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use screema::db::enums::Role;
use screema::db::schema::{outbox as outbox_table, users};
use screema::outbox::{self, Effect};
use tokio::sync::Notify;

#[tokio::test]
async fn sigterm_finishes_requests_in_flight_closes_websockets_and_exits() {
    let app = TestApp::new().await;
    // A password hash slow enough to be in flight when the signal comes, and a grace
    // period that a debug build hashing on a busy machine (60 s seen in CI) cannot
    // outlast: this test is about finishing, the next one about giving up.
    let mut node = Node::start(
        &app,
        &[
            ("ARGON2_MEMORY_KIB", "65536"),
            ("ARGON2_ITERATIONS", "3"),
            ("SHUTDOWN_GRACE_SECONDS", "300"),
        ],
    )
    .await;
    let mut ws = WsClient::connect(node.addr, false, None).await;
    // On a quiet machine the hash may finish before the signal: then another request,
    // until one is still running when the signal goes.
    let mut attempt = 0;
    let (in_flight, email, signalled) = loop {
        attempt += 1;
        let email = format!("in-flight-{attempt}@example.com");
        let in_flight = node.register(&email);
        tokio::time::sleep(Duration::from_millis(100)).await;
        if !in_flight.is_finished() {
            let signalled = Instant::now();
            node.terminate();
            break (in_flight, email, signalled);
        }
        assert!(attempt < 20, "no request lasted 100 ms");
    };

    assert_eq!(ws.close_code().await, Some(1001), "websockets are told");
    let (answer, answered) = in_flight.await.unwrap().unwrap();
    assert_eq!(
        answer["data"]["register"]["user"]["email"], email,
        "the request in flight is finished: {answer}"
    );
    assert!(
        answered > signalled,
        "the request really was in flight when the signal came"
    );
    let (success, _) = node.exited(Duration::from_secs(20)).await;
    assert!(success, "a clean exit");
    assert!(
        tokio::net::TcpStream::connect(node.addr).await.is_err(),
        "nothing listens any more"
    );
}

#[tokio::test]
async fn a_request_that_outlasts_the_grace_period_does_not_hold_the_exit_up() {
    let app = TestApp::new().await;
    let mut node = Node::start(
        &app,
        &[
            ("SHUTDOWN_GRACE_SECONDS", "1"),
            // Far longer than the grace period.
            ("ARGON2_MEMORY_KIB", "262144"),
            ("ARGON2_ITERATIONS", "64"),
        ],
    )
    .await;
    let in_flight = node.register("too-slow@example.com");
    tokio::time::sleep(Duration::from_millis(150)).await;
    node.terminate();
    let (success, took) = node.exited(Duration::from_secs(10)).await;
    assert!(success);
    assert!(
        took < Duration::from_secs(3),
        "exits after the 1 s grace period, not after the request: {took:?}"
    );
    assert!(in_flight.await.unwrap().is_err(), "the request was cut off");
}

/// An SMS provider that answers each message after `delay`, telling the test when a
/// message has arrived: the outbox item a node has in hand while it is answered.
async fn slow_sms_provider(delay: Duration) -> (String, Arc<Notify>, Arc<Mutex<Vec<Instant>>>) {
    use axum::extract::State;
    type Seen = (Arc<Notify>, Arc<Mutex<Vec<Instant>>>, Duration);
    async fn receive(State((arrived, answered, delay)): State<Seen>) -> &'static str {
        arrived.notify_one();
        tokio::time::sleep(delay).await;
        answered.lock().unwrap().push(Instant::now());
        "{\"sid\": \"SM1\"}"
    }
    let arrived = Arc::new(Notify::new());
    let answered = Arc::new(Mutex::new(Vec::new()));
    let router = axum::Router::new()
        .route(
            "/2010-04-01/Accounts/{sid}/Messages.json",
            axum::routing::post(receive),
        )
        .with_state((arrived.clone(), answered.clone(), delay));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, router).await });
    (url, arrived, answered)
}

/// When an outbox row may next be claimed.
async fn available_at(app: &TestApp, key: &str) -> chrono::DateTime<chrono::Utc> {
    outbox_table::table
        .filter(outbox_table::idempotency_key.eq(key))
        .select(outbox_table::available_at)
        .first(&mut app.conn().await)
        .await
        .unwrap()
}

/// SIGTERM while the outbox worker is delivering a row: the row is delivered and
/// recorded as such (not left to a retry, not sent twice), the next due row is left
/// untouched for another node, and the process exits once the item in hand is done.
#[tokio::test]
async fn sigterm_lets_the_outbox_worker_finish_the_item_in_hand_and_take_no_more() {
    // The in-process app only makes the booking: no SMS, and its own worker asleep.
    let app = TestApp::builder()
        .env("OUTBOX_POLL_MS", "3600000")
        .env("SWEEP_INTERVAL_MS", "3600000")
        .env("SIMULATED_PAYMENT_DELAY_MS", "600000")
        .build()
        .await;
    let showtime = {
        let mut conn = app.conn().await;
        fx::one_row_showtime(
            &mut conn,
            10,
            &[],
            app.app.now() + chrono::Duration::days(1),
        )
        .await
    };
    let user = app.with_user(Role::Customer).await;
    // Texts go only to verified numbers.
    diesel::update(users::table.find(user.id))
        .set((
            users::phone.eq(Some("+15557654321")),
            users::phone_verified.eq(true),
        ))
        .execute(&mut app.conn().await)
        .await
        .unwrap();
    let (booking, _) = confirmed(&app, &user, showtime, &["A1"]).await;
    let booking = booking.parse().unwrap();

    // Two text messages due now for the workers, as a transaction would leave them.
    let (first, second) = ("sms-shutdown-first", "sms-shutdown-second");
    let mut conn = app.conn().await;
    for key in [first, second] {
        let effect = Effect::Sms {
            booking,
            template: "booking_confirmed".to_owned(),
        };
        let due_now = outbox::Deliverer::Workers;
        outbox::enqueue_for(&mut conn, app.app.now(), key.to_owned(), &effect, due_now)
            .await
            .unwrap()
            .unwrap();
    }
    let second_due = available_at(&app, second).await;

    let (url, arrived, answered) = slow_sms_provider(Duration::from_millis(1500)).await;
    let mut node = Node::start(
        &app,
        &[
            ("OUTBOX_POLL_MS", "50"),
            ("SMS_API_BASE", &url),
            ("SMS_ACCOUNT_SID", "AC123"),
            ("SMS_AUTH_TOKEN", "tok"),
            ("SMS_FROM", "+15550001111"),
            ("SHUTDOWN_GRACE_SECONDS", "60"),
        ],
    )
    .await;
    tokio::time::timeout(Duration::from_secs(20), arrived.notified())
        .await
        .expect("the node's worker took the first row");
    node.terminate();
    let (success, _) = node.exited(Duration::from_secs(30)).await;
    let exited = Instant::now();
    assert!(success, "a clean exit");

    let answered = answered.lock().unwrap().clone();
    assert_eq!(answered.len(), 1, "one message sent, and only one");
    assert!(answered[0] < exited, "the exit waited for the item in hand");
    let (attempts, delivered, error) = outbox_row(&app, first).await;
    assert!(
        delivered.is_some(),
        "the item in hand is recorded as delivered"
    );
    assert_eq!((attempts, error), (1, None));
    let (attempts, delivered, _) = outbox_row(&app, second).await;
    assert_eq!(
        (attempts, delivered),
        (0, None),
        "the next row is not taken"
    );
    assert_eq!(
        available_at(&app, second).await,
        second_due,
        "nor leased: another node may take it now"
    );
}
