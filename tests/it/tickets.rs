//! Tickets and check-in through the public API: signed codes that verify offline with
//! the published key, and a check-in that happens exactly once.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::common;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::Duration;
use common::fixtures as fx;
use common::flow::{confirmed, status_of};
use common::{TestApp, TestUser};
use ed25519_dalek::{Signature, Verifier, VerifyingKey};
use screema::clock::Clock;
use screema::db::enums::Role;
use serde_json::{Value, json};
use uuid::Uuid;

const CHECK_IN: &str =
    "mutation($c: String!) { checkInTicket(code: $c) { id status seatNumbers } }";

async fn check_in(app: &TestApp, who: &TestUser, code: &str) -> common::Gql {
    app.gql_as(&who.token, CHECK_IN, json!({"c": code})).await
}

async fn showtime_in(app: &TestApp, from_now: Duration) -> Uuid {
    let mut conn = app.conn().await;
    fx::one_row_showtime(&mut conn, 10, &[], app.app.now() + from_now).await
}

#[tokio::test]
async fn a_ticket_verifies_offline_with_the_published_key() {
    let app = TestApp::builder()
        .env("SIMULATED_PAYMENT_DELAY_MS", "600000")
        .build()
        .await;
    let showtime = showtime_in(&app, Duration::days(1)).await;
    let user = app.with_user(Role::Customer).await;
    let (id, code) = confirmed(&app, &user, showtime, &["A3", "A4"]).await;
    assert!(
        code.len() < 300,
        "fits a QR code: {} characters",
        code.len()
    );

    let published: Value = app
        .get("/api/tickets/public-key")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(published["algorithm"], "Ed25519");
    let key: [u8; 32] = URL_SAFE_NO_PAD
        .decode(published["publicKey"].as_str().unwrap())
        .unwrap()
        .try_into()
        .unwrap();
    let key = VerifyingKey::from_bytes(&key).unwrap();

    // What a scanner does offline, written here from the published format.
    let parts: Vec<&str> = code.split('.').collect();
    assert_eq!(parts[0], "T1");
    let payload = URL_SAFE_NO_PAD.decode(parts[1]).unwrap();
    let signature: [u8; 64] = URL_SAFE_NO_PAD
        .decode(parts[2])
        .unwrap()
        .try_into()
        .unwrap();
    let signed = [b"screema-ticket-v1\0".as_slice(), &payload].concat();
    key.verify(&signed, &Signature::from_bytes(&signature))
        .unwrap();
    assert_eq!(Uuid::from_slice(&payload[..16]).unwrap().to_string(), id);
    assert_eq!(Uuid::from_slice(&payload[16..32]).unwrap(), showtime);
    let issued = i64::from_be_bytes(payload[32..40].try_into().unwrap());
    assert!((issued - app.app.now().timestamp()).abs() < 60);
    assert_eq!(std::str::from_utf8(&payload[40..]).unwrap(), "A3,A4");
    // A changed seat list no longer verifies.
    let forged = [
        b"screema-ticket-v1\0".as_slice(),
        &payload[..40],
        b"A3,A4,A5",
    ]
    .concat();
    assert!(
        key.verify(&forged, &Signature::from_bytes(&signature))
            .is_err()
    );
}

#[tokio::test]
async fn an_operator_checks_a_ticket_in_once_and_only_once() {
    let app = TestApp::builder()
        .env("SIMULATED_PAYMENT_DELAY_MS", "600000")
        .build()
        .await;
    let showtime = showtime_in(&app, Duration::minutes(30)).await;
    let customer = app.with_user(Role::Customer).await;
    let operator = app.with_user(Role::Operator).await;
    let admin = app.with_user(Role::Admin).await;
    let (id, code) = confirmed(&app, &customer, showtime, &["A1", "A2"]).await;

    assert_eq!(check_in(&app, &customer, &code).await.code(), "FORBIDDEN");
    assert_eq!(
        app.gql(CHECK_IN, json!({"c": code})).await.code(),
        "UNAUTHENTICATED"
    );
    let r = check_in(&app, &operator, &code).await;
    let booking = &r.data()["checkInTicket"];
    assert_eq!(booking["id"], id);
    assert_eq!(booking["status"], "USED");
    assert_eq!(booking["seatNumbers"], json!(["A1", "A2"]));
    let again = check_in(&app, &admin, &code).await;
    assert_eq!(again.code(), "CONFLICT");
    assert!(
        again.error()["message"]
            .as_str()
            .unwrap()
            .contains("already used at"),
        "{:#}",
        again.body
    );
    // A used ticket's seats stay sold.
    let r = app
        .gql(
            "query($s: ID!) { showtime(id: $s) { availableSeats } }",
            json!({"s": showtime.to_string()}),
        )
        .await;
    assert_eq!(r.data()["showtime"]["availableSeats"], 8);

    // Two operators scan one ticket at the same moment: one checks it in.
    for round in 0..3 {
        let seat = ["A5", "A6", "A7"][round];
        let (_, code) = confirmed(&app, &customer, showtime, &[seat]).await;
        let (a, b) = tokio::join!(
            check_in(&app, &operator, &code),
            check_in(&app, &admin, &code)
        );
        let outcomes: Vec<bool> = [&a, &b]
            .iter()
            .map(|r| {
                if r.body.get("errors").is_some() {
                    assert_eq!(r.code(), "CONFLICT");
                    false
                } else {
                    true
                }
            })
            .collect();
        assert_eq!(
            outcomes.iter().filter(|ok| **ok).count(),
            1,
            "round {round}"
        );
    }
}

