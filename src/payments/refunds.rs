//! Refunds: asked for by a customer (until a cut-off before the showtime) or an admin,
//! or made automatically when a payment arrives for a booking that cannot be honoured.
//! A booking is refunded at most once: a unique index over its non-failed refunds.

use diesel::prelude::*;
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use rust_decimal::Decimal;
use uuid::Uuid;

use super::gateway::RefundStatus;
use crate::app::App;
use crate::auth::model::Viewer;
use crate::booking::model::Booking;
use crate::booking::service::{self, is_unique_violation, lock_booking, payment_error};
use crate::db::enums::{BookingStatus, NotificationType, PaymentStatus, Role};
use crate::db::schema::{bookings, payments, refunds, showtimes};
use crate::error::{AppError, AppResult};
use crate::money::{Currency, Money};
use crate::notifications::{self, NewNotification, messages};
use crate::outbox::{self, Effect};

pub const MAX_REASON_CHARS: usize = 500;

#[derive(Debug, Clone)]
pub struct RefundOutcome {
    pub id: String,
    pub amount: Money,
    pub status: RefundStatus,
}

fn money(amount: Decimal, currency: &str) -> Money {
    Money::new(amount, Currency::parse(currency).unwrap_or(Currency::USD))
}

/// The booking's paid payment: its id and intent.
async fn paid_payment(
    conn: &mut AsyncPgConnection,
    booking: Uuid,
) -> AppResult<Option<(Uuid, String)>> {
    let row: Option<(Uuid, Option<String>)> = payments::table
        .filter(payments::booking_id.eq(booking))
        .filter(payments::status.eq(PaymentStatus::Succeeded))
        .order(payments::created_at.desc())
        .select((payments::id, payments::stripe_payment_intent_id))
        .first(conn)
        .await
        .optional()?;
    Ok(row.and_then(|(id, intent)| intent.map(|i| (id, i))))
}

struct Pending {
    refund_row: Uuid,
    intent: String,
    amount: Money,
}

async fn insert_refund(
    conn: &mut AsyncPgConnection,
    booking: &Booking,
    payment: Uuid,
    reason: &str,
    requested_by: Option<Uuid>,
) -> AppResult<Uuid> {
    let inserted = diesel::insert_into(refunds::table)
        .values((
            refunds::booking_id.eq(booking.id),
            refunds::payment_id.eq(payment),
            refunds::amount.eq(booking.final_amount),
            refunds::currency.eq(&booking.currency),
            refunds::status.eq(RefundStatus::Pending.as_str()),
            refunds::reason.eq(Some(reason)),
            refunds::requested_by.eq(requested_by),
        ))
        .returning(refunds::id)
        .get_result(conn)
        .await;
    match inserted {
        Ok(id) => Ok(id),
        Err(e) if is_unique_violation(&e, "refunds_one_per_booking") => {
            Err(AppError::conflict("this booking has already been refunded"))
        }
        Err(e) => Err(e.into()),
    }
}

/// `refundBooking`: the owner's confirmed booking until the cut-off, or any confirmed
/// booking by an admin. The booking is cancelled and its seats released once the
/// gateway confirms the refund.
pub async fn request(
    app: &App,
    viewer: Viewer,
    booking_id: Uuid,
    reason: Option<String>,
) -> AppResult<RefundOutcome> {
    let reason = reason
        .map(|r| r.trim().to_owned())
        .filter(|r| !r.is_empty());
    if reason
        .as_ref()
        .is_some_and(|r| r.chars().count() > MAX_REASON_CHARS)
    {
        return Err(AppError::bad_input(
            "reason",
            format!("at most {MAX_REASON_CHARS} characters"),
        ));
    }
    if reason.as_ref().is_some_and(|r| {
        r.chars()
            .any(crate::catalog::manage::is_control_but_line_break)
    }) {
        return Err(AppError::bad_input(
            "reason",
            "a reason holds no control characters but line breaks",
        ));
    }
    let reason = reason.unwrap_or_else(|| "requested by the customer".to_owned());
    let mut conn = app.db().await?;
    let pending = conn
        .transaction::<_, AppError, _>(async |conn| {
            let booking = lock_booking(conn, booking_id).await?;
            let admin = viewer.role == Role::Admin;
            service::authorise(&booking, viewer, booking.user_id == viewer.user_id || admin)?;
            if booking.status != BookingStatus::Confirmed {
                return Err(AppError::conflict(format!(
                    "only a confirmed booking can be refunded; this one is {}",
                    booking.status.as_db_str()
                )));
            }
            if !admin {
                let starts: chrono::DateTime<chrono::Utc> = showtimes::table
                    .find(booking.showtime_id)
                    .select(showtimes::start_time)
                    .first(conn)
                    .await?;
                let cutoff = chrono::Duration::from_std(app.config.payments.refund_cutoff)
                    .map_err(AppError::internal)?;
                if app.now() > starts - cutoff {
                    return Err(AppError::conflict(format!(
                        "refunds close {} minutes before the showtime starts",
                        cutoff.num_minutes()
                    )));
                }
            }
            let (payment, intent) = paid_payment(conn, booking.id)
                .await?
                .ok_or_else(|| AppError::conflict("this booking has no payment to refund"))?;
            let refund_row =
                insert_refund(conn, &booking, payment, &reason, Some(viewer.user_id)).await?;
            Ok(Pending {
                refund_row,
                intent,
                amount: money(booking.final_amount, &booking.currency),
            })
        })
        .await?;
    send(app, booking_id, pending).await
}

