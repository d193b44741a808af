//! SIGTERM to a real `screema serve` process: it stops accepting, closes websockets
//! with 1001, finishes requests in flight, and exits; a request that outlasts
//! `SHUTDOWN_GRACE_SECONDS` does not hold the exit up.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::{Duration, Instant};

use common::TestApp;
use common::node::Node;
use common::ws::WsClient;

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
    let in_flight = node.register("in-flight@example.com");
    tokio::time::sleep(Duration::from_millis(150)).await;
    let signalled = Instant::now();
    node.terminate();

    assert_eq!(ws.close_code().await, Some(1001), "websockets are told");
    let (answer, answered) = in_flight.await.unwrap().unwrap();
    assert_eq!(
        answer["data"]["register"]["user"]["email"], "in-flight@example.com",
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
