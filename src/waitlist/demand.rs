//! How many wait, and for how many seats: per showtime (its list) and per film (the
//! upcoming showtimes' lists), so that admins can see where another showing would sell.

use std::collections::HashMap;

use diesel::dsl::{count_star, sum};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use uuid::Uuid;

use super::entries::WAITING;
use crate::db::schema::{showtimes, waitlist_entries};
use crate::error::AppResult;

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Demand {
    /// Entries waiting.
    pub entries: i64,
    /// The seats they ask for, together.
    pub seats: i64,
}

/// The waiting entries of each showtime (every id asked for is in the answer).
pub async fn of_showtimes(
    conn: &mut AsyncPgConnection,
    ids: &[Uuid],
) -> AppResult<HashMap<Uuid, Demand>> {
    let rows: Vec<(Uuid, i64, Option<i64>)> = waitlist_entries::table
        .filter(waitlist_entries::showtime_id.eq_any(ids))
        .filter(waitlist_entries::status.eq(WAITING))
        .group_by(waitlist_entries::showtime_id)
        .select((
            waitlist_entries::showtime_id,
            count_star(),
            sum(waitlist_entries::seat_count),
        ))
        .load(conn)
        .await?;
    let mut out: HashMap<Uuid, Demand> = ids.iter().map(|id| (*id, Demand::default())).collect();
    for (id, entries, seats) in rows {
        out.insert(
            id,
            Demand {
                entries,
                seats: seats.unwrap_or(0),
            },
        );
    }
    Ok(out)
}

/// Per film, the waiting entries of its showtimes that have not started, the most
/// seats first.
pub async fn by_film(
    conn: &mut AsyncPgConnection,
    now: chrono::DateTime<chrono::Utc>,
) -> AppResult<Vec<(Uuid, Demand)>> {
    let rows: Vec<(Uuid, i64, Option<i64>)> = waitlist_entries::table
        .inner_join(showtimes::table)
        .filter(waitlist_entries::status.eq(WAITING))
        .filter(showtimes::start_time.gt(now))
        .group_by(showtimes::movie_id)
        .select((
            showtimes::movie_id,
            count_star(),
            sum(waitlist_entries::seat_count),
        ))
        .load(conn)
        .await?;
    let mut out: Vec<(Uuid, Demand)> = rows
        .into_iter()
        .map(|(movie, entries, seats)| {
            (
                movie,
                Demand {
                    entries,
                    seats: seats.unwrap_or(0),
                },
            )
        })
        .collect();
    out.sort_by_key(|(movie, d)| (std::cmp::Reverse(d.seats), *movie));
    Ok(out)
}
