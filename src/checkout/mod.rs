//! Checkout: a customer's hold becomes a booking, priced (seats, snacks, their loyalty
//! discount) with a payment intent to pay it, exactly once however often the request
//! is repeated; and unpaid bookings lapse with their hold (`expiry`). Above bookings,
//! seats and payments, which it joins.

pub mod counter;
pub mod exchange;
pub mod expiry;
pub mod tickets;

use std::collections::HashSet;

use diesel::prelude::*;
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use uuid::Uuid;

use crate::app::App;
use crate::auth::model::Viewer;
use crate::booking::idempotency;
use crate::booking::model::Booking;
use crate::booking::pricing::{Quote, TicketLine, price_tickets, quote};
use crate::booking::records::taken_seats;
use crate::booking::reference::new_reference;
use crate::catalog::age_rating::AgeRating;
use crate::catalog::ticket_prices::CHILD;
use crate::db::enums::{BookingStatus, PaymentStatus};
use crate::db::is_unique_violation;
use crate::db::schema::{booking_seats, booking_snacks, bookings, movies, payments, snacks, users};
use crate::error::{AppError, AppResult};
use crate::outbox::{self, Effect};
use crate::payments::gateway::Intent;
use crate::payments::gateway::payment_error;
use crate::seating::holds;

pub const MAX_SNACK_QUANTITY: i32 = 20;

pub struct NewBooking {
    pub showtime: Uuid,
    /// Every seat an ADULT ticket, unless `tickets` says otherwise.
    pub seat_numbers: Option<Vec<String>>,
    /// `(seat, ticket type)`.
    pub tickets: Option<Vec<(String, String)>>,
    pub snacks: Vec<(Uuid, i32)>,
    pub lock_token: String,
    /// With a key, repeats of this request answer with the booking it made.
    pub idempotency_key: Option<String>,
    /// A voucher's code (`vouchers`); empty counts as none.
    pub voucher_code: Option<String>,
}

pub struct Created {
    pub booking: Booking,
    pub client_secret: String,
}

fn check_snack_lines(lines: &[(Uuid, i32)]) -> AppResult<()> {
    let mut seen = HashSet::new();
    for (id, quantity) in lines {
        if !(1..=MAX_SNACK_QUANTITY).contains(quantity) {
            return Err(AppError::bad_input(
                "snacks",
                format!("quantity must be between 1 and {MAX_SNACK_QUANTITY}, got {quantity}"),
            ));
        }
        if !seen.insert(*id) {
            return Err(AppError::bad_input(
                "snacks",
                format!("snack {id} is listed twice; give one line with its quantity"),
            ));
        }
    }
    Ok(())
}

/// The snacks ordered, at their current price; each must exist and be on sale.
async fn priced_snacks(
    conn: &mut AsyncPgConnection,
    lines: &[(Uuid, i32)],
) -> AppResult<Vec<(Uuid, rust_decimal::Decimal, i32)>> {
    if lines.is_empty() {
        return Ok(Vec::new());
    }
    let ids: Vec<Uuid> = lines.iter().map(|(id, _)| *id).collect();
    let found: Vec<OnSale> = snacks::table
        .filter(snacks::id.eq_any(&ids))
        .select((snacks::id, snacks::name, snacks::price, snacks::available))
        .load(conn)
        .await?;
    price_snack_lines(lines, &found)
}

/// The customer's loyalty tier and the snacks ordered, in one statement: what a
/// booking's price needs from Postgres beyond the room.
async fn tier_and_snacks(
    conn: &mut AsyncPgConnection,
    user: Uuid,
    lines: &[(Uuid, i32)],
) -> AppResult<(String, Vec<OnSale>)> {
    type Row = (String, Option<(Uuid, String, rust_decimal::Decimal, bool)>);
    let ids: Vec<Uuid> = lines.iter().map(|(id, _)| *id).collect();
    let rows: Vec<Row> = users::table
        .left_join(snacks::table.on(snacks::id.eq_any(&ids)))
        .filter(users::id.eq(user))
        .select((
            users::tier,
            (snacks::id, snacks::name, snacks::price, snacks::available).nullable(),
        ))
        .load(conn)
        .await?;
    let tier = <[Row]>::first(&rows)
        .map(|(tier, _)| tier.clone())
        .ok_or_else(|| AppError::internal(anyhow::anyhow!("no user {user}")))?;
    Ok((tier, rows.into_iter().filter_map(|(_, s)| s).collect()))
}

