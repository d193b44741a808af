//! The money of a booking's payment: what was charged, what has gone back, and what
//! that means for the booking. Refunds may be partial and come from our API, from the
//! outbox or from Stripe's Dashboard, in any order; the refund rows are the ledger and
//! `settle` derives the payment's state and the booking's from their sum, so running
//! it again changes nothing.

use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use rust_decimal::Decimal;
use serde_json::Value;
use uuid::Uuid;

use super::gateway::RefundStatus;
use crate::app::App;
use crate::booking::model::Booking;
use crate::booking::records::end_pending;
use crate::db::enums::{BookingStatus, NotificationType, PaymentStatus};
use crate::db::schema::{bookings, payments, refunds};
use crate::error::AppResult;
use crate::loyalty;
use crate::money::{Currency, Money};
use crate::notifications::{self, NewNotification, messages};
use crate::outbox;

/// A payment row: one attempt to pay a booking, through one intent.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = payments, check_for_backend(diesel::pg::Pg))]
pub struct Payment {
    pub id: Uuid,
    pub booking_id: Uuid,
    pub stripe_payment_intent_id: Option<String>,
    pub amount: Decimal,
    pub currency: String,
    pub status: PaymentStatus,
    pub amount_received: Option<Decimal>,
    pub amount_refunded: Decimal,
}

impl Payment {
    pub fn currency(&self) -> Currency {
        Currency::parse(&self.currency).unwrap_or(Currency::USD)
    }

    /// What was charged: what Stripe said arrived, else what was asked.
    pub fn charged(&self) -> Money {
        Money::new(self.amount_received.unwrap_or(self.amount), self.currency())
    }

    pub fn refunded(&self) -> Money {
        Money::new(self.amount_refunded, self.currency())
    }

    /// What may still be given back.
    pub fn refundable(&self) -> Money {
        Money::new(
            (self.charged().amount() - self.amount_refunded).max(Decimal::ZERO),
            self.currency(),
        )
    }

    pub fn intent(&self) -> Option<&str> {
        self.stripe_payment_intent_id.as_deref()
    }
}

pub async fn for_intent(conn: &mut AsyncPgConnection, intent: &str) -> AppResult<Option<Payment>> {
    Ok(payments::table
        .filter(payments::stripe_payment_intent_id.eq(intent))
        .select(Payment::as_select())
        .first(conn)
        .await
        .optional()?)
}

/// The booking's payments whose money arrived (some of it may have gone back since),
/// latest first: the booking's own, and the difference of each dearer exchange.
pub async fn paid_for_booking(
    conn: &mut AsyncPgConnection,
    booking: Uuid,
) -> AppResult<Vec<Payment>> {
    Ok(payments::table
        .filter(payments::booking_id.eq(booking))
        .filter(payments::status.eq_any([
            PaymentStatus::Succeeded,
            PaymentStatus::PartiallyRefunded,
            PaymentStatus::Refunded,
        ]))
        .order((payments::created_at.desc(), payments::id.desc()))
        .select(Payment::as_select())
        .load(conn)
        .await?)
}

/// What may still be given back of all of them.
pub fn refundable(payments: &[Payment]) -> Decimal {
    payments.iter().map(|p| p.refundable().amount()).sum()
}

/// Splits `amount` over the payments, latest first, each giving at most what it still
/// holds: the money of an exchange's difference goes back before the booking's own.
/// Parts of nothing are left out; what no payment holds is not given.
pub fn allocate(payments: &[Payment], amount: Decimal) -> Vec<(&Payment, Money)> {
    let mut left = amount;
    let mut parts = Vec::new();
    for payment in payments {
        if left <= Decimal::ZERO {
            break;
        }
        let take = payment.refundable().amount().min(left);
        if take > Decimal::ZERO {
            parts.push((payment, Money::new(take, payment.currency())));
            left -= take;
        }
    }
    parts
}

