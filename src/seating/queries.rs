//! What Postgres knows of a showtime's seats, and what Redis knows of its version.

use std::collections::HashMap;

use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use fred::prelude::*;
use uuid::Uuid;

use super::keys::version_key;
use crate::db::enums::BookingStatus;
use crate::db::schema::booking_seats;
use crate::error::AppResult;
use crate::redis::Redis;

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

/// Current seat-map versions (0 for a showtime nothing has changed yet).
pub async fn seat_versions(redis: &Redis, showtime_ids: &[Uuid]) -> AppResult<HashMap<Uuid, i64>> {
    if showtime_ids.is_empty() {
        return Ok(HashMap::new());
    }
    let client = redis.pool().next();
    // One round trip per showtime key, pipelined: MGET would cross Cluster slots.
    let pipeline = client.pipeline();
    for id in showtime_ids {
        let _: () = pipeline.get(version_key(redis, *id)).await?;
    }
    let values: Vec<Option<i64>> = pipeline.all().await?;
    Ok(showtime_ids
        .iter()
        .zip(values)
        .map(|(id, v)| (*id, v.unwrap_or(0)))
        .collect())
}
