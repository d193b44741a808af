//! Redis follows Postgres for sold and blocked seats. After a booking changes in
//! Postgres (made, confirmed, cancelled, expired, refunded) or seats are unblocked, the
//! seats are re-read from Postgres and Redis is set to match, publishing one versioned
//! change. Reading the truth again,
//! rather than replaying "book"/"unbook" commands, makes the step idempotent and
//! indifferent to the order in which the outbox delivers it; the advisory lock makes
//! two syncs of one showtime take turns, so an older read never lands after a newer.
//! The blocked seats are read under a share lock of the showtime's row, held until
//! Redis is written: a block (which locks the row for update and writes Redis before it
//! commits, `blocks`) cannot land between the read and the write and be undone by it.
//! A showtime that has ended is left alone: its keys left Redis for good (`ended`, which
//! takes the same turn to remove them), and a sync would write them again.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel::sql_types::BigInt;
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use fred::prelude::*;
use uuid::Uuid;

use super::holds::{keys_expire_at, run_script};
use super::keys;
use super::scripts::{LOAD_BOOKED, SYNC};
use crate::app::App;
use crate::db::enums::BookingStatus;
use crate::db::schema::{booking_seats, showtimes};
use crate::error::{AppError, AppResult};

/// The copies of showtimes' booked seats this node is making (`ensure_booked`), one at a
/// time per showtime.
///
/// The first hold of a showtime Redis does not know (a node's first sale, or any sale
/// after Redis lost its data) finds its booked seats missing and copies them from
/// Postgres under the showtime's advisory lock. In a flash sale, hundreds of buyers find
/// them missing at once. Each took a pool connection and waited on the advisory lock
/// with it, until the pool ran dry and other requests waited out its timeout
/// (`UNAVAILABLE`; BENCHMARKS, issue 21's queue). Here they wait for one copy without
/// a connection, and those after it find the copy made.
#[derive(Default)]
pub struct BookedLoads(
    std::sync::Mutex<std::collections::HashMap<Uuid, Arc<tokio::sync::Mutex<()>>>>,
);

impl BookedLoads {
    fn turn(&self, showtime: Uuid) -> Arc<tokio::sync::Mutex<()>> {
        let mut loads = self.0.lock().unwrap_or_else(|e| e.into_inner());
        // Forget the turns nobody waits on, so the map stays as small as the copies in
        // hand.
        loads.retain(|_, turn| Arc::strong_count(turn) > 1);
        loads.entry(showtime).or_default().clone()
    }
}

/// The advisory-lock key of a showtime's seat syncs.
fn lock_key(showtime: Uuid) -> i64 {
    let (high, low) = showtime.as_u64_pair();
    (high ^ low ^ 0x5ca7_5eed) as i64
}

/// Takes the showtime's turn among the writers of its seating keys in Redis, until the
/// transaction ends: seat syncs, copies of its booked seats and the close of an ended
/// showtime (`ended`).
pub(super) async fn take_turn(conn: &mut AsyncPgConnection, showtime: Uuid) -> AppResult<()> {
    diesel::sql_query("SELECT pg_advisory_xact_lock($1)")
        .bind::<BigInt, _>(lock_key(showtime))
        .execute(conn)
        .await?;
    Ok(())
}

async fn live_seats(
    conn: &mut AsyncPgConnection,
    showtime: Uuid,
    among: Option<&[String]>,
) -> AppResult<Vec<String>> {
    let mut query = booking_seats::table
        .filter(booking_seats::showtime_id.eq(showtime))
        .filter(booking_seats::status.eq_any(BookingStatus::LIVE))
        .select(booking_seats::seat_number)
        .into_boxed();
    if let Some(seats) = among {
        query = query.filter(booking_seats::seat_number.eq_any(seats));
    }
    Ok(query.load(conn).await?)
}

/// What seat syncs read of the showtime's row, under a share lock held until the
/// transaction ends.
#[derive(Default)]
struct Row {
    blocked: Vec<String>,
    /// It has ended, or its live state was closed (`ended`): its keys are out of Redis
    /// for good, and nothing may write them again.
    over: bool,
}

/// The columns of the showtime's row that `Row` is made from.
#[derive(Queryable)]
struct Columns {
    blocked: Vec<Option<String>>,
    end_time: DateTime<Utc>,
    closed_at: Option<DateTime<Utc>>,
}

