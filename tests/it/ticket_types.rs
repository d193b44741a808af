//! Ticket types and age ratings through the API: an admin prices ADULT, CHILD, SENIOR
//! and a cinema's own type per showtime; a family books one of each and every ticket
//! shows its price; a film rated above the child age sells no CHILD tickets; clients
//! that send only seat numbers keep buying ADULT tickets at the seat's price.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::common;

use chrono::{Duration, Utc};
use common::fixtures::small_layout;
use common::flow::{count, lock};
use common::{Gql, TestApp, TestUser};
use screema::db::enums::Role;
use serde_json::{Value, json};

const MOVIE: &str = "mutation($i: CreateMovieInput!) { createMovie(input: $i) \
    { id ageRating { system code minAge } } }";
const UPDATE_MOVIE: &str = "mutation($id: ID!, $i: UpdateMovieInput!) { updateMovie(id: $id, input: $i) \
    { ageRating { system code minAge } } }";
const SHOWTIME: &str = "mutation($i: CreateShowtimeInput!) { createShowtime(input: $i) \
    { id ticketPrices { ticketType fixedPrice { amount currency } percentOfSeatPrice } } }";
pub const BOOK: &str = "mutation($i: CreateBookingInput!) { createBooking(input: $i) { booking { \
    id status seatNumbers totalAmount { amount } discountAmount { amount } finalAmount { amount } \
    tickets { seatNumber ticketType price { amount currency } discount { amount } finalPrice { amount } } } } }";

pub struct Room {
    pub admin: TestUser,
    pub screen: String,
    pub movie: String,
}

