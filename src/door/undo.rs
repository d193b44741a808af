//! `undoCheckIn`: a mistaken scan (the wrong ticket, a guest let in for the wrong
//! screen) is taken back. The booking is CONFIRMED again and its ticket good again;
//! the check-in it had is kept in `check_in_undos` with who undid it and when (a row,
//! so that the door's history answers "who let this in, and who took it back"). Scans
//! made before the undo no longer count (`scans`); a later scan, or `checkInTicket`,
//! checks the ticket in again.
//!
//! Loyalty points counted at the check-in stay counted: a refund after it takes them
//! back, as for any booking whose points were counted (`loyalty`).

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncConnection, RunQueryDsl};
use uuid::Uuid;

use super::live::{self, Change, CheckInEvent};
use crate::app::App;
use crate::auth::model::Viewer;
use crate::booking::model::Booking;
use crate::booking::records::lock_booking;
use crate::db::enums::BookingStatus;
use crate::db::schema::{bookings, check_in_undos, check_ins};
use crate::error::{AppError, AppResult};

/// Takes back a booking's check-in (operators and admins; the guard is the caller's).
pub async fn undo(app: &App, operator: Viewer, booking: Uuid) -> AppResult<Booking> {
    let mut conn = app.db().await?;
    let now = app.now();
    let (booking, undone) = conn
        .transaction::<_, AppError, _>(async |conn| {
            let current = lock_booking(conn, booking).await?;
            if current.status != BookingStatus::Used {
                return Err(AppError::conflict(format!(
                    "booking {} is {}, not checked in: there is no check-in to undo",
                    current.booking_reference,
                    current.status.as_db_str().to_uppercase()
                )));
            }
            let taken: Option<(DateTime<Utc>, Option<Uuid>, Option<String>)> =
                diesel::delete(check_ins::table.filter(check_ins::booking_id.eq(booking)))
                    .returning((
                        check_ins::checked_in_at,
                        check_ins::operator_id,
                        check_ins::device_id,
                    ))
                    .get_result(conn)
                    .await
                    .optional()?;
            // A USED booking always has its check-in; if one ever had none, the undo still
            // records what it did, dated now.
            let (checked_in_at, checked_in_by, device_id) = taken.unwrap_or((now, None, None));
            diesel::insert_into(check_in_undos::table)
                .values((
                    check_in_undos::booking_id.eq(booking),
                    check_in_undos::checked_in_at.eq(checked_in_at),
                    check_in_undos::checked_in_by.eq(checked_in_by),
                    check_in_undos::device_id.eq(&device_id),
                    check_in_undos::undone_by.eq(Some(operator.user_id)),
                    check_in_undos::undone_at.eq(now),
                ))
                .execute(conn)
                .await?;
            let confirmed: Booking = diesel::update(bookings::table.find(booking))
                .set(bookings::status.eq(BookingStatus::Confirmed))
                .returning(Booking::as_returning())
                .get_result(conn)
                .await?;
            Ok((confirmed, (checked_in_at, device_id)))
        })
        .await?;
    let mut event = CheckInEvent::new(Change::Undone, &booking, operator.user_id, now);
    (event.checked_in_at, event.device_id) = undone;
    live::publish(app, &[event]).await;
    Ok(booking)
}
