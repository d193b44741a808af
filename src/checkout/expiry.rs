//! Unpaid bookings lapse with their hold: the sweeper moves pending bookings past
//! `expiresAt` to EXPIRED, releases their seats and cancels their intents (after
//! commit, through the outbox). `SKIP LOCKED` lets every node sweep at once.

use diesel::prelude::*;
use diesel_async::{AsyncConnection, RunQueryDsl};

use crate::app::App;
use crate::booking::model::Booking;
use crate::booking::records::end_pending;
use crate::db::enums::{BookingStatus, NotificationType};
use crate::db::schema::bookings;
use crate::error::{AppError, AppResult};
use crate::notifications::{self, NewNotification, messages};
use crate::outbox;

/// Expires up to `max` lapsed bookings; returns how many.
pub async fn expire_due(app: &App, max: i64) -> AppResult<usize> {
    let mut conn = app.db().await?;
    let now = app.now();
    let (expired, effects) = conn
        .transaction::<_, AppError, _>(async |conn| {
            let due: Vec<Booking> = bookings::table
                .filter(bookings::status.eq(BookingStatus::Pending))
                .filter(bookings::expires_at.le(now))
                .order(bookings::expires_at)
                .limit(max)
                .select(Booking::as_select())
                .for_update()
                .skip_locked()
                .load(conn)
                .await?;
            let mut effects = Vec::new();
            for booking in &due {
                let (_, queued) = end_pending(conn, app, booking, BookingStatus::Expired).await?;
                effects.extend(queued);
                let notice = notifications::record(
                    conn,
                    now,
                    NewNotification::about(
                        booking,
                        NotificationType::Booking,
                        "Booking expired",
                        format!(
                            "Booking {} was not paid in time and has expired; its seats are free again.",
                            booking.booking_reference
                        ),
                    ),
                )
                .await?;
                effects.extend(notice);
                effects.extend(messages::queue(conn, now, booking.id, "booking_expired").await?);
            }
            Ok((due.len(), effects))
        })
        .await?;
    outbox::deliver_now(app, conn, &effects).await;
    Ok(expired)
}
