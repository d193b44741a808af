//! What Stripe's events do to bookings. Each event is handled in one transaction that
//! also records its id, so a replay is acknowledged and ignored, and a failure leaves
//! nothing half-done (Stripe retries).
//!
//! ## The payment's state machine
//!
//! Stripe does not order its deliveries and retries a failed one for days, so
//! `charge.refunded` can come before `payment_intent.succeeded` (support refunded in
//! the Dashboard while our endpoint was down). Every event is therefore a transition on
//! the state of the booking's payment (its `payments` row, read under the booking's row
//! lock) that only moves forward: an event whose state is already past changes nothing.
//!
//! | state              | succeeded             | payment_failed  | canceled           | charge.refunded (r of a charged)              |
//! |--------------------|-----------------------|-----------------|--------------------|-----------------------------------------------|
//! | pending, failed    | succeeded: confirm ¹  | failed: notify  | canceled: booking cancelled | r < a: succeeded ¹ then partially refunded; r ≥ a: refunded, booking cancelled |
//! | succeeded          | —                     | —               | —                  | partially refunded, or refunded: booking cancelled, seats freed |
//! | partially refunded | —                     | —               | —                  | more refunded (r only grows): the same        |
//! | refunded           | —                     | —               | —                  | —                                             |
//! | canceled           | as pending, by the booking: an expired one is revived if its seats are free and its showtime has not started; a cancelled one is refunded automatically | — | — | as pending |
//!
//! ¹ Only when the money matches the booking (amount in the currency's minor units, and
//! currency); otherwise the booking is flagged, not confirmed, and the money goes back
//! through the outbox (log line `payment_mismatch`).
//!
//! Whatever the order, a payment that was refunded in full never leaves a live
//! booking, a valid ticket or a sold seat behind; a partial refund keeps the booking,
//! and what is left stays refundable.

use diesel::prelude::*;
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use serde::Deserialize;
use serde_json::Value;
use uuid::Uuid;

use super::ledger::{self, Payment};
use crate::app::App;
use crate::booking::model::Booking;
use crate::booking::records::end_pending;
use crate::db::enums::{BookingStatus, NotificationType, PaymentStatus};
use crate::db::is_unique_violation;
use crate::db::schema::{booking_seats, bookings, payments, stripe_events};
use crate::error::{AppError, AppResult};
use crate::loyalty;
use crate::money::{Currency, Money};
use crate::notifications::{self, NewNotification, messages};
use crate::outbox::{self, Effect};
use crate::tickets::code::TicketClaims;

#[derive(Debug, Deserialize)]
pub struct Event {
    pub id: String,
    #[serde(rename = "type")]
    pub kind: String,
    pub data: EventData,
}

