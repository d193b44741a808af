//! `bestAvailableSeats` on hand-drawn rooms.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::common;

use chrono::Duration;
use common::TestApp;
use common::fixtures::{self as fx, MovieSpec};
use screema::db::enums::{BookingStatus, Role};
use serde_json::{Value, json};
use uuid::Uuid;

const BEST: &str = "query($s: ID!, $n: Int!, $k: SeatKind) { bestAvailableSeats(showtimeId: $s, count: $n, kind: $k) { number kind state price { amount } } }";

/// Rows as strings: `o` a seat, `P` premium (×1.50), `A` accessible, `.` an aisle.
pub(crate) fn room(rows: &[&str]) -> Value {
    let rows: Vec<Value> = rows
        .iter()
        .enumerate()
        .map(|(r, pattern)| {
            let mut n = 0;
            let seats: Vec<Value> = pattern
                .chars()
                .map(|c| match c {
                    '.' => Value::Null,
                    'P' => {
                        n += 1;
                        json!({"number": n, "kind": "PREMIUM", "priceMultiplier": "1.50"})
                    }
                    'A' => {
                        n += 1;
                        json!({"number": n, "kind": "ACCESSIBLE"})
                    }
                    _ => {
                        n += 1;
                        json!({"number": n, "kind": "STANDARD"})
                    }
                })
                .collect();
            json!({"label": ((b'A' + r as u8) as char).to_string(), "seats": seats})
        })
        .collect();
    json!({ "rows": rows })
}

pub(crate) async fn showtime(app: &TestApp, rows: &[&str]) -> Uuid {
    let mut conn = app.conn().await;
    let theater = fx::theater(&mut conn, "Best", "UTC").await;
    let screen = fx::screen(&mut conn, theater, 1, room(rows)).await;
    let movie = fx::movie(&mut conn, MovieSpec::default()).await;
    fx::showtime(
        &mut conn,
        movie,
        screen,
        app.app.now() + Duration::days(1),
        "10.00",
    )
    .await
}

async fn best(app: &TestApp, st: Uuid, n: i64, kind: Option<&str>) -> common::Gql {
    app.gql(BEST, json!({"s": st.to_string(), "n": n, "k": kind}))
        .await
}

fn numbers(r: &common::Gql) -> Vec<String> {
    r.data()["bestAvailableSeats"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["number"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn picks_the_centre_then_works_around_what_is_taken() {
    let app = TestApp::new().await;
    // Three rows with a centre aisle, premium seats in the middle of the back row.
    let st = showtime(&app, &["oooo.oooo", "oooo.oooo", "ooPP.PPoo"]).await;
    // Two seats: the aisle splits the centre, so the best pair sits beside it.
    let r = best(&app, st, 2, None).await;
    assert_eq!(numbers(&r), ["B3", "B4"]);
    assert_eq!(
        r.data()["bestAvailableSeats"][0],
        json!({"number": "B3", "kind": "STANDARD", "state": "AVAILABLE", "price": {"amount": "10.00"}})
    );

    // A booking takes B5 B6; someone holds B3 B4.
    let alice = app.with_user(Role::Customer).await;
    {
        let mut conn = app.conn().await;
        fx::booking(
            &mut conn,
            alice.id,
            st,
            &["B5", "B6"],
            BookingStatus::Confirmed,
        )
        .await
        .unwrap();
    }
    app.gql_as(&alice.token, "mutation($s: ID!) { lockSeats(input: {showtimeId: $s, seatNumbers: [\"B3\", \"B4\"]}) { lockToken } }", json!({"s": st.to_string()}))
        .await
        .data();
    let r = best(&app, st, 2, None).await;
    // A3 A4 and C3 C4 are equally far from the centre and from the middle row; the
    // tie goes to the row nearer the front.
    assert_eq!(numbers(&r), ["A3", "A4"]);

    // Premium only: the back row's premium pair beside the aisle.
    let r = best(&app, st, 2, Some("PREMIUM")).await;
    assert_eq!(numbers(&r), ["C3", "C4"]);
    assert_eq!(
        r.data()["bestAvailableSeats"][0]["price"]["amount"],
        "15.00"
    );
    // Never across the aisle: five in a row cannot be had in four-seat halves.
    assert_eq!(best(&app, st, 5, None).await.code(), "SEATS_UNAVAILABLE");
}

#[tokio::test]
async fn leaves_no_single_seat_stranded_when_it_can() {
    let app = TestApp::new().await;
    let st = showtime(&app, &["ooooooo"]).await;
    let alice = app.with_user(Role::Customer).await;
    {
        let mut conn = app.conn().await;
        fx::booking(&mut conn, alice.id, st, &["A1"], BookingStatus::Confirmed)
            .await
            .unwrap();
    }
    // A3 A4 would leave A2 alone between A1 and the block.
    assert_eq!(numbers(&best(&app, st, 2, None).await), ["A4", "A5"]);
}

#[tokio::test]
async fn refusals() {
    let app = TestApp::new().await;
    let st = showtime(&app, &["oo"]).await;
    let r = best(&app, st, 3, None).await;
    assert_eq!(r.code(), "SEATS_UNAVAILABLE");
    assert_eq!(r.error()["extensions"]["seats"], json!([]));
    for n in [0, -1, 11] {
        let r = best(&app, st, n, None).await;
        assert_eq!((r.code(), r.field()), ("BAD_USER_INPUT", Some("count")));
    }
    let r = best(&app, Uuid::new_v4(), 2, None).await;
    assert_eq!(
        (r.code(), r.field()),
        ("BAD_USER_INPUT", Some("showtimeId"))
    );
    let r = app.gql(BEST, json!({"s": "x", "n": 2})).await;
    assert_eq!(
        (r.code(), r.field()),
        ("BAD_USER_INPUT", Some("showtimeId"))
    );
    let r = best(&app, st, 1, Some("SOFA")).await;
    // Named by the argument the variable feeds.
    assert_eq!((r.code(), r.field()), ("BAD_USER_INPUT", Some("kind")));
}
