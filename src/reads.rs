//! Reads a streaming replica may serve (`DATABASE_READ_URL`): the catalog as it is
//! browsed (films, showtimes, screens, theaters, snacks). Everything that must read its
//! own writes (seats, bookings, payments, accounts) stays on the primary.
//!
//! A replica trails the primary by its replay lag. Left alone, a catalog change would
//! clear the catalog cache on every node, and the first read after it could fetch the
//! old rows from a replica that has not replayed the change yet, and keep them for the
//! cache's time to live. So every catalog change carries the primary's WAL position
//! once it is committed (the `floor`, sent with the word every node hears), and a read
//! goes to the replica only once the replica has replayed that far. The replica is
//! asked where it is only while it is known to be behind the floor: a quiet catalog
//! costs no extra statement.
//!
//! A replica that fails a read (stopped, restarting, a recovery conflict cancelling
//! the query) is left alone for `DATABASE_READ_RETRY_MS`, and the read runs again on
//! the primary: these reads change nothing, so running one twice is safe.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use diesel::sql_types::BigInt;
use diesel_async::AsyncPgConnection;
use prometheus_client::metrics::counter::Counter;

use crate::db::{Pool, StatementCounter};
use crate::error::{AppError, AppResult};

/// Connections to the replica per server process: the catalog's reads are short.
const REPLICA_POOL_SIZE: usize = 8;

/// A read to run on a connection, perhaps twice (on the replica, then on the
/// primary): an async closure. Its future is named here so that a bound can require
/// it to be `Send`, which `AsyncFn` alone cannot say (diesel-async's `AsyncFunc`
/// works around the same gap for transactions).
pub trait ReadFn<T, R>: AsyncFn(T) -> R + Fn(T) -> <Self as ReadFn<T, R>>::Fut {
    type Fut: Future<Output = R>;
}

impl<F, T, Fut, R> ReadFn<T, R> for F
where
    F: AsyncFn(T) -> R + Fn(T) -> Fut,
    Fut: Future<Output = R>,
{
    type Fut = Fut;
}

pub struct Reads {
    replica: Option<Replica>,
}

struct Replica {
    pool: Pool,
    /// The primary's WAL position (bytes) after the latest catalog change heard of.
    floor: AtomicU64,
    /// How far the replica was last seen to have replayed (bytes); only grows.
    replayed: AtomicU64,
    /// Until when (milliseconds after `started`) the replica is left alone.
    resting_until: AtomicU64,
    started: Instant,
    retry: Duration,
    served: Counter,
    behind: Counter,
    unavailable: Counter,
}

/// The counters `/metrics` shows for the replica.
pub struct ReplicaCounters {
    pub statements: StatementCounter,
    pub transactions: Counter,
    pub served: Counter,
    pub behind: Counter,
    pub unavailable: Counter,
}

#[derive(diesel::QueryableByName)]
struct Lsn {
    #[diesel(sql_type = BigInt)]
    lsn: i64,
}

impl Reads {
    /// No replica: every read is the primary's.
    pub fn primary_only() -> Self {
        Self { replica: None }
    }

    /// Reads go to the replica at `url`; its pool connects lazily.
    pub fn with_replica(
        url: &str,
        retry: Duration,
        counters: ReplicaCounters,
    ) -> anyhow::Result<Self> {
        let pool = crate::db::build_pool(
            url,
            REPLICA_POOL_SIZE,
            counters.statements,
            counters.transactions,
        )?;
        Ok(Self {
            replica: Some(Replica {
                pool,
                floor: AtomicU64::new(0),
                replayed: AtomicU64::new(0),
                resting_until: AtomicU64::new(0),
                started: Instant::now(),
                retry,
                served: counters.served,
                behind: counters.behind,
                unavailable: counters.unavailable,
            }),
        })
    }

    pub fn has_replica(&self) -> bool {
        self.replica.is_some()
    }

    /// Catalog reads from now on must see the primary as of `lsn` (a WAL position in
    /// bytes, as [`primary_position`] reads it).
    pub fn raise_floor(&self, lsn: u64) {
        if let Some(replica) = &self.replica {
            replica.floor.fetch_max(lsn, Ordering::AcqRel);
        }
    }

