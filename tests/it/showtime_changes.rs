//! Moving and repricing a showtime through the API: the rules of creation, customers
//! told and free to refund whatever the cut-off, a new screen that must have every
//! booked seat, and every node (and open seat map) seeing the change at once.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::common;
use crate::exchanges::{paid, showtime_at};
use crate::messages::{SmtpSink, email_of, form_fields, sms_sink};
use crate::showtime_cancel::cancel;
use crate::ticket_types::room;

use std::sync::{Arc, Mutex};

use chrono::{Duration, Utc};
use common::flow::{eventually, lock};
use common::tools::free_port;
use common::ws::WsClient;
use common::{Gql, TestApp, TestUser};
use screema::db::enums::Role;
use serde_json::{Value, json};
use uuid::Uuid;

const UPDATE: &str = "mutation($id: ID!, $i: UpdateShowtimeInput!) { updateShowtime(id: $id, input: $i) \
    { id startTime endTime basePrice { amount } screen { id } } }";

async fn update(app: &TestApp, user: &TestUser, showtime: Uuid, input: Value) -> Gql {
    app.gql_as(
        &user.token,
        UPDATE,
        json!({"id": showtime.to_string(), "i": input}),
    )
    .await
}

async fn screen(app: &TestApp, admin: &TestUser, layout: Value) -> String {
    let theater = app
        .gql_as(
            &admin.token,
            "mutation { createTheater(input: {name: \"Annex\", location: \"Berlin\"}) { id } }",
            json!({}),
        )
        .await;
    let r = app
        .gql_as(
            &admin.token,
            "mutation($i: CreateScreenInput!) { createScreen(input: $i) { id } }",
            json!({"i": {"theaterId": theater.data()["createTheater"]["id"], "screenNumber": 2,
                         "seatLayout": layout}}),
        )
        .await;
    r.data()["createScreen"]["id"].as_str().unwrap().to_owned()
}

async fn refund(app: &TestApp, user: &TestUser, booking: &str) -> Gql {
    app.gql_as(
        &user.token,
        "mutation($i: RefundInput!) { refundBooking(input: $i) { amount { amount } status } }",
        json!({"i": {"bookingId": booking}}),
    )
    .await
}

#[tokio::test]
async fn a_moved_showtime_tells_its_customers_and_lets_them_refund_whatever_the_cutoff() {
    let app = TestApp::builder()
        .env("SIMULATED_PAYMENT_DELAY_MS", "600000")
        .build()
        .await;
    let room = room(&app, None).await;
    let show = showtime_at(&app, &room, Utc::now() + Duration::days(2), "10.00").await;
    let buyer = app.with_user(Role::Customer).await;
    let late = app.with_user(Role::Customer).await;
    let (id, code) = paid(&app, &buyer, show, &["A1"]).await;

    // Only admins; a change needs something to change and follows creation's rules.
    let operator = app.with_user(Role::Operator).await;
    let soon = (Utc::now() + Duration::minutes(90)).to_rfc3339();
    assert_eq!(
        update(&app, &operator, show, json!({"startTime": soon}))
            .await
            .code(),
        "FORBIDDEN"
    );
    let r = update(&app, &room.admin, show, json!({})).await;
    assert_eq!((r.code(), r.field()), ("BAD_USER_INPUT", Some("input")));
    let past = (Utc::now() - Duration::hours(1)).to_rfc3339();
    let r = update(&app, &room.admin, show, json!({"startTime": past})).await;
    assert_eq!((r.code(), r.field()), ("BAD_USER_INPUT", Some("startTime")));
    let r = update(&app, &room.admin, show, json!({"basePrice": "-1.00"})).await;
    assert_eq!((r.code(), r.field()), ("BAD_USER_INPUT", Some("basePrice")));
    let r = update(
        &app,
        &room.admin,
        Uuid::new_v4(),
        json!({"basePrice": "9.00"}),
    )
    .await;
    assert_eq!(r.code(), "NOT_FOUND");
    // Onto another showing of the same screen: CONFLICT.
    let other = showtime_at(&app, &room, Utc::now() + Duration::days(3), "10.00").await;
    let r = update(
        &app,
        &room.admin,
        show,
        json!({"startTime": (Utc::now() + Duration::days(3) + Duration::minutes(30)).to_rfc3339()}),
    )
    .await;
    assert_eq!((r.code(), r.field()), ("CONFLICT", Some("startTime")));

    // Moved to 90 minutes from now: inside the 2-hour refund cut-off.
    let r = update(&app, &room.admin, show, json!({"startTime": soon})).await;
    let moved = &r.data()["updateShowtime"];
    assert_eq!(
        chrono::DateTime::parse_from_rfc3339(moved["startTime"].as_str().unwrap())
            .unwrap()
            .timestamp(),
        chrono::DateTime::parse_from_rfc3339(&soon)
            .unwrap()
            .timestamp()
    );
    let notices = app
        .gql_as(&buyer.token, "{ notifications { title } }", json!({}))
        .await;
    assert!(
        notices.data()["notifications"]
            .as_array()
            .unwrap()
            .iter()
            .any(|n| n["title"] == "Showing moved")
    );
    // The ticket stays valid: same booking, same code.
    let b = app
        .gql_as(
            &buyer.token,
            "query($id: ID!) { booking(id: $id) { qrCode } }",
            json!({"id": id}),
        )
        .await;
    assert_eq!(b.data()["booking"]["qrCode"], json!(code));
    // Booked before the move: refundable in full though the cut-off has passed.
    let r = refund(&app, &buyer, &id).await;
    assert_eq!(
        r.data()["refundBooking"],
        json!({"amount": {"amount": "10.00"}, "status": "succeeded"})
    );
    // Booked after the move: the cut-off applies.
    let (late_id, _) = paid(&app, &late, show, &["A2"]).await;
    let r = refund(&app, &late, &late_id).await;
    assert_eq!(r.code(), "CONFLICT");
    let _ = other;
}

