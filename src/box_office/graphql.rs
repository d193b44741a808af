//! `showtimeManifest`, `sellAtCounter`, `cancelShowtime`.

use std::sync::Arc;

use async_graphql::{Context, Enum, ID, InputObject, MaybeUndefined, Object, Result, SimpleObject};

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

/// One sold seat of the manifest.
pub struct ManifestSeatNode(super::manifest::ManifestSeat);

#[Object(name = "ManifestSeat")]
impl ManifestSeatNode {
    async fn seat_number(&self) -> &str {
        &self.0.seat_number
    }

    async fn ticket_type(&self) -> &str {
        &self.0.ticket_type
    }

    async fn booking_id(&self) -> ID {
        ID(self.0.booking_id.to_string())
    }

    async fn booking_reference(&self) -> &str {
        &self.0.booking_reference
    }

    async fn customer_name(&self) -> &str {
        &self.0.customer_name
    }

    async fn sale_channel(&self) -> crate::booking::graphql::SaleChannel {
        if self.0.sale_channel == crate::checkout::COUNTER {
            crate::booking::graphql::SaleChannel::Counter
        } else {
            crate::booking::graphql::SaleChannel::Online
        }
    }

    /// `online` (by card, through the gateway), or at the counter `cash`,
    /// `card_present` or `complimentary`.
    async fn paid_by(&self) -> &str {
        &self.0.paid_by
    }

    async fn checked_in(&self) -> bool {
        self.0.status == "used"
    }

    async fn checked_in_at(&self) -> Option<crate::graphql::scalars::DateTime> {
        self.0
            .checked_in_at
            .filter(|_| self.0.status == "used")
            .map(crate::graphql::scalars::DateTime)
    }

    /// The scanner that let it in; null when checked in online (or not yet).
    async fn checked_in_device(&self) -> Option<&str> {
        self.0
            .checked_in_device
            .as_deref()
            .filter(|_| self.0.status == "used")
    }
}

#[derive(SimpleObject)]
pub struct ManifestCounts {
    /// Seats in the room.
    capacity: i32,
    /// Seats sold (paid or given).
    sold: i32,
    checked_in: i32,
    /// Seats of bookings not paid yet (held for their buyers, not listed).
    unpaid: i32,
    online: i32,
    counter: i32,
    complimentary: i32,
}

pub struct ShowtimeManifestNode(super::manifest::Manifest);

#[Object(name = "ShowtimeManifest")]
impl ShowtimeManifestNode {
    async fn showtime_id(&self) -> ID {
        ID(self.0.showtime.to_string())
    }

    /// Every sold seat, in seat order.
    async fn seats(&self) -> Vec<ManifestSeatNode> {
        self.0.seats.iter().cloned().map(ManifestSeatNode).collect()
    }

    async fn counts(&self) -> ManifestCounts {
        use crate::graphql::scalars::int;
        let m = &self.0;
        ManifestCounts {
            capacity: int(m.capacity),
            sold: int(m.seats.len()),
            checked_in: int(m.checked_in()),
            unpaid: int(m.unpaid),
            online: int(m.sold_by(crate::checkout::ONLINE)),
            counter: int(m.sold_by(crate::checkout::COUNTER)),
            complimentary: int(m.paid_by("complimentary")),
        }
    }
}

#[derive(Default)]
pub struct BoxOfficeQuery;

#[Object]
impl BoxOfficeQuery {
    /// Operators and admins: every sold seat of a showtime with its booking reference,
    /// ticket type, how it was sold and paid and whether it was checked in, plus counts.
    /// Read from Postgres: what the door and the till agree on.
    #[graphql(guard = "RoleGuard::new(Role::Operator).or(RoleGuard::new(Role::Admin))")]
    async fn showtime_manifest(
        &self,
        ctx: &Context<'_>,
        showtime_id: ID,
    ) -> Result<ShowtimeManifestNode> {
        let id = parse_uuid("showtimeId", &showtime_id)?;
        Ok(ShowtimeManifestNode(
            super::manifest::manifest(app(ctx)?, id).await?,
        ))
    }
}

#[derive(InputObject)]
pub struct UpdateShowtimeInput {
    /// In the future; it ends after the film and the cleaning gap.
    start_time: Option<crate::graphql::scalars::DateTime>,
    /// For sales from now on; bookings keep what they paid.
    base_price: Option<crate::graphql::scalars::Decimal>,
    /// Another screen, which must have every booked seat.
    screen_id: Option<ID>,
    /// When customers may start holding seats (before it starts); `null`: at once.
    on_sale_at: MaybeUndefined<crate::graphql::scalars::DateTime>,
    /// Whether buyers are let in from a queue (needs `onSaleAt`).
    queue: Option<bool>,
    /// Buyers let in a minute; `null`: the server's `SALE_QUEUE_RATE`.
    queue_rate: MaybeUndefined<i32>,
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

    /// Admins: moves a showtime (another time or screen) or reprices it, by the rules
    /// of creation. Customers who booked are told (in-app, email, text) and may refund
    /// in full whatever the cut-off; a new screen must have every booked seat (else
    /// CONFLICT naming them). A cancelled or started showtime is CONFLICT.
    #[graphql(guard = "RoleGuard::new(Role::Admin)")]
    async fn update_showtime(
        &self,
        ctx: &Context<'_>,
        id: ID,
        input: UpdateShowtimeInput,
    ) -> Result<ShowtimeNode> {
        let id = parse_uuid("id", &id)?;
        let changes = crate::catalog::manage::ShowtimeChanges {
            start_time: input.start_time.map(|t| t.0),
            base_price: input.base_price.map(|p| p.0),
            screen_id: input
                .screen_id
                .map(|s| parse_uuid("screenId", &s))
                .transpose()?,
            sale: crate::catalog::sale::SalePatch {
                on_sale_at: crate::catalog::graphql::patch(input.on_sale_at, |t| t.0),
                queue: input.queue,
                queue_rate: crate::catalog::graphql::patch(input.queue_rate, |r| r),
            },
        };
        let showtime = super::reschedule::update_showtime(app(ctx)?, id, changes).await?;
        Ok(ShowtimeNode(Arc::new(showtime)))
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
