//! Rows written straight into a test's database, for the states the API cannot
//! create yet (or should not have to, to test a reader).

use chrono::{DateTime, Duration, NaiveDate, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use rust_decimal::Decimal;
use screema::catalog::layout::SeatLayout;
use screema::db::enums::{BookingStatus, MovieStatus, Role};
use screema::db::schema::*;
use serde_json::{Value, json};
use uuid::Uuid;

pub fn dec(s: &str) -> Decimal {
    s.parse().unwrap()
}

/// Rows A and B: A1 A2 | gap | A3 (accessible); B1 B2 premium ×1.50, B3 couple ×2.00.
pub fn small_layout() -> Value {
    json!({"rows": [
        {"label": "A", "seats": [{"number": 1, "kind": "STANDARD"}, {"number": 2, "kind": "STANDARD"}, null,
                                 {"number": 3, "kind": "ACCESSIBLE"}]},
        {"label": "B", "seats": [{"number": 1, "kind": "PREMIUM", "priceMultiplier": "1.50"},
                                 {"number": 2, "kind": "PREMIUM", "priceMultiplier": "1.50"},
                                 {"number": 3, "kind": "COUPLE", "priceMultiplier": "2.00"}]}
    ]})
}

pub async fn theater(conn: &mut AsyncPgConnection, name: &str, timezone: &str) -> Uuid {
    diesel::insert_into(theaters::table)
        .values((
            theaters::name.eq(name),
            theaters::location.eq("1 Main St"),
            theaters::timezone.eq(timezone),
        ))
        .returning(theaters::id)
        .get_result(conn)
        .await
        .unwrap()
}

pub async fn screen(
    conn: &mut AsyncPgConnection,
    theater: Uuid,
    number: i32,
    layout: Value,
) -> Uuid {
    let parsed = SeatLayout::parse(&layout, "seatLayout").unwrap();
    diesel::insert_into(screens::table)
        .values((
            screens::theater_id.eq(theater),
            screens::screen_number.eq(number),
            screens::total_seats.eq(parsed.total_seats() as i32),
            screens::seat_layout.eq(layout),
        ))
        .returning(screens::id)
        .get_result(conn)
        .await
        .unwrap()
}

pub struct MovieSpec<'a> {
    pub title: &'a str,
    pub status: MovieStatus,
    pub genres: &'a [&'a str],
    pub cast: &'a [&'a str],
    pub director: &'a str,
    pub release: Option<NaiveDate>,
}

impl Default for MovieSpec<'_> {
    fn default() -> Self {
        Self {
            title: "Untitled",
            status: MovieStatus::NowShowing,
            genres: &["Drama"],
            cast: &["Ann Actor"],
            director: "Dee Rector",
            release: None,
        }
    }
}

pub async fn movie(conn: &mut AsyncPgConnection, spec: MovieSpec<'_>) -> Uuid {
    let texts = |v: &[&str]| v.iter().map(|s| Some(s.to_string())).collect::<Vec<_>>();
    diesel::insert_into(movies::table)
        .values((
            movies::title.eq(spec.title),
            movies::duration.eq(100),
            movies::genres.eq(texts(spec.genres)),
            movies::cast_members.eq(texts(spec.cast)),
            movies::director.eq(spec.director),
            movies::status.eq(spec.status),
            movies::release_date.eq(spec.release),
        ))
        .returning(movies::id)
        .get_result(conn)
        .await
        .unwrap()
}

pub async fn showtime(
    conn: &mut AsyncPgConnection,
    movie: Uuid,
    screen: Uuid,
    start: DateTime<Utc>,
    price: &str,
) -> Uuid {
    showtime_blocking(conn, movie, screen, start, price, &[]).await
}

pub async fn showtime_blocking(
    conn: &mut AsyncPgConnection,
    movie: Uuid,
    screen: Uuid,
    start: DateTime<Utc>,
    price: &str,
    blocked: &[&str],
) -> Uuid {
    diesel::insert_into(showtimes::table)
        .values((
            showtimes::movie_id.eq(movie),
            showtimes::screen_id.eq(screen),
            showtimes::start_time.eq(start),
            showtimes::end_time.eq(start + Duration::minutes(100)),
            showtimes::base_price.eq(dec(price)),
            showtimes::blocked_seats.eq(blocked
                .iter()
                .map(|s| Some(s.to_string()))
                .collect::<Vec<_>>()),
        ))
        .returning(showtimes::id)
        .get_result(conn)
        .await
        .unwrap()
}

pub async fn user(conn: &mut AsyncPgConnection, role: Role) -> Uuid {
    let email = format!("{}@example.test", Uuid::new_v4().simple());
    diesel::insert_into(users::table)
        .values((
            users::email.eq(email),
            users::password_hash.eq("not-a-real-hash"),
            users::full_name.eq("Test Person"),
            users::role.eq(role),
        ))
        .returning(users::id)
        .get_result(conn)
        .await
        .unwrap()
}

/// A booking with one seat row per seat, as the booking flow will write it.
pub async fn booking(
    conn: &mut AsyncPgConnection,
    user: Uuid,
    showtime: Uuid,
    seats: &[&str],
    status: BookingStatus,
) -> Result<Uuid, diesel::result::Error> {
    let id = Uuid::new_v4();
    diesel::insert_into(bookings::table)
        .values((
            bookings::id.eq(id),
            bookings::user_id.eq(user),
            bookings::showtime_id.eq(showtime),
            bookings::seat_numbers.eq(seats
                .iter()
                .map(|s| Some(s.to_string()))
                .collect::<Vec<_>>()),
            bookings::total_amount.eq(dec("10.00")),
            bookings::final_amount.eq(dec("10.00")),
            bookings::status.eq(status),
            bookings::booking_reference.eq(&id.simple().to_string()[..8].to_uppercase()),
        ))
        .execute(conn)
        .await?;
    for (i, seat) in seats.iter().enumerate() {
        // The booking's 10.00 on its first ticket, so that its lines add up.
        let price = if i == 0 { dec("10.00") } else { dec("0.00") };
        diesel::insert_into(booking_seats::table)
            .values((
                booking_seats::booking_id.eq(id),
                booking_seats::showtime_id.eq(showtime),
                booking_seats::status.eq(status),
                booking_seats::seat_number.eq(*seat),
                booking_seats::price.eq(price),
            ))
            .execute(conn)
            .await?;
    }
    Ok(id)
}

pub async fn snack(
    conn: &mut AsyncPgConnection,
    name: &str,
    category: &str,
    price: &str,
    available: bool,
) -> Uuid {
    diesel::insert_into(snacks::table)
        .values((
            snacks::name.eq(name),
            snacks::category.eq(category),
            snacks::price.eq(dec(price)),
            snacks::available.eq(available),
        ))
        .returning(snacks::id)
        .get_result(conn)
        .await
        .unwrap()
}

/// A room of one row, A1..A`seats`, all STANDARD, and a showtime in it at 10.00.
pub async fn one_row_showtime(
    conn: &mut AsyncPgConnection,
    seats: u16,
    blocked: &[&str],
    start: DateTime<Utc>,
) -> Uuid {
    let row: Vec<Value> = (1..=seats)
        .map(|n| json!({"number": n, "kind": "STANDARD"}))
        .collect();
    let theater = theater(conn, "One Row", "UTC").await;
    let screen = screen(
        conn,
        theater,
        1,
        json!({"rows": [{"label": "A", "seats": row}]}),
    )
    .await;
    let movie = movie(conn, MovieSpec::default()).await;
    showtime_blocking(conn, movie, screen, start, "10.00", blocked).await
}