#[tokio::test]
async fn a_new_screen_must_have_every_booked_seat_and_every_node_sees_the_change() {
    let app = TestApp::builder()
        .env("SIMULATED_PAYMENT_DELAY_MS", "600000")
        .build()
        .await;
    let node = app.another_node().build().await;
    let room = room(&app, None).await;
    let show = showtime_at(&app, &room, Utc::now() + Duration::days(2), "10.00").await;
    let buyer = app.with_user(Role::Customer).await;
    paid(&app, &buyer, show, &["B3"]).await;

    // The other node has the room cached and a seat map open.
    lock(&node, &buyer, show, &["A1"]).await;
    let mut ws = WsClient::connect(node.addr, false, Some(&buyer.token)).await;
    ws.subscribe(
        "m",
        "subscription($s: ID!) { seatMap(showtimeId: $s) { snapshot { rows { label seats { number price { amount } } } } } }",
        json!({"s": show.to_string()}),
    )
    .await;
    let first = ws.next_data().await;
    assert_eq!(first["seatMap"]["snapshot"]["rows"][0]["label"], "A");

    // A screen without B3: refused, naming it.
    let small = screen(
        &app,
        &room.admin,
        json!({"rows": [{"label": "A", "seats": [{"number": 1, "kind": "STANDARD"}, {"number": 2, "kind": "STANDARD"}]}]}),
    )
    .await;
    let r = update(&app, &room.admin, show, json!({"screenId": small})).await;
    assert_eq!(r.code(), "CONFLICT");
    assert!(
        r.error()["message"].as_str().unwrap().contains("B3"),
        "{r:?}"
    );

    // A bigger screen with every booked seat, and a new price.
    let big = screen(
        &app,
        &room.admin,
        json!({"rows": [
            {"label": "A", "seats": [{"number": 1, "kind": "STANDARD"}, {"number": 2, "kind": "STANDARD"}]},
            {"label": "B", "seats": [{"number": 1, "kind": "STANDARD"}, {"number": 2, "kind": "STANDARD"},
                                     {"number": 3, "kind": "STANDARD"}]},
            {"label": "C", "seats": [{"number": 1, "kind": "STANDARD"}]}]}),
    )
    .await;
    let r = update(
        &app,
        &room.admin,
        show,
        json!({"screenId": big, "basePrice": "12.00"}),
    )
    .await;
    assert_eq!(r.data()["updateShowtime"]["screen"]["id"], big);
    assert_eq!(r.data()["updateShowtime"]["basePrice"]["amount"], "12.00");

    // The open map on the other node starts again from the new room.
    let redrawn = tokio::time::timeout(std::time::Duration::from_secs(10), async {
        loop {
            let event = ws.next_data().await;
            if event["seatMap"]["snapshot"]["rows"]
                .as_array()
                .is_some_and(|rows| rows.len() == 3 && rows[2]["label"] == "C")
            {
                break;
            }
        }
    })
    .await;
    assert!(redrawn.is_ok(), "the open map was not drawn again");
    // And its cached room sells C1 at the new price.
    let r = node
        .gql_as(
            &buyer.token,
            "mutation($s: ID!) { lockSeats(input: {showtimeId: $s, seatNumbers: [\"C1\"]}) { lockToken } }",
            json!({"s": show.to_string()}),
        )
        .await;
    assert!(r.data()["lockSeats"]["lockToken"].is_string());
    let price = node
        .gql(
            "query($s: ID!) { showtime(id: $s) { seatMap { rows { seats { number price { amount } } } } } }",
            json!({"s": show.to_string()}),
        )
        .await;
    assert_eq!(
        price.data()["showtime"]["seatMap"]["rows"][2]["seats"][0]["price"]["amount"],
        "12.00"
    );
}

