//! Exchanges: a confirmed booking moves to other seats, of the same showtime or of
//! another showing of the same film, in one step.
//!
//! The rules, as customers read them:
//! - The new seats come from the customer's own hold (`lockSeats` first, as for a
//!   booking), except those the booking already has at that showtime, which it keeps
//!   (A1 A2 → A2 A3 holds only A3; a change of ticket types alone needs no hold); the
//!   old seats are released and the new ones sold in one transaction, so the booking
//!   never holds both and never loses both. A failure leaves the booking as it was and
//!   gives the hold back.
//! - Same film only: an exchange is another showing or other seats, not another
//!   purchase. The cut-off is the refund rule (customers until `REFUND_CUTOFF_MINUTES`
//!   before the booked showtime; admins any time).
//! - The new tickets are priced as a new booking would be (the showtime's ticket
//!   prices, the customer's tier); the booking's voucher applies again where it fits
//!   the new tickets; snacks stay as they were. A cheaper result gives the difference
//!   back through the gateway (the outbox sends it until it is answered). A dearer
//!   one is refused for now, naming the difference: charging it needs a second payment
//!   on the booking, which the payment ledger does not keep yet.
//! - The ticket gets a new code; the old one is voided at the old showtime's door.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use rust_decimal::Decimal;
use uuid::Uuid;

use super::tickets;
use crate::app::App;
use crate::auth::model::Viewer;
use crate::booking::model::Booking;
use crate::booking::pricing::{Quote, price_tickets, quote};
use crate::booking::records::{authorise, lock_booking};
use crate::db::enums::{BookingStatus, NotificationType, Role};
use crate::db::schema::{booking_exchanges, booking_seats, booking_snacks, bookings, showtimes};
use crate::error::{AppError, AppResult};
use crate::notifications::{self, NewNotification};
use crate::outbox::{self, Effect};
use crate::payments::refunds;
use crate::seating::holds;

pub struct Exchange {
    pub booking: Uuid,
    pub showtime: Uuid,
    pub seat_numbers: Option<Vec<String>>,
    pub tickets: Option<Vec<(String, String)>>,
    pub lock_token: String,
}

/// What the exchange works from once checked.
struct Plan {
    booking: Booking,
    to_showtime: Uuid,
    seats: Vec<String>,
    /// The new seats the booking does not have yet: those the hold must cover.
    held: Vec<String>,
    quote: Quote,
    lock_token: String,
}

pub async fn exchange(app: &App, viewer: Viewer, input: Exchange) -> AppResult<Booking> {
    super::within_rate_limit(app, viewer).await?;
    let requested = tickets::requested(input.seat_numbers, input.tickets)?;
    let plan = plan(
        app,
        viewer,
        input.booking,
        input.showtime,
        requested,
        input.lock_token,
    )
    .await?;
    if !plan.held.is_empty() {
        if plan.lock_token.trim().is_empty() {
            return Err(AppError::bad_input(
                "lockToken",
                "give the token of your hold on the new seats",
            ));
        }
        holds::check_for_booking(app, viewer, plan.to_showtime, &plan.lock_token, &plan.held)
            .await?;
        holds::claim(
            app,
            viewer,
            plan.to_showtime,
            &plan.lock_token,
            &plan.held,
            plan.booking.id,
        )
        .await?;
    }
    let mut conn = app.db().await?;
    let written = conn
        .transaction::<_, AppError, _>(async |conn| swap(conn, app, viewer, &plan).await)
        .await;
    match written {
        Ok((booking, effects)) => {
            outbox::deliver_now(app, conn, &effects).await;
            Ok(booking)
        }
        Err(e) => {
            drop(conn);
            if !plan.held.is_empty()
                && let Err(undo) =
                    holds::restore(app, plan.to_showtime, &plan.lock_token, plan.booking.id).await
            {
                tracing::warn!(error = %crate::error::LogDisplay(&undo), "claimed hold not restored");
            }
            if let AppError::SeatsUnavailable { .. } = e {
                return Err(AppError::SeatsUnavailable { seats: plan.seats });
            }
            Err(e)
        }
    }
}

