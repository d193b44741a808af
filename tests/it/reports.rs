//! Reports through the API: the analytics split by channel, ticket type, complimentary
//! tickets and vouchers; a showtime's report; the sales CSV export.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::common;

use chrono::{Duration, Utc};
use common::{TestApp, TestUser};
use screema::db::enums::Role;
use serde_json::{Value, json};
use uuid::Uuid;

/// A film whose title a spreadsheet would run as a formula, its showtime with CHILD
/// tickets, and three sales: online with a voucher, at the counter for cash (ADULT and
/// CHILD), and one complimentary ticket.
async fn sales(app: &TestApp) -> (crate::ticket_types::Room, Uuid, TestUser) {
    let room = crate::ticket_types::room(app, None).await;
    let admin = &room.admin;
    let r = app
        .gql_as(
            &admin.token,
            "mutation($id: ID!) { updateMovie(id: $id, input: {title: \"=HYPERLINK(1)\"}) { id } }",
            json!({"id": room.movie}),
        )
        .await;
    r.data();
    let r = app
        .gql_as(
            &admin.token,
            "mutation($i: CreateShowtimeInput!) { createShowtime(input: $i) { id } }",
            json!({"i": {"movieId": room.movie, "screenId": room.screen,
                "startTime": (Utc::now() + Duration::days(2)).to_rfc3339(), "basePrice": "10.00",
                "ticketPrices": [{"ticketType": "ADULT", "percentOfSeatPrice": "100"},
                                 {"ticketType": "CHILD", "fixedPrice": "6.00"}]}}),
        )
        .await;
    let show: Uuid = r.data()["createShowtime"]["id"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    app.gql_as(
        &admin.token,
        "mutation { createVoucher(input: {code: \"SPRING\", kind: PERCENT_OFF, value: \"10\"}) { id } }",
        json!({}),
    )
    .await
    .data();
    let buyer = app.with_user(Role::Customer).await;
    let token = common::flow::lock(app, &buyer, show, &["A1"]).await;
    let r = app
        .gql_as(
            &buyer.token,
            "mutation($i: CreateBookingInput!) { createBooking(input: $i) { booking { id } } }",
            json!({"i": {"showtimeId": show.to_string(), "lockToken": token,
                         "seatNumbers": ["A1"], "voucherCode": "spring"}}),
        )
        .await;
    let id = r.data()["createBooking"]["booking"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    common::flow::pay(app, &id).await;
    let operator = app.with_user(Role::Operator).await;
    for (tickets, payment) in [
        (
            json!([{"seatNumber": "A2", "ticketType": "ADULT"}, {"seatNumber": "A3", "ticketType": "CHILD"}]),
            "CASH",
        ),
        (
            json!([{"seatNumber": "B1", "ticketType": "ADULT"}]),
            "COMPLIMENTARY",
        ),
    ] {
        app.gql_as(
            &operator.token,
            "mutation($i: SellAtCounterInput!) { sellAtCounter(input: $i) { id } }",
            json!({"i": {"showtimeId": show.to_string(), "tickets": tickets, "payment": payment}}),
        )
        .await
        .data();
    }
    (room, show, operator)
}

#[tokio::test]
async fn analytics_and_the_showtime_report_split_sales_by_channel_type_and_voucher() {
    let app = TestApp::builder()
        .env("SIMULATED_PAYMENT_DELAY_MS", "600000")
        .build()
        .await;
    let (room, show, operator) = sales(&app).await;
    const SPLIT: &str = "channels { channel bookings seats revenue { amount } } \
        ticketTypes { ticketType tickets revenue { amount } } complimentaryTickets \
        vouchers { code bookings discount { amount } }";
    let today = Utc::now().date_naive().to_string();
    let r = app
        .gql_as(
            &room.admin.token,
            &format!("query($d: Date!) {{ analytics(from: $d, to: $d) {{ {SPLIT} }} }}"),
            json!({"d": today}),
        )
        .await;
    let expected = json!({
        // Online: A1 at 10.00 less 10 %; the counter: 10.00 + 6.00 cash, and a free B1.
        "channels": [
            {"channel": "COUNTER", "bookings": 2, "seats": 3, "revenue": {"amount": "16.00"}},
            {"channel": "ONLINE", "bookings": 1, "seats": 1, "revenue": {"amount": "9.00"}}],
        "ticketTypes": [
            {"ticketType": "ADULT", "tickets": 3, "revenue": {"amount": "19.00"}},
            {"ticketType": "CHILD", "tickets": 1, "revenue": {"amount": "6.00"}}],
        "complimentaryTickets": 1,
        "vouchers": [{"code": "SPRING", "bookings": 1, "discount": {"amount": "1.00"}}],
    });
    assert_eq!(r.data()["analytics"], expected);

    let r = app
        .gql_as(
            &operator.token,
            &format!(
                "query($s: ID!) {{ showtimeReport(showtimeId: $s) {{ capacity seatsSold checkedIn \
                 revenue {{ amount }} {SPLIT} }} }}"
            ),
            json!({"s": show.to_string()}),
        )
        .await;
    let report = &r.data()["showtimeReport"];
    assert_eq!(
        (
            report["capacity"].clone(),
            report["seatsSold"].clone(),
            report["checkedIn"].clone(),
            report["revenue"]["amount"].clone()
        ),
        (json!(6), json!(4), json!(0), json!("25.00"))
    );
    assert_eq!(report["channels"], expected["channels"]);
    assert_eq!(report["vouchers"], expected["vouchers"]);
    let customer = app.with_user(Role::Customer).await;
    let r = app
        .gql_as(
            &customer.token,
            "query($s: ID!) { showtimeReport(showtimeId: $s) { capacity } }",
            json!({"s": show.to_string()}),
        )
        .await;
    assert_eq!(r.code(), "FORBIDDEN");
}

async fn export(app: &TestApp, token: Option<&str>, query: &str) -> reqwest::Response {
    let mut request = app
        .client
        .get(app.url(&format!("/api/admin/reports/sales.csv{query}")));
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    request.send().await.unwrap()
}

#[tokio::test]
async fn admins_export_sales_as_csv_that_a_spreadsheet_opens_safely() {
    let app = TestApp::builder()
        .env("SIMULATED_PAYMENT_DELAY_MS", "600000")
        .build()
        .await;
    let (room, _, operator) = sales(&app).await;
    let today = Utc::now().date_naive();
    let response = export(
        &app,
        Some(&room.admin.token),
        &format!("?from={today}&to={today}"),
    )
    .await;
    assert_eq!(response.status(), 200);
    assert_eq!(
        response.headers()["content-type"],
        "text/csv; charset=utf-8"
    );
    assert!(
        response.headers()["content-disposition"]
            .to_str()
            .unwrap()
            .contains(&format!("sales-{today}-{today}.csv"))
    );
    let body = response.text().await.unwrap();
    let body = body
        .strip_prefix('\u{feff}')
        .expect("a byte-order mark leads");
    let mut reader = csv::Reader::from_reader(body.as_bytes());
    let header: Vec<String> = reader
        .headers()
        .unwrap()
        .iter()
        .map(str::to_owned)
        .collect();
    assert_eq!(header[0], "booking_reference");
    let rows: Vec<Value> = reader
        .records()
        .map(|r| {
            let r = r.unwrap();
            header
                .iter()
                .zip(r.iter())
                .map(|(k, v)| (k.clone(), Value::String(v.to_owned())))
                .collect::<serde_json::Map<_, _>>()
                .into()
        })
        .collect();
    assert_eq!(rows.len(), 3);
    // The film's title is text, not a formula.
    assert!(rows.iter().all(|r| r["film"] == "'=HYPERLINK(1)"));
    let paid: Vec<(&str, &str, &str, &str)> = rows
        .iter()
        .map(|r| {
            (
                r["sale_channel"].as_str().unwrap(),
                r["paid_by"].as_str().unwrap(),
                r["tickets"].as_str().unwrap(),
                r["net"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        paid,
        vec![
            ("online", "online", "A1 ADULT", "9.00"),
            ("counter", "cash", "A2 ADULT; A3 CHILD", "16.00"),
            ("counter", "complimentary", "B1 ADULT", "0.00"),
        ]
    );
    assert_eq!(rows[0]["voucher"], "SPRING");

    // Admins only (staff or not, anyone else signed in is 403); dates named when wrong.
    assert_eq!(export(&app, None, "").await.status(), 401);
    assert_eq!(export(&app, Some(&operator.token), "").await.status(), 403);
    let customer = app.with_user(Role::Customer).await;
    let refused = export(&app, Some(&customer.token), "").await;
    assert_eq!(refused.status(), 403);
    // Refused before any sale is read: the body says why and holds no CSV.
    let body: Value = refused.json().await.unwrap();
    assert_eq!(body, json!({"error": "only admins may export sales"}));
    for (query, field) in [
        ("?from=yesterday", "from"),
        ("?from=2026-12-10&to=2026-12-01", "from"),
        ("?from=2024-01-01&to=2026-01-01", "to"),
    ] {
        let response = export(&app, Some(&room.admin.token), query).await;
        assert_eq!(response.status(), 400, "{query}");
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["field"], field, "{query}");
    }
    // A range without sales is the header alone.
    let response = export(
        &app,
        Some(&room.admin.token),
        "?from=2020-01-01&to=2020-01-31",
    )
    .await;
    assert_eq!(response.text().await.unwrap().lines().count(), 1);
}