    /// Runs `read` on the replica when it can serve it, else on the primary.
    pub async fn run<R, F>(&self, primary: &Pool, read: F) -> AppResult<R>
    where
        for<'r> F: ReadFn<&'r mut AsyncPgConnection, AppResult<R>, Fut: Send> + Send + Sync,
        R: Send,
    {
        if let Some(replica) = &self.replica {
            match replica.try_read(&read).await {
                Ok(Some(found)) => {
                    replica.served.inc();
                    return Ok(found);
                }
                Ok(None) => {}
                Err(e) => {
                    replica.rest();
                    tracing::warn!(
                        error = ?e,
                        "the read replica failed a read; the primary serves reads for a while"
                    );
                }
            }
        }
        let mut conn = primary.get().await.map_err(AppError::from)?;
        read(&mut conn).await
    }
}

impl Replica {
    fn elapsed_ms(&self) -> u64 {
        u64::try_from(self.started.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    fn rest(&self) {
        let until = self
            .elapsed_ms()
            .saturating_add(u64::try_from(self.retry.as_millis()).unwrap_or(u64::MAX));
        self.resting_until.fetch_max(until, Ordering::AcqRel);
    }

    /// `Ok(None)`: the replica should not serve this read (resting, or behind).
    async fn try_read<R, F>(&self, read: &F) -> AppResult<Option<R>>
    where
        for<'r> F: ReadFn<&'r mut AsyncPgConnection, AppResult<R>, Fut: Send> + Send + Sync,
        R: Send,
    {
        if self.elapsed_ms() < self.resting_until.load(Ordering::Acquire) {
            self.unavailable.inc();
            return Ok(None);
        }
        let mut conn = match self.pool.get().await {
            Ok(conn) => conn,
            Err(e) => {
                self.unavailable.inc();
                return Err(AppError::from(e));
            }
        };
        let floor = self.floor.load(Ordering::Acquire);
        if self.replayed.load(Ordering::Acquire) < floor {
            let replayed = replayed_position(&mut conn).await.inspect_err(|_| {
                self.unavailable.inc();
            })?;
            self.replayed.fetch_max(replayed, Ordering::AcqRel);
            if replayed < floor {
                self.behind.inc();
                return Ok(None);
            }
        }
        match read(&mut conn).await {
            Ok(found) => Ok(Some(found)),
            // The same question gets the same refusal from the primary: the replica
            // is not at fault.
            Err(e @ (AppError::Unavailable { .. } | AppError::Internal(_))) => {
                self.unavailable.inc();
                Err(e)
            }
            Err(refused) => Err(refused),
        }
    }
}

/// Where the primary's WAL is written to: every transaction committed before this
/// call (synchronous commits, the default) ends at or before it.
pub async fn primary_position(conn: &mut AsyncPgConnection) -> AppResult<u64> {
    // Here, not at the top: its `load` would hide the atomics'.
    use diesel_async::RunQueryDsl;
    let row: Lsn =
        diesel::sql_query("SELECT (pg_current_wal_lsn() - '0/0'::pg_lsn)::bigint AS lsn")
            .get_result(conn)
            .await
            .map_err(AppError::internal)?;
    Ok(u64::try_from(row.lsn).unwrap_or(0))
}

/// How far a standby has replayed. A server that is not in recovery (a replica
/// promoted, or the primary named as its own replica) has everything.
async fn replayed_position(conn: &mut AsyncPgConnection) -> AppResult<u64> {
    use diesel_async::RunQueryDsl;
    let row: Lsn = diesel::sql_query(
        "SELECT CASE WHEN pg_is_in_recovery() \
         THEN COALESCE((pg_last_wal_replay_lsn() - '0/0'::pg_lsn)::bigint, 0) \
         ELSE 9223372036854775807 END AS lsn",
    )
    .get_result(conn)
    .await
    .map_err(AppError::internal)?;
    Ok(u64::try_from(row.lsn).unwrap_or(0))
}