/// The money arrived: the payment is succeeded, with what Stripe says was received
/// (when it said so in a currency we know). Returns the row as it is now.
pub async fn record_success(
    conn: &mut AsyncPgConnection,
    payment: &Payment,
    received: Option<Money>,
    method: Option<&str>,
) -> AppResult<Payment> {
    let method = method.map(|m| m.chars().take(100).collect::<String>());
    let received_amount = received.map(|m| m.amount());
    let currency = received.map_or_else(|| payment.currency.clone(), |m| m.currency().to_string());
    Ok(diesel::update(payments::table.find(payment.id))
        .set((
            payments::status.eq(PaymentStatus::Succeeded),
            payments::amount_received.eq(received_amount),
            payments::currency.eq(currency),
            payments::payment_method.eq(method),
            payments::failure_reason.eq(None::<String>),
        ))
        .returning(Payment::as_returning())
        .get_result(conn)
        .await?)
}

/// The payment was declined (`payment_intent.payment_failed`): failed, with the
/// provider's reason, which is returned to tell the customer.
pub async fn record_failure(
    conn: &mut AsyncPgConnection,
    payment: &Payment,
    object: &Value,
) -> AppResult<String> {
    let reason = object["last_payment_error"]["message"]
        .as_str()
        .unwrap_or("the payment was declined")
        .to_owned();
    diesel::update(payments::table.find(payment.id))
        .set((
            payments::status.eq(PaymentStatus::Failed),
            payments::payment_method.eq(object["payment_method"]
                .as_str()
                .map(|m| m.chars().take(100).collect::<String>())),
            payments::failure_reason.eq(Some(&reason)),
        ))
        .execute(conn)
        .await?;
    Ok(reason)
}

/// The charge's running total of refunds, as a `charge.refunded` event states it.
pub fn refunds_reported(object: &Value, payment: &Payment) -> Option<Money> {
    object["amount_refunded"]
        .as_i64()
        .map(|minor| Money::from_minor(minor, payment.currency()))
}

async fn succeeded_total(conn: &mut AsyncPgConnection, payment: Uuid) -> AppResult<Decimal> {
    let amounts: Vec<Decimal> = refunds::table
        .filter(refunds::payment_id.eq(payment))
        .filter(refunds::status.eq(RefundStatus::Succeeded.as_str()))
        .select(refunds::amount)
        .load(conn)
        .await?;
    Ok(amounts.into_iter().sum())
}

