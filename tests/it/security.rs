//! Security: forged tokens on every transport, refresh-token races, one user reaching
//! for another's things, who may call what, query shapes that are refused before they
//! run, CORS and body limits, introspection in production, and errors that never show
//! internals.
//!
//! Covered elsewhere, and not repeated here:
//! - tampered, `alg: none`, wrong-key and expired tokens on POST /graphql:
//!   auth.rs `access_tokens_expire_and_forged_ones_are_refused`; on the websocket:
//!   limits.rs `websocket_connections_authenticate_in_connection_init`;
//! - refresh-token reuse revoking the family: auth.rs
//!   `refresh_rotates_and_reuse_revokes_the_family`;
//! - another's booking read, cancelled, refunded, booked with their lock, their lock
//!   extended or released, their notification marked read or pushed, their ticket
//!   image: booking.rs `bookings_are_seen_by_their_owner_and_staff_only` and
//!   `the_owner_cancels_a_pending_booking_and_its_seats_come_back`, payments.rs
//!   `owners_refund_until_the_cutoff_admins_any_time_and_only_once`, booking.rs
//!   `every_bad_booking_request_is_refused_and_writes_nothing`, holds.rs
//!   `every_refusal_has_its_code`, notifications.rs (both tests), tickets.rs
//!   `the_ticket_image_is_stored_and_served_to_its_owner_only`;
//! - login brute force: limits.rs `failed_logins_are_limited_per_email` and
//!   `failed_logins_are_limited_per_client_across_emails`;
//! - depth and complexity (nothing reaches the database): http.rs
//!   `deep_and_costly_queries_are_refused_before_they_run`, limits.rs
//!   `query_limits_hold_for_every_role`;
//! - a body over the limit with a Content-Length: http.rs `oversized_bodies_are_refused`;
//! - a CORS preflight from an unlisted origin: http.rs `cors_allows_listed_origins_only`.
//!
//! No error leaks SQL, a stack trace or a secret: every GraphQL answer of the harness
//! goes through `common::assert_no_leak` (as do webhook answers), with the app's own
//! secrets; the last tests here provoke database failures on purpose and check that
//! the detector itself bites.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::common;

use std::time::Duration as StdDuration;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::Duration;
use common::fixtures as fx;
use common::flow::{self, book, confirmed, status_of};
use common::ws::WsClient;
use common::{TestApp, TestAppBuilder, TestUser};
use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use hmac::{Hmac, Mac};
use screema::db::enums::Role;
use screema::db::schema::users;
use secrecy::ExposeSecret;
use serde_json::{Value, json};
use sha2::Sha256;
use uuid::Uuid;

const ME: &str = "{ me { id } }";
const REGISTER: &str = "mutation($e: String!) { register(input: {email: $e, password: \"correct horse\", fullName: \"Ada\"}) { accessToken refreshToken } }";
const REFRESH: &str =
    "mutation($t: String!) { refreshToken(refreshToken: $t) { accessToken refreshToken } }";

/// A day from now, in a one-row room of ten seats.
async fn showtime(app: &TestApp) -> Uuid {
    let mut conn = app.conn().await;
    fx::one_row_showtime(&mut conn, 10, &[], app.app.now() + Duration::days(1)).await
}

/// Posts a raw body to /graphql; the status and the body as text, checked for leaks.
async fn post_raw(app: &TestApp, body: String) -> (u16, String) {
    let response = app
        .client
        .post(app.url("/graphql"))
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    let text = response.text().await.unwrap();
    app.assert_no_leak(&text);
    (status, text)
}

// ---------------------------------------------------------------------------
// Access tokens
// ---------------------------------------------------------------------------

fn b64(value: &Value) -> String {
    URL_SAFE_NO_PAD.encode(value.to_string())
}

/// A JWT with any header, signed with HMAC-SHA256 under `secret` whatever the header
/// claims: what an attacker who hopes for algorithm confusion sends.
fn hs256_with_header(header: &Value, claims: &Value, secret: &str) -> String {
    let signing_input = format!("{}.{}", b64(header), b64(claims));
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(signing_input.as_bytes());
    format!(
        "{signing_input}.{}",
        URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes())
    )
}

fn signed(alg: jsonwebtoken::Algorithm, claims: &Value, secret: &str) -> String {
    jsonwebtoken::encode(
        &jsonwebtoken::Header::new(alg),
        claims,
        &jsonwebtoken::EncodingKey::from_secret(secret.as_bytes()),
    )
    .unwrap()
}