#[tokio::test]
async fn forged_void_and_untimely_tickets_are_refused_saying_why() {
    let (builder, clock) = TestApp::clocked();
    let app = builder
        .env("SIMULATED_PAYMENT_DELAY_MS", "600000")
        .build()
        .await;
    let soon = showtime_in(&app, Duration::minutes(30)).await;
    let tomorrow = showtime_in(&app, Duration::days(1)).await;
    let customer = app.with_user(Role::Customer).await;
    let operator = app.with_user(Role::Operator).await;

    // Codes that are not ours: nonsense, and one signed with another key.
    let other = screema::tickets::code::TicketSigner::from_seed(&[9; 32]);
    let forged = other.issue(&screema::tickets::code::TicketClaims {
        booking: Uuid::new_v4(),
        showtime: soon,
        issued_at: clock.now(),
        seats: vec!["A1".into()],
    });
    for bad in ["", "hello", "T1.abc.def", forged.as_str()] {
        let r = check_in(&app, &operator, bad).await;
        assert_eq!(
            (r.code(), r.field()),
            ("BAD_USER_INPUT", Some("code")),
            "{bad}"
        );
    }

    // Tomorrow's ticket: too early.
    let (_, early) = confirmed(&app, &customer, tomorrow, &["A1"]).await;
    let r = check_in(&app, &operator, &early).await;
    assert_eq!(r.code(), "CONFLICT");
    assert!(r.error()["message"].as_str().unwrap().contains("opens at"));

    // A refunded booking's ticket is void.
    let (refunded, void) = confirmed(&app, &customer, soon, &["A1"]).await;
    let r = app
        .gql_as(
            &customer.token,
            "mutation($id: ID!) { refundBooking(input: {bookingId: $id}) { status } }",
            json!({"id": refunded}),
        )
        .await;
    // Within two hours of the start only an admin may refund; this one is an admin's.
    assert_eq!(r.code(), "CONFLICT");
    let admin = app.with_user(Role::Admin).await;
    let r = app
        .gql_as(
            &admin.token,
            "mutation($id: ID!) { refundBooking(input: {bookingId: $id}) { status } }",
            json!({"id": refunded}),
        )
        .await;
    assert_eq!(r.data()["refundBooking"]["status"], "succeeded");
    assert_eq!(status_of(&app, &customer, &refunded).await, "CANCELLED");
    let r = check_in(&app, &operator, &void).await;
    assert_eq!(r.code(), "CONFLICT");
    assert!(r.error()["message"].as_str().unwrap().contains("cancelled"));

    // After the showtime ends: too late.
    let (_, late) = confirmed(&app, &customer, soon, &["A2"]).await;
    clock.advance(Duration::minutes(30 + 100 + 1));
    let r = check_in(&app, &operator, &late).await;
    assert_eq!(r.code(), "CONFLICT");
    assert!(r.error()["message"].as_str().unwrap().contains("ended at"));
}

async fn png_from(response: reqwest::Response) -> Vec<u8> {
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "image/png");
    let bytes = response.bytes().await.unwrap().to_vec();
    assert_eq!(&bytes[..8], b"\x89PNG\r\n\x1a\n");
    bytes
}

