//! Servers a test starts on a port of its own and stops when dropped: those from the
//! test tools' virtualenv (`scripts/test-tools.sh`), and a Redis of its own.

use std::process::{Child, Command, Stdio};

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn python() -> String {
    std::env::var("SCREEMA_PYTHON").unwrap_or_else(|_| {
        format!(
            "{}/.cache/screema/test-tools-v2/bin/python",
            std::env::var("HOME").unwrap()
        )
    })
}

pub struct PythonServer {
    pub port: u16,
    child: Child,
}

impl PythonServer {
    /// `python -m <module> <args…>`, waiting until `port` accepts connections.
    pub async fn start(module: &str, args: &[String], port: u16) -> Self {
        let python = python();
        let mut child = Command::new(&python)
            .args(["-m", module])
            .args(args)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("{python} -m {module}: {e}; run scripts/test-tools.sh"));
        for _ in 0..200 {
            if tokio::net::TcpStream::connect(("127.0.0.1", port))
                .await
                .is_ok()
            {
                return Self { port, child };
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        let _ = child.kill();
        let _ = child.wait();
        panic!("{module} did not start on {port}");
    }
}

impl Drop for PythonServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A Redis server of a test's own on a free port, without persistence: one that a
/// test may kill and restart without touching the Redis every other test shares.
pub struct RedisServer {
    pub port: u16,
    child: Child,
}

impl RedisServer {
    pub async fn start() -> Self {
        Self::start_on(free_port()).await
    }

    async fn start_on(port: u16) -> Self {
        let child = Command::new("redis-server")
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no", "--daemonize", "no"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("redis-server: {e}; run scripts/services.sh"));
        let server = Self { port, child };
        for _ in 0..200 {
            if server.ping().await {
                return server;
            }
            tokio::time::sleep(std::time::Duration::from_millis(25)).await;
        }
        panic!("redis-server did not start on {port}");
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    async fn ping(&self) -> bool {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let Ok(mut stream) = tokio::net::TcpStream::connect(("127.0.0.1", self.port)).await else {
            return false;
        };
        let mut reply = [0u8; 7];
        stream.write_all(b"PING\r\n").await.is_ok()
            && stream.read_exact(&mut reply).await.is_ok()
            && &reply == b"+PONG\r\n"
    }

    /// SIGKILL, then a new empty server on the same port: a crash and a restart
    /// that lost every key, with clients' connections cut.
    pub async fn restart(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let port = self.port;
        // The old process is gone, so the new one has nothing to take over from.
        let fresh = Self::start_on(port).await;
        *self = fresh;
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
