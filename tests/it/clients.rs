//! The clients SCREEMA's users run, against a test server: Apollo Client 4 over HTTP
//! and graphql-ws, and the legacy subscriptions-transport-ws protocol
//! (`clients/flow.mjs`, with the packages `scripts/test-tools.sh` installs).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::common;

use chrono::Duration;
use common::TestApp;
use common::fixtures as fx;
use screema::db::enums::Role;
use serde_json::{Value, json};

/// Runs `clients/<script>` with Node and returns the JSON line it prints last.
async fn run_node(script: &str, env: &[(&str, String)]) -> Value {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("clients");
    let mut command = std::process::Command::new("node");
    command.arg(dir.join(script)).current_dir(&dir);
    for (key, value) in env {
        command.env(key, value);
    }
    // The server runs on this test's runtime: wait for node off it.
    let output = tokio::task::spawn_blocking(move || command.output())
        .await
        .unwrap()
        .expect("node (run scripts/test-tools.sh to install the client packages)");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{script} failed: {}\n{stdout}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_str(stdout.trim().lines().last().unwrap()).unwrap()
}

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

    let seen = run_node(
        "flow.mjs",
        &[
            ("SCREEMA_URL", app.url("")),
            ("SHOWTIME_ID", showtime.to_string()),
            ("CUSTOMER_EMAIL", email),
            ("PASSWORD", password.to_owned()),
            ("OTHER_TOKEN", other.token.clone()),
        ],
    )
    .await;
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

#[tokio::test]
async fn graphiql_runs_a_typed_query_in_a_real_browser_with_no_internet() {
    let app = TestApp::new().await;
    {
        let mut conn = app.conn().await;
        fx::theater(&mut conn, "Rialto Palace", "UTC").await;
    }
    let artifacts = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/artifacts");
    std::fs::create_dir_all(&artifacts).unwrap();
    let shot = artifacts.join("graphiql.png");
    let seen = run_node(
        "graphiql.mjs",
        &[
            ("SCREEMA_URL", app.url("")),
            ("EXPECT", "Rialto Palace".to_owned()),
            ("SCREENSHOT", shot.display().to_string()),
        ],
    )
    .await;
    let query: String = seen["query"].as_str().unwrap().split_whitespace().collect();
    assert_eq!(query, "{theaters{name}}");
    assert!(
        seen["result"]
            .as_str()
            .unwrap()
            .contains("\"name\": \"Rialto Palace\"")
    );
    assert_eq!(seen["external"], json!([]), "the page fetched from outside");
    assert!(std::fs::metadata(&shot).unwrap().len() > 1000);
}

#[tokio::test]
async fn the_live_seat_map_page_shows_a_hold_within_a_second_and_a_cancellation() {
    let app = TestApp::new().await;
    let showtime = {
        let mut conn = app.conn().await;
        let theater = fx::theater(&mut conn, "Box Office", "UTC").await;
        let screen = fx::screen(&mut conn, theater, 1, fx::small_layout()).await;
        let movie = fx::movie(&mut conn, fx::MovieSpec::default()).await;
        let start = app.app.now() + Duration::days(1);
        fx::showtime_blocking(&mut conn, movie, screen, start, "9.00", &["B3"]).await
    };
    let customer = app.with_user(Role::Customer).await;
    let admin = app.with_user(Role::Admin).await;
    let waiter = app.with_user(Role::Customer).await;
    let artifacts = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/artifacts");
    std::fs::create_dir_all(&artifacts).unwrap();
    let shot = artifacts.join("seatmap.png");
    let cancelled_shot = artifacts.join("seatmap-cancelled.png");
    let seen = run_node(
        "seatmap.mjs",
        &[
            ("SCREEMA_URL", app.url("")),
            ("SHOWTIME_ID", showtime.to_string()),
            ("TOKEN", customer.token.clone()),
            ("ADMIN_TOKEN", admin.token.clone()),
            ("WAITER_TOKEN", waiter.token.clone()),
            ("SCREENSHOT", shot.display().to_string()),
            ("SCREENSHOT_CANCELLED", cancelled_shot.display().to_string()),
        ],
    )
    .await;
    assert_eq!(seen["before"]["seats"], 6);
    assert_eq!(seen["before"]["blocked"], "BLOCKED");
    assert_eq!(seen["before"]["count"], "5 seats available");
    assert_eq!(seen["before"]["banner"], false);
    assert_eq!(seen["after"]["a1"], "#ff9f0a");
    assert_eq!(seen["after"]["count"], "3 seats available");
    let version: i64 = seen["after"]["version"].as_str().unwrap().parse().unwrap();
    assert!(version >= 1, "{seen}");
    assert!(
        !seen["after"]["epoch"].as_str().unwrap_or("").is_empty(),
        "{seen}"
    );
    assert!(seen["elapsedMs"].as_u64().unwrap() < 1000, "{seen}");
    assert!(std::fs::metadata(&shot).unwrap().len() > 1000);
    assert!(
        seen["title"].as_str().unwrap().starts_with("Untitled · "),
        "the page names the film: {seen}"
    );
    // A customer on the waiting list shows in the count.
    assert_eq!(seen["waiting"], "2 seats available · 1 waiting");
    // Cancelled while the page is open: it says so, live, and why.
    let cancelled = &seen["cancelled"];
    assert_eq!(
        cancelled["text"],
        "This showing is cancelled: the projector broke"
    );
    assert_eq!(cancelled["visible"], true);
    assert_eq!(cancelled["count"], "no longer on sale");
    assert!(cancelled["elapsedMs"].as_u64().unwrap() < 2000, "{seen}");
    assert!(std::fs::metadata(&cancelled_shot).unwrap().len() > 1000);
    let r = app.get("/seatmap/not-a-showtime").await;
    assert_eq!(r.status(), 404);
}

