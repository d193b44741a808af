//! Giving back part of a confirmed booking: some of its tickets, some of its snacks.
//! What they cost is what the customer paid for them, ticket by ticket after its share
//! of the discounts (`booking::pricing` keeps those shares so that they add up to the
//! final amount), and each snack at the price it was bought at.
//!
//! The refund row names what it gives back. Once the refund succeeds (the gateway's
//! answer, or Stripe's `charge.refunded` if that comes first) `take_off` removes those
//! tickets and snacks from the booking, once: the seats are free for others at once
//! (live on every seat map, through the outbox), the booking's amounts become those of
//! what is left, and its ticket gets a new code (the old one is voided, so a scanner
//! offline refuses it too). Asking for every remaining seat is a refund of the whole
//! booking.

use std::collections::{BTreeMap, HashSet};

use chrono::{DateTime, DurationRound, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::app::App;
use crate::booking::model::{Booking, BookingSnack, BookingTicket};
use crate::catalog::layout::SeatNumber;
use crate::db::schema::{booking_seats, booking_snacks, bookings, refunds};
use crate::error::{AppError, AppResult};
use crate::money::Money;
use crate::outbox::{self, Effect};
use crate::tickets::code::TicketClaims;

/// A snack line given back, as stored in `refunds.snack_lines`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SnackReturn {
    pub snack_id: Uuid,
    pub quantity: i32,
}

/// Part of a booking: seats as the booking names them, snack lines.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Part {
    pub seats: Vec<String>,
    pub snacks: Vec<SnackReturn>,
}

impl Part {
    pub fn is_empty(&self) -> bool {
        self.seats.is_empty() && self.snacks.is_empty()
    }

    pub fn snack_lines(&self) -> serde_json::Value {
        serde_json::to_value(&self.snacks).unwrap_or_default()
    }

    fn from_row(seats: &[Option<String>], snack_lines: &serde_json::Value) -> Self {
        Self {
            seats: seats.iter().flatten().cloned().collect(),
            snacks: serde_json::from_value(snack_lines.clone()).unwrap_or_default(),
        }
    }
}

/// What a refund request gives back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Asked {
    Whole,
    /// Part of the booking, and what it cost.
    Part(Part, Money),
}

/// Checks what a caller asks to give back against the booking as it stands (inside
/// the caller's transaction, the booking locked): seats it has, each once; snacks it
/// has, no more than it has. Nothing asked, or every seat, is the whole booking.
pub async fn asked(
    conn: &mut AsyncPgConnection,
    booking: &Booking,
    seats: Vec<String>,
    snacks: Vec<(Uuid, i32)>,
) -> AppResult<Asked> {
    if seats.is_empty() && snacks.is_empty() {
        return Ok(Asked::Whole);
    }
    let current = booking.seats();
    let mut seen = HashSet::new();
    let mut part = Part::default();
    for raw in &seats {
        let seat = raw
            .parse::<SeatNumber>()
            .map(|s| s.to_string())
            .map_err(|_| {
                AppError::bad_input(
                    "seatNumbers",
                    format!("`{raw}` is not a seat number such as C7"),
                )
            })?;
        if !current.contains(&seat) {
            return Err(AppError::bad_input(
                "seatNumbers",
                format!("seat {seat} is not in this booking"),
            ));
        }
        if !seen.insert(seat.clone()) {
            return Err(AppError::bad_input(
                "seatNumbers",
                format!("seat {seat} is listed twice"),
            ));
        }
        part.seats.push(seat);
    }
    if part.seats.len() == current.len() {
        return Ok(Asked::Whole);
    }
    let lines: Vec<BookingSnack> = booking_snacks::table
        .filter(booking_snacks::booking_id.eq(booking.id))
        .select(BookingSnack::as_select())
        .load(conn)
        .await?;
    let mut cost = Decimal::ZERO;
    let mut asked_snacks = HashSet::new();
    for (snack, quantity) in snacks {
        let line = lines.iter().find(|l| l.snack_id == snack).ok_or_else(|| {
            AppError::bad_input("snacks", format!("snack {snack} is not in this booking"))
        })?;
        if !asked_snacks.insert(snack) {
            return Err(AppError::bad_input(
                "snacks",
                format!("snack {snack} is listed twice; give one line with its quantity"),
            ));
        }
        if !(1..=line.quantity).contains(&quantity) {
            return Err(AppError::bad_input(
                "snacks",
                format!(
                    "snack {snack}: give back 1 to {} (the booking has {})",
                    line.quantity, line.quantity
                ),
            ));
        }
        cost += line.unit_price * Decimal::from(quantity);
        part.snacks.push(SnackReturn {
            snack_id: snack,
            quantity,
        });
    }
    let tickets: Vec<BookingTicket> = booking_seats::table
        .filter(booking_seats::booking_id.eq(booking.id))
        .filter(booking_seats::seat_number.eq_any(&part.seats))
        .select(BookingTicket::as_select())
        .load(conn)
        .await?;
    cost += tickets
        .iter()
        .map(|t| t.price - t.discount)
        .sum::<Decimal>();
    Ok(Asked::Part(part, booking.money(cost)))
}