/// The ways to get an access token wrong that auth.rs does not already try, each
/// refused on every transport that takes one: POST /graphql, the ticket image and the
/// websocket's `connection_init`. A token that is right in every way but the one flaw
/// is accepted, so each refusal is for that flaw.
#[tokio::test]
async fn tokens_of_another_algorithm_or_with_bad_claims_are_refused_on_every_transport() {
    let app = TestApp::builder()
        .env("SIMULATED_PAYMENT_DELAY_MS", "600000")
        .build()
        .await;
    let owner = app.with_user(Role::Customer).await;
    let secret = app.app.config.auth.jwt_secret.expose_secret().to_owned();
    let now = app.app.now().timestamp();
    let claims = json!({"sub": owner.id, "role": "customer", "jti": Uuid::new_v4(),
                        "iat": now, "exp": now + 600});
    let with = |key: &str, value: Value| {
        let mut c = claims.clone();
        c[key] = value;
        c
    };
    let without = |key: &str| {
        let mut c = claims.clone();
        c.as_object_mut().unwrap().remove(key);
        c
    };

    let control = signed(jsonwebtoken::Algorithm::HS256, &claims, &secret);
    assert_eq!(
        app.gql_as(&control, ME, json!({})).await.data()["me"]["id"],
        owner.id.to_string()
    );

    let original_signature = control.rsplit('.').next().unwrap().to_owned();
    let none_keeping_signature = |alg: &str| {
        format!(
            "{}.{}.{original_signature}",
            b64(&json!({"alg": alg, "typ": "JWT"})),
            b64(&claims)
        )
    };
    let forged: Vec<(&str, String)> = vec![
        // Right key, another HMAC: only HS256 is accepted.
        (
            "HS512",
            signed(jsonwebtoken::Algorithm::HS512, &claims, &secret),
        ),
        (
            "HS384",
            signed(jsonwebtoken::Algorithm::HS384, &claims, &secret),
        ),
        // Algorithm confusion: an asymmetric algorithm named, the secret used as an
        // HMAC key.
        (
            "RS256 header",
            hs256_with_header(&json!({"alg": "RS256", "typ": "JWT"}), &claims, &secret),
        ),
        (
            "ES256 header",
            hs256_with_header(&json!({"alg": "ES256", "typ": "JWT"}), &claims, &secret),
        ),
        ("None, signature kept", none_keeping_signature("None")),
        ("NONE, signature kept", none_keeping_signature("NONE")),
        (
            "none, no signature",
            format!("{}.{}.", b64(&json!({"alg": "none"})), b64(&claims)),
        ),
        // Properly signed, but not a token this server issues.
        (
            "no exp",
            signed(jsonwebtoken::Algorithm::HS256, &without("exp"), &secret),
        ),
        (
            "no sub",
            signed(jsonwebtoken::Algorithm::HS256, &without("sub"), &secret),
        ),
        (
            "unknown role",
            signed(
                jsonwebtoken::Algorithm::HS256,
                &with("role", json!("superuser")),
                &secret,
            ),
        ),
        (
            "sub not a UUID",
            signed(
                jsonwebtoken::Algorithm::HS256,
                &with("sub", json!("1 OR 1=1")),
                &secret,
            ),
        ),
        (
            "expired a second ago",
            signed(
                jsonwebtoken::Algorithm::HS256,
                &with("exp", json!(now - 1)),
                &secret,
            ),
        ),
        (
            "wrong key",
            signed(
                jsonwebtoken::Algorithm::HS256,
                &claims,
                "a-different-secret-that-is-long-enough-too",
            ),
        ),
    ];

    let (booking, _) = confirmed(&app, &owner, showtime(&app).await, &["A1"]).await;
    let image = app.url(&format!("/api/tickets/{booking}.png"));
    let ok = app
        .client
        .get(&image)
        .bearer_auth(&control)
        .send()
        .await
        .unwrap();
    assert_eq!(ok.status(), 200, "the control token fetches the image");

    for (what, token) in &forged {
        let r = app.gql_as(token, ME, json!({})).await;
        assert_eq!(r.code(), "UNAUTHENTICATED", "{what}");
        assert!(r.body["data"].is_null(), "{what}: nothing ran");

        let response = app
            .client
            .get(&image)
            .bearer_auth(token)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 401, "{what}: ticket image");
        app.assert_no_leak(&response.text().await.unwrap());

        let mut ws = WsClient::open(app.addr, false).await;
        ws.send(json!({"type": "connection_init",
                       "payload": {"authorization": format!("Bearer {token}")}}))
            .await;
        assert_eq!(ws.close_code().await, Some(4403), "{what}: websocket");
    }
}

/// A refresh token is not an access token, nor the other way round.
#[tokio::test]
async fn refresh_and_access_tokens_are_not_interchangeable() {
    let app = TestApp::new().await;
    let r = app.gql(REGISTER, json!({"e": "ada@example.com"})).await;
    let access = r.data()["register"]["accessToken"].as_str().unwrap();
    let refresh = r.data()["register"]["refreshToken"].as_str().unwrap();
    assert_eq!(
        app.gql_as(refresh, ME, json!({})).await.code(),
        "UNAUTHENTICATED"
    );
    assert_eq!(
        app.gql(REFRESH, json!({"t": access})).await.code(),
        "UNAUTHENTICATED"
    );
    // Neither attempt spent the real refresh token.
    app.gql(REFRESH, json!({"t": refresh})).await.data();
}

/// A stolen refresh token replayed at the very moment its owner refreshes: the row is
/// locked while it rotates, so exactly one request gets a new pair, and every other
/// is seen as reuse, which signs the whole family out, the winner's new token too.
#[tokio::test]
async fn concurrent_uses_of_one_refresh_token_rotate_it_once_and_revoke_the_family() {
    let app = TestApp::new().await;
    let r = app.gql(REGISTER, json!({"e": "ada@example.com"})).await;
    let refresh = r.data()["register"]["refreshToken"]
        .as_str()
        .unwrap()
        .to_owned();
    let attempts = (0..8).map(|_| app.gql(REFRESH, json!({"t": refresh})));
    let answers = futures_util::future::join_all(attempts).await;
    let winners: Vec<&common::Gql> = answers
        .iter()
        .filter(|r| r.body.get("errors").is_none())
        .collect();
    assert_eq!(winners.len(), 1, "exactly one rotation");
    for loser in answers.iter().filter(|r| r.body.get("errors").is_some()) {
        assert_eq!(loser.code(), "UNAUTHENTICATED");
    }
    let newer = winners[0].data()["refreshToken"]["refreshToken"]
        .as_str()
        .unwrap();
    assert_eq!(
        app.gql(REFRESH, json!({"t": newer})).await.code(),
        "UNAUTHENTICATED",
        "reuse revoked the family"
    );
}

// ---------------------------------------------------------------------------
// One user and another's things
// ---------------------------------------------------------------------------