#[tokio::test]
async fn schema_tools_read_the_schema_with_the_standard_introspection_query() {
    // GraphiQL's documentation explorer and codegen tools start with this query; it
    // is 15 levels deep, which the default depth limit must allow.
    let app = TestApp::new().await;
    let seen = run_node("introspect.mjs", &[("SCREEMA_URL", app.url(""))]).await;
    assert_eq!(seen["hasSeatMap"], true, "{seen}");
    assert!(seen["types"].as_u64().unwrap() > 30, "{seen}");
}

/// The GraphQL over HTTP specification's audit suite (npm `graphql-http`'s
/// `auditServer`, pinned in `clients/package.json`): every audit passes, with no
/// warning and not even a notice (its MAYs).
#[tokio::test]
async fn the_graphql_over_http_audit_passes_every_must_should_and_may() {
    let app = TestApp::new().await;
    let report = run_node("audit.mjs", &[("SCREEMA_URL", app.url(""))]).await;
    assert_eq!(report["error"], 0, "{report:#}");
    assert_eq!(report["warn"], 0, "{report:#}");
    assert_eq!(report["problems"], json!([]), "{report:#}");
    assert!(report["ok"].as_u64().unwrap() >= 61, "{report:#}");
}

/// What the audit cannot see: the same answer in both media types, and a request
/// error told apart from one that ran.
#[tokio::test]
async fn answers_follow_the_media_type_the_client_accepts() {
    let app = TestApp::new().await;
    let post = |accept: Option<&'static str>, query: &'static str| {
        let mut request = app
            .client
            .post(app.url("/graphql"))
            .header("content-type", "application/json")
            .body(json!({ "query": query }).to_string());
        if let Some(accept) = accept {
            request = request.header("accept", accept);
        }
        request.send()
    };
    let gr = "application/graphql-response+json";
    for (accept, query, status, media, has_data) in [
        (None, "{ __typename }", 200, "application/json", true),
        (Some("*/*"), "{ __typename }", 200, "application/json", true),
        (Some(gr), "{ __typename }", 200, gr, true),
        // A document that does not parse: a request error.
        (None, "{", 200, "application/json", true),
        (Some(gr), "{", 400, gr, false),
        (
            Some("application/json;q=0.5, application/graphql-response+json"),
            "{ nope }",
            400,
            gr,
            false,
        ),
        // A field's error: the operation ran, so 200 in both.
        (
            Some(gr),
            "{ showtime(id: \"not-an-id\") { id } }",
            200,
            gr,
            true,
        ),
    ] {
        let response = post(accept, query).await.unwrap();
        assert_eq!(response.status().as_u16(), status, "{accept:?} {query}");
        assert_eq!(
            response.headers()["content-type"].to_str().unwrap(),
            media,
            "{accept:?} {query}"
        );
        let body: Value = response.json().await.unwrap();
        assert_eq!(
            body.get("data").is_some(),
            has_data,
            "{accept:?} {query}: {body}"
        );
        if query != "{ __typename }" {
            assert!(
                body["errors"][0]["extensions"]["code"].is_string(),
                "{body}"
            );
        }
    }
    // A body that does not say what it is.
    let response = app
        .client
        .post(app.url("/graphql"))
        .body(json!({ "query": "{ __typename }" }).to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 415);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["errors"][0]["extensions"]["field"], "Content-Type");
    // No query at all.
    let response = app
        .client
        .post(app.url("/graphql"))
        .header("content-type", "application/json")
        .body("{\"variables\": {}}")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 400);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["errors"][0]["extensions"]["field"], "query");
}

