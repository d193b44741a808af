//! Admin analytics through the public API, against figures worked out by hand from a
//! fixture of bookings, payments, refunds and showtimes.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::common;

use chrono::{DateTime, Utc};
use common::TestApp;
use common::fixtures as fx;
use diesel::sql_types::{Text, Uuid as SqlUuid};
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use screema::db::enums::{BookingStatus, Role};
use serde_json::{Value, json};
use uuid::Uuid;

const ANALYTICS: &str = "query($f: Date, $t: Date) { analytics(from: $f, to: $t) { \
    totalBookings totalRevenue { amount currency } occupancyRate \
    popularMovies { movie { title } bookings seatsSold revenue { amount } } \
    revenueByDate { date bookings revenue { amount } } } }";

fn at(s: &str) -> DateTime<Utc> {
    s.parse().unwrap()
}

/// A booking made at `made`, paid `paid` (and refunded `refunded`) in full.
#[allow(clippy::too_many_arguments)]
async fn booking(
    conn: &mut AsyncPgConnection,
    user: Uuid,
    showtime: Uuid,
    seats: &[&str],
    status: BookingStatus,
    amount: &str,
    made: &str,
    payment: Option<&str>,
    refunded: bool,
) {
    let id = fx::booking(conn, user, showtime, seats, status)
        .await
        .unwrap();
    diesel::sql_query(
        "UPDATE bookings SET total_amount = $2::numeric, final_amount = $2::numeric, \
         created_at = $3::timestamptz WHERE id = $1",
    )
    .bind::<SqlUuid, _>(id)
    .bind::<Text, _>(amount)
    .bind::<Text, _>(made)
    .execute(conn)
    .await
    .unwrap();
    if let Some(status) = payment {
        diesel::sql_query(
            "INSERT INTO payments (booking_id, amount, status) \
             VALUES ($1, $2::numeric, $3::payment_status)",
        )
        .bind::<SqlUuid, _>(id)
        .bind::<Text, _>(amount)
        .bind::<Text, _>(status)
        .execute(conn)
        .await
        .unwrap();
    }
    if refunded {
        diesel::sql_query(
            "INSERT INTO refunds (booking_id, payment_id, amount, status) \
             SELECT $1, id, amount, 'succeeded' FROM payments WHERE booking_id = $1",
        )
        .bind::<SqlUuid, _>(id)
        .execute(conn)
        .await
        .unwrap();
    }
}

async fn fixture(app: &TestApp) {
    let mut conn = app.conn().await;
    let c = &mut conn;
    let theater = fx::theater(c, "Rialto", "UTC").await;
    let row: Vec<Value> = (1..=10)
        .map(|n| json!({"number": n, "kind": "STANDARD"}))
        .collect();
    let layout = json!({"rows": [{"label": "A", "seats": row}]});
    let screen = fx::screen(c, theater, 1, layout).await;
    let alpha = fx::movie(
        c,
        fx::MovieSpec {
            title: "Alpha",
            ..Default::default()
        },
    )
    .await;
    let beta = fx::movie(
        c,
        fx::MovieSpec {
            title: "Beta",
            ..Default::default()
        },
    )
    .await;
    let s1 = fx::showtime(c, alpha, screen, at("2026-03-10T18:00:00Z"), "10.00").await;
    let s2 = fx::showtime(c, beta, screen, at("2026-03-11T18:00:00Z"), "10.00").await;
    let s3 = fx::showtime(c, alpha, screen, at("2026-04-20T18:00:00Z"), "10.00").await;
    let u = fx::user(c, Role::Customer).await;
    use BookingStatus::*;
    let ok = Some("succeeded");
    booking(
        c,
        u,
        s1,
        &["A1", "A2"],
        Confirmed,
        "20.00",
        "2026-03-09T10:00:00Z",
        ok,
        false,
    )
    .await;
    booking(
        c,
        u,
        s1,
        &["A3"],
        Used,
        "10.00",
        "2026-03-10T12:00:00Z",
        ok,
        false,
    )
    .await;
    booking(
        c,
        u,
        s2,
        &["A1", "A2", "A3"],
        Confirmed,
        "30.00",
        "2026-03-10T23:30:00Z",
        ok,
        false,
    )
    .await;
    booking(
        c,
        u,
        s2,
        &["A4"],
        Cancelled,
        "10.00",
        "2026-03-11T09:00:00Z",
        Some("refunded"),
        true,
    )
    .await;
    booking(
        c,
        u,
        s2,
        &["A5"],
        Pending,
        "10.00",
        "2026-03-11T10:00:00Z",
        None,
        false,
    )
    .await;
    // Made in the range for a showtime after it; made after the range for one in it.
    booking(
        c,
        u,
        s3,
        &["A1"],
        Confirmed,
        "10.00",
        "2026-03-12T08:00:00Z",
        ok,
        false,
    )
    .await;
    booking(
        c,
        u,
        s1,
        &["A4"],
        Confirmed,
        "10.00",
        "2026-03-13T08:00:00Z",
        ok,
        false,
    )
    .await;
}