/// Writes into the ledger the refunds a `charge.refunded` event reports: each listed
/// refund once (by its id), ours marked succeeded, and whatever the running total says
/// beyond them (refunds whose list the event did not carry) as one row more.
pub async fn record_reported_refunds(
    conn: &mut AsyncPgConnection,
    booking: &Booking,
    payment: &Payment,
    object: &Value,
) -> AppResult<()> {
    let currency = payment.currency();
    let listed = object["refunds"]["data"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    for refund in &listed {
        let (Some(id), Some(minor)) = (refund["id"].as_str(), refund["amount"].as_i64()) else {
            continue;
        };
        if refund["status"].as_str().unwrap_or("succeeded") != "succeeded" {
            continue;
        }
        let known = diesel::update(refunds::table.filter(refunds::stripe_refund_id.eq(id)))
            .set(refunds::status.eq(RefundStatus::Succeeded.as_str()))
            .execute(conn)
            .await?;
        if known > 0 {
            continue;
        }
        // Ours, whose answer from the gateway is not written yet: the refund in flight.
        let ours = diesel::update(
            refunds::table
                .filter(refunds::payment_id.eq(payment.id))
                .filter(refunds::status.eq(RefundStatus::Pending.as_str()))
                .filter(refunds::stripe_refund_id.is_null()),
        )
        .set((
            refunds::status.eq(RefundStatus::Succeeded.as_str()),
            refunds::stripe_refund_id.eq(Some(id)),
        ))
        .execute(conn)
        .await?;
        if ours > 0 {
            continue;
        }
        insert_provider_refund(
            conn,
            booking,
            payment,
            Some(id),
            Money::from_minor(minor, currency),
        )
        .await?;
    }
    let Some(total) = refunds_reported(object, payment) else {
        return Ok(());
    };
    let recorded = succeeded_total(conn, payment.id).await?;
    if total.amount() <= recorded {
        return Ok(());
    }
    // More went back than the rows say. Our refund in flight is part of it when the
    // event came before the gateway's answer was written.
    let in_flight = refund_in_flight(conn, payment.id).await?;
    let mut missing = total.amount() - recorded;
    if let Some((row, amount)) = in_flight
        && amount <= missing
    {
        diesel::update(refunds::table.find(row))
            .set(refunds::status.eq(RefundStatus::Succeeded.as_str()))
            .execute(conn)
            .await?;
        missing -= amount;
    }
    if missing > Decimal::ZERO {
        insert_provider_refund(conn, booking, payment, None, Money::new(missing, currency)).await?;
    }
    Ok(())
}

/// Our refund of `payment` that is sent or being sent and not yet answered: its row
/// and amount (at most one: a unique index).
pub async fn refund_in_flight(
    conn: &mut AsyncPgConnection,
    payment: Uuid,
) -> AppResult<Option<(Uuid, Decimal)>> {
    Ok(refunds::table
        .filter(refunds::payment_id.eq(payment))
        .filter(refunds::status.eq(RefundStatus::Pending.as_str()))
        .select((refunds::id, refunds::amount))
        .first(conn)
        .await
        .optional()?)
}

async fn insert_provider_refund(
    conn: &mut AsyncPgConnection,
    booking: &Booking,
    payment: &Payment,
    stripe_id: Option<&str>,
    amount: Money,
) -> AppResult<()> {
    if amount.amount() <= Decimal::ZERO {
        return Ok(());
    }
    diesel::insert_into(refunds::table)
        .values((
            refunds::booking_id.eq(booking.id),
            refunds::payment_id.eq(payment.id),
            refunds::stripe_refund_id.eq(stripe_id),
            refunds::amount.eq(amount.amount()),
            refunds::currency.eq(amount.currency().as_str()),
            refunds::status.eq(RefundStatus::Succeeded.as_str()),
            refunds::reason.eq(Some("refunded at the payment provider")),
        ))
        .on_conflict_do_nothing()
        .execute(conn)
        .await?;
    Ok(())
}

/// Whether a refund of ours of any of the booking's payments is still under way.
pub async fn booking_refund_in_flight(
    conn: &mut AsyncPgConnection,
    booking: Uuid,
) -> AppResult<bool> {
    Ok(diesel::select(diesel::dsl::exists(
        refunds::table
            .filter(refunds::booking_id.eq(booking))
            .filter(refunds::status.eq(RefundStatus::Pending.as_str())),
    ))
    .get_result(conn)
    .await?)
}

/// Whether a refund of the whole booking (one that names no seats or snacks) succeeded.
async fn whole_given_back(conn: &mut AsyncPgConnection, booking: Uuid) -> AppResult<bool> {
    Ok(diesel::select(diesel::dsl::exists(
        refunds::table
            .filter(refunds::booking_id.eq(booking))
            .filter(refunds::status.eq(RefundStatus::Succeeded.as_str()))
            .filter(refunds::lead_refund_id.is_null())
            .filter(refunds::seat_numbers.eq(Vec::<Option<String>>::new()))
            .filter(refunds::snack_lines.eq(serde_json::json!([]))),
    ))
    .get_result(conn)
    .await?)
}

/// Brings the payments and the booking in line with the refunds that succeeded (inside
/// the caller's transaction, with the booking locked), judged on the totals of all the
/// booking's payments. All of it back: the payments are refunded and a live booking is
/// cancelled, its seats released and its points taken back. Part of it: the booking
/// stands, and its points follow the money kept. While a refund of ours is still under
/// way nothing moves: a refund sent as one per payment is settled once, when all of it
/// is answered (every path that answers one settles again). Idempotent.
pub async fn settle(
    conn: &mut AsyncPgConnection,
    app: &App,
    booking: &Booking,
) -> AppResult<Vec<crate::outbox::Queued>> {
    let paid = paid_for_booking(conn, booking.id).await?;
    let Some(currency) = paid.iter().map(Payment::currency).next() else {
        return Ok(Vec::new());
    };
    if booking_refund_in_flight(conn, booking.id).await? {
        return Ok(Vec::new());
    }
    let (mut charged, mut refunded, mut before) = (Decimal::ZERO, Decimal::ZERO, Decimal::ZERO);
    for payment in &paid {
        let back = succeeded_total(conn, payment.id).await?;
        let status = if back >= payment.charged().amount() {
            PaymentStatus::Refunded
        } else if back > Decimal::ZERO {
            PaymentStatus::PartiallyRefunded
        } else {
            PaymentStatus::Succeeded
        };
        diesel::update(payments::table.find(payment.id))
            .set((
                payments::status.eq(status),
                payments::amount_refunded.eq(back),
            ))
            .execute(conn)
            .await?;
        charged += payment.charged().amount();
        refunded += back;
        before += payment.amount_refunded;
    }
    let refunded = Money::new(refunded, currency);
    let newly = Money::new(refunded.amount() - before, currency);
    // What cost nothing (a complimentary sale) is all given back by a refund of the
    // whole booking, not by a sum that is never short of nothing.
    let whole = if charged > Decimal::ZERO {
        refunded.amount() >= charged
    } else {
        whole_given_back(conn, booking.id).await?
    };
    let now = app.now();
    let mut effects = Vec::new();
    let live = matches!(
        booking.status,
        BookingStatus::Confirmed | BookingStatus::Used
    );
    if live && !whole {
        // Refunds of part of the booking take their seats and snacks off it.
        effects.extend(super::partial_refunds::take_off_refunded(conn, app, booking).await?);
    }
    if whole && booking.status == BookingStatus::Pending {
        // Refunded before its success was seen: it never becomes live.
        effects.extend(
            end_pending(conn, app, booking, BookingStatus::Cancelled)
                .await?
                .1,
        );
    } else if whole && live {
        let told = if refunded.amount() > Decimal::ZERO {
            format!(
                "Booking {} is cancelled and {refunded} is on its way back to you.",
                booking.booking_reference
            )
        } else {
            format!(
                "Booking {} is cancelled; it cost nothing to give back.",
                booking.booking_reference
            )
        };
        effects.extend(cancel_live(conn, app, booking, told).await?);
    } else if live && newly.amount() > Decimal::ZERO {
        // Points follow the money kept (what was charged, less what went back).
        let kept = (charged - refunded.amount()).max(Decimal::ZERO);
        effects.extend(
            notifications::record(
                conn,
                now,
                NewNotification::about(
                    booking,
                    NotificationType::Payment,
                    "Partial refund",
                    format!(
                        "{newly} of booking {} is on its way back to you; the booking stands.",
                        booking.booking_reference
                    ),
                ),
            )
            .await?,
        );
        effects.extend(
            loyalty::set_booking_points(
                conn,
                &app.config.tiers,
                now,
                booking,
                loyalty::points_for(kept),
            )
            .await?,
        );
    }
    Ok(effects)
}

/// Cancels a live booking whose money has all gone back (or that had none through the
/// gateway): its seats are released, the customer told `told`, its points taken back.
/// Inside the caller's transaction, with the booking locked.
pub async fn cancel_live(
    conn: &mut AsyncPgConnection,
    app: &App,
    booking: &Booking,
    told: String,
) -> AppResult<Vec<crate::outbox::Queued>> {
    let now = app.now();
    let mut effects = Vec::new();
    diesel::update(bookings::table.find(booking.id))
        .set(bookings::status.eq(BookingStatus::Cancelled))
        .execute(conn)
        .await?;
    effects.extend(
        outbox::enqueue(
            conn,
            now,
            format!("booking-refunded-{}", booking.id),
            &booking.seats_effect(),
        )
        .await?,
    );
    effects.extend(
        notifications::record(
            conn,
            now,
            NewNotification::about(booking, NotificationType::Payment, "Refund issued", told),
        )
        .await?,
    );
    effects.extend(messages::queue(conn, now, booking.id, "refund_issued").await?);
    effects.extend(loyalty::set_booking_points(conn, &app.config.tiers, now, booking, 0).await?);
    Ok(effects)
}
