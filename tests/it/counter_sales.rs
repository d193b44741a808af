//! Selling at the counter through the API: seats taken atomically, a confirmed booking
//! with its ticket at once, who sold it and how it was paid; seats someone holds are
//! refused; complimentary tickets cost nothing.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::common;
use crate::exchanges::{showtime_at, state};
use crate::ticket_types::room;

use chrono::{Duration, Utc};
use common::flow::{count, lock, seat_states};
use common::{Gql, TestApp, TestUser};
use screema::clock::Clock;
use screema::db::enums::Role;
use serde_json::{Value, json};
use uuid::Uuid;

const SELL: &str = "mutation($i: SellAtCounterInput!) { sellAtCounter(input: $i) { id status \
    seatNumbers qrCode ticketImageUrl saleChannel soldBy finalAmount { amount } discountAmount { amount } \
    showtime { startTime } tickets { seatNumber ticketType price { amount } finalPrice { amount } } } }";

async fn sell(app: &TestApp, seller: &TestUser, input: Value) -> Gql {
    app.gql_as(&seller.token, SELL, json!({ "i": input })).await
}

fn tickets(list: &[(&str, &str)]) -> Value {
    list.iter()
        .map(|(seat, kind)| json!({"seatNumber": seat, "ticketType": kind}))
        .collect()
}