/// The IDOR cases the other suites leave out: paying for someone else's booking,
/// an operator (who may read every booking) cancelling or refunding one, and staff
/// fetching a customer's ticket image. Each is refused and changes nothing. Staff,
/// who may see the booking, are told FORBIDDEN; another customer is told NOT_FOUND,
/// in the very words an unknown id gets, so ids cannot be probed.
#[tokio::test]
async fn staff_and_strangers_cannot_pay_cancel_refund_or_fetch_anothers_booking() {
    let app = TestApp::builder()
        .env("SIMULATED_PAYMENT_DELAY_MS", "600000")
        .build()
        .await;
    let st = showtime(&app).await;
    let owner = app.with_user(Role::Customer).await;
    let stranger = app.with_user(Role::Customer).await;
    let operator = app.with_user(Role::Operator).await;
    let admin = app.with_user(Role::Admin).await;

    let pending = book(&app, &owner, st, &["A1"]).await;
    let pending_id = pending["booking"]["id"].as_str().unwrap().to_owned();
    let client_secret = pending["paymentClientSecret"].as_str().unwrap();
    let pay = "mutation($id: ID!) { createPaymentIntent(bookingId: $id) { clientSecret paymentIntentId } }";
    for (who, expected) in [
        (&stranger, "NOT_FOUND"),
        (&operator, "FORBIDDEN"),
        (&admin, "FORBIDDEN"),
    ] {
        let r = app.gql_as(&who.token, pay, json!({"id": pending_id})).await;
        assert_eq!(r.code(), expected, "{}", r.body);
        assert!(
            !r.body.to_string().contains(client_secret),
            "the owner's client secret is not handed out: {}",
            r.body
        );
    }
    let cancel = "mutation($id: ID!) { cancelBooking(id: $id) { id status } }";
    let r = app
        .gql_as(&operator.token, cancel, json!({"id": pending_id}))
        .await;
    assert_eq!(r.code(), "FORBIDDEN");
    assert_eq!(status_of(&app, &owner, &pending_id).await, "PENDING");

    let (paid, _) = confirmed(&app, &owner, st, &["A2"]).await;
    let refund = "mutation($id: ID!) { refundBooking(input: {bookingId: $id}) { refundId } }";
    let r = app
        .gql_as(&operator.token, refund, json!({"id": paid}))
        .await;
    assert_eq!(r.code(), "FORBIDDEN");
    assert_eq!(status_of(&app, &owner, &paid).await, "CONFIRMED");
    assert_eq!(flow::count(&app, "refunds").await, 0);

    // Another customer learns nothing from a real id: each mutation answers it
    // exactly as it answers an id that was never issued, and changes nothing.
    let unknown = Uuid::new_v4().to_string();
    for (query, real) in [(pay, &pending_id), (cancel, &pending_id), (refund, &paid)] {
        let probe = |id: &str| app.gql_as(&stranger.token, query, json!({"id": id}));
        let (on_real, on_unknown) = (probe(real).await, probe(&unknown).await);
        assert_eq!(on_real.code(), "NOT_FOUND", "{}", on_real.body);
        assert_eq!(on_real.body, on_unknown.body, "{query}");
    }
    assert_eq!(status_of(&app, &owner, &pending_id).await, "PENDING");
    assert_eq!(status_of(&app, &owner, &paid).await, "CONFIRMED");
    assert_eq!(flow::count(&app, "refunds").await, 0);

    // The image is the owner's alone: staff check tickets in by their code.
    let image = app.url(&format!("/api/tickets/{paid}.png"));
    for who in [&owner, &stranger, &operator, &admin] {
        let response = app
            .client
            .get(&image)
            .bearer_auth(&who.token)
            .send()
            .await
            .unwrap();
        let expected = if who.id == owner.id { 200 } else { 404 };
        assert_eq!(response.status(), expected);
    }
}

// ---------------------------------------------------------------------------
// Who may call what
// ---------------------------------------------------------------------------

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Access {
    Anyone,
    SignedIn,
    /// Operators and admins.
    Staff,
    Admin,
}

