//! Selling at the counter (`sellAtCounter`, operators and admins): the seats are taken
//! atomically as a hold is (one Redis script; `SEATS_UNAVAILABLE` naming them), then
//! written as a CONFIRMED booking with its ticket in one transaction, with who sold it
//! and how it was paid (cash, a card on the counter's terminal, or complimentary),
//! and no payment intent: the money is in the till.
//!
//! The booking is the customer's when `customerEmail` names an account (it shows in
//! their bookings, they get the confirmation email and later the door's check-in, and
//! it earns loyalty points as an online booking does), else the seller's: a walk-in's
//! tickets, printed or shown from the answer, earning nothing. Prices
//! are the showtime's ticket prices (no voucher, no loyalty discount at the counter);
//! complimentary tickets cost nothing (the price stays on the ticket, all of it as
//! discount, so reports can count what was given away) and carry no snacks. Postgres
//! has the last word on the seats, as for any sale: a seat sold online meanwhile is
//! `SEATS_UNAVAILABLE` and the counter's hold is given back.

use diesel::prelude::*;
use diesel_async::{AsyncConnection, RunQueryDsl};
use rust_decimal::Decimal;
use uuid::Uuid;

use super::{BookingRow, Sale, insert_booking};
use crate::app::App;
use crate::auth::model::Viewer;
use crate::booking::model::Booking;
use crate::booking::pricing::{price_tickets, quote};
use crate::db::schema::users;
use crate::error::{AppError, AppResult};
use crate::outbox::{self, Effect};
use crate::seating::holds::{self, Holder};
use crate::tickets::code::TicketClaims;

/// How a counter sale is paid.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CounterPayment {
    Cash,
    CardPresent,
    Complimentary,
}

impl CounterPayment {
    /// As `payments.payment_method` keeps it.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Cash => "cash",
            Self::CardPresent => "card_present",
            Self::Complimentary => "complimentary",
        }
    }
}

pub struct CounterSale {
    pub showtime: Uuid,
    pub tickets: Vec<(String, String)>,
    pub snacks: Vec<(Uuid, i32)>,
    pub payment: CounterPayment,
    pub customer_email: Option<String>,
}

pub async fn sell(app: &App, seller: Viewer, sale: CounterSale) -> AppResult<Booking> {
    let requested = super::tickets::requested(None, Some(sale.tickets))?;
    let seats: Vec<String> = requested.iter().map(|(seat, _)| seat.clone()).collect();
    super::check_snack_lines(&sale.snacks)?;
    if sale.payment == CounterPayment::Complimentary && !sale.snacks.is_empty() {
        return Err(AppError::bad_input(
            "snacks",
            "complimentary tickets come without snacks: sell the snacks apart",
        ));
    }
    let room = crate::seating::rooms::room(app, sale.showtime).await?;
    room.showtime.check_on_sale(app.now())?;
    let currency = app.config.currency;
    let priced = price_tickets(
        &room.layout,
        room.showtime.base_price,
        currency,
        &room.showtime.ticket_prices(),
        &requested,
    )?;
    let (owner, snack_prices) = {
        let mut conn = app.db().await?;
        super::check_child_tickets(&mut conn, app, room.showtime.movie_id, &requested).await?;
        let owner = match sale.customer_email.as_deref().map(str::trim) {
            None | Some("") => seller.user_id,
            Some(email) => users::table
                .filter(users::email.eq(email.to_lowercase()))
                .select(users::id)
                .first(&mut conn)
                .await
                .optional()?
                .ok_or_else(|| {
                    AppError::bad_input(
                        "customerEmail",
                        "no account has this email; leave it out to sell to a walk-in",
                    )
                })?,
        };
        (owner, super::priced_snacks(&mut conn, &sale.snacks).await?)
    };
    let free: Vec<Decimal> = match sale.payment {
        CounterPayment::Complimentary => priced.iter().map(|t| t.price.amount()).collect(),
        _ => Vec::new(),
    };
    let quote = quote(priced, &snack_prices, currency, &free, Decimal::ZERO);

    let lock = holds::hold(app, seller, sale.showtime, &seats, Holder::Counter).await?;
    let booking_id = Uuid::new_v4();
    holds::claim(app, seller, sale.showtime, &lock.token, &seats, booking_id).await?;
    let mut conn = app.db().await?;
    let now = app.now();
    let written = conn
        .transaction::<_, AppError, _>(async |conn| {
            let booking = insert_booking(
                conn,
                BookingRow {
                    id: booking_id,
                    user: owner,
                    showtime: sale.showtime,
                    seats: &seats,
                    quote: &quote,
                    sale: Sale::Counter {
                        sold_by: seller.user_id,
                        method: sale.payment.as_str(),
                        ticket_code: app.tickets.issue(&TicketClaims {
                            booking: booking_id,
                            showtime: sale.showtime,
                            issued_at: now,
                            seats: seats.clone(),
                        }),
                    },
                    voucher: None,
                },
            )
            .await?;
            let mut effects = Vec::new();
            effects.extend(
                outbox::enqueue(
                    conn,
                    now,
                    format!("booking-made-{booking_id}"),
                    &Effect::Seats {
                        showtime: sale.showtime,
                        seats: seats.clone(),
                        used_lock: Some(lock.token.clone()),
                    },
                )
                .await?,
            );
            effects.extend(
                outbox::enqueue(
                    conn,
                    now,
                    format!("ticket-image-{booking_id}"),
                    &Effect::TicketImage {
                        booking: booking_id,
                    },
                )
                .await?,
            );
            if owner != seller.user_id {
                effects.extend(
                    crate::notifications::messages::queue(
                        conn,
                        now,
                        booking_id,
                        "booking_confirmed",
                    )
                    .await?,
                );
                // A customer earns points at the counter as online (pending until the
                // showtime starts); a walk-in's sale, kept under the seller, earns none.
                effects.extend(
                    crate::loyalty::set_booking_points(
                        conn,
                        &app.config.tiers,
                        now,
                        &booking,
                        crate::loyalty::points_for(booking.final_amount),
                    )
                    .await?,
                );
            }
            Ok((booking, effects))
        })
        .await;
    match written {
        Ok((booking, effects)) => {
            outbox::deliver_now(app, conn, &effects).await;
            Ok(booking)
        }
        Err(e) => {
            drop(conn);
            if let Err(undo) = holds::restore(app, sale.showtime, &lock.token, booking_id).await {
                tracing::warn!(error = %crate::error::LogDisplay(&undo), "counter hold not restored");
            }
            // Not kept for another try: the counter asks again with the seats it wants.
            if let Err(undo) = holds::release(app, seller, &lock.token).await {
                tracing::warn!(error = %crate::error::LogDisplay(&undo), "counter hold not released");
            }
            if let AppError::SeatsUnavailable { .. } = e {
                return Err(AppError::SeatsUnavailable { seats });
            }
            Err(e)
        }
    }
}