/// Asks the gateway for the refund and records the answer.
async fn send(app: &App, booking_id: Uuid, pending: Pending) -> AppResult<RefundOutcome> {
    let key = format!("refund-{booking_id}");
    let result = app
        .payments
        .refund(&pending.intent, pending.amount, &key)
        .await;
    let mut conn = app.db().await?;
    let refund = match result {
        Ok(refund) => refund,
        Err(e) => {
            diesel::update(refunds::table.find(pending.refund_row))
                .set(refunds::status.eq(RefundStatus::Failed.as_str()))
                .execute(&mut conn)
                .await?;
            return Err(payment_error(e));
        }
    };
    let effects = conn
        .transaction::<_, AppError, _>(async |conn| {
            // The booking first, as every refund transaction does: one lock order, no
            // deadlock with a concurrent request inserting its own refund row.
            let booking = lock_booking(conn, booking_id).await?;
            diesel::update(refunds::table.find(pending.refund_row))
                .set((
                    refunds::stripe_refund_id.eq(Some(&refund.id)),
                    refunds::status.eq(refund.status.as_str()),
                ))
                .execute(conn)
                .await?;
            if refund.status == RefundStatus::Succeeded {
                refunded(conn, app, &booking).await
            } else {
                Ok(Vec::new())
            }
        })
        .await?;
    outbox::deliver_now(app, conn, &effects).await;
    Ok(RefundOutcome {
        id: refund.id,
        amount: pending.amount,
        status: refund.status,
    })
}

/// The money for a booking went back (inside the caller's transaction): the payment is
/// refunded and, if the booking was live, it is cancelled and its seats released.
/// Idempotent: a second call changes nothing.
pub async fn refunded(
    conn: &mut AsyncPgConnection,
    app: &App,
    booking: &Booking,
) -> AppResult<Vec<i64>> {
    diesel::update(
        payments::table
            .filter(payments::booking_id.eq(booking.id))
            .filter(payments::status.eq(PaymentStatus::Succeeded)),
    )
    .set(payments::status.eq(PaymentStatus::Refunded))
    .execute(conn)
    .await?;
    let mut effects = Vec::new();
    if matches!(
        booking.status,
        BookingStatus::Confirmed | BookingStatus::Used
    ) {
        diesel::update(bookings::table.find(booking.id))
            .set(bookings::status.eq(BookingStatus::Cancelled))
            .execute(conn)
            .await?;
        effects.extend(
            outbox::enqueue(
                conn,
                app.now(),
                format!("booking-refunded-{}", booking.id),
                &Effect::Seats {
                    showtime: booking.showtime_id,
                    seats: booking.seats(),
                    used_lock: None,
                },
            )
            .await?,
        );
        let notice = notifications::record(
            conn,
            app.now(),
            NewNotification::about(
                booking,
                NotificationType::Payment,
                "Refund issued",
                format!(
                    "Booking {} is cancelled and {} {} is on its way back to you.",
                    booking.booking_reference, booking.final_amount, booking.currency
                ),
            ),
        )
        .await?;
        effects.extend(notice);
        effects.extend(messages::queue(conn, app.now(), booking.id, "refund_issued").await?);
        effects.extend(
            crate::loyalty::add_points(
                conn,
                &app.config.tiers,
                app.now(),
                booking.user_id,
                -crate::loyalty::points_for(booking.final_amount),
            )
            .await?,
        );
    }
    Ok(effects)
}

/// The outbox's `refund`: gives back a payment that arrived for a booking that had
/// expired and lost its seats, or had been cancelled. Safe to retry: the refund row
/// and the gateway's idempotency key make a second run a no-op.
pub async fn automatic(app: &App, booking_id: Uuid) -> AppResult<()> {
    let mut conn = app.db().await?;
    let pending = conn
        .transaction::<_, AppError, _>(async |conn| {
            let booking = lock_booking(conn, booking_id).await?;
            let existing: Option<(Uuid, String)> = refunds::table
                .filter(refunds::booking_id.eq(booking_id))
                .filter(refunds::status.ne(RefundStatus::Failed.as_str()))
                .select((refunds::id, refunds::status))
                .first(conn)
                .await
                .optional()?;
            let Some((payment, intent)) = paid_payment(conn, booking_id).await? else {
                return Ok(None);
            };
            let refund_row = match existing {
                Some((_, status)) if status == RefundStatus::Succeeded.as_str() => return Ok(None),
                Some((id, _)) => id,
                None => {
                    insert_refund(
                        conn,
                        &booking,
                        payment,
                        "automatic: the booking could not be honoured",
                        None,
                    )
                    .await?
                }
            };
            Ok(Some(Pending {
                refund_row,
                intent,
                amount: money(booking.final_amount, &booking.currency),
            }))
        })
        .await?;
    if let Some(pending) = pending {
        send(app, booking_id, pending).await?;
    }
    Ok(())
}