/// Every root field of the schema, who may call it, and a call whose arguments are
/// valid, so that a refusal comes from the guard.
fn access_matrix(customer: &TestUser) -> Vec<(&'static str, Access, &'static str, Value)> {
    use Access::*;
    let id = Uuid::new_v4().to_string();
    let soon = (chrono::Utc::now() + Duration::days(3)).to_rfc3339();
    vec![
        (
            "movies",
            Anyone,
            "{ movies { pagination { total } } }",
            json!({}),
        ),
        (
            "movie",
            Anyone,
            "query($id: ID!) { movie(id: $id) { id } }",
            json!({"id": id}),
        ),
        (
            "showtimes",
            Anyone,
            "query($id: ID!) { showtimes(movieId: $id) { id } }",
            json!({"id": id}),
        ),
        (
            "showtime",
            Anyone,
            "query($id: ID!) { showtime(id: $id) { id } }",
            json!({"id": id}),
        ),
        ("theaters", Anyone, "{ theaters { id } }", json!({})),
        ("snacks", Anyone, "{ snacks { id } }", json!({})),
        (
            "bestAvailableSeats",
            Anyone,
            "query($id: ID!) { bestAvailableSeats(showtimeId: $id, count: 2) { number } }",
            json!({"id": id}),
        ),
        ("me", SignedIn, "{ me { id } }", json!({})),
        ("myBookings", SignedIn, "{ myBookings { id } }", json!({})),
        (
            "myBookingsConnection",
            SignedIn,
            "{ myBookingsConnection { totalCount nodes { id } } }",
            json!({}),
        ),
        (
            "notificationsConnection",
            SignedIn,
            "{ notificationsConnection { totalCount nodes { id } } }",
            json!({}),
        ),
        ("myWaitlist", SignedIn, "{ myWaitlist { id } }", json!({})),
        (
            "joinWaitlist",
            SignedIn,
            "mutation($id: ID!) { joinWaitlist(input: {showtimeId: $id, count: 1}) { id } }",
            json!({"id": id}),
        ),
        (
            "joinSaleQueue",
            SignedIn,
            "mutation($id: ID!) { joinSaleQueue(showtimeId: $id) { status } }",
            json!({"id": id}),
        ),
        (
            "leaveWaitlist",
            SignedIn,
            "mutation { leaveWaitlist(id: \"00000000-0000-0000-0000-000000000000\") }",
            json!({}),
        ),
        (
            "booking",
            SignedIn,
            "query($id: ID!) { booking(id: $id) { id } }",
            json!({"id": id}),
        ),
        (
            "notifications",
            SignedIn,
            "{ notifications { id } }",
            json!({}),
        ),
        (
            "analytics",
            Admin,
            "{ analytics { totalBookings } }",
            json!({}),
        ),
        // A malformed email: callable by anyone, and writes nothing.
        (
            "register",
            Anyone,
            "mutation { register(input: {email: \"nope\", password: \"long enough\", fullName: \"X\"}) { accessToken } }",
            json!({}),
        ),
        (
            "login",
            Anyone,
            "mutation { login(input: {email: \"nobody@example.com\", password: \"guess-guess\"}) { accessToken } }",
            json!({}),
        ),
        (
            "refreshToken",
            Anyone,
            "mutation { refreshToken(refreshToken: \"made-up\") { accessToken } }",
            json!({}),
        ),
        (
            "logout",
            Anyone,
            "mutation { logout(refreshToken: \"made-up\") }",
            json!({}),
        ),
        (
            "updateProfile",
            SignedIn,
            "mutation { updateProfile(input: {fullName: \"Probe\"}) { id } }",
            json!({}),
        ),
        (
            "requestEmailVerification",
            SignedIn,
            "mutation { requestEmailVerification }",
            json!({}),
        ),
        // A code that proves nothing: callable by anyone, and changes nothing.
        (
            "verifyEmail",
            Anyone,
            "mutation { verifyEmail(code: \"made-up\") { id } }",
            json!({}),
        ),
        (
            "requestPhoneVerification",
            SignedIn,
            "mutation { requestPhoneVerification }",
            json!({}),
        ),
        (
            "verifyPhone",
            SignedIn,
            "mutation { verifyPhone(code: \"123456\") { id } }",
            json!({}),
        ),
        (
            "changePassword",
            SignedIn,
            "mutation { changePassword(input: {currentPassword: \"guess-guess\", newPassword: \"long enough\"}) }",
            json!({}),
        ),
        (
            "requestPasswordReset",
            Anyone,
            "mutation { requestPasswordReset(email: \"nobody@example.com\") }",
            json!({}),
        ),
        (
            "resetPassword",
            Anyone,
            "mutation { resetPassword(input: {token: \"made-up\", newPassword: \"long enough\"}) }",
            json!({}),
        ),
        (
            "lockSeats",
            SignedIn,
            "mutation($id: ID!) { lockSeats(input: {showtimeId: $id, seatNumbers: [\"A1\"]}) { lockToken } }",
            json!({"id": id}),
        ),
        (
            "holdBestAvailable",
            SignedIn,
            "mutation($id: ID!) { holdBestAvailable(input: {showtimeId: $id, count: 1}) { lockToken } }",
            json!({"id": id}),
        ),
        (
            "extendSeatLock",
            SignedIn,
            "mutation { extendSeatLock(lockToken: \"made-up\") { lockToken } }",
            json!({}),
        ),
        (
            "releaseSeats",
            SignedIn,
            "mutation { releaseSeats(lockToken: \"made-up\") }",
            json!({}),
        ),
        (
            "createBooking",
            SignedIn,
            "mutation($id: ID!) { createBooking(input: {showtimeId: $id, seatNumbers: [\"A1\"], lockToken: \"made-up\"}) { paymentClientSecret } }",
            json!({"id": id}),
        ),
        (
            "createPaymentIntent",
            SignedIn,
            "mutation($id: ID!) { createPaymentIntent(bookingId: $id) { clientSecret } }",
            json!({"id": id}),
        ),
        (
            "cancelBooking",
            SignedIn,
            "mutation($id: ID!) { cancelBooking(id: $id) { id } }",
            json!({"id": id}),
        ),
        (
            "refundBooking",
            SignedIn,
            "mutation($id: ID!) { refundBooking(input: {bookingId: $id}) { refundId } }",
            json!({"id": id}),
        ),
        (
            "markNotificationRead",
            SignedIn,
            "mutation($id: ID!) { markNotificationRead(id: $id) { id } }",
            json!({"id": id}),
        ),
        (
            "checkInTicket",
            Staff,
            "mutation { checkInTicket(code: \"T1.made.up\") { id } }",
            json!({}),
        ),
        (
            "checkInTickets",
            Staff,
            "mutation { checkInTickets(scans: [{code: \"T1.made.up\", deviceId: \"probe\", scannedAt: \"2026-01-01T00:00:00Z\"}]) { status } }",
            json!({}),
        ),
        (
            "undoCheckIn",
            Staff,
            "mutation($id: ID!) { undoCheckIn(bookingId: $id) { id } }",
            json!({"id": id}),
        ),
        (
            "createMovie",
            Admin,
            "mutation { createMovie(input: {title: \"X\", duration: 90}) { id } }",
            json!({}),
        ),
        (
            "updateMovie",
            Admin,
            "mutation($id: ID!) { updateMovie(id: $id, input: {title: \"Y\"}) { id } }",
            json!({"id": id}),
        ),
        (
            "createTheater",
            Admin,
            "mutation { createTheater(input: {name: \"T\", location: \"L\"}) { id } }",
            json!({}),
        ),
        (
            "createScreen",
            Admin,
            "mutation($id: ID!, $l: JSON!) { createScreen(input: {theaterId: $id, screenNumber: 1, seatLayout: $l}) { id } }",
            json!({"id": id, "l": fx::small_layout()}),
        ),
        (
            "createShowtime",
            Admin,
            "mutation($id: ID!, $at: DateTime!) { createShowtime(input: {movieId: $id, screenId: $id, startTime: $at, basePrice: \"10.00\"}) { id } }",
            json!({"id": id, "at": soon}),
        ),
        (
            "createSnack",
            Admin,
            "mutation { createSnack(input: {name: \"Popcorn\", price: \"5.00\", category: \"Popcorn\"}) { id } }",
            json!({}),
        ),
        (
            "createVoucher",
            Admin,
            "mutation { createVoucher(input: {code: \"PROBE\", kind: PERCENT_OFF, value: \"10\"}) { id } }",
            json!({}),
        ),
        ("vouchers", Admin, "{ vouchers { id } }", json!({})),
        (
            "exchangeBooking",
            SignedIn,
            "mutation($id: ID!) { exchangeBooking(input: {bookingId: $id, showtimeId: $id, seatNumbers: [\"A1\"], lockToken: \"x\"}) { id } }",
            json!({"id": id}),
        ),
        (
            "showtimeReport",
            Staff,
            "query($id: ID!) { showtimeReport(showtimeId: $id) { capacity } }",
            json!({"id": id}),
        ),
        (
            "showtimeManifest",
            Staff,
            "query($id: ID!) { showtimeManifest(showtimeId: $id) { showtimeId } }",
            json!({"id": id}),
        ),
        (
            "sellAtCounter",
            Staff,
            "mutation($id: ID!) { sellAtCounter(input: {showtimeId: $id, tickets: [{seatNumber: \"A1\", ticketType: \"ADULT\"}], payment: CASH}) { id } }",
            json!({"id": id}),
        ),
        (
            "updateShowtime",
            Admin,
            "mutation($id: ID!) { updateShowtime(id: $id, input: {basePrice: \"9.00\"}) { id } }",
            json!({"id": id}),
        ),
        (
            "blockSeats",
            Staff,
            "mutation($id: ID!) { blockSeats(input: {showtimeId: $id, seatNumbers: [\"A1\"], reason: \"probe\"}) { version } }",
            json!({"id": id}),
        ),
        (
            "unblockSeats",
            Staff,
            "mutation($id: ID!) { unblockSeats(input: {showtimeId: $id, seatNumbers: [\"A1\"]}) { version } }",
            json!({"id": id}),
        ),
        (
            "cancelShowtime",
            Admin,
            "mutation($id: ID!) { cancelShowtime(id: $id, reason: \"probe\") { id } }",
            json!({"id": id}),
        ),
        (
            "sendPromotion",
            Admin,
            "mutation { sendPromotion(input: {title: \"Probe\", message: \"Probe\"}) { id } }",
            json!({}),
        ),
        ("promotions", Admin, "{ promotions { id } }", json!({})),
        (
            "setUserRole",
            Admin,
            "mutation($u: ID!) { setUserRole(userId: $u, role: ADMIN) { id } }",
            json!({"u": customer.id.to_string()}),
        ),
    ]
}

