//! Scale-out: every Redis script (hold, extend, release, sweep, the booked-seat
//! rebuild, rate limits) and the pub/sub fan-out run unchanged on a three-master Redis
//! Cluster (`scripts/services.sh` starts one on loopback), with two server nodes.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::common;

use chrono::Duration;
use common::fixtures as fx;
use common::ws::{WsClient, changes, pair};
use common::{TestApp, TestUser};
use fred::prelude::*;
use screema::db::enums::Role;
use serde_json::json;
use uuid::Uuid;

const LOCK: &str = "mutation($s: ID!, $seats: [String!]!) { lockSeats(input: {showtimeId: $s, seatNumbers: $seats}) { lockToken } }";
const EXTEND: &str = "mutation($t: String!) { extendSeatLock(lockToken: $t) { expiresAt } }";
const RELEASE: &str = "mutation($t: String!) { releaseSeats(lockToken: $t) }";
const LIVE: &str =
    "subscription($s: ID!) { seatMap(showtimeId: $s) { version changes { number state } } }";

fn cluster_ports() -> Vec<u16> {
    std::env::var("SCREEMA_REDIS_CLUSTER_PORTS")
        .unwrap_or_else(|_| "7101 7102 7103".to_owned())
        .split_whitespace()
        .map(|p| p.parse().unwrap())
        .collect()
}

fn cluster_url() -> String {
    let ports = cluster_ports();
    let others: Vec<String> = ports[1..]
        .iter()
        .map(|p| format!("node=127.0.0.1:{p}"))
        .collect();
    format!(
        "redis-cluster://127.0.0.1:{}?{}",
        ports[0],
        others.join("&")
    )
}

/// Each master on its own, to see where keys went and to clean up after the test.
async fn masters() -> Vec<Client> {
    let mut clients = Vec::new();
    for port in cluster_ports() {
        let config = Config::from_url(&format!("redis://127.0.0.1:{port}")).unwrap();
        let client = Builder::from_config(config).build().unwrap();
        client.init().await.unwrap();
        clients.push(client);
    }
    clients
}

async fn keys_under(client: &Client, prefix: &str) -> Vec<String> {
    let mut cursor = "0".to_owned();
    let mut found = Vec::new();
    loop {
        let (next, keys): (String, Vec<String>) = client
            .custom(
                fred::cmd!("SCAN"),
                vec![
                    cursor,
                    "MATCH".into(),
                    format!("{prefix}:*"),
                    "COUNT".into(),
                    "1000".into(),
                ],
            )
            .await
            .unwrap();
        found.extend(keys);
        if next == "0" {
            return found;
        }
        cursor = next;
    }
}

async fn lock(node: &TestApp, user: &TestUser, st: Uuid, seats: &[&str]) -> common::Gql {
    node.gql_as(
        &user.token,
        LOCK,
        json!({"s": st.to_string(), "seats": seats}),
    )
    .await
}

fn token(r: &common::Gql) -> String {
    r.data()["lockSeats"]["lockToken"]
        .as_str()
        .unwrap()
        .to_owned()
}

