//! Refunds: asked for by a customer (until a cut-off before the showtime) or an admin,
//! or made automatically when a payment arrives for a booking that cannot be honoured.
//! A refund of the whole booking gives back what is left of the payment (a goodwill
//! refund in Stripe's Dashboard may have given back part of it already); a refund of
//! some seats or snacks gives back what they cost (`partial_refunds`). One refund is in
//! flight per booking at a time (a unique index over its pending refunds), so two
//! requests at once give the money back once.

use diesel::prelude::*;
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use uuid::Uuid;

use super::gateway::RefundStatus;
use super::ledger::{self, Payment};
use super::partial_refunds::{self, Asked, Part};
use crate::app::App;
use crate::auth::model::Viewer;
use crate::booking::model::Booking;
use crate::booking::records::{authorise, lock_booking};
use crate::db::enums::{BookingStatus, Role};
use crate::db::is_unique_violation;
use crate::db::schema::{refunds, showtimes};
use crate::error::{AppError, AppResult};
use crate::money::Money;
use crate::outbox;
use crate::payments::gateway::payment_error;

pub const MAX_REASON_CHARS: usize = 500;

struct Pending {
    refund_row: Uuid,
    intent: String,
    amount: Money,
}

/// Writes the refund of what is left of `payment` (or, with a part, of what that part
/// cost, at most what is left), pending until the gateway answers.
async fn insert_refund(
    conn: &mut AsyncPgConnection,
    booking: &Booking,
    payment: &Payment,
    part: Option<(&Part, Money)>,
    reason: &str,
    requested_by: Option<Uuid>,
) -> AppResult<Pending> {
    let left = payment.refundable();
    let amount = match part {
        Some((_, cost)) if cost.amount() < left.amount() => cost,
        _ => left,
    };
    let intent = payment
        .intent()
        .ok_or_else(|| AppError::conflict("this booking has no payment to refund"))?
        .to_owned();
    if amount.amount() <= rust_decimal::Decimal::ZERO {
        return Err(AppError::conflict(
            "nothing is left to give back: this booking has already been refunded, \
             or what was asked for cost nothing",
        ));
    }
    let inserted = diesel::insert_into(refunds::table)
        .values((
            refunds::booking_id.eq(booking.id),
            refunds::payment_id.eq(payment.id),
            refunds::amount.eq(amount.amount()),
            refunds::currency.eq(amount.currency().as_str()),
            refunds::status.eq(RefundStatus::Pending.as_str()),
            refunds::reason.eq(Some(reason)),
            refunds::requested_by.eq(requested_by),
            refunds::seat_numbers.eq(part
                .map(|(p, _)| p.seats.iter().cloned().map(Some).collect::<Vec<_>>())
                .unwrap_or_default()),
            refunds::snack_lines
                .eq(part.map_or_else(|| serde_json::json!([]), |(p, _)| p.snack_lines())),
        ))
        .returning(refunds::id)
        .get_result(conn)
        .await;
    match inserted {
        Ok(refund_row) => Ok(Pending {
            refund_row,
            intent,
            amount,
        }),
        Err(e) if is_unique_violation(&e, "refunds_one_pending_per_booking") => Err(
            AppError::conflict("a refund of this booking is already under way"),
        ),
        Err(e) => Err(e.into()),
    }
}

/// What a `refundBooking` asks for.
pub struct RefundRequest {
    pub booking: Uuid,
    pub reason: Option<String>,
    /// None, or every seat: the whole booking.
    pub seats: Vec<String>,
    pub snacks: Vec<(Uuid, i32)>,
}

