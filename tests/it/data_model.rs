//! The guarantees the database itself keeps, whatever the application does.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::common;

use chrono::{Duration, Utc};
use common::TestApp;
use common::fixtures::{self as fx, MovieSpec};
use diesel::prelude::*;
use diesel::result::{DatabaseErrorKind, Error};
use diesel_async::RunQueryDsl;
use screema::db::enums::{BookingStatus, Role};
use screema::db::schema::{booking_seats, bookings};

fn is_violation(result: Result<impl std::fmt::Debug, Error>, kind: &str) {
    match result {
        Err(Error::DatabaseError(k, info)) => {
            let matches = match kind {
                "unique" => matches!(k, DatabaseErrorKind::UniqueViolation),
                "check" => matches!(k, DatabaseErrorKind::CheckViolation),
                _ => info.constraint_name() == Some(kind),
            };
            assert!(matches, "expected {kind}, got {k:?}: {}", info.message());
        }
        other => panic!("expected a {kind} violation, got {other:?}"),
    }
}

#[tokio::test]
async fn a_seat_has_at_most_one_live_booking() {
    let app = TestApp::new().await;
    let mut conn = app.conn().await;
    let theater = fx::theater(&mut conn, "T", "UTC").await;
    let screen = fx::screen(&mut conn, theater, 1, fx::small_layout()).await;
    let movie = fx::movie(&mut conn, MovieSpec::default()).await;
    let showtime = fx::showtime(
        &mut conn,
        movie,
        screen,
        Utc::now() + Duration::days(2),
        "10.00",
    )
    .await;
    let alice = app.with_user(Role::Customer).await.id;
    let bob = app.with_user(Role::Customer).await.id;

    let first = fx::booking(
        &mut conn,
        alice,
        showtime,
        &["A1", "A2"],
        BookingStatus::Pending,
    )
    .await
    .unwrap();
    is_violation(
        fx::booking(&mut conn, bob, showtime, &["A2"], BookingStatus::Pending).await,
        "unique",
    );
    is_violation(
        fx::booking(&mut conn, bob, showtime, &["A1"], BookingStatus::Confirmed).await,
        "unique",
    );

    // Cancelling the booking moves its seats' status with it and frees them.
    diesel::update(bookings::table.find(first))
        .set(bookings::status.eq(BookingStatus::Cancelled))
        .execute(&mut conn)
        .await
        .unwrap();
    let statuses: Vec<BookingStatus> = booking_seats::table
        .filter(booking_seats::booking_id.eq(first))
        .select(booking_seats::status)
        .load(&mut conn)
        .await
        .unwrap();
    assert_eq!(
        statuses,
        [BookingStatus::Cancelled, BookingStatus::Cancelled]
    );
    fx::booking(
        &mut conn,
        bob,
        showtime,
        &["A1", "A2"],
        BookingStatus::Confirmed,
    )
    .await
    .unwrap();

    // A seat row cannot claim another showtime than its booking's.
    let other = fx::showtime(
        &mut conn,
        movie,
        screen,
        Utc::now() + Duration::days(3),
        "10.00",
    )
    .await;
    let result = diesel::insert_into(booking_seats::table)
        .values((
            booking_seats::booking_id.eq(first),
            booking_seats::showtime_id.eq(other),
            booking_seats::status.eq(BookingStatus::Cancelled),
            booking_seats::seat_number.eq("B1"),
            booking_seats::price.eq(fx::dec("10.00")),
        ))
        .execute(&mut conn)
        .await;
    assert!(
        matches!(
            result,
            Err(Error::DatabaseError(
                DatabaseErrorKind::ForeignKeyViolation,
                _
            ))
        ),
        "{result:?}"
    );
}

#[tokio::test]
async fn showtimes_on_one_screen_never_overlap_and_money_adds_up() {
    let app = TestApp::new().await;
    let mut conn = app.conn().await;
    let theater = fx::theater(&mut conn, "T", "UTC").await;
    let screen = fx::screen(&mut conn, theater, 1, fx::small_layout()).await;
    let screen2 = fx::screen(&mut conn, theater, 2, fx::small_layout()).await;
    let movie = fx::movie(&mut conn, MovieSpec::default()).await;
    let start = Utc::now() + Duration::days(2);
    fx::showtime(&mut conn, movie, screen, start, "10.00").await;
    // 100-minute films: one starting an hour later on the same screen overlaps.
    let overlapping = diesel::insert_into(screema::db::schema::showtimes::table)
        .values((
            screema::db::schema::showtimes::movie_id.eq(movie),
            screema::db::schema::showtimes::screen_id.eq(screen),
            screema::db::schema::showtimes::start_time.eq(start + Duration::hours(1)),
            screema::db::schema::showtimes::end_time.eq(start + Duration::hours(3)),
            screema::db::schema::showtimes::base_price.eq(fx::dec("10.00")),
        ))
        .execute(&mut conn)
        .await;
    is_violation(overlapping, "showtimes_no_overlap");
    // The same time on another screen, or right after on the same one, is fine.
    fx::showtime(
        &mut conn,
        movie,
        screen2,
        start + Duration::hours(1),
        "10.00",
    )
    .await;
    fx::showtime(
        &mut conn,
        movie,
        screen,
        start + Duration::minutes(100),
        "10.00",
    )
    .await;

    let negative = diesel::sql_query(format!(
        "INSERT INTO showtimes (movie_id, screen_id, start_time, end_time, base_price) VALUES ('{movie}', '{screen2}', now() + interval '9 days', now() + interval '9 days 2 hours', -1)"
    ))
    .execute(&mut conn)
    .await;
    is_violation(negative, "check");

    let user = fx::user(&mut conn, Role::Customer).await;
    let showtime = fx::showtime(
        &mut conn,
        movie,
        screen2,
        start + Duration::days(1),
        "10.00",
    )
    .await;
    let bad_total = diesel::insert_into(bookings::table)
        .values((
            bookings::user_id.eq(user),
            bookings::showtime_id.eq(showtime),
            bookings::seat_numbers.eq(vec![Some("A1".to_owned())]),
            bookings::total_amount.eq(fx::dec("20.00")),
            bookings::discount_amount.eq(fx::dec("1.00")),
            bookings::final_amount.eq(fx::dec("20.00")),
            bookings::booking_reference.eq("BADTOTAL"),
        ))
        .execute(&mut conn)
        .await;
    is_violation(bad_total, "check");
}
