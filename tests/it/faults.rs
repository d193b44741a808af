//! What must hold when the outside world misbehaves: webhook storms (the same events
//! replayed many times, concurrently, out of order, to two nodes) have each effect once.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::common;

use chrono::Duration;
use common::fixtures as fx;
use common::flow::{self, event, intent_object, pending, send_event};
use common::node::Node;
use common::tools::{PostgresServer, RedisServer};
use common::{TestApp, TestUser};
use diesel::{ExpressionMethods, QueryDsl};
use diesel_async::RunQueryDsl;
use rand::seq::SliceRandom;
use rust_decimal::prelude::ToPrimitive;
use screema::db::enums::Role;
use screema::db::schema::{notifications, outbox, stripe_events};
use secrecy::ExposeSecret;
use serde_json::json;

/// Points a user's bookings earned: pending until their showtimes start.
async fn points(app: &TestApp, user: &TestUser) -> i64 {
    let r = app
        .gql_as(&user.token, "{ me { points pendingPoints } }", json!({}))
        .await;
    r.data()["me"]["points"].as_i64().unwrap() + r.data()["me"]["pendingPoints"].as_i64().unwrap()
}

async fn confirmations(app: &TestApp, user: &TestUser) -> i64 {
    notifications::table
        .filter(notifications::user_id.eq(user.id))
        .filter(notifications::title.eq("Booking confirmed"))
        .count()
        .get_result(&mut app.conn().await)
        .await
        .unwrap()
}

#[tokio::test]
async fn a_webhook_storm_on_two_nodes_has_each_effect_once() {
    let app = TestApp::builder()
        .env("SIMULATED_PAYMENT_DELAY_MS", "600000")
        .build()
        .await;
    let other = app
        .another_node()
        .env("SIMULATED_PAYMENT_DELAY_MS", "600000")
        .build()
        .await;
    let showtime = {
        let mut conn = app.conn().await;
        fx::one_row_showtime(&mut conn, 10, &[], app.app.now() + Duration::days(1)).await
    };
    let (alice, bob) = (
        app.with_user(Role::Customer).await,
        app.with_user(Role::Customer).await,
    );
    let (a1, a1_intent) = pending(&app, &alice, showtime, &["A1"]).await;
    let (a2, a2_intent) = pending(&app, &alice, showtime, &["A2", "A3"]).await;
    let (b1, b1_intent) = pending(&app, &bob, showtime, &["A4"]).await;

    let mut paid = std::collections::HashMap::new();
    for (intent, booking) in [(&a1_intent, &a1), (&a2_intent, &a2), (&b1_intent, &b1)] {
        paid.insert(intent.clone(), intent_object(&app, intent, booking).await);
    }
    let succeeded = |id: &str, intent: &str, _booking: &str| {
        event(id, "payment_intent.succeeded", paid[intent].clone())
    };
    let failed = |id: &str, intent: &str| {
        event(
            id,
            "payment_intent.payment_failed",
            json!({"id": intent, "last_payment_error": {"message": "declined"}}),
        )
    };
    // Each delivery many times over; a second "succeeded" event for one payment; a
    // failure that arrives after the success it preceded.
    let mut storm = Vec::new();
    for _ in 0..12 {
        storm.push(succeeded("evt_a1", &a1_intent, &a1));
        storm.push(succeeded("evt_b1", &b1_intent, &b1));
        storm.push(succeeded("evt_a2", &a2_intent, &a2));
    }
    for _ in 0..6 {
        storm.push(succeeded("evt_a1_again", &a1_intent, &a1));
        storm.push(failed("evt_a2_failed_late", &a2_intent));
    }
    storm.shuffle(&mut rand::rng());
    let statuses = futures_util::future::join_all(storm.iter().enumerate().map(|(i, body)| {
        let node = if i % 2 == 0 { &app } else { &other };
        send_event(node, body)
    }))
    .await;
    assert!(statuses.iter().all(|s| *s == 200), "{statuses:?}");

    for (user, id) in [(&alice, &a1), (&alice, &a2), (&bob, &b1)] {
        assert_eq!(flow::status_of(&app, user, id).await, "CONFIRMED");
    }
    assert_eq!(confirmations(&app, &alice).await, 2);
    assert_eq!(confirmations(&app, &bob).await, 1);
    // Points once per booking: A1 alone, A2 and A3 together, A4.
    let final_amount = |user: &TestUser, id: &str| {
        let (app, user, id) = (&app, user.clone(), id.to_owned());
        async move {
            let b = flow::booking(app, &user, &id).await;
            let amount: rust_decimal::Decimal = b["finalAmount"]["amount"]
                .as_str()
                .unwrap()
                .parse()
                .unwrap();
            amount.floor().to_i64().unwrap()
        }
    };
    assert_eq!(
        points(&app, &alice).await,
        final_amount(&alice, &a1).await + final_amount(&alice, &a2).await
    );
    assert_eq!(points(&app, &bob).await, final_amount(&bob, &b1).await);
    let mut conn = app.conn().await;
    let seen: i64 = stripe_events::table
        .count()
        .get_result(&mut conn)
        .await
        .unwrap();
    assert_eq!(seen, 5, "one record per distinct event id");
    // One confirmation email per booking, however many deliveries.
    let emails: i64 = outbox::table
        .filter(outbox::kind.eq("email"))
        .count()
        .get_result(&mut conn)
        .await
        .unwrap();
    assert_eq!(emails, 3);
}

