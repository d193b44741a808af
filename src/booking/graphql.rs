//! Booking types and resolvers: `myBookings`, `booking`, `createBooking`,
//! `cancelBooking`.

use std::sync::Arc;

use async_graphql::{Context, Enum, ID, InputObject, Object, Result, SimpleObject};

use super::model::{Booking, BookingSnack, BookingTicket};
use super::records;
use crate::catalog::graphql::{ShowtimeNode, SnackNode, missing};
use crate::catalog::model::Snack;
use crate::checkout::{self, NewBooking};
use crate::db::enums::{BookingStatus, Role};
use crate::graphql::guards::{SignedIn, viewer};
use crate::graphql::loaders::{
    AwaitingExchangeOf, RefundsOfBooking, ShowtimeKey, SnacksOfBooking, TicketsOfBooking,
};
use crate::graphql::paging::PageInfo;
use crate::graphql::scalars::{DateTime, MoneyObject};
use crate::graphql::{app, loaders};
use crate::ids::parse_uuid;
use crate::money::{Currency, Money};
use crate::payments::graphql::RefundObject;

#[derive(Enum, Copy, Clone, Eq, PartialEq)]
#[graphql(name = "BookingStatus", remote = "crate::db::enums::BookingStatus")]
pub enum BookingStatusGql {
    Pending,
    Confirmed,
    Cancelled,
    Expired,
    Used,
}

pub struct BookingNode(pub Arc<Booking>);

#[derive(Enum, Copy, Clone, Eq, PartialEq)]
pub enum SaleChannel {
    Online,
    Counter,
}

impl BookingNode {
    fn money(&self, amount: rust_decimal::Decimal) -> MoneyObject {
        self.0.money(amount).into()
    }
}

#[Object(name = "Booking")]
impl BookingNode {
    async fn id(&self) -> ID {
        ID(self.0.id.to_string())
    }

    /// Eight characters to read out at the counter, e.g. `7KQ2M9XD`.
    async fn booking_reference(&self) -> &str {
        &self.0.booking_reference
    }

    async fn status(&self) -> BookingStatusGql {
        self.0.status.into()
    }

    async fn seat_numbers(&self) -> Vec<String> {
        self.0.seats()
    }

    /// Seats and snacks before any discount.
    async fn total_amount(&self) -> MoneyObject {
        self.money(self.0.total_amount)
    }

    /// Every discount: the voucher's and the loyalty tier's (and any rounding the
    /// currency needs).
    async fn discount_amount(&self) -> MoneyObject {
        self.money(self.0.discount_amount)
    }

    /// The voucher applied, when one was.
    async fn voucher_code(&self) -> Option<&str> {
        self.0.voucher_code.as_deref()
    }

    /// What the voucher took off the tickets (it comes off first).
    async fn voucher_discount(&self) -> MoneyObject {
        self.money(self.0.voucher_discount)
    }

    /// What the loyalty tier took off what the tickets cost after the voucher.
    async fn loyalty_discount(&self) -> MoneyObject {
        self.money(self.0.discount_amount - self.0.voucher_discount)
    }

    /// What is charged: total less discount.
    async fn final_amount(&self) -> MoneyObject {
        self.money(self.0.final_amount)
    }

    /// Each seat with its ticket type and price, and its share of the discounts.
    async fn tickets(&self, ctx: &Context<'_>) -> Result<Vec<BookingTicketObject>> {
        let tickets = loaders(ctx)?
            .load_one(TicketsOfBooking(self.0.id))
            .await?
            .unwrap_or_default();
        Ok(tickets
            .iter()
            .map(|t| BookingTicketObject {
                ticket: t.clone(),
                currency: self.0.money_currency(),
            })
            .collect())
    }

    async fn snacks(&self, ctx: &Context<'_>) -> Result<Vec<BookingSnackObject>> {
        let lines = loaders(ctx)?
            .load_one(SnacksOfBooking(self.0.id))
            .await?
            .unwrap_or_default();
        Ok(lines
            .iter()
            .map(|(line, snack)| BookingSnackObject {
                line: line.clone(),
                snack: snack.clone(),
                currency: self.0.money_currency(),
            })
            .collect())
    }

    /// Every refund of this booking, oldest first: amounts, seats and status.
    async fn refunds(&self, ctx: &Context<'_>) -> Result<Vec<RefundObject>> {
        let refunds = loaders(ctx)?
            .load_one(RefundsOfBooking(self.0.id))
            .await?
            .unwrap_or_default();
        Ok(refunds.iter().cloned().map(RefundObject).collect())
    }

