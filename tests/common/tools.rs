//! Servers from the test tools' virtualenv (`scripts/test-tools.sh`), each started by
//! a test on a port of its own and stopped when dropped.

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
