//! Rows their writer delivered, recorded in batches: one statement for what a node
//! delivered in the last few milliseconds, not one a row. A checkout's side effects
//! cost their transaction and a share of one of these, not a commit each (BENCHMARKS,
//! issue 22).
//!
//! A record that never lands (the node died, Postgres was away) leaves its row leased:
//! when the lease ends, a worker delivers it again, which every effect allows. Shutdown
//! flushes what is pending (`flush`) after the requests in flight are done.

use std::sync::{Mutex, Once};
use std::time::Duration;

use chrono::{DateTime, Utc};
use diesel::sql_types::{Array, BigInt, Timestamptz};
use diesel_async::RunQueryDsl;
use tokio::sync::{mpsc, oneshot};

use prometheus_client::metrics::counter::Counter;

use crate::db::Pool;

/// How long the writer gathers records before writing them.
const WINDOW: Duration = Duration::from_millis(20);
const BATCH: usize = 2_000;

enum Message {
    Delivered(i64, DateTime<Utc>),
    Flush(oneshot::Sender<()>),
}

pub struct Delivered {
    tx: mpsc::UnboundedSender<Message>,
    started: Once,
    pending: Mutex<Option<(mpsc::UnboundedReceiver<Message>, Pool, Counter)>>,
}

impl Delivered {
    /// `writes` counts the writer's transactions (`/metrics` `db_batch_writes`).
    pub fn new(pool: Pool, writes: Counter) -> Self {
        let (tx, rx) = mpsc::unbounded_channel();
        Self {
            tx,
            started: Once::new(),
            pending: Mutex::new(Some((rx, pool, writes))),
        }
    }

    fn start(&self) {
        // Started on first use, inside the runtime.
        self.started.call_once(|| {
            if let Some((rx, pool, writes)) = self.pending.lock().ok().and_then(|mut p| p.take()) {
                tokio::spawn(write_batches(rx, pool, writes));
            }
        });
    }

    /// Records that row `id` was delivered at `at`, in the next batch.
    pub fn record(&self, id: i64, at: DateTime<Utc>) {
        self.start();
        if self.tx.send(Message::Delivered(id, at)).is_err() {
            tracing::warn!(
                outbox = id,
                "delivery not recorded: the recorder has stopped"
            );
        }
    }

    /// Writes what is pending now, and returns once it is written (or failed).
    pub async fn flush(&self) {
        self.start();
        let (done, written) = oneshot::channel();
        if self.tx.send(Message::Flush(done)).is_ok() {
            let _ = written.await;
        }
    }
}

async fn write_batches(mut rx: mpsc::UnboundedReceiver<Message>, pool: Pool, writes: Counter) {
    let mut messages = Vec::with_capacity(BATCH);
    while rx.recv_many(&mut messages, BATCH).await > 0 {
        let flush_asked = messages.iter().any(|m| matches!(m, Message::Flush(_)));
        if !flush_asked {
            tokio::time::sleep(WINDOW).await;
            while messages.len() < BATCH {
                match rx.try_recv() {
                    Ok(m) => messages.push(m),
                    Err(_) => break,
                }
            }
        }
        let mut ids = Vec::with_capacity(messages.len());
        let mut times = Vec::with_capacity(messages.len());
        let mut flushes = Vec::new();
        for message in messages.drain(..) {
            match message {
                Message::Delivered(id, at) => {
                    ids.push(id);
                    times.push(at);
                }
                Message::Flush(done) => flushes.push(done),
            }
        }
        if let Err(e) = write(&pool, &ids, &times, &writes).await {
            tracing::warn!(rows = ids.len(), error = %e, "deliveries not recorded; their leases will run out");
        }
        for done in flushes {
            let _ = done.send(());
        }
    }
}

async fn write(
    pool: &Pool,
    ids: &[i64],
    times: &[DateTime<Utc>],
    writes: &Counter,
) -> anyhow::Result<()> {
    if ids.is_empty() {
        return Ok(());
    }
    writes.inc();
    let mut conn = pool.get().await?;
    diesel::sql_query(
        "UPDATE outbox SET delivered_at = d.at, attempts = outbox.attempts + 1, last_error = NULL \
         FROM unnest($1::bigint[], $2::timestamptz[]) AS d(id, at) \
         WHERE outbox.id = d.id AND outbox.delivered_at IS NULL",
    )
    .bind::<Array<BigInt>, _>(ids)
    .bind::<Array<Timestamptz>, _>(times)
    .execute(&mut conn)
    .await?;
    Ok(())
}
