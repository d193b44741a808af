//! What Postgres knows of a showtime's seats.

use std::collections::HashMap;

use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use uuid::Uuid;

use crate::db::enums::BookingStatus;
use crate::db::schema::booking_seats;
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
