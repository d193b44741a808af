//! A dearer exchange: it waits for its difference, then is carried out as priced.
//!
//! - `exchangeBooking` checks the hold (the customer's, alive, exactly the new seats)
//!   and writes the exchange `awaiting_payment`, with its plan; the booking does not
//!   change. A newer exchange of the booking replaces one still waiting (its intent is
//!   cancelled). The hold keeps the seats until it lapses; the exchange lapses with it.
//! - `createPaymentIntent(bookingId)` on the confirmed booking gives the intent for the
//!   difference: its own intent (its own idempotency key, and the exchange's id in its
//!   metadata) and its own `payments` row, a second payment of the booking.
//! - When the money arrives (`payment_intent.succeeded`), the exchange is carried out
//!   in the webhook's transaction by the same `swap` as an exchange made at once; the
//!   Postgres unique index on live seats decides, not the hold, so an exchange paid a
//!   little after its hold lapsed still goes through if nobody took the seats. Money
//!   that arrives for an exchange that can no longer be carried out (replaced, lapsed,
//!   its seats sold, the booking changed or refunded meanwhile, or the wrong amount)
//!   goes back in full through the outbox, and the customer is told why.
//! - Events of the difference's intent come in any order, as the booking's own do:
//!   each moves the payment forward only, and a refund of it before its success was
//!   seen means the exchange is not carried out.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use rust_decimal::Decimal;
use serde_json::Value;
use uuid::Uuid;

use super::Plan;
use crate::app::App;
use crate::auth::model::Viewer;
use crate::booking::model::Booking;
use crate::booking::records::{authorise, find, lock_booking};
use crate::db::enums::{BookingStatus, PaymentStatus};
use crate::db::schema::{booking_exchanges, payments};
use crate::error::{AppError, AppResult};
use crate::outbox::{self, Effect};
use crate::payments::gateway::{Intent, IntentFor, payment_error};
use crate::payments::ledger;
use crate::seating::holds;

pub(super) const AWAITING: &str = "awaiting_payment";
pub(super) const DONE: &str = "done";
pub(super) const ABANDONED: &str = "abandoned";
pub(super) const REFUSED: &str = "refused";

/// An exchange as `Booking.pendingExchange` shows it and the webhook reads it.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = booking_exchanges, check_for_backend(diesel::pg::Pg))]
pub struct PendingExchange {
    pub id: Uuid,
    pub booking_id: Uuid,
    pub to_showtime: Uuid,
    pub to_seats: Vec<Option<String>>,
    pub final_before: Decimal,
    pub final_after: Decimal,
    pub status: String,
    pub payment_id: Option<Uuid>,
    pub plan: Option<Value>,
    pub lock_token: Option<String>,
    pub expires_at: Option<DateTime<Utc>>,
    pub exchanged_by: Option<Uuid>,
    pub created_at: DateTime<Utc>,
}

impl PendingExchange {
    /// What is to pay: the new price less the booking's.
    pub fn difference(&self) -> Decimal {
        self.final_after - self.final_before
    }

    pub(super) fn plan(&self) -> AppResult<Plan> {
        let stored = self.plan.clone().ok_or_else(|| {
            AppError::internal(anyhow::anyhow!("exchange {} has no plan", self.id))
        })?;
        let mut plan: Plan = serde_json::from_value(stored).map_err(AppError::internal)?;
        plan.lock_token = self.lock_token.clone().unwrap_or_default();
        Ok(plan)
    }
}

