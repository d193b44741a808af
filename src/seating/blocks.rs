//! Seats the house keeps back (`blockSeats`, `unblockSeats`): a broken seat, a camera
//! position, a wheelchair space kept free. A blocked seat cannot be held or sold and
//! shows BLOCKED on every map at once.
//!
//! Postgres keeps the list (`showtimes.blocked_seats`, with the reason, who and when in
//! `seat_blocks`) and refuses the sale of a blocked seat in the sale's own transaction
//! (the trigger `screema_showtime_on_sale`), whatever Redis says. Redis decides between
//! a hold and a block: the `BLOCK` script refuses a seat someone holds or has bought, and
//! `LOCK` refuses a blocked seat, each in one atomic step, so a hold racing a block never
//! ends with both.
//!
//! Blocking writes Postgres under the showtime's row lock (so it takes turns with sales
//! and with Redis's syncs, `sync`), runs `BLOCK` before committing, and commits only if
//! Redis took every seat: a seat held or sold is `CONFLICT`, and nothing is written.
//! Unblocking goes the other way round: Postgres first, then Redis follows it through
//! the outbox (`Effect::Seats`, which re-reads the truth), so a seat is never shown or
//! held as free while Postgres still has it blocked.

use std::collections::HashMap;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use uuid::Uuid;

use super::holds::{keys_expire_at, parse_seats, read_holds, run_script};
use super::rooms::{self, Room};
use super::scripts::BLOCK;
use super::sync::{ensure_booked, sync_seats};
use crate::app::App;
use crate::auth::model::Viewer;
use crate::catalog::model::Showtime;
use crate::db::enums::BookingStatus;
use crate::db::schema::{booking_seats, seat_blocks, showtimes};
use crate::error::{AppError, AppResult, LogDisplay, Service};
use crate::outbox::{self, Effect};

pub const MAX_REASON_CHARS: usize = 200;

/// Staff are told why a seat is kept back; one line, so a seat map's tooltip holds it.
fn checked_reason(reason: &str) -> AppResult<String> {
    crate::text::text("reason", reason, MAX_REASON_CHARS)
}

/// The seats asked for, checked against the room: names, no repeats, in the layout.
async fn seats_of_room(
    app: &App,
    showtime: Uuid,
    raw: &[String],
) -> AppResult<(Arc<Room>, Vec<String>)> {
    let seats = parse_seats(raw)?;
    let room = rooms::room(app, showtime).await?;
    let unknown: Vec<String> = seats
        .iter()
        .filter(|s| !room.layout.contains(s))
        .map(ToString::to_string)
        .collect();
    if !unknown.is_empty() {
        return Err(AppError::bad_input(
            "seatNumbers",
            format!("no such seat in this room: {}", unknown.join(", ")),
        ));
    }
    Ok((room, seats.iter().map(ToString::to_string).collect()))
}

/// The showtime's row, locked for update until the transaction ends: blocks and
/// unblocks take turns with each other, with sales (which share-lock it) and with
/// Redis's syncs. A cancelled or ended showtime has no seats left to keep back.
async fn lock_showtime(
    conn: &mut AsyncPgConnection,
    id: Uuid,
    now: DateTime<Utc>,
) -> AppResult<Showtime> {
    let showtime = crate::catalog::queries::lock_showtime(conn, id)
        .await?
        .ok_or_else(|| AppError::bad_input("showtimeId", "no such showtime"))?;
    check_open(&showtime, now)?;
    Ok(showtime)
}

/// Seats may be kept back until the showtime ends, unless it is cancelled.
fn check_open(showtime: &Showtime, now: DateTime<Utc>) -> AppResult<()> {
    if showtime.is_cancelled() {
        return Err(AppError::bad_input(
            "showtimeId",
            "this showtime was cancelled",
        ));
    }
    if showtime.end_time <= now {
        return Err(AppError::bad_input("showtimeId", "this showtime has ended"));
    }
    Ok(())
}

fn listed(showtime: &Showtime) -> Vec<String> {
    showtime.blocked_seats.iter().flatten().cloned().collect()
}