    async fn showtime(&self, ctx: &Context<'_>) -> Result<ShowtimeNode> {
        let showtime = loaders(ctx)?
            .load_one(ShowtimeKey(self.0.showtime_id))
            .await?;
        Ok(ShowtimeNode(
            showtime.ok_or_else(|| missing("showtime", self.0.showtime_id))?,
        ))
    }

    /// When an unpaid booking lapses (or lapsed) and its seats are released; null once
    /// it is paid or cancelled.
    async fn expires_at(&self) -> Option<DateTime> {
        matches!(
            self.0.status,
            BookingStatus::Pending | BookingStatus::Expired
        )
        .then_some(self.0.expires_at)
        .flatten()
        .map(DateTime)
    }

    /// ONLINE, or COUNTER (`sellAtCounter`).
    async fn sale_channel(&self) -> SaleChannel {
        if self.0.sale_channel == crate::checkout::COUNTER {
            SaleChannel::Counter
        } else {
            SaleChannel::Online
        }
    }

    /// Staff only (null for customers): who sold it at the counter.
    async fn sold_by(&self, ctx: &Context<'_>) -> Result<Option<ID>> {
        let staff = matches!(viewer(ctx)?.role, Role::Operator | Role::Admin);
        Ok(self
            .0
            .sold_by
            .filter(|_| staff)
            .map(|id| ID(id.to_string())))
    }

    /// An exchange of this booking that waits for its price difference to be paid
    /// (`createPaymentIntent(bookingId)` gives the intent); it is carried out when the
    /// money arrives. Null when none waits.
    async fn pending_exchange(&self, ctx: &Context<'_>) -> Result<Option<PendingExchangeNode>> {
        if self.0.status != BookingStatus::Confirmed {
            return Ok(None);
        }
        let found = loaders(ctx)?
            .load_one(AwaitingExchangeOf(self.0.id))
            .await?;
        Ok(found.map(|exchange| PendingExchangeNode {
            exchange,
            currency: self.0.money_currency(),
        }))
    }

    /// The ticket code for the QR image; set once the booking is paid, null again once
    /// it is cancelled, refunded or expired (the ticket is void).
    async fn qr_code(&self) -> Option<&str> {
        crate::tickets::valid_code(&self.0)
    }

    /// Where the owner fetches the ticket's QR image (with their access token), once
    /// the booking is paid and while it is valid.
    async fn ticket_image_url(&self, ctx: &Context<'_>) -> Result<Option<String>> {
        let paid = matches!(
            self.0.status,
            BookingStatus::Confirmed | BookingStatus::Used
        );
        if !paid || self.0.qr_code.is_none() {
            return Ok(None);
        }
        Ok(Some(format!(
            "{}/api/tickets/{}.png",
            app(ctx)?.public_url(),
            self.0.id
        )))
    }

    async fn created_at(&self) -> DateTime {
        DateTime(self.0.created_at)
    }
}

pub struct BookingTicketObject {
    ticket: BookingTicket,
    currency: Currency,
}

#[Object(name = "BookingTicket")]
impl BookingTicketObject {
    async fn seat_number(&self) -> &str {
        &self.ticket.seat_number
    }

    async fn ticket_type(&self) -> &str {
        &self.ticket.ticket_type
    }

    /// The ticket's price by its type, before discounts.
    async fn price(&self) -> MoneyObject {
        Money::new(self.ticket.price, self.currency).into()
    }

    /// Its share of the booking's discounts (voucher, then loyalty).
    async fn discount(&self) -> MoneyObject {
        Money::new(self.ticket.discount, self.currency).into()
    }

    /// What the ticket costs: price less discount.
    async fn final_price(&self) -> MoneyObject {
        Money::new(self.ticket.price - self.ticket.discount, self.currency).into()
    }
}

/// An exchange waiting for its difference: what the booking becomes once it is paid.
pub struct PendingExchangeNode {
    exchange: Arc<crate::checkout::exchange::PendingExchange>,
    currency: Currency,
}

#[Object(name = "PendingExchange")]
impl PendingExchangeNode {
    async fn id(&self) -> ID {
        ID(self.exchange.id.to_string())
    }

    /// The showtime the booking moves to.
    async fn showtime(&self, ctx: &Context<'_>) -> Result<ShowtimeNode> {
        let id = self.exchange.to_showtime;
        let showtime = loaders(ctx)?.load_one(ShowtimeKey(id)).await?;
        Ok(ShowtimeNode(
            showtime.ok_or_else(|| missing("showtime", id))?,
        ))
    }

    async fn seat_numbers(&self) -> Vec<String> {
        self.exchange.to_seats.iter().flatten().cloned().collect()
    }

    /// What the booking will cost once exchanged.
    async fn final_amount(&self) -> MoneyObject {
        Money::new(self.exchange.final_after, self.currency).into()
    }