/// Writes the dearer exchange `plan` of `booking`, waiting for its difference.
pub(super) async fn await_payment(
    app: &App,
    viewer: Viewer,
    booking: Booking,
    plan: Plan,
) -> AppResult<Booking> {
    let now = app.now();
    let expires_at = if plan.held.is_empty() {
        // Other ticket types on the same seats: nothing to hold, a hold's time to pay.
        now + chrono::Duration::from_std(app.config.holds.ttl).map_err(AppError::internal)?
    } else {
        holds::check_for_booking(app, viewer, plan.to_showtime, &plan.lock_token, &plan.held)
            .await?
    };
    let stored = serde_json::to_value(&plan).map_err(AppError::internal)?;
    let mut conn = app.db().await?;
    let effects = conn
        .transaction::<_, AppError, _>(async |conn| {
            let now_booking = lock_booking(conn, booking.id).await?;
            if !plan.still_fits(&now_booking) {
                return Err(AppError::conflict(
                    "this booking changed while it was being exchanged; try again",
                ));
            }
            if ledger::booking_refund_in_flight(conn, booking.id).await? {
                return Err(AppError::conflict(
                    "a refund of this booking is under way; exchange it once it is done",
                ));
            }
            let effects = give_up(conn, now, booking.id).await?;
            diesel::insert_into(booking_exchanges::table)
                .values((
                    booking_exchanges::booking_id.eq(booking.id),
                    booking_exchanges::from_showtime.eq(plan.from_showtime),
                    booking_exchanges::from_seats.eq(plan.from_seats.clone()),
                    booking_exchanges::to_showtime.eq(plan.to_showtime),
                    booking_exchanges::to_seats.eq(plan
                        .seats
                        .iter()
                        .cloned()
                        .map(Some)
                        .collect::<Vec<_>>()),
                    booking_exchanges::final_before.eq(plan.from_final),
                    booking_exchanges::final_after.eq(plan.final_amount),
                    booking_exchanges::exchanged_by.eq(Some(viewer.user_id)),
                    booking_exchanges::created_at.eq(now),
                    booking_exchanges::status.eq(AWAITING),
                    booking_exchanges::plan.eq(Some(&stored)),
                    booking_exchanges::lock_token
                        .eq((!plan.held.is_empty()).then_some(&plan.lock_token)),
                    booking_exchanges::expires_at.eq(Some(expires_at)),
                ))
                .execute(conn)
                .await?;
            Ok(effects)
        })
        .await?;
    outbox::deliver_now(app, conn, &effects).await;
    Ok(booking)
}

/// Gives up the booking's exchange still waiting for payment, if any (a newer one
/// replaces it): its intent, if one was made, is cancelled after commit.
pub(super) async fn give_up(
    conn: &mut AsyncPgConnection,
    now: DateTime<Utc>,
    booking: Uuid,
) -> AppResult<Vec<crate::outbox::Queued>> {
    let replaced: Vec<Option<Uuid>> = diesel::update(
        booking_exchanges::table
            .filter(booking_exchanges::booking_id.eq(booking))
            .filter(booking_exchanges::status.eq(AWAITING)),
    )
    .set((
        booking_exchanges::status.eq(ABANDONED),
        booking_exchanges::settled_at.eq(Some(now)),
    ))
    .returning(booking_exchanges::payment_id)
    .get_results(conn)
    .await?;
    cancel_intents(conn, now, replaced.into_iter().flatten().collect()).await
}

async fn cancel_intents(
    conn: &mut AsyncPgConnection,
    now: DateTime<Utc>,
    payment_ids: Vec<Uuid>,
) -> AppResult<Vec<crate::outbox::Queued>> {
    if payment_ids.is_empty() {
        return Ok(Vec::new());
    }
    let intents: Vec<Option<String>> = diesel::update(
        payments::table
            .filter(payments::id.eq_any(&payment_ids))
            .filter(payments::status.eq_any([PaymentStatus::Pending, PaymentStatus::Failed])),
    )
    .set(payments::status.eq(PaymentStatus::Cancelled))
    .returning(payments::stripe_payment_intent_id)
    .get_results(conn)
    .await?;
    let mut effects = Vec::new();
    for intent in intents.into_iter().flatten() {
        effects.extend(
            outbox::enqueue(
                conn,
                now,
                format!("cancel-intent-{intent}"),
                &Effect::CancelIntent { intent },
            )
            .await?,
        );
    }
    Ok(effects)
}

/// The booking's exchange waiting for payment, if any.
async fn awaiting_for(
    conn: &mut AsyncPgConnection,
    booking: Uuid,
) -> AppResult<Option<PendingExchange>> {
    Ok(awaiting_of(conn, &[booking]).await?.into_iter().next())
}

/// The exchanges waiting for payment of these bookings (at most one each).
pub async fn awaiting_of(
    conn: &mut AsyncPgConnection,
    bookings: &[Uuid],
) -> AppResult<Vec<PendingExchange>> {
    Ok(booking_exchanges::table
        .filter(booking_exchanges::booking_id.eq_any(bookings))
        .filter(booking_exchanges::status.eq(AWAITING))
        .select(PendingExchange::as_select())
        .load(conn)
        .await?)
}

