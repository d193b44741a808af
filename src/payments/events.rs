//! What Stripe's events do to bookings. Each event is handled in one transaction that
//! also records its id, so a replay is acknowledged and ignored, and a failure leaves
//! nothing half-done (Stripe retries). Events may come in any order: each handler
//! looks at the booking's current state and changes only what that event may change.

use diesel::prelude::*;
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use serde::Deserialize;
use serde_json::Value;
use uuid::Uuid;

use super::refunds::refunded;
use crate::app::App;
use crate::booking::model::Booking;
use crate::booking::service::{end_pending, is_unique_violation};
use crate::db::enums::{BookingStatus, NotificationType, PaymentStatus};
use crate::db::schema::{bookings, payments, refunds, stripe_events};
use crate::error::{AppError, AppResult};
use crate::loyalty;
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

/// What the event's transaction did; `Applied` carries the outbox rows to deliver.
enum Outcome {
    Applied(Vec<i64>),
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

pub async fn handle(app: &App, event: Event) -> AppResult<Handled> {
    if !HANDLED.contains(&event.kind.as_str()) {
        return Ok(Handled::Ignored);
    }
    let object = &event.data.object;
    let intent = match event.kind.as_str() {
        "charge.refunded" => object["payment_intent"].as_str(),
        _ => object["id"].as_str(),
    }
    .unwrap_or_default()
    .to_owned();
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
            let fresh = diesel::insert_into(stripe_events::table)
                .values((
                    stripe_events::id.eq(&event.id),
                    stripe_events::event_type.eq(&event.kind),
                ))
                .on_conflict_do_nothing()
                .execute(conn)
                .await?;
            if fresh == 0 {
                return Ok(Outcome::Duplicate);
            }
            let effects = match event.kind.as_str() {
                "payment_intent.succeeded" => {
                    succeeded(conn, app, &booking, &intent, object).await?
                }
                "payment_intent.payment_failed" => {
                    failed(conn, app, &booking, &intent, object).await?
                }
                "payment_intent.canceled" => canceled(conn, app, &booking).await?,
                _ => charge_refunded(conn, app, &booking, &intent, object).await?,
            };
            Ok(Outcome::Applied(effects))
        })
        .await?;
    Ok(match outcome {
        Outcome::Ignored => Handled::Ignored,
        Outcome::Duplicate => Handled::Duplicate,
        Outcome::NotYet => Handled::NotYet,
        Outcome::Applied(effects) => {
            outbox::deliver_now(app, conn, &effects).await;
            Handled::Applied
        }
    })
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

async fn set_payment(
    conn: &mut AsyncPgConnection,
    intent: &str,
    status: PaymentStatus,
    method: Option<&str>,
    failure: Option<&str>,
) -> AppResult<()> {
    diesel::update(payments::table.filter(payments::stripe_payment_intent_id.eq(intent)))
        .set((
            payments::status.eq(status),
            payments::payment_method.eq(method.map(|m| m.chars().take(100).collect::<String>())),
            payments::failure_reason.eq(failure),
        ))
        .execute(conn)
        .await?;
    Ok(())
}

async fn succeeded(
    conn: &mut AsyncPgConnection,
    app: &App,
    booking: &Booking,
    intent: &str,
    object: &Value,
) -> AppResult<Vec<i64>> {
    set_payment(
        conn,
        intent,
        PaymentStatus::Succeeded,
        object["payment_method"].as_str(),
        None,
    )
    .await?;
    match booking.status {
        BookingStatus::Pending => confirm(conn, app, booking).await,
        BookingStatus::Expired => {
            // Paid after the hold lapsed: still ours if nobody took the seats meanwhile.
            let attempt = conn
                .transaction::<_, AppError, _>(async |conn| confirm(conn, app, booking).await)
                .await;
            match attempt {
                Err(AppError::SeatsUnavailable { .. }) => {
                    refund_late(conn, app, booking, "its seats were taken after it expired").await
                }
                other => other,
            }
        }
        BookingStatus::Cancelled => refund_late(conn, app, booking, "it had been cancelled").await,
        BookingStatus::Confirmed | BookingStatus::Used => Ok(Vec::new()),
    }
}

