//! `holdBestAvailable`: the best block found and held in one step, as
//! `bestAvailableSeats` ranks blocks; accessible seats with companions; single seats
//! when adjacency is not asked for; and a crowd racing for the same room, in which no
//! seat is held twice and every buyer got the best block left at their instant.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::HashSet;

use crate::best_seats::{room, showtime};
use crate::common;

use chrono::Duration;
use common::flow::{create_booking, seat_states};
use common::{Gql, TestApp, TestUser};
use fred::prelude::*;
use screema::catalog::layout::{SeatLayout, SeatNumber};
use screema::db::enums::Role;
use screema::seating::best;
use serde_json::{Value, json};
use uuid::Uuid;

const HOLD: &str = "mutation($i: HoldBestAvailableInput!) { holdBestAvailable(input: $i) { \
    lockToken expiresAt lockedSeats } }";

async fn hold(app: &TestApp, user: &TestUser, input: Value) -> Gql {
    app.gql_as(&user.token, HOLD, json!({ "i": input })).await
}

fn seats(r: &Gql) -> Vec<String> {
    r.data()["holdBestAvailable"]["lockedSeats"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s.as_str().unwrap().to_owned())
        .collect()
}

fn state(states: &[(String, String)], seat: &str) -> String {
    states.iter().find(|(s, _)| s == seat).unwrap().1.clone()
}

#[tokio::test]
async fn holds_the_best_block_then_the_next_best_and_books_like_any_hold() {
    let app = TestApp::new().await;
    let st = showtime(&app, &["oooo.oooo", "oooo.oooo", "ooPP.PPoo"]).await;
    let (alice, bob) = (
        app.with_user(Role::Customer).await,
        app.with_user(Role::Customer).await,
    );
    let r = hold(
        &app,
        &alice,
        json!({"showtimeId": st.to_string(), "count": 2}),
    )
    .await;
    // As bestAvailableSeats ranks them: the pair beside the aisle, middle row.
    assert_eq!(seats(&r), ["B3", "B4"]);
    let token = r.data()["holdBestAvailable"]["lockToken"]
        .as_str()
        .unwrap()
        .to_owned();
    let states = seat_states(&app, st).await;
    assert_eq!(state(&states, "B3"), "HELD");
    assert_eq!(state(&states, "B4"), "HELD");

    // The next buyer gets the next best block, never a seat someone holds.
    let r = hold(
        &app,
        &bob,
        json!({"showtimeId": st.to_string(), "count": 2}),
    )
    .await;
    // Across the aisle (B6 B7 would strand B5).
    assert_eq!(seats(&r), ["B5", "B6"]);
    let r = hold(
        &app,
        &bob,
        json!({"showtimeId": st.to_string(), "count": 2, "kind": "PREMIUM"}),
    )
    .await;
    assert_eq!(seats(&r), ["C3", "C4"]);

    // A hold like any other: a booking is made from it.
    let booked = create_booking(&app, &alice, st, &["B3", "B4"], &token, json!([])).await;
    assert_eq!(
        booked.data()["createBooking"]["booking"]["status"],
        "PENDING"
    );
}

#[tokio::test]
async fn accessible_seats_come_with_companions_beside_them() {
    let app = TestApp::new().await;
    // The accessible spaces are at the row's ends.
    let st = showtime(&app, &["Aooooo", "oooooo", "ooooooA"]).await;
    let user = app.with_user(Role::Customer).await;
    let r = hold(
        &app,
        &user,
        json!({"showtimeId": st.to_string(), "count": 2, "accessibleSeats": 1}),
    )
    .await;
    // The better placed of the two: the middle row has none, A1 is as far as C7 from
    // the centre but nearer the middle row.
    let got = seats(&r);
    assert_eq!(got, ["A1", "A2"]);
    let r = hold(
        &app,
        &user,
        json!({"showtimeId": st.to_string(), "count": 3, "accessibleSeats": 1}),
    )
    .await;
    assert_eq!(seats(&r), ["C5", "C6", "C7"]);
    // None left with an accessible seat.
    let r = hold(
        &app,
        &user,
        json!({"showtimeId": st.to_string(), "count": 1, "accessibleSeats": 1}),
    )
    .await;
    assert_eq!(r.code(), "SEATS_UNAVAILABLE");
}

