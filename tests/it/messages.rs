//! Emails and text messages about bookings, sent through the outbox: to a real SMTP
//! server on loopback (aiosmtpd, from PyPI) and to an HTTP sink standing in for an
//! SMS provider. An SMTP outage delays an email and never undoes a booking.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::common;
use crate::ticket_types::{self, BOOK, family_prices, room};

use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use base64::Engine;
use chrono::Duration;
use common::fixtures as fx;
use common::flow::{
    confirmed, event, eventually, intent_object, lock, outbox_row, send_event, status_of,
};
use common::tools::{PythonServer, free_port};
use common::{TestApp, TestUser};
use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use screema::db::enums::Role;
use screema::db::schema::users;
use serde_json::json;
use uuid::Uuid;

/// aiosmtpd on a port of its own, keeping what it receives in a Maildir (also used by
/// `account_care`).
pub(crate) struct SmtpSink {
    pub(crate) port: u16,
    dir: PathBuf,
    _server: PythonServer,
}

impl SmtpSink {
    pub(crate) async fn start_on(port: u16) -> Self {
        let dir = std::env::temp_dir().join(format!("screema-mail-{}", Uuid::new_v4().simple()));
        let args = [
            "-n".to_owned(),
            "-l".to_owned(),
            format!("127.0.0.1:{port}"),
            "-c".to_owned(),
            "aiosmtpd.handlers.Mailbox".to_owned(),
            dir.display().to_string(),
        ];
        let server = PythonServer::start("aiosmtpd", &args, port).await;
        Self {
            port,
            dir,
            _server: server,
        }
    }

    /// The raw messages received so far.
    pub(crate) fn messages(&self) -> Vec<String> {
        std::fs::read_dir(self.dir.join("new"))
            .map(|entries| {
                entries
                    .flatten()
                    .map(|e| std::fs::read_to_string(e.path()).unwrap())
                    .collect()
            })
            .unwrap_or_default()
    }

    pub(crate) async fn message_to(&self, email: &str) -> String {
        let mut found = None;
        eventually("the email", || {
            found = self.messages().into_iter().find(|m| m.contains(email));
            let got = found.is_some();
            async move { got }
        })
        .await;
        found.unwrap()
    }
}

