//! A showtime's manifest for the front of house (`showtimeManifest`, operators and
//! admins): every sold seat with its booking, ticket type, how it was sold and paid,
//! and whether it was checked in, with the counts a duty manager asks for.
//!
//! One statement reads it from Postgres (the truth, not the seat map's Redis): the
//! live seat rows of the showtime with their booking, its first payment's method and
//! its check-in. Unpaid bookings' seats are counted apart, not listed as sold.

use chrono::{DateTime, Utc};
use diesel::sql_types::{Nullable, Text, Timestamptz, Uuid as SqlUuid};
use diesel_async::RunQueryDsl;
use uuid::Uuid;

use crate::app::App;
use crate::catalog::layout::SeatNumber;
use crate::error::{AppError, AppResult};

#[derive(Debug, Clone, diesel::QueryableByName)]
pub struct ManifestSeat {
    #[diesel(sql_type = Text)]
    pub seat_number: String,
    #[diesel(sql_type = Text)]
    pub ticket_type: String,
    #[diesel(sql_type = SqlUuid)]
    pub booking_id: Uuid,
    #[diesel(sql_type = Text)]
    pub booking_reference: String,
    /// `pending`, `confirmed` or `used`.
    #[diesel(sql_type = Text)]
    pub status: String,
    #[diesel(sql_type = Text)]
    pub customer_name: String,
    /// `online` or `counter`.
    #[diesel(sql_type = Text)]
    pub sale_channel: String,
    /// `online` (by card, through the gateway), or at the counter `cash`,
    /// `card_present` or `complimentary`.
    #[diesel(sql_type = Text)]
    pub paid_by: String,
    #[diesel(sql_type = Nullable<Timestamptz>)]
    pub checked_in_at: Option<DateTime<Utc>>,
    #[diesel(sql_type = Nullable<Text>)]
    pub checked_in_device: Option<String>,
}

pub struct Manifest {
    pub showtime: Uuid,
    /// Sold seats (paid or given), in seat order.
    pub seats: Vec<ManifestSeat>,
    /// Seats of bookings not paid yet.
    pub unpaid: usize,
    pub capacity: usize,
}

impl Manifest {
    pub fn checked_in(&self) -> usize {
        self.seats.iter().filter(|s| s.status == "used").count()
    }

    pub fn sold_by(&self, channel: &str) -> usize {
        self.seats
            .iter()
            .filter(|s| s.sale_channel == channel)
            .count()
    }

    pub fn paid_by(&self, method: &str) -> usize {
        self.seats.iter().filter(|s| s.paid_by == method).count()
    }
}

pub async fn manifest(app: &App, showtime: Uuid) -> AppResult<Manifest> {
    let room = crate::seating::rooms::room(app, showtime).await?;
    let mut conn = app.db().await?;
    let mut rows: Vec<ManifestSeat> = diesel::sql_query(
        "SELECT bs.seat_number, bs.ticket_type, b.id AS booking_id, b.booking_reference, \
                b.status::text AS status, u.full_name AS customer_name, b.sale_channel, \
                CASE WHEN b.sale_channel = 'online' THEN 'online' ELSE coalesce( \
                    (SELECT p.payment_method FROM payments p WHERE p.booking_id = b.id \
                     ORDER BY p.created_at LIMIT 1), 'cash') END AS paid_by, \
                ci.checked_in_at, ci.device_id AS checked_in_device \
         FROM booking_seats bs JOIN bookings b ON b.id = bs.booking_id \
         JOIN users u ON u.id = b.user_id \
         LEFT JOIN check_ins ci ON ci.booking_id = b.id \
         WHERE bs.showtime_id = $1 AND bs.status IN ('pending', 'confirmed', 'used')",
    )
    .bind::<SqlUuid, _>(showtime)
    .load(&mut conn)
    .await
    .map_err(AppError::from)?;
    let unpaid = rows.iter().filter(|s| s.status == "pending").count();
    rows.retain(|s| s.status != "pending");
    rows.sort_by_cached_key(|s| s.seat_number.parse::<SeatNumber>().ok());
    Ok(Manifest {
        showtime,
        seats: rows,
        unpaid,
        capacity: room.layout.total_seats(),
    })
}