#[tokio::test]
async fn single_seats_only_when_adjacency_is_not_asked_for() {
    let app = TestApp::new().await;
    let st = showtime(&app, &["ooooo"]).await;
    let (taker, user) = (
        app.with_user(Role::Customer).await,
        app.with_user(Role::Customer).await,
    );
    // A2 and A4 taken: no two free seats side by side.
    for seat in ["A2", "A4"] {
        common::flow::lock(&app, &taker, st, &[seat]).await;
    }
    let r = hold(
        &app,
        &user,
        json!({"showtimeId": st.to_string(), "count": 2}),
    )
    .await;
    assert_eq!(r.code(), "SEATS_UNAVAILABLE");
    let r = hold(
        &app,
        &user,
        json!({"showtimeId": st.to_string(), "count": 2, "adjacent": false}),
    )
    .await;
    // The centre seat first, then the nearest.
    let mut got = seats(&r);
    got.sort();
    assert_eq!(got.len(), 2);
    assert!(got.contains(&"A3".to_owned()), "{got:?}");
}

#[tokio::test]
async fn bad_requests_name_their_field_and_hold_nothing() {
    let app = TestApp::builder()
        .env("MAX_SEATS_PER_USER", "4")
        .build()
        .await;
    let st = showtime(&app, &["oooooo", "oooooo"]).await;
    let user = app.with_user(Role::Customer).await;
    let s = st.to_string();
    for (input, field) in [
        (json!({"showtimeId": s, "count": 0}), "count"),
        (json!({"showtimeId": s, "count": -1}), "count"),
        (json!({"showtimeId": s, "count": 5}), "count"),
        (
            json!({"showtimeId": s, "count": 2, "accessibleSeats": 3}),
            "accessibleSeats",
        ),
        (
            json!({"showtimeId": s, "count": 2, "accessibleSeats": -1}),
            "accessibleSeats",
        ),
        (
            json!({"showtimeId": s, "count": 2, "accessibleSeats": 1, "kind": "PREMIUM"}),
            "accessibleSeats",
        ),
        (
            json!({"showtimeId": s, "count": 2, "accessibleSeats": 1, "adjacent": false}),
            "accessibleSeats",
        ),
        (json!({"showtimeId": "nope", "count": 2}), "showtimeId"),
    ] {
        let r = hold(&app, &user, input.clone()).await;
        assert_eq!(
            (r.code(), r.field()),
            ("BAD_USER_INPUT", Some(field)),
            "{input}"
        );
    }
    let r = app
        .gql(HOLD, json!({"i": {"showtimeId": s, "count": 2}}))
        .await;
    assert_eq!(r.code(), "UNAUTHENTICATED");
    // A no-such showtime, and one that has started, as for `lockSeats`.
    let r = hold(
        &app,
        &user,
        json!({"showtimeId": Uuid::new_v4().to_string(), "count": 2}),
    )
    .await;
    assert_eq!(
        (r.code(), r.field()),
        ("BAD_USER_INPUT", Some("showtimeId"))
    );
    let started = {
        let mut conn = app.conn().await;
        let theater = common::fixtures::theater(&mut conn, "Late", "UTC").await;
        let screen = common::fixtures::screen(&mut conn, theater, 1, room(&["oooo"])).await;
        let movie = common::fixtures::movie(&mut conn, Default::default()).await;
        common::fixtures::showtime(
            &mut conn,
            movie,
            screen,
            app.app.now() - Duration::minutes(5),
            "10.00",
        )
        .await
    };
    let r = hold(
        &app,
        &user,
        json!({"showtimeId": started.to_string(), "count": 2}),
    )
    .await;
    assert_eq!(
        (r.code(), r.field()),
        ("BAD_USER_INPUT", Some("showtimeId"))
    );
    // Nothing was held by any of them.
    let states = seat_states(&app, st).await;
    assert!(states.iter().all(|(_, s)| s == "AVAILABLE"), "{states:?}");
    // Over the cap with what one already holds: `count` again.
    hold(&app, &user, json!({"showtimeId": s, "count": 3}))
        .await
        .data();
    let r = hold(&app, &user, json!({"showtimeId": s, "count": 2})).await;
    assert_eq!((r.code(), r.field()), ("BAD_USER_INPUT", Some("count")));
}