/// The whole access matrix at once: every root field is classified (a new field that
/// is not fails here until someone decides who may call it), signed-in fields refuse
/// anonymous callers, staff fields refuse customers and let operators and admins
/// alike through (admins are staff too: a guard that named operators alone would
/// lock them out of the box office), admin fields refuse customers and operators, and
/// none of the refused calls wrote anything.
#[tokio::test]
async fn every_root_field_is_classified_and_guarded_for_its_roles() {
    let app = TestApp::new().await;
    let customer = app.with_user(Role::Customer).await;
    let operator = app.with_user(Role::Operator).await;
    let admin = app.with_user(Role::Admin).await;
    let matrix = access_matrix(&customer);

    let schema = app
        .gql(
            "{ __schema { queryType { fields { name } } mutationType { fields { name } } } }",
            json!({}),
        )
        .await;
    let mut fields: Vec<String> = ["queryType", "mutationType"]
        .iter()
        .flat_map(|t| schema.data()["__schema"][t]["fields"].as_array().unwrap())
        .map(|f| f["name"].as_str().unwrap().to_owned())
        .collect();
    fields.sort();
    let mut classified: Vec<String> = matrix.iter().map(|(f, ..)| f.to_string()).collect();
    classified.sort();
    assert_eq!(fields, classified, "every root field has its row here");

    let refused = ["UNAUTHENTICATED", "FORBIDDEN"];
    let code = |r: &common::Gql| {
        r.body["errors"][0]["extensions"]["code"]
            .as_str()
            .unwrap_or("OK")
            .to_owned()
    };
    for (field, access, query, vars) in &matrix {
        let anonymous = app.gql(query, vars.clone()).await;
        let as_customer = app.gql_as(&customer.token, query, vars.clone()).await;
        let as_operator = app.gql_as(&operator.token, query, vars.clone()).await;
        // Not for admin fields: an admin's call would be carried out (a movie made, the
        // customer made an admin), and the admin tests of every area call them.
        let as_admin = || app.gql_as(&admin.token, query, vars.clone());
        match access {
            Access::Anyone => {
                let as_admin = as_admin().await;
                // No guard: the anonymous caller gets what anyone else gets (login
                // with a wrong password is UNAUTHENTICATED for everyone).
                assert_eq!(code(&anonymous), code(&as_customer), "{field}");
                assert_eq!(code(&anonymous), code(&as_operator), "{field}");
                assert_eq!(code(&anonymous), code(&as_admin), "{field}");
            }
            Access::SignedIn => {
                let as_admin = as_admin().await;
                assert_eq!(code(&anonymous), "UNAUTHENTICATED", "{field}");
                for (who, r) in [("customer", &as_customer), ("admin", &as_admin)] {
                    assert!(
                        !refused.contains(&code(r).as_str()),
                        "{field} as {who}: {}",
                        r.body
                    );
                }
            }
            Access::Staff => {
                let as_admin = as_admin().await;
                assert_eq!(code(&anonymous), "UNAUTHENTICATED", "{field}");
                assert_eq!(code(&as_customer), "FORBIDDEN", "{field}");
                for (who, r) in [("operator", &as_operator), ("admin", &as_admin)] {
                    assert!(
                        !refused.contains(&code(r).as_str()),
                        "{field} as {who}: {}",
                        r.body
                    );
                }
                // Past the guard, the same answer: no rule of the field tells the two
                // roles apart.
                assert_eq!(code(&as_admin), code(&as_operator), "{field}");
            }
            Access::Admin => {
                assert_eq!(code(&anonymous), "UNAUTHENTICATED", "{field}");
                assert_eq!(code(&as_customer), "FORBIDDEN", "{field}");
                assert_eq!(code(&as_operator), "FORBIDDEN", "{field}");
            }
        }
    }

    assert_eq!(flow::count(&app, "movies").await, 0);
    assert_eq!(flow::count(&app, "theaters").await, 0);
    assert_eq!(flow::count(&app, "screens").await, 0);
    assert_eq!(flow::count(&app, "showtimes").await, 0);
    assert_eq!(flow::count(&app, "snacks").await, 0);
    assert_eq!(flow::count(&app, "users").await, 3);
    let role: Role = users::table
        .find(customer.id)
        .select(users::role)
        .first(&mut app.conn().await)
        .await
        .unwrap();
    assert_eq!(role, Role::Customer);
}

// ---------------------------------------------------------------------------
// Brute force
// ---------------------------------------------------------------------------

/// Aliases do not multiply guesses: each aliased login in one request is counted, and
/// once the limit is reached even the right password waits, in the same request.
#[tokio::test]
async fn aliased_logins_in_one_request_are_each_counted() {
    let app = TestApp::builder()
        .env("RATE_LIMIT_LOGIN", "3/1m")
        .build()
        .await;
    app.gql(REGISTER, json!({"e": "ada@example.com"}))
        .await
        .data();
    let guess = |alias: &str, password: &str| {
        format!(
            "{alias}: login(input: {{email: \"ada@example.com\", password: \"{password}\"}}) {{ accessToken }}"
        )
    };
    let query = format!(
        "mutation {{ {} {} {} {} }}",
        guess("a", "guess-one"),
        guess("b", "guess-two"),
        guess("c", "guess-three"),
        guess("d", "correct horse"),
    );
    let r = app.gql(&query, json!({})).await;
    let errors = r.body["errors"].as_array().unwrap();
    let by_path = |alias: &str| {
        errors
            .iter()
            .find(|e| e["path"][0] == alias)
            .unwrap_or_else(|| panic!("no error for {alias}: {}", r.body))
    };
    for alias in ["a", "b", "c"] {
        assert_eq!(by_path(alias)["extensions"]["code"], "UNAUTHENTICATED");
    }
    assert_eq!(by_path("d")["extensions"]["code"], "RATE_LIMITED");
    assert!(
        by_path("d")["extensions"]["retryAfterSeconds"]
            .as_u64()
            .unwrap()
            >= 1
    );
    assert!(r.body["data"]["d"].is_null(), "no tokens: {}", r.body);
}

// ---------------------------------------------------------------------------
// Query shapes refused before they run
// ---------------------------------------------------------------------------