/// Everything checked before any hold is claimed: the booking, the rules, the price.
async fn plan(
    app: &App,
    viewer: Viewer,
    booking_id: Uuid,
    to_showtime: Uuid,
    requested: Vec<(String, String)>,
    lock_token: String,
) -> AppResult<Plan> {
    let room = crate::seating::rooms::room(app, to_showtime).await?;
    let now = app.now();
    if room.showtime.start_time <= now {
        return Err(AppError::bad_input(
            "showtimeId",
            "this showtime has already started",
        ));
    }
    let mut conn = app.db().await?;
    let booking: Booking = bookings::table
        .find(booking_id)
        .select(Booking::as_select())
        .first(&mut conn)
        .await
        .optional()?
        .ok_or(AppError::NotFound { what: "booking" })?;
    let admin = viewer.role == Role::Admin;
    authorise(&booking, viewer, booking.user_id == viewer.user_id || admin)?;
    check_exchangeable(&mut conn, app, &booking, room.showtime.movie_id, admin, now).await?;

    let currency = booking.money_currency();
    let priced = price_tickets(
        &room.layout,
        room.showtime.base_price,
        currency,
        &room.showtime.ticket_prices(),
        &requested,
    )?;
    let loyalty =
        crate::loyalty::discount_percent(&mut conn, &app.config.tiers, booking.user_id).await?;
    // The booking's voucher again, where it fits the new tickets, judged as of the
    // day it was bought (its window may have closed since).
    let voucher_off = match &booking.voucher_code {
        Some(code) => match crate::vouchers::uses::find(&mut conn, code).await? {
            Some(voucher) => crate::vouchers::apply::discounts(
                &voucher,
                &crate::vouchers::apply::Showing {
                    movie: room.showtime.movie_id,
                    theater: room.screen.theater_id,
                },
                &priced,
                currency,
                booking.created_at,
            )
            .unwrap_or_default(),
            None => Vec::new(),
        },
        None => Vec::new(),
    };
    let snacks: Vec<(Uuid, Decimal, i32)> = booking_snacks::table
        .filter(booking_snacks::booking_id.eq(booking.id))
        .select((
            booking_snacks::snack_id,
            booking_snacks::unit_price,
            booking_snacks::quantity,
        ))
        .load(&mut conn)
        .await?;
    let quote = quote(priced, &snacks, currency, &voucher_off, loyalty);
    let dearer = quote.final_amount.amount() - booking.final_amount;
    if dearer > Decimal::ZERO {
        return Err(AppError::conflict(format!(
            "these seats cost {} more than the booking ({} against {}); an exchange can \
             only be for the same price or less for now: refund the booking and book again",
            booking.money(dearer),
            quote.final_amount,
            booking.money(booking.final_amount),
        )));
    }
    let seats: Vec<String> = requested.into_iter().map(|(seat, _)| seat).collect();
    let kept = if booking.showtime_id == to_showtime {
        booking.seats()
    } else {
        Vec::new()
    };
    Ok(Plan {
        held: seats
            .iter()
            .filter(|s| !kept.contains(s))
            .cloned()
            .collect(),
        seats,
        booking,
        to_showtime,
        quote,
        lock_token,
    })
}

async fn check_exchangeable(
    conn: &mut AsyncPgConnection,
    app: &App,
    booking: &Booking,
    to_movie: Uuid,
    admin: bool,
    now: DateTime<Utc>,
) -> AppResult<()> {
    if booking.status != BookingStatus::Confirmed {
        return Err(AppError::conflict(format!(
            "only a confirmed booking can be exchanged; this one is {}",
            booking.status.as_db_str()
        )));
    }
    let (movie, starts): (Uuid, DateTime<Utc>) = showtimes::table
        .find(booking.showtime_id)
        .select((showtimes::movie_id, showtimes::start_time))
        .first(conn)
        .await?;
    if movie != to_movie {
        return Err(AppError::bad_input(
            "showtimeId",
            "an exchange is for another showing of the same film",
        ));
    }
    if !admin {
        let cutoff = chrono::Duration::from_std(app.config.payments.refund_cutoff)
            .map_err(AppError::internal)?;
        if now > starts - cutoff {
            return Err(AppError::conflict(format!(
                "exchanges close {} minutes before the showtime starts",
                cutoff.num_minutes()
            )));
        }
    }
    Ok(())
}

