//! Real `screema serve` processes beside the test's in-process server, for what only a
//! process can show: signals, a node killed outright, a node restarted.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::json;

use super::TestApp;
use secrecy::ExposeSecret;

const REGISTER: &str = "mutation($e: String!) { register(input: {email: $e, password: \"a-long-enough-password\", fullName: \"Ada\"}) { user { email } } }";

/// A `screema serve` process over the test's database and Redis prefix.
pub struct Node {
    child: Child,
    pub addr: std::net::SocketAddr,
}

impl Node {
    pub async fn start(app: &TestApp, env: &[(&str, &str)]) -> Self {
        let addr = {
            let probe = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            probe.local_addr().unwrap()
        };
        Self::start_on(app, addr, env).await
    }

    /// Starts a node on a given address (a restarted node takes its old one).
    pub async fn start_on(app: &TestApp, addr: std::net::SocketAddr, env: &[(&str, &str)]) -> Self {
        let config = &app.app.config;
        let mut command = Command::new(env!("CARGO_BIN_EXE_screema"));
        command
            .arg("serve")
            .env("BIND_ADDR", addr.to_string())
            .env("DATABASE_URL", config.database.url.expose_secret())
            .env("REDIS_URL", config.redis.url.expose_secret())
            .env("REDIS_KEY_PREFIX", &config.redis.key_prefix)
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
    pub fn register(
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

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    /// SIGKILL: no chance to finish anything.
    pub fn kill(&mut self) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
    }

    pub fn terminate(&self) {
        let status = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(status.success());
    }

    /// Waits for the process to exit: its success and how long it took.
    pub async fn exited(&mut self, within: Duration) -> (bool, Duration) {
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