/// An app whose background workers stay quiet, so that the statement counter moves
/// only for requests.
async fn quiet_app() -> TestApp {
    TestApp::builder()
        .env("SWEEP_INTERVAL_MS", "3600000")
        .env("OUTBOX_POLL_MS", "3600000")
        .build()
        .await
}

/// Each fragment spreads the one before twice: 2^30 selections from 1.5 KB, nested
/// less deep than the recursion limit (32) catches. Validation walks every spread, so
/// without a check before it this request would keep a core busy for the better part
/// of an hour (2^20 takes a second); it must be refused at once, having run nothing.
#[tokio::test]
async fn fragment_bombs_are_refused_before_validation() {
    let app = quiet_app().await;
    let mut query = String::from("query { ...F30 } fragment F0 on Query { snacks { id } } ");
    for i in 1..=30 {
        query.push_str(&format!(
            "fragment F{i} on Query {{ ...F{p} ...F{p} }} ",
            p = i - 1
        ));
    }
    let before = app.statements().await;
    // The server shares this test's thread: were the bomb worked through, this call
    // would not return for a long while (and the test harness would time it out).
    let started = std::time::Instant::now();
    let r = app.gql(&query, json!({})).await;
    assert!(
        started.elapsed() < StdDuration::from_secs(5),
        "refused at once"
    );
    assert_eq!(r.code(), "BAD_USER_INPUT");
    assert!(r.body["data"].is_null());
    assert_eq!(app.statements().await, before, "nothing ran");

    // Fragments used as clients use them still work.
    let r = app
        .gql(
            "query { ...Lists } fragment Ids on Snack { id } fragment Lists on Query { snacks { ...Ids } a: snacks { ...Ids } }",
            json!({}),
        )
        .await;
    assert_eq!(r.data()["a"], json!([]));
}

/// `__typename` is free in the complexity count, so thousands of aliases of it would
/// answer with thousands of values per item of any list. Unaliased repeats merge into
/// one key and stay allowed (Apollo Client adds one everywhere).
#[tokio::test]
async fn alias_floods_of_typename_are_refused() {
    let app = quiet_app().await;
    let flood: String = (0..500).map(|i| format!("a{i}: __typename ")).collect();
    for query in [
        format!("{{ {flood} }}"),
        format!("{{ movies(limit: 100) {{ movies {{ {flood} }} }} }}"),
        format!("query {{ ...F }} fragment F on Query {{ {flood} }}"),
    ] {
        let before = app.statements().await;
        let r = app.gql(&query, json!({})).await;
        assert_eq!(r.code(), "BAD_USER_INPUT", "{}", r.body);
        assert!(r.body["data"].is_null());
        assert_eq!(app.statements().await, before, "nothing ran");
    }
    let r = app
        .gql(
            "{ __typename __typename kind: __typename theaters { __typename id } }",
            json!({}),
        )
        .await;
    assert_eq!(r.data()["kind"], "Query");
}

/// Root fields that read the database on every call cost more than plain fields, so
/// hundreds of aliases of them do not fit under the complexity limit (each would be
/// its own SQL statement); a few stay fine.
#[tokio::test]
async fn alias_floods_of_database_reads_are_refused_before_they_run() {
    let app = quiet_app().await;
    let user = app.with_user(Role::Customer).await;
    for field in [
        "me { id }",
        "notifications { id }",
        "myBookings { id }",
        "theaters { id }",
        "snacks { id }",
    ] {
        let flood: String = (0..100).map(|i| format!("a{i}: {field} ")).collect();
        let before = app.statements().await;
        let r = app
            .gql_as(&user.token, &format!("{{ {flood} }}"), json!({}))
            .await;
        assert_eq!(r.code(), "BAD_USER_INPUT", "{field}: {}", r.body);
        assert_eq!(app.statements().await, before, "{field}: nothing ran");
    }
    let few = "{ a: me { id } b: me { id } theaters { id } snacks { id } notifications { id } myBookings { id } }";
    app.gql_as(&user.token, few, json!({})).await.data();
}

/// Mutations run one after another, each a write: a hundred aliased registrations
/// in one request would get past every per-request limit. Refused whole, before the
/// first runs; a handful is fine.
#[tokio::test]
async fn alias_floods_of_mutations_are_refused_before_any_runs() {
    let app = TestApp::new().await;
    let register = |i: usize| {
        format!(
            "r{i}: register(input: {{email: \"u{i}@example.com\", password: \"long enough\", fullName: \"U\"}}) {{ accessToken }} "
        )
    };
    let flood: String = (0..100).map(register).collect();
    let r = app.gql(&format!("mutation {{ {flood} }}"), json!({})).await;
    assert_eq!(r.code(), "BAD_USER_INPUT");
    assert!(
        r.error()["message"]
            .as_str()
            .unwrap()
            .contains("too many mutations"),
        "{}",
        r.body
    );
    // Hidden in a fragment, the same.
    let six: String = (0..6).map(register).collect();
    let r = app
        .gql(
            &format!("mutation {{ ...M }} fragment M on Mutation {{ {six} }}"),
            json!({}),
        )
        .await;
    assert_eq!(r.code(), "BAD_USER_INPUT");
    assert_eq!(flow::count(&app, "users").await, 0, "no registration ran");

    let five: String = (0..5).map(register).collect();
    let r = app.gql(&format!("mutation {{ {five} }}"), json!({})).await;
    assert!(r.data()["r4"]["accessToken"].is_string());
    assert_eq!(flow::count(&app, "users").await, 5);
}

/// An array of operations in one POST is refused whole: not one of them runs, not
/// even a lone one, and the mutation hidden among harmless queries writes nothing.
#[tokio::test]
async fn batched_operations_are_refused_whole_before_any_runs() {
    let app = quiet_app().await;
    let mut batch: Vec<Value> = (0..50)
        .map(|_| json!({"query": "{ theaters { id } }"}))
        .collect();
    batch.insert(
        25,
        json!({"query": REGISTER, "variables": {"e": "batched@example.com"}}),
    );
    let before = app.statements().await;
    let (status, _) = post_raw(&app, json!(batch).to_string()).await;
    assert_eq!(status, 400);
    let (status, _) = post_raw(
        &app,
        json!([{"query": REGISTER, "variables": {"e": "alone@example.com"}}]).to_string(),
    )
    .await;
    assert_eq!(status, 400);
    assert_eq!(app.statements().await, before, "nothing ran");
    assert_eq!(flow::count(&app, "users").await, 0);
}