impl Drop for SmtpSink {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn smtp_app(port: u16) -> common::TestAppBuilder {
    TestApp::builder()
        .env("SMTP_HOST", "127.0.0.1")
        .env("SMTP_PORT", &port.to_string())
        .env("SMTP_TLS", "none")
        .env("SIMULATED_PAYMENT_DELAY_MS", "600000")
}

async fn showtime(app: &TestApp) -> Uuid {
    let mut conn = app.conn().await;
    fx::one_row_showtime(&mut conn, 10, &[], app.app.now() + Duration::days(1)).await
}

pub(crate) async fn email_of(app: &TestApp, user: &TestUser) -> String {
    users::table
        .find(user.id)
        .select(users::email)
        .first(&mut app.conn().await)
        .await
        .unwrap()
}

/// The base64 body of the MIME part with this content type.
fn attachment(message: &str, content_type: &str) -> Vec<u8> {
    let start = message
        .find(&format!("Content-Type: {content_type}"))
        .unwrap();
    let part = &message[start..];
    let body_start = part
        .find("\r\n\r\n")
        .map(|i| i + 4)
        .or_else(|| part.find("\n\n").map(|i| i + 2))
        .unwrap();
    let body: String = part[body_start..]
        .lines()
        .take_while(|l| !l.trim().is_empty() && !l.starts_with("--"))
        .collect();
    base64::engine::general_purpose::STANDARD
        .decode(body.trim())
        .unwrap()
}

#[tokio::test]
async fn the_confirmation_email_carries_the_booking_and_its_qr_code() {
    let smtp = SmtpSink::start_on(free_port()).await;
    let app = smtp_app(smtp.port).build().await;
    let st = showtime(&app).await;
    let user = app.with_user(Role::Customer).await;
    let (id, _code) = confirmed(&app, &user, st, &["A4", "A5"]).await;
    let reference = common::flow::booking(&app, &user, &id).await["bookingReference"]
        .as_str()
        .unwrap()
        .to_owned();

    let message = smtp.message_to(&email_of(&app, &user).await).await;
    assert!(
        message.contains(&format!(
            "Subject: Your tickets for Untitled - booking {reference}"
        )),
        "{message}"
    );
    assert!(message.contains("From: SCREEMA <tickets@screema.local>"));
    for expected in [
        format!("Booking {reference}"),
        "Film:    Untitled".to_owned(),
        "Cinema:  One Row, screen 1".to_owned(),
        "Seats:   A4, A5".to_owned(),
        "Amount:  20.00 USD".to_owned(),
        "(UTC)".to_owned(),
    ] {
        assert!(
            message.contains(&expected),
            "missing `{expected}` in {message}"
        );
    }
    assert!(message.contains("filename=\"ticket.png\""));
    let png = attachment(&message, "image/png");
    assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n");
}

#[tokio::test]
async fn an_smtp_outage_delays_the_email_and_never_undoes_the_booking() {
    let port = free_port();
    let (builder, clock) = TestApp::clocked();
    let app = builder
        .env("SMTP_HOST", "127.0.0.1")
        .env("SMTP_PORT", &port.to_string())
        .env("SMTP_TLS", "none")
        .env("OUTBOX_POLL_MS", "20")
        .env("SIMULATED_PAYMENT_DELAY_MS", "600000")
        .build()
        .await;
    let st = showtime(&app).await;
    let user = app.with_user(Role::Customer).await;
    let (id, _) = confirmed(&app, &user, st, &["A1"]).await;
    assert_eq!(status_of(&app, &user, &id).await, "CONFIRMED");
    let key = format!("email-booking_confirmed-{id}");
    let row = || outbox_row(&app, &key);
    eventually("a failed attempt", || async { row().await.0 >= 1 }).await;
    let (_, delivered, error) = row().await;
    assert!(delivered.is_none());
    assert!(error.unwrap().contains("email"));

    // The mail server comes back; after the back-off the worker sends the email.
    let smtp = SmtpSink::start_on(port).await;
    clock.advance(chrono::Duration::seconds(5));
    let message = smtp.message_to(&email_of(&app, &user).await).await;
    assert!(message.contains("Your tickets for Untitled"));
    eventually("the row delivered", || async { row().await.1.is_some() }).await;
    assert_eq!(status_of(&app, &user, &id).await, "CONFIRMED");
}

/// An HTTP server standing in for a Twilio-style SMS API: it records what it gets.
pub(crate) async fn sms_sink() -> (String, Arc<Mutex<Vec<(String, String, String)>>>) {
    use axum::extract::{Path, State};
    use axum::http::HeaderMap;
    type Seen = Arc<Mutex<Vec<(String, String, String)>>>;
    let seen: Seen = Arc::default();
    async fn receive(
        State(seen): State<Seen>,
        Path(sid): Path<String>,
        headers: HeaderMap,
        body: String,
    ) -> &'static str {
        let auth = headers
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned();
        seen.lock().unwrap().push((sid, auth, body));
        "{\"sid\": \"SM1\"}"
    }
    let router = axum::Router::new()
        .route(
            "/2010-04-01/Accounts/{sid}/Messages.json",
            axum::routing::post(receive),
        )
        .with_state(seen.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, router).await });
    (url, seen)
}

/// `application/x-www-form-urlencoded`, decoded.
pub(crate) fn form_fields(body: &str) -> Vec<(String, String)> {
    let decode = |s: &str| {
        let bytes = s.replace('+', " ").into_bytes();
        let mut out = Vec::new();
        let mut i = 0;
        while i < bytes.len() {
            if bytes[i] == b'%' && i + 2 < bytes.len() {
                let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).unwrap();
                out.push(u8::from_str_radix(hex, 16).unwrap());
                i += 3;
            } else {
                out.push(bytes[i]);
                i += 1;
            }
        }
        String::from_utf8(out).unwrap()
    };
    body.split('&')
        .filter_map(|pair| pair.split_once('='))
        .map(|(k, v)| (decode(k), decode(v)))
        .collect()
}

/// A test server whose texts go to the sink.
async fn sms_app(url: &str) -> TestApp {
    TestApp::builder()
        .env("SMS_API_BASE", url)
        .env("SMS_ACCOUNT_SID", "AC123")
        .env("SMS_AUTH_TOKEN", "tok")
        .env("SMS_FROM", "+15550001111")
        .env("SIMULATED_PAYMENT_DELAY_MS", "600000")
        .build()
        .await
}

