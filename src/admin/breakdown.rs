//! How sales split, for the analytics of a range of days and for one showtime's
//! report: by channel (online, counter), by ticket type, complimentary tickets and
//! voucher use. SQL aggregates over the sold bookings (confirmed and used) in scope:
//! made in the range (UTC days, as `analytics`), or of the showtime.

use chrono::NaiveDate;
use diesel::pg::Pg;
use diesel::sql_types::{BigInt, Date, Numeric, Text, Uuid as SqlUuid};
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use rust_decimal::Decimal;
use uuid::Uuid;

use crate::error::AppResult;

/// Which bookings: made in a range of days, or of one showtime.
#[derive(Debug, Clone, Copy)]
pub enum Scope {
    Days(NaiveDate, NaiveDate),
    Showtime(Uuid),
}

impl Scope {
    /// The condition on bookings `b`, with its parameters from `$1`.
    fn condition(&self) -> &'static str {
        match self {
            Self::Days(..) => {
                "b.created_at >= $1::date::timestamp AT TIME ZONE 'UTC' \
                 AND b.created_at < ($2::date + 1)::timestamp AT TIME ZONE 'UTC'"
            }
            Self::Showtime(_) => "b.showtime_id = $1",
        }
    }

    fn query(
        &self,
        sql: String,
    ) -> diesel::query_builder::BoxedSqlQuery<'static, Pg, diesel::query_builder::SqlQuery> {
        let query = diesel::sql_query(sql.replace("{scope}", self.condition())).into_boxed();
        match *self {
            Self::Days(from, to) => query.bind::<Date, _>(from).bind::<Date, _>(to),
            Self::Showtime(id) => query.bind::<SqlUuid, _>(id),
        }
    }
}

#[derive(Debug, Clone, PartialEq, diesel::QueryableByName)]
pub struct ChannelStats {
    /// `online` or `counter`.
    #[diesel(sql_type = Text)]
    pub channel: String,
    #[diesel(sql_type = BigInt)]
    pub bookings: i64,
    #[diesel(sql_type = BigInt)]
    pub seats: i64,
    /// What the bookings cost, less what went back.
    #[diesel(sql_type = Numeric)]
    pub revenue: Decimal,
}

#[derive(Debug, Clone, PartialEq, diesel::QueryableByName)]
pub struct TicketTypeStats {
    #[diesel(sql_type = Text)]
    pub ticket_type: String,
    #[diesel(sql_type = BigInt)]
    pub tickets: i64,
    /// The tickets' prices less their discounts.
    #[diesel(sql_type = Numeric)]
    pub revenue: Decimal,
}

#[derive(Debug, Clone, PartialEq, diesel::QueryableByName)]
pub struct VoucherStats {
    #[diesel(sql_type = Text)]
    pub code: String,
    #[diesel(sql_type = BigInt)]
    pub bookings: i64,
    #[diesel(sql_type = Numeric)]
    pub discount: Decimal,
}

#[derive(diesel::QueryableByName)]
struct Count {
    #[diesel(sql_type = BigInt)]
    n: i64,
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct Breakdown {
    pub channels: Vec<ChannelStats>,
    pub ticket_types: Vec<TicketTypeStats>,
    /// Tickets given free at the counter.
    pub complimentary_tickets: i64,
    pub vouchers: Vec<VoucherStats>,
}

const SOLD: &str = "b.status IN ('confirmed', 'used')";

pub async fn compute(conn: &mut AsyncPgConnection, scope: Scope) -> AppResult<Breakdown> {
    let channels: Vec<ChannelStats> = scope
        .query(format!(
            "SELECT b.sale_channel AS channel, count(*) AS bookings, \
                    COALESCE(sum(cardinality(b.seat_numbers)), 0)::bigint AS seats, \
                    COALESCE(sum(b.final_amount - COALESCE((SELECT sum(r.amount) FROM refunds r \
                        WHERE r.booking_id = b.id AND r.status = 'succeeded'), 0)), 0)::numeric(12, 2) \
                        AS revenue \
             FROM bookings b WHERE {{scope}} AND {SOLD} \
             GROUP BY b.sale_channel ORDER BY b.sale_channel"
        ))
        .load(conn)
        .await?;
    let ticket_types: Vec<TicketTypeStats> = scope
        .query(format!(
            "SELECT bs.ticket_type, count(*) AS tickets, \
                    sum(bs.price - bs.discount)::numeric(12, 2) AS revenue \
             FROM booking_seats bs JOIN bookings b ON b.id = bs.booking_id \
             WHERE {{scope}} AND {SOLD} \
             GROUP BY bs.ticket_type ORDER BY tickets DESC, bs.ticket_type"
        ))
        .load(conn)
        .await?;
    let complimentary: Count = scope
        .query(format!(
            "SELECT COALESCE(sum(cardinality(b.seat_numbers)), 0)::bigint AS n FROM bookings b \
             WHERE {{scope}} AND {SOLD} AND b.sale_channel = 'counter' \
               AND EXISTS (SELECT 1 FROM payments p WHERE p.booking_id = b.id \
                           AND p.payment_method = 'complimentary')"
        ))
        .get_result(conn)
        .await?;
    let vouchers: Vec<VoucherStats> = scope
        .query(format!(
            "SELECT b.voucher_code AS code, count(*) AS bookings, \
                    sum(b.voucher_discount)::numeric(12, 2) AS discount \
             FROM bookings b WHERE {{scope}} AND {SOLD} AND b.voucher_code IS NOT NULL \
             GROUP BY b.voucher_code ORDER BY bookings DESC, code"
        ))
        .load(conn)
        .await?;
    Ok(Breakdown {
        channels,
        ticket_types,
        complimentary_tickets: complimentary.n,
        vouchers,
    })
}