async fn locked_row(
    conn: &mut AsyncPgConnection,
    showtime: Uuid,
    now: DateTime<Utc>,
) -> AppResult<Row> {
    let read: Option<Columns> = showtimes::table
        .find(showtime)
        .select((
            showtimes::blocked_seats,
            showtimes::end_time,
            showtimes::live_closed_at,
        ))
        .for_share()
        .first(conn)
        .await
        .optional()?;
    Ok(read
        .map(|read| Row {
            blocked: read.blocked.into_iter().flatten().collect(),
            over: read.closed_at.is_some() || read.end_time <= now,
        })
        .unwrap_or_default())
}

/// Sets Redis's view of `seats` to Postgres's, removing `used_lock` (the hold a new
/// booking was made from) on the way, and publishes what changed.
pub async fn sync_seats(
    app: &App,
    showtime: Uuid,
    seats: &[String],
    used_lock: Option<&str>,
) -> AppResult<()> {
    let room = super::rooms::room(app, showtime).await?;
    let mut conn = app.db().await?;
    conn.transaction::<_, AppError, _>(async |conn| {
        take_turn(conn, showtime).await?;
        let row = locked_row(conn, showtime, app.now()).await?;
        if row.over {
            // Nobody reads Redis for it any more: its maps ended, its sales stopped, and
            // a read finds Postgres's seats. A sync would only write its keys again.
            return Ok(());
        }
        let booked = live_seats(conn, showtime, Some(seats)).await?;
        let blocked = row.blocked;
        let mut args = vec![
            used_lock.unwrap_or_default().to_owned(),
            keys_expire_at(&room.showtime, app.now()).to_string(),
        ];
        for seat in seats {
            args.push(seat.clone());
            for set in [&booked, &blocked] {
                args.push(if set.contains(seat) { "1" } else { "0" }.to_owned());
            }
        }
        let _: i64 = run_script(app, &SYNC, showtime, args).await?;
        Ok(())
    })
    .await
}

/// Makes sure Redis knows the showtime's booked and blocked seats (after a flush it
/// does not): Postgres's seats are copied in once, marked complete. Takes the same turn as
/// `sync_seats`, so a booking committed meanwhile is either in the copy or synced after.
/// A showtime that does not exist or has ended is `BAD_USER_INPUT` naming `showtimeId`,
/// and writes nothing: no keys for made-up ids, nor again for a closed showtime.
pub async fn ensure_booked(app: &App, showtime: Uuid) -> AppResult<()> {
    let turn = app.booked_loads.turn(showtime);
    let _turn = turn.lock().await;
    let known: i64 = app
        .redis
        .client()
        .await
        .exists(vec![
            keys::seat_key(&app.redis, showtime, "booked"),
            keys::seat_key(&app.redis, showtime, "blocked"),
        ])
        .await?;
    if known == 2 {
        // Copied while this caller waited its turn.
        return Ok(());
    }
    let room = super::rooms::room(app, showtime).await?;
    let mut conn = app.db().await?;
    conn.transaction::<_, AppError, _>(async |conn| {
        take_turn(conn, showtime).await?;
        let row = locked_row(conn, showtime, app.now()).await?;
        if row.over {
            // Its callers look first (a hold or a block of it is refused, a live map
            // reads Postgres); this is the last word, under the turn the close takes.
            return Err(AppError::bad_input(
                "showtimeId",
                "this showtime has ended: its seats no longer change",
            ));
        }
        let booked = live_seats(conn, showtime, None).await?;
        let blocked = row.blocked;
        let keys = vec![
            keys::seat_key(&app.redis, showtime, "booked"),
            keys::seat_key(&app.redis, showtime, "epoch"),
            keys::seat_key(&app.redis, showtime, "blocked"),
            keys::seat_key(&app.redis, showtime, "history"),
        ];
        let mut args = vec![
            Uuid::new_v4().simple().to_string(),
            keys_expire_at(&room.showtime, app.now()).to_string(),
            booked.len().to_string(),
        ];
        args.extend(booked);
        args.extend(blocked);
        let _: i64 = LOAD_BOOKED
            .evalsha_with_reload(app.redis.client().await, keys, args)
            .await?;
        Ok(())
    })
    .await
}
