//! SIGTERM to a real `screema serve` process: it stops accepting, closes websockets
//! with 1001, finishes requests in flight, and exits; a request that outlasts
//! `SHUTDOWN_GRACE_SECONDS` does not hold the exit up.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::TestApp;
use common::ws::WsClient;
use serde_json::json;

const REGISTER: &str = "mutation($e: String!) { register(input: {email: $e, password: \"a-long-enough-password\", fullName: \"Ada\"}) { user { email } } }";

/// A `screema serve` process over the test's database and Redis prefix.
struct Node {
    child: Child,
    addr: std::net::SocketAddr,
}

impl Node {
    async fn start(app: &TestApp, env: &[(&str, &str)]) -> Self {
        let addr = {
            let probe = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            probe.local_addr().unwrap()
        };
        let config = &app.app.config;
        let mut command = Command::new(env!("CARGO_BIN_EXE_screema"));
        command
            .arg("serve")
            .env("BIND_ADDR", addr.to_string())
            .env("DATABASE_URL", &config.database_url)
            .env("REDIS_URL", &config.redis_url)
            .env("REDIS_KEY_PREFIX", &config.redis_key_prefix)
            .env("RATE_LIMIT_GENERAL", "off")
            .env("APP_ENV", "development")
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        for (k, v) in env {
            command.env(k, v);
        }
        let child = command.spawn().unwrap();
        let node = Self { child, addr };
        let deadline = Instant::now() + Duration::from_secs(20);
        let client = reqwest::Client::new();
        while client
            .get(format!("http://{addr}/health/live"))
            .send()
            .await
            .is_err()
        {
            assert!(Instant::now() < deadline, "the node did not start");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        node
    }

    /// Registers in the background: the answer, and when it came.
    fn register(
        &self,
        email: &str,
    ) -> tokio::task::JoinHandle<reqwest::Result<(serde_json::Value, Instant)>> {
        let url = format!("http://{}/graphql", self.addr);
        let body = json!({"query": REGISTER, "variables": {"e": email}});
        tokio::spawn(async move {
            reqwest::Client::new()
                .post(url)
                .json(&body)
                .send()
                .await?
                .json()
                .await
                .map(|answer| (answer, Instant::now()))
        })
    }

    fn terminate(&self) {
        let status = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(status.success());
    }

    /// Waits for the process to exit: its success and how long it took.
    async fn exited(&mut self, within: Duration) -> (bool, Duration) {
        let started = Instant::now();
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return (status.success(), started.elapsed());
            }
            assert!(started.elapsed() < within, "still running after {within:?}");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[tokio::test]
async fn sigterm_finishes_requests_in_flight_closes_websockets_and_exits() {
    let app = TestApp::new().await;
    // A password hash slow enough to be in flight when the signal comes.
    let mut node = Node::start(
        &app,
        &[("ARGON2_MEMORY_KIB", "65536"), ("ARGON2_ITERATIONS", "3")],
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