async fn child_priced_showtime(app: &TestApp, room: &crate::ticket_types::Room) -> Uuid {
    let r = app
        .gql_as(
            &room.admin.token,
            "mutation($i: CreateShowtimeInput!) { createShowtime(input: $i) { id } }",
            json!({"i": {"movieId": room.movie, "screenId": room.screen,
                "startTime": (Utc::now() + Duration::days(2)).to_rfc3339(), "basePrice": "10.00",
                "ticketPrices": [{"ticketType": "ADULT", "percentOfSeatPrice": "100"},
                                 {"ticketType": "CHILD", "fixedPrice": "6.00"}]}}),
        )
        .await;
    r.data()["createShowtime"]["id"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap()
}

#[tokio::test]
async fn an_operator_sells_tickets_that_are_confirmed_at_once() {
    let app = TestApp::builder()
        .env("MAX_SEATS_PER_USER", "2")
        .build()
        .await;
    let room = room(&app, None).await;
    let show = child_priced_showtime(&app, &room).await;
    let operator = app.with_user(Role::Operator).await;
    let customer = app.with_user(Role::Customer).await;
    let email: String = {
        use diesel::prelude::*;
        use diesel_async::RunQueryDsl;
        screema::db::schema::users::table
            .find(customer.id)
            .select(screema::db::schema::users::email)
            .first(&mut app.conn().await)
            .await
            .unwrap()
    };
    let snack = {
        let r = app
            .gql_as(
                &room.admin.token,
                "mutation { createSnack(input: {name: \"Popcorn\", price: \"4.50\", category: \"Popcorn\"}) { id } }",
                json!({}),
            )
            .await;
        r.data()["createSnack"]["id"].as_str().unwrap().to_owned()
    };

    // Three seats, more than a customer may hold (2): the counter is not capped.
    let r = sell(
        &app,
        &operator,
        json!({"showtimeId": show.to_string(),
               "tickets": tickets(&[("A1", "ADULT"), ("A2", "CHILD"), ("A3", "ADULT")]),
               "snacks": [{"snackId": snack, "quantity": 2}],
               "payment": "CASH", "customerEmail": email.to_uppercase()}),
    )
    .await;
    let b = &r.data()["sellAtCounter"];
    assert_eq!(b["status"], "CONFIRMED");
    assert_eq!(b["saleChannel"], "COUNTER");
    assert_eq!(b["soldBy"], operator.id.to_string());
    // 10.00 + 6.00 + 10.00 + 2 × 4.50, no discount.
    assert_eq!(b["finalAmount"]["amount"], "35.00");
    assert_eq!(b["tickets"][1]["ticketType"], "CHILD");
    let code = b["qrCode"].as_str().unwrap().to_owned();
    let id = b["id"].as_str().unwrap().to_owned();

    // The customer's booking: in their list, the seller not shown to them.
    let mine = app
        .gql_as(
            &customer.token,
            "{ myBookings { id saleChannel soldBy } }",
            json!({}),
        )
        .await;
    assert_eq!(
        mine.data()["myBookings"],
        json!([{"id": id, "saleChannel": "COUNTER", "soldBy": null}])
    );
    // Points as for an online booking: pending until the showtime starts.
    let me = app
        .gql_as(
            &customer.token,
            "{ me { pendingPoints points } }",
            json!({}),
        )
        .await;
    assert_eq!(me.data()["me"], json!({"pendingPoints": 35, "points": 0}));
    let states = seat_states(&app, show).await;
    for seat in ["A1", "A2", "A3"] {
        assert_eq!(state(&states, seat), "BOOKED", "{seat}");
    }
    // Paid in the till: no intent, the payment recorded as cash.
    let (method, status): (Option<String>, screema::db::enums::PaymentStatus) = {
        use diesel::prelude::*;
        use diesel_async::RunQueryDsl;
        use screema::db::schema::payments;
        payments::table
            .filter(payments::booking_id.eq(Uuid::parse_str(&id).unwrap()))
            .select((payments::payment_method, payments::status))
            .first(&mut app.conn().await)
            .await
            .unwrap()
    };
    assert_eq!(method.as_deref(), Some("cash"));
    assert_eq!(status, screema::db::enums::PaymentStatus::Succeeded);
    // A ticket the door's scanners verify offline, for these seats.
    let claims = app.app.tickets.verify(&code).unwrap();
    assert_eq!(claims.booking.to_string(), id);
    assert_eq!(claims.seats, vec!["A1", "A2", "A3"]);

    // A walk-in, given two tickets: they cost nothing, the price kept as discount.
    let r = sell(
        &app,
        &operator,
        json!({"showtimeId": show.to_string(), "tickets": tickets(&[("B1", "ADULT"), ("B2", "CHILD")]),
               "payment": "COMPLIMENTARY"}),
    )
    .await;
    let b = &r.data()["sellAtCounter"];
    assert_eq!(b["finalAmount"]["amount"], "0.00");
    assert_eq!(b["discountAmount"]["amount"], "21.00");
    assert_eq!(b["tickets"][0]["price"]["amount"], "15.00");
    assert_eq!(b["tickets"][0]["finalPrice"]["amount"], "0.00");
    let walk_in = app
        .gql_as(&operator.token, "{ myBookings { id } }", json!({}))
        .await;
    assert_eq!(walk_in.data()["myBookings"].as_array().unwrap().len(), 1);
    // A walk-in's sale, kept under the seller, earns the seller nothing.
    let seller = app
        .gql_as(&operator.token, "{ me { pendingPoints } }", json!({}))
        .await;
    assert_eq!(seller.data()["me"]["pendingPoints"], 0);
}

#[tokio::test]
async fn counter_sales_that_cannot_be_made_write_nothing() {
    let app = TestApp::new().await;
    let room = room(&app, None).await;
    let show = showtime_at(&app, &room, Utc::now() + Duration::days(2), "10.00").await;
    let operator = app.with_user(Role::Operator).await;
    let customer = app.with_user(Role::Customer).await;
    let admin = &room.admin;

    // A seat a customer holds.
    lock(&app, &customer, show, &["A2"]).await;
    let r = sell(
        &app,
        &operator,
        json!({"showtimeId": show.to_string(), "tickets": tickets(&[("A1", "ADULT"), ("A2", "ADULT")]),
               "payment": "CARD_PRESENT"}),
    )
    .await;
    assert_eq!(r.code(), "SEATS_UNAVAILABLE");
    assert_eq!(r.error()["extensions"]["seats"], json!(["A2"]));
    // A1 was not kept by the refused sale.
    assert_eq!(state(&seat_states(&app, show).await, "A1"), "AVAILABLE");

    for (input, field) in [
        (
            json!({"showtimeId": show.to_string(), "tickets": tickets(&[("A1", "ADULT")]),
                   "payment": "CASH", "customerEmail": "nobody@example.com"}),
            "customerEmail",
        ),
        (
            json!({"showtimeId": show.to_string(), "tickets": tickets(&[("A1", "ADULT")]),
                   "payment": "COMPLIMENTARY",
                   "snacks": [{"snackId": Uuid::new_v4().to_string(), "quantity": 1}]}),
            "snacks",
        ),
        (
            json!({"showtimeId": show.to_string(), "tickets": tickets(&[("Z9", "ADULT")]),
                   "payment": "CASH"}),
            "seatNumbers",
        ),
        (
            json!({"showtimeId": show.to_string(), "tickets": tickets(&[("A1", "MEMBER")]),
                   "payment": "CASH"}),
            "tickets",
        ),
    ] {
        let r = sell(&app, &operator, input).await;
        assert_eq!(
            (r.code(), r.field()),
            ("BAD_USER_INPUT", Some(field)),
            "{r:?}"
        );
    }
    // A customer may not sell; a cancelled showtime sells nothing.
    let r = sell(
        &app,
        &customer,
        json!({"showtimeId": show.to_string(), "tickets": tickets(&[("A1", "ADULT")]), "payment": "CASH"}),
    )
    .await;
    assert_eq!(r.code(), "FORBIDDEN");
    crate::showtime_cancel::cancel(&app, admin, show, "storm").await;
    let r = sell(
        &app,
        &operator,
        json!({"showtimeId": show.to_string(), "tickets": tickets(&[("A1", "ADULT")]), "payment": "CASH"}),
    )
    .await;
    assert_eq!(
        (r.code(), r.field()),
        ("BAD_USER_INPUT", Some("showtimeId"))
    );
    assert_eq!(count(&app, "bookings").await, 0);
    assert_eq!(count(&app, "payments").await, 0);
}

#[tokio::test]
async fn the_manifest_lists_every_sold_seat_and_how_it_was_sold() {
    let app = TestApp::builder()
        .env("SIMULATED_PAYMENT_DELAY_MS", "600000")
        .build()
        .await;
    let room = room(&app, None).await;
    // Soon enough for the door to be open (an hour before the start).
    let show = showtime_at(&app, &room, Utc::now() + Duration::minutes(30), "10.00").await;
    let operator = app.with_user(Role::Operator).await;
    let online = app.with_user(Role::Customer).await;
    let unpaid = app.with_user(Role::Customer).await;
    let (_, code) = crate::exchanges::paid(&app, &online, show, &["B1"]).await;
    common::flow::book(&app, &unpaid, show, &["A3"]).await;
    sell(
        &app,
        &operator,
        json!({"showtimeId": show.to_string(), "tickets": tickets(&[("A2", "ADULT")]), "payment": "CASH"}),
    )
    .await
    .data();
    sell(
        &app,
        &operator,
        json!({"showtimeId": show.to_string(), "tickets": tickets(&[("A1", "ADULT")]), "payment": "COMPLIMENTARY"}),
    )
    .await
    .data();
    let r = common::flow::check_in(&app, &operator, &code).await;
    assert!(r.data()["checkInTicket"]["id"].is_string());

    const MANIFEST: &str = "query($s: ID!) { showtimeManifest(showtimeId: $s) { \
        seats { seatNumber ticketType saleChannel paidBy checkedIn checkedInAt bookingReference } \
        counts { capacity sold checkedIn unpaid online counter complimentary } } }";
    let r = app
        .gql_as(&operator.token, MANIFEST, json!({"s": show.to_string()}))
        .await;
    let m = &r.data()["showtimeManifest"];
    let seats: Vec<(String, String, String, bool)> = m["seats"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            (
                s["seatNumber"].as_str().unwrap().to_owned(),
                s["saleChannel"].as_str().unwrap().to_owned(),
                s["paidBy"].as_str().unwrap().to_owned(),
                s["checkedIn"].as_bool().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        seats,
        vec![
            ("A1".into(), "COUNTER".into(), "complimentary".into(), false),
            ("A2".into(), "COUNTER".into(), "cash".into(), false),
            ("B1".into(), "ONLINE".into(), "online".into(), true),
        ]
    );
    assert!(m["seats"][2]["checkedInAt"].is_string());
    assert_eq!(
        m["counts"],
        json!({"capacity": 6, "sold": 3, "checkedIn": 1, "unpaid": 1, "online": 1,
               "counter": 2, "complimentary": 1})
    );
    // Customers may not read it.
    let r = app
        .gql_as(&online.token, MANIFEST, json!({"s": show.to_string()}))
        .await;
    assert_eq!(r.code(), "FORBIDDEN");
}

/// What `url` serves to `token`: its status, and the body when it is a PNG.
async fn fetch_png(app: &TestApp, url: &str, token: &str) -> (u16, Option<Vec<u8>>) {
    let response = app.client.get(url).bearer_auth(token).send().await.unwrap();
    let status = response.status().as_u16();
    if status != 200 {
        return (status, None);
    }
    assert_eq!(response.headers()["content-type"], "image/png");
    let bytes = response.bytes().await.unwrap().to_vec();
    assert_eq!(&bytes[..8], b"\x89PNG\r\n\x1a\n", "not a PNG");
    (status, Some(bytes))
}

/// A counter sale's ticket is an image as an online one is: the `ticketImageUrl` of
/// the answer serves the PNG of the sale's own code, captioned with its seats and
/// ticket types, to the booking's owner: the seller for a walk-in, the customer when
/// the sale is theirs. As for every ticket image (security.rs), nobody else gets it,
/// the seller included; the counter prints a customer's ticket from `qrCode`.
#[tokio::test]
async fn a_counter_sales_ticket_image_is_served_to_its_owner_and_its_seller() {
    let app = TestApp::new().await;
    let room = room(&app, None).await;
    let show = child_priced_showtime(&app, &room).await;
    let operator = app.with_user(Role::Operator).await;
    let customer = app.with_user(Role::Customer).await;
    let email: String = {
        use diesel::prelude::*;
        use diesel_async::RunQueryDsl;
        screema::db::schema::users::table
            .find(customer.id)
            .select(screema::db::schema::users::email)
            .first(&mut app.conn().await)
            .await
            .unwrap()
    };

    // A walk-in's sale, kept under the seller.
    let r = sell(
        &app,
        &operator,
        json!({"showtimeId": show.to_string(), "tickets": tickets(&[("A2", "CHILD"), ("A1", "ADULT")]),
               "payment": "CASH"}),
    )
    .await;
    let b = r.data()["sellAtCounter"].clone();
    let id = b["id"].as_str().unwrap();
    let url = b["ticketImageUrl"].as_str().unwrap();
    assert_eq!(url, app.url(&format!("/api/tickets/{id}.png")));
    let (status, png) = fetch_png(&app, url, &operator.token).await;
    assert_eq!(status, 200);
    let starts: chrono::DateTime<Utc> = b["showtime"]["startTime"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    let expected = screema::tickets::image::ticket_png(
        b["qrCode"].as_str().unwrap(),
        &[
            "Nosferatu".to_owned(),
            "Rex, screen 1".to_owned(),
            starts.format("%a %d %b %Y %H:%M").to_string(),
            "Seats A1, A2 CHILD".to_owned(),
        ],
    )
    .unwrap();
    assert!(
        png.as_deref() == Some(expected.as_slice()),
        "the served image is not the sale's captioned code"
    );
    assert_eq!(fetch_png(&app, url, &customer.token).await.0, 404);

    // A customer's sale: their ticket, fetched with their own token.
    let r = sell(
        &app,
        &operator,
        json!({"showtimeId": show.to_string(), "tickets": tickets(&[("B1", "ADULT")]),
               "payment": "CARD_PRESENT", "customerEmail": email}),
    )
    .await;
    let url = r.data()["sellAtCounter"]["ticketImageUrl"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(fetch_png(&app, &url, &customer.token).await.0, 200);
    // The seller prints it at the counter; another operator has no business with it.
    assert_eq!(fetch_png(&app, &url, &operator.token).await.0, 200);
    let colleague = app.with_user(Role::Operator).await;
    assert_eq!(fetch_png(&app, &url, &colleague.token).await.0, 404);
}

/// The counter sells until the showtime starts and not after, as the README's "When a
/// showtime starts and ends" says of every sale (`check_on_sale`, shared with
/// `lockSeats` and `createBooking`): a late-comer's ticket a few minutes into the
/// trailers is refused too. The refused sale writes nothing and holds no seat.
#[tokio::test]
async fn the_counter_sells_until_the_start_and_nothing_after() {
    let (builder, clock) = TestApp::clocked();
    let app = builder.build().await;
    let room = room(&app, None).await;
    let show = showtime_at(&app, &room, clock.now() + Duration::minutes(30), "10.00").await;
    let operator = app.with_user(Role::Operator).await;
    let sale = |seat: &'static str| {
        json!({"showtimeId": show.to_string(), "tickets": tickets(&[(seat, "ADULT")]),
               "payment": "CASH"})
    };

    clock.advance(Duration::minutes(29));
    let r = sell(&app, &operator, sale("A1")).await;
    assert_eq!(r.data()["sellAtCounter"]["status"], "CONFIRMED");

    clock.advance(Duration::minutes(2));
    let r = sell(&app, &operator, sale("A2")).await;
    assert_eq!(
        (r.code(), r.field()),
        ("BAD_USER_INPUT", Some("showtimeId")),
        "{r:?}"
    );
    assert!(
        r.error()["message"]
            .as_str()
            .unwrap()
            .contains("already started")
    );
    assert_eq!(count(&app, "bookings").await, 1);
    assert_eq!(count(&app, "payments").await, 1);
    let states = seat_states(&app, show).await;
    assert_eq!(state(&states, "A1"), "BOOKED");
    assert_eq!(state(&states, "A2"), "AVAILABLE");
}