/// A booking's rows: its seats as written on it, its seat rows and its payments.
#[derive(diesel::QueryableByName)]
struct Written {
    #[diesel(sql_type = diesel::sql_types::Uuid)]
    id: uuid::Uuid,
    #[diesel(sql_type = diesel::sql_types::Text)]
    status: String,
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    seats: i64,
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    seat_rows: i64,
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    payments: i64,
}

async fn written(app: &TestApp) -> Vec<Written> {
    diesel::sql_query(
        "SELECT b.id, b.status::text AS status, cardinality(b.seat_numbers)::bigint AS seats,
            (SELECT count(*) FROM booking_seats s WHERE s.booking_id = b.id) AS seat_rows,
            (SELECT count(*) FROM payments p WHERE p.booking_id = b.id) AS payments
         FROM bookings b",
    )
    .load(&mut app.conn().await)
    .await
    .unwrap()
}

#[tokio::test]
async fn a_node_killed_mid_checkout_loses_nothing_and_the_survivor_finishes_its_work() {
    // The survivor runs in-process on a clock the test moves; the test plays Stripe.
    let (builder, clock) = TestApp::clocked();
    let survivor = builder
        .env("SIMULATED_PAYMENT_DELAY_MS", "600000")
        .env("OUTBOX_POLL_MS", "50")
        .build()
        .await;
    let env = [
        ("SIMULATED_PAYMENT_DELAY_MS", "600000"),
        ("RATE_LIMIT_BOOKING", "off"),
    ];
    let mut doomed = Node::start(&survivor, &env).await;
    let showtime = {
        let mut conn = survivor.conn().await;
        fx::one_row_showtime(&mut conn, 30, &[], survivor.app.now() + Duration::days(1)).await
    };
    let mut users = Vec::new();
    for _ in 0..30 {
        users.push(survivor.with_user(Role::Customer).await);
    }

    // Thirty checkouts on the doomed node at once; it dies while they run.
    let client = reqwest::Client::new();
    let checkouts: Vec<_> = users
        .iter()
        .enumerate()
        .map(|(i, user)| {
            let (client, url, token) = (client.clone(), doomed.url("/graphql"), user.token.clone());
            let seat = format!("A{}", i + 1);
            tokio::spawn(async move {
                let gql = |query: String, variables: serde_json::Value| {
                    client
                        .post(&url)
                        .bearer_auth(&token)
                        .json(&json!({"query": query, "variables": variables}))
                        .send()
                };
                let held: serde_json::Value = gql(
                    flow::LOCK.to_owned(),
                    json!({"s": showtime.to_string(), "seats": [seat]}),
                )
                .await?
                .json()
                .await?;
                let lock = held["data"]["lockSeats"]["lockToken"].clone();
                gql(
                    flow::create_booking_query(),
                    json!({"s": showtime.to_string(), "seats": [seat], "t": lock, "snacks": []}),
                )
                .await?
                .json::<serde_json::Value>()
                .await
            })
        })
        .collect();
    flow::eventually("some bookings written", || async {
        written(&survivor).await.len() >= 3
    })
    .await;
    doomed.kill();
    let answers = futures_util::future::join_all(checkouts).await;
    let cut_off = answers
        .iter()
        .filter(|a| a.as_ref().unwrap().is_err())
        .count();

    // Nothing half-written: a booking exists with all its seat rows and its payment,
    // or not at all.
    let bookings = written(&survivor).await;
    assert!(!bookings.is_empty());
    for b in &bookings {
        assert_eq!((b.seat_rows, b.payments), (b.seats, 1), "booking {}", b.id);
    }

    // Stripe's webhooks for every intent: the dead node refuses the connection, so
    // they are retried against the survivor, which confirms every booking.
    let secret = survivor.app.config.payments.webhook_secret.expose_secret();
    // A COMMIT the dead node sent just before it died may still land: Stripe would
    // send that booking's webhook too, so the list is read until it stops growing.
    let mut paid = std::collections::HashSet::new();
    let mut bookings = bookings;
    loop {
        let unpaid: Vec<_> = bookings.iter().filter(|b| !paid.contains(&b.id)).collect();
        if unpaid.is_empty() {
            break;
        }
        for b in unpaid {
            paid.insert(b.id);
            let intent = format!("pi_sim_{}", b.id.simple());
            let body = event(
                &format!("evt_{}", b.id.simple()),
                "payment_intent.succeeded",
                intent_object(&survivor, &intent, &b.id.to_string()).await,
            );
            let signature = flow::stripe_signature(secret, survivor.app.now().timestamp(), &body);
            let to_dead = client
                .post(doomed.url("/api/payments/webhook"))
                .header("Stripe-Signature", &signature)
                .body(body.clone())
                .send()
                .await;
            assert!(to_dead.is_err(), "the killed node is gone");
            assert_eq!(send_event(&survivor, &body).await, 200);
        }
        bookings = written(&survivor).await;
    }
    for b in &bookings {
        assert_eq!((b.seat_rows, b.payments), (b.seats, 1), "booking {}", b.id);
        assert_eq!(b.status, "confirmed", "booking {}", b.id);
    }

    // What the dead node had committed but not delivered (or had leased and never
    // finished) is delivered by the survivor once the leases run out; the holds of
    // checkouts cut off before booking lapse.
    clock.advance(Duration::minutes(11));
    flow::eventually("the outbox drained", || async {
        let undelivered: i64 = outbox::table
            .filter(outbox::delivered_at.is_null())
            .count()
            .get_result(&mut survivor.conn().await)
            .await
            .unwrap();
        undelivered == 0
    })
    .await;
    // Redis agrees with Postgres: exactly the sold seats are taken.
    flow::eventually("only the sold seats taken", || async {
        let map = survivor
            .gql(
                "query($s: ID!) { showtime(id: $s) { availableSeats } }",
                json!({"s": showtime.to_string()}),
            )
            .await;
        map.data()["showtime"]["availableSeats"] == 30 - bookings.len() as i64
    })
    .await;

    // The node comes back on its old address and serves again.
    let addr = doomed.addr;
    drop(doomed);
    let back = Node::start_on(&survivor, addr, &env).await;
    let ready = client.get(back.url("/health/ready")).send().await.unwrap();
    assert_eq!(ready.status(), 200);
    eprintln!(
        "{} bookings written by the killed node, {cut_off} of 30 checkouts cut off",
        bookings.len()
    );
}