/// The other limits of the query language: directives piled on a field, and nesting
/// so deep that parsing it could exhaust the stack. Refused, and the server lives on.
#[tokio::test]
async fn directive_piles_and_deep_nesting_are_refused_and_the_server_survives() {
    let app = quiet_app().await;
    let before = app.statements().await;
    let piled = format!(
        "{{ theaters {} {{ id }} }}",
        "@include(if: true) ".repeat(50)
    );
    assert_eq!(app.gql(&piled, json!({})).await.code(), "BAD_USER_INPUT");
    for query in [
        // A list argument nested 20,000 deep, within the body limit.
        format!(
            "{{ movies(search: {}\"x\"{}) {{ pagination {{ total }} }} }}",
            "[".repeat(20_000),
            "]".repeat(20_000)
        ),
        // Selection sets nested 10,000 deep.
        format!("{}{}", "{ ".repeat(10_000), "}".repeat(10_000)),
        // An input object nested 5,000 deep.
        format!(
            "{{ movies(search: {}1{}) {{ pagination {{ total }} }} }}",
            "{a: ".repeat(5_000),
            "}".repeat(5_000)
        ),
    ] {
        let (status, body) = post_raw(&app, json!({"query": query}).to_string()).await;
        assert_eq!(status, 200);
        let body: Value = serde_json::from_str(&body).unwrap();
        assert_eq!(body["errors"][0]["extensions"]["code"], "BAD_USER_INPUT");
        assert!(body["data"].is_null());
    }
    assert_eq!(app.statements().await, before, "nothing ran");
    app.gql("{ theaters { id } }", json!({})).await.data();
}

// ---------------------------------------------------------------------------
// Transport
// ---------------------------------------------------------------------------

/// The body limit holds on every route, not only /graphql: the webhook reads its raw
/// body before checking the signature, so it must not read an unbounded one.
#[tokio::test]
async fn an_oversized_webhook_body_is_refused_before_it_is_read() {
    let app = TestApp::new().await;
    let response = app
        .client
        .post(app.url("/api/payments/webhook"))
        .header("content-type", "application/json")
        .header("stripe-signature", "t=1,v1=00")
        .body("x".repeat(app.app.config.graphql.max_body_bytes + 1))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 413);
    app.assert_no_leak(&response.text().await.unwrap());
}

/// Beyond preflights (http.rs): a simple cross-origin POST from an unlisted origin is
/// answered without `Access-Control-Allow-Origin`, so the browser hides the answer
/// from that page; and in production, with no CORS_ORIGINS, no origin is allowed,
/// not even the development defaults.
#[tokio::test]
async fn cors_allows_no_unlisted_origin_and_none_by_default_in_production() {
    let listed = TestApp::builder()
        .env("CORS_ORIGINS", "https://app.screema.example")
        .build()
        .await;
    let production = production_app().await;
    let post = |app: &TestApp, origin: &'static str| {
        app.client
            .post(app.url("/graphql"))
            .header("origin", origin)
            .json(&json!({"query": "{ theaters { id } }"}))
            .send()
    };
    let allowed = post(&listed, "https://app.screema.example").await.unwrap();
    assert_eq!(
        allowed.headers()["access-control-allow-origin"],
        "https://app.screema.example"
    );
    for origin in [
        "https://evil.example",
        "https://app.screema.example.evil.example",
        "null",
    ] {
        let response = post(&listed, origin).await.unwrap();
        assert!(
            response
                .headers()
                .get("access-control-allow-origin")
                .is_none(),
            "{origin}"
        );
    }
    for origin in ["http://localhost:3000", "http://localhost:5173"] {
        let response = production
            .client
            .request(reqwest::Method::OPTIONS, production.url("/graphql"))
            .header("origin", origin)
            .header("access-control-request-method", "POST")
            .send()
            .await
            .unwrap();
        assert!(
            response
                .headers()
                .get("access-control-allow-origin")
                .is_none(),
            "{origin}"
        );
    }
}

// ---------------------------------------------------------------------------
// Introspection
// ---------------------------------------------------------------------------

fn production() -> TestAppBuilder {
    TestApp::builder()
        .env("APP_ENV", "production")
        .env("JWT_SECRET", "a-production-secret-of-at-least-32-chars")
        .env("STRIPE_WEBHOOK_SECRET", "whsec_production_test")
        .env("TICKET_SIGNING_KEY", &"ab".repeat(32))
}

async fn production_app() -> TestApp {
    production().build().await
}

/// The introspection query of graphql-js with its nested fragments, `TypeRef` cut to
/// five levels of `ofType` (the full one is in `clients/introspect.mjs`).
const INTROSPECTION: &str = "query IntrospectionQuery { __schema { queryType { name } mutationType { name } subscriptionType { name }
  types { ...FullType } directives { name description locations args { ...InputValue } } } }
fragment FullType on __Type { kind name description
  fields(includeDeprecated: true) { name description args { ...InputValue } type { ...TypeRef } isDeprecated deprecationReason }
  inputFields { ...InputValue } interfaces { ...TypeRef }
  enumValues(includeDeprecated: true) { name description isDeprecated deprecationReason } possibleTypes { ...TypeRef } }
fragment InputValue on __InputValue { name description type { ...TypeRef } defaultValue }
fragment TypeRef on __Type { kind name ofType { kind name ofType { kind name ofType { kind name
  ofType { kind name ofType { kind name } } } } } }";

