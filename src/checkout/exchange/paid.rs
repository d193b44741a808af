//! Stripe's events about the difference of a dearer exchange (`awaiting`): a payment
//! of the booking with its own intent. The webhook offers each event here first; one
//! about another intent goes on to `payments::events`. Each is handled in one
//! transaction that also records its id, with the booking locked, then the exchange.
//!
//! | the difference's payment | succeeded | payment_failed | canceled | charge.refunded |
//! |---|---|---|---|---|
//! | pending, failed, canceled | carried out if the exchange still waits, the amount is the difference and the seats are free; else refused and refunded in full | failed: the customer is told | canceled; a waiting exchange is abandoned | succeeded first; a waiting exchange is refused; the refund is written into the ledger |
//! | succeeded, refunded in part or whole | — | — | — | written into the ledger, which settles the booking on the totals of its payments |

use diesel::prelude::*;
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use serde_json::Value;
use uuid::Uuid;

use super::awaiting::{ABANDONED, AWAITING, DONE, PendingExchange, REFUSED, settle_exchange};
use crate::app::App;
use crate::booking::model::Booking;
use crate::booking::records::lock_booking;
use crate::db::enums::{NotificationType, PaymentStatus};
use crate::db::schema::{booking_exchanges, payments};
use crate::error::{AppError, AppResult};
use crate::notifications::{self, NewNotification};
use crate::outbox;
use crate::payments::events::{self, Event, Handled};
use crate::payments::ledger::{self, Payment};
use crate::payments::refunds;

/// Handles `event` if it is about an exchange's difference; None when it is not (the
/// booking's own payment, or not ours).
pub async fn handle_event(app: &App, event: &Event) -> AppResult<Option<Handled>> {
    if !events::handles(&event.kind) {
        return Ok(None);
    }
    let intent = events::intent_of(event);
    let object = &event.data.object;
    let named = object["metadata"]["exchange_id"].as_str().is_some();
    let mut conn = app.db().await?;
    let outcome = conn
        .transaction::<_, AppError, _>(async |conn| {
            let Some((exchange, _)) = for_intent(conn, intent).await? else {
                // Its intent is made just before its payment row is written.
                return Ok(named.then_some((Handled::NotYet, Vec::new())));
            };
            lock_booking(conn, exchange.booking_id).await?;
            if !events::record_event(conn, event).await? {
                return Ok(Some((Handled::Duplicate, Vec::new())));
            }
            let effects = on_event(conn, app, &event.kind, object, exchange.id).await?;
            Ok(Some((Handled::Applied, effects)))
        })
        .await?;
    Ok(match outcome {
        Some((handled, effects)) => {
            outbox::deliver_now(app, conn, &effects).await;
            Some(handled)
        }
        None => None,
    })
}

/// The exchange an intent pays the difference of, if it is one (no lock taken).
async fn for_intent(
    conn: &mut AsyncPgConnection,
    intent: &str,
) -> AppResult<Option<(PendingExchange, Payment)>> {
    let found: Option<(PendingExchange, Payment)> = booking_exchanges::table
        .inner_join(payments::table)
        .filter(payments::stripe_payment_intent_id.eq(intent))
        .select((PendingExchange::as_select(), Payment::as_select()))
        .first(conn)
        .await
        .optional()?;
    Ok(found)
}

/// A Stripe event about the difference's intent, inside the event's transaction, with
/// the booking locked (then the exchange). Returns the outbox rows to deliver.
async fn on_event(
    conn: &mut AsyncPgConnection,
    app: &App,
    kind: &str,
    object: &Value,
    exchange_id: Uuid,
) -> AppResult<Vec<crate::outbox::Queued>> {
    let exchange: PendingExchange = booking_exchanges::table
        .find(exchange_id)
        .select(PendingExchange::as_select())
        .for_update()
        .first(conn)
        .await?;
    let Some(payment_id) = exchange.payment_id else {
        return Ok(Vec::new());
    };
    let payment: Payment = payments::table
        .find(payment_id)
        .select(Payment::as_select())
        .first(conn)
        .await?;
    let booking = lock_booking(conn, exchange.booking_id).await?;
    match kind {
        "payment_intent.succeeded" => {
            succeeded(conn, app, &booking, &exchange, &payment, object).await
        }
        "payment_intent.payment_failed" => {
            failed(conn, app, &booking, &exchange, &payment, object).await
        }
        "payment_intent.canceled" => {
            if matches!(
                payment.status,
                PaymentStatus::Pending | PaymentStatus::Failed
            ) {
                diesel::update(payments::table.find(payment.id))
                    .set(payments::status.eq(PaymentStatus::Cancelled))
                    .execute(conn)
                    .await?;
                settle_exchange(conn, app.now(), exchange.id, ABANDONED).await?;
            }
            Ok(Vec::new())
        }
        _ => refunded(conn, app, &booking, &exchange, &payment, object).await,
    }
}