/// The exchange itself, in the caller's transaction: the old seats out, the new ones
/// in (the unique index refuses a seat sold meanwhile), the booking's amounts and
/// ticket anew, the difference's refund queued. Returns the booking and the outbox
/// rows to deliver.
async fn swap(
    conn: &mut AsyncPgConnection,
    app: &App,
    viewer: Viewer,
    plan: &Plan,
) -> AppResult<(Booking, Vec<i64>)> {
    let before = lock_booking(conn, plan.booking.id).await?;
    // Changed since it was priced (a refund, another exchange): price it again.
    if before.status != BookingStatus::Confirmed
        || before.final_amount != plan.booking.final_amount
        || before.showtime_id != plan.booking.showtime_id
        || before.seat_numbers != plan.booking.seat_numbers
    {
        return Err(AppError::conflict(
            "this booking changed while it was being exchanged; try again",
        ));
    }
    if refund_in_flight(conn, before.id).await? {
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
    let q = &plan.quote;
    let after: Booking = diesel::update(bookings::table.find(before.id))
        .set((
            bookings::showtime_id.eq(plan.to_showtime),
            bookings::seat_numbers.eq(plan.seats.iter().cloned().map(Some).collect::<Vec<_>>()),
            bookings::total_amount.eq(q.total.amount()),
            bookings::discount_amount.eq(q.discount.amount()),
            bookings::final_amount.eq(q.final_amount.amount()),
            bookings::voucher_discount.eq(q.voucher_discount.amount()),
            bookings::qr_code.eq(Some(code)),
        ))
        .returning(Booking::as_returning())
        .get_result(conn)
        .await?;
    super::insert_tickets(
        conn,
        after.id,
        plan.to_showtime,
        BookingStatus::Confirmed,
        &q.tickets,
    )
    .await?;
    diesel::insert_into(booking_exchanges::table)
        .values((
            booking_exchanges::booking_id.eq(after.id),
            booking_exchanges::from_showtime.eq(before.showtime_id),
            booking_exchanges::from_seats.eq(before.seat_numbers.clone()),
            booking_exchanges::to_showtime.eq(plan.to_showtime),
            booking_exchanges::to_seats.eq(after.seat_numbers.clone()),
            booking_exchanges::final_before.eq(before.final_amount),
            booking_exchanges::final_after.eq(after.final_amount),
            booking_exchanges::exchanged_by.eq(Some(viewer.user_id)),
            booking_exchanges::created_at.eq(now),
        ))
        .execute(conn)
        .await?;

    let mut effects = Vec::new();
    let key = format!("exchange-{}-{}", after.id, now.timestamp_micros());
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
                    used_lock: (!plan.held.is_empty()).then(|| plan.lock_token.clone()),
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
                    used_lock: Some(plan.lock_token.clone()),
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
    let back = before.final_amount - after.final_amount;
    let told = if back > Decimal::ZERO {
        effects.extend(
            refunds::difference(
                conn,
                now,
                &after,
                after.money(back),
                "exchanged for cheaper seats",
                viewer.user_id,
            )
            .await?,
        );
        format!(
            "Booking {} now has seats {}; {} is on its way back to you. Your ticket has a new code.",
            after.booking_reference,
            plan.seats.join(", "),
            after.money(back)
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

async fn refund_in_flight(conn: &mut AsyncPgConnection, booking: Uuid) -> AppResult<bool> {
    use crate::db::schema::refunds;
    Ok(diesel::select(diesel::dsl::exists(
        refunds::table
            .filter(refunds::booking_id.eq(booking))
            .filter(refunds::status.eq("pending")),
    ))
    .get_result(conn)
    .await?)
}