#[tokio::test]
async fn the_ticket_image_is_stored_and_served_to_its_owner_only() {
    let app = TestApp::builder()
        .env("SIMULATED_PAYMENT_DELAY_MS", "600000")
        .build()
        .await;
    let showtime = showtime_in(&app, Duration::days(1)).await;
    let owner = app.with_user(Role::Customer).await;
    let stranger = app.with_user(Role::Customer).await;
    let (id, _) = confirmed(&app, &owner, showtime, &["A1"]).await;
    let booking = common::flow::booking(&app, &owner, &id).await;
    let url = booking["ticketImageUrl"].as_str().unwrap().to_owned();
    assert_eq!(url, app.url(&format!("/api/tickets/{id}.png")));

    // Stored at confirmation, in the local folder of this test's object store.
    let dir = match &app.app.config.tickets.store {
        screema::config::TicketStore::Local { dir } => dir.clone(),
        _ => unreachable!(),
    };
    // One image per code, under the booking's folder.
    let folder = dir.join(format!("tickets/{id}"));
    let stored_image = || {
        std::fs::read_dir(&folder)
            .ok()
            .and_then(|mut entries| entries.next())
            .and_then(Result::ok)
            .map(|entry| entry.path())
    };
    common::flow::eventually("the stored image", || {
        let exists = stored_image().is_some();
        async move { exists }
    })
    .await;
    let stored = stored_image().unwrap();
    let served = png_from(
        app.client
            .get(&url)
            .bearer_auth(&owner.token)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(served, std::fs::read(&stored).unwrap());

    let anonymous = app.client.get(&url).send().await.unwrap();
    assert_eq!(anonymous.status(), 401);
    let theirs = app
        .client
        .get(&url)
        .bearer_auth(&stranger.token)
        .send()
        .await
        .unwrap();
    assert_eq!(theirs.status(), 404);
    let nonsense = app
        .client
        .get(app.url("/api/tickets/nope.png"))
        .bearer_auth(&owner.token)
        .send()
        .await
        .unwrap();
    assert_eq!(nonsense.status(), 404);

    // An unpaid booking has no ticket image.
    let pending = common::flow::book(&app, &owner, showtime, &["A2"]).await;
    assert!(pending["booking"]["ticketImageUrl"].is_null());
    let pending_id = pending["booking"]["id"].as_str().unwrap();
    let r = app
        .client
        .get(app.url(&format!("/api/tickets/{pending_id}.png")))
        .bearer_auth(&owner.token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
}

#[tokio::test]
async fn ticket_images_can_live_in_an_s3_compatible_store() {
    use common::tools::{PythonServer, free_port};
    let port = free_port();
    let _moto = PythonServer::start(
        "moto.server",
        &[
            "-H".to_owned(),
            "127.0.0.1".to_owned(),
            "-p".to_owned(),
            port.to_string(),
        ],
        port,
    )
    .await;
    let endpoint = format!("http://127.0.0.1:{port}");
    let client = reqwest::Client::new();
    let created = client
        .put(format!("{endpoint}/tickets-bucket"))
        .send()
        .await
        .unwrap();
    assert!(created.status().is_success(), "{}", created.status());

    let app = TestApp::builder()
        .env("TICKET_STORE", "s3")
        .env("S3_BUCKET", "tickets-bucket")
        .env("S3_ENDPOINT", &endpoint)
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .env("SIMULATED_PAYMENT_DELAY_MS", "600000")
        .build()
        .await;
    let showtime = showtime_in(&app, Duration::days(1)).await;
    let owner = app.with_user(Role::Customer).await;
    let (id, _) = confirmed(&app, &owner, showtime, &["A4"]).await;

    // The bucket's listing (moto answers it unsigned; objects are private).
    // One object per ticket code, under the booking's prefix.
    let key = format!("<Key>tickets/{id}/");
    let listing = || {
        let client = client.clone();
        let url = format!("{endpoint}/tickets-bucket");
        async move { client.get(url).send().await.unwrap().text().await.unwrap() }
    };
    common::flow::eventually("the object in S3", || {
        let listing = listing();
        let key = key.clone();
        async move { listing.await.contains(&key) }
    })
    .await;
    let url = app.url(&format!("/api/tickets/{id}.png"));
    let served = png_from(
        app.client
            .get(&url)
            .bearer_auth(&owner.token)
            .send()
            .await
            .unwrap(),
    )
    .await;
    let listed = listing().await;
    assert!(
        listed.contains(&key)
            && listed.contains(".png</Key><LastModified>")
            && listed.contains(&format!("<Size>{}</Size>", served.len())),
        "{listed}"
    );
}

/// Storing a ticket's image takes one database connection at a time: with a pool of
/// one, the image is still stored. (Holding the booking's connection while the caption
/// was read with another starved the pool under load: every delivery waited for a
/// connection its neighbours held.)
#[tokio::test]
async fn a_ticket_image_is_made_with_one_connection_at_a_time() {
    let app = TestApp::builder()
        .env("SIMULATED_PAYMENT_DELAY_MS", "600000")
        .env("DATABASE_POOL_SIZE", "1")
        .build()
        .await;
    let showtime = showtime_in(&app, Duration::days(1)).await;
    let owner = app.with_user(Role::Customer).await;
    let (id, _) = confirmed(&app, &owner, showtime, &["A1"]).await;
    let dir = match &app.app.config.tickets.store {
        screema::config::TicketStore::Local { dir } => dir.clone(),
        _ => unreachable!(),
    };
    let folder = dir.join(format!("tickets/{id}"));
    common::flow::eventually("the stored image", || {
        let stored = std::fs::read_dir(&folder)
            .map(|mut entries| entries.next().is_some())
            .unwrap_or(false);
        async move { stored }
    })
    .await;
    let served = app
        .client
        .get(app.url(&format!("/api/tickets/{id}.png")))
        .bearer_auth(&owner.token)
        .send()
        .await
        .unwrap();
    assert_eq!(served.status(), 200);
}