/// Confirms a booking: CONFIRMED with its ticket code, a notification, and the seat
/// change and confirmation messages queued. Refused with `SEATS_UNAVAILABLE` when
/// another live booking has one of its seats.
async fn confirm(
    conn: &mut AsyncPgConnection,
    app: &App,
    booking: &Booking,
) -> AppResult<Vec<i64>> {
    let updated = diesel::update(bookings::table.find(booking.id))
        .set((
            bookings::status.eq(BookingStatus::Confirmed),
            bookings::qr_code.eq(Some(app.tickets.issue(&TicketClaims {
                booking: booking.id,
                showtime: booking.showtime_id,
                issued_at: app.now(),
                seats: booking.seats(),
            }))),
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
    let mut effects = Vec::new();
    effects.extend(
        notifications::record(
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
        .await?,
    );
    // A pending booking's seats are sold already, in Postgres and (through its own
    // outbox row) in Redis: confirming it changes no seat. An expired one taking its
    // seats back does.
    if booking.status != BookingStatus::Pending {
        effects.extend(
            outbox::enqueue(
                conn,
                now,
                format!("booking-confirmed-{}", booking.id),
                &Effect::Seats {
                    showtime: booking.showtime_id,
                    seats: booking.seats(),
                    used_lock: None,
                },
            )
            .await?,
        );
    }
    effects.extend(
        outbox::enqueue(
            conn,
            now,
            format!("ticket-image-{}", booking.id),
            &Effect::TicketImage {
                booking: booking.id,
            },
        )
        .await?,
    );
    effects.extend(messages::queue(conn, now, booking.id, "booking_confirmed").await?);
    effects.extend(
        loyalty::add_points(
            conn,
            &app.config.tiers,
            now,
            booking.user_id,
            loyalty::points_for(booking.final_amount),
        )
        .await?,
    );
    Ok(effects)
}

/// Money arrived for a booking that cannot be honoured: it goes back, and the
/// customer is told.
async fn refund_late(
    conn: &mut AsyncPgConnection,
    app: &App,
    booking: &Booking,
    why: &str,
) -> AppResult<Vec<i64>> {
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

async fn failed(
    conn: &mut AsyncPgConnection,
    app: &App,
    booking: &Booking,
    intent: &str,
    object: &Value,
) -> AppResult<Vec<i64>> {
    if booking.status != BookingStatus::Pending {
        return Ok(Vec::new());
    }
    let reason = object["last_payment_error"]["message"]
        .as_str()
        .unwrap_or("the payment was declined");
    set_payment(
        conn,
        intent,
        PaymentStatus::Failed,
        object["payment_method"].as_str(),
        Some(reason),
    )
    .await?;
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

async fn canceled(
    conn: &mut AsyncPgConnection,
    app: &App,
    booking: &Booking,
) -> AppResult<Vec<i64>> {
    // A confirmed booking stays confirmed: only a refund undoes a payment.
    if booking.status != BookingStatus::Pending {
        return Ok(Vec::new());
    }
    Ok(end_pending(conn, app, booking, BookingStatus::Cancelled)
        .await?
        .1)
}

async fn charge_refunded(
    conn: &mut AsyncPgConnection,
    app: &App,
    booking: &Booking,
    intent: &str,
    object: &Value,
) -> AppResult<Vec<i64>> {
    let refund_id = object["refunds"]["data"][0]["id"].as_str();
    let recorded = diesel::update(
        refunds::table
            .filter(refunds::booking_id.eq(booking.id))
            .filter(refunds::status.ne("failed")),
    )
    .set(refunds::status.eq("succeeded"))
    .execute(conn)
    .await?;
    if recorded == 0 {
        // Refunded outside the API (e.g. in Stripe's dashboard): record it.
        let payment: Option<Uuid> = payments::table
            .filter(payments::stripe_payment_intent_id.eq(intent))
            .select(payments::id)
            .first(conn)
            .await
            .optional()?;
        let cents = object["amount_refunded"].as_i64().unwrap_or(0);
        if let Some(payment) = payment
            && cents > 0
        {
            diesel::insert_into(refunds::table)
                .values((
                    refunds::booking_id.eq(booking.id),
                    refunds::payment_id.eq(payment),
                    refunds::stripe_refund_id.eq(refund_id),
                    refunds::amount.eq(rust_decimal::Decimal::new(cents, 2)),
                    refunds::currency.eq(&booking.currency),
                    refunds::status.eq("succeeded"),
                    refunds::reason.eq(Some("refunded at the payment provider")),
                ))
                .on_conflict_do_nothing()
                .execute(conn)
                .await?;
        }
    }
    refunded(conn, app, booking).await
}
