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

use std::sync::Arc;

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

async fn take_turn(conn: &mut AsyncPgConnection, showtime: Uuid) -> AppResult<()> {
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

/// The showtime's blocked seats, its row share-locked until the transaction ends.
async fn blocked_seats(conn: &mut AsyncPgConnection, showtime: Uuid) -> AppResult<Vec<String>> {
    let blocked: Option<Vec<Option<String>>> = showtimes::table
        .find(showtime)
        .select(showtimes::blocked_seats)
        .for_share()
        .first(conn)
        .await
        .optional()?;
    Ok(blocked.into_iter().flatten().flatten().collect())
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
        let booked = live_seats(conn, showtime, Some(seats)).await?;
        let blocked = blocked_seats(conn, showtime).await?;
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
/// A showtime that does not exist is `BAD_USER_INPUT` naming `showtimeId`, and writes
/// nothing: no keys for made-up ids.
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
        let booked = live_seats(conn, showtime, None).await?;
        let blocked = blocked_seats(conn, showtime).await?;
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