/// A snack's id, name, price and whether it is on sale.
type OnSale = (Uuid, String, rust_decimal::Decimal, bool);

fn price_snack_lines(
    lines: &[(Uuid, i32)],
    found: &[OnSale],
) -> AppResult<Vec<(Uuid, rust_decimal::Decimal, i32)>> {
    lines
        .iter()
        .map(|(id, quantity)| {
            let (_, name, price, available) = found
                .iter()
                .find(|s| s.0 == *id)
                .ok_or_else(|| AppError::bad_input("snacks", format!("no such snack: {id}")))?;
            if !available {
                return Err(AppError::bad_input(
                    "snacks",
                    format!("{name} is not available"),
                ));
            }
            Ok((*id, *price, *quantity))
        })
        .collect()
}

/// CHILD tickets only for a film a child may see (`CHILD_MAX_AGE`).
async fn check_child_tickets(
    conn: &mut AsyncPgConnection,
    app: &App,
    movie: Uuid,
    requested: &[(String, String)],
) -> AppResult<()> {
    if !requested.iter().any(|(_, kind)| kind == CHILD) {
        return Ok(());
    }
    let rating: (Option<String>, Option<String>, Option<i32>) = movies::table
        .find(movie)
        .select((
            movies::age_rating_system,
            movies::age_rating_code,
            movies::age_rating_min_age,
        ))
        .first(conn)
        .await?;
    let rating = AgeRating::from_columns(rating.0.as_deref(), rating.1.as_deref(), rating.2);
    tickets::check_ages(requested, rating.as_ref(), app.config.catalog.child_max_age)
}

/// Where a booking was sold (`bookings.sale_channel`).
pub const ONLINE: &str = "online";
pub const COUNTER: &str = "counter";

/// Bookings and exchanges share one rate limit per customer, with holds.
async fn within_rate_limit(app: &App, viewer: Viewer) -> AppResult<()> {
    holds::within_rate_limit(app, viewer).await
}

