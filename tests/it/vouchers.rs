//! Vouchers through the API: admins create them (bad ones refused, field by field);
//! a code comes off the tickets it applies to, before the loyalty discount, shown
//! beside it; uses are counted atomically (fifty buyers of the last use: one gets it)
//! and given back by a booking that ends; per-customer limits hold.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::common;
use crate::ticket_types::{family_prices, room, showtime};

use chrono::{Duration, Utc};
use common::fixtures as fx;
use common::flow::{cancel, count, lock, pay};
use common::{Gql, TestApp, TestUser};
use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use screema::db::enums::Role;
use screema::db::schema::users;
use serde_json::{Value, json};
use uuid::Uuid;

const CREATE: &str = "mutation($i: CreateVoucherInput!) { createVoucher(input: $i) { id code kind value \
    amount { amount } ticketTypes totalUses usesPerCustomer uses remainingUses } }";
const LIST: &str = "{ vouchers { code uses remainingUses } }";
const BOOK: &str = "mutation($i: CreateBookingInput!) { createBooking(input: $i) { booking { id status \
    voucherCode totalAmount { amount } voucherDiscount { amount } loyaltyDiscount { amount } \
    discountAmount { amount } finalAmount { amount } \
    tickets { seatNumber ticketType price { amount } discount { amount } finalPrice { amount } } } } }";

async fn voucher(app: &TestApp, admin: &TestUser, input: Value) -> Gql {
    app.gql_as(&admin.token, CREATE, json!({"i": input})).await
}

async fn book(
    app: &TestApp,
    user: &TestUser,
    showtime: Uuid,
    seats: &[&str],
    voucher: Option<&str>,
) -> Gql {
    let token = lock(app, user, showtime, seats).await;
    book_held(app, user, showtime, seats, &token, voucher).await
}

async fn book_held(
    app: &TestApp,
    user: &TestUser,
    showtime: Uuid,
    seats: &[&str],
    token: &str,
    voucher: Option<&str>,
) -> Gql {
    app.gql_as(
        &user.token,
        BOOK,
        json!({"i": {"showtimeId": showtime.to_string(), "lockToken": token,
                     "seatNumbers": seats, "voucherCode": voucher}}),
    )
    .await
}

async fn uses(app: &TestApp, admin: &TestUser, code: &str) -> i64 {
    let r = app.gql_as(&admin.token, LIST, json!({})).await;
    r.data()["vouchers"]
        .as_array()
        .unwrap()
        .iter()
        .find(|v| v["code"] == code)
        .unwrap()["uses"]
        .as_i64()
        .unwrap()
}

async fn plain_showtime(app: &TestApp, seats: u16) -> Uuid {
    let mut conn = app.conn().await;
    fx::one_row_showtime(&mut conn, seats, &[], Utc::now() + Duration::days(2)).await
}