/// Ends the blocks in force of these seats (history stays).
async fn end_blocks(
    conn: &mut AsyncPgConnection,
    showtime: Uuid,
    seats: &[String],
    by: Uuid,
    now: DateTime<Utc>,
) -> AppResult<()> {
    diesel::update(
        seat_blocks::table
            .filter(seat_blocks::showtime_id.eq(showtime))
            .filter(seat_blocks::seat_number.eq_any(seats))
            .filter(seat_blocks::unblocked_at.is_null()),
    )
    .set((
        seat_blocks::unblocked_at.eq(Some(now)),
        seat_blocks::unblocked_by.eq(Some(by)),
    ))
    .execute(conn)
    .await?;
    Ok(())
}

/// Every node forgets the showtime's cached room (its `blocked_seats`): this one now,
/// the others on the catalog's word.
async fn tell_nodes(app: &App, showtime: Uuid) {
    rooms::forget(app, showtime);
    crate::catalog::cache::changed(app).await;
}

/// `blockSeats`: every seat or none. Blocking a seat blocked already keeps it blocked
/// with the new reason. Returns the showtime as it now is.
pub async fn block(
    app: &App,
    viewer: Viewer,
    showtime_id: Uuid,
    raw_seats: &[String],
    reason: &str,
) -> AppResult<Showtime> {
    let reason = checked_reason(reason)?;
    let (room, seats) = seats_of_room(app, showtime_id, raw_seats).await?;
    let now = app.now();
    // Refused before the copy below, which would write the seating keys of a showtime
    // whose keys are gone for good (`ended`); the row lock below decides all the same.
    check_open(&room.showtime, now)?;
    // Redis must know the booked and blocked seats before the script can decide; the
    // copy is made here, outside the transaction below (it share-locks the row).
    ensure_booked(app, showtime_id).await?;
    let expire_at = keys_expire_at(&room.showtime, now).to_string();
    let mut redis_blocked = false;
    let mut conn = app.db().await?;
    let written = conn
        .transaction::<_, AppError, _>(async |conn| {
            let showtime = lock_showtime(conn, showtime_id, now).await?;
            let sold: Vec<String> = booking_seats::table
                .filter(booking_seats::showtime_id.eq(showtime_id))
                .filter(booking_seats::status.eq_any(BookingStatus::LIVE))
                .filter(booking_seats::seat_number.eq_any(&seats))
                .select(booking_seats::seat_number)
                .load(conn)
                .await?;
            if !sold.is_empty() {
                // Named with the seats held now, so that one answer names them all.
                let mut named = sold;
                if let Ok(holds) = read_holds(&app.redis, &[showtime_id], now).await {
                    let held = holds.get(&showtime_id).map(|h| &h.held);
                    named.extend(
                        seats
                            .iter()
                            .filter(|s| held.is_some_and(|h| h.contains_key(*s)))
                            .filter(|s| !named.contains(s))
                            .cloned()
                            .collect::<Vec<_>>(),
                    );
                }
                named.sort_by_key(|s| seats.iter().position(|x| x == s));
                return Err(taken(&named));
            }
            let mut list = listed(&showtime);
            list.extend(
                seats
                    .iter()
                    .filter(|s| !list.contains(s))
                    .cloned()
                    .collect::<Vec<_>>(),
            );
            let showtime: Showtime = diesel::update(showtimes::table.find(showtime_id))
                .set(showtimes::blocked_seats.eq(list.into_iter().map(Some).collect::<Vec<_>>()))
                .returning(Showtime::as_returning())
                .get_result(conn)
                .await?;
            end_blocks(conn, showtime_id, &seats, viewer.user_id, now).await?;
            diesel::insert_into(seat_blocks::table)
                .values(
                    seats
                        .iter()
                        .map(|seat| {
                            (
                                seat_blocks::showtime_id.eq(showtime_id),
                                seat_blocks::seat_number.eq(seat),
                                seat_blocks::reason.eq(&reason),
                                seat_blocks::blocked_by.eq(Some(viewer.user_id)),
                                seat_blocks::blocked_at.eq(now),
                            )
                        })
                        .collect::<Vec<_>>(),
                )
                .execute(conn)
                .await?;
            // Last, and decisive: Redis blocks every seat or none, against the holds.
            let mut args = vec![expire_at.clone()];
            args.extend(seats.iter().cloned());
            let reply: Vec<String> = run_script(app, &BLOCK, showtime_id, args).await?;
            match <[String]>::first(&reply).map(String::as_str) {
                Some("OK") => {
                    redis_blocked = true;
                    Ok(showtime)
                }
                Some("TAKEN") => Err(taken(&reply[1..])),
                // Redis lost the showtime's data since `ensure_booked`: nothing is
                // written; a retry copies it again.
                Some("NEED_BOOKED") => Err(AppError::Unavailable {
                    service: Service::Redis,
                    cause: anyhow::anyhow!("seat data lost while blocking seats"),
                }),
                other => Err(AppError::internal(anyhow::anyhow!(
                    "block script answered {other:?}"
                ))),
            }
        })
        .await;
    drop(conn);
    match written {
        Ok(showtime) => {
            tell_nodes(app, showtime_id).await;
            Ok(showtime)
        }
        Err(e) => {
            if redis_blocked {
                // Redis blocked the seats but Postgres did not commit: Redis follows
                // Postgres again. Failing that, the seats stay blocked in Redis (never
                // sold by mistake) until the next copy or sync.
                if let Err(undo) = sync_seats(app, showtime_id, &seats, None).await {
                    tracing::error!(showtime = %showtime_id, error = %LogDisplay(&undo), "seats blocked in Redis but not in Postgres");
                }
            }
            Err(e)
        }
    }
}

