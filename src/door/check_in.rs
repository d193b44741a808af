//! Check-in at the door: an operator scans the ticket's code; a confirmed booking
//! inside the showtime's window becomes USED, once. Two scans of one ticket at the
//! same moment take turns on the booking's row lock, so exactly one succeeds.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncConnection, RunQueryDsl};

use crate::app::App;
use crate::auth::model::Viewer;
use crate::booking::model::Booking;
use crate::booking::records::lock_booking;
use crate::db::enums::BookingStatus;
use crate::db::schema::{bookings, check_ins, showtimes};
use crate::error::{AppError, AppResult};

fn unreadable() -> AppError {
    AppError::bad_input("code", "not a valid ticket code")
}

pub async fn check_in(app: &App, operator: Viewer, code: &str) -> AppResult<Booking> {
    let claims = app.tickets.verify(code).map_err(|_| unreadable())?;
    let mut conn = app.db().await?;
    conn.transaction::<_, AppError, _>(async |conn| {
        let booking = match lock_booking(conn, claims.booking).await {
            Err(AppError::NotFound { .. }) => return Err(unreadable()),
            other => other?,
        };
        // Signed by us, but not the code this booking carries now.
        if booking.qr_code.as_deref() != Some(code.trim()) || booking.showtime_id != claims.showtime
        {
            return Err(AppError::bad_input(
                "code",
                "this ticket code is not the booking's current ticket",
            ));
        }
        match booking.status {
            BookingStatus::Confirmed => {}
            BookingStatus::Used => {
                let at: Option<DateTime<Utc>> = check_ins::table
                    .filter(check_ins::booking_id.eq(booking.id))
                    .select(check_ins::checked_in_at)
                    .first(conn)
                    .await
                    .optional()?;
                let at = at.map_or_else(String::new, |t| format!(" at {}", t.to_rfc3339()));
                return Err(AppError::conflict(format!(
                    "this ticket was already used{at}"
                )));
            }
            BookingStatus::Cancelled => {
                return Err(AppError::conflict(
                    "this booking was cancelled (or refunded); the ticket is void",
                ));
            }
            BookingStatus::Expired => {
                return Err(AppError::conflict(
                    "this booking expired unpaid; the ticket is void",
                ));
            }
            BookingStatus::Pending => {
                return Err(AppError::conflict("this booking is not paid yet"));
            }
        }
        let (starts, ends): (DateTime<Utc>, DateTime<Utc>) = showtimes::table
            .find(booking.showtime_id)
            .select((showtimes::start_time, showtimes::end_time))
            .first(conn)
            .await?;
        let opens = starts
            - chrono::Duration::from_std(app.config.tickets.check_in_opens)
                .map_err(AppError::internal)?;
        let now = app.now();
        if now < opens {
            return Err(AppError::conflict(format!(
                "check-in opens at {}",
                opens.to_rfc3339()
            )));
        }
        if now > ends {
            return Err(AppError::conflict(format!(
                "this showtime ended at {}",
                ends.to_rfc3339()
            )));
        }
        let used: Booking = diesel::update(bookings::table.find(booking.id))
            .set(bookings::status.eq(BookingStatus::Used))
            .returning(Booking::as_returning())
            .get_result(conn)
            .await?;
        diesel::insert_into(check_ins::table)
            .values((
                check_ins::booking_id.eq(booking.id),
                check_ins::operator_id.eq(Some(operator.user_id)),
                check_ins::checked_in_at.eq(now),
            ))
            .execute(conn)
            .await?;
        // A used ticket cannot be refunded any more: its points count from now. The
        // tier notification's live push, if any, leaves with the outbox's next poll.
        crate::loyalty::count_booking(conn, &app.config.tiers, now, booking.id).await?;
        Ok(used)
    })
    .await
}
