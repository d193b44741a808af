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
                return Self { child };
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

/// A PostgreSQL cluster of a test's own (initdb into a temporary directory, trust
/// authentication on loopback, no fsync), which a test may stop and start again
/// without touching the server every other test shares. Run as root, its commands
/// run as the `postgres` user, as Postgres requires.
pub struct PostgresServer {
    pub port: u16,
    dir: std::path::PathBuf,
}

impl PostgresServer {
    pub async fn start() -> Self {
        let dir =
            std::env::temp_dir().join(format!("screema-pg-{}", uuid::Uuid::new_v4().simple()));
        std::fs::create_dir_all(&dir).unwrap();
        let server = Self {
            port: free_port(),
            dir,
        };
        if is_root() {
            let postgres = Command::new("id")
                .args(["-u", "postgres"])
                .output()
                .unwrap();
            let uid: u32 = String::from_utf8_lossy(&postgres.stdout)
                .trim()
                .parse()
                .unwrap();
            std::os::unix::fs::chown(&server.dir, Some(uid), None).unwrap();
        }
        let data = server.data();
        server
            .run(
                "initdb",
                &[
                    "-D",
                    &data,
                    "-U",
                    "screema",
                    "-A",
                    "trust",
                    "-E",
                    "UTF8",
                    "--no-sync",
                ],
            )
            .await;
        server.start_again().await;
        server
    }

    pub fn url(&self) -> String {
        format!("postgres://screema@127.0.0.1:{}/postgres", self.port)
    }

    /// `pg_ctl start`, waiting until it accepts connections.
    pub async fn start_again(&self) {
        let options = format!(
            "-p {} -c listen_addresses=127.0.0.1 -k {} -c fsync=off",
            self.port,
            self.dir.display()
        );
        let data = self.data();
        let log = self.dir.join("log").display().to_string();
        self.run(
            "pg_ctl",
            &["-D", &data, "-o", &options, "-l", &log, "-w", "start"],
        )
        .await;
    }

    /// `pg_ctl stop -m fast`: open connections are cut, new ones refused.
    pub async fn stop(&self) {
        self.run("pg_ctl", &["-D", &self.data(), "-m", "fast", "-w", "stop"])
            .await;
    }

    fn data(&self) -> String {
        self.dir.join("data").display().to_string()
    }

    async fn run(&self, program: &str, args: &[&str]) {
        let mut command = postgres_command(program);
        command
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        let output = tokio::task::spawn_blocking(move || command.output())
            .await
            .unwrap()
            .unwrap_or_else(|e| panic!("{program}: {e}; run scripts/services.sh"));
        assert!(
            output.status.success(),
            "{program} {args:?}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
}

impl Drop for PostgresServer {
    fn drop(&mut self) {
        let _ = postgres_command("pg_ctl")
            .args(["-D", &self.data(), "-m", "immediate", "stop"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A program of the server package, run as the `postgres` user when the tests run
/// as root (Postgres refuses to run as root).
fn postgres_command(program: &str) -> Command {
    if is_root() {
        let mut command = Command::new("runuser");
        command
            .args(["-u", "postgres", "--"])
            .arg(postgres_bin(program));
        command
    } else {
        Command::new(postgres_bin(program))
    }
}

fn is_root() -> bool {
    static ROOT: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *ROOT.get_or_init(|| {
        Command::new("id")
            .arg("-u")
            .output()
            .is_ok_and(|o| o.stdout.trim_ascii() == b"0")
    })
}

/// A program of the PostgreSQL server package: Debian keeps them off the PATH, in
/// /usr/lib/postgresql/<version>/bin (the newest installed is taken).
fn postgres_bin(program: &str) -> String {
    let newest = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let version: u32 = e.file_name().to_str()?.parse().ok()?;
            let bin = e.path().join("bin");
            bin.join("initdb").exists().then_some((version, bin))
        })
        .max();
    match newest {
        Some((_, bin)) => bin.join(program).display().to_string(),
        None => program.to_owned(),
    }
}