#[tokio::test]
async fn holds_expiry_rate_limits_and_live_maps_work_on_a_three_master_cluster() {
    let (builder, clock) = TestApp::clocked();
    let app = builder
        .env("REDIS_URL", &cluster_url())
        .env("SWEEP_INTERVAL_MS", "100")
        .env("RATE_LIMIT_LOGIN", "2/1m")
        .build()
        .await;
    let _clean = CleanCluster(app.prefix.clone());
    let other = app
        .another_node()
        .clock(clock.clone())
        .env("ACCESS_TOKEN_TTL_SECONDS", "86400")
        .env("REDIS_URL", &cluster_url())
        .env("SWEEP_INTERVAL_MS", "100")
        .env("RATE_LIMIT_LOGIN", "2/1m")
        .build()
        .await;
    let start = app.app.now() + Duration::days(1);
    let mut showtimes = Vec::new();
    {
        let mut conn = app.conn().await;
        for _ in 0..6 {
            showtimes.push(fx::one_row_showtime(&mut conn, 6, &[], start).await);
        }
    }
    let st = showtimes[0];
    let (alice, bob) = (
        app.with_user(Role::Customer).await,
        app.with_user(Role::Customer).await,
    );

    // A subscriber on one node sees holds made through the other.
    let mut ws = WsClient::connect(other.addr, false, None).await;
    ws.subscribe("1", LIVE, json!({"s": st.to_string()})).await;
    assert_eq!(ws.next_data().await["seatMap"]["version"], 0);

    let held = lock(&app, &alice, st, &["A1", "A2"]).await;
    let alices = token(&held);
    let event = ws.next_data().await;
    assert_eq!(event["seatMap"]["version"], 1);
    assert_eq!(
        changes(&event["seatMap"]),
        [pair("A1", "HELD"), pair("A2", "HELD")]
    );

    // All or nothing, whichever node is asked.
    let refused = lock(&other, &bob, st, &["A2", "A3"]).await;
    assert_eq!(refused.code(), "SEATS_UNAVAILABLE");
    assert_eq!(refused.error()["extensions"]["seats"], json!(["A2"]));
    let bobs = token(&lock(&other, &bob, st, &["A3"]).await);
    assert_eq!(
        changes(&ws.next_data().await["seatMap"]),
        [pair("A3", "HELD")]
    );

    // Extend and release run on the cluster too.
    let extended = other
        .gql_as(&alice.token, EXTEND, json!({"t": alices}))
        .await;
    assert!(extended.data()["extendSeatLock"]["expiresAt"].is_string());
    let released = app
        .gql_as(&alice.token, RELEASE, json!({"t": alices}))
        .await;
    assert_eq!(released.data()["releaseSeats"], true);
    let event = ws.next_data().await;
    assert_eq!(event["seatMap"]["version"], 3);
    assert_eq!(
        changes(&event["seatMap"]),
        [pair("A1", "AVAILABLE"), pair("A2", "AVAILABLE")]
    );

    // One hold per showtime: their keys land on more than one master.
    for &showtime in &showtimes[1..] {
        token(&lock(&app, &alice, showtime, &["A1"]).await);
    }
    let masters = masters().await;
    let mut holding = 0;
    for master in &masters {
        if !keys_under(master, &app.prefix).await.is_empty() {
            holding += 1;
        }
    }
    assert!(
        holding >= 2,
        "keys on {holding} of {} masters",
        masters.len()
    );

    // Expiry is pushed by the sweepers, across slots.
    clock.advance(Duration::minutes(11));
    let event = ws.next_data().await;
    assert_eq!(event["seatMap"]["version"], 4);
    assert_eq!(changes(&event["seatMap"]), [pair("A3", "AVAILABLE")]);
    let gone = other.gql_as(&bob.token, RELEASE, json!({"t": bobs})).await;
    assert_eq!(gone.code(), "LOCK_EXPIRED");

    // The rate limit script: two failed sign-ins, then the limit.
    let login = "mutation { login(input: {email: \"nobody@example.com\", password: \"guess-guess\"}) { accessToken } }";
    for _ in 0..2 {
        assert_eq!(app.gql(login, json!({})).await.code(), "UNAUTHENTICATED");
    }
    assert_eq!(other.gql(login, json!({})).await.code(), "RATE_LIMITED");

    drop(ws);
    drop(other);
}

/// The harness cleans a single Redis; this cleans the cluster's masters when the
/// test ends, passed or failed.
struct CleanCluster(String);

impl Drop for CleanCluster {
    fn drop(&mut self) {
        let prefix = self.0.clone();
        // Drop runs inside the test's runtime: clean up on a thread of our own.
        let _ = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async {
                for master in masters().await {
                    for key in keys_under(&master, &prefix).await {
                        let _: Result<i64, _> = master.del(key).await;
                    }
                }
            });
        })
        .join();
    }
}

/// A sign-in that ends through one node ends on the other, on a cluster: the general
/// limit's script reads the user's counter and revocations in one slot, and the
/// revocation reaches the other node's subscriber.
#[tokio::test]
async fn a_demotion_closes_the_socket_on_the_other_node_of_a_cluster() {
    let app = TestApp::builder()
        .env("REDIS_URL", &cluster_url())
        .env("RATE_LIMIT_GENERAL", "100/1m")
        .build()
        .await;
    let _clean = CleanCluster(app.prefix.clone());
    let other = app
        .another_node()
        .env("REDIS_URL", &cluster_url())
        .env("RATE_LIMIT_GENERAL", "100/1m")
        .build()
        .await;
    let boss = app.with_user(Role::Admin).await;
    let demoted = app.with_user(Role::Admin).await;
    let analytics = "{ analytics { totalBookings } }";
    other
        .gql_as(&demoted.token, analytics, json!({}))
        .await
        .data();
    let mut ws = WsClient::connect(other.addr, false, Some(&demoted.token)).await;
    ws.subscribe("1", "subscription { myNotifications { id } }", json!({}))
        .await;
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;

    app.gql_as(
        &boss.token,
        "mutation($u: ID!) { setUserRole(userId: $u, role: CUSTOMER) { id } }",
        json!({"u": demoted.id.to_string()}),
    )
    .await
    .data();
    let started = std::time::Instant::now();
    assert_eq!(ws.close_code().await, Some(4403));
    assert!(started.elapsed() < std::time::Duration::from_secs(2));
    for node in [&app, &other] {
        assert_eq!(
            node.gql_as(&demoted.token, analytics, json!({}))
                .await
                .code(),
            "UNAUTHENTICATED"
        );
    }
    // The user's counter and revocations went to the same master (one slot).
    let mut together = false;
    for master in masters().await {
        let keys = keys_under(&master, &app.prefix).await;
        let user = demoted.id.to_string();
        let counter = keys
            .iter()
            .any(|k| k.contains("rl:general") && k.contains(&user));
        let revoked = keys
            .iter()
            .any(|k| k.contains(":sess:") && k.contains(&user));
        assert_eq!(counter, revoked, "{keys:?}");
        together |= counter && revoked;
    }
    assert!(together);
}
