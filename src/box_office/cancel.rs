//! Cancelling a showtime (a broken projector, a storm): no more holds or sales, every
//! live booking refunded in full whatever the refund cut-off, and everyone told.
//!
//! One transaction marks the showtime cancelled and writes, for each booking, what
//! follows from it: an unpaid one ends at once (its intent is cancelled, its seats
//! released); a paid or used one gets a `refund_cancelled` outbox row and its email and
//! text. The refunds are then the outbox's: any node's worker takes them, a failure of
//! the gateway is retried with backoff, and a node that dies halfway leaves its rows
//! to the others once their lease runs out. Each refund row is sent under its own
//! idempotency key and a retry sends the pending row again rather than writing a new
//! one (`payments::refunds::showtime_cancelled`), so nobody is refunded twice. When a
//! booking's refunds are answered the ledger cancels it, releases its seats (live on
//! every map) and voids its ticket.
//!
//! Listings drop the showtime and every node's caches forget it (the catalog's
//! pub/sub word); `lockSeats`, `createBooking` and `exchangeBooking` refuse it
//! (`Showtime::check_on_sale`). Customers holding seats are told in-app; their holds
//! lapse by themselves. Cancelling again changes nothing.

use diesel::prelude::*;
use diesel_async::{AsyncConnection, RunQueryDsl};
use uuid::Uuid;

use crate::app::App;
use crate::booking::model::Booking;
use crate::booking::records::end_pending;
use crate::catalog::model::{CANCELLED, Showtime};
use crate::db::enums::{BookingStatus, NotificationType};
use crate::db::schema::{bookings, movies, showtimes};
use crate::error::{AppError, AppResult};
use crate::notifications::{self, NewNotification, messages};
use crate::outbox::{self, Effect};

pub const MAX_REASON_CHARS: usize = 500;

fn checked_reason(reason: &str) -> AppResult<String> {
    crate::text::text("reason", reason, MAX_REASON_CHARS)
}

/// `cancelShowtime` (admins). Returns the showtime as it now is.
pub async fn cancel_showtime(app: &App, id: Uuid, reason: &str) -> AppResult<Showtime> {
    let reason = checked_reason(reason)?;
    let now = app.now();
    let mut conn = app.db().await?;
    let (showtime, told, refunds) = conn
        .transaction::<_, AppError, _>(async |conn| {
            let found = crate::catalog::queries::lock_showtime(conn, id)
                .await?
                .ok_or(AppError::NotFound { what: "showtime" })?;
            if found.is_cancelled() {
                return Ok((found, Vec::new(), Vec::new()));
            }
            let showtime: Showtime = diesel::update(showtimes::table.find(id))
                .set((
                    showtimes::status.eq(CANCELLED),
                    showtimes::cancelled_at.eq(Some(now)),
                    showtimes::cancel_reason.eq(Some(&reason)),
                ))
                .returning(Showtime::as_returning())
                .get_result(conn)
                .await?;
            let title: String = movies::table
                .find(showtime.movie_id)
                .select(movies::title)
                .first(conn)
                .await?;
            let live: Vec<Booking> = bookings::table
                .filter(bookings::showtime_id.eq(id))
                .filter(bookings::status.eq_any([
                    BookingStatus::Pending,
                    BookingStatus::Confirmed,
                    BookingStatus::Used,
                ]))
                .order(bookings::created_at)
                .select(Booking::as_select())
                .for_update()
                .load(conn)
                .await?;
            let (mut told, mut refunds) = (Vec::new(), Vec::new());
            let when = showtime.start_time.format("%a %d %b %H:%M UTC");
            for booking in &live {
                let paid = booking.status != BookingStatus::Pending;
                if paid {
                    refunds.extend(
                        outbox::enqueue(
                            conn,
                            now,
                            format!("refund-cancelled-{}", booking.id),
                            &Effect::RefundCancelled {
                                booking: booking.id,
                            },
                        )
                        .await?,
                    );
                    refunds.extend(
                        messages::queue(conn, now, booking.id, "showtime_cancelled").await?,
                    );
                } else {
                    told.extend(
                        end_pending(conn, app, booking, BookingStatus::Cancelled)
                            .await?
                            .1,
                    );
                }
                let then = if paid {
                    "it is refunded in full and its ticket no longer admits"
                } else {
                    "it is cancelled and will not be charged"
                };
                told.extend(
                    notifications::record(
                        conn,
                        now,
                        NewNotification::about(
                            booking,
                            NotificationType::Booking,
                            "Showing cancelled",
                            format!(
                                "{title} on {when} is cancelled: {reason}. Booking {}: {then}.",
                                booking.booking_reference
                            ),
                        ),
                    )
                    .await?,
                );
            }
            told.extend(tell_holders(conn, app, &showtime, &title, &reason, &live).await?);
            outbox::hand_to_workers(conn, now, &refunds).await?;
            Ok((showtime, told, refunds))
        })
        .await?;
    // Every node sees it at once: this one's caches now, the others' by pub/sub.
    crate::seating::rooms::showtime_changed(app, id).await;
    // The notices now; the refunds and their messages are the workers' (a hundred
    // gateway calls do not belong in one request), on whichever node takes them.
    outbox::deliver_now(app, conn, &told).await;
    if !refunds.is_empty() {
        tracing::info!(showtime = %id, rows = refunds.len(), "showtime cancelled; refunds queued");
    }
    Ok(showtime)
}

/// Customers holding seats of the showtime, who have no booking of it, are told
/// in-app. Redis knows who holds what; if it cannot say, nobody is told (their holds
/// lapse all the same, and no booking can be made from them).
async fn tell_holders(
    conn: &mut diesel_async::AsyncPgConnection,
    app: &App,
    showtime: &Showtime,
    title: &str,
    reason: &str,
    booked: &[Booking],
) -> AppResult<Vec<crate::outbox::Queued>> {
    let holds = match crate::seating::holds::read_holds(&app.redis, &[showtime.id], app.now()).await
    {
        Ok(holds) => holds,
        Err(e) => {
            tracing::warn!(showtime = %showtime.id, error = %crate::error::LogDisplay(&e), "holders of a cancelled showtime not told");
            return Ok(Vec::new());
        }
    };
    let mut holders: Vec<Uuid> = holds
        .get(&showtime.id)
        .map(|h| h.held.values().copied().collect())
        .unwrap_or_default();
    holders.sort();
    holders.dedup();
    holders.retain(|user| !booked.iter().any(|b| b.user_id == *user));
    let mut told = Vec::new();
    let when = showtime.start_time.format("%a %d %b %H:%M UTC");
    for user in holders {
        told.extend(
            notifications::record(
                conn,
                app.now(),
                NewNotification {
                    user,
                    kind: NotificationType::Booking,
                    title: "Showing cancelled",
                    message: format!(
                        "{title} on {when} is cancelled: {reason}. The seats you were holding \
                         cannot be booked."
                    ),
                    metadata: serde_json::json!({"showtimeId": showtime.id}),
                },
            )
            .await?,
        );
    }
    Ok(told)
}