pub async fn create(app: &App, viewer: Viewer, input: NewBooking) -> AppResult<Created> {
    within_rate_limit(app, viewer).await?;
    let requested = tickets::requested(input.seat_numbers, input.tickets)?;
    let seats: Vec<String> = requested.iter().map(|(seat, _)| seat.clone()).collect();
    check_snack_lines(&input.snacks)?;
    if input.lock_token.trim().is_empty() {
        return Err(AppError::bad_input(
            "lockToken",
            "give the token of your seat lock",
        ));
    }
    let voucher_code = input
        .voucher_code
        .as_deref()
        .map(crate::vouchers::normalise_code)
        .filter(|c| !c.is_empty());
    let request = idempotency::parse_key(input.idempotency_key)?.map(|key| idempotency::Request {
        key,
        hash: idempotency::fingerprint(
            input.showtime,
            &requested,
            &input.snacks,
            voucher_code.as_deref(),
        ),
    });
    let room = crate::seating::rooms::room(app, input.showtime).await?;
    room.showtime.check_on_sale(app.now())?;
    crate::sale_queue::gate(
        app,
        viewer,
        &room.showtime,
        crate::sale_queue::Purpose::Book,
    )
    .await?;
    let currency = app.config.currency;
    let priced = price_tickets(
        &room.layout,
        room.showtime.base_price,
        currency,
        &room.showtime.ticket_prices(),
        &requested,
    )?;
    let (snack_prices, discount_percent, voucher) = {
        let mut conn = app.db().await?;
        let voucher = match &voucher_code {
            Some(code) => Some(
                crate::vouchers::uses::find(&mut conn, code)
                    .await?
                    .ok_or_else(|| {
                        AppError::bad_input("voucherCode", format!("there is no voucher {code}"))
                    })?,
            ),
            None => None,
        };
        check_child_tickets(&mut conn, app, room.showtime.movie_id, &requested).await?;
        let (tier, found) = tier_and_snacks(&mut conn, viewer.user_id, &input.snacks).await?;
        (
            price_snack_lines(&input.snacks, &found)?,
            app.config.tiers.named(&tier).discount_percent,
            voucher,
        )
    };
    let voucher_off = match &voucher {
        Some(voucher) => crate::vouchers::apply::discounts(
            voucher,
            &crate::vouchers::apply::Showing {
                movie: room.showtime.movie_id,
                theater: room.screen.theater_id,
            },
            &priced,
            currency,
            app.now(),
        )?,
        None => Vec::new(),
    };
    let plan = Plan {
        viewer,
        showtime: input.showtime,
        lock_token: input.lock_token,
        quote: quote(
            priced,
            &snack_prices,
            currency,
            &voucher_off,
            discount_percent,
        ),
        voucher,
        seats,
        booking_id: Uuid::new_v4(),
    };

    // The intent of this attempt once its hold is claimed: what to undo if the
    // booking is then not written.
    let mut claimed: Option<Claimed> = None;
    let attempt: AppResult<(_, Attempt)> = async {
        match &request {
            None => {
                let hold = claimed.insert(prepare(app, &plan).await?);
                let mut conn = app.db().await?;
                let written = conn
                    .transaction::<_, AppError, _>(async |conn| write(conn, app, &plan, hold).await)
                    .await?;
                Ok((conn, Attempt::Made(Box::new(written))))
            }
            Some(request) => {
                // Everything happens inside the transaction that reserved the key, so
                // a repeat waits for this attempt's outcome (see `idempotency`).
                let mut conn = app.db().await?;
                let claimed = &mut claimed;
                let outcome = conn
                    .transaction::<_, AppError, _>(async |conn| {
                        let reserved = idempotency::reserve(
                            conn,
                            plan.viewer.user_id,
                            request,
                            plan.booking_id,
                        )
                        .await?;
                        if let Some(earlier) = reserved {
                            return Ok(Attempt::Repeat(earlier));
                        }
                        let hold = claimed.insert(prepare(app, &plan).await?);
                        Ok(Attempt::Made(Box::new(
                            write(conn, app, &plan, hold).await?,
                        )))
                    })
                    .await?;
                Ok((conn, outcome))
            }
        }
    }
    .await;
    match attempt {
        Ok((conn, Attempt::Made(made))) => {
            let (booking, outbox_id) = *made;
            outbox::deliver_now(app, conn, &outbox_id.into_iter().collect::<Vec<_>>()).await;
            let client_secret = claimed.map(|c| c.intent.client_secret).unwrap_or_default();
            Ok(Created {
                booking,
                client_secret,
            })
        }
        Ok((mut conn, Attempt::Repeat(id))) => repeat(app, &mut conn, id).await,
        Err(e) => {
            if let Some(Claimed { intent, .. }) = claimed {
                // The hold was claimed for a booking that was not written: give it
                // back (should that fail, the sweeper frees it after the claim's
                // grace), and cancel the intent nobody will pay.
                if let Err(undo) =
                    holds::restore(app, plan.showtime, &plan.lock_token, plan.booking_id).await
                {
                    tracing::warn!(error = %crate::error::LogDisplay(&undo), "claimed hold not restored");
                }
                cancel_later(app, intent.id);
            }
            if let AppError::SeatsUnavailable { .. } = e {
                let mut conn = app.db().await?;
                let taken = taken_seats(&mut conn, plan.showtime, &plan.seats).await?;
                return Err(AppError::SeatsUnavailable {
                    seats: if taken.is_empty() { plan.seats } else { taken },
                });
            }
            Err(e)
        }
    }
}

/// What one `createBooking` works from once its input is checked.
struct Plan {
    viewer: Viewer,
    showtime: Uuid,
    seats: Vec<String>,
    lock_token: String,
    quote: Quote,
    voucher: Option<crate::vouchers::Voucher>,
    booking_id: Uuid,
}

/// A payment intent made and the hold claimed for it, with the hold's expiry (the
/// booking's, while unpaid).
struct Claimed {
    intent: Intent,
    expires_at: chrono::DateTime<chrono::Utc>,
}

enum Attempt {
    /// This attempt wrote the booking (and the outbox row that syncs its seats).
    Made(Box<(Booking, Option<crate::outbox::Queued>)>),
    /// An earlier request with the same idempotency key made this booking.
    Repeat(Uuid),
}

/// The steps before the booking's rows: an early look at the hold (a refusal costs
/// no payment intent), the intent, then the atomic claim of the hold, which checks
/// it again against the clock after the provider's round trip, so a hold that lapsed
/// meanwhile is `LOCK_EXPIRED` and its seats stay free for others.
async fn prepare(app: &App, plan: &Plan) -> AppResult<Claimed> {
    holds::check_for_booking(
        app,
        plan.viewer,
        plan.showtime,
        &plan.lock_token,
        &plan.seats,
    )
    .await?;
    let intent = app
        .payments
        .create_intent(
            crate::payments::gateway::IntentFor::booking(plan.booking_id),
            plan.quote.final_amount,
        )
        .await
        .map_err(payment_error)?;
    let claimed = holds::claim(
        app,
        plan.viewer,
        plan.showtime,
        &plan.lock_token,
        &plan.seats,
        plan.booking_id,
    )
    .await;
    match claimed {
        Ok(expires_at) => Ok(Claimed { intent, expires_at }),
        Err(e) => {
            cancel_later(app, intent.id);
            Err(e)
        }
    }
}