#[derive(Debug, Deserialize)]
pub struct EventData {
    pub object: Value,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Handled {
    Applied,
    /// Seen before: acknowledged, nothing done.
    Duplicate,
    /// Not one of ours, or a type we do not handle: acknowledged, nothing done.
    Ignored,
    /// For a booking of ours that is not committed yet (the intent is made just
    /// before the booking's transaction): refused, so that Stripe sends it again.
    NotYet,
}

/// What the event's transaction did; `Applied` carries the outbox rows to deliver and,
/// for money that arrived, the booking (showtime, id), which is no longer unpaid.
enum Outcome {
    Applied(Vec<crate::outbox::Queued>, Option<(Uuid, Uuid)>),
    Duplicate,
    Ignored,
    NotYet,
}

const HANDLED: [&str; 4] = [
    "payment_intent.succeeded",
    "payment_intent.payment_failed",
    "payment_intent.canceled",
    "charge.refunded",
];

/// Whether events of this type change anything of ours.
pub fn handles(kind: &str) -> bool {
    HANDLED.contains(&kind)
}

/// The intent an event is about: the intent itself, or the refunded charge's.
pub fn intent_of(event: &Event) -> &str {
    let object = &event.data.object;
    match event.kind.as_str() {
        "charge.refunded" => object["payment_intent"].as_str(),
        _ => object["id"].as_str(),
    }
    .unwrap_or_default()
}

pub async fn handle(app: &App, event: &Event) -> AppResult<Handled> {
    if !handles(&event.kind) {
        return Ok(Handled::Ignored);
    }
    let object = &event.data.object;
    let intent = intent_of(event).to_owned();
    let metadata_booking = object["metadata"]["booking_id"]
        .as_str()
        .and_then(|b| Uuid::parse_str(b).ok());
    let mut conn = app.db().await?;
    let outcome = conn
        .transaction::<_, AppError, _>(async |conn| {
            let Some(booking) = find_booking(conn, &intent, metadata_booking).await? else {
                return Ok(match metadata_booking {
                    Some(_) => Outcome::NotYet,
                    None => Outcome::Ignored,
                });
            };
            if !record_event(conn, event).await? {
                return Ok(Outcome::Duplicate);
            }
            let Some(payment) = ledger::for_intent(conn, &intent).await? else {
                return Ok(Outcome::Ignored);
            };
            let effects = match event.kind.as_str() {
                "payment_intent.succeeded" => {
                    succeeded(conn, app, &booking, &payment, object).await?
                }
                "payment_intent.payment_failed" => {
                    failed(conn, app, &booking, &payment, object).await?
                }
                "payment_intent.canceled" => canceled(conn, app, &booking, &payment).await?,
                _ => charge_refunded(conn, app, &booking, &payment, object).await?,
            };
            // After `succeeded` a booking is confirmed, or ended (refused money goes
            // back): pending no more, whatever the order of events.
            let paid = (event.kind == "payment_intent.succeeded")
                .then_some((booking.showtime_id, booking.id));
            Ok(Outcome::Applied(effects, paid))
        })
        .await?;
    Ok(match outcome {
        Outcome::Ignored => Handled::Ignored,
        Outcome::Duplicate => Handled::Duplicate,
        Outcome::NotYet => Handled::NotYet,
        Outcome::Applied(effects, paid) => {
            // Its hold no longer stands for unpaid seats under the per-user cap; first,
            // before the effects, so that the customer's next hold finds it gone.
            if let Some((showtime, booking)) = paid {
                crate::seating::holds::forget_claim(app, showtime, booking).await;
            }
            outbox::deliver_now(app, conn, &effects).await;
            Handled::Applied
        }
    })
}

/// Records the event's id; false when it was seen before.
pub async fn record_event(conn: &mut AsyncPgConnection, event: &Event) -> AppResult<bool> {
    let fresh = diesel::insert_into(stripe_events::table)
        .values((
            stripe_events::id.eq(&event.id),
            stripe_events::event_type.eq(&event.kind),
        ))
        .on_conflict_do_nothing()
        .execute(conn)
        .await?;
    Ok(fresh > 0)
}

async fn find_booking(
    conn: &mut AsyncPgConnection,
    intent: &str,
    metadata_booking: Option<Uuid>,
) -> AppResult<Option<Booking>> {
    let by_intent: Option<Booking> = bookings::table
        .filter(bookings::payment_intent_id.eq(intent))
        .select(Booking::as_select())
        .for_update()
        .first(conn)
        .await
        .optional()?;
    if by_intent.is_some() {
        return Ok(by_intent);
    }
    let Some(id) = metadata_booking else {
        return Ok(None);
    };
    Ok(bookings::table
        .find(id)
        .filter(bookings::payment_intent_id.eq(intent))
        .select(Booking::as_select())
        .for_update()
        .first(conn)
        .await
        .optional()?)
}

/// What a payment intent or charge object says was paid: its amount in minor units
/// (`amount_received` for an intent, `amount` for a charge) and its currency.
/// What a payment intent or charge object says arrived, when its currency is one we
/// know.
pub fn received(object: &Value) -> Option<Money> {
    let (minor, currency) = paid_in(object)?;
    Some(Money::from_minor(minor, Currency::parse(&currency).ok()?))
}

fn paid_in(object: &Value) -> Option<(i64, String)> {
    let amount = object["amount_received"]
        .as_i64()
        .or_else(|| object["amount"].as_i64())?;
    let currency = object["currency"].as_str()?.to_ascii_uppercase();
    Some((amount, currency))
}

/// The money Stripe reports, when it is exactly what the booking asks for.
fn matching(booking: &Booking, object: &Value) -> Result<Money, Mismatch> {
    let expected = booking.money(booking.final_amount);
    let Some((minor, currency)) = paid_in(object) else {
        return Err(Mismatch {
            expected,
            received: None,
        });
    };
    let received = Currency::parse(&currency)
        .ok()
        .map(|c| Money::from_minor(minor, c));
    match (received, expected.minor_units()) {
        (Some(got), Ok(want)) if got.currency() == expected.currency() && minor == want => Ok(got),
        _ => Err(Mismatch { expected, received }),
    }
}

struct Mismatch {
    expected: Money,
    /// What arrived, when its currency is one we know.
    received: Option<Money>,
}

/// `payment_intent.succeeded`.
async fn succeeded(
    conn: &mut AsyncPgConnection,
    app: &App,
    booking: &Booking,
    payment: &Payment,
    object: &Value,
) -> AppResult<Vec<crate::outbox::Queued>> {
    match payment.status {
        // Money arrived: what it means depends on the booking. A cancelled intent (by
        // Stripe, or by us when the booking expired or was cancelled) that was paid
        // all the same is honoured if the seats are still free, else refunded.
        PaymentStatus::Pending | PaymentStatus::Failed | PaymentStatus::Cancelled => {}
        // Already past: succeeded, or some or all of it refunded since.
        PaymentStatus::Succeeded | PaymentStatus::PartiallyRefunded | PaymentStatus::Refunded => {
            return Ok(Vec::new());
        }
    }
    let received = match matching(booking, object) {
        Ok(received) => received,
        Err(mismatch) => return mismatched(conn, app, booking, payment, object, mismatch).await,
    };
    ledger::record_success(
        conn,
        payment,
        Some(received),
        object["payment_method"].as_str(),
    )
    .await?;
    take_the_money(conn, app, booking).await
}

/// The booking's side of a payment that arrived and matches it.
async fn take_the_money(
    conn: &mut AsyncPgConnection,
    app: &App,
    booking: &Booking,
) -> AppResult<Vec<crate::outbox::Queued>> {
    match booking.status {
        BookingStatus::Pending => confirm(conn, app, booking).await,
        BookingStatus::Expired => {
            // Paid after the hold lapsed: still ours if nobody took the seats meanwhile,
            // unless the showing has begun (its sale closed then; a seat of a film
            // under way, or over, is no use to anyone).
            let starts: chrono::DateTime<chrono::Utc> = crate::db::schema::showtimes::table
                .find(booking.showtime_id)
                .select(crate::db::schema::showtimes::start_time)
                .first(conn)
                .await?;
            if starts <= app.now() {
                return refund_late(conn, app, booking, "its showtime had already started").await;
            }
            let attempt = conn
                .transaction::<_, AppError, _>(async |conn| confirm(conn, app, booking).await)
                .await;
            match attempt {
                Err(AppError::SeatsUnavailable { .. }) => {
                    refund_late(conn, app, booking, "its seats were taken after it expired").await
                }
                Err(AppError::BadInput { .. }) => {
                    refund_late(conn, app, booking, "its showtime was cancelled").await
                }
                other => other,
            }
        }
        BookingStatus::Cancelled => refund_late(conn, app, booking, "it had been cancelled").await,
        BookingStatus::Confirmed | BookingStatus::Used => Ok(Vec::new()),
    }
}

/// A payment whose amount or currency is not the booking's: not confirmed. The booking
/// is flagged for operators and ended (its seats go back on sale), and whatever arrived
/// is refunded through the outbox.
async fn mismatched(
    conn: &mut AsyncPgConnection,
    app: &App,
    booking: &Booking,
    payment: &Payment,
    object: &Value,
    mismatch: Mismatch,
) -> AppResult<Vec<crate::outbox::Queued>> {
    let received = match (mismatch.received, paid_in(object)) {
        (Some(money), _) => money.to_string(),
        (None, Some((minor, currency))) => format!("{minor} minor units of {currency}"),
        (None, None) => "an amount it did not state".to_owned(),
    };
    let flag = format!(
        "payment mismatch: received {received}, expected {}",
        mismatch.expected
    );
    tracing::warn!(
        booking = %booking.id,
        reference = %booking.booking_reference,
        intent = payment.stripe_payment_intent_id.as_deref().unwrap_or_default(),
        %received,
        expected = %mismatch.expected,
        "payment_mismatch: a payment does not match its booking; not confirmed, refunding it"
    );
    diesel::update(bookings::table.find(booking.id))
        .set(bookings::payment_flag.eq(Some(&flag)))
        .execute(conn)
        .await?;
    ledger::record_success(
        conn,
        payment,
        mismatch.received,
        object["payment_method"].as_str(),
    )
    .await?;
    let mut effects = Vec::new();
    if booking.status == BookingStatus::Pending {
        effects.extend(
            end_pending(conn, app, booking, BookingStatus::Cancelled)
                .await?
                .1,
        );
    }
    if mismatch.received.is_some() {
        effects.extend(
            refund_late(conn, app, booking, "it did not match the booking's amount").await?,
        );
    }
    Ok(effects)
}

/// Confirms a booking: CONFIRMED with its ticket code, a notification, its loyalty
/// points (pending until the showtime starts), and the seat change and confirmation
/// messages queued. Refused with `SEATS_UNAVAILABLE` when another live booking has one
/// of its seats.
async fn confirm(
    conn: &mut AsyncPgConnection,
    app: &App,
    booking: &Booking,
) -> AppResult<Vec<crate::outbox::Queued>> {
    let code = app.tickets.issue(&TicketClaims {
        booking: booking.id,
        showtime: booking.showtime_id,
        issued_at: app.now(),
        seats: booking.seats(),
    });
    // Its points, pending until the showtime starts, in the same statement: a booking
    // confirmed here was pending or expired, so it has earned none before
    // (`loyalty::set_booking_points`' first case).
    let updated = diesel::update(bookings::table.find(booking.id))
        .set((
            bookings::status.eq(BookingStatus::Confirmed),
            bookings::qr_code.eq(Some(&code)),
            bookings::points_pending.eq(loyalty::points_for(booking.final_amount)),
        ))
        .execute(conn)
        .await;
    match updated {
        Ok(_) => {}
        Err(e) if is_unique_violation(&e, "booking_seats_live_seat") => {
            return Err(AppError::SeatsUnavailable {
                seats: booking.seats(),
            });
        }
        Err(e) => return Err(e.into()),
    }
    let now = app.now();
    let (key, notify, notice) = notifications::write(
        conn,
        now,
        NewNotification::about(
            booking,
            NotificationType::Booking,
            "Booking confirmed",
            format!(
                "Booking {} is confirmed: seats {}. Show your ticket's QR code at the door.",
                booking.booking_reference,
                booking.seats().join(", ")
            ),
        ),
    )
    .await?;
    let mut rows: Vec<outbox::NewRow> = vec![(key, notify, Some(notice))];
    // A pending booking's seats are sold already, in Postgres and (through its own
    // outbox row) in Redis: confirming it changes no seat. An expired one taking its
    // seats back does.
    if booking.status != BookingStatus::Pending {
        rows.push((
            format!("booking-confirmed-{}", booking.id),
            booking.seats_effect(),
            None,
        ));
    }
    // The ticket image is made from what this transaction has, not read again.
    let seats: Vec<(String, String)> = booking_seats::table
        .filter(booking_seats::booking_id.eq(booking.id))
        .select((booking_seats::seat_number, booking_seats::ticket_type))
        .load(conn)
        .await?;
    let confirmed = Booking {
        status: BookingStatus::Confirmed,
        qr_code: Some(code),
        ..booking.clone()
    };
    rows.push((
        format!("ticket-image-{}", booking.id),
        Effect::TicketImage {
            booking: booking.id,
        },
        Some(std::sync::Arc::new(crate::tickets::store::Confirmed {
            booking: confirmed,
            seats,
        })),
    ));
    let occasion = booking.id.to_string();
    rows.extend(messages::effects(
        booking.id,
        "booking_confirmed",
        &occasion,
    ));
    // One statement for the confirmation's side effects.
    outbox::enqueue_all(conn, now, rows).await
}

/// Money arrived for a booking that cannot be honoured: it goes back, and the
/// customer is told.
async fn refund_late(
    conn: &mut AsyncPgConnection,
    app: &App,
    booking: &Booking,
    why: &str,
) -> AppResult<Vec<crate::outbox::Queued>> {
    let notice = notifications::record(
        conn,
        app.now(),
        NewNotification::about(
            booking,
            NotificationType::Payment,
            "Payment refunded",
            format!(
                "Your payment for booking {} arrived after {why}, so it is being refunded in full.",
                booking.booking_reference
            ),
        ),
    )
    .await?;
    let refund = outbox::enqueue(
        conn,
        app.now(),
        format!("auto-refund-{}", booking.id),
        &Effect::Refund {
            booking: booking.id,
        },
    )
    .await?;
    Ok(notice.into_iter().chain(refund).collect())
}

/// `payment_intent.payment_failed`: the customer may try again, so the booking stays.
async fn failed(
    conn: &mut AsyncPgConnection,
    app: &App,
    booking: &Booking,
    payment: &Payment,
    object: &Value,
) -> AppResult<Vec<crate::outbox::Queued>> {
    if !matches!(
        payment.status,
        PaymentStatus::Pending | PaymentStatus::Failed
    ) || booking.status != BookingStatus::Pending
    {
        return Ok(Vec::new());
    }
    let reason = ledger::record_failure(conn, payment, object).await?;
    let until = booking
        .expires_at
        .map(|t| format!(" until {}", t.format("%H:%M UTC")))
        .unwrap_or_default();
    let notice = notifications::record(
        conn,
        app.now(),
        NewNotification::about(
            booking,
            NotificationType::Payment,
            "Payment failed",
            format!(
                "The payment for booking {} failed: {reason}. You can try again{until}.",
                booking.booking_reference
            ),
        ),
    )
    .await?;
    Ok(notice.into_iter().collect())
}

/// `payment_intent.canceled`: nobody will pay; a pending booking ends. A paid one
/// stays: only a refund undoes a payment.
async fn canceled(
    conn: &mut AsyncPgConnection,
    app: &App,
    booking: &Booking,
    payment: &Payment,
) -> AppResult<Vec<crate::outbox::Queued>> {
    if !matches!(
        payment.status,
        PaymentStatus::Pending | PaymentStatus::Failed
    ) {
        return Ok(Vec::new());
    }
    if booking.status == BookingStatus::Pending {
        return Ok(end_pending(conn, app, booking, BookingStatus::Cancelled)
            .await?
            .1);
    }
    diesel::update(payments::table.find(payment.id))
        .set(payments::status.eq(PaymentStatus::Cancelled))
        .execute(conn)
        .await?;
    Ok(Vec::new())
}

/// `charge.refunded`: some or all of a charge went back, by our API or in Stripe's
/// Dashboard. `amount_refunded` is the charge's running total, so an older event
/// (a smaller total) arriving late changes nothing.
async fn charge_refunded(
    conn: &mut AsyncPgConnection,
    app: &App,
    booking: &Booking,
    payment: &Payment,
    object: &Value,
) -> AppResult<Vec<crate::outbox::Queued>> {
    let mut effects = Vec::new();
    let mut payment = payment.clone();
    if matches!(
        payment.status,
        PaymentStatus::Pending | PaymentStatus::Failed | PaymentStatus::Cancelled
    ) {
        // A refund proves the charge succeeded: its `payment_intent.succeeded` is late
        // or lost. Take the payment as succeeded first, so the order does not matter.
        let matched = matching(booking, object);
        let charged = match &matched {
            Ok(money) => Some(*money),
            Err(mismatch) => mismatch.received,
        };
        payment =
            ledger::record_success(conn, &payment, charged, object["payment_method"].as_str())
                .await?;
        let whole = ledger::refunds_reported(object, &payment)
            .is_some_and(|refunded| refunded.amount() >= payment.charged().amount());
        if matched.is_err() {
            diesel::update(bookings::table.find(booking.id))
                .set(
                    bookings::payment_flag
                        .eq(Some("payment mismatch: refunded before it was confirmed")),
                )
                .execute(conn)
                .await?;
            if booking.status == BookingStatus::Pending {
                effects.extend(
                    end_pending(conn, app, booking, BookingStatus::Cancelled)
                        .await?
                        .1,
                );
            }
            if !whole {
                effects.extend(
                    refund_late(conn, app, booking, "it did not match the booking's amount")
                        .await?,
                );
            }
        } else if !whole {
            // Partly refunded: the rest was paid for, so the booking stands.
            effects.extend(take_the_money(conn, app, booking).await?);
        }
    }
    let booking = crate::booking::records::lock_booking(conn, booking.id).await?;
    ledger::record_reported_refunds(conn, &booking, &payment, object).await?;
    effects.extend(ledger::settle(conn, app, &booking).await?);
    Ok(effects)
}