    /// The difference to pay.
    async fn amount_due(&self) -> MoneyObject {
        Money::new(self.exchange.difference(), self.currency).into()
    }

    /// When the hold on the new seats lapses: pay before, or exchange again.
    async fn expires_at(&self) -> Option<DateTime> {
        self.exchange.expires_at.map(DateTime)
    }

    async fn created_at(&self) -> DateTime {
        DateTime(self.exchange.created_at)
    }
}

pub struct BookingSnackObject {
    line: BookingSnack,
    snack: Snack,
    currency: Currency,
}

#[Object(name = "BookingSnack")]
impl BookingSnackObject {
    async fn snack(&self) -> SnackNode {
        SnackNode(self.snack.clone())
    }

    async fn quantity(&self) -> i32 {
        self.line.quantity
    }

    /// The price when the booking was made.
    async fn unit_price(&self) -> MoneyObject {
        Money::new(self.line.unit_price, self.currency).into()
    }

    async fn total_price(&self) -> MoneyObject {
        Money::new(self.line.total_price, self.currency).into()
    }
}

#[derive(InputObject)]
pub struct ExchangeBookingInput {
    booking_id: ID,
    /// The showtime of the new seats: the booking's own, or another showing of its film.
    showtime_id: ID,
    /// The new seats, each an ADULT ticket; or give `tickets`.
    seat_numbers: Option<Vec<String>>,
    tickets: Option<Vec<TicketInput>>,
    /// The caller's hold on exactly the new seats.
    lock_token: String,
}

#[derive(InputObject)]
pub struct TicketInput {
    pub seat_number: String,
    /// `ADULT`, `CHILD`, `SENIOR`, ...: a type the showtime sells.
    pub ticket_type: String,
}

#[derive(InputObject)]
pub struct SnackOrderInput {
    pub snack_id: ID,
    /// 1 to 20.
    pub quantity: i32,
}

#[derive(InputObject)]
pub struct CreateBookingInput {
    showtime_id: ID,
    /// Exactly the seats of the lock, each an ADULT ticket; or give `tickets`.
    seat_numbers: Option<Vec<String>>,
    /// Each seat of the lock with its ticket type (one of `Showtime.ticketPrices`).
    tickets: Option<Vec<TicketInput>>,
    #[graphql(default)]
    snacks: Vec<SnackOrderInput>,
    lock_token: String,
    /// A key of the client's (up to 255 characters; a random UUID per checkout) that
    /// makes the request safe to repeat: the same key with the same showtime, seats
    /// and snacks answers with the same booking and client secret, however often and
    /// however concurrently it is sent; with anything else it is refused.
    idempotency_key: Option<String>,
    /// A voucher's code (any case). Its discount comes off the tickets it applies to,
    /// before the loyalty discount.
    voucher_code: Option<String>,
}

#[derive(SimpleObject)]
#[graphql(name = "CreateBookingPayload")]
pub struct CreateBookingPayload {
    booking: BookingNode,
    /// For Stripe.js (`confirmCardPayment`); the booking is confirmed by the webhook.
    payment_client_secret: String,
}

/// A page of the caller's bookings.
pub struct BookingConnection {
    nodes: Vec<BookingNode>,
    page_info: PageInfo,
}

/// A booking and its cursor.
pub struct BookingEdge<'a>(&'a BookingNode);

#[Object]
impl BookingEdge<'_> {
    async fn cursor(&self) -> String {
        self.0.0.id.to_string()
    }

    async fn node(&self) -> &BookingNode {
        self.0
    }
}

#[Object]
impl BookingConnection {
    async fn nodes(&self) -> &[BookingNode] {
        &self.nodes
    }

    /// The same bookings with their cursors, as Relay's connections have them.
    async fn edges(&self) -> Vec<BookingEdge<'_>> {
        self.nodes.iter().map(BookingEdge).collect()
    }

    async fn page_info(&self) -> &PageInfo {
        &self.page_info
    }

    /// All the caller's bookings (counted only when asked).
    async fn total_count(&self, ctx: &Context<'_>) -> Result<i64> {
        Ok(records::count_mine(app(ctx)?, viewer(ctx)?).await?)
    }
}

/// The caller's page of bookings, as both `myBookings` and its connection answer it.
async fn my_page(
    ctx: &Context<'_>,
    first: Option<i32>,
    after: Option<String>,
) -> Result<BookingConnection> {
    let page = crate::paging::Page::new(first, after.as_deref())?;
    let (bookings, more) = records::mine(app(ctx)?, viewer(ctx)?, page).await?;
    Ok(BookingConnection {
        page_info: PageInfo::new(more, bookings.last().map(|b| b.id)),
        nodes: bookings
            .into_iter()
            .map(|b| BookingNode(Arc::new(b)))
            .collect(),
    })
}