fn taken(seats: &[String]) -> AppError {
    AppError::Conflict {
        message: format!(
            "held or sold, so not blocked: {}; nothing was blocked",
            seats.join(", ")
        ),
        field: Some("seatNumbers".to_owned()),
    }
}

/// `unblockSeats`: every seat must be blocked now (else `BAD_USER_INPUT` naming
/// `seatNumbers`, nothing changed). Returns the showtime as it now is.
pub async fn unblock(
    app: &App,
    viewer: Viewer,
    showtime_id: Uuid,
    raw_seats: &[String],
) -> AppResult<Showtime> {
    let (_, seats) = seats_of_room(app, showtime_id, raw_seats).await?;
    let now = app.now();
    let mut conn = app.db().await?;
    let (showtime, effects) = conn
        .transaction::<_, AppError, _>(async |conn| {
            let showtime = lock_showtime(conn, showtime_id, now).await?;
            let list = listed(&showtime);
            let not_blocked: Vec<&String> = seats.iter().filter(|s| !list.contains(s)).collect();
            if !not_blocked.is_empty() {
                return Err(AppError::bad_input(
                    "seatNumbers",
                    format!(
                        "not blocked: {}",
                        not_blocked
                            .iter()
                            .map(|s| s.as_str())
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                ));
            }
            let kept: Vec<Option<String>> = list
                .into_iter()
                .filter(|s| !seats.contains(s))
                .map(Some)
                .collect();
            let showtime: Showtime = diesel::update(showtimes::table.find(showtime_id))
                .set(showtimes::blocked_seats.eq(kept))
                .returning(Showtime::as_returning())
                .get_result(conn)
                .await?;
            end_blocks(conn, showtime_id, &seats, viewer.user_id, now).await?;
            // Redis follows once this commits, from Postgres's state then.
            let effects = outbox::enqueue(
                conn,
                now,
                format!("seats-unblocked-{showtime_id}-{}", Uuid::new_v4().simple()),
                &Effect::Seats {
                    showtime: showtime_id,
                    seats: seats.clone(),
                    used_lock: None,
                },
            )
            .await?;
            Ok((showtime, effects))
        })
        .await?;
    tell_nodes(app, showtime_id).await;
    outbox::deliver_now(app, conn, &Vec::from_iter(effects)).await;
    Ok(showtime)
}

/// Why each seat of a showtime is blocked now (seats blocked without a reason, such
/// as the demo data's, are not listed). For staff only.
pub async fn reasons(app: &App, showtime: Uuid) -> AppResult<HashMap<String, String>> {
    let mut conn = app.db().await?;
    let rows: Vec<(String, String)> = seat_blocks::table
        .filter(seat_blocks::showtime_id.eq(showtime))
        .filter(seat_blocks::unblocked_at.is_null())
        .select((seat_blocks::seat_number, seat_blocks::reason))
        .load(&mut conn)
        .await?;
    Ok(rows.into_iter().collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reasons_are_one_line_of_1_to_200_characters() {
        assert_eq!(checked_reason("  Broken seat ").unwrap(), "Broken seat");
        assert!(checked_reason(&"é".repeat(200)).is_ok());
        for bad in ["", "   ", "two\nlines", &"x".repeat(201)] {
            assert!(
                matches!(checked_reason(bad), Err(AppError::BadInput { field, .. }) if field == "reason"),
                "{bad:?}"
            );
        }
    }
}
