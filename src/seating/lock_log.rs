//! The `seat_locks` record (for support and analytics; no rule reads it), written off
//! the request path by one writer per process that batches what requests hand it: a
//! flash sale's thousands of holds a second become a few multi-row statements, not a
//! commit each. The writer starts with the first entry and ends, after writing what it
//! has, when the application is dropped.

use std::sync::{Mutex, Once};

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel::sql_types::{Array, Text, Timestamptz};
use diesel_async::RunQueryDsl;
use tokio::sync::mpsc;
use uuid::Uuid;

use prometheus_client::metrics::counter::Counter;

use crate::db::Pool;
use crate::db::schema::seat_locks;

/// Entries waiting beyond this are dropped (and logged): the record must never slow
/// down or stop the holds it describes.
const QUEUE: usize = 50_000;
const BATCH: usize = 1_000;

pub enum Entry {
    Held {
        showtime: Uuid,
        seats: Vec<String>,
        user: Uuid,
        token: String,
        expires_at: DateTime<Utc>,
    },
    Released {
        token: String,
        at: DateTime<Utc>,
    },
}

pub struct LockLog {
    tx: mpsc::Sender<Entry>,
    started: Once,
    pending: Mutex<Option<(mpsc::Receiver<Entry>, Pool, Counter)>>,
}

impl LockLog {
    /// `writes` counts the writer's transactions (`/metrics` `db_batch_writes`).
    pub fn new(pool: Pool, writes: Counter) -> Self {
        let (tx, rx) = mpsc::channel(QUEUE);
        Self {
            tx,
            started: Once::new(),
            pending: Mutex::new(Some((rx, pool, writes))),
        }
    }

    pub fn push(&self, entry: Entry) {
        // Started on first use, inside the runtime; after that, one atomic load a hold.
        self.started.call_once(|| {
            if let Some((rx, pool, writes)) = self.pending.lock().ok().and_then(|mut p| p.take()) {
                tokio::spawn(write_batches(rx, pool, writes));
            }
        });
        if self.tx.try_send(entry).is_err() {
            tracing::warn!("seat lock record dropped: the writer is behind");
        }
    }
}

async fn write_batches(mut rx: mpsc::Receiver<Entry>, pool: Pool, writes: Counter) {
    let mut batch = Vec::with_capacity(BATCH);
    while rx.recv_many(&mut batch, BATCH).await > 0 {
        if let Err(e) = write(&pool, &mut batch, &writes).await {
            tracing::warn!(error = %e, "seat lock records not written");
        }
        batch.clear();
    }
}

async fn write(pool: &Pool, batch: &mut Vec<Entry>, writes: &Counter) -> anyhow::Result<()> {
    let mut conn = pool.get().await?;
    let mut held = Vec::new();
    let mut released: Vec<(String, DateTime<Utc>)> = Vec::new();
    for entry in batch.drain(..) {
        match entry {
            Entry::Held {
                showtime,
                seats,
                user,
                token,
                expires_at,
            } => held.push((
                seat_locks::showtime_id.eq(showtime),
                seat_locks::seat_numbers.eq(seats.into_iter().map(Some).collect::<Vec<_>>()),
                seat_locks::user_id.eq(user),
                seat_locks::lock_token.eq(token),
                seat_locks::expires_at.eq(expires_at),
            )),
            Entry::Released { token, at } => released.push((token, at)),
        }
    }
    if !held.is_empty() {
        writes.inc();
        diesel::insert_into(seat_locks::table)
            .values(held)
            .execute(&mut conn)
            .await?;
    }
    // Releases follow their holds: the same batch inserted them first, or an earlier one.
    if !released.is_empty() {
        let (tokens, times): (Vec<String>, Vec<DateTime<Utc>>) = released.into_iter().unzip();
        writes.inc();
        diesel::sql_query(
            "UPDATE seat_locks SET released_at = r.at \
             FROM unnest($1::text[], $2::timestamptz[]) AS r(token, at) \
             WHERE seat_locks.lock_token = r.token",
        )
        .bind::<Array<Text>, _>(tokens)
        .bind::<Array<Timestamptz>, _>(times)
        .execute(&mut conn)
        .await?;
    }
    Ok(())
}