/// What the SMS sink was sent (`messages::sms_sink`).
type Texts = Arc<Mutex<Vec<(String, String, String)>>>;

/// The first text message whose body contains `needle`: its number and its body.
async fn text_with(texts: &Texts, needle: &str) -> (String, String) {
    let find = || {
        texts.lock().unwrap().iter().find_map(|(_, _, body)| {
            let form = form_fields(body);
            let field = |k: &str| form.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
            field("Body")
                .filter(|b| b.contains(needle))
                .map(|b| (field("To").unwrap_or_default(), b))
        })
    };
    eventually("the text message", || {
        let found = find().is_some();
        async move { found }
    })
    .await;
    find().unwrap()
}

/// The first email to `to` with this subject.
async fn mail_with(smtp: &SmtpSink, to: &str, subject: &str) -> String {
    let find = || {
        smtp.messages()
            .into_iter()
            .find(|m| m.contains(to) && m.contains(&format!("Subject: {subject}")))
    };
    eventually("the email", || {
        let found = find().is_some();
        async move { found }
    })
    .await;
    find().unwrap()
}

/// Besides the app's notifications, a customer hears of a move and of a cancellation by
/// email and, with a verified phone, by text message: both leave through the outbox.
#[tokio::test]
async fn a_moved_then_cancelled_showtime_tells_its_customer_by_email_and_text() {
    let smtp = SmtpSink::start_on(free_port()).await;
    let (sms_url, texts) = sms_sink().await;
    let app = TestApp::builder()
        .env("SMTP_HOST", "127.0.0.1")
        .env("SMTP_PORT", &smtp.port.to_string())
        .env("SMTP_TLS", "none")
        .env("SMS_API_BASE", &sms_url)
        .env("SMS_ACCOUNT_SID", "AC123")
        .env("SMS_AUTH_TOKEN", "tok")
        .env("SMS_FROM", "+15550001111")
        .env("SIMULATED_PAYMENT_DELAY_MS", "600000")
        .env("OUTBOX_POLL_MS", "50")
        .build()
        .await;
    let room = room(&app, None).await;
    let show = showtime_at(&app, &room, Utc::now() + Duration::days(2), "10.00").await;
    let buyer = app.with_user(Role::Customer).await;
    {
        // Proven as `verifyPhone` proves it (`account_care` tests that path).
        use diesel::prelude::*;
        use diesel_async::RunQueryDsl;
        use screema::db::schema::users;
        diesel::update(users::table.find(buyer.id))
            .set((
                users::phone.eq(Some("+15557654321")),
                users::phone_verified.eq(true),
            ))
            .execute(&mut app.conn().await)
            .await
            .unwrap();
    }
    let (id, _) = paid(&app, &buyer, show, &["A1"]).await;
    let reference = common::flow::booking(&app, &buyer, &id).await["bookingReference"]
        .as_str()
        .unwrap()
        .to_owned();
    let email = email_of(&app, &buyer).await;

    let later = (Utc::now() + Duration::days(3)).to_rfc3339();
    let r = update(&app, &room.admin, show, json!({"startTime": later})).await;
    assert!(r.data()["updateShowtime"]["id"].is_string(), "{r:?}");
    let moved = mail_with(
        &smtp,
        &email,
        &format!("Nosferatu has moved - booking {reference}"),
    )
    .await;
    assert!(moved.contains("Film:    Nosferatu"), "{moved}");
    let (to, body) = text_with(&texts, "has moved").await;
    assert_eq!(to, "+15557654321");
    assert!(
        body.contains(&format!("Nosferatu (booking {reference}) has moved")),
        "{body}"
    );

    let r = cancel(&app, &room.admin, show, "Projector fault").await;
    assert_eq!(r.data()["cancelShowtime"]["status"], "CANCELLED", "{r:?}");
    let cancelled = mail_with(
        &smtp,
        &email,
        &format!("Nosferatu is cancelled - booking {reference}"),
    )
    .await;
    assert!(cancelled.contains("Film:    Nosferatu"), "{cancelled}");
    let (to, body) = text_with(&texts, "is cancelled").await;
    assert_eq!(to, "+15557654321");
    assert!(
        body.contains(&format!(
            "is cancelled (Projector fault). Booking {reference} is refunded in full."
        )),
        "{body}"
    );
}

