//! Catalog rows as stored.

use chrono::{DateTime, NaiveDate, Utc};
use diesel::prelude::*;
use rust_decimal::Decimal;
use uuid::Uuid;

use crate::db::enums::MovieStatus;
use crate::db::schema::{movies, screens, showtimes, snacks, theaters};

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = movies, check_for_backend(diesel::pg::Pg))]
pub struct Movie {
    pub id: Uuid,
    pub title: String,
    pub description: Option<String>,
    pub duration: i32,
    pub rating: Option<String>,
    pub genres: Vec<Option<String>>,
    pub cast_members: Vec<Option<String>>,
    pub director: Option<String>,
    pub poster_url: Option<String>,
    pub backdrop_url: Option<String>,
    pub trailer_url: Option<String>,
    pub release_date: Option<NaiveDate>,
    pub status: MovieStatus,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub age_rating_system: Option<String>,
    pub age_rating_code: Option<String>,
    pub age_rating_min_age: Option<i32>,
}

impl Movie {
    pub fn age_rating(&self) -> Option<crate::catalog::age_rating::AgeRating> {
        crate::catalog::age_rating::AgeRating::from_columns(
            self.age_rating_system.as_deref(),
            self.age_rating_code.as_deref(),
            self.age_rating_min_age,
        )
    }
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = theaters, check_for_backend(diesel::pg::Pg))]
pub struct Theater {
    pub id: Uuid,
    pub name: String,
    pub location: String,
    pub timezone: String,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = screens, check_for_backend(diesel::pg::Pg))]
pub struct Screen {
    pub id: Uuid,
    pub theater_id: Uuid,
    pub screen_number: i32,
    pub total_seats: i32,
    pub seat_layout: serde_json::Value,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Clone, Queryable, QueryableByName, Selectable)]
#[diesel(table_name = showtimes, check_for_backend(diesel::pg::Pg))]
pub struct Showtime {
    pub id: Uuid,
    pub movie_id: Uuid,
    pub screen_id: Uuid,
    pub start_time: DateTime<Utc>,
    pub end_time: DateTime<Utc>,
    pub base_price: Decimal,
    pub blocked_seats: Vec<Option<String>>,
    pub created_at: DateTime<Utc>,
    pub ticket_prices: serde_json::Value,
    /// `scheduled`, or `cancelled` (`cancelShowtime`).
    pub status: String,
    pub cancelled_at: Option<DateTime<Utc>>,
    pub cancel_reason: Option<String>,
    /// When it last moved (time or screen) by `updateShowtime`.
    pub rescheduled_at: Option<DateTime<Utc>>,
    /// Customers hold its seats from then on (`None`: from its creation).
    pub on_sale_at: Option<DateTime<Utc>>,
    /// Customers are let in from a queue when it goes on sale (`sale_queue`).
    pub queue: bool,
    /// Buyers let in a minute; the server's default when `None`.
    pub queue_rate: Option<i32>,
}

pub const SCHEDULED: &str = "scheduled";
pub const CANCELLED: &str = "cancelled";

impl Showtime {
    pub fn is_cancelled(&self) -> bool {
        self.status == CANCELLED
    }

    /// Whether seats of it may be held, sold or exchanged to now: not once it has
    /// started, nor once it is cancelled (`BAD_USER_INPUT` naming `showtimeId`).
    pub fn check_on_sale(&self, now: DateTime<Utc>) -> Result<(), crate::error::AppError> {
        if self.is_cancelled() {
            return Err(crate::error::AppError::bad_input(
                "showtimeId",
                "this showtime was cancelled",
            ));
        }
        if self.start_time <= now {
            return Err(crate::error::AppError::bad_input(
                "showtimeId",
                "this showtime has already started",
            ));
        }
        Ok(())
    }

    pub fn ticket_prices(&self) -> crate::catalog::ticket_prices::TicketPrices {
        crate::catalog::ticket_prices::TicketPrices::from_stored(&self.ticket_prices)
    }
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = snacks, check_for_backend(diesel::pg::Pg))]
pub struct Snack {
    pub id: Uuid,
    pub name: String,
    pub description: Option<String>,
    pub price: Decimal,
    pub category: String,
    pub image_url: Option<String>,
    pub available: bool,
    pub created_at: DateTime<Utc>,
}

/// Postgres arrays may hold NULLs in principle; ours never do, and a NULL is skipped.
pub fn texts(values: &[Option<String>]) -> Vec<String> {
    values.iter().flatten().cloned().collect()
}