/// A crowd asks for 2 to 4 seats each at once. Replaying the holds in the order Redis
/// made them (the versions on the showtime's channel), each is exactly the block that
/// `bestAvailableSeats` would have chosen from the seats as they were just before it:
/// so no seat is held twice, and no block strands a seat when another block existed.
#[tokio::test]
async fn a_crowd_gets_the_best_block_left_each_and_no_seat_twice() {
    let app = TestApp::new().await;
    let rows = [
        "oooooo.oooooooo.oooooo",
        "oooooo.oooooooo.oooooo",
        "oooooo.oooooooo.oooooo",
        "oooooo.oooooooo.oooooo",
        "oooooo.oooooooo.oooooo",
        "oooooo.oooooooo.oooooo",
    ];
    let layout = SeatLayout::parse(&room(&rows), "seatLayout").unwrap();
    let st = showtime(&app, &rows).await;
    // Every change on the showtime's channel, read as it comes (the client's own
    // buffer is small).
    let subscriber = app.redis().await;
    let mut messages = subscriber.message_rx();
    subscriber
        .subscribe(format!("{}:seatmap:{{{st}}}", app.prefix))
        .await
        .unwrap();
    let (tx, mut events) = tokio::sync::mpsc::unbounded_channel::<Value>();
    tokio::spawn(async move {
        while let Ok(message) = messages.recv().await {
            let text: String = message.value.convert().unwrap();
            if tx.send(serde_json::from_str(&text).unwrap()).is_err() {
                break;
            }
        }
    });

    let mut buyers = Vec::new();
    for i in 0..60 {
        buyers.push((app.with_user(Role::Customer).await, 2 + i % 3));
    }
    let answers = futures_util::future::join_all(buyers.iter().map(|(user, count)| {
        hold(
            &app,
            user,
            json!({"showtimeId": st.to_string(), "count": count}),
        )
    }))
    .await;
    let mut held = Vec::new();
    for (r, (_, count)) in answers.iter().zip(&buyers) {
        if r.body["errors"].is_null() {
            let got = seats(r);
            assert_eq!(got.len(), *count);
            held.push(got);
        } else {
            // Only when the room had no block of that size left.
            assert_eq!(r.code(), "SEATS_UNAVAILABLE", "{:?}", r.body);
        }
    }
    let all: Vec<&String> = held.iter().flatten().collect();
    let distinct: HashSet<&String> = all.iter().copied().collect();
    assert_eq!(all.len(), distinct.len(), "a seat held twice");
    assert!(held.len() >= 30, "only {} buyers got seats", held.len());

    // Replay, in version order.
    let mut taken: HashSet<String> = HashSet::new();
    let mut version = 0;
    for _ in 0..held.len() {
        let event = tokio::time::timeout(std::time::Duration::from_secs(5), events.recv())
            .await
            .unwrap()
            .unwrap();
        assert_eq!(event["v"], version + 1, "{event}");
        version += 1;
        let seats: Vec<String> = event["c"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| {
                assert_eq!(c[1], "HELD");
                c[0].as_str().unwrap().to_owned()
            })
            .collect();
        let expected = best::choose(&layout, seats.len(), best::Want::default(), |s| {
            !taken.contains(&s.to_string())
        })
        .unwrap();
        let expected: Vec<String> = expected.iter().map(SeatNumber::to_string).collect();
        assert_eq!(seats, expected, "hold at version {version}");
        taken.extend(seats);
    }
}