/// Takes off the booking what the succeeded refunds of this booking gave back and
/// was not taken off yet (inside the caller's transaction, the booking locked).
/// Returns the outbox rows to deliver.
pub async fn take_off_refunded(
    conn: &mut AsyncPgConnection,
    app: &App,
    booking: &Booking,
) -> AppResult<Vec<crate::outbox::Queued>> {
    let due: Vec<(Uuid, Vec<Option<String>>, serde_json::Value)> = refunds::table
        .filter(refunds::booking_id.eq(booking.id))
        .filter(refunds::status.eq(super::gateway::RefundStatus::Succeeded.as_str()))
        .filter(refunds::taken_off_at.is_null())
        .filter(
            refunds::seat_numbers
                .ne(Vec::<Option<String>>::new())
                .or(refunds::snack_lines.ne(serde_json::json!([]))),
        )
        .order(refunds::created_at)
        .select((refunds::id, refunds::seat_numbers, refunds::snack_lines))
        .load(conn)
        .await?;
    let mut effects = Vec::new();
    let mut booking = booking.clone();
    for (refund, seats, snack_lines) in due {
        // Sent as one refund per payment: the part is off once every piece went back
        // (until then it stays on the booking).
        let unsettled: i64 = refunds::table
            .filter(refunds::lead_refund_id.eq(refund))
            .filter(refunds::status.ne(super::gateway::RefundStatus::Succeeded.as_str()))
            .count()
            .get_result(conn)
            .await?;
        if unsettled > 0 {
            continue;
        }
        let part = Part::from_row(&seats, &snack_lines);
        let (after, done) = take_off(conn, app, &booking, refund, &part).await?;
        effects.extend(done);
        booking = after;
        diesel::update(refunds::table.find(refund))
            .set(refunds::taken_off_at.eq(Some(app.now())))
            .execute(conn)
            .await?;
    }
    Ok(effects)
}

async fn take_off(
    conn: &mut AsyncPgConnection,
    app: &App,
    booking: &Booking,
    refund: Uuid,
    part: &Part,
) -> AppResult<(Booking, Vec<crate::outbox::Queued>)> {
    diesel::delete(
        booking_seats::table
            .filter(booking_seats::booking_id.eq(booking.id))
            .filter(booking_seats::seat_number.eq_any(&part.seats)),
    )
    .execute(conn)
    .await?;
    for line in &part.snacks {
        let current: Option<BookingSnack> = booking_snacks::table
            .filter(booking_snacks::booking_id.eq(booking.id))
            .filter(booking_snacks::snack_id.eq(line.snack_id))
            .select(BookingSnack::as_select())
            .first(conn)
            .await
            .optional()?;
        let Some(current) = current else { continue };
        let left = (current.quantity - line.quantity).max(0);
        if left == 0 {
            diesel::delete(booking_snacks::table.find(current.id))
                .execute(conn)
                .await?;
        } else {
            diesel::update(booking_snacks::table.find(current.id))
                .set((
                    booking_snacks::quantity.eq(left),
                    booking_snacks::total_price.eq(booking
                        .money(current.unit_price * Decimal::from(left))
                        .amount()),
                ))
                .execute(conn)
                .await?;
        }
    }
    // The booking as what is left: its seats, amounts and a new ticket code.
    let tickets: Vec<BookingTicket> = booking_seats::table
        .filter(booking_seats::booking_id.eq(booking.id))
        .select(BookingTicket::as_select())
        .load(conn)
        .await?;
    let snacks: Vec<Decimal> = booking_snacks::table
        .filter(booking_snacks::booking_id.eq(booking.id))
        .select(booking_snacks::total_price)
        .load(conn)
        .await?;
    let by_seat: BTreeMap<&str, &BookingTicket> = tickets
        .iter()
        .map(|t| (t.seat_number.as_str(), t))
        .collect();
    let seats: Vec<String> = booking
        .seats()
        .into_iter()
        .filter(|s| by_seat.contains_key(s.as_str()))
        .collect();
    let total = tickets.iter().map(|t| t.price).sum::<Decimal>() + snacks.iter().sum::<Decimal>();
    let discount = tickets.iter().map(|t| t.discount).sum::<Decimal>();
    let voucher_discount = tickets.iter().map(|t| t.voucher_discount).sum::<Decimal>();
    let code = if booking.qr_code.is_some() {
        Some(reissue(conn, app, booking, booking.showtime_id, &seats).await?)
    } else {
        void_ticket(conn, booking).await?;
        None
    };
    let after: Booking = diesel::update(bookings::table.find(booking.id))
        .set((
            bookings::seat_numbers.eq(seats.iter().cloned().map(Some).collect::<Vec<_>>()),
            bookings::total_amount.eq(booking.money(total).amount()),
            bookings::discount_amount.eq(booking.money(discount).amount()),
            bookings::final_amount.eq(booking.money(total - discount).amount()),
            bookings::voucher_discount.eq(booking.money(voucher_discount).amount()),
            bookings::qr_code.eq(code),
        ))
        .returning(Booking::as_returning())
        .get_result(conn)
        .await?;
    let now = app.now();
    let mut effects = Vec::new();
    if !part.seats.is_empty() {
        effects.extend(
            outbox::enqueue(
                conn,
                now,
                format!("refund-seats-{refund}"),
                &Effect::Seats {
                    showtime: booking.showtime_id,
                    seats: part.seats.clone(),
                    used_lock: None,
                },
            )
            .await?,
        );
    }
    effects.extend(
        outbox::enqueue(
            conn,
            now,
            format!("ticket-image-{refund}"),
            &Effect::TicketImage {
                booking: booking.id,
            },
        )
        .await?,
    );
    Ok((after, effects))
}