/// `refundBooking`: the owner's confirmed booking until the cut-off, or any confirmed
/// booking by an admin, whole or in part. Once the gateway confirms the refund, a
/// whole booking is cancelled and its seats released; a part is taken off the booking,
/// which stands with a new ticket code.
pub async fn request(app: &App, viewer: Viewer, asked: RefundRequest) -> AppResult<RefundRow> {
    let RefundRequest {
        booking: booking_id,
        reason,
        seats,
        snacks,
    } = asked;
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
    if reason
        .as_ref()
        .is_some_and(|r| r.chars().any(crate::text::is_control_but_line_break))
    {
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
            authorise(&booking, viewer, booking.user_id == viewer.user_id || admin)?;
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
            let asked = partial_refunds::asked(conn, &booking, seats, snacks).await?;
            let payment = ledger::paid_for_booking(conn, booking.id)
                .await?
                .ok_or_else(|| AppError::conflict("this booking has no payment to refund"))?;
            let part = match &asked {
                Asked::Whole => None,
                Asked::Part(part, cost) => Some((part, *cost)),
            };
            insert_refund(
                conn,
                &booking,
                &payment,
                part,
                &reason,
                Some(viewer.user_id),
            )
            .await
        })
        .await?;
    send(app, booking_id, pending, OnFailure::MarkFailed).await
}

/// Asks the gateway for the refund and records the answer.
/// What a gateway failure does to the refund row.
#[derive(Clone, Copy, PartialEq, Eq)]
enum OnFailure {
    /// Failed: the caller may ask again (a new row).
    MarkFailed,
    /// Still pending: the outbox sends it again, under the same key.
    KeepPending,
}

async fn send(
    app: &App,
    booking_id: Uuid,
    pending: Pending,
    on_failure: OnFailure,
) -> AppResult<RefundRow> {
    // One key per refund row: a retry of this refund is the same refund at Stripe, and
    // a later refund of what is left is a new one.
    let key = format!("refund-{}", pending.refund_row);
    let result = app
        .payments
        .refund(&pending.intent, pending.amount, &key)
        .await;
    let mut conn = app.db().await?;
    let refund = match result {
        Ok(refund) => refund,
        Err(e) => {
            if on_failure == OnFailure::MarkFailed {
                diesel::update(refunds::table.find(pending.refund_row))
                    .set(refunds::status.eq(RefundStatus::Failed.as_str()))
                    .execute(&mut conn)
                    .await?;
            }
            return Err(payment_error(e));
        }
    };
    let effects = conn
        .transaction::<_, AppError, _>(async |conn| {
            // The booking first, as every refund transaction does: one lock order, no
            // deadlock with a concurrent request inserting its own refund row.
            let booking = lock_booking(conn, booking_id).await?;
            let row: RefundRow = diesel::update(refunds::table.find(pending.refund_row))
                .set((
                    refunds::stripe_refund_id.eq(Some(&refund.id)),
                    refunds::status.eq(refund.status.as_str()),
                ))
                .returning(RefundRow::as_returning())
                .get_result(conn)
                .await?;
            let effects = if refund.status == RefundStatus::Succeeded {
                ledger::settle(conn, app, &booking).await?
            } else {
                Vec::new()
            };
            Ok((row, effects))
        })
        .await?;
    let (row, effects) = effects;
    outbox::deliver_now(app, conn, &effects).await;
    Ok(row)
}

/// The outbox's `refund`: gives back a payment that arrived for a booking that had
/// expired and lost its seats, or had been cancelled. Safe to retry: the refund row
/// and the gateway's idempotency key make a second run a no-op.
pub async fn automatic(app: &App, booking_id: Uuid) -> AppResult<()> {
    let mut conn = app.db().await?;
    let pending = conn
        .transaction::<_, AppError, _>(async |conn| {
            let booking = lock_booking(conn, booking_id).await?;
            let Some(payment) = ledger::paid_for_booking(conn, booking_id).await? else {
                return Ok(None);
            };
            // A refund of ours left pending by a run that stopped half-way is sent again
            // under its own key, so Stripe answers with the same refund.
            let in_flight = ledger::refund_in_flight(conn, payment.id).await?;
            if let (Some((refund_row, amount)), Some(intent)) = (in_flight, payment.intent()) {
                return Ok(Some(Pending {
                    refund_row,
                    intent: intent.to_owned(),
                    amount: Money::new(amount, payment.currency()),
                }));
            }
            if payment.refundable().amount() <= rust_decimal::Decimal::ZERO {
                return Ok(None);
            }
            insert_refund(
                conn,
                &booking,
                &payment,
                None,
                "automatic: the booking could not be honoured",
                None,
            )
            .await
            .map(Some)
        })
        .await?;
    if let Some(pending) = pending {
        send(app, booking_id, pending, OnFailure::MarkFailed).await?;
    }
    Ok(())
}

