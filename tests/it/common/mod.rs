//! The test harness: every test gets its own Postgres database (cloned from a
//! migrated template), its own Redis key prefix and its own server on an ephemeral
//! port, all removed when the `TestApp` is dropped.

#![allow(clippy::unwrap_used, clippy::expect_used)]

pub mod fixtures;
pub mod flow;
pub mod node;
pub mod tools;
pub mod ws;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;

use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use fred::prelude::*;
use reqwest::StatusCode;
use screema::app::{App, AppState};
use screema::clock::{Clock, ManualClock, SystemClock};
use screema::config::Config;
use secrecy::ExposeSecret;
use serde_json::{Value, json};
use tokio::sync::oneshot;

const DEFAULT_DATABASE_URL: &str = "postgres://screema:screema@127.0.0.1:5432/screema";
const DEFAULT_REDIS_URL: &str = "redis://127.0.0.1:6379";

fn base_database_url() -> String {
    std::env::var("TEST_DATABASE_URL").unwrap_or_else(|_| DEFAULT_DATABASE_URL.to_owned())
}

fn redis_url() -> String {
    std::env::var("TEST_REDIS_URL").unwrap_or_else(|_| DEFAULT_REDIS_URL.to_owned())
}

/// The same server URL with another database.
fn with_database(url: &str, db: &str) -> String {
    let (head, tail) = url.rsplit_once('/').expect("database URL has a path");
    let query = tail
        .split_once('?')
        .map(|(_, q)| format!("?{q}"))
        .unwrap_or_default();
    format!("{head}/{db}{query}")
}

/// The checkout's part of a template's name: two checkouts on one machine (a
/// worktree beside main, CI's clone) keep their templates apart, so one never drops
/// the template that the other's tests are cloning.
fn checkout_tag() -> String {
    use std::hash::{Hash, Hasher};
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    env!("CARGO_MANIFEST_DIR").hash(&mut hasher);
    format!("{:08x}", hasher.finish() as u32)
}

/// The template is named after the checkout and a hash of the migrations, so a
/// changed migration gets a fresh template and the checkout's old ones are dropped.
fn template_name() -> String {
    use std::hash::{Hash, Hasher};
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("migrations");
    let mut entries: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .collect();
    entries.sort();
    for path in entries {
        path.file_name().hash(&mut hasher);
        std::fs::read(path.join("up.sql"))
            .unwrap_or_default()
            .hash(&mut hasher);
    }
    format!("screema_tpl_{}_{:016x}", checkout_tag(), hasher.finish())
}

async fn create_test_database() -> (String, String) {
    let base = base_database_url();
    let admin_url = with_database(&base, "postgres");
    let mut admin = AsyncPgConnection::establish(&admin_url)
        .await
        .expect("Postgres is not reachable: run scripts/services.sh (or scripts/test.sh)");
    let template = template_name();
    diesel::sql_query("SELECT pg_advisory_lock(7262736502)")
        .execute(&mut admin)
        .await
        .unwrap();
    let exists: i64 = count_databases(&mut admin, &template).await;
    if exists == 0 {
        let building = format!("{template}_building");
        diesel::sql_query(format!("DROP DATABASE IF EXISTS {building} WITH (FORCE)"))
            .execute(&mut admin)
            .await
            .unwrap();
        diesel::sql_query(format!("CREATE DATABASE {building}"))
            .execute(&mut admin)
            .await
            .unwrap();
        screema::db::run_migrations(&with_database(&base, &building))
            .await
            .unwrap();
        diesel::sql_query(format!("ALTER DATABASE {building} RENAME TO {template}"))
            .execute(&mut admin)
            .await
            .unwrap();
        // Templates of older migrations are of no more use.
        let stale: Vec<DbName> = diesel::sql_query(
            "SELECT datname FROM pg_database WHERE datname LIKE $1 AND datname <> $2",
        )
        .bind::<diesel::sql_types::Text, _>(format!("screema\\_tpl\\_{}\\_%", checkout_tag()))
        .bind::<diesel::sql_types::Text, _>(&template)
        .load(&mut admin)
        .await
        .unwrap();
        for db in stale {
            let _ = diesel::sql_query(format!(
                "DROP DATABASE IF EXISTS {} WITH (FORCE)",
                db.datname
            ))
            .execute(&mut admin)
            .await;
        }
    }
    diesel::sql_query("SELECT pg_advisory_unlock(7262736502)")
        .execute(&mut admin)
        .await
        .unwrap();
    let name = format!("screema_test_{}", uuid::Uuid::new_v4().simple());
    diesel::sql_query(format!("CREATE DATABASE {name} TEMPLATE {template}"))
        .execute(&mut admin)
        .await
        .unwrap();
    (name.clone(), with_database(&base, &name))
}