/// A theater with the small layout (A1 A2 A3 standard and accessible; B1 B2 premium
/// ×1.50, B3 couple ×2.00) and a film rated `rating`, all made through the API.
pub async fn room(app: &TestApp, rating: Option<Value>) -> Room {
    let admin = app.with_user(Role::Admin).await;
    let theater = app
        .gql_as(
            &admin.token,
            "mutation { createTheater(input: {name: \"Rex\", location: \"Berlin\"}) { id } }",
            json!({}),
        )
        .await;
    let theater = theater.data()["createTheater"]["id"].clone();
    let screen = app
        .gql_as(
            &admin.token,
            "mutation($i: CreateScreenInput!) { createScreen(input: $i) { id } }",
            json!({"i": {"theaterId": theater, "screenNumber": 1, "seatLayout": small_layout()}}),
        )
        .await;
    let screen = screen.data()["createScreen"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let movie = app
        .gql_as(
            &admin.token,
            MOVIE,
            json!({"i": {"title": "Nosferatu", "duration": 95, "status": "NOW_SHOWING", "ageRating": rating}}),
        )
        .await;
    let movie = movie.data()["createMovie"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    Room {
        admin,
        screen,
        movie,
    }
}

/// A showtime of the room's film in two days at 10.00, with `prices` (absent: the
/// default list).
pub async fn showtime(app: &TestApp, room: &Room, prices: Option<Value>) -> Gql {
    let start = (Utc::now() + Duration::days(2)).to_rfc3339();
    app.gql_as(
        &room.admin.token,
        SHOWTIME,
        json!({"i": {"movieId": room.movie, "screenId": room.screen, "startTime": start,
                     "basePrice": "10.00", "ticketPrices": prices}}),
    )
    .await
}

pub fn family_prices() -> Value {
    json!([
        {"ticketType": "ADULT", "percentOfSeatPrice": "100"},
        {"ticketType": "child", "fixedPrice": "6.50"},
        {"ticketType": "SENIOR", "percentOfSeatPrice": "70"},
        {"ticketType": "MEMBER", "percentOfSeatPrice": "80"}
    ])
}

fn id(showtime: &Gql) -> uuid::Uuid {
    showtime.data()["createShowtime"]["id"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap()
}

#[tokio::test]
async fn a_family_books_adult_child_senior_and_member_tickets_each_at_its_price() {
    let app = TestApp::new().await;
    let room = room(
        &app,
        Some(json!({"system": "bbfc", "code": "PG", "minAge": 0})),
    )
    .await;
    let created = showtime(&app, &room, Some(family_prices())).await;
    assert_eq!(
        created.data()["createShowtime"]["ticketPrices"],
        json!([
            {"ticketType": "ADULT", "fixedPrice": null, "percentOfSeatPrice": "100"},
            {"ticketType": "CHILD", "fixedPrice": {"amount": "6.50", "currency": "USD"}, "percentOfSeatPrice": null},
            {"ticketType": "SENIOR", "fixedPrice": null, "percentOfSeatPrice": "70"},
            {"ticketType": "MEMBER", "fixedPrice": null, "percentOfSeatPrice": "80"}
        ])
    );
    let showtime = id(&created);
    let parent = app.with_user(Role::Customer).await;
    let token = lock(&app, &parent, showtime, &["A1", "A2", "B1", "B3"]).await;
    let r = app
        .gql_as(
            &parent.token,
            BOOK,
            json!({"i": {"showtimeId": showtime.to_string(), "lockToken": token, "tickets": [
                {"seatNumber": "B3", "ticketType": "member"},
                {"seatNumber": "A1", "ticketType": "ADULT"},
                {"seatNumber": "A2", "ticketType": "CHILD"},
                {"seatNumber": "B1", "ticketType": "SENIOR"}]}}),
        )
        .await;
    let booking = &r.data()["createBooking"]["booking"];
    let tickets: Vec<(String, String, String)> = booking["tickets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| {
            (
                t["seatNumber"].as_str().unwrap().to_owned(),
                t["ticketType"].as_str().unwrap().to_owned(),
                t["price"]["amount"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    // A1 at the seat's 10.00; a CHILD at a fixed 6.50 whatever the seat; 70 % of B1's
    // 15.00; 80 % of the couple seat's 20.00.
    assert_eq!(
        tickets,
        [
            ("A1".into(), "ADULT".into(), "10.00".into()),
            ("A2".into(), "CHILD".into(), "6.50".into()),
            ("B1".into(), "SENIOR".into(), "10.50".into()),
            ("B3".into(), "MEMBER".into(), "16.00".into()),
        ]
    );
    assert_eq!(booking["totalAmount"]["amount"], "43.00");
    assert_eq!(booking["finalAmount"]["amount"], "43.00");
    assert_eq!(booking["seatNumbers"], json!(["B3", "A1", "A2", "B1"]));

    // A client that knows nothing of ticket types buys ADULT at the seat's price.
    let other = app.with_user(Role::Customer).await;
    let token = lock(&app, &other, showtime, &["B2"]).await;
    let r = app
        .gql_as(
            &other.token,
            BOOK,
            json!({"i": {"showtimeId": showtime.to_string(), "lockToken": token, "seatNumbers": ["B2"]}}),
        )
        .await;
    assert_eq!(
        r.data()["createBooking"]["booking"]["tickets"],
        json!([{"seatNumber": "B2", "ticketType": "ADULT", "price": {"amount": "15.00", "currency": "USD"},
                "discount": {"amount": "0.00"}, "finalPrice": {"amount": "15.00"}}])
    );
}

#[tokio::test]
async fn a_showtime_created_without_prices_sells_adult_at_the_seat_price() {
    let app = TestApp::new().await;
    let room = room(&app, None).await;
    let created = showtime(&app, &room, None).await;
    assert_eq!(
        created.data()["createShowtime"]["ticketPrices"],
        json!([{"ticketType": "ADULT", "fixedPrice": null, "percentOfSeatPrice": "100"}])
    );
    let buyer = app.with_user(Role::Customer).await;
    let showtime = id(&created);
    let token = lock(&app, &buyer, showtime, &["A1"]).await;
    let r = app
        .gql_as(
            &buyer.token,
            BOOK,
            json!({"i": {"showtimeId": showtime.to_string(), "lockToken": token,
                         "tickets": [{"seatNumber": "A1", "ticketType": "CHILD"}]}}),
        )
        .await;
    assert_eq!(r.code(), "BAD_USER_INPUT");
    assert_eq!(r.field(), Some("tickets"));
    let message = r.error()["message"].as_str().unwrap();
    assert!(
        message.contains("A1") && message.contains("CHILD"),
        "{message}"
    );
    assert_eq!(count(&app, "bookings").await, 0);
}

#[tokio::test]
async fn a_film_rated_above_the_child_age_sells_no_child_tickets_and_the_hold_survives() {
    let app = TestApp::new().await;
    let room = room(
        &app,
        Some(json!({"system": "BBFC", "code": "15", "minAge": 15})),
    )
    .await;
    let showtime = id(&showtime(&app, &room, Some(family_prices())).await);
    let parent = app.with_user(Role::Customer).await;
    let token = lock(&app, &parent, showtime, &["A1", "A2"]).await;
    let book = |tickets: Value| {
        app.gql_as(
            &parent.token,
            BOOK,
            json!({"i": {"showtimeId": showtime.to_string(), "lockToken": token.clone(), "tickets": tickets}}),
        )
    };
    let r = book(json!([
        {"seatNumber": "A1", "ticketType": "ADULT"},
        {"seatNumber": "A2", "ticketType": "CHILD"}
    ]))
    .await;
    assert_eq!(r.code(), "BAD_USER_INPUT");
    assert_eq!(r.field(), Some("tickets"));
    let message = r.error()["message"].as_str().unwrap();
    assert!(
        message.contains("A2") && message.contains("BBFC 15"),
        "{message}"
    );
    // Nothing was written and the hold is intact: the same lock books two adults.
    assert_eq!(count(&app, "bookings").await, 0);
    let r = book(json!([
        {"seatNumber": "A1", "ticketType": "ADULT"},
        {"seatNumber": "A2", "ticketType": "ADULT"}
    ]))
    .await;
    assert_eq!(
        r.data()["createBooking"]["booking"]["status"],
        "PENDING",
        "{r:?}"
    );

    // The same film rated down to 12 (an admin's correction) sells CHILD tickets up
    // to the child age of 11 only: 12 is still above it.
    let changed = app
        .gql_as(
            &room.admin.token,
            UPDATE_MOVIE,
            json!({"id": room.movie, "i": {"ageRating": {"system": "FSK", "code": "12", "minAge": 12}}}),
        )
        .await;
    assert_eq!(
        changed.data()["updateMovie"]["ageRating"],
        json!({"system": "FSK", "code": "12", "minAge": 12})
    );
    let cleared = app
        .gql_as(
            &room.admin.token,
            UPDATE_MOVIE,
            json!({"id": room.movie, "i": {"ageRating": null}}),
        )
        .await;
    assert_eq!(cleared.data()["updateMovie"]["ageRating"], Value::Null);
}

#[tokio::test]
async fn bad_prices_ratings_and_tickets_are_refused_naming_the_field() {
    let app = TestApp::new().await;
    let room = room(&app, None).await;
    for (prices, why) in [
        (json!([]), "empty"),
        (json!([{"ticketType": "ADULT"}]), "no rule"),
        (
            json!([{"ticketType": "ADULT", "fixedPrice": "5", "percentOfSeatPrice": "50"}]),
            "two rules",
        ),
        (
            json!([{"ticketType": "ADULT", "fixedPrice": "5.001"}]),
            "sub-cent",
        ),
        (
            json!([{"ticketType": "ADULT", "percentOfSeatPrice": "-5"}]),
            "negative",
        ),
        (
            json!([{"ticketType": "ADULT", "percentOfSeatPrice": "100"}, {"ticketType": "adult", "fixedPrice": "1"}]),
            "twice",
        ),
        (
            json!([{"ticketType": "OAP!", "percentOfSeatPrice": "60"}]),
            "bad code",
        ),
    ] {
        let r = showtime(&app, &room, Some(prices)).await;
        assert_eq!(r.code(), "BAD_USER_INPUT", "{why}");
        assert_eq!(r.field(), Some("ticketPrices"), "{why}");
    }
    assert_eq!(count(&app, "showtimes").await, 0);

    for (rating, field) in [
        (
            json!({"system": "MPAA", "code": "R", "minAge": 30}),
            "ageRating.minAge",
        ),
        (
            json!({"system": "", "code": "R", "minAge": 17}),
            "ageRating.system",
        ),
        (
            json!({"system": "MPAA", "code": "R\u{0}", "minAge": 17}),
            "ageRating.code",
        ),
    ] {
        let r = app
            .gql_as(
                &room.admin.token,
                MOVIE,
                json!({"i": {"title": "X", "duration": 90, "ageRating": rating}}),
            )
            .await;
        assert_eq!(r.code(), "BAD_USER_INPUT");
        assert_eq!(r.field(), Some(field));
    }

    let showtime = id(&showtime(&app, &room, Some(family_prices())).await);
    let buyer = app.with_user(Role::Customer).await;
    let token = lock(&app, &buyer, showtime, &["A1", "A2"]).await;
    for (input, field) in [
        (
            json!({"seatNumbers": ["A1"], "tickets": [{"seatNumber": "A2", "ticketType": "ADULT"}]}),
            "tickets",
        ),
        (
            json!({"tickets": [{"seatNumber": "A1", "ticketType": "ADULT"}, {"seatNumber": "A1", "ticketType": "CHILD"}]}),
            "tickets",
        ),
        (
            json!({"tickets": [{"seatNumber": "A1", "ticketType": "STUDENT"}]}),
            "tickets",
        ),
        (
            json!({"tickets": [{"seatNumber": "A1", "ticketType": ""}]}),
            "tickets",
        ),
        (json!({}), "seatNumbers"),
    ] {
        let mut i = input.clone();
        i["showtimeId"] = json!(showtime.to_string());
        i["lockToken"] = json!(token);
        let r = app.gql_as(&buyer.token, BOOK, json!({"i": i})).await;
        assert_eq!(r.code(), "BAD_USER_INPUT", "{input}");
        assert_eq!(r.field(), Some(field), "{input}");
    }
    assert_eq!(count(&app, "bookings").await, 0);
}

/// The ticket the door sees says the film's rating, and each seat's ticket type:
/// the served image is the code with exactly that caption under it.
#[tokio::test]
async fn the_ticket_image_says_the_rating_and_the_ticket_types() {
    let app = TestApp::builder()
        .env("SIMULATED_PAYMENT_DELAY_MS", "600000")
        .build()
        .await;
    let room = room(
        &app,
        Some(json!({"system": "BBFC", "code": "15", "minAge": 15})),
    )
    .await;
    let created = showtime(&app, &room, Some(family_prices())).await;
    let showtime = id(&created);
    let buyer = app.with_user(Role::Customer).await;
    let token = lock(&app, &buyer, showtime, &["A1", "B1"]).await;
    let r = app
        .gql_as(
            &buyer.token,
            BOOK,
            json!({"i": {"showtimeId": showtime.to_string(), "lockToken": token, "tickets": [
                {"seatNumber": "A1", "ticketType": "ADULT"},
                {"seatNumber": "B1", "ticketType": "SENIOR"}]}}),
        )
        .await;
    let booking = r.data()["createBooking"]["booking"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    common::flow::pay(&app, &booking).await;
    let found = app
        .gql_as(
            &buyer.token,
            "query($id: ID!) { booking(id: $id) { qrCode showtime { startTime } } }",
            json!({"id": booking}),
        )
        .await;
    let code = found.data()["booking"]["qrCode"]
        .as_str()
        .unwrap()
        .to_owned();
    let starts: chrono::DateTime<Utc> = found.data()["booking"]["showtime"]["startTime"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    let served = app
        .client
        .get(app.url(&format!("/api/tickets/{booking}.png")))
        .bearer_auth(&buyer.token)
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap()
        .to_vec();
    let expected = screema::tickets::image::ticket_png(
        &code,
        &[
            "Nosferatu".to_owned(),
            "Rated BBFC 15 (15+)".to_owned(),
            "Rex, screen 1".to_owned(),
            starts.format("%a %d %b %Y %H:%M").to_string(),
            "Seats A1, B1 SENIOR".to_owned(),
        ],
    )
    .unwrap();
    assert!(
        served == expected,
        "the served ticket is not the captioned one"
    );
}
