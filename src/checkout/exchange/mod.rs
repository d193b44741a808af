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
//!   prices, the customer's tier) and sold by its rules (no CHILD ticket for a film
//!   rated above the child age); the booking's voucher applies again where it fits
//!   the new tickets; snacks stay as they were. A cheaper result gives the difference
//!   back through the gateway (the outbox sends it until it is answered).
//! - A dearer result is charged (`awaiting`): the exchange waits for the difference,
//!   paid through its own intent (`createPaymentIntent(bookingId)` gives it), and is
//!   carried out when the money arrives, as priced, while the hold keeps the seats.
//!   Nothing changes on the booking until then.
//! - The ticket gets a new code; the old one is voided at the old showtime's door.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use rust_decimal::Decimal;
use uuid::Uuid;

mod awaiting;
mod paid;
mod swap;

pub use awaiting::{PendingExchange, awaiting_of, lapse_unpaid, pay_difference};
pub use paid::handle_event;

use serde::{Deserialize, Serialize};

use super::tickets;
use crate::app::App;
use crate::auth::model::Viewer;
use crate::booking::model::Booking;
use crate::booking::pricing::{Quote, price_tickets, quote};
use crate::booking::records::{authorise, find};
use crate::db::enums::{BookingStatus, Role};
use crate::db::schema::{booking_snacks, showtimes};
use crate::error::{AppError, AppResult};
use crate::outbox;
use crate::seating::holds;

pub struct Exchange {
    pub booking: Uuid,
    pub showtime: Uuid,
    pub seat_numbers: Option<Vec<String>>,
    pub tickets: Option<Vec<(String, String)>>,
    pub lock_token: String,
}

/// What the exchange works from once checked and priced: carried out at once, or kept
/// (as JSON beside the exchange) until its difference is paid, so that what is carried
/// out is what was paid for.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Plan {
    booking: Uuid,
    /// The booking as it was priced: the exchange is refused if it changed since.
    from_showtime: Uuid,
    from_seats: Vec<Option<String>>,
    from_final: Decimal,
    to_showtime: Uuid,
    seats: Vec<String>,
    /// The new seats the booking does not have yet: those the hold must cover.
    held: Vec<String>,
    tickets: Vec<PlannedTicket>,
    total: Decimal,
    discount: Decimal,
    voucher_discount: Decimal,
    final_amount: Decimal,
    currency: String,
    #[serde(skip)]
    lock_token: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct PlannedTicket {
    seat: String,
    ticket_type: String,
    price: Decimal,
    discount: Decimal,
    voucher: Decimal,
}

impl Plan {
    fn tickets(&self) -> Vec<crate::booking::pricing::TicketLine> {
        let currency =
            crate::money::Currency::parse(&self.currency).unwrap_or(crate::money::Currency::USD);
        let money = |amount| crate::money::Money::new(amount, currency);
        self.tickets
            .iter()
            .map(|t| crate::booking::pricing::TicketLine {
                seat: t.seat.clone(),
                ticket_type: t.ticket_type.clone(),
                price: money(t.price),
                discount: money(t.discount),
                voucher: money(t.voucher),
            })
            .collect()
    }

    /// What the exchange costs beyond what the booking cost (negative: given back).
    fn difference(&self) -> Decimal {
        self.final_amount - self.from_final
    }

    /// Whether `booking` is still what was priced.
    fn still_fits(&self, booking: &Booking) -> bool {
        booking.status == BookingStatus::Confirmed
            && booking.final_amount == self.from_final
            && booking.showtime_id == self.from_showtime
            && booking.seat_numbers == self.from_seats
    }
}

pub async fn exchange(app: &App, viewer: Viewer, input: Exchange) -> AppResult<Booking> {
    super::within_rate_limit(app, viewer).await?;
    let requested = tickets::requested(input.seat_numbers, input.tickets)?;
    let (booking, plan) = plan(
        app,
        viewer,
        input.booking,
        input.showtime,
        requested,
        input.lock_token,
    )
    .await?;
    if !plan.held.is_empty() && plan.lock_token.trim().is_empty() {
        return Err(AppError::bad_input(
            "lockToken",
            "give the token of your hold on the new seats",
        ));
    }
    if plan.difference() > Decimal::ZERO {
        return awaiting::await_payment(app, viewer, booking, plan).await;
    }
    if !plan.held.is_empty() {
        holds::check_for_booking(app, viewer, plan.to_showtime, &plan.lock_token, &plan.held)
            .await?;
        holds::claim(
            app,
            viewer,
            plan.to_showtime,
            &plan.lock_token,
            &plan.held,
            plan.booking,
        )
        .await?;
    }
    let mut conn = app.db().await?;
    let written = conn
        .transaction::<_, AppError, _>(async |conn| {
            let (after, mut effects) = swap::swap(conn, app, viewer.user_id, &plan).await?;
            swap::record(conn, app.now(), &plan, &after, viewer.user_id).await?;
            // A dearer exchange still waiting is moot now: the booking moved.
            effects.extend(awaiting::give_up(conn, app.now(), plan.booking).await?);
            Ok((after, effects))
        })
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
                    holds::restore(app, plan.to_showtime, &plan.lock_token, plan.booking).await
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
) -> AppResult<(Booking, Plan)> {
    let room = crate::seating::rooms::room(app, to_showtime).await?;
    let now = app.now();
    room.showtime.check_on_sale(now)?;
    let mut conn = app.db().await?;
    let booking = find(&mut conn, booking_id).await?;
    let admin = viewer.role == Role::Admin;
    authorise(&booking, viewer, booking.user_id == viewer.user_id || admin)?;
    check_exchangeable(&mut conn, app, &booking, room.showtime.movie_id, admin, now).await?;
    // The new tickets are sold as a booking's are, so the age rule holds for them too;
    // checked before any hold is claimed or any difference priced, so a refusal leaves
    // the booking and the hold as they were.
    super::check_child_tickets(&mut conn, app, room.showtime.movie_id, &requested).await?;

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
    let quote: Quote = quote(priced, &snacks, currency, &voucher_off, loyalty);
    let seats: Vec<String> = requested.into_iter().map(|(seat, _)| seat).collect();
    let kept = if booking.showtime_id == to_showtime {
        booking.seats()
    } else {
        Vec::new()
    };
    let plan = Plan {
        booking: booking.id,
        from_showtime: booking.showtime_id,
        from_seats: booking.seat_numbers.clone(),
        from_final: booking.final_amount,
        to_showtime,
        held: seats
            .iter()
            .filter(|s| !kept.contains(s))
            .cloned()
            .collect(),
        seats,
        tickets: quote
            .tickets
            .iter()
            .map(|t| PlannedTicket {
                seat: t.seat.clone(),
                ticket_type: t.ticket_type.clone(),
                price: t.price.amount(),
                discount: t.discount.amount(),
                voucher: t.voucher.amount(),
            })
            .collect(),
        total: quote.total.amount(),
        discount: quote.discount.amount(),
        voucher_discount: quote.voucher_discount.amount(),
        final_amount: quote.final_amount.amount(),
        currency: currency.to_string(),
        lock_token,
    };
    Ok((booking, plan))
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
