//! What Postgres knows of a showtime's seats.

use std::collections::HashMap;

use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use uuid::Uuid;

use crate::db::enums::BookingStatus;
use crate::db::schema::{booking_seats, bookings};
use crate::error::AppResult;

/// Seats of live (pending, confirmed, used) bookings, per showtime.
pub async fn booked_seats(
    conn: &mut AsyncPgConnection,
    showtime_ids: &[Uuid],
) -> AppResult<HashMap<Uuid, Vec<String>>> {
    let mut by_showtime: HashMap<Uuid, Vec<String>> = HashMap::new();
    if showtime_ids.is_empty() {
        return Ok(by_showtime);
    }
    let rows: Vec<(Uuid, String)> = booking_seats::table
        .filter(booking_seats::showtime_id.eq_any(showtime_ids))
        .filter(booking_seats::status.eq_any(BookingStatus::LIVE))
        .select((booking_seats::showtime_id, booking_seats::seat_number))
        .load(conn)
        .await?;
    for (showtime, seat) in rows {
        by_showtime.entry(showtime).or_default().push(seat);
    }
    Ok(by_showtime)
}

/// A user's bookings of a showtime as the per-user seat cap sees them: the seats of
/// the unpaid ones still running, and the ids of all (see `seating::scripts::LOCK`).
pub struct Unpaid {
    pub seats: usize,
    pub known: Vec<Uuid>,
}

pub async fn unpaid_seats(
    conn: &mut AsyncPgConnection,
    user: Uuid,
    showtime: Uuid,
    now: chrono::DateTime<chrono::Utc>,
) -> AppResult<Unpaid> {
    type Row = (
        Uuid,
        BookingStatus,
        Vec<Option<String>>,
        Option<chrono::DateTime<chrono::Utc>>,
    );
    let rows: Vec<Row> = bookings::table
        .filter(bookings::user_id.eq(user))
        .filter(bookings::showtime_id.eq(showtime))
        .select((
            bookings::id,
            bookings::status,
            bookings::seat_numbers,
            bookings::expires_at,
        ))
        .load(conn)
        .await?;
    let seats = rows
        .iter()
        .filter(|(_, status, _, expires)| {
            *status == BookingStatus::Pending && expires.is_none_or(|at| at > now)
        })
        .map(|(_, _, seats, _)| seats.len())
        .sum();
    Ok(Unpaid {
        seats,
        known: rows.into_iter().map(|(id, ..)| id).collect(),
    })
}