/// The reference web app (`clients/web`, built by `scripts/test-tools.sh`), served at
/// `/app/`, end to end in headless Chromium (`clients/web/e2e.mjs`): two customers
/// register through the app; the second sees the first's hold appear live on the seat
/// map; the first adds a snack, books, pays (the simulated gateway) and gets a ticket
/// with its QR code; an operator checks it in by pasting the code; offline, the app
/// still lists the films from its service worker, whose caches hold nothing personal.
/// Screenshots go to tests/artifacts/web/.
#[tokio::test]
async fn the_web_app_takes_two_customers_from_the_films_to_a_checked_in_ticket() {
    let app = TestApp::builder()
        .env("SIMULATED_PAYMENT_DELAY_MS", "200")
        .env(
            "WEB_APP_DIR",
            &format!("{}/clients/web/dist", env!("CARGO_MANIFEST_DIR")),
        )
        .build()
        .await;
    let showtime = {
        let mut conn = app.conn().await;
        let theater = fx::theater(&mut conn, "Odeon Leicester Square", "Europe/London").await;
        let screen = fx::screen(&mut conn, theater, 1, fx::small_layout()).await;
        let movie = fx::movie(
            &mut conn,
            fx::MovieSpec {
                title: "The Last Reel",
                ..Default::default()
            },
        )
        .await;
        fx::snack(&mut conn, "Popcorn", "FOOD", "4.95", true).await;
        // Check-in is open from an hour before the start.
        let start = app.app.now() + Duration::minutes(30);
        fx::showtime(&mut conn, movie, screen, start, "10.00").await
    };
    let operator = app.with_user(Role::Operator).await;
    let shots = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/artifacts/web");
    let seen = run_node(
        "web/e2e.mjs",
        &[
            ("SCREEMA_URL", app.url("")),
            ("SHOWTIME_ID", showtime.to_string()),
            ("OPERATOR_TOKEN", operator.token.clone()),
            ("SCREENSHOT_DIR", shots.display().to_string()),
        ],
    )
    .await;
    assert_eq!(seen["external"], json!([]), "{seen:#}");
    assert_eq!(seen["consoleErrors"], json!([]), "{seen:#}");
    assert!(seen["home"]["films"].as_u64().unwrap() >= 1, "{seen:#}");
    assert_eq!(seen["pwa"]["manifest"]["start_url"], "/app/", "{seen:#}");
    assert_eq!(seen["pwa"]["serviceWorker"], "activated", "{seen:#}");
    let held = seen["hold"]["seats"].as_array().unwrap();
    assert_eq!(held.len(), 2, "{seen:#}");
    for seat in held {
        assert_eq!(
            seen["hold"]["secondSaw"][seat.as_str().unwrap()],
            "HELD",
            "{seen:#}"
        );
    }
    assert_eq!(seen["hold"]["secondMarksThemMine"], false, "{seen:#}");
    assert_eq!(seen["booking"]["status"], "CONFIRMED", "{seen:#}");
    assert_eq!(seen["booking"]["snack"], "Popcorn", "{seen:#}");
    assert!(seen["secondSawBooked"].is_object(), "{seen:#}");
    assert_eq!(seen["ticket"]["codePrefix"], "T1.", "{seen:#}");
    assert!(
        seen["ticket"]["qrModules"].as_u64().unwrap() >= 21,
        "{seen:#}"
    );
    assert_eq!(seen["checkIn"]["result"], "checked-in", "{seen:#}");
    assert_eq!(seen["checkIn"]["bookingStatusAfter"], "USED", "{seen:#}");
    assert_eq!(seen["pwa"]["cached"]["personal"], false, "{seen:#}");
    assert!(
        seen["pwa"]["offlineFilms"].as_u64().unwrap() >= 1,
        "{seen:#}"
    );
    // What the database says of it.
    let booking: uuid::Uuid = seen["booking"]["id"].as_str().unwrap().parse().unwrap();
    let status = app
        .gql_as(
            &operator.token,
            "query($s: ID!) { showtimeManifest(showtimeId: $s) { seats { seatNumber checkedInAt } } }",
            json!({ "s": showtime.to_string() }),
        )
        .await;
    let seats = status.data()["showtimeManifest"]["seats"]
        .as_array()
        .unwrap()
        .clone();
    assert_eq!(seats.len(), 2, "{booking}: {seats:?}");
    assert!(
        seats.iter().all(|s| s["checkedInAt"].is_string()),
        "{seats:?}"
    );
    for name in ["home.png", "seatmap-held.png", "ticket.png", "checkin.png"] {
        assert!(
            std::fs::metadata(shots.join(name)).unwrap().len() > 1000,
            "{name}"
        );
    }
    // The app's files: the shell checked again on every visit, bundles kept.
    let shell = app.get("/app/").await;
    assert_eq!(shell.headers()["cache-control"], "no-cache");
    let redirect = app.client.get(app.url("/app")).send().await.unwrap();
    assert!(redirect.url().path() == "/app/", "{}", redirect.url());
    let config: Value = app.get("/api/payments/config").await.json().await.unwrap();
    assert_eq!(config, json!({ "stripePublishableKey": null }));
}

