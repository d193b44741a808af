//! Nothing leaks or grows without bound from outside (issue 17):
//!
//! - where introspection is closed, validation errors say nothing of the schema, so
//!   `clairvoyance` (PyPI, installed by `scripts/test-tools.sh`) recovers nothing
//!   beyond `__typename`; where it is open, the same run recovers real fields, which
//!   proves the run could have found them;
//! - metrics labels come only from names the schema and HTTP define, whatever names
//!   clients send;
//! - a subscriber that joins while Redis refuses the subscription (a real Redis of
//!   the test's own whose channel permissions are revoked, then given back) hears
//!   the changes made after Redis takes it again, on `seatMap` and `myNotifications`.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::common;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration as StdDuration;

use chrono::Duration;
use common::fixtures as fx;
use common::flow::{self, confirmed};
use common::tools::RedisServer;
use common::ws::WsClient;
use common::{TestApp, TestAppBuilder};
use fred::prelude::*;
use screema::db::enums::Role;
use serde_json::{Value, json};
use uuid::Uuid;

fn production() -> TestAppBuilder {
    TestApp::builder()
        .env("APP_ENV", "production")
        .env("JWT_SECRET", "a-production-secret-of-at-least-32-chars")
        .env("STRIPE_WEBHOOK_SECRET", "whsec_production_test")
        .env("TICKET_SIGNING_KEY", &"ab".repeat(32))
}

// ---------------------------------------------------------------------------
// The schema does not leak through validation errors
// ---------------------------------------------------------------------------

/// What `reticence` answers for every invalid document of a caller who may not
/// introspect.
const CONCEALED: &str = "the query does not match the schema";

/// clairvoyance's python: `scripts/test-tools.sh` installs it in a virtualenv beside
/// the test tools' (`SCREEMA_PYTHON`).
fn clairvoyance_python() -> PathBuf {
    let tools_python = std::env::var("SCREEMA_PYTHON").unwrap_or_else(|_| {
        format!(
            "{}/.cache/screema/test-tools-v2/bin/python",
            std::env::var("HOME").unwrap()
        )
    });
    let tools = PathBuf::from(tools_python);
    let dir = tools.ancestors().nth(3).expect("<tools>/<venv>/bin/python");
    dir.join("clairvoyance-2.5.5/bin/python")
}

/// Our real names, near misses of them (which suggestions would correct) and words
/// that are in no schema.
const WORDS: &[&str] = &[
    "movies",
    "moveis",
    "me",
    "showtime",
    "theatres",
    "lockSeats",
    "createBooking",
    "booking",
    "title",
    "limit",
    "id",
    "seatMap",
    "password",
    "flag",
];

/// Runs clairvoyance against the app's `/graphql`: the types it recovered, each with
/// the fields it found.
async fn blind_introspection(app: &TestApp) -> BTreeMap<String, Vec<String>> {
    let out = std::env::temp_dir().join(format!("clairvoyance-{}.json", Uuid::new_v4().simple()));
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/clairvoyance/blind.py");
    let python = clairvoyance_python();
    let log = out.with_extension("log");
    let mut child = std::process::Command::new(&python)
        .arg(script)
        .arg(app.url("/graphql"))
        .arg(&out)
        .args(WORDS)
        .stdout(std::process::Stdio::null())
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .unwrap_or_else(|e| panic!("{}: {e}; run scripts/test-tools.sh", python.display()));
    let mut status = None;
    for _ in 0..1200 {
        status = child.try_wait().unwrap();
        if status.is_some() {
            break;
        }
        tokio::time::sleep(StdDuration::from_millis(100)).await;
    }
    let Some(status) = status else {
        let _ = child.kill();
        let _ = child.wait();
        panic!("clairvoyance did not finish within two minutes");
    };
    let stderr = std::fs::read_to_string(&log).unwrap_or_default();
    let _ = std::fs::remove_file(&log);
    assert!(status.success(), "clairvoyance failed: {stderr}");
    let schema: Value = serde_json::from_str(&std::fs::read_to_string(&out).unwrap()).unwrap();
    let _ = std::fs::remove_file(&out);
    schema["data"]["__schema"]["types"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| {
            let fields = t["fields"]
                .as_array()
                .map(|fields| {
                    fields
                        .iter()
                        .map(|f| f["name"].as_str().unwrap().to_owned())
                        // clairvoyance's placeholder for a type of no known field.
                        .filter(|name| name != "dummy")
                        .collect()
                })
                .unwrap_or_default();
            (t["name"].as_str().unwrap().to_owned(), fields)
        })
        .collect()
}

