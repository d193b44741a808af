//! Bookings as they are: reading them, who may see and act on them, and ending a
//! pending one (cancelled by its owner, or expired). What checkout, payments, tickets
//! and the door build on.

use diesel::prelude::*;
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use uuid::Uuid;

use super::model::Booking;
use crate::app::App;
use crate::auth::model::Viewer;
use crate::db::enums::{BookingStatus, PaymentStatus, Role};
use crate::db::schema::{booking_seats, bookings, payments};
use crate::error::{AppError, AppResult};
use crate::outbox::{self, Effect};

/// Seats among `seats` that a live booking already has, or that the house has blocked
/// (the sale's trigger refuses those whatever Redis said when they were held).
pub async fn taken_seats(
    conn: &mut AsyncPgConnection,
    showtime: Uuid,
    seats: &[String],
) -> AppResult<Vec<String>> {
    let mut taken: Vec<String> = booking_seats::table
        .filter(booking_seats::showtime_id.eq(showtime))
        .filter(booking_seats::status.eq_any(BookingStatus::LIVE))
        .filter(booking_seats::seat_number.eq_any(seats))
        .select(booking_seats::seat_number)
        .load(conn)
        .await?;
    let blocked: Vec<Option<String>> = crate::db::schema::showtimes::table
        .find(showtime)
        .select(crate::db::schema::showtimes::blocked_seats)
        .first(conn)
        .await
        .optional()?
        .unwrap_or_default();
    for seat in blocked.into_iter().flatten() {
        if seats.contains(&seat) && !taken.contains(&seat) {
            taken.push(seat);
        }
    }
    Ok(taken)
}

/// A booking, or NOT_FOUND.
pub async fn find(conn: &mut AsyncPgConnection, id: Uuid) -> AppResult<Booking> {
    bookings::table
        .find(id)
        .select(Booking::as_select())
        .first(conn)
        .await
        .optional()?
        .ok_or(AppError::NotFound { what: "booking" })
}

/// A booking, locked for the rest of the caller's transaction.
pub async fn lock_booking(conn: &mut AsyncPgConnection, id: Uuid) -> AppResult<Booking> {
    bookings::table
        .find(id)
        .select(Booking::as_select())
        .for_update()
        .first(conn)
        .await
        .optional()?
        .ok_or(AppError::NotFound { what: "booking" })
}

/// Owners see their bookings; operators and admins see all. To anyone else a booking
/// does not exist, so that ids cannot be probed.
pub fn is_visible_to(booking: &Booking, viewer: Viewer) -> bool {
    booking.user_id == viewer.user_id || matches!(viewer.role, Role::Admin | Role::Operator)
}

/// Whether `viewer` may act on `booking` (`may_act`, the operation's own rule): one
/// who may not even see it is told NOT_FOUND, exactly as for an id that does not
/// exist; one who sees it but may not act (an operator cancelling) is told FORBIDDEN.
pub fn authorise(booking: &Booking, viewer: Viewer, may_act: bool) -> AppResult<()> {
    if !is_visible_to(booking, viewer) {
        return Err(AppError::NotFound { what: "booking" });
    }
    if !may_act {
        return Err(AppError::Forbidden {
            message: "this booking belongs to someone else".to_owned(),
        });
    }
    Ok(())
}

pub async fn find_visible(app: &App, viewer: Viewer, id: Uuid) -> AppResult<Option<Booking>> {
    let mut conn = app.db().await?;
    let booking: Option<Booking> = bookings::table
        .find(id)
        .select(Booking::as_select())
        .first(&mut conn)
        .await
        .optional()?;
    Ok(booking.filter(|b| is_visible_to(b, viewer)))
}

pub async fn mine(
    app: &App,
    viewer: Viewer,
    page: crate::paging::Page,
) -> AppResult<(Vec<Booking>, bool)> {
    let mut conn = app.db().await?;
    let mut query = bookings::table
        .filter(bookings::user_id.eq(viewer.user_id))
        .order((bookings::created_at.desc(), bookings::id.desc()))
        .select(Booking::as_select())
        .limit(page.first + 1)
        .into_boxed();
    if let Some(after) = page.after {
        let at: chrono::DateTime<chrono::Utc> = bookings::table
            .find(after)
            .filter(bookings::user_id.eq(viewer.user_id))
            .select(bookings::created_at)
            .first(&mut conn)
            .await
            .optional()?
            .ok_or_else(crate::paging::unknown_cursor)?;
        query = query.filter(
            bookings::created_at
                .lt(at)
                .or(bookings::created_at.eq(at).and(bookings::id.lt(after))),
        );
    }
    Ok(page.split(query.load(&mut conn).await?))
}

/// How many bookings the caller has.
pub async fn count_mine(app: &App, viewer: Viewer) -> AppResult<i64> {
    let mut conn = app.db().await?;
    Ok(bookings::table
        .filter(bookings::user_id.eq(viewer.user_id))
        .count()
        .get_result(&mut conn)
        .await?)
}

/// Ends a pending booking (its owner's, or any by an admin): CANCELLED, its payment
/// intent cancelled and its seats released, both after commit.
pub async fn cancel(app: &App, viewer: Viewer, id: Uuid) -> AppResult<Booking> {
    let mut conn = app.db().await?;
    let (booking, effects) = conn
        .transaction::<_, AppError, _>(async |conn| {
            let booking = lock_booking(conn, id).await?;
            let owner = booking.user_id == viewer.user_id;
            authorise(&booking, viewer, owner || viewer.role == Role::Admin)?;
            if booking.status != BookingStatus::Pending {
                return Err(AppError::conflict(match booking.status {
                    BookingStatus::Confirmed => {
                        "this booking is paid; ask for a refund instead".to_owned()
                    }
                    other => format!("this booking is already {}", other.as_db_str()),
                }));
            }
            end_pending(conn, app, &booking, BookingStatus::Cancelled).await
        })
        .await?;
    outbox::deliver_now(app, conn, &effects).await;
    Ok(booking)
}

/// Moves a pending booking to `status` (cancelled or expired) inside the caller's
/// transaction, with its payment cancelled and the seat release and intent
/// cancellation queued. Returns the booking and the outbox rows to deliver.
pub async fn end_pending(
    conn: &mut AsyncPgConnection,
    app: &App,
    booking: &Booking,
    status: BookingStatus,
) -> AppResult<(Booking, Vec<crate::outbox::Queued>)> {
    let updated: Booking = diesel::update(bookings::table.find(booking.id))
        .set(bookings::status.eq(status))
        .returning(Booking::as_returning())
        .get_result(conn)
        .await?;
    diesel::update(
        payments::table
            .filter(payments::booking_id.eq(booking.id))
            .filter(payments::status.eq_any([PaymentStatus::Pending, PaymentStatus::Failed])),
    )
    .set(payments::status.eq(PaymentStatus::Cancelled))
    .execute(conn)
    .await?;
    let mut effects = Vec::new();
    effects.extend(
        outbox::enqueue(
            conn,
            app.now(),
            format!("booking-{}-{}", status.as_db_str(), booking.id),
            &booking.seats_effect(),
        )
        .await?,
    );
    if let Some(intent) = &booking.payment_intent_id {
        effects.extend(
            outbox::enqueue(
                conn,
                app.now(),
                format!("cancel-intent-{intent}"),
                &Effect::CancelIntent {
                    intent: intent.clone(),
                },
            )
            .await?,
        );
    }
    Ok((updated, effects))
}