#[tokio::test]
async fn admins_create_vouchers_and_bad_ones_are_refused_naming_the_field() {
    let app = TestApp::new().await;
    let admin = app.with_user(Role::Admin).await;
    let customer = app.with_user(Role::Customer).await;
    let r = voucher(
        &app,
        &admin,
        json!({"code": "student-half", "kind": "PERCENT_OFF", "value": "50",
               "ticketTypes": ["student"], "totalUses": 100, "usesPerCustomer": 2}),
    )
    .await;
    assert_eq!(
        r.data()["createVoucher"],
        json!({"id": r.data()["createVoucher"]["id"], "code": "STUDENT-HALF", "kind": "PERCENT_OFF",
               "value": "50", "amount": null, "ticketTypes": ["STUDENT"], "totalUses": 100,
               "usesPerCustomer": 2, "uses": 0, "remainingUses": 100})
    );
    let r = voucher(
        &app,
        &admin,
        json!({"code": "TENNER", "kind": "FIXED_PRICE", "value": "10"}),
    )
    .await;
    assert_eq!(r.data()["createVoucher"]["amount"]["amount"], "10.00");

    let now = Utc::now();
    for (input, field) in [
        (
            json!({"code": "x", "kind": "PERCENT_OFF", "value": "10"}),
            "code",
        ),
        (
            json!({"code": "HAS SPACE", "kind": "PERCENT_OFF", "value": "10"}),
            "code",
        ),
        (
            json!({"code": "OK1", "kind": "PERCENT_OFF", "value": "0"}),
            "value",
        ),
        (
            json!({"code": "OK1", "kind": "PERCENT_OFF", "value": "101"}),
            "value",
        ),
        (
            json!({"code": "OK1", "kind": "AMOUNT_OFF", "value": "1.005"}),
            "value",
        ),
        (
            json!({"code": "OK1", "kind": "AMOUNT_OFF", "value": "-1"}),
            "value",
        ),
        (
            json!({"code": "OK1", "kind": "AMOUNT_OFF", "value": "1", "totalUses": 0}),
            "totalUses",
        ),
        (
            json!({"code": "OK1", "kind": "AMOUNT_OFF", "value": "1", "usesPerCustomer": -2}),
            "usesPerCustomer",
        ),
        (
            json!({"code": "OK1", "kind": "AMOUNT_OFF", "value": "1", "ticketTypes": ["no way"]}),
            "ticketTypes",
        ),
        (
            json!({"code": "OK1", "kind": "AMOUNT_OFF", "value": "1", "movieIds": [Uuid::new_v4()]}),
            "movieIds",
        ),
        (
            json!({"code": "OK1", "kind": "AMOUNT_OFF", "value": "1", "theaterIds": ["nope"]}),
            "theaterIds",
        ),
        (
            json!({"code": "OK1", "kind": "AMOUNT_OFF", "value": "1",
                   "validFrom": (now + Duration::days(2)).to_rfc3339(),
                   "validUntil": (now + Duration::days(1)).to_rfc3339()}),
            "validUntil",
        ),
    ] {
        let r = voucher(&app, &admin, input.clone()).await;
        assert_eq!(r.code(), "BAD_USER_INPUT", "{input}");
        assert_eq!(r.field(), Some(field), "{input}");
    }
    let again = voucher(
        &app,
        &admin,
        json!({"code": "Tenner", "kind": "AMOUNT_OFF", "value": "1"}),
    )
    .await;
    assert_eq!((again.code(), again.field()), ("CONFLICT", Some("code")));
    assert_eq!(count(&app, "vouchers").await, 2);

    for call in [
        voucher(
            &app,
            &customer,
            json!({"code": "MINE", "kind": "PERCENT_OFF", "value": "100"}),
        )
        .await,
        app.gql_as(&customer.token, LIST, json!({})).await,
    ] {
        assert_eq!(call.code(), "FORBIDDEN");
    }
}

