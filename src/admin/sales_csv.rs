//! The sales export (`GET /api/admin/reports/sales.csv?from=&to=`): one row per sold
//! booking made in a range of UTC days (confirmed, used, or cancelled after it was
//! paid, with what went back), oldest first, for a spreadsheet.
//!
//! Read a page at a time (keyset on the booking's time and id, so a long range never
//! holds a cursor or a connection while the client reads) and written with the `csv`
//! crate. A UTF-8 byte-order mark leads, so that spreadsheets read accents right.
//! Text cells that a spreadsheet would take for a formula (`=`, `+`, `-`, `@`, tab,
//! carriage return first) are prefixed with `'`: film and cinema names are typed by
//! people (OWASP's "CSV injection").

use bytes::Bytes;
use chrono::{DateTime, NaiveDate, SecondsFormat, Utc};
use diesel::sql_types::{Date, Integer, Numeric, Text, Timestamptz, Uuid as SqlUuid};
use diesel_async::RunQueryDsl;
use futures_util::Stream;
use rust_decimal::Decimal;
use uuid::Uuid;

use crate::app::AppState;
use crate::error::{AppError, AppResult};
use crate::money::{Currency, Money};

/// Rows read per page.
const PAGE: i64 = 500;

const HEADER: [&str; 17] = [
    "booking_reference",
    "booked_at",
    "status",
    "sale_channel",
    "paid_by",
    "film",
    "cinema",
    "screen",
    "starts_at",
    "tickets",
    "voucher",
    "total",
    "discount",
    "final",
    "refunded",
    "net",
    "currency",
];

#[derive(diesel::QueryableByName)]
struct Row {
    #[diesel(sql_type = SqlUuid)]
    id: Uuid,
    #[diesel(sql_type = Text)]
    booking_reference: String,
    #[diesel(sql_type = Timestamptz)]
    created_at: DateTime<Utc>,
    #[diesel(sql_type = Text)]
    status: String,
    #[diesel(sql_type = Text)]
    sale_channel: String,
    #[diesel(sql_type = Text)]
    paid_by: String,
    #[diesel(sql_type = Text)]
    film: String,
    #[diesel(sql_type = Text)]
    cinema: String,
    #[diesel(sql_type = Integer)]
    screen: i32,
    #[diesel(sql_type = Timestamptz)]
    starts_at: DateTime<Utc>,
    #[diesel(sql_type = Text)]
    tickets: String,
    #[diesel(sql_type = Text)]
    voucher: String,
    #[diesel(sql_type = Numeric)]
    total: Decimal,
    #[diesel(sql_type = Numeric)]
    discount: Decimal,
    #[diesel(sql_type = Numeric)]
    final_amount: Decimal,
    #[diesel(sql_type = Numeric)]
    refunded: Decimal,
    #[diesel(sql_type = Text)]
    currency: String,
}

async fn page(
    app: &AppState,
    from: NaiveDate,
    to: NaiveDate,
    after: Option<(DateTime<Utc>, Uuid)>,
) -> AppResult<Vec<Row>> {
    let mut conn = app.db().await?;
    // Before any booking (Postgres has no room for chrono's own minimum).
    let (at, id) = after.unwrap_or((DateTime::<Utc>::UNIX_EPOCH, Uuid::nil()));
    Ok(diesel::sql_query(
        "SELECT b.id, b.booking_reference, b.created_at, b.status::text AS status, b.sale_channel, \
                CASE WHEN b.sale_channel = 'online' THEN 'online' ELSE coalesce( \
                    (SELECT p.payment_method FROM payments p WHERE p.booking_id = b.id \
                     ORDER BY p.created_at LIMIT 1), 'cash') END AS paid_by, \
                m.title AS film, t.name AS cinema, sc.screen_number AS screen, \
                s.start_time AS starts_at, \
                coalesce((SELECT string_agg(bs.seat_number || ' ' || bs.ticket_type, '; ' \
                          ORDER BY bs.seat_number) FROM booking_seats bs \
                          WHERE bs.booking_id = b.id), '') AS tickets, \
                coalesce(b.voucher_code, '') AS voucher, b.total_amount AS total, \
                b.discount_amount AS discount, b.final_amount, \
                coalesce((SELECT sum(r.amount) FROM refunds r WHERE r.booking_id = b.id \
                          AND r.status = 'succeeded'), 0) AS refunded, b.currency \
         FROM bookings b JOIN showtimes s ON s.id = b.showtime_id \
         JOIN movies m ON m.id = s.movie_id JOIN screens sc ON sc.id = s.screen_id \
         JOIN theaters t ON t.id = sc.theater_id \
         WHERE b.created_at >= $1::date::timestamp AT TIME ZONE 'UTC' \
           AND b.created_at < ($2::date + 1)::timestamp AT TIME ZONE 'UTC' \
           AND (b.status IN ('confirmed', 'used') OR (b.status = 'cancelled' AND EXISTS ( \
                SELECT 1 FROM payments p WHERE p.booking_id = b.id \
                AND p.status IN ('succeeded', 'partially_refunded', 'refunded')))) \
           AND (b.created_at, b.id) > ($3, $4) \
         ORDER BY b.created_at, b.id LIMIT $5",
    )
    .bind::<Date, _>(from)
    .bind::<Date, _>(to)
    .bind::<Timestamptz, _>(at)
    .bind::<SqlUuid, _>(id)
    .bind::<diesel::sql_types::BigInt, _>(PAGE)
    .load(&mut conn)
    .await?)
}

