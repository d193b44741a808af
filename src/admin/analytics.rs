//! Figures for a date range, computed by SQL aggregates (never by loading bookings).
//! Days are UTC days; a booking counts on the day it was made, a showtime on the day
//! it starts.
//!
//! - bookings: confirmed and used bookings made in the range;
//! - revenue: what was paid for bookings made in the range, less what was refunded;
//! - occupancy: seats of confirmed and used bookings over the capacity of the
//!   showtimes starting in the range;
//! - popular movies: the ten with the most seats sold (then revenue, then title).

use chrono::NaiveDate;
use diesel::sql_types::{BigInt, Date, Numeric, Uuid as SqlUuid};
use diesel_async::RunQueryDsl;
use rust_decimal::Decimal;
use uuid::Uuid;

use crate::app::App;
use crate::error::{AppError, AppResult};

pub const MAX_DAYS: i64 = 366;

#[derive(Debug, Clone, PartialEq)]
pub struct Analytics {
    pub total_bookings: i64,
    pub total_revenue: Decimal,
    pub booked_seats: i64,
    pub capacity: i64,
    pub popular_movies: Vec<MovieStats>,
    pub revenue_by_date: Vec<RevenueData>,
}

impl Analytics {
    pub fn occupancy_rate(&self) -> f64 {
        if self.capacity == 0 {
            0.0
        } else {
            self.booked_seats as f64 / self.capacity as f64
        }
    }
}

#[derive(Debug, Clone, PartialEq, diesel::QueryableByName)]
pub struct MovieStats {
    #[diesel(sql_type = SqlUuid)]
    pub movie_id: Uuid,
    #[diesel(sql_type = BigInt)]
    pub bookings: i64,
    #[diesel(sql_type = BigInt)]
    pub seats_sold: i64,
    #[diesel(sql_type = Numeric)]
    pub revenue: Decimal,
}

#[derive(Debug, Clone, PartialEq, diesel::QueryableByName)]
pub struct RevenueData {
    #[diesel(sql_type = Date)]
    pub date: NaiveDate,
    #[diesel(sql_type = BigInt)]
    pub bookings: i64,
    #[diesel(sql_type = Numeric)]
    pub revenue: Decimal,
}

#[derive(diesel::QueryableByName)]
struct Occupancy {
    #[diesel(sql_type = BigInt)]
    booked: i64,
    #[diesel(sql_type = BigInt)]
    capacity: i64,
}

/// Per booking made in the range: whether it counts as sold, and its net takings.
const NET: &str = "\
    SELECT b.id, b.created_at, s.movie_id, cardinality(b.seat_numbers) AS seats, \
           b.status IN ('confirmed', 'used') AS sold, \
           COALESCE((SELECT sum(COALESCE(p.amount_received, p.amount)) FROM payments p \
                     WHERE p.booking_id = b.id \
                       AND p.status IN ('succeeded', 'partially_refunded', 'refunded')), 0) \
         - COALESCE((SELECT sum(r.amount) FROM refunds r \
                     WHERE r.booking_id = b.id AND r.status = 'succeeded'), 0) AS net \
    FROM bookings b JOIN showtimes s ON s.id = b.showtime_id \
    WHERE b.created_at >= $1::date::timestamp AT TIME ZONE 'UTC' \
      AND b.created_at < ($2::date + 1)::timestamp AT TIME ZONE 'UTC'";

pub fn check_range(from: NaiveDate, to: NaiveDate) -> AppResult<()> {
    if from > to {
        return Err(AppError::bad_input("from", "`from` is after `to`"));
    }
    if (to - from).num_days() + 1 > MAX_DAYS {
        return Err(AppError::bad_input(
            "to",
            format!("a range covers at most {MAX_DAYS} days"),
        ));
    }
    Ok(())
}

pub async fn compute(app: &App, from: NaiveDate, to: NaiveDate) -> AppResult<Analytics> {
    check_range(from, to)?;
    let mut conn = app.db().await?;
    let by_date: Vec<RevenueData> = diesel::sql_query(format!(
        "WITH net AS ({NET}) \
         SELECT d::date AS date, \
                count(n.id) FILTER (WHERE n.sold) AS bookings, \
                COALESCE(sum(n.net), 0)::numeric(12, 2) AS revenue \
         FROM generate_series($1::date, $2::date, interval '1 day') AS d \
         LEFT JOIN net n ON (n.created_at AT TIME ZONE 'UTC')::date = d::date \
         GROUP BY d ORDER BY d"
    ))
    .bind::<Date, _>(from)
    .bind::<Date, _>(to)
    .load(&mut conn)
    .await?;
    let popular: Vec<MovieStats> = diesel::sql_query(format!(
        "WITH net AS ({NET}) \
         SELECT n.movie_id, count(*) AS bookings, sum(n.seats)::bigint AS seats_sold, \
                sum(n.net)::numeric(12, 2) AS revenue \
         FROM net n JOIN movies m ON m.id = n.movie_id WHERE n.sold \
         GROUP BY n.movie_id, m.title \
         ORDER BY seats_sold DESC, revenue DESC, m.title LIMIT 10"
    ))
    .bind::<Date, _>(from)
    .bind::<Date, _>(to)
    .load(&mut conn)
    .await?;
    let occupancy: Occupancy = diesel::sql_query(
        "SELECT COALESCE((SELECT count(*) FROM booking_seats bs JOIN showtimes s ON s.id = bs.showtime_id \
                 WHERE bs.status IN ('confirmed', 'used') \
                   AND s.start_time >= $1::date::timestamp AT TIME ZONE 'UTC' \
                   AND s.start_time < ($2::date + 1)::timestamp AT TIME ZONE 'UTC'), 0) AS booked, \
                COALESCE((SELECT sum(sc.total_seats) FROM showtimes s JOIN screens sc ON sc.id = s.screen_id \
                 WHERE s.start_time >= $1::date::timestamp AT TIME ZONE 'UTC' \
                   AND s.start_time < ($2::date + 1)::timestamp AT TIME ZONE 'UTC'), 0)::bigint AS capacity",
    )
    .bind::<Date, _>(from)
    .bind::<Date, _>(to)
    .get_result(&mut conn)
    .await?;
    Ok(Analytics {
        total_bookings: by_date.iter().map(|d| d.bookings).sum(),
        total_revenue: by_date.iter().map(|d| d.revenue).sum(),
        booked_seats: occupancy.booked,
        capacity: occupancy.capacity,
        popular_movies: popular,
        revenue_by_date: by_date,
    })
}