#[derive(diesel::QueryableByName)]
struct DbName {
    #[diesel(sql_type = diesel::sql_types::Text)]
    datname: String,
}

#[derive(diesel::QueryableByName)]
struct Count {
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    n: i64,
}

async fn count_databases(conn: &mut AsyncPgConnection, name: &str) -> i64 {
    let row: Count = diesel::sql_query("SELECT count(*) AS n FROM pg_database WHERE datname = $1")
        .bind::<diesel::sql_types::Text, _>(name)
        .get_result(conn)
        .await
        .unwrap();
    row.n
}

pub struct TestAppBuilder {
    vars: HashMap<String, String>,
    clock: Arc<dyn Clock>,
    database: bool,
    /// Another node of an existing app: its database and Redis prefix, not owned.
    node_of: Option<(String, String)>,
    /// `host:port` of a streaming replica of the tests' Postgres: the app's database
    /// there is its `DATABASE_READ_URL`.
    replica_at: Option<String>,
}

/// The same database URL at another `host:port`.
pub fn at_address(url: &str, address: &str) -> String {
    let (scheme_user, rest) = url.split_once('@').expect("database URL has a host");
    let (_, path) = rest.split_once('/').expect("database URL has a path");
    format!("{scheme_user}@{address}/{path}")
}

impl TestAppBuilder {
    /// Sets a configuration variable as the environment would.
    pub fn env(mut self, key: &str, value: &str) -> Self {
        self.vars.insert(key.to_owned(), value.to_owned());
        self
    }

    pub fn clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// Catalog reads go to the replica at `address` (`host:port`), as `DATABASE_READ_URL`.
    pub fn read_replica(mut self, address: &str) -> Self {
        self.replica_at = Some(address.to_owned());
        self
    }

    /// Points the server at a Postgres that is not there (for readiness tests).
    pub fn without_database(mut self) -> Self {
        self.database = false;
        self
    }

    pub async fn build(self) -> TestApp {
        screema::telemetry::init_for_tests();
        let (db_name, database_url, prefix) = match (&self.node_of, self.database) {
            (Some((url, prefix)), _) => (None, url.clone(), prefix.clone()),
            (None, true) => {
                let (name, url) = create_test_database().await;
                (
                    Some(name),
                    url,
                    format!("test-{}", uuid::Uuid::new_v4().simple()),
                )
            }
            (None, false) => (
                None,
                "postgres://screema:screema@127.0.0.1:1/nowhere".to_owned(),
                format!("test-{}", uuid::Uuid::new_v4().simple()),
            ),
        };
        let mut vars = HashMap::from([
            ("DATABASE_URL".to_owned(), database_url),
            ("DATABASE_POOL_SIZE".to_owned(), "4".to_owned()),
            ("REDIS_URL".to_owned(), redis_url()),
            ("REDIS_KEY_PREFIX".to_owned(), prefix.clone()),
            ("BIND_ADDR".to_owned(), "127.0.0.1:0".to_owned()),
            ("HEALTH_PROBE_TIMEOUT_MS".to_owned(), "1500".to_owned()),
            // Cheap hashing; the production cost is covered by the seed's test.
            ("ARGON2_MEMORY_KIB".to_owned(), "256".to_owned()),
            ("ARGON2_ITERATIONS".to_owned(), "1".to_owned()),
            // Tests that are about rate limits turn them on.
            ("RATE_LIMIT_GENERAL".to_owned(), "off".to_owned()),
            ("RATE_LIMIT_BOOKING".to_owned(), "off".to_owned()),
            // Tests open many sockets from one address; the cap's own test sets it.
            ("WS_MAX_CONNECTIONS_PER_CLIENT".to_owned(), "off".to_owned()),
            (
                "TICKET_STORE_DIR".to_owned(),
                ticket_dir(&prefix).display().to_string(),
            ),
        ]);
        if let Some(address) = &self.replica_at {
            let url = at_address(&vars["DATABASE_URL"], address);
            vars.insert("DATABASE_READ_URL".to_owned(), url);
        }
        vars.extend(self.vars);
        let config = Config::from_lookup(|k| vars.get(k).cloned()).expect("test configuration");
        let redis_url = config.redis.url.expose_secret().to_owned();
        let app = App::build_with_clock(config, self.clock).expect("building the app");
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (stop, stopped) = oneshot::channel::<()>();
        let server_app = app.clone();
        tokio::spawn(async move {
            let _ = screema::http::serve(server_app, listener, async {
                let _ = stopped.await;
            })
            .await;
        });
        TestApp {
            app,
            addr,
            client: reqwest::Client::new(),
            db_name,
            redis_url,
            prefix,
            stop: Some(stop),
        }
    }
}

