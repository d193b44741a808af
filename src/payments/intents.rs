//! Payment intents for bookings.

use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use uuid::Uuid;

use super::gateway::{GatewayError, Intent};
use crate::app::App;
use crate::auth::model::Viewer;
use crate::booking::records::{authorise, find};
use crate::db::enums::{BookingStatus, PaymentStatus};
use crate::db::schema::{bookings, payments};
use crate::error::{AppError, AppResult};
use crate::payments::gateway::payment_error;

/// The intent to pay the caller's pending booking: the one it has, or a new one.
/// Asking again returns the same intent (the booking id is the idempotency key).
pub async fn for_booking(app: &App, viewer: Viewer, id: Uuid) -> AppResult<Intent> {
    let mut conn = app.db().await?;
    let booking = find(&mut conn, id).await?;
    // Only the owner pays; operators and admins, who see the booking, are FORBIDDEN.
    authorise(&booking, viewer, booking.user_id == viewer.user_id)?;
    if booking.status != BookingStatus::Pending {
        return Err(AppError::conflict(format!(
            "only a pending booking can be paid; this one is {}",
            booking.status.as_db_str()
        )));
    }
    if let Some(existing) = &booking.payment_intent_id {
        return app
            .payments
            .retrieve_intent(existing)
            .await
            .map_err(payment_error);
    }
    let amount = crate::money::Money::new(booking.final_amount, app.config.currency);
    let intent = app
        .payments
        .create_intent(super::gateway::IntentFor::booking(booking.id), amount)
        .await
        .map_err(payment_error)?;
    diesel::update(
        bookings::table
            .find(booking.id)
            .filter(bookings::payment_intent_id.is_null()),
    )
    .set(bookings::payment_intent_id.eq(Some(&intent.id)))
    .execute(&mut conn)
    .await?;
    diesel::insert_into(payments::table)
        .values((
            payments::booking_id.eq(booking.id),
            payments::stripe_payment_intent_id.eq(Some(&intent.id)),
            payments::amount.eq(booking.final_amount),
            payments::currency.eq(&booking.currency),
            payments::status.eq(PaymentStatus::Pending),
        ))
        .on_conflict_do_nothing()
        .execute(&mut conn)
        .await?;
    Ok(intent)
}

/// Cancels an intent nobody will pay (the outbox's `cancel_intent`). One that is
/// already paid or cancelled is left as it is: if it was paid, its webhook refunds it.
pub async fn cancel(app: &App, intent: &str) -> AppResult<()> {
    match app.payments.cancel_intent(intent).await {
        Ok(()) => Ok(()),
        Err(GatewayError::Declined(reason)) => {
            tracing::info!(intent, %reason, "intent not cancelled");
            Ok(())
        }
        Err(GatewayError::Unavailable(cause)) => Err(AppError::internal(anyhow::anyhow!(
            "cancelling intent {intent}: {cause}"
        ))),
    }
}
