//! Vouchers: codes an admin hands out for a discount on tickets. Three kinds: a
//! percentage off each ticket, an amount off the booking's tickets, or a set price per
//! ticket; each may be limited to some films, theaters or ticket types, to a window of
//! time, and to a number of uses in all and per customer.
//!
//! The rules, as customers and admins read them:
//! - A voucher's discount comes off the tickets it applies to, never the snacks, and
//!   before the loyalty discount, which is then worked out on what the tickets still
//!   cost (`booking::pricing`). A code that applies to none of the tickets is refused.
//! - A use is counted when the booking is made, in its own transaction, under a lock on
//!   the voucher's row: fifty buyers of a last use are counted one after another and
//!   one of them gets it (`uses::take`).
//! - A booking that ends unpaid, is cancelled or is refunded in full gives its use back
//!   (a trigger on bookings, `2026-12-06-000300_vouchers`).

pub mod apply;
pub mod graphql;
pub mod manage;
pub mod uses;

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use rust_decimal::Decimal;
use uuid::Uuid;

use crate::db::schema::vouchers;

/// What a voucher takes off.
#[derive(Debug, Clone, Copy, PartialEq, Eq, strum::IntoStaticStr, strum::EnumString)]
#[strum(serialize_all = "snake_case")]
pub enum Kind {
    /// `value` percent off each ticket it applies to.
    PercentOff,
    /// `value` off the tickets it applies to, together (shared out by price).
    AmountOff,
    /// Each ticket it applies to costs `value` (when it cost more).
    FixedPrice,
}

impl Kind {
    pub fn as_db_str(self) -> &'static str {
        self.into()
    }
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = vouchers, check_for_backend(diesel::pg::Pg))]
pub struct Voucher {
    pub id: Uuid,
    pub code: String,
    pub kind: String,
    pub value: Decimal,
    pub movie_ids: Vec<Option<Uuid>>,
    pub theater_ids: Vec<Option<Uuid>>,
    pub ticket_types: Vec<Option<String>>,
    pub valid_from: Option<DateTime<Utc>>,
    pub valid_until: Option<DateTime<Utc>>,
    pub total_uses: Option<i32>,
    pub uses_per_customer: Option<i32>,
    pub uses: i32,
    pub description: Option<String>,
    pub created_at: DateTime<Utc>,
}

impl Voucher {
    pub fn kind(&self) -> Kind {
        self.kind.parse().unwrap_or(Kind::PercentOff)
    }
}

/// Codes are compared as upper case, without surrounding spaces: `summer25` is
/// `SUMMER25`.
pub fn normalise_code(code: &str) -> String {
    code.trim().to_ascii_uppercase()
}

/// Whether a normalised code has a code's shape: 3 to 32 letters, digits, `_` or `-`,
/// starting with a letter or digit.
pub fn is_code(code: &str) -> bool {
    (3..=32).contains(&code.len())
        && code.starts_with(|c: char| c.is_ascii_alphanumeric())
        && code
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
}