async fn succeeded(
    conn: &mut AsyncPgConnection,
    app: &App,
    booking: &Booking,
    exchange: &PendingExchange,
    payment: &Payment,
    object: &Value,
) -> AppResult<Vec<crate::outbox::Queued>> {
    if !matches!(
        payment.status,
        PaymentStatus::Pending | PaymentStatus::Failed | PaymentStatus::Cancelled
    ) {
        return Ok(Vec::new());
    }
    let got = events::received(object);
    let payment =
        ledger::record_success(conn, payment, got, object["payment_method"].as_str()).await?;
    let matches = got.is_some_and(|m| m == booking.money(payment.amount));
    let why = if !matches {
        tracing::warn!(
            booking = %booking.id,
            exchange = %exchange.id,
            "payment_mismatch: an exchange's difference does not match what was asked; refunding it"
        );
        "the amount paid was not the difference asked for"
    } else if exchange.status != AWAITING {
        "the exchange had been replaced or had lapsed"
    } else {
        let plan = exchange.plan()?;
        let by = exchange.exchanged_by.unwrap_or(booking.user_id);
        let attempt = conn
            .transaction::<_, AppError, _>(async |conn| {
                super::swap::swap(conn, app, by, &plan).await
            })
            .await;
        match attempt {
            Ok((_, effects)) => {
                settle_exchange(conn, app.now(), exchange.id, DONE).await?;
                return Ok(effects);
            }
            Err(AppError::SeatsUnavailable { .. }) => "its new seats were sold meanwhile",
            Err(AppError::Conflict { .. }) => "the booking changed meanwhile",
            Err(e) => return Err(e),
        }
    };
    if exchange.status == AWAITING {
        settle_exchange(conn, app.now(), exchange.id, REFUSED).await?;
    }
    give_back(conn, app, booking, &payment, why).await
}

/// Money for an exchange that is not carried out goes back, and the customer is told.
async fn give_back(
    conn: &mut AsyncPgConnection,
    app: &App,
    booking: &Booking,
    payment: &Payment,
    why: &str,
) -> AppResult<Vec<crate::outbox::Queued>> {
    let now = app.now();
    let mut effects = refunds::whole_payment(
        conn,
        now,
        booking,
        payment,
        "automatic: the exchange could not be carried out",
    )
    .await?;
    effects.extend(
        notifications::record(
            conn,
            now,
            NewNotification::about(
                booking,
                NotificationType::Payment,
                "Exchange not made",
                format!(
                    "Booking {} was not exchanged: {why}. The {} you paid for it is on its way \
                     back to you; the booking stands as it was.",
                    booking.booking_reference,
                    payment.refundable()
                ),
            ),
        )
        .await?,
    );
    Ok(effects)
}

async fn failed(
    conn: &mut AsyncPgConnection,
    app: &App,
    booking: &Booking,
    exchange: &PendingExchange,
    payment: &Payment,
    object: &Value,
) -> AppResult<Vec<crate::outbox::Queued>> {
    if !matches!(
        payment.status,
        PaymentStatus::Pending | PaymentStatus::Failed
    ) || exchange.status != AWAITING
    {
        return Ok(Vec::new());
    }
    let reason = ledger::record_failure(conn, payment, object).await?;
    let until = exchange
        .expires_at
        .map(|t| format!(" until {}", t.format("%H:%M UTC")))
        .unwrap_or_default();
    Ok(notifications::record(
        conn,
        app.now(),
        NewNotification::about(
            booking,
            NotificationType::Payment,
            "Payment failed",
            format!(
                "The payment for exchanging booking {} failed: {reason}. You can try again{until}.",
                booking.booking_reference
            ),
        ),
    )
    .await?
    .into_iter()
    .collect())
}

/// `charge.refunded` for the difference: written into the ledger like any refund. One
/// that comes before the payment's success was seen means the money is going back,
/// so the exchange is not carried out (and the rest of it goes back too).
async fn refunded(
    conn: &mut AsyncPgConnection,
    app: &App,
    booking: &Booking,
    exchange: &PendingExchange,
    payment: &Payment,
    object: &Value,
) -> AppResult<Vec<crate::outbox::Queued>> {
    let mut payment = payment.clone();
    let unseen = matches!(
        payment.status,
        PaymentStatus::Pending | PaymentStatus::Failed | PaymentStatus::Cancelled
    );
    if unseen {
        payment = ledger::record_success(
            conn,
            &payment,
            events::received(object),
            object["payment_method"].as_str(),
        )
        .await?;
    }
    ledger::record_reported_refunds(conn, booking, &payment, object).await?;
    let mut effects = ledger::settle(conn, app, booking).await?;
    if unseen && exchange.status == AWAITING {
        settle_exchange(conn, app.now(), exchange.id, REFUSED).await?;
        let payment: Payment = payments::table
            .find(payment.id)
            .select(Payment::as_select())
            .first(conn)
            .await?;
        effects.extend(
            give_back(
                conn,
                app,
                booking,
                &payment,
                "its payment was refunded before it arrived",
            )
            .await?,
        );
    }
    Ok(effects)
}