#[derive(Default)]
pub struct BookingQuery;

#[Object]
impl BookingQuery {
    /// The caller's bookings, newest first: `first` (1 to 100, default 50) after the
    /// booking whose id is `after`. `myBookingsConnection` says whether more follow
    /// and how many there are.
    #[graphql(
        guard = "SignedIn",
        complexity = "crate::graphql::PER_CALL_QUERY_COST + child_complexity"
    )]
    async fn my_bookings(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
    ) -> Result<Vec<BookingNode>> {
        Ok(my_page(ctx, first, after).await?.nodes)
    }

    /// The caller's bookings a page at a time, newest first, with the cursor of the
    /// next page and how many there are in all.
    #[graphql(
        guard = "SignedIn",
        complexity = "crate::graphql::PER_CALL_QUERY_COST + child_complexity"
    )]
    async fn my_bookings_connection(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
    ) -> Result<BookingConnection> {
        my_page(ctx, first, after).await
    }

    /// A booking, for its owner, an operator or an admin. Anyone else gets `null`,
    /// exactly as for an id that does not exist, so ids cannot be probed.
    #[graphql(
        guard = "SignedIn",
        complexity = "crate::graphql::PER_CALL_QUERY_COST + child_complexity"
    )]
    async fn booking(&self, ctx: &Context<'_>, id: ID) -> Result<Option<BookingNode>> {
        let id = parse_uuid("id", &id)?;
        let found = records::find_visible(app(ctx)?, viewer(ctx)?, id).await?;
        Ok(found.map(|b| BookingNode(Arc::new(b))))
    }
}

#[derive(Default)]
pub struct BookingMutation;

#[Object]
impl BookingMutation {
    /// Books the seats of the caller's lock, with snacks: a PENDING booking until the
    /// payment is confirmed, lapsing when the hold would have.
    #[graphql(guard = "SignedIn")]
    async fn create_booking(
        &self,
        ctx: &Context<'_>,
        input: CreateBookingInput,
    ) -> Result<CreateBookingPayload> {
        let viewer = viewer(ctx)?;
        let showtime = parse_uuid("showtimeId", &input.showtime_id)?;
        let snacks = input
            .snacks
            .iter()
            .map(|s| Ok((parse_uuid("snacks", &s.snack_id)?, s.quantity)))
            .collect::<Result<Vec<_>, crate::error::AppError>>()?;
        let created = checkout::create(
            app(ctx)?,
            viewer,
            NewBooking {
                showtime,
                seat_numbers: input.seat_numbers,
                tickets: input.tickets.map(|list| {
                    list.into_iter()
                        .map(|t| (t.seat_number, t.ticket_type))
                        .collect()
                }),
                snacks,
                lock_token: input.lock_token,
                idempotency_key: input.idempotency_key,
                voucher_code: input.voucher_code,
            },
        )
        .await?;
        Ok(CreateBookingPayload {
            booking: BookingNode(Arc::new(created.booking)),
            payment_client_secret: created.client_secret,
        })
    }

    /// Moves the caller's confirmed booking to the seats of their hold (`lockToken`),
    /// of the same showtime or another showing of the same film, in one step: the old
    /// seats are released and the new ones sold together. Cheaper seats give the
    /// difference back. Dearer ones wait for the difference (`pendingExchange`; pay it
    /// through `createPaymentIntent(bookingId)` before the hold lapses) and are carried
    /// out when it is paid. The ticket gets a new code.
    /// Customers until the refund cut-off; admins any time.
    #[graphql(guard = "SignedIn")]
    async fn exchange_booking(
        &self,
        ctx: &Context<'_>,
        input: ExchangeBookingInput,
    ) -> Result<BookingNode> {
        let booking = checkout::exchange::exchange(
            app(ctx)?,
            viewer(ctx)?,
            checkout::exchange::Exchange {
                booking: parse_uuid("bookingId", &input.booking_id)?,
                showtime: parse_uuid("showtimeId", &input.showtime_id)?,
                seat_numbers: input.seat_numbers,
                tickets: input.tickets.map(|list| {
                    list.into_iter()
                        .map(|t| (t.seat_number, t.ticket_type))
                        .collect()
                }),
                lock_token: input.lock_token,
            },
        )
        .await?;
        Ok(BookingNode(Arc::new(booking)))
    }

    /// Cancels a pending (unpaid) booking: its seats are released at once.
    #[graphql(guard = "SignedIn")]
    async fn cancel_booking(&self, ctx: &Context<'_>, id: ID) -> Result<BookingNode> {
        let id = parse_uuid("id", &id)?;
        let booking = records::cancel(app(ctx)?, viewer(ctx)?, id).await?;
        Ok(BookingNode(Arc::new(booking)))
    }
}