/// Runs one statement on the maintenance database, beside the test's own.
async fn maintenance(app: &TestApp, sql: &str) {
    use diesel_async::AsyncConnection;
    let url = app.app.config.database.url.expose_secret();
    let (server, _) = url.rsplit_once('/').unwrap();
    let mut conn = diesel_async::AsyncPgConnection::establish(&format!("{server}/postgres"))
        .await
        .unwrap();
    diesel::sql_query(sql).execute(&mut conn).await.unwrap();
}

#[tokio::test]
async fn a_postgres_outage_is_reported_fails_cleanly_and_heals_without_a_restart() {
    let app = TestApp::new().await;
    let theaters = "{ theaters { name } }";
    app.gql(theaters, json!({})).await.data();
    let db = app
        .app
        .config
        .database
        .url
        .expose_secret()
        .rsplit_once('/')
        .unwrap()
        .1
        .split('?')
        .next()
        .unwrap()
        .to_owned();

    // Postgres goes away for this node: no new connections, the open ones cut.
    maintenance(
        &app,
        &format!("ALTER DATABASE \"{db}\" ALLOW_CONNECTIONS false"),
    )
    .await;
    maintenance(
        &app,
        &format!(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
             WHERE datname = '{db}' AND pid <> pg_backend_pid()"
        ),
    )
    .await;
    flow::eventually("readiness reports postgres down", || async {
        let ready = app.get("/health/ready").await;
        ready.status() == 503
            && ready.json::<serde_json::Value>().await.unwrap()["down"] == json!(["postgres"])
    })
    .await;
    // `gql` checks that every error has a code and leaks nothing.
    let failed = app.gql(theaters, json!({})).await;
    assert_eq!(failed.code(), "UNAVAILABLE", "{}", failed.body);
    assert_eq!(failed.status, 503);

    // Back: the same process serves again, without a restart.
    maintenance(
        &app,
        &format!("ALTER DATABASE \"{db}\" ALLOW_CONNECTIONS true"),
    )
    .await;
    flow::eventually("ready again", || async {
        app.get("/health/ready").await.status() == 200
    })
    .await;
    flow::eventually("queries answer again", || async {
        app.gql(theaters, json!({}))
            .await
            .body
            .get("errors")
            .is_none()
    })
    .await;
}