#[tokio::test]
async fn a_text_message_goes_to_the_sms_api_when_the_customer_has_a_verified_phone() {
    let (url, seen) = sms_sink().await;
    let app = sms_app(&url).await;
    let st = showtime(&app).await;
    let with_phone = app.with_user(Role::Customer).await;
    let without = app.with_user(Role::Customer).await;
    // Proven as `verifyPhone` proves it (`account_care` tests that path).
    diesel::update(users::table.find(with_phone.id))
        .set((
            users::phone.eq(Some("+15557654321")),
            users::phone_verified.eq(true),
        ))
        .execute(&mut app.conn().await)
        .await
        .unwrap();

    let (id, _) = confirmed(&app, &with_phone, st, &["A7"]).await;
    let reference = common::flow::booking(&app, &with_phone, &id).await["bookingReference"]
        .as_str()
        .unwrap()
        .to_owned();
    eventually("the text message", || async {
        !seen.lock().unwrap().is_empty()
    })
    .await;
    let (sid, auth, body) = seen.lock().unwrap()[0].clone();
    assert_eq!(sid, "AC123");
    let expected = base64::engine::general_purpose::STANDARD.encode("AC123:tok");
    assert_eq!(auth, format!("Basic {expected}"));
    let form = form_fields(&body);
    let field = |k: &str| form.iter().find(|(n, _)| n == k).unwrap().1.clone();
    assert_eq!(field("To"), "+15557654321");
    assert_eq!(field("From"), "+15550001111");
    assert!(field("Body").contains(&format!("booking {reference} confirmed")));

    // No phone number, no text message; its outbox row is done all the same.
    let (other, _) = confirmed(&app, &without, st, &["A8"]).await;
    let key = format!("sms-booking_confirmed-{other}");
    eventually("the skipped row marked delivered", || async {
        outbox_row(&app, &key).await.1.is_some()
    })
    .await;
    assert_eq!(seen.lock().unwrap().len(), 1);
}

#[tokio::test]
async fn an_unverified_number_gets_no_text_about_a_booking() {
    let (url, seen) = sms_sink().await;
    let app = sms_app(&url).await;
    let st = showtime(&app).await;
    let user = app.with_user(Role::Customer).await;
    let r = app
        .gql_as(
            &user.token,
            "mutation { updateProfile(input: {phone: \"+15557654321\"}) { phoneVerified } }",
            serde_json::json!({}),
        )
        .await;
    assert_eq!(r.data()["updateProfile"]["phoneVerified"], false);

    let (id, _) = confirmed(&app, &user, st, &["A3"]).await;
    let key = format!("sms-booking_confirmed-{id}");
    // The row is done (there is nothing to retry), and nothing was sent.
    eventually("the skipped row marked delivered", || async {
        outbox_row(&app, &key).await.1.is_some()
    })
    .await;
    assert!(seen.lock().unwrap().is_empty());
}

#[tokio::test]
async fn the_confirmation_email_says_the_films_rating_and_each_seats_ticket_type() {
    let smtp = SmtpSink::start_on(free_port()).await;
    let app = smtp_app(smtp.port).build().await;
    // Through the API, as an admin sets it up: an R-rated film, a senior price.
    let room = room(
        &app,
        Some(json!({"system": "MPAA", "code": "R", "minAge": 17})),
    )
    .await;
    let created = ticket_types::showtime(&app, &room, Some(family_prices())).await;
    let st: Uuid = created.data()["createShowtime"]["id"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    let user = app.with_user(Role::Customer).await;
    let token = lock(&app, &user, st, &["A1", "B1"]).await;
    let r = app
        .gql_as(
            &user.token,
            BOOK,
            json!({"i": {"showtimeId": st.to_string(), "lockToken": token, "tickets": [
                {"seatNumber": "A1", "ticketType": "ADULT"},
                {"seatNumber": "B1", "ticketType": "SENIOR"}]}}),
        )
        .await;
    let id = r.data()["createBooking"]["booking"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let intent = format!("pi_sim_{}", Uuid::parse_str(&id).unwrap().simple());
    let paid = event(
        &format!("evt_{}", Uuid::new_v4().simple()),
        "payment_intent.succeeded",
        intent_object(&app, &intent, &id).await,
    );
    assert_eq!(send_event(&app, &paid).await, 200);

    let message = smtp.message_to(&email_of(&app, &user).await).await;
    assert!(message.contains("Your tickets for Nosferatu"), "{message}");
    // An adult's seat is shown plain, any other type beside its seat; 10.00 and 70 %
    // of the premium seat's 15.00.
    for expected in [
        "Film:    Nosferatu\nRated:   MPAA R (17 and over)\nCinema:  Rex, screen 1",
        "Seats:   A1, B1 (SENIOR)",
        "Amount:  20.50 USD",
    ] {
        assert!(
            message.replace("\r\n", "\n").contains(expected),
            "missing `{expected}` in {message}"
        );
    }
}