/// The booking's rows and the outbox row that books its seats in Redis (and ends the
/// claimed hold), inside the caller's transaction.
async fn write(
    conn: &mut AsyncPgConnection,
    app: &App,
    plan: &Plan,
    hold: &Claimed,
) -> AppResult<(Booking, Option<crate::outbox::Queued>)> {
    let booking = insert_booking(
        conn,
        BookingRow {
            id: plan.booking_id,
            user: plan.viewer.user_id,
            showtime: plan.showtime,
            seats: &plan.seats,
            quote: &plan.quote,
            sale: Sale::Online {
                intent: &hold.intent.id,
                expires_at: hold.expires_at,
            },
            voucher: plan.voucher.as_ref().map(|v| v.code.as_str()),
        },
    )
    .await?;
    if let Some(voucher) = &plan.voucher {
        crate::vouchers::uses::take(conn, voucher, plan.viewer.user_id, plan.booking_id).await?;
    }
    // Booked from a waiting list's offer: the offer is taken.
    crate::waitlist::offers::taken(conn, app.now(), &plan.lock_token).await?;
    let outbox_id = outbox::enqueue(
        conn,
        app.now(),
        format!("booking-made-{}", plan.booking_id),
        &Effect::Seats {
            showtime: plan.showtime,
            seats: plan.seats.clone(),
            used_lock: Some(plan.lock_token.clone()),
        },
    )
    .await?;
    Ok((booking, outbox_id))
}

/// The answer to a repeated idempotency key: the booking it made, with its intent's
/// client secret (the same intent, so the same secret).
async fn repeat(app: &App, conn: &mut AsyncPgConnection, id: Uuid) -> AppResult<Created> {
    let booking: Booking = bookings::table
        .find(id)
        .select(Booking::as_select())
        .first(conn)
        .await?;
    let intent = booking
        .payment_intent_id
        .as_deref()
        .ok_or_else(|| AppError::internal(anyhow::anyhow!("booking {id} has no payment intent")))?;
    let intent = app
        .payments
        .retrieve_intent(intent)
        .await
        .map_err(payment_error)?;
    Ok(Created {
        booking,
        client_secret: intent.client_secret,
    })
}

/// Cancels an intent nobody will pay, without making the caller wait.
fn cancel_later(app: &App, intent: String) {
    let gateway = app.payments.clone();
    tokio::spawn(async move {
        if let Err(e) = gateway.cancel_intent(&intent).await {
            tracing::info!(intent = %intent, error = %e, "unused intent not cancelled");
        }
    });
}

/// Writes a booking's tickets: a seat row each, with its type, price and share of the
/// discounts. A seat that another live booking has is refused by the partial unique
/// index: `SEATS_UNAVAILABLE` naming the seats asked for.
async fn insert_tickets(
    conn: &mut AsyncPgConnection,
    booking: Uuid,
    showtime: Uuid,
    status: BookingStatus,
    tickets: &[TicketLine],
) -> AppResult<()> {
    let rows: Vec<_> = tickets
        .iter()
        .map(|ticket| {
            (
                booking_seats::booking_id.eq(booking),
                booking_seats::showtime_id.eq(showtime),
                booking_seats::status.eq(status),
                booking_seats::seat_number.eq(&ticket.seat),
                booking_seats::ticket_type.eq(&ticket.ticket_type),
                booking_seats::price.eq(ticket.price.amount()),
                booking_seats::discount.eq(ticket.discount.amount()),
                booking_seats::voucher_discount.eq(ticket.voucher.amount()),
            )
        })
        .collect();
    match diesel::insert_into(booking_seats::table)
        .values(&rows)
        .execute(conn)
        .await
    {
        Ok(_) => Ok(()),
        Err(e) if is_unique_violation(&e, "booking_seats_live_seat") => {
            Err(AppError::SeatsUnavailable {
                seats: tickets.iter().map(|t| t.seat.clone()).collect(),
            })
        }
        Err(e) => Err(e.into()),
    }
}