#[tokio::test]
async fn analytics_match_the_figures_worked_out_by_hand() {
    let app = TestApp::new().await;
    fixture(&app).await;
    let admin = app.with_user(Role::Admin).await;
    let r = app
        .gql_as(
            &admin.token,
            ANALYTICS,
            json!({"f": "2026-03-09", "t": "2026-03-12"}),
        )
        .await;
    let a = &r.data()["analytics"];
    // Sold: the two confirmed, the used one, and the one for April's showtime.
    assert_eq!(a["totalBookings"], 4);
    // 20 + 10 + 30 + (10 − 10 refunded) + 10.
    assert_eq!(
        a["totalRevenue"],
        json!({"amount": "70.00", "currency": "USD"})
    );
    // Showtimes in the range: 10 + 10 seats; sold for them: 2 + 1 + 1 (made later) + 3.
    assert_eq!(a["occupancyRate"], 0.35);
    assert_eq!(
        a["popularMovies"],
        json!([
            {"movie": {"title": "Alpha"}, "bookings": 3, "seatsSold": 4, "revenue": {"amount": "40.00"}},
            {"movie": {"title": "Beta"}, "bookings": 1, "seatsSold": 3, "revenue": {"amount": "30.00"}}
        ])
    );
    assert_eq!(
        a["revenueByDate"],
        json!([
            {"date": "2026-03-09", "bookings": 1, "revenue": {"amount": "20.00"}},
            {"date": "2026-03-10", "bookings": 2, "revenue": {"amount": "40.00"}},
            {"date": "2026-03-11", "bookings": 0, "revenue": {"amount": "0.00"}},
            {"date": "2026-03-12", "bookings": 1, "revenue": {"amount": "10.00"}}
        ])
    );

    // Without a range: the last 30 days, today included; nothing happened in them.
    let r = app.gql_as(&admin.token, ANALYTICS, json!({})).await;
    let days = r.data()["analytics"]["revenueByDate"]
        .as_array()
        .unwrap()
        .clone();
    assert_eq!(days.len(), 30);
    assert_eq!(
        days.last().unwrap()["date"],
        app.app.now().date_naive().to_string()
    );
    assert_eq!(r.data()["analytics"]["totalBookings"], 0);
    assert_eq!(r.data()["analytics"]["occupancyRate"], 0.0);
}

#[tokio::test]
async fn bad_ranges_and_other_roles_are_refused() {
    let app = TestApp::new().await;
    let admin = app.with_user(Role::Admin).await;
    let customer = app.with_user(Role::Customer).await;
    let r = app
        .gql_as(
            &admin.token,
            ANALYTICS,
            json!({"f": "2026-03-12", "t": "2026-03-09"}),
        )
        .await;
    assert_eq!((r.code(), r.field()), ("BAD_USER_INPUT", Some("from")));
    let r = app
        .gql_as(
            &admin.token,
            ANALYTICS,
            json!({"f": "2025-01-01", "t": "2026-01-02"}),
        )
        .await;
    assert_eq!((r.code(), r.field()), ("BAD_USER_INPUT", Some("to")));
    let r = app
        .gql_as(
            &admin.token,
            ANALYTICS,
            json!({"f": "2025-01-01", "t": "2026-01-01"}),
        )
        .await;
    assert_eq!(
        r.data()["analytics"]["revenueByDate"]
            .as_array()
            .unwrap()
            .len(),
        366
    );
    let r = app
        .gql_as(&admin.token, ANALYTICS, json!({"f": "2026-13-01"}))
        .await;
    assert_eq!((r.code(), r.field()), ("BAD_USER_INPUT", Some("from")));
    assert_eq!(
        app.gql_as(&customer.token, ANALYTICS, json!({}))
            .await
            .code(),
        "FORBIDDEN"
    );
    assert_eq!(
        app.gql(ANALYTICS, json!({})).await.code(),
        "UNAUTHENTICATED"
    );
}