/// Automatic persisted queries with Apollo Client's own `PersistedQueryLink` (hashed
/// queries as GET, `clients/apq.mjs`), over two nodes that share only Postgres and
/// Redis: a hash one node learnt is known to the other, a public catalog GET may be
/// kept by a CDN and a personal one may not.
#[tokio::test]
async fn persisted_queries_follow_apollos_protocol_across_nodes() {
    let app = TestApp::new().await;
    let other = app.another_node().build().await;
    {
        let mut conn = app.conn().await;
        fx::movie(
            &mut conn,
            fx::MovieSpec {
                title: "Persisted",
                ..Default::default()
            },
        )
        .await;
    }
    let customer = app.with_user(Role::Customer).await;
    let seen = run_node(
        "apq.mjs",
        &[
            ("SCREEMA_URL", app.url("")),
            ("SCREEMA_URL_2", other.url("")),
            ("TOKEN", customer.token.clone()),
        ],
    )
    .await;
    // Unknown by hash on the first node, then sent with its text and kept.
    let first = seen["first"]["requests"].as_array().unwrap();
    assert_eq!(first.len(), 2, "{seen:#}");
    assert_eq!(first[0]["method"], "GET");
    assert_eq!(first[0]["hasQueryText"], false);
    assert_eq!(first[0]["code"], "PERSISTED_QUERY_NOT_FOUND", "{seen:#}");
    assert_eq!(first[0]["cacheControl"], "no-store", "{seen:#}");
    assert_eq!(first[1]["hasQueryText"], true);
    assert_eq!(first[1]["code"], Value::Null, "{seen:#}");
    assert_eq!(seen["first"]["titles"], json!(["Persisted"]));
    // Known on the other node by its hash alone: one GET, public for five seconds.
    let second = seen["second"]["requests"].as_array().unwrap();
    assert_eq!(second.len(), 1, "{seen:#}");
    assert_eq!(second[0]["method"], "GET");
    assert_eq!(second[0]["hasQueryText"], false);
    assert_eq!(second[0]["status"], 200);
    assert_eq!(second[0]["cacheControl"], "public, max-age=5", "{seen:#}");
    assert!(
        second[0]["vary"].as_str().unwrap().starts_with("Accept"),
        "{seen:#}"
    );
    assert_eq!(seen["second"]["titles"], json!(["Persisted"]));
    // Someone's own bookings: never kept by anyone.
    let personal = seen["personal"]["requests"].as_array().unwrap();
    assert_eq!(personal.len(), 1, "{seen:#}");
    assert_eq!(personal[0]["method"], "GET");
    assert_eq!(personal[0]["cacheControl"], "no-store", "{seen:#}");
}