/// clairvoyance, given our real names, rebuilds fields of a development server
/// (introspection open, suggestions on: `theaters` comes from "Did you mean" alone)
/// and nothing of a production one: `Query` with no fields.
#[tokio::test]
async fn clairvoyance_recovers_nothing_where_introspection_is_closed() {
    let open = TestApp::new().await;
    let recovered = blind_introspection(&open).await;
    let query = &recovered["Query"];
    for field in ["movies", "me", "showtime", "theaters"] {
        assert!(query.contains(&field.to_owned()), "{recovered:?}");
    }
    assert!(
        recovered["Mutation"].contains(&"lockSeats".to_owned()),
        "{recovered:?}"
    );

    let closed = production().build().await;
    let recovered = blind_introspection(&closed).await;
    assert!(recovered.contains_key("Query"), "{recovered:?}");
    assert!(
        recovered.values().all(Vec::is_empty),
        "clairvoyance recovered fields of a production server: {recovered:?}"
    );
}

/// The same, message by message: in production a customer or a stranger gets one
/// error that names nothing, over HTTP and the websocket alike; an admin (who may
/// introspect) still gets suggestions; errors from execution keep their code and
/// field.
#[tokio::test]
async fn validation_errors_name_nothing_where_introspection_is_closed() {
    let app = production().build().await;
    let customer = app.with_user(Role::Customer).await;
    let admin = app.with_user(Role::Admin).await;
    let probes = [
        "{ moveis { id } }",
        "{ movies }",
        "{ movies(limt: 1) { total } }",
        "{ showtime { id } }",
        "{ movies { movies { titel } } }",
    ];
    for query in probes {
        for token in [None, Some(customer.token.as_str())] {
            let r = match token {
                None => app.gql(query, json!({})).await,
                Some(token) => app.gql_as(token, query, json!({})).await,
            };
            let errors = r.body["errors"].as_array().unwrap();
            assert_eq!(errors.len(), 1, "{}", r.body);
            assert!(r.body["data"].is_null(), "{}", r.body);
            let message = errors[0]["message"].as_str().unwrap();
            assert!(message.starts_with(CONCEALED), "{query}: {message}");
            assert_eq!(r.code(), "BAD_USER_INPUT");
            assert!(errors[0]["locations"].is_null(), "{}", r.body);
            for leaked in ["Did you mean", "MoviePage", "Movie", "ID!", "Query"] {
                assert!(!r.body.to_string().contains(leaked), "{query}: {}", r.body);
            }
        }
    }
    let r = app
        .gql_as(&admin.token, "{ moveis { id } }", json!({}))
        .await;
    let message = r.error()["message"].as_str().unwrap();
    assert!(message.contains("Did you mean \"movies\""), "{message}");

    let r = app.gql("{ movie(id: \"nope\") { id } }", json!({})).await;
    assert_eq!(r.code(), "BAD_USER_INPUT");
    assert_eq!(r.field(), Some("id"));

    let mut ws = WsClient::connect(app.addr, false, Some(&customer.token)).await;
    ws.subscribe(
        "1",
        "subscription { seatMapp(showtimeId: \"x\") { version } }",
        json!({}),
    )
    .await;
    let refused = ws.receive().await.to_string();
    assert!(refused.contains(CONCEALED), "{refused}");
    assert!(!refused.contains("seatMap\\\""), "{refused}");
    assert!(!refused.contains("Did you mean"), "{refused}");
}

// ---------------------------------------------------------------------------
// Metrics labels are bounded
// ---------------------------------------------------------------------------

/// The series `/metrics` reports (its lines that are not comments).
async fn series(app: &TestApp) -> usize {
    let body = app.get("/metrics").await.text().await.unwrap();
    body.lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .count()
}

/// A made-up root field (of a query, a mutation or beside `__typename` in turn), and
/// for every tenth a made-up method on a real path and on a made-up one.
async fn made_up(app: &TestApp, i: usize) {
    let query = match i % 3 {
        0 => format!("{{ madeUp{i} }}"),
        1 => format!("mutation {{ madeUp{i} }}"),
        _ => format!("{{ __typename made{i}: madeUp{i} }}"),
    };
    let r = app.gql(&query, json!({})).await;
    assert_eq!(r.code(), "BAD_USER_INPUT", "{}", r.body);
    if !i.is_multiple_of(10) {
        return;
    }
    for path in ["/graphql".to_owned(), format!("/made-up/{i}")] {
        let method = reqwest::Method::from_bytes(format!("MADEUP{i}").as_bytes()).unwrap();
        let status = app
            .client
            .request(method, app.url(&path))
            .send()
            .await
            .unwrap()
            .status();
        assert!(status.is_client_error(), "{status}");
    }
    let status = app.get(&format!("/made-up/{i}")).await.status();
    assert_eq!(status, 404);
}