/// A real restart: a Postgres cluster of the test's own is stopped (`pg_ctl stop -m
/// fast`, open connections cut) and started again on the same port, under a running
/// server that was never told.
#[tokio::test]
async fn a_postgres_restart_is_reported_fails_cleanly_and_heals_without_a_restart() {
    let postgres = PostgresServer::start().await;
    screema::db::run_migrations(&postgres.url()).await.unwrap();
    let app = TestApp::builder()
        .without_database()
        .env("DATABASE_URL", &postgres.url())
        .build()
        .await;
    let theaters = "{ theaters { name } }";
    app.gql(theaters, json!({})).await.data();
    let user = app.with_user(Role::Customer).await;

    postgres.stop().await;
    flow::eventually("readiness reports postgres down", || async {
        let ready = app.get("/health/ready").await;
        ready.status() == 503
            && ready.json::<serde_json::Value>().await.unwrap()["down"] == json!(["postgres"])
    })
    .await;
    // `gql` checks that every error has a code and leaks nothing.
    for query in [theaters, "{ me { email } }"] {
        let failed = app.gql_as(&user.token, query, json!({})).await;
        assert_eq!(failed.code(), "UNAVAILABLE", "{}", failed.body);
        assert_eq!(failed.status, 503);
    }

    postgres.start_again().await;
    flow::eventually("ready again", || async {
        app.get("/health/ready").await.status() == 200
    })
    .await;
    flow::eventually("queries answer again", || async {
        app.gql_as(&user.token, "{ me { email } }", json!({}))
            .await
            .body
            .get("errors")
            .is_none()
    })
    .await;
    app.gql(theaters, json!({})).await.data();
}

/// A live seat map as a subscriber keeps it: snapshots replace it, changes patch it.
struct LiveMap {
    ws: common::ws::WsClient,
    seats: std::collections::BTreeMap<String, String>,
    snapshots: usize,
}

impl LiveMap {
    async fn open(addr: std::net::SocketAddr, showtime: uuid::Uuid) -> Self {
        let mut ws = common::ws::WsClient::connect(addr, false, None).await;
        ws.subscribe(
            "m",
            "subscription($s: ID!) { seatMap(showtimeId: $s) { changes { number state }
                snapshot { rows { seats { number state } } } } }",
            json!({"s": showtime.to_string()}),
        )
        .await;
        let mut map = Self {
            ws,
            seats: Default::default(),
            snapshots: 0,
        };
        let first = map.ws.next_data().await;
        map.apply(&first["seatMap"]);
        map
    }

    fn apply(&mut self, event: &serde_json::Value) {
        if let Some(rows) = event["snapshot"]["rows"].as_array() {
            self.snapshots += 1;
            self.seats.clear();
            for seat in rows.iter().flat_map(|r| r["seats"].as_array().unwrap()) {
                let number = seat["number"].as_str().unwrap().to_owned();
                self.seats
                    .insert(number, seat["state"].as_str().unwrap().to_owned());
            }
        }
        for change in event["changes"].as_array().into_iter().flatten() {
            let number = change["number"].as_str().unwrap().to_owned();
            self.seats
                .insert(number, change["state"].as_str().unwrap().to_owned());
        }
    }

    /// Applies whatever arrives until nothing has for a while.
    async fn settle(&mut self) {
        while let Some(message) = self.ws.maybe_next(500).await {
            self.apply(&message["payload"]["data"]["seatMap"]);
        }
    }
}

async fn sold_seats(app: &TestApp) -> Vec<String> {
    use screema::db::enums::BookingStatus;
    use screema::db::schema::booking_seats;
    booking_seats::table
        .filter(booking_seats::status.eq_any([
            BookingStatus::Pending,
            BookingStatus::Confirmed,
            BookingStatus::Used,
        ]))
        .select(booking_seats::seat_number)
        .order(booking_seats::seat_number)
        .load(&mut app.conn().await)
        .await
        .unwrap()
}