/// The fields of a showtime a listing shows.
const LISTED: &str = "id startTime basePrice { amount }";

/// A film's showtimes as `node` lists them on the home screen (`movies { showtimes }`)
/// and on the film's page (`showtimes(movieId:)`): `[id, startTime, basePrice]` each.
/// `live` adds seats left, which neither the engine's whole answers nor the fast path
/// keep, so the list comes from the catalog cache alone.
async fn listings(node: &TestApp, movie: &str, live: bool) -> [Vec<[Value; 3]>; 2] {
    let fields = if live {
        format!("{LISTED} availableSeats")
    } else {
        LISTED.to_owned()
    };
    let home = node
        .gql(
            &format!("{{ movies(limit: 20) {{ movies {{ id showtimes {{ {fields} }} }} }} }}"),
            json!({}),
        )
        .await;
    let page = node
        .gql(
            &format!("query($m: ID!) {{ showtimes(movieId: $m) {{ {fields} }} }}"),
            json!({"m": movie}),
        )
        .await;
    let of_film = home.data()["movies"]["movies"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["id"] == movie)
        .unwrap()["showtimes"]
        .clone();
    let rows = |list: &Value| {
        list.as_array()
            .unwrap()
            .iter()
            .map(|s| {
                [
                    s["id"].clone(),
                    s["startTime"].clone(),
                    s["basePrice"]["amount"].clone(),
                ]
            })
            .collect()
    };
    [rows(&of_film), rows(&page.data()["showtimes"])]
}

/// Polls `node`'s listings read past the engine's answers until `done` holds of both,
/// well within the catalog cache's time to live (ten seconds): the word of the change
/// reached it. Then the listings as a home screen reads them, which the engine may
/// answer whole, must show the same at once.
async fn until_listed(
    node: &TestApp,
    movie: &str,
    what: &str,
    done: impl Fn(&[Vec<[Value; 3]>; 2]) -> bool,
) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(3);
    loop {
        if done(&listings(node, movie, true).await) {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the other node still lists the showtime as it was: {what}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    let kept = listings(node, movie, false).await;
    assert!(done(&kept), "{what}: {kept:?}");
}

#[tokio::test]
async fn another_nodes_cached_listings_show_a_move_and_drop_a_cancelled_showtime() {
    let app = TestApp::new().await;
    let node = app.another_node().build().await;
    let room = room(&app, None).await;
    let start = Utc::now() + Duration::days(2);
    let moving = showtime_at(&app, &room, start, "10.00").await;
    let cancelled = showtime_at(&app, &room, start + Duration::hours(4), "10.00").await;
    let id = |showtime: Uuid| json!(showtime.to_string());

    // The other node has read both listings, and serves them again from memory.
    let before = listings(&node, &room.movie, false).await;
    for list in &before {
        let ids: Vec<&Value> = list.iter().map(|row| &row[0]).collect();
        assert_eq!(ids, [&id(moving), &id(cancelled)], "{before:?}");
    }
    let statements = node.statements().await;
    assert_eq!(listings(&node, &room.movie, false).await, before);
    assert_eq!(
        node.statements().await,
        statements,
        "served from its caches"
    );

    // Moved and repriced on this node: the other lists the new time and price.
    let later = (start + Duration::days(1)).to_rfc3339();
    let r = update(
        &app,
        &room.admin,
        moving,
        json!({"startTime": later, "basePrice": "12.00"}),
    )
    .await;
    let now_at = r.data()["updateShowtime"]["startTime"].clone();
    let moved = [id(moving), now_at, json!("12.00")];
    until_listed(&node, &room.movie, "moved", |lists| {
        lists.iter().all(|list| list.contains(&moved))
    })
    .await;

    // Cancelled on this node: the other lists it no more.
    let r = cancel(&app, &room.admin, cancelled, "Projector fault").await;
    assert_eq!(r.data()["cancelShowtime"]["status"], "CANCELLED", "{r:?}");
    until_listed(&node, &room.movie, "cancelled", |lists| {
        lists
            .iter()
            .all(|list| list.iter().all(|row| row[0] != id(cancelled)) && list.contains(&moved))
    })
    .await;
    let r = node
        .gql(
            "query($s: ID!) { showtime(id: $s) { status } }",
            json!({"s": cancelled.to_string()}),
        )
        .await;
    assert_eq!(r.data()["showtime"]["status"], "CANCELLED");
}