/// A signed-in user of a test.
#[derive(Debug, Clone)]
pub struct TestUser {
    pub id: uuid::Uuid,
    pub token: String,
}

pub struct TestApp {
    pub app: AppState,
    pub addr: SocketAddr,
    pub client: reqwest::Client,
    db_name: Option<String>,
    redis_url: String,
    pub prefix: String,
    stop: Option<oneshot::Sender<()>>,
}

/// A GraphQL answer: the HTTP status and the JSON body.
#[derive(Debug)]
pub struct Gql {
    pub status: StatusCode,
    pub body: Value,
}

impl Gql {
    /// The data, after checking there were no errors.
    pub fn data(&self) -> &Value {
        assert!(
            self.body.get("errors").is_none(),
            "unexpected errors: {:#}",
            self.body
        );
        &self.body["data"]
    }

    pub fn error(&self) -> &Value {
        self.body["errors"]
            .get(0)
            .unwrap_or_else(|| panic!("expected an error, got {:#}", self.body))
    }

    pub fn code(&self) -> &str {
        self.error()["extensions"]["code"]
            .as_str()
            .unwrap_or_else(|| panic!("error without code: {:#}", self.body))
    }

    pub fn field(&self) -> Option<&str> {
        self.error()["extensions"]["field"].as_str()
    }

    /// Every error has a code and none leaks internals or any of `secrets`.
    pub fn assert_clean_errors(&self, secrets: &[String]) {
        for e in self.body["errors"].as_array().into_iter().flatten() {
            assert!(
                e["extensions"]["code"].is_string(),
                "error without code: {e:#}"
            );
            assert_no_leak(&e.to_string(), secrets);
        }
    }
}

/// SQL as the database layer writes it: upper case, so that a message such as
/// "select at most 10 seats" is not mistaken for it.
const SQL: [&str; 6] = [
    "SELECT ",
    "INSERT INTO",
    "UPDATE ",
    "DELETE FROM",
    " WHERE ",
    "RETURNING ",
];

/// Postgres's and Redis's own words, and the marks of Rust internals (file paths,
/// panics, error chains), compared case-insensitively.
const INTERNALS: [&str; 22] = [
    "diesel",
    "postgres",
    "sqlstate",
    "violates",
    "constraint",
    "duplicate key",
    "relation \"",
    "column \"",
    "syntax error at",
    "invalid input syntax",
    "deadlock detected",
    "redis://",
    "fred::",
    "panicked",
    "backtrace",
    "thread '",
    ".rs:",
    "src/",
    "anyhow",
    "caused by",
    "connection refused",
    "pool timed out",
];

/// Fails loudly if `text` (an error as a client sees it) shows SQL, a database or
/// Redis message, a panic or a stack trace, a source path, or one of `secrets`.
/// Every GraphQL answer of the harness goes through it; tests also pass it the raw
/// bodies they provoke (413s, 400s, webhook refusals).
pub fn assert_no_leak(text: &str, secrets: &[String]) {
    for sql in SQL {
        assert!(!text.contains(sql), "error leaks SQL `{sql}`: {text}");
    }
    let lower = text.to_lowercase();
    for leak in INTERNALS {
        assert!(!lower.contains(leak), "error leaks `{leak}`: {text}");
    }
    for secret in secrets {
        assert!(
            !text.contains(secret.as_str()),
            "error leaks a secret of the configuration: {text}"
        );
    }
}