/// Writes a refund of `amount` (at most what is left of the payment) that takes
/// nothing off the booking: the difference when a booking is exchanged for cheaper
/// seats. Inside the caller's transaction, with the booking locked; the outbox's
/// `send_refund` sends it after commit, and again until the gateway answers. Returns
/// the outbox rows to deliver.
pub async fn difference(
    conn: &mut AsyncPgConnection,
    now: chrono::DateTime<chrono::Utc>,
    booking: &Booking,
    amount: Money,
    reason: &str,
    requested_by: Uuid,
) -> AppResult<Vec<i64>> {
    let payment = ledger::paid_for_booking(conn, booking.id)
        .await?
        .ok_or_else(|| AppError::conflict("this booking has no payment to refund"))?;
    let pending = insert_refund(
        conn,
        booking,
        &payment,
        Some((&Part::default(), amount)),
        reason,
        Some(requested_by),
    )
    .await?;
    Ok(outbox::enqueue(
        conn,
        now,
        format!("send-refund-{}", pending.refund_row),
        &outbox::Effect::SendRefund {
            refund: pending.refund_row,
        },
    )
    .await?
    .into_iter()
    .collect())
}

/// The outbox's `send_refund`: sends a refund of ours that is still pending (under its
/// own key, so a second send is the same refund at the gateway); one the gateway has
/// answered is left alone.
pub async fn send_pending(app: &App, refund: Uuid) -> AppResult<()> {
    let pending: Option<(Uuid, rust_decimal::Decimal, String, Option<String>)> = {
        let mut conn = app.db().await?;
        refunds::table
            .inner_join(crate::db::schema::payments::table)
            .filter(refunds::id.eq(refund))
            .filter(refunds::status.eq(RefundStatus::Pending.as_str()))
            .select((
                refunds::booking_id,
                refunds::amount,
                refunds::currency,
                crate::db::schema::payments::stripe_payment_intent_id,
            ))
            .first(&mut conn)
            .await
            .optional()?
    };
    let Some((booking, amount, currency, Some(intent))) = pending else {
        return Ok(());
    };
    let currency = crate::money::Currency::parse(&currency).unwrap_or(crate::money::Currency::USD);
    send(
        app,
        booking,
        Pending {
            refund_row: refund,
            intent,
            amount: Money::new(amount, currency),
        },
        OnFailure::KeepPending,
    )
    .await
    .map(|_| ())
}

/// A refund as `Booking.refunds` lists it.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = refunds, check_for_backend(diesel::pg::Pg))]
pub struct RefundRow {
    pub id: Uuid,
    pub booking_id: Uuid,
    pub stripe_refund_id: Option<String>,
    pub amount: rust_decimal::Decimal,
    pub currency: String,
    pub status: String,
    pub reason: Option<String>,
    pub seat_numbers: Vec<Option<String>>,
    pub snack_lines: serde_json::Value,
    pub created_at: chrono::DateTime<chrono::Utc>,
}

impl RefundRow {
    pub fn money(&self) -> Money {
        Money::new(
            self.amount,
            crate::money::Currency::parse(&self.currency).unwrap_or(crate::money::Currency::USD),
        )
    }

    pub fn snacks(&self) -> Vec<partial_refunds::SnackReturn> {
        serde_json::from_value(self.snack_lines.clone()).unwrap_or_default()
    }
}