/// What the protocol refuses, each naming its field, and a hash that lies about its
/// query is never kept.
#[tokio::test]
async fn persisted_queries_refuse_bad_hashes_and_versions() {
    use sha2::Digest;
    let app = TestApp::new().await;
    let post = |body: Value| {
        app.client
            .post(app.url("/graphql"))
            .header("content-type", "application/json")
            .body(body.to_string())
            .send()
    };
    let query = "{ __typename }";
    let hash = hex::encode(sha2::Sha256::digest(query.as_bytes()));
    let other = hex::encode(sha2::Sha256::digest(b"{ movies { total } }"));
    for (body, field) in [
        (
            json!({"query": query, "extensions": {"persistedQuery": {"version": 1, "sha256Hash": other}}}),
            "extensions.persistedQuery.sha256Hash",
        ),
        (
            json!({"extensions": {"persistedQuery": {"version": 2, "sha256Hash": hash}}}),
            "extensions.persistedQuery.version",
        ),
        (
            json!({"extensions": {"persistedQuery": {"version": 1, "sha256Hash": "abc"}}}),
            "extensions.persistedQuery.sha256Hash",
        ),
        (
            json!({"extensions": {"persistedQuery": "yes"}}),
            "extensions.persistedQuery",
        ),
    ] {
        let body: Value = post(body).await.unwrap().json().await.unwrap();
        assert_eq!(
            body["errors"][0]["extensions"]["code"], "BAD_USER_INPUT",
            "{body}"
        );
        assert_eq!(body["errors"][0]["extensions"]["field"], field, "{body}");
    }
    // The lying pair was not kept under the other query's hash.
    let body: Value =
        post(json!({"extensions": {"persistedQuery": {"version": 1, "sha256Hash": other}}}))
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
    assert_eq!(
        body["errors"][0]["extensions"]["code"],
        "PERSISTED_QUERY_NOT_FOUND"
    );
    assert_eq!(body["errors"][0]["message"], "PersistedQueryNotFound");
    // A mutation is never run from a GET, by text or by hash.
    let mutation = "mutation { logout(refreshToken: \"x\") }";
    let hash = hex::encode(sha2::Sha256::digest(mutation.as_bytes()));
    post(json!({"query": mutation, "extensions": {"persistedQuery": {"version": 1, "sha256Hash": hash}}}))
        .await
        .unwrap();
    let extensions = json!({"persistedQuery": {"version": 1, "sha256Hash": hash}}).to_string();
    let response = app
        .client
        .get(app.url("/graphql"))
        .query(&[("extensions", extensions.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 405);
}

/// `PERSISTED_QUERIES_MAX` bounds what every node keeps together: past it, the least
/// recently used go first (asked through a node that has none in memory).
#[tokio::test]
async fn persisted_queries_are_bounded_least_recently_used_first() {
    use sha2::Digest;
    let app = TestApp::builder()
        .env("PERSISTED_QUERIES_MAX", "3")
        .build()
        .await;
    let other = app
        .another_node()
        .env("PERSISTED_QUERIES_MAX", "3")
        .build()
        .await;
    let send = |node: &TestApp, body: Value| {
        node.client
            .post(node.url("/graphql"))
            .header("content-type", "application/json")
            .body(body.to_string())
            .send()
    };
    let queries: Vec<String> = (0..5)
        .map(|i| format!("query Q{i} {{ __typename }}"))
        .collect();
    let hash = |q: &str| hex::encode(sha2::Sha256::digest(q.as_bytes()));
    let persisted = |q: &str| json!({"persistedQuery": {"version": 1, "sha256Hash": hash(q)}});
    for (i, query) in queries.iter().enumerate() {
        send(
            &app,
            json!({"query": query, "extensions": persisted(query)}),
        )
        .await
        .unwrap();
        if i == 2 {
            // Q0 used again: Q1 is now the least recently used.
            send(&other, json!({"extensions": persisted(&queries[0])}))
                .await
                .unwrap();
        }
    }
    let mut known = Vec::new();
    for query in &queries {
        let body: Value = send(&other, json!({"extensions": persisted(query)}))
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        known.push(body["errors"].is_null());
    }
    // Q1 went first (Q0 was used again after it), then Q2.
    assert_eq!(known, [true, false, false, true, true]);
}