#[tokio::test]
async fn a_voucher_comes_off_its_tickets_before_the_loyalty_discount() {
    let app = TestApp::builder()
        .env("LOYALTY_TIERS", "bronze:0:0,silver:100:10")
        .build()
        .await;
    let room = room(&app, None).await;
    let created = showtime(&app, &room, Some(family_prices())).await;
    let showtime: Uuid = created.data()["createShowtime"]["id"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    let r = voucher(
        &app,
        &room.admin,
        json!({"code": "KIDS3", "kind": "FIXED_PRICE", "value": "3.00", "ticketTypes": ["CHILD"],
               "movieIds": [room.movie]}),
    )
    .await;
    assert!(r.body["errors"].is_null(), "{r:?}");
    let parent = app.with_user(Role::Customer).await;
    diesel::update(users::table.find(parent.id))
        .set((users::points.eq(100), users::tier.eq("silver")))
        .execute(&mut app.conn().await)
        .await
        .unwrap();
    let token = lock(&app, &parent, showtime, &["A1", "A2"]).await;
    let r = app
        .gql_as(
            &parent.token,
            BOOK,
            json!({"i": {"showtimeId": showtime.to_string(), "lockToken": token, "voucherCode": " kids3 ",
                         "tickets": [{"seatNumber": "A1", "ticketType": "ADULT"},
                                     {"seatNumber": "A2", "ticketType": "CHILD"}]}}),
        )
        .await;
    let b = &r.data()["createBooking"]["booking"];
    // The CHILD ticket at 3.00 instead of 6.50; then 10 % of the 13.00 left.
    assert_eq!(b["voucherCode"], "KIDS3");
    assert_eq!(b["totalAmount"]["amount"], "16.50");
    assert_eq!(b["voucherDiscount"]["amount"], "3.50");
    assert_eq!(b["loyaltyDiscount"]["amount"], "1.30");
    assert_eq!(b["discountAmount"]["amount"], "4.80");
    assert_eq!(b["finalAmount"]["amount"], "11.70");
    assert_eq!(
        b["tickets"],
        json!([
            {"seatNumber": "A1", "ticketType": "ADULT", "price": {"amount": "10.00"},
             "discount": {"amount": "1.00"}, "finalPrice": {"amount": "9.00"}},
            {"seatNumber": "A2", "ticketType": "CHILD", "price": {"amount": "6.50"},
             "discount": {"amount": "3.80"}, "finalPrice": {"amount": "2.70"}}
        ])
    );
    assert_eq!(uses(&app, &room.admin, "KIDS3").await, 1);

    // A code that applies to none of the tickets, an unknown one, an expired one.
    let adult = app.with_user(Role::Customer).await;
    let token = lock(&app, &adult, showtime, &["B1"]).await;
    voucher(
        &app,
        &room.admin,
        json!({"code": "GONE", "kind": "PERCENT_OFF", "value": "10",
               "validFrom": (Utc::now() - Duration::days(2)).to_rfc3339(),
               "validUntil": (Utc::now() - Duration::days(1)).to_rfc3339()}),
    )
    .await;
    for code in ["KIDS3", "NOSUCH", "GONE"] {
        let r = book_held(&app, &adult, showtime, &["B1"], &token, Some(code)).await;
        assert_eq!(r.code(), "BAD_USER_INPUT", "{code}");
        assert_eq!(r.field(), Some("voucherCode"), "{code}");
    }
    // The hold survived each refusal.
    let r = book_held(&app, &adult, showtime, &["B1"], &token, None).await;
    assert_eq!(r.data()["createBooking"]["booking"]["status"], "PENDING");
}

/// Fifty customers, each holding a seat, book at the same moment with a code that has
/// one use left: exactly one booking gets it; the others are told it is used up and
/// keep their hold.
#[tokio::test]
async fn fifty_customers_race_for_the_last_use_and_one_gets_it() {
    let app = TestApp::new().await;
    let admin = app.with_user(Role::Admin).await;
    voucher(
        &app,
        &admin,
        json!({"code": "LASTONE", "kind": "PERCENT_OFF", "value": "100", "totalUses": 1}),
    )
    .await;
    let showtime = plain_showtime(&app, 50).await;
    let mut buyers = Vec::new();
    for n in 1..=50 {
        let user = app.with_user(Role::Customer).await;
        let seat = format!("A{n}");
        let token = lock(&app, &user, showtime, &[seat.as_str()]).await;
        buyers.push((user, seat, token));
    }
    let seats: Vec<[&str; 1]> = buyers.iter().map(|(_, seat, _)| [seat.as_str()]).collect();
    let answers = futures_util::future::join_all(buyers.iter().zip(&seats).map(
        |((user, _, token), seat)| book_held(&app, user, showtime, seat, token, Some("LASTONE")),
    ))
    .await;
    let won: Vec<&Gql> = answers
        .iter()
        .filter(|r| r.body["errors"].is_null())
        .collect();
    assert_eq!(won.len(), 1);
    assert_eq!(
        won[0].data()["createBooking"]["booking"]["finalAmount"]["amount"],
        "0.00"
    );
    for r in answers.iter().filter(|r| !r.body["errors"].is_null()) {
        assert_eq!(
            (r.code(), r.field()),
            ("BAD_USER_INPUT", Some("voucherCode"))
        );
        assert!(r.error()["message"].as_str().unwrap().contains("used up"));
    }
    assert_eq!(uses(&app, &admin, "LASTONE").await, 1);
    assert_eq!(count(&app, "bookings").await, 1);
    // A loser's hold is intact: they book without the code.
    let (user, seat, token) = buyers
        .iter()
        .zip(&answers)
        .find(|(_, r)| !r.body["errors"].is_null())
        .map(|(b, _)| b)
        .unwrap();
    let r = book_held(&app, user, showtime, &[seat.as_str()], token, None).await;
    assert_eq!(r.data()["createBooking"]["booking"]["status"], "PENDING");
}

#[tokio::test]
async fn a_booking_that_ends_gives_its_use_back_and_per_customer_limits_hold() {
    let app = TestApp::builder()
        .env("SIMULATED_PAYMENT_DELAY_MS", "600000")
        .build()
        .await;
    let admin = app.with_user(Role::Admin).await;
    voucher(
        &app,
        &admin,
        json!({"code": "ONCE", "kind": "AMOUNT_OFF", "value": "2.00", "totalUses": 1}),
    )
    .await;
    voucher(
        &app,
        &admin,
        json!({"code": "EACH1", "kind": "AMOUNT_OFF", "value": "1.00", "usesPerCustomer": 1}),
    )
    .await;
    let showtime = plain_showtime(&app, 10).await;
    let alice = app.with_user(Role::Customer).await;
    let bob = app.with_user(Role::Customer).await;

    let a = book(&app, &alice, showtime, &["A1"], Some("ONCE")).await;
    let a = a.data()["createBooking"]["booking"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let refused = book(&app, &bob, showtime, &["A2"], Some("ONCE")).await;
    assert_eq!(refused.field(), Some("voucherCode"));
    // Alice cancels her unpaid booking: the use is back, and Bob gets it.
    assert_eq!(
        cancel(&app, &alice, &a).await.data()["cancelBooking"]["status"],
        "CANCELLED"
    );
    assert_eq!(uses(&app, &admin, "ONCE").await, 0);
    let b = book(&app, &bob, showtime, &["A3"], Some("ONCE")).await;
    let b = b.data()["createBooking"]["booking"].clone();
    assert_eq!(b["finalAmount"]["amount"], "8.00");
    assert_eq!(uses(&app, &admin, "ONCE").await, 1);

    // Bob pays, then is refunded in full: the use comes back again.
    let id = b["id"].as_str().unwrap().to_owned();
    pay(&app, &id).await;
    let r = app
        .gql_as(
            &bob.token,
            "mutation($id: ID!) { refundBooking(input: {bookingId: $id}) { amount { amount } status } }",
            json!({"id": id}),
        )
        .await;
    assert_eq!(r.data()["refundBooking"]["amount"]["amount"], "8.00");
    assert_eq!(uses(&app, &admin, "ONCE").await, 0);

    // Once per customer: Alice's second booking with EACH1 is refused, Bob's first is not.
    let first = book(&app, &alice, showtime, &["A4"], Some("each1")).await;
    assert!(first.body["errors"].is_null(), "{first:?}");
    let second = book(&app, &alice, showtime, &["A5"], Some("EACH1")).await;
    assert_eq!(
        (second.code(), second.field()),
        ("BAD_USER_INPUT", Some("voucherCode"))
    );
    assert!(
        second.error()["message"]
            .as_str()
            .unwrap()
            .contains("per customer")
    );
    let bobs = book(&app, &bob, showtime, &["A6"], Some("EACH1")).await;
    assert!(bobs.body["errors"].is_null(), "{bobs:?}");
    assert_eq!(uses(&app, &admin, "EACH1").await, 2);
}

/// A booking left unpaid until it expires gives its use back as a cancelled one does:
/// the sweeper moves it to EXPIRED and the `screema_voucher_use` trigger returns the
/// use, so the last use of a voucher is not lost to a buyer who walked away.
#[tokio::test]
async fn a_booking_that_expires_unpaid_gives_its_use_back() {
    let (builder, clock) = TestApp::clocked();
    let app = builder
        .env("HOLD_TTL_SECONDS", "60")
        .env("SWEEP_INTERVAL_MS", "20")
        .env("SIMULATED_PAYMENT_DELAY_MS", "600000")
        .build()
        .await;
    let admin = app.with_user(Role::Admin).await;
    voucher(
        &app,
        &admin,
        json!({"code": "ONCE", "kind": "AMOUNT_OFF", "value": "2.00", "totalUses": 1}),
    )
    .await
    .data();
    let showtime = plain_showtime(&app, 10).await;
    let alice = app.with_user(Role::Customer).await;
    let bob = app.with_user(Role::Customer).await;

    let a = book(&app, &alice, showtime, &["A1"], Some("ONCE")).await;
    let a = a.data()["createBooking"]["booking"].clone();
    assert_eq!(
        (&a["status"], &a["voucherCode"]),
        (&json!("PENDING"), &json!("ONCE"))
    );
    let a = a["id"].as_str().unwrap().to_owned();
    assert_eq!(uses(&app, &admin, "ONCE").await, 1);
    let refused = book(&app, &bob, showtime, &["A2"], Some("ONCE")).await;
    assert_eq!(
        (refused.code(), refused.field()),
        ("BAD_USER_INPUT", Some("voucherCode"))
    );

    // Alice never pays: past the hold's minute her booking expires.
    clock.advance(Duration::seconds(61));
    common::flow::eventually("expiry", || async {
        common::flow::status_of(&app, &alice, &a).await == "EXPIRED"
    })
    .await;
    assert_eq!(uses(&app, &admin, "ONCE").await, 0);
    let b = book(&app, &bob, showtime, &["A3"], Some("ONCE")).await;
    assert_eq!(
        b.data()["createBooking"]["booking"]["finalAmount"]["amount"],
        "8.00"
    );
    assert_eq!(uses(&app, &admin, "ONCE").await, 1);
}