/// A text cell a spreadsheet would run as a formula, made inert.
fn inert(text: &str) -> String {
    match text.chars().next() {
        Some('=' | '+' | '-' | '@' | '\t' | '\r') => format!("'{text}"),
        _ => text.to_owned(),
    }
}

fn encode(rows: &[Row], header: bool) -> AppResult<Vec<u8>> {
    let mut out = Vec::new();
    if header {
        out.extend_from_slice("\u{feff}".as_bytes());
    }
    let mut writer = csv::WriterBuilder::new()
        .terminator(csv::Terminator::CRLF)
        .from_writer(out);
    if header {
        writer.write_record(HEADER).map_err(AppError::internal)?;
    }
    for r in rows {
        let stamp = |t: DateTime<Utc>| t.to_rfc3339_opts(SecondsFormat::Secs, true);
        // Amounts at the currency's own minor unit: 0.00, 1800 (yen), 3.250 (dinar).
        let currency = Currency::parse(&r.currency).unwrap_or(Currency::USD);
        let money = |amount: Decimal| Money::new(amount, currency).amount().to_string();
        writer
            .write_record([
                inert(&r.booking_reference),
                stamp(r.created_at),
                r.status.clone(),
                r.sale_channel.clone(),
                r.paid_by.clone(),
                inert(&r.film),
                inert(&r.cinema),
                r.screen.to_string(),
                stamp(r.starts_at),
                inert(&r.tickets),
                inert(&r.voucher),
                money(r.total),
                money(r.discount),
                money(r.final_amount),
                money(r.refunded),
                money((r.final_amount - r.refunded).max(Decimal::ZERO)),
                r.currency.clone(),
            ])
            .map_err(AppError::internal)?;
    }
    writer.into_inner().map_err(AppError::internal)
}

/// The export as a stream of chunks: the header, then a page of rows at a time. A
/// failure halfway ends the stream with an error (the client sees a cut-off body, not
/// a complete-looking file).
pub fn stream(
    app: AppState,
    from: NaiveDate,
    to: NaiveDate,
) -> impl Stream<Item = Result<Bytes, std::io::Error>> {
    struct Cursor {
        app: AppState,
        after: Option<(DateTime<Utc>, Uuid)>,
        first: bool,
        done: bool,
    }
    let start = Cursor {
        app,
        after: None,
        first: true,
        done: false,
    };
    futures_util::stream::unfold(start, move |mut cursor| async move {
        if cursor.done {
            return None;
        }
        let chunk = match page(&cursor.app, from, to, cursor.after).await {
            Ok(rows) => {
                cursor.done = (rows.len() as i64) < PAGE;
                cursor.after = rows.last().map(|r| (r.created_at, r.id));
                encode(&rows, cursor.first)
            }
            Err(e) => Err(e),
        };
        cursor.first = false;
        let item = match chunk {
            Ok(bytes) => Ok(Bytes::from(bytes)),
            Err(e) => {
                cursor.done = true;
                tracing::error!(error = %crate::error::LogDisplay(&e), "sales export cut off");
                Err(std::io::Error::other("the sales export could not be read"))
            }
        };
        Some((item, cursor))
    })
}
