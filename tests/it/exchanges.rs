//! Exchanges through the API: a paid booking moves to the seats of the customer's hold,
//! at another showing of the same film or the same one, in one step; cheaper seats give
//! the difference back; the old seats are on sale again and the old ticket is void; a
//! competing buyer racing for the seats never sees them lost or sold twice.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::common;
use crate::ticket_types::{Room, room};

use chrono::{Duration, Utc};
use common::flow::{check_in, count, lock, pay, revoked, seat_states};
use common::{Gql, TestApp, TestUser};
use screema::db::enums::Role;
use serde_json::json;
use uuid::Uuid;

pub(crate) const EXCHANGE: &str = "mutation($i: ExchangeBookingInput!) { exchangeBooking(input: $i) { \
    id status seatNumbers qrCode finalAmount { amount } showtime { id } \
    tickets { seatNumber ticketType price { amount } } refunds { amount { amount } status seatNumbers reason } } }";
pub(crate) const BOOKING: &str = "query($id: ID!) { booking(id: $id) { status seatNumbers qrCode finalAmount { amount } showtime { id } } }";

pub(crate) async fn showtime_at(
    app: &TestApp,
    room: &Room,
    start: chrono::DateTime<Utc>,
    price: &str,
) -> Uuid {
    let r = app
        .gql_as(
            &room.admin.token,
            "mutation($i: CreateShowtimeInput!) { createShowtime(input: $i) { id } }",
            json!({"i": {"movieId": room.movie, "screenId": room.screen,
                         "startTime": start.to_rfc3339(), "basePrice": price}}),
        )
        .await;
    r.data()["createShowtime"]["id"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap()
}

/// A paid booking of `seats`; its id and ticket code.
pub(crate) async fn paid(
    app: &TestApp,
    buyer: &TestUser,
    showtime: Uuid,
    seats: &[&str],
) -> (String, String) {
    let token = lock(app, buyer, showtime, seats).await;
    let r = app
        .gql_as(
            &buyer.token,
            "mutation($i: CreateBookingInput!) { createBooking(input: $i) { booking { id } } }",
            json!({"i": {"showtimeId": showtime.to_string(), "lockToken": token, "seatNumbers": seats}}),
        )
        .await;
    let id = r.data()["createBooking"]["booking"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    pay(app, &id).await;
    let b = app.gql_as(&buyer.token, BOOKING, json!({"id": id})).await;
    let code = b.data()["booking"]["qrCode"].as_str().unwrap().to_owned();
    (id, code)
}

pub(crate) async fn exchange(
    app: &TestApp,
    user: &TestUser,
    booking: &str,
    showtime: Uuid,
    seats: &[&str],
    token: &str,
) -> Gql {
    app.gql_as(
        &user.token,
        EXCHANGE,
        json!({"i": {"bookingId": booking, "showtimeId": showtime.to_string(),
                     "seatNumbers": seats, "lockToken": token}}),
    )
    .await
}

pub(crate) fn state(states: &[(String, String)], seat: &str) -> String {
    states.iter().find(|(s, _)| s == seat).unwrap().1.clone()
}

pub(crate) fn app_builder() -> common::TestAppBuilder {
    TestApp::builder().env("SIMULATED_PAYMENT_DELAY_MS", "600000")
}

#[tokio::test]
async fn a_booking_moves_to_a_cheaper_showing_of_the_film_and_gets_the_difference_back() {
    let app = app_builder().build().await;
    let room = room(&app, None).await;
    let evening = showtime_at(&app, &room, Utc::now() + Duration::days(2), "10.00").await;
    let matinee = showtime_at(&app, &room, Utc::now() + Duration::days(3), "8.00").await;
    let buyer = app.with_user(Role::Customer).await;
    let (id, old_code) = paid(&app, &buyer, evening, &["A1", "A2"]).await;

    let token = lock(&app, &buyer, matinee, &["B1", "A3"]).await;
    let r = exchange(&app, &buyer, &id, matinee, &["B1", "A3"], &token).await;
    let b = &r.data()["exchangeBooking"];
    assert_eq!(b["status"], "CONFIRMED");
    assert_eq!(b["showtime"]["id"], matinee.to_string());
    assert_eq!(b["seatNumbers"], json!(["B1", "A3"]));
    // 12.00 (premium ×1.5) + 8.00 against 20.00 paid: nothing back; then A3 alone.
    assert_eq!(b["finalAmount"]["amount"], "20.00");
    assert_eq!(b["refunds"], json!([]));

    // The old seats are on sale again; the new ones are sold.
    let states = seat_states(&app, evening).await;
    assert_eq!(
        (state(&states, "A1"), state(&states, "A2")),
        ("AVAILABLE".into(), "AVAILABLE".into())
    );
    let states = seat_states(&app, matinee).await;
    assert_eq!(
        (state(&states, "B1"), state(&states, "A3")),
        ("BOOKED".into(), "BOOKED".into())
    );

    // The new ticket is for the matinee; the old code no longer admits, online or off.
    let new_code = b["qrCode"].as_str().unwrap();
    assert_ne!(new_code, old_code);
    let claims = app.app.tickets.verify(new_code).unwrap();
    assert_eq!(
        (claims.showtime, claims.seats.clone()),
        (matinee, vec!["B1".to_owned(), "A3".to_owned()])
    );
    let operator = app.with_user(Role::Operator).await;
    let r = check_in(&app, &operator, &old_code).await;
    assert_eq!(r.code(), "BAD_USER_INPUT");
    assert!(
        revoked(&app, &operator, evening)
            .await
            .iter()
            .any(|r| r["bookingId"] == id)
    );

    // Again, to two standard seats of the matinee: 16.00, and 4.00 goes back.
    let token = lock(&app, &buyer, matinee, &["A1", "A2"]).await;
    let r = exchange(&app, &buyer, &id, matinee, &["A1", "A2"], &token).await;
    let b = &r.data()["exchangeBooking"];
    assert_eq!(b["finalAmount"]["amount"], "16.00");
    let states = seat_states(&app, matinee).await;
    for (seat, expected) in [
        ("A1", "BOOKED"),
        ("A2", "BOOKED"),
        ("A3", "AVAILABLE"),
        ("B1", "AVAILABLE"),
    ] {
        assert_eq!(state(&states, seat), expected, "{seat}");
    }
    let after = app
        .gql_as(
            &buyer.token,
            "query($id: ID!) { booking(id: $id) { refunds { amount { amount } status seatNumbers reason } } }",
            json!({"id": id}),
        )
        .await;
    assert_eq!(
        after.data()["booking"]["refunds"],
        json!([{"amount": {"amount": "4.00"}, "status": "succeeded", "seatNumbers": [],
                "reason": "exchanged for cheaper seats"}])
    );
    let me = app
        .gql_as(&buyer.token, "{ me { pendingPoints } }", json!({}))
        .await;
    assert_eq!(me.data()["me"]["pendingPoints"], 16);
    assert_eq!(count(&app, "booking_exchanges").await, 2);
}

#[tokio::test]
async fn exchanges_that_break_a_rule_are_refused_and_change_nothing() {
    let app = app_builder().build().await;
    let room = room(&app, None).await;
    let show = showtime_at(&app, &room, Utc::now() + Duration::days(2), "10.00").await;
    let soon = showtime_at(&app, &room, Utc::now() + Duration::minutes(90), "10.00").await;
    let other_film = {
        let other = crate::ticket_types::room(&app, None).await;
        showtime_at(&app, &other, Utc::now() + Duration::days(2), "10.00").await
    };
    let buyer = app.with_user(Role::Customer).await;
    let stranger = app.with_user(Role::Customer).await;
    let (id, _) = paid(&app, &buyer, show, &["A1"]).await;

    let token = lock(&app, &buyer, show, &["B3"]).await;
    // Not the seats of the hold; a hold for another showtime; another film.
    let r = exchange(&app, &buyer, &id, show, &["A2"], &token).await;
    assert_eq!(
        (r.code(), r.field()),
        ("BAD_USER_INPUT", Some("seatNumbers"))
    );
    let elsewhere = lock(&app, &buyer, other_film, &["A2"]).await;
    let r = exchange(&app, &buyer, &id, other_film, &["A2"], &elsewhere).await;
    assert_eq!(
        (r.code(), r.field()),
        ("BAD_USER_INPUT", Some("showtimeId"))
    );
    // Someone else's booking does not exist for them.
    let theirs = lock(&app, &stranger, show, &["A2"]).await;
    let r = exchange(&app, &stranger, &id, show, &["A2"], &theirs).await;
    assert_eq!(r.code(), "NOT_FOUND");
    // Inside the cut-off of the booked showtime, only an admin may.
    let (late, _) = paid(&app, &buyer, soon, &["A1"]).await;
    let hold = lock(&app, &buyer, soon, &["A2"]).await;
    let r = exchange(&app, &buyer, &late, soon, &["A2"], &hold).await;
    assert_eq!(r.code(), "CONFLICT");
    assert!(
        r.error()["message"]
            .as_str()
            .unwrap()
            .contains("120 minutes")
    );
    // An unpaid booking cannot be exchanged.
    let pending_token = lock(&app, &buyer, show, &["A3"]).await;
    let pending = app
        .gql_as(
            &buyer.token,
            "mutation($i: CreateBookingInput!) { createBooking(input: $i) { booking { id } } }",
            json!({"i": {"showtimeId": show.to_string(), "lockToken": pending_token, "seatNumbers": ["A3"]}}),
        )
        .await;
    let pending = pending.data()["createBooking"]["booking"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let r = exchange(&app, &buyer, &pending, show, &["B3"], &token).await;
    assert_eq!(r.code(), "CONFLICT");

    let unchanged = app.gql_as(&buyer.token, BOOKING, json!({"id": id})).await;
    assert_eq!(unchanged.data()["booking"]["seatNumbers"], json!(["A1"]));
    assert_eq!(
        unchanged.data()["booking"]["showtime"]["id"],
        show.to_string()
    );
    assert_eq!(count(&app, "booking_exchanges").await, 0);
    assert_eq!(count(&app, "refunds").await, 0);
    // The refused exchanges left the hold in place: B3 is still held by the buyer.
    assert_eq!(state(&seat_states(&app, show).await, "B3"), "HELD");
}

/// While the customer exchanges A1 for the A2 they hold, another buyer keeps trying to
/// hold both seats. Whatever the interleaving, the booking ends with exactly A2, A2 is
/// never anyone else's, and A1 is either free or the other buyer's: never both seats
/// kept, never both lost. An exchange from a hold that has lapsed changes nothing.
#[tokio::test]
async fn an_exchange_racing_a_competing_hold_never_keeps_or_loses_both() {
    let app = app_builder().env("HOLD_TTL_SECONDS", "2").build().await;
    let room = room(&app, None).await;
    let show = showtime_at(&app, &room, Utc::now() + Duration::days(2), "10.00").await;
    let buyer = app.with_user(Role::Customer).await;
    let rival = app.with_user(Role::Customer).await;
    let (id, _) = paid(&app, &buyer, show, &["A1"]).await;
    let token = lock(&app, &buyer, show, &["A2"]).await;

    let rival_tries = async {
        let mut got = Vec::new();
        for _ in 0..30 {
            for seat in ["A1", "A2"] {
                let r = app
                    .gql_as(
                        &rival.token,
                        common::flow::LOCK,
                        json!({"s": show.to_string(), "seats": [seat]}),
                    )
                    .await;
                if r.body["errors"].is_null() {
                    got.push(seat.to_owned());
                }
            }
            if !got.is_empty() {
                break;
            }
        }
        got
    };
    let (r, got) = tokio::join!(
        exchange(&app, &buyer, &id, show, &["A2"], &token),
        rival_tries
    );
    assert_eq!(
        r.data()["exchangeBooking"]["seatNumbers"],
        json!(["A2"]),
        "{r:?}"
    );
    assert!(
        !got.contains(&"A2".to_owned()),
        "the rival held the exchanged-to seat"
    );
    let states = seat_states(&app, show).await;
    assert_eq!(state(&states, "A2"), "BOOKED");
    let a1 = state(&states, "A1");
    assert!(
        (got.contains(&"A1".to_owned()) && a1 == "HELD") || (got.is_empty() && a1 == "AVAILABLE"),
        "A1 is {a1} and the rival got {got:?}"
    );

    // A hold that lapses before the exchange: LOCK_EXPIRED, and the booking keeps A2.
    let token = lock(&app, &buyer, show, &["A3"]).await;
    tokio::time::sleep(std::time::Duration::from_millis(2_500)).await;
    let r = exchange(&app, &buyer, &id, show, &["A3"], &token).await;
    assert_eq!(r.code(), "LOCK_EXPIRED", "{r:?}");
    let kept = app.gql_as(&buyer.token, BOOKING, json!({"id": id})).await;
    assert_eq!(kept.data()["booking"]["seatNumbers"], json!(["A2"]));
    assert_eq!(state(&seat_states(&app, show).await, "A2"), "BOOKED");
}

/// Moving one seat of two: the seat the booking keeps needs no hold (it could not be
/// held: it is sold, to this booking); only the new one does.
#[tokio::test]
async fn a_booking_keeps_a_seat_and_moves_the_other() {
    let app = app_builder().build().await;
    let room = room(&app, None).await;
    let show = showtime_at(&app, &room, Utc::now() + Duration::days(2), "10.00").await;
    let buyer = app.with_user(Role::Customer).await;
    let (id, _) = paid(&app, &buyer, show, &["A1", "A2"]).await;
    let token = lock(&app, &buyer, show, &["A3"]).await;
    let r = exchange(&app, &buyer, &id, show, &["A2", "A3"], &token).await;
    let b = &r.data()["exchangeBooking"];
    assert_eq!(b["seatNumbers"], json!(["A2", "A3"]), "{r:?}");
    assert_eq!(b["finalAmount"]["amount"], "20.00");
    let states = seat_states(&app, show).await;
    for (seat, expected) in [("A1", "AVAILABLE"), ("A2", "BOOKED"), ("A3", "BOOKED")] {
        assert_eq!(state(&states, seat), expected, "{seat}");
    }
    // Another customer can have the seat that was given up.
    let other = app.with_user(Role::Customer).await;
    lock(&app, &other, show, &["A1"]).await;
}

/// An exchange given `tickets` (a type per seat) rather than seat numbers alone.
async fn exchange_tickets(
    app: &TestApp,
    user: &TestUser,
    booking: &str,
    showtime: Uuid,
    tickets: serde_json::Value,
    token: &str,
) -> Gql {
    app.gql_as(
        &user.token,
        EXCHANGE,
        json!({"i": {"bookingId": booking, "showtimeId": showtime.to_string(),
                     "tickets": tickets, "lockToken": token}}),
    )
    .await
}

/// A showtime of the room's film in two days at 10.00 that sells ADULT, CHILD (6.50),
/// SENIOR (70 %) and MEMBER tickets.
async fn family_showtime(app: &TestApp, room: &Room) -> Uuid {
    let r =
        crate::ticket_types::showtime(app, room, Some(crate::ticket_types::family_prices())).await;
    r.data()["createShowtime"]["id"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap()
}

/// The age rule of `createBooking` holds for an exchange's tickets too: a film rated
/// above the child age sells no CHILD ticket, whether the exchange only changes a
/// ticket's type (cheaper: a refund would follow), moves to a held seat, or would cost
/// more (it would wait for its difference). Each is refused naming the seat, and the
/// booking, its seats and the hold on the new seats stay as they were.
#[tokio::test]
async fn an_exchange_to_child_tickets_of_a_film_rated_above_the_child_age_is_refused() {
    let app = app_builder().build().await;
    let room = room(
        &app,
        Some(json!({"system": "BBFC", "code": "15", "minAge": 15})),
    )
    .await;
    let show = family_showtime(&app, &room).await;
    let buyer = app.with_user(Role::Customer).await;
    let (id, code) = paid(&app, &buyer, show, &["A1", "A2"]).await;
    // A hold has exactly the new seats: one for each exchange that moves.
    let a3 = lock(&app, &buyer, show, &["A3"]).await;
    let b1 = lock(&app, &buyer, show, &["B1"]).await;

    for (tickets, token, seat) in [
        // A2 made a CHILD ticket, no new seat: 16.50 against 20.00 paid.
        (
            json!([{"seatNumber": "A1", "ticketType": "ADULT"},
                   {"seatNumber": "A2", "ticketType": "CHILD"}]),
            "",
            "A2",
        ),
        // A2 given up for the held A3, as a CHILD ticket.
        (
            json!([{"seatNumber": "A1", "ticketType": "ADULT"},
                   {"seatNumber": "A3", "ticketType": "CHILD"}]),
            a3.as_str(),
            "A3",
        ),
        // A1 for the premium B1, A2 a CHILD ticket: 15.00 + 6.50 against 20.00 paid.
        (
            json!([{"seatNumber": "B1", "ticketType": "ADULT"},
                   {"seatNumber": "A2", "ticketType": "CHILD"}]),
            b1.as_str(),
            "A2",
        ),
    ] {
        let r = exchange_tickets(&app, &buyer, &id, show, tickets.clone(), token).await;
        assert_eq!(
            (r.code(), r.field()),
            ("BAD_USER_INPUT", Some("tickets")),
            "{tickets}: {r:?}"
        );
        let message = r.error()["message"].as_str().unwrap();
        assert!(
            message.contains(&format!("seat {seat}")) && message.contains("BBFC 15"),
            "{message}"
        );
    }

    let unchanged = app
        .gql_as(
            &buyer.token,
            "query($id: ID!) { booking(id: $id) { status seatNumbers qrCode finalAmount { amount } \
             tickets { seatNumber ticketType } refunds { amount { amount } } pendingExchange { seatNumbers } } }",
            json!({"id": id}),
        )
        .await;
    assert_eq!(
        unchanged.data()["booking"],
        json!({"status": "CONFIRMED", "seatNumbers": ["A1", "A2"], "qrCode": code,
               "finalAmount": {"amount": "20.00"},
               "tickets": [{"seatNumber": "A1", "ticketType": "ADULT"},
                           {"seatNumber": "A2", "ticketType": "ADULT"}],
               "refunds": [], "pendingExchange": null})
    );
    let states = seat_states(&app, show).await;
    for (seat, expected) in [
        ("A1", "BOOKED"),
        ("A2", "BOOKED"),
        ("A3", "HELD"),
        ("B1", "HELD"),
    ] {
        assert_eq!(state(&states, seat), expected, "{seat}");
    }
    assert_eq!(count(&app, "booking_exchanges").await, 0);
    assert_eq!(count(&app, "refunds").await, 0);

    // The holds survived the refusals: A3's moves A2 there, for an adult.
    let r = exchange_tickets(
        &app,
        &buyer,
        &id,
        show,
        json!([{"seatNumber": "A1", "ticketType": "ADULT"},
               {"seatNumber": "A3", "ticketType": "ADULT"}]),
        &a3,
    )
    .await;
    assert_eq!(
        r.data()["exchangeBooking"]["seatNumbers"],
        json!(["A1", "A3"])
    );
}

/// Tickets of another type in an exchange are priced one by one as a new booking's
/// would be, and the difference is settled to the cent: given back when cheaper,
/// charged (and the exchange carried out once paid) when dearer.
#[tokio::test]
async fn an_exchange_to_senior_tickets_prices_each_ticket_and_settles_the_difference_exactly() {
    let app = app_builder().build().await;
    let room = room(&app, None).await;
    let show = family_showtime(&app, &room).await;
    let buyer = app.with_user(Role::Customer).await;
    let (id, _) = paid(&app, &buyer, show, &["A1", "A2"]).await;

    // A2 becomes a SENIOR ticket (70 % of 10.00): 17.00 against 20.00 paid, no new
    // seat and so no hold; 3.00 goes back.
    let r = exchange_tickets(
        &app,
        &buyer,
        &id,
        show,
        json!([{"seatNumber": "A1", "ticketType": "ADULT"},
               {"seatNumber": "A2", "ticketType": "SENIOR"}]),
        "",
    )
    .await;
    let b = &r.data()["exchangeBooking"];
    assert_eq!(b["finalAmount"]["amount"], "17.00");
    assert_eq!(
        b["tickets"],
        json!([{"seatNumber": "A1", "ticketType": "ADULT", "price": {"amount": "10.00"}},
               {"seatNumber": "A2", "ticketType": "SENIOR", "price": {"amount": "7.00"}}])
    );
    let refunds = app
        .gql_as(
            &buyer.token,
            "query($id: ID!) { booking(id: $id) { refunds { amount { amount } status reason } } }",
            json!({"id": id}),
        )
        .await;
    assert_eq!(
        refunds.data()["booking"]["refunds"],
        json!([{"amount": {"amount": "3.00"}, "status": "succeeded",
                "reason": "exchanged for cheaper seats"}])
    );

    // Both SENIOR, A2 moved to the premium B1 (70 % of 15.00): 7.00 + 10.50 = 17.50
    // against 17.00: 0.50 is charged before anything moves.
    let token = lock(&app, &buyer, show, &["B1"]).await;
    let r = exchange_tickets(
        &app,
        &buyer,
        &id,
        show,
        json!([{"seatNumber": "A1", "ticketType": "SENIOR"},
               {"seatNumber": "B1", "ticketType": "SENIOR"}]),
        &token,
    )
    .await;
    assert_eq!(
        r.data()["exchangeBooking"]["seatNumbers"],
        json!(["A1", "A2"])
    );
    const PENDING: &str = "query($id: ID!) { booking(id: $id) { seatNumbers finalAmount { amount } \
        tickets { seatNumber ticketType price { amount } } \
        pendingExchange { amountDue { amount } finalAmount { amount } } } }";
    let waiting = app.gql_as(&buyer.token, PENDING, json!({"id": id})).await;
    assert_eq!(
        waiting.data()["booking"]["pendingExchange"],
        json!({"amountDue": {"amount": "0.50"}, "finalAmount": {"amount": "17.50"}})
    );
    let intent = app
        .gql_as(
            &buyer.token,
            "mutation($b: ID!) { createPaymentIntent(bookingId: $b) { paymentIntentId } }",
            json!({"b": id}),
        )
        .await;
    let intent = intent.data()["createPaymentIntent"]["paymentIntentId"]
        .as_str()
        .unwrap()
        .to_owned();
    let body = common::flow::event(
        &format!("evt_{}", Uuid::new_v4().simple()),
        "payment_intent.succeeded",
        common::flow::intent_object(&app, &intent, &id).await,
    );
    assert_eq!(common::flow::send_event(&app, &body).await, 200);
    let after = app.gql_as(&buyer.token, PENDING, json!({"id": id})).await;
    assert_eq!(
        after.data()["booking"],
        json!({"seatNumbers": ["A1", "B1"], "finalAmount": {"amount": "17.50"},
               "tickets": [{"seatNumber": "A1", "ticketType": "SENIOR", "price": {"amount": "7.00"}},
                           {"seatNumber": "B1", "ticketType": "SENIOR", "price": {"amount": "10.50"}}],
               "pendingExchange": null})
    );
    let states = seat_states(&app, show).await;
    for (seat, expected) in [("A1", "BOOKED"), ("A2", "AVAILABLE"), ("B1", "BOOKED")] {
        assert_eq!(state(&states, seat), expected, "{seat}");
    }
}