impl TestApp {
    pub fn builder() -> TestAppBuilder {
        TestAppBuilder {
            vars: HashMap::new(),
            clock: Arc::new(SystemClock),
            database: true,
            node_of: None,
            replica_at: None,
        }
    }

    /// A second server over the same Postgres database and Redis prefix, as another
    /// node behind a load balancer would be. The first app keeps ownership of both.
    pub fn another_node(&self) -> TestAppBuilder {
        let mut builder = Self::builder();
        builder.node_of = Some((
            self.app.config.database.url.expose_secret().to_owned(),
            self.prefix.clone(),
        ));
        builder
    }

    /// A second server over the same Postgres database but its own Redis prefix: as if
    /// Redis had lost everything between the two, so only Postgres keeps them honest.
    pub fn node_with_own_redis(&self) -> TestAppBuilder {
        let mut builder = Self::builder();
        builder.node_of = Some((
            self.app.config.database.url.expose_secret().to_owned(),
            format!("test-{}", uuid::Uuid::new_v4().simple()),
        ));
        builder
    }

    /// A builder for an app on a clock the test moves, and that clock. Access tokens
    /// last a day, so that moving the clock does not sign the test's users out.
    pub fn clocked() -> (TestAppBuilder, Arc<ManualClock>) {
        let clock = Arc::new(ManualClock::new(chrono::Utc::now()));
        let builder = Self::builder()
            .clock(clock.clone())
            .env("ACCESS_TOKEN_TTL_SECONDS", "86400");
        (builder, clock)
    }

    pub async fn new() -> Self {
        Self::builder().build().await
    }

    /// Starts the server's graceful shutdown, as SIGTERM does.
    pub fn shut_down(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    pub async fn gql(&self, query: &str, variables: Value) -> Gql {
        self.post_graphql(None, query, variables).await
    }

    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.client.get(self.url(path)).send().await.expect("GET")
    }

    /// A user with this role, written directly, and an access token for them.
    pub async fn with_user(&self, role: screema::db::enums::Role) -> TestUser {
        let mut conn = self.conn().await;
        let id = fixtures::user(&mut conn, role).await;
        let viewer = screema::auth::model::Viewer { user_id: id, role };
        let token = screema::auth::tokens::issue_access_token(
            self.app.config.auth.jwt_secret.expose_secret(),
            viewer,
            self.app.now(),
            self.app.config.auth.access_token_ttl,
        )
        .unwrap();
        TestUser { id, token }
    }

    /// A GraphQL call with `Authorization: Bearer <token>`.
    pub async fn gql_as(&self, token: &str, query: &str, variables: Value) -> Gql {
        self.post_graphql(Some(token), query, variables).await
    }

    async fn post_graphql(&self, token: Option<&str>, query: &str, variables: Value) -> Gql {
        let mut request = self.client.post(self.url("/graphql"));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        let response = request
            .json(&json!({ "query": query, "variables": variables }))
            .send()
            .await
            .expect("POST /graphql");
        let status = response.status();
        let body: Value = response.json().await.expect("JSON body");
        let gql = Gql { status, body };
        gql.assert_clean_errors(&self.secrets());
        gql
    }

    /// What this app knows that no client may ever be shown: its signing keys and
    /// webhook secret, its connection strings (with their passwords).
    pub fn secrets(&self) -> Vec<String> {
        let c = &self.app.config;
        let mut secrets = vec![
            c.auth.jwt_secret.expose_secret().to_owned(),
            c.payments.webhook_secret.expose_secret().to_owned(),
            hex::encode(c.tickets.signing_seed.expose_secret().0),
            c.database.url.expose_secret().to_owned(),
            c.redis.url.expose_secret().to_owned(),
        ];
        let exposed = |secret: &secrecy::SecretString| secret.expose_secret().to_owned();
        secrets.extend(c.payments.stripe_secret_key.as_ref().map(exposed));
        secrets.extend(
            c.messaging
                .smtp
                .as_ref()
                .and_then(|s| s.password.as_ref())
                .map(exposed),
        );
        secrets.extend(c.messaging.sms.as_ref().map(|s| exposed(&s.auth_token)));
        if let screema::config::TicketStore::S3 {
            secret_access_key: Some(key),
            ..
        } = &c.tickets.store
        {
            secrets.push(exposed(key));
        }
        // A short value would match ordinary words; the URLs above cover it anyway.
        secrets.retain(|s| s.len() >= 8);
        secrets
    }