/// The intent that pays the difference of the caller's confirmed booking's waiting
/// exchange: the one it has, or a new one (asking again returns the same intent).
/// None when the booking is not confirmed (its own payment is the ledger's business).
pub async fn pay_difference(app: &App, viewer: Viewer, id: Uuid) -> AppResult<Option<Intent>> {
    let mut conn = app.db().await?;
    let booking = find(&mut conn, id).await?;
    if booking.status != BookingStatus::Confirmed {
        return Ok(None);
    }
    // Only the owner pays; operators and admins, who see the booking, are FORBIDDEN.
    authorise(&booking, viewer, booking.user_id == viewer.user_id)?;
    let Some(exchange) = awaiting_for(&mut conn, booking.id).await? else {
        return Err(AppError::conflict(
            "this booking is paid; only an exchange waiting for its difference can be paid",
        ));
    };
    if exchange.expires_at.is_some_and(|t| t <= app.now()) {
        return Err(AppError::conflict(
            "this exchange waited too long for its payment and its hold has lapsed; \
             exchange the booking again",
        ));
    }
    if let Some(payment) = exchange.payment_id {
        let intent: Option<String> = payments::table
            .find(payment)
            .select(payments::stripe_payment_intent_id)
            .first(&mut conn)
            .await?;
        if let Some(intent) = intent {
            return app
                .payments
                .retrieve_intent(&intent)
                .await
                .map(Some)
                .map_err(payment_error);
        }
    }
    let amount = booking.money(exchange.difference());
    let intent = app
        .payments
        .create_intent(IntentFor::exchange(booking.id, exchange.id), amount)
        .await
        .map_err(payment_error)?;
    diesel::insert_into(payments::table)
        .values((
            payments::booking_id.eq(booking.id),
            payments::stripe_payment_intent_id.eq(Some(&intent.id)),
            payments::amount.eq(amount.amount()),
            payments::currency.eq(&booking.currency),
            payments::status.eq(PaymentStatus::Pending),
        ))
        .on_conflict_do_nothing()
        .execute(&mut conn)
        .await?;
    let payment: Uuid = payments::table
        .filter(payments::stripe_payment_intent_id.eq(&intent.id))
        .select(payments::id)
        .first(&mut conn)
        .await?;
    diesel::update(
        booking_exchanges::table
            .find(exchange.id)
            .filter(booking_exchanges::payment_id.is_null()),
    )
    .set(booking_exchanges::payment_id.eq(Some(payment)))
    .execute(&mut conn)
    .await?;
    Ok(Some(intent))
}

pub(super) async fn settle_exchange(
    conn: &mut AsyncPgConnection,
    now: DateTime<Utc>,
    exchange: Uuid,
    status: &str,
) -> AppResult<()> {
    diesel::update(booking_exchanges::table.find(exchange))
        .set((
            booking_exchanges::status.eq(status),
            booking_exchanges::settled_at.eq(Some(now)),
        ))
        .execute(conn)
        .await?;
    Ok(())
}

/// Gives up exchanges nobody paid for by the time their hold lapsed, up to `max`;
/// their intents are cancelled (one paid all the same is refunded). Returns how many.
pub async fn lapse_unpaid(app: &App, max: i64) -> AppResult<usize> {
    let now = app.now();
    let mut conn = app.db().await?;
    let (lapsed, effects) = conn
        .transaction::<_, AppError, _>(async |conn| {
            let due: Vec<(Uuid, Option<Uuid>)> = booking_exchanges::table
                .filter(booking_exchanges::status.eq(AWAITING))
                .filter(booking_exchanges::expires_at.le(now))
                .order(booking_exchanges::expires_at)
                .limit(max)
                .select((booking_exchanges::id, booking_exchanges::payment_id))
                .for_update()
                .skip_locked()
                .load(conn)
                .await?;
            let ids: Vec<Uuid> = due.iter().map(|(id, _)| *id).collect();
            diesel::update(booking_exchanges::table.filter(booking_exchanges::id.eq_any(&ids)))
                .set((
                    booking_exchanges::status.eq(ABANDONED),
                    booking_exchanges::settled_at.eq(Some(now)),
                ))
                .execute(conn)
                .await?;
            let effects =
                cancel_intents(conn, now, due.iter().filter_map(|(_, p)| *p).collect()).await?;
            Ok((ids.len(), effects))
        })
        .await?;
    outbox::deliver_now(app, conn, &effects).await;
    Ok(lapsed)
}