#[derive(QueryableByName)]
struct Voided {
    #[diesel(sql_type = diesel::sql_types::Timestamptz)]
    voided_at: DateTime<Utc>,
}

/// Voids the booking's current code at its showtime's door and issues the code for
/// `seats` at `showtime` (the booking's own, or the one it moves to), dated after the
/// void so that a scanner offline refuses only the old one.
pub async fn reissue(
    conn: &mut AsyncPgConnection,
    app: &App,
    booking: &Booking,
    showtime: Uuid,
    seats: &[String],
) -> AppResult<String> {
    let voided_at = void_ticket(conn, booking).await?;
    Ok(app.tickets.issue(&TicketClaims {
        booking: booking.id,
        showtime,
        issued_at: reissued_at(voided_at, app.now()),
        seats: seats.to_vec(),
    }))
}

/// Voids the booking's current code at its showtime's door (a scanner offline learns
/// it from `GET /api/tickets/revoked`) while the booking stays live; returns the void's
/// time, after which a new code must be issued (`reissued_at`).
async fn void_ticket(conn: &mut AsyncPgConnection, booking: &Booking) -> AppResult<DateTime<Utc>> {
    Ok(diesel::sql_query(
        "INSERT INTO ticket_voids (booking_id, showtime_id, voided_at) VALUES ($1, $2, now()) \
         ON CONFLICT (booking_id, showtime_id) DO UPDATE SET voided_at = EXCLUDED.voided_at \
         RETURNING voided_at",
    )
    .bind::<diesel::sql_types::Uuid, _>(booking.id)
    .bind::<diesel::sql_types::Uuid, _>(booking.showtime_id)
    .get_result::<Voided>(conn)
    .await?
    .voided_at)
}

/// A new code's issue time: after the void (which a scanner offline compares it with:
/// a code issued at or before its booking's `revokedAt` is refused), in whole seconds
/// as codes carry it.
fn reissued_at(voided_at: DateTime<Utc>, now: DateTime<Utc>) -> DateTime<Utc> {
    let after = voided_at.max(now);
    after
        .duration_trunc(chrono::Duration::seconds(1))
        .unwrap_or(after)
        + chrono::Duration::seconds(1)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn a_new_code_is_issued_strictly_after_the_void() {
        let voided = Utc
            .timestamp_opt(1_800_000_000, 250_000_000)
            .single()
            .unwrap_or_default();
        let issued = reissued_at(voided, voided);
        assert!(issued > voided);
        assert_eq!(issued.timestamp(), 1_800_000_001);
        assert_eq!(issued.timestamp_subsec_nanos(), 0);
    }
}
