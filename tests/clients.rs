//! The clients SCREEMA's users run, against a test server: Apollo Client 4 over HTTP
//! and graphql-ws, and the legacy subscriptions-transport-ws protocol
//! (`clients/flow.mjs`, with the packages `scripts/test-tools.sh` installs).

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use chrono::Duration;
use common::TestApp;
use common::fixtures as fx;
use screema::db::enums::Role;
use serde_json::{Value, json};

#[tokio::test]
async fn apollo_client_and_the_legacy_protocol_follow_a_booking_live() {
    let app = TestApp::builder()
        .env("SIMULATED_PAYMENT_DELAY_MS", "200")
        .build()
        .await;
    let showtime = {
        let mut conn = app.conn().await;
        fx::one_row_showtime(&mut conn, 10, &[], app.app.now() + Duration::days(1)).await
    };
    let email = format!("{}@example.test", uuid::Uuid::new_v4().simple());
    let password = "correct-horse-battery-staple-42";
    app.gql(
        "mutation($i: RegisterInput!) { register(input: $i) { user { id } } }",
        json!({"i": {"email": email, "password": password, "fullName": "Apollo Client"}}),
    )
    .await
    .data();
    let other = app.with_user(Role::Customer).await;

    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("clients");
    let mut command = std::process::Command::new("node");
    command
        .arg(dir.join("flow.mjs"))
        .current_dir(&dir)
        .env("SCREEMA_URL", app.url(""))
        .env("SHOWTIME_ID", showtime.to_string())
        .env("CUSTOMER_EMAIL", &email)
        .env("PASSWORD", password)
        .env("OTHER_TOKEN", &other.token);
    // The server runs on this test's runtime: wait for node off it.
    let output = tokio::task::spawn_blocking(move || command.output())
        .await
        .unwrap()
        .expect("node (run scripts/test-tools.sh to install the client packages)");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "flow.mjs failed: {}\n{stdout}",
        String::from_utf8_lossy(&output.stderr)
    );
    let seen: Value = serde_json::from_str(stdout.trim().lines().last().unwrap()).unwrap();
    assert_eq!(seen["movies"], 1);
    let first = seen["firstVersion"].as_i64().unwrap();
    assert_eq!(seen["heldVersion"], first + 1);
    assert_eq!(
        seen["heldChange"],
        json!([{"__typename": "SeatChange", "number": "A1", "state": "HELD"}])
    );
    assert_eq!(seen["legacySnapshotVersion"], first + 1);
    assert_eq!(seen["bookedVersion"], first + 3);
    let mut booked: Vec<String> = seen["bookedChange"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            format!(
                "{}={}",
                c["number"].as_str().unwrap(),
                c["state"].as_str().unwrap()
            )
        })
        .collect();
    booked.sort();
    assert_eq!(booked, ["A2=BOOKED", "A3=BOOKED"]);
    assert_eq!(seen["legacyBooked"].as_array().unwrap().len(), 2);
    assert_eq!(seen["confirmed"], true);
    assert_eq!(seen["qrCode"], "T1.");
    assert_eq!(
        seen["amount"],
        json!({"amount": "20.00", "currency": "USD", "__typename": "Money"})
    );
}
