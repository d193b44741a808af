//! `sellAtCounter`, `cancelShowtime`.

use std::sync::Arc;

use async_graphql::{Context, Enum, ID, InputObject, Object, Result};

use crate::booking::graphql::{BookingNode, SnackOrderInput, TicketInput};
use crate::catalog::graphql::ShowtimeNode;
use crate::checkout::counter::{self, CounterPayment};
use crate::db::enums::Role;
use crate::graphql::app;
use crate::graphql::guards::{RoleGuard, viewer};
use crate::ids::parse_uuid;

#[derive(Enum, Copy, Clone, Eq, PartialEq)]
#[graphql(name = "CounterPayment")]
pub enum CounterPaymentGql {
    Cash,
    /// A card on the counter's own terminal.
    CardPresent,
    /// Given free: the tickets cost nothing (no snacks).
    Complimentary,
}

#[derive(InputObject)]
pub struct SellAtCounterInput {
    showtime_id: ID,
    /// Each seat with its ticket type (one of `Showtime.ticketPrices`).
    tickets: Vec<TicketInput>,
    #[graphql(default)]
    snacks: Vec<SnackOrderInput>,
    payment: CounterPaymentGql,
    /// The customer's account, to which the booking then belongs (their bookings,
    /// their confirmation email); without it the booking is the seller's (a walk-in).
    customer_email: Option<String>,
}

#[derive(Default)]
pub struct BoxOfficeMutation;

#[Object]
impl BoxOfficeMutation {
    /// Operators and admins: sells seats at the counter. The seats are taken at once
    /// as a hold takes them (`SEATS_UNAVAILABLE` naming them when taken) and the
    /// booking is CONFIRMED with its ticket (`qrCode`, `ticketImageUrl`), recording who
    /// sold it and how it was paid. No voucher or loyalty discount at the counter.
    #[graphql(guard = "RoleGuard::new(Role::Operator).or(RoleGuard::new(Role::Admin))")]
    async fn sell_at_counter(
        &self,
        ctx: &Context<'_>,
        input: SellAtCounterInput,
    ) -> Result<BookingNode> {
        let snacks = input
            .snacks
            .iter()
            .map(|s| Ok((parse_uuid("snacks", &s.snack_id)?, s.quantity)))
            .collect::<Result<Vec<_>>>()?;
        let sale = counter::CounterSale {
            showtime: parse_uuid("showtimeId", &input.showtime_id)?,
            tickets: input
                .tickets
                .into_iter()
                .map(|t| (t.seat_number, t.ticket_type))
                .collect(),
            snacks,
            payment: match input.payment {
                CounterPaymentGql::Cash => CounterPayment::Cash,
                CounterPaymentGql::CardPresent => CounterPayment::CardPresent,
                CounterPaymentGql::Complimentary => CounterPayment::Complimentary,
            },
            customer_email: input.customer_email,
        };
        let booking = counter::sell(app(ctx)?, viewer(ctx)?, sale).await?;
        Ok(BookingNode(Arc::new(booking)))
    }

    /// Admins: cancels a showtime. No more holds or sales; every live booking is
    /// refunded in full whatever the cut-off (through the gateway, retried until it
    /// answers, on any node), unpaid ones end, and buyers and holders are told (in-app;
    /// buyers by email and text too). It leaves the listings; `Showtime.status` is
    /// CANCELLED. `reason` (one line, at most 500 characters) is shown to customers.
    /// Cancelling again changes nothing.
    #[graphql(guard = "RoleGuard::new(Role::Admin)")]
    async fn cancel_showtime(
        &self,
        ctx: &Context<'_>,
        id: ID,
        reason: String,
    ) -> Result<ShowtimeNode> {
        let id = parse_uuid("id", &id)?;
        let showtime = super::cancel::cancel_showtime(app(ctx)?, id, &reason).await?;
        Ok(ShowtimeNode(Arc::new(showtime)))
    }
}