/// Each buyer wants two seats next to each other, the first of them in `firsts`,
/// through either node, and books what it gets: which seats it asked for, and whether
/// it got them.
async fn wave(
    nodes: [&TestApp; 2],
    buyers: &[TestUser],
    showtime: uuid::Uuid,
    firsts: std::ops::RangeInclusive<u32>,
) -> Vec<(String, bool)> {
    futures_util::future::join_all(buyers.iter().enumerate().map(|(i, buyer)| {
        let node = nodes[i % 2];
        let first = rand::random_range(firsts.clone());
        let seats = [format!("A{first}"), format!("A{}", first + 1)];
        async move {
            let seats: Vec<&str> = seats.iter().map(String::as_str).collect();
            let held = node
                .gql_as(
                    &buyer.token,
                    flow::LOCK,
                    json!({"s": showtime.to_string(), "seats": seats}),
                )
                .await;
            let Some(token) = held.body["data"]["lockSeats"]["lockToken"].as_str() else {
                assert_eq!(held.code(), "SEATS_UNAVAILABLE");
                return (seats.join(","), false);
            };
            flow::create_booking(node, buyer, showtime, &seats, token, json!([]))
                .await
                .data();
            (seats.join(","), true)
        }
    }))
    .await
}

/// A sale of one 20-seat row on two nodes, watched by a live map on each.
struct Sale {
    showtime: uuid::Uuid,
    maps: Vec<LiveMap>,
    buyers: Vec<TestUser>,
}

impl Sale {
    async fn open(app: &TestApp, other: &TestApp) -> Self {
        let showtime = {
            let mut conn = app.conn().await;
            fx::one_row_showtime(&mut conn, 20, &[], app.app.now() + Duration::days(1)).await
        };
        let maps = vec![
            LiveMap::open(app.addr, showtime).await,
            LiveMap::open(other.addr, showtime).await,
        ];
        let mut buyers = Vec::new();
        for _ in 0..40 {
            buyers.push(app.with_user(Role::Customer).await);
        }
        Self {
            showtime,
            maps,
            buyers,
        }
    }

    /// The first wave of buyers, on A1 to A10; the seats sold by it.
    async fn first_wave(&self, nodes: [&TestApp; 2]) -> Vec<String> {
        wave(nodes, &self.buyers[..20], self.showtime, 1..=9).await;
        sold_seats(nodes[0]).await
    }

    /// The second wave, after Redis lost everything: a seat sold before the loss is
    /// still refused, no seat is sold twice, and every live map resynchronised from a
    /// fresh snapshot and ends where the API and Postgres are.
    async fn second_wave(&mut self, nodes: [&TestApp; 2], sold_before: &[String]) {
        let results = wave(nodes, &self.buyers[20..], self.showtime, 1..=19).await;
        assert!(
            results.iter().any(|(_, won)| *won),
            "holds after the loss succeed (A11 to A20 were all free)"
        );
        for (seats, won) in results {
            if seats.split(',').any(|s| sold_before.iter().any(|b| b == s)) {
                assert!(!won, "{seats} includes a seat sold before Redis lost it");
            }
        }

        let sold = sold_seats(nodes[0]).await;
        let mut unique = sold.clone();
        unique.dedup();
        assert_eq!(sold, unique, "no seat sold twice");
        assert!(sold.len() >= sold_before.len());

        let truth: std::collections::BTreeMap<String, String> =
            flow::seat_states(nodes[1], self.showtime)
                .await
                .into_iter()
                .collect();
        for (seat, state) in &truth {
            assert_eq!(
                state == "BOOKED",
                sold.contains(seat),
                "{seat} is {state} in the API"
            );
        }
        for map in &mut self.maps {
            map.settle().await;
            assert!(map.snapshots >= 2, "a fresh snapshot after the loss");
            assert_eq!(map.seats, truth);
        }
    }
}

#[tokio::test]
async fn redis_losing_everything_mid_sale_sells_no_seat_twice_and_maps_converge() {
    let app = TestApp::new().await;
    let other = app.another_node().build().await;
    let mut sale = Sale::open(&app, &other).await;
    let sold_before = sale.first_wave([&app, &other]).await;

    // Redis loses everything of this deployment between two waves of buyers.
    app.lose_redis_data().await;

    sale.second_wave([&app, &other], &sold_before).await;
}