struct BookingRow<'a> {
    id: Uuid,
    user: Uuid,
    showtime: Uuid,
    seats: &'a [String],
    quote: &'a Quote,
    sale: Sale<'a>,
    voucher: Option<&'a str>,
}

/// How a booking is sold: online, unpaid until its intent is paid (by `expires_at`), or
/// at the counter, paid there (or given), confirmed with its ticket at once.
enum Sale<'a> {
    Online {
        intent: &'a str,
        expires_at: chrono::DateTime<chrono::Utc>,
    },
    Counter {
        sold_by: Uuid,
        method: &'a str,
        ticket_code: String,
    },
}

/// Writes the booking, its seats, snacks and payment row. A seat that another live
/// booking has is refused by the partial unique index: `SEATS_UNAVAILABLE`.
async fn insert_booking(conn: &mut AsyncPgConnection, row: BookingRow<'_>) -> AppResult<Booking> {
    let currency = row.quote.final_amount.currency().as_str().to_owned();
    let (status, intent, expires_at, ticket_code, sold_by, channel, method) = match &row.sale {
        Sale::Online { intent, expires_at } => (
            BookingStatus::Pending,
            Some(*intent),
            Some(*expires_at),
            None,
            None,
            ONLINE,
            None,
        ),
        Sale::Counter {
            sold_by,
            method,
            ticket_code,
        } => (
            BookingStatus::Confirmed,
            None,
            None,
            Some(ticket_code.as_str()),
            Some(*sold_by),
            COUNTER,
            Some(*method),
        ),
    };
    let mut attempts = 0;
    let booking: Booking = loop {
        attempts += 1;
        // A repeated reference inserts nothing and is drawn again (the id is new, so
        // the reference is the only thing that can conflict); no savepoint needed.
        let inserted = diesel::insert_into(bookings::table)
            .values((
                bookings::id.eq(row.id),
                bookings::user_id.eq(row.user),
                bookings::showtime_id.eq(row.showtime),
                bookings::seat_numbers.eq(row.seats.iter().cloned().map(Some).collect::<Vec<_>>()),
                bookings::total_amount.eq(row.quote.total.amount()),
                bookings::discount_amount.eq(row.quote.discount.amount()),
                bookings::final_amount.eq(row.quote.final_amount.amount()),
                bookings::currency.eq(&currency),
                bookings::status.eq(status),
                bookings::booking_reference.eq(new_reference()),
                bookings::payment_intent_id.eq(intent),
                bookings::expires_at.eq(expires_at),
                bookings::voucher_code.eq(row.voucher),
                bookings::voucher_discount.eq(row.quote.voucher_discount.amount()),
                bookings::qr_code.eq(ticket_code),
                bookings::sold_by.eq(sold_by),
                bookings::sale_channel.eq(channel),
            ))
            .on_conflict_do_nothing()
            .returning(Booking::as_returning())
            .get_result(conn)
            .await
            .optional()?;
        match inserted {
            Some(b) => break b,
            None if attempts < 5 => continue,
            None => {
                return Err(AppError::internal(anyhow::anyhow!(
                    "no free booking reference in {attempts} draws"
                )));
            }
        }
    };
    insert_tickets(conn, row.id, row.showtime, status, &row.quote.tickets).await?;
    let snack_rows: Vec<_> = row
        .quote
        .snacks
        .iter()
        .map(|line| {
            (
                booking_snacks::booking_id.eq(row.id),
                booking_snacks::snack_id.eq(line.snack_id),
                booking_snacks::quantity.eq(line.quantity),
                booking_snacks::unit_price.eq(line.unit_price.amount()),
                booking_snacks::total_price.eq(line.total_price.amount()),
            )
        })
        .collect();
    if !snack_rows.is_empty() {
        diesel::insert_into(booking_snacks::table)
            .values(&snack_rows)
            .execute(conn)
            .await?;
    }
    diesel::insert_into(payments::table)
        .values((
            payments::booking_id.eq(row.id),
            payments::stripe_payment_intent_id.eq(intent),
            payments::amount.eq(row.quote.final_amount.amount()),
            payments::currency.eq(&currency),
            payments::status.eq(if method.is_some() {
                PaymentStatus::Succeeded
            } else {
                PaymentStatus::Pending
            }),
            payments::payment_method.eq(method),
            payments::amount_received.eq(method.map(|_| row.quote.final_amount.amount())),
        ))
        .execute(conn)
        .await?;
    Ok(booking)
}
