//! `updateShowtime` (admins): another time, screen or base price for a showtime that
//! is on sale, by the rules of creation (in the future, no overlap on the screen).
//!
//! A move (time or screen) is news to everyone who booked: each booking's customer is
//! told in-app, by email and by text through the outbox, and may then refund in full
//! whatever the cut-off (`payments::refunds`, by `Showtime.rescheduled_at`). A new base
//! price is for sales from now on: bookings keep what they paid. A new screen must
//! have every sold (or unpaid) seat, else the change is `CONFLICT` naming the seats:
//! nobody's seat disappears. Every node sees the change at once: this node's caches
//! are cleared before it answers, the others' on the catalog's word, and open seat
//! maps are drawn again from the new room.

use diesel::prelude::*;
use diesel_async::{AsyncConnection, RunQueryDsl};
use uuid::Uuid;

use crate::app::App;
use crate::booking::model::Booking;
use crate::catalog::layout::{SeatLayout, SeatNumber};
use crate::catalog::manage::{ShowtimeChanges, reschedule};
use crate::catalog::model::Showtime;
use crate::db::enums::{BookingStatus, NotificationType};
use crate::db::schema::{bookings, movies, screens};
use crate::error::{AppError, AppResult};
use crate::notifications::{self, NewNotification, messages};
use crate::outbox;

pub async fn update_showtime(app: &App, id: Uuid, changes: ShowtimeChanges) -> AppResult<Showtime> {
    if changes.start_time.is_none()
        && changes.base_price.is_none()
        && changes.screen_id.is_none()
        && changes.sale.is_empty()
    {
        return Err(AppError::bad_input(
            "input",
            "give at least one of startTime, basePrice, screenId, onSaleAt, queue and queueRate",
        ));
    }
    let now = app.now();
    let mut conn = app.db().await?;
    let (showtime, effects) = conn
        .transaction::<_, AppError, _>(async |conn| {
            let current = crate::catalog::queries::lock_showtime(conn, id)
                .await?
                .ok_or(AppError::NotFound { what: "showtime" })?;
            if current.is_cancelled() {
                return Err(AppError::conflict("this showtime was cancelled"));
            }
            if current.start_time <= now {
                return Err(AppError::conflict(
                    "this showtime has started; it can no longer change",
                ));
            }
            let live: Vec<Booking> = bookings::table
                .filter(bookings::showtime_id.eq(id))
                .filter(bookings::status.eq_any(BookingStatus::LIVE))
                .select(Booking::as_select())
                .load(conn)
                .await?;
            if let Some(screen) = changes.screen_id.filter(|s| *s != current.screen_id) {
                seats_fit(conn, screen, &live).await?;
            }
            let updated = reschedule(
                conn,
                &current,
                &changes,
                now,
                app.config.catalog.cleaning_gap,
                app.config.currency,
            )
            .await?;
            let effects = if changes.moves(&current) {
                tell(conn, app, &updated, &live).await?
            } else {
                Vec::new()
            };
            Ok((updated, effects))
        })
        .await?;
    crate::seating::rooms::showtime_changed(app, id).await;
    outbox::deliver_now(app, conn, &effects).await;
    Ok(showtime)
}

/// Every seat booked (paid or not) must exist in the new screen's layout.
async fn seats_fit(
    conn: &mut diesel_async::AsyncPgConnection,
    screen: Uuid,
    live: &[Booking],
) -> AppResult<()> {
    let layout: Option<serde_json::Value> = screens::table
        .find(screen)
        .select(screens::seat_layout)
        .first(conn)
        .await
        .optional()?;
    let layout = layout.ok_or_else(|| AppError::bad_input("screenId", "no such screen"))?;
    let layout = SeatLayout::parse(&layout, "seatLayout")?;
    let mut missing: Vec<String> = live
        .iter()
        .flat_map(Booking::seats)
        .filter(|seat| {
            !seat
                .parse::<SeatNumber>()
                .is_ok_and(|number| layout.contains(&number))
        })
        .collect();
    if missing.is_empty() {
        return Ok(());
    }
    missing.sort();
    Err(AppError::conflict(format!(
        "the new screen has no seat {}, which customers have booked",
        missing.join(", ")
    )))
}

/// Each booking's customer is told where and when it is now.
async fn tell(
    conn: &mut diesel_async::AsyncPgConnection,
    app: &App,
    showtime: &Showtime,
    live: &[Booking],
) -> AppResult<Vec<crate::outbox::Queued>> {
    let now = app.now();
    let title: String = movies::table
        .find(showtime.movie_id)
        .select(movies::title)
        .first(conn)
        .await?;
    let when = showtime.start_time.format("%a %d %b %H:%M UTC");
    let mut effects = Vec::new();
    for booking in live {
        effects.extend(
            notifications::record(
                conn,
                now,
                NewNotification::about(
                    booking,
                    NotificationType::Booking,
                    "Showing moved",
                    format!(
                        "{title} is now on {when}. Booking {} stands; if the new time does not \
                         suit you, you may refund it in full.",
                        booking.booking_reference
                    ),
                ),
            )
            .await?,
        );
        if booking.status != BookingStatus::Pending {
            effects.extend(
                messages::queue_one(
                    conn,
                    now,
                    booking.id,
                    "showtime_changed",
                    &format!("moved-{}-{}", booking.id, now.timestamp_micros()),
                )
                .await?,
            );
        }
    }
    Ok(effects)
}