/// A thousand made-up root fields, and a hundred made-up methods and paths, leave
/// `/metrics` with as many series as one of each did: they all fall into `other`
/// (and `unmatched`).
#[tokio::test]
async fn metrics_stay_the_same_size_whatever_names_clients_send() {
    let app = TestApp::new().await;
    for i in 0..3 {
        made_up(&app, i).await;
    }
    // The scrape counts itself after it answers: the second one is the baseline.
    series(&app).await;
    let before = series(&app).await;
    for chunk in (3..1003).collect::<Vec<_>>().chunks(50) {
        futures_util::future::join_all(chunk.iter().map(|i| made_up(&app, *i))).await;
    }
    let after = series(&app).await;
    assert_eq!(before, after, "metrics grew with made-up names");
    let body = app.get("/metrics").await.text().await.unwrap();
    assert!(!body.contains("madeUp"), "a made-up name became a label");
    assert!(!body.contains("MADEUP"), "a made-up method became a label");
    assert!(body.contains("operation=\"other\""), "{body}");
    assert!(body.contains("method=\"other\""), "{body}");
    // Real operations are still named.
    app.gql("{ theaters { id } }", json!({})).await.data();
    let body = app.get("/metrics").await.text().await.unwrap();
    assert!(body.contains("operation=\"query.theaters\""), "{body}");
}

// ---------------------------------------------------------------------------
// Subscribers recover when Redis takes their subscription again
// ---------------------------------------------------------------------------

const SEAT_MAP: &str = "subscription($s: ID!) { seatMap(showtimeId: $s) { version
    changes { number state } snapshot { rows { seats { number state } } } } }";
const MY_NOTIFICATIONS: &str = "subscription { myNotifications { title } }";

/// `ACL SETUSER default <rules>` on the test's own Redis.
async fn acl(redis: &Client, rule: &str) {
    let _: String = redis
        .custom(fred::cmd!("ACL"), vec!["SETUSER", "default", rule])
        .await
        .unwrap();
}

/// The next message for subscription `id`, skipping others'.
async fn next_for(ws: &mut WsClient, id: &str) -> Value {
    loop {
        let message = ws.receive().await;
        if message["id"] == id {
            return message;
        }
    }
}

/// Whether a seat-map event shows `seat` held, as a change or in a snapshot.
fn shows_held(event: &Value, seat: &str) -> bool {
    let map = &event["payload"]["data"]["seatMap"];
    let held = |s: &Value| s["number"] == seat && s["state"] == "HELD";
    map["changes"]
        .as_array()
        .is_some_and(|c| c.iter().any(held))
        || map["snapshot"]["rows"].as_array().is_some_and(|rows| {
            rows.iter()
                .any(|r| r["seats"].as_array().unwrap().iter().any(held))
        })
}

/// Redis refuses every SUBSCRIBE (the default user's channel permissions are
/// revoked, which also cuts the node's subscriber connection) while a customer
/// subscribes to a seat map and to their notifications: both subscriptions start
/// anyway. When Redis allows channels again, the node subscribes them by itself,
/// and a hold and a confirmed booking made after that reach the customer.
#[tokio::test]
async fn a_subscriber_that_joins_while_subscribing_fails_recovers_with_redis() {
    let redis_server = RedisServer::start().await;
    let app = TestApp::builder()
        .env("REDIS_URL", &redis_server.url())
        .build()
        .await;
    let showtime = {
        let mut conn = app.conn().await;
        fx::one_row_showtime(&mut conn, 6, &[], app.app.now() + Duration::days(1)).await
    };
    let customer = app.with_user(Role::Customer).await;
    let other = app.with_user(Role::Customer).await;
    let redis = app.redis().await;

    acl(&redis, "resetchannels").await;
    let mut ws = WsClient::connect(app.addr, false, Some(&customer.token)).await;
    ws.subscribe("map", SEAT_MAP, json!({"s": showtime.to_string()}))
        .await;
    let first = next_for(&mut ws, "map").await;
    assert_eq!(first["type"], "next", "{first}");
    assert!(first["payload"]["errors"].is_null(), "{first}");
    assert!(
        first["payload"]["data"]["seatMap"]["snapshot"].is_object(),
        "{first}"
    );
    ws.subscribe("inbox", MY_NOTIFICATIONS, json!({})).await;
    // Nothing but silence for the inbox: no error ends it.
    if let Some(message) = ws.maybe_next(700).await {
        assert_ne!(message["id"], "inbox", "{message}");
    }

    acl(&redis, "allchannels").await;
    let seat_map_channel = format!("*seatmap*{showtime}*");
    let inbox_channel = format!("*notify:{}", customer.id);
    flow::eventually("both channels subscribed again", || {
        let redis = redis.clone();
        let patterns = [seat_map_channel.clone(), inbox_channel.clone()];
        async move {
            for pattern in patterns {
                let channels: Vec<String> = redis
                    .custom(fred::cmd!("PUBSUB"), vec!["CHANNELS".to_owned(), pattern])
                    .await
                    .unwrap();
                if channels.is_empty() {
                    return false;
                }
            }
            true
        }
    })
    .await;

    flow::lock(&app, &other, showtime, &["A1"]).await;
    loop {
        let event = next_for(&mut ws, "map").await;
        assert!(event["payload"]["errors"].is_null(), "{event}");
        if shows_held(&event, "A1") {
            break;
        }
    }
    confirmed(&app, &customer, showtime, &["A3"]).await;
    let pushed = next_for(&mut ws, "inbox").await;
    assert_eq!(
        pushed["payload"]["data"]["myNotifications"]["title"], "Booking confirmed",
        "{pushed}"
    );
}