/// The same sale on a Redis of the test's own that crashes (SIGKILL) between the
/// waves and comes back empty on the same port: both nodes reconnect, report ready
/// again, and the second wave behaves as after a flush.
#[tokio::test]
async fn a_redis_restart_mid_sale_sells_no_seat_twice_and_maps_converge() {
    let mut redis = RedisServer::start().await;
    let app = TestApp::builder()
        .env("REDIS_URL", &redis.url())
        .build()
        .await;
    let other = app
        .another_node()
        .env("REDIS_URL", &redis.url())
        .build()
        .await;
    let mut sale = Sale::open(&app, &other).await;
    let sold_before = sale.first_wave([&app, &other]).await;

    redis.restart().await;
    for node in [&app, &other] {
        flow::eventually("the node ready again", || async {
            let ready = node.client.get(node.url("/health/ready")).send().await;
            ready.is_ok_and(|r| r.status() == 200)
        })
        .await;
    }

    sale.second_wave([&app, &other], &sold_before).await;
}

/// An answer that says only "a service is away": UNAVAILABLE with a retry hint in the
/// body, and HTTP 503 with `Retry-After` for whatever sits between client and server.
async fn assert_unavailable(
    app: &TestApp,
    token: Option<&str>,
    query: &str,
    vars: serde_json::Value,
) {
    let mut request = app.client.post(app.url("/graphql"));
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    let response = request
        .json(&json!({"query": query, "variables": vars}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 503, "{query}");
    assert_eq!(response.headers()["retry-after"], "3");
    let body: serde_json::Value = response.json().await.unwrap();
    app.assert_no_leak(&body.to_string());
    let errors = body["errors"].as_array().unwrap();
    assert!(!errors.is_empty(), "{body:#}");
    for error in errors {
        assert_eq!(error["extensions"]["code"], "UNAVAILABLE", "{body:#}");
        assert_eq!(error["extensions"]["retryAfterSeconds"], 3, "{body:#}");
        assert!(
            error["message"].as_str().unwrap().contains("retry"),
            "{body:#}"
        );
    }
}

#[tokio::test]
async fn with_postgres_away_queries_and_mutations_are_unavailable_with_503() {
    // A pool pointed at a port where nothing listens: every connection is refused.
    let app = TestApp::builder().without_database().build().await;
    assert_unavailable(&app, None, "{ theaters { name } }", json!({})).await;
    assert_unavailable(
        &app,
        None,
        "{ movies(limit: 5) { movies { title } pagination { total } } }",
        json!({}),
    )
    .await;
    assert_unavailable(
        &app,
        None,
        "mutation($i: LoginInput!) { login(input: $i) { accessToken } }",
        json!({"i": {"email": "someone@example.com", "password": "a-password-1"}}),
    )
    .await;
    // `gql` checks the codes and that nothing leaks; a validation error is still the
    // client's to fix, with its own code and status.
    let bad = app.gql("{ theaters { nope } }", json!({})).await;
    assert_eq!(bad.code(), "BAD_USER_INPUT");
    assert_eq!(bad.status, 200);
}

#[tokio::test]
async fn with_redis_away_holds_are_unavailable_with_503_and_what_postgres_answers_still_answers() {
    let app = TestApp::builder()
        .env("REDIS_URL", "redis://127.0.0.1:1")
        .build()
        .await;
    let user = app.with_user(Role::Customer).await;
    let showtime = {
        let mut conn = app.conn().await;
        fx::one_row_showtime(&mut conn, 10, &[], app.app.now() + Duration::days(1)).await
    };
    let lock = "mutation($s: ID!, $seats: [String!]!) { lockSeats(input: {showtimeId: $s, seatNumbers: $seats}) { lockToken } }";
    assert_unavailable(
        &app,
        Some(&user.token),
        lock,
        json!({"s": showtime.to_string(), "seats": ["A1"]}),
    )
    .await;
    // Postgres alone answers the catalog.
    let r = app.gql("{ theaters { name } }", json!({})).await;
    assert_eq!(r.status, 200);
    r.data();
}

#[tokio::test]
async fn with_postgres_away_a_webhook_is_refused_with_503_for_stripe_to_retry() {
    let app = TestApp::builder().without_database().build().await;
    let body = event(
        "evt_away",
        "payment_intent.succeeded",
        json!({"id": "pi_away", "metadata": {"booking_id": uuid::Uuid::new_v4().to_string()}}),
    );
    assert_eq!(send_event(&app, &body).await, 503);
}