/// The policy (src/graphql/shape.rs): in production `__schema` and `__type` answer
/// admins only (GraphiQL with an admin's token); anyone else is refused before
/// anything runs, however the field is reached, over HTTP or the websocket.
/// `__typename` stays open. In development introspection is open to all.
#[tokio::test]
async fn introspection_is_for_admins_only_in_production() {
    let app = production_app().await;
    let customer = app.with_user(Role::Customer).await;
    let operator = app.with_user(Role::Operator).await;
    let admin = app.with_user(Role::Admin).await;
    let probes = [
        "{ __schema { queryType { name } } }",
        "{ __type(name: \"Booking\") { fields { name } } }",
        "query { ...F } fragment F on Query { __schema { types { name } } }",
        "query { ... on Query { t: __type(name: \"User\") { name } } }",
        INTROSPECTION,
    ];
    for query in probes {
        let r = app.gql(query, json!({})).await;
        assert_eq!(r.code(), "UNAUTHENTICATED", "{query}");
        assert!(r.body["data"].is_null());
        for user in [&customer, &operator] {
            let r = app.gql_as(&user.token, query, json!({})).await;
            assert_eq!(r.code(), "FORBIDDEN", "{query}");
            assert!(r.body["data"].is_null());
        }
    }
    let full = app.gql_as(&admin.token, INTROSPECTION, json!({})).await;
    assert_eq!(full.data()["__schema"]["queryType"]["name"], "Query");
    assert!(full.data()["__schema"]["types"].as_array().unwrap().len() > 20);
    let typename = app
        .gql("{ __typename theaters { __typename } }", json!({}))
        .await;
    assert_eq!(typename.data()["__typename"], "Query");

    // The websocket, where the caller is known from `connection_init`.
    let mut ws = WsClient::connect(app.addr, false, Some(&customer.token)).await;
    ws.subscribe("1", "{ __schema { queryType { name } } }", json!({}))
        .await;
    let refused = ws.receive().await;
    assert!(refused.to_string().contains("FORBIDDEN"), "{refused}");
    assert!(!refused.to_string().contains("\"Query\""), "{refused}");
    let mut ws = WsClient::connect(app.addr, false, Some(&admin.token)).await;
    ws.subscribe("1", "{ __schema { queryType { name } } }", json!({}))
        .await;
    assert_eq!(
        ws.next_data().await["__schema"]["queryType"]["name"],
        "Query"
    );

    let development = TestApp::new().await;
    let open = development.gql(INTROSPECTION, json!({})).await;
    assert_eq!(open.data()["__schema"]["queryType"]["name"], "Query");
}

/// `GRAPHQL_INTROSPECTION` overrides either default: `open` hands a production
/// schema to anyone, `off` refuses even an admin (on both transports) while
/// `__typename` still answers.
#[tokio::test]
async fn graphql_introspection_overrides_the_default_either_way() {
    let public = production()
        .env("GRAPHQL_INTROSPECTION", "open")
        .build()
        .await;
    let r = public.gql(INTROSPECTION, json!({})).await;
    assert_eq!(r.data()["__schema"]["queryType"]["name"], "Query");

    let closed = TestApp::builder()
        .env("GRAPHQL_INTROSPECTION", "off")
        .build()
        .await;
    let admin = closed.with_user(Role::Admin).await;
    for query in ["{ __schema { queryType { name } } }", INTROSPECTION] {
        let r = closed.gql_as(&admin.token, query, json!({})).await;
        assert_eq!(r.code(), "FORBIDDEN", "{}", r.body);
        assert!(r.body["data"].is_null());
        assert!(
            r.body["errors"][0]["message"]
                .as_str()
                .unwrap()
                .contains("schema.graphql"),
            "{}",
            r.body
        );
    }
    let typename = closed
        .gql_as(&admin.token, "{ __typename }", json!({}))
        .await;
    assert_eq!(typename.data()["__typename"], "Query");
    let mut ws = WsClient::connect(closed.addr, false, Some(&admin.token)).await;
    ws.subscribe("1", "{ __type(name: \"Booking\") { name } }", json!({}))
        .await;
    let refused = ws.receive().await;
    assert!(refused.to_string().contains("FORBIDDEN"), "{refused}");
}

// ---------------------------------------------------------------------------
// Errors show no internals
// ---------------------------------------------------------------------------

/// The leak detector the harness runs on every answer bites on what the database
/// and the runtime really say, and on the app's secrets; without this, a detector
/// that matched nothing would pass every test.
#[tokio::test]
async fn the_leak_detector_catches_real_database_errors_and_secrets() {
    let app = TestApp::new().await;
    let mut conn = app.conn().await;
    let missing = diesel::sql_query("SELECT id FROM no_such_table")
        .execute(&mut conn)
        .await
        .unwrap_err()
        .to_string();
    let duplicate = {
        fx::user(&mut conn, Role::Customer).await;
        let email: String = users::table
            .select(users::email)
            .first(&mut conn)
            .await
            .unwrap();
        diesel::insert_into(users::table)
            .values((
                users::email.eq(email),
                users::password_hash.eq("x"),
                users::full_name.eq("Twin"),
            ))
            .execute(&mut conn)
            .await
            .unwrap_err()
            .to_string()
    };
    let secrets = app.secrets();
    assert!(
        secrets
            .iter()
            .any(|s| s == app.app.config.auth.jwt_secret.expose_secret())
    );
    let leaks = [
        missing,
        duplicate,
        "SELECT \"bookings\".\"id\" FROM \"bookings\" WHERE \"bookings\".\"id\" = $1".to_owned(),
        "thread 'tokio-runtime-worker' panicked at src/booking/service.rs:42:9".to_owned(),
        format!(
            "signing with {}",
            app.app.config.auth.jwt_secret.expose_secret()
        ),
        format!(
            "cannot reach {}",
            app.app.config.database.url.expose_secret()
        ),
    ];
    for leak in leaks {
        let caught = std::panic::catch_unwind(|| common::assert_no_leak(&leak, &secrets));
        assert!(caught.is_err(), "not caught: {leak}");
    }
    // A plain refusal is not a leak.
    common::assert_no_leak(
        "{\"message\":\"seats not available: A1, B2\",\"extensions\":{\"code\":\"SEATS_UNAVAILABLE\"}}",
        &secrets,
    );
}

/// Real database failures behind real requests: a missing table on a read and a
/// violated constraint on a write come back as INTERNAL, "internal error" and a
/// reference for the logs; the harness's leak check has looked at each answer.
#[tokio::test]
async fn database_failures_reach_the_client_as_a_bare_internal_error() {
    let app = TestApp::new().await;
    let customer = app.with_user(Role::Customer).await;
    let admin = app.with_user(Role::Admin).await;
    {
        let mut conn = app.conn().await;
        diesel::sql_query("ALTER TABLE notifications RENAME TO notifications_gone")
            .execute(&mut conn)
            .await
            .unwrap();
        diesel::sql_query(
            "ALTER TABLE snacks ADD CONSTRAINT no_snacks_today CHECK (false) NOT VALID",
        )
        .execute(&mut conn)
        .await
        .unwrap();
    }
    let read = app
        .gql_as(&customer.token, "{ notifications { id } }", json!({}))
        .await;
    let write = app
        .gql_as(
            &admin.token,
            "mutation { createSnack(input: {name: \"Popcorn\", price: \"5.00\", category: \"Popcorn\"}) { id } }",
            json!({}),
        )
        .await;
    for r in [&read, &write] {
        assert_eq!(r.code(), "INTERNAL", "{}", r.body);
        assert_eq!(r.error()["message"], "internal error");
        assert_eq!(
            r.error()["extensions"]["reference"].as_str().unwrap().len(),
            32
        );
    }
}
