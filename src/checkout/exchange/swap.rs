//! The exchange carried out, in the caller's transaction: the old seats out, the new
//! ones in (the unique index refuses a seat sold meanwhile), the booking's amounts and
//! ticket anew, the seat changes, the customer told, and a cheaper result's difference
//! queued to go back. The same step whether it runs at once (same price or cheaper)
//! or once a dearer exchange's difference is paid.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use rust_decimal::Decimal;
use uuid::Uuid;

use super::Plan;
use crate::app::App;
use crate::booking::model::Booking;
use crate::booking::records::lock_booking;
use crate::db::enums::{BookingStatus, NotificationType};
use crate::db::schema::{booking_exchanges, booking_seats, bookings};
use crate::error::{AppError, AppResult};
use crate::notifications::{self, NewNotification};
use crate::outbox::{self, Effect};
use crate::payments::refunds as refund;

/// Carries `plan` out on its booking (locked here). Returns the booking and the outbox
/// rows to deliver. `by` is who exchanged it (a cheaper result's refund names them).
pub(super) async fn swap(
    conn: &mut AsyncPgConnection,
    app: &App,
    by: Uuid,
    plan: &Plan,
) -> AppResult<(Booking, Vec<crate::outbox::Queued>)> {
    let before = lock_booking(conn, plan.booking).await?;
    // Changed since it was priced (a refund, another exchange): price it again.
    if !plan.still_fits(&before) {
        return Err(AppError::conflict(
            "this booking changed while it was being exchanged; try again",
        ));
    }
    if crate::payments::ledger::booking_refund_in_flight(conn, before.id).await? {
        return Err(AppError::conflict(
            "a refund of this booking is under way; exchange it once it is done",
        ));
    }
    let now = app.now();
    diesel::delete(booking_seats::table.filter(booking_seats::booking_id.eq(before.id)))
        .execute(conn)
        .await?;
    let code = crate::payments::partial_refunds::reissue(
        conn,
        app,
        &before,
        plan.to_showtime,
        &plan.seats,
    )
    .await?;
    let after: Booking = diesel::update(bookings::table.find(before.id))
        .set((
            bookings::showtime_id.eq(plan.to_showtime),
            bookings::seat_numbers.eq(plan.seats.iter().cloned().map(Some).collect::<Vec<_>>()),
            bookings::total_amount.eq(plan.total),
            bookings::discount_amount.eq(plan.discount),
            bookings::final_amount.eq(plan.final_amount),
            bookings::voucher_discount.eq(plan.voucher_discount),
            bookings::qr_code.eq(Some(code)),
        ))
        .returning(Booking::as_returning())
        .get_result(conn)
        .await?;
    super::super::insert_tickets(
        conn,
        after.id,
        plan.to_showtime,
        BookingStatus::Confirmed,
        &plan.tickets(),
    )
    .await?;

    let key = format!("exchange-{}-{}", after.id, now.timestamp_micros());
    let mut effects = seat_changes(conn, now, &key, plan, &before, &after).await?;
    let back = before.final_amount - after.final_amount;
    let told = if back > Decimal::ZERO {
        effects.extend(
            refund::difference(
                conn,
                now,
                &after,
                after.money(back),
                "exchanged for cheaper seats",
                by,
            )
            .await?,
        );
        format!(
            "Booking {} now has seats {}; {} is on its way back to you. Your ticket has a new code.",
            after.booking_reference,
            plan.seats.join(", "),
            after.money(back)
        )
    } else if back < Decimal::ZERO {
        // The difference was paid: the points follow what the booking costs now (a
        // cheaper one's follow its refund, when it is answered).
        effects.extend(
            crate::loyalty::set_booking_points(
                conn,
                &app.config.tiers,
                now,
                &after,
                crate::loyalty::points_for(after.final_amount),
            )
            .await?,
        );
        format!(
            "Booking {} now has seats {}; the {} difference is paid. Your ticket has a new code.",
            after.booking_reference,
            plan.seats.join(", "),
            after.money(-back)
        )
    } else {
        format!(
            "Booking {} now has seats {}. Your ticket has a new code.",
            after.booking_reference,
            plan.seats.join(", ")
        )
    };
    effects.extend(
        notifications::record(
            conn,
            now,
            NewNotification::about(&after, NotificationType::Booking, "Booking exchanged", told),
        )
        .await?,
    );
    effects.extend(
        crate::notifications::messages::queue_one(conn, now, after.id, "booking_exchanged", &key)
            .await?,
    );
    Ok((after, effects))
}

/// The seats that changed, live on every seat map, and the new ticket's image.
async fn seat_changes(
    conn: &mut AsyncPgConnection,
    now: DateTime<Utc>,
    key: &str,
    plan: &Plan,
    before: &Booking,
    after: &Booking,
) -> AppResult<Vec<crate::outbox::Queued>> {
    let mut effects = Vec::new();
    let used_lock = (!plan.held.is_empty()).then(|| plan.lock_token.clone());
    if before.showtime_id == plan.to_showtime {
        let mut seats = before.seats();
        seats.extend(
            plan.seats
                .iter()
                .filter(|s| !seats.contains(s))
                .cloned()
                .collect::<Vec<_>>(),
        );
        effects.extend(
            outbox::enqueue(
                conn,
                now,
                format!("{key}-seats"),
                &Effect::Seats {
                    showtime: plan.to_showtime,
                    seats,
                    used_lock,
                },
            )
            .await?,
        );
    } else {
        effects.extend(
            outbox::enqueue(conn, now, format!("{key}-released"), &before.seats_effect()).await?,
        );
        effects.extend(
            outbox::enqueue(
                conn,
                now,
                format!("{key}-taken"),
                &Effect::Seats {
                    showtime: plan.to_showtime,
                    seats: plan.seats.clone(),
                    used_lock,
                },
            )
            .await?,
        );
    }
    effects.extend(
        outbox::enqueue(
            conn,
            now,
            format!("{key}-image"),
            &Effect::TicketImage { booking: after.id },
        )
        .await?,
    );
    Ok(effects)
}

/// Keeps an exchange carried out at once (same price or cheaper).
pub(super) async fn record(
    conn: &mut AsyncPgConnection,
    now: DateTime<Utc>,
    plan: &Plan,
    after: &Booking,
    by: Uuid,
) -> AppResult<()> {
    diesel::insert_into(booking_exchanges::table)
        .values((
            booking_exchanges::booking_id.eq(after.id),
            booking_exchanges::from_showtime.eq(plan.from_showtime),
            booking_exchanges::from_seats.eq(plan.from_seats.clone()),
            booking_exchanges::to_showtime.eq(plan.to_showtime),
            booking_exchanges::to_seats.eq(after.seat_numbers.clone()),
            booking_exchanges::final_before.eq(plan.from_final),
            booking_exchanges::final_after.eq(after.final_amount),
            booking_exchanges::exchanged_by.eq(Some(by)),
            booking_exchanges::created_at.eq(now),
            booking_exchanges::settled_at.eq(Some(now)),
        ))
        .execute(conn)
        .await?;
    Ok(())
}
