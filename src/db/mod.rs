//! Postgres: the pool, statement counting, embedded migrations.

pub mod enums;
pub mod schema;

use anyhow::Context;
use diesel::connection::{Instrumentation, InstrumentationEvent};
use diesel_async::async_connection_wrapper::AsyncConnectionWrapper;
use diesel_async::pooled_connection::deadpool::{Object, Pool as DeadPool};
use diesel_async::pooled_connection::{
    AsyncDieselConnectionManager, ManagerConfig, RecyclingMethod,
};
use diesel_async::{AsyncConnection, AsyncPgConnection};
use diesel_migrations::{EmbeddedMigrations, MigrationHarness, embed_migrations};
use futures_util::FutureExt;

pub type Pool = DeadPool<AsyncPgConnection>;
pub type Conn = Object<AsyncPgConnection>;
pub type PoolError = diesel_async::pooled_connection::deadpool::PoolError;

pub const MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations");

/// Counts every SQL statement the pool's connections run, so that `/metrics` (and the
/// tests that prove dataloaders batch) can see N+1 patterns.
#[derive(Debug, Default, Clone)]
pub struct StatementCounter(pub prometheus_client::metrics::counter::Counter);

impl StatementCounter {
    pub fn get(&self) -> u64 {
        self.0.get()
    }
}

/// Counts statements, and transactions as Postgres does (`pg_stat_database`): a
/// statement outside a transaction is one, and so is each outermost transaction.
struct CountingInstrumentation {
    statements: StatementCounter,
    transactions: prometheus_client::metrics::counter::Counter,
    in_transaction: bool,
    /// The next statement is the `COMMIT` or `ROLLBACK` just announced.
    ending: bool,
}

impl Instrumentation for CountingInstrumentation {
    fn on_connection_event(&mut self, event: InstrumentationEvent<'_>) {
        match event {
            InstrumentationEvent::StartQuery { query, .. } => {
                self.statements.0.inc();
                if self.ending {
                    self.ending = false;
                    self.in_transaction = false;
                } else if !self.in_transaction {
                    self.transactions.inc();
                }
                // `RUST_LOG=screema::sql=trace` shows every statement sent.
                tracing::trace!(target: "screema::sql", "{query}");
            }
            InstrumentationEvent::BeginTransaction { depth, .. } if depth.get() == 1 => {
                self.in_transaction = true;
                self.transactions.inc();
            }
            InstrumentationEvent::CommitTransaction { depth, .. }
            | InstrumentationEvent::RollbackTransaction { depth, .. }
                if depth.get() == 1 =>
            {
                self.ending = true;
            }
            _ => {}
        }
    }
}

pub fn build_pool(
    url: &str,
    max_size: usize,
    counter: StatementCounter,
    transactions: prometheus_client::metrics::counter::Counter,
) -> anyhow::Result<Pool> {
    let mut manager_config = ManagerConfig::default();
    // `Verified` would run an extra `SELECT 1` on every checkout; a broken
    // connection is detected by the driver and dropped anyway.
    manager_config.recycling_method = RecyclingMethod::Fast;
    manager_config.custom_setup = Box::new(move |url| {
        let (statements, transactions) = (counter.clone(), transactions.clone());
        async move {
            let mut conn = AsyncPgConnection::establish(url).await?;
            conn.set_instrumentation(CountingInstrumentation {
                statements,
                transactions,
                in_transaction: false,
                ending: false,
            });
            Ok(conn)
        }
        .boxed()
    });
    let manager =
        AsyncDieselConnectionManager::<AsyncPgConnection>::new_with_config(url, manager_config);
    DeadPool::builder(manager)
        .max_size(max_size)
        .wait_timeout(Some(std::time::Duration::from_secs(5)))
        .create_timeout(Some(std::time::Duration::from_secs(5)))
        .runtime(deadpool::Runtime::Tokio1)
        .build()
        .context("building the database pool")
}

/// Runs pending migrations; several nodes starting at once serialise on an advisory lock.
pub async fn run_migrations(url: &str) -> anyhow::Result<Vec<String>> {
    let url = url.to_owned();
    tokio::task::spawn_blocking(move || -> anyhow::Result<Vec<String>> {
        use diesel::{Connection, RunQueryDsl};
        let mut conn = <AsyncConnectionWrapper<AsyncPgConnection> as Connection>::establish(&url)
            .context("connecting to Postgres to run migrations")?;
        diesel::sql_query("SELECT pg_advisory_lock(7262736501)")
            .execute(&mut conn)
            .context("taking the migration lock")?;
        let result = conn
            .run_pending_migrations(MIGRATIONS)
            .map(|done| done.iter().map(|v| v.to_string()).collect::<Vec<_>>())
            .map_err(|e| anyhow::anyhow!("running migrations: {e}"));
        let _ = diesel::sql_query("SELECT pg_advisory_unlock(7262736501)").execute(&mut conn);
        result
    })
    .await
    .context("migration task panicked")?
}

/// Whether `e` is a violation of the unique constraint (or index) `constraint`.
pub fn is_unique_violation(e: &diesel::result::Error, constraint: &str) -> bool {
    matches!(e, diesel::result::Error::DatabaseError(diesel::result::DatabaseErrorKind::UniqueViolation, info)
        if info.constraint_name() == Some(constraint))
}
