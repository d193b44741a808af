//! Booking rows as stored.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use rust_decimal::Decimal;
use uuid::Uuid;

use crate::catalog::model::texts;
use crate::db::enums::BookingStatus;
use crate::db::schema::{booking_seats, booking_snacks, bookings};
use crate::money::{Currency, Money};

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = bookings, check_for_backend(diesel::pg::Pg))]
pub struct Booking {
    pub id: Uuid,
    pub user_id: Uuid,
    pub showtime_id: Uuid,
    pub seat_numbers: Vec<Option<String>>,
    pub total_amount: Decimal,
    pub discount_amount: Decimal,
    pub final_amount: Decimal,
    pub currency: String,
    pub status: BookingStatus,
    pub booking_reference: String,
    pub payment_intent_id: Option<String>,
    pub qr_code: Option<String>,
    pub expires_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub voucher_code: Option<String>,
    pub voucher_discount: Decimal,
    /// `online` or `counter`.
    pub sale_channel: String,
    /// Who sold it at the counter.
    pub sold_by: Option<Uuid>,
}

impl Booking {
    /// The outbox effect for this booking's seats having changed in Postgres (sold,
    /// or freed): bring Redis and the live maps in line.
    pub fn seats_effect(&self) -> crate::outbox::Effect {
        crate::outbox::Effect::Seats {
            showtime: self.showtime_id,
            seats: self.seats(),
            used_lock: None,
        }
    }

    pub fn seats(&self) -> Vec<String> {
        texts(&self.seat_numbers)
    }

    /// The booking's currency (written from the validated configuration).
    pub fn money_currency(&self) -> Currency {
        Currency::parse(&self.currency).unwrap_or(Currency::USD)
    }

    /// An amount in the booking's currency.
    pub fn money(&self, amount: Decimal) -> Money {
        Money::new(amount, self.money_currency())
    }
}

/// A seat of a booking, sold as a ticket type at a price, with its share of the
/// booking's discounts (`booking::pricing`).
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = booking_seats, check_for_backend(diesel::pg::Pg))]
pub struct BookingTicket {
    pub booking_id: Uuid,
    pub seat_number: String,
    pub ticket_type: String,
    pub price: Decimal,
    pub discount: Decimal,
    /// The voucher's part of `discount`.
    pub voucher_discount: Decimal,
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = booking_snacks, check_for_backend(diesel::pg::Pg))]
pub struct BookingSnack {
    pub id: Uuid,
    pub booking_id: Uuid,
    pub snack_id: Uuid,
    pub quantity: i32,
    pub unit_price: Decimal,
    pub total_price: Decimal,
}
