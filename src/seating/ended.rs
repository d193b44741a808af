//! Showtimes that have ended: nothing about their seats changes any more (sales
//! stopped at the start, holds lapsed since), so their live state goes. Within a sweep
//! interval of the end, on whichever node gets there first:
//! - every node's open seat maps of it end: the word `ended` on the showtime's own
//!   channel reaches each node with a map open, whose subscriptions then complete;
//! - its seating keys leave Redis (holds, booked and blocked seats, version, epoch,
//!   history) and the sweeper's list, and this node forgets its room;
//! - it is marked closed (`showtimes.live_closed_at`), so this is done once.
//!
//! Postgres keeps all that is worth keeping (bookings, check-ins, blocks). A map read
//! of an ended showtime afterwards still answers, from Postgres, and nothing writes its
//! keys again: holds and blocks are refused before any script runs, a live room reads
//! Postgres instead of copying the seats back (`live`), and a seat sync the outbox
//! still had finds the showtime over (`sync`). The close takes the seat syncs' turn,
//! so a sync under way writes before the keys go, not after. Several nodes closing the
//! same showtime at once do no harm: each step is idempotent.

use diesel::prelude::*;
use diesel_async::{AsyncConnection, RunQueryDsl};
use fred::prelude::*;
use uuid::Uuid;

use super::holds::script_keys;
use super::keys;
use super::sync::take_turn;
use crate::app::App;
use crate::db::schema::showtimes;
use crate::error::{AppError, AppResult};

/// What the showtime's channel carries to end its open maps (`live::Published`).
pub(super) const ENDED: &str = r#"{"v":0,"c":[],"ended":true}"#;

/// Closes up to `batch` ended showtimes, oldest end first. Returns how many.
pub async fn close_ended(app: &App, batch: i64) -> AppResult<usize> {
    let now = app.now();
    let due: Vec<Uuid> = {
        let mut conn = app.db().await?;
        showtimes::table
            .filter(showtimes::end_time.le(now))
            .filter(showtimes::live_closed_at.is_null())
            .order(showtimes::end_time)
            .limit(batch)
            .select(showtimes::id)
            .load(&mut conn)
            .await?
    };
    for &showtime in &due {
        let mut conn = app.db().await?;
        conn.transaction::<_, AppError, _>(async |conn| {
            take_turn(conn, showtime).await?;
            close(app, showtime).await?;
            diesel::update(
                showtimes::table
                    .find(showtime)
                    .filter(showtimes::live_closed_at.is_null()),
            )
            .set(showtimes::live_closed_at.eq(Some(now)))
            .execute(conn)
            .await?;
            Ok(())
        })
        .await?;
        tracing::info!(%showtime, "ended showtime's live state closed");
    }
    Ok(due.len())
}

async fn close(app: &App, showtime: Uuid) -> AppResult<()> {
    let client = app.redis.client().await;
    let _: i64 = client
        .publish(keys::channel(&app.redis, showtime), ENDED)
        .await?;
    // One slot holds them all (the hash tag), so one DEL takes them in Redis Cluster too.
    let _: i64 = client.del(script_keys(&app.redis, showtime)).await?;
    let _: i64 = client
        .srem(keys::active_showtimes(&app.redis), showtime.to_string())
        .await?;
    super::rooms::forget(app, showtime);
    Ok(())
}