    /// `assert_no_leak` with this app's secrets.
    pub fn assert_no_leak(&self, text: &str) {
        assert_no_leak(text, &self.secrets());
    }

    pub async fn conn(&self) -> screema::db::Conn {
        self.app.db().await.expect("database connection")
    }

    /// A fresh Redis client on the same server, for tests that look at or break keys.
    pub async fn redis(&self) -> Client {
        let client =
            Builder::from_config(fred::types::config::Config::from_url(&self.redis_url).unwrap())
                .build()
                .unwrap();
        client.init().await.unwrap();
        client
    }

    /// Redis loses everything of this deployment (every key under its prefix), as a
    /// restart without persistence would leave it.
    pub async fn lose_redis_data(&self) {
        use fred::interfaces::ClientLike;
        let redis = self.redis().await;
        let keys: Vec<String> = redis
            .custom(fred::cmd!("KEYS"), vec![format!("{}:*", self.prefix)])
            .await
            .unwrap();
        for key in keys {
            let _: i64 = fred::prelude::KeysInterface::del(&redis, key)
                .await
                .unwrap();
        }
    }

    /// `screema_db_statements_total` as `/metrics` reports it.
    pub async fn statements(&self) -> u64 {
        let text = self.get("/metrics").await.text().await.unwrap();
        text.lines()
            .find_map(|l| l.strip_prefix("screema_db_statements_total "))
            .and_then(|v| v.trim().parse().ok())
            .expect("statement counter in /metrics")
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        let db_name = self.db_name.take();
        let prefix = self.prefix.clone();
        let _ = std::fs::remove_dir_all(ticket_dir(&prefix));
        let redis_url = self.redis_url.clone();
        // Drop runs inside the test's runtime: clean up on a thread of our own.
        let cleanup = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async move {
                if let Some(db) = db_name {
                    let admin_url = with_database(&base_database_url(), "postgres");
                    if let Ok(mut admin) = AsyncPgConnection::establish(&admin_url).await {
                        // DROP DATABASE waits until every Postgres process has absorbed
                        // its signal, and a connection the stopping server left half-way
                        // through its handshake answers only when the authentication
                        // timeout ends it (60 s; Postgres's log: "still waiting for backend
                        // with PID … to accept ProcSignalBarrier", then "canceling
                        // authentication due to timeout"). The test would not finish
                        // meanwhile: past a few seconds the database is left behind.
                        let _ = diesel::sql_query("SET statement_timeout = '5s'")
                            .execute(&mut admin)
                            .await;
                        let _ =
                            diesel::sql_query(format!("DROP DATABASE IF EXISTS {db} WITH (FORCE)"))
                                .execute(&mut admin)
                                .await;
                    }
                }
                if let Ok(config) = fred::types::config::Config::from_url(&redis_url)
                    && let Ok(client) = Builder::from_config(config).build()
                    && client.init().await.is_ok()
                {
                    delete_prefixed(&client, &prefix).await;
                    let _ = client.quit().await;
                }
            });
        });
        let _ = cleanup.join();
    }
}

/// Where a test's ticket images go (the local object store).
fn ticket_dir(prefix: &str) -> std::path::PathBuf {
    std::env::temp_dir().join(format!("screema-tickets-{prefix}"))
}

/// Deletes every key under `<prefix>:`, a page of SCAN at a time.
async fn delete_prefixed(client: &Client, prefix: &str) {
    let mut cursor = "0".to_owned();
    loop {
        let page: Result<(String, Vec<String>), _> = client
            .custom(
                fred::cmd!("SCAN"),
                vec![
                    cursor.clone(),
                    "MATCH".into(),
                    format!("{prefix}:*"),
                    "COUNT".into(),
                    "1000".into(),
                ],
            )
            .await;
        let Ok((next, keys)) = page else { break };
        if !keys.is_empty() {
            let _: Result<i64, _> = client.del(keys).await;
        }
        if next == "0" {
            break;
        }
        cursor = next;
    }
}
