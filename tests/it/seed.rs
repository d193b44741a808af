//! `screema seed`: demo data worth browsing, idempotent, no demo users in production.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::common;

use std::collections::{BTreeSet, HashMap};

use common::TestApp;
use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use screema::config::AppEnv;
use screema::db::enums::Role;
use screema::db::schema::{showtimes, users, vouchers};
use secrecy::ExposeSecret;
use serde_json::json;

#[tokio::test]
async fn the_seed_command_fills_a_browsable_catalog_once() {
    let app = TestApp::new().await;
    // Through the binary, as the README's first command runs it.
    let run = || {
        std::process::Command::new(env!("CARGO_BIN_EXE_screema"))
            .arg("seed")
            .env("DATABASE_URL", app.app.config.database.url.expose_secret())
            .env("REDIS_URL", app.app.config.redis.url.expose_secret())
            .env("REDIS_KEY_PREFIX", &app.prefix)
            .env("RUST_LOG", "warn")
            .output()
            .unwrap()
    };
    let first = run();
    assert!(
        first.status.success(),
        "{}",
        String::from_utf8_lossy(&first.stderr)
    );
    let first = String::from_utf8(first.stdout).unwrap();
    assert!(first.contains("1 vouchers and 3 users added"), "{first}");
    let second = String::from_utf8(run().stdout).unwrap();
    assert!(
        second.contains("0 showtimes, 0 vouchers and 0 users added"),
        "not idempotent: {second}"
    );
    // A machine seeded before ticket types: its demo showtimes still sell ADULT only
    // (the column's default) and get the demo's prices; one an admin priced keeps its own.
    let adult_only = json!([{"ticketType": "ADULT", "percentOfSeatPrice": "100"}]);
    let admins = json!([{"ticketType": "ADULT", "percentOfSeatPrice": "90"}]);
    let ids: Vec<uuid::Uuid> = showtimes::table
        .select(showtimes::id)
        .order(showtimes::id)
        .limit(2)
        .load(&mut app.conn().await)
        .await
        .unwrap();
    for (id, prices) in ids.iter().zip([&adult_only, &admins]) {
        diesel::update(showtimes::table.find(id))
            .set(showtimes::ticket_prices.eq(prices))
            .execute(&mut app.conn().await)
            .await
            .unwrap();
    }
    let third = String::from_utf8(run().stdout).unwrap();
    assert!(third.contains("0 showtimes, 0 vouchers"), "{third}");
    let after: Vec<serde_json::Value> = showtimes::table
        .filter(showtimes::id.eq_any(&ids))
        .order(showtimes::id)
        .select(showtimes::ticket_prices)
        .load(&mut app.conn().await)
        .await
        .unwrap();
    assert_eq!(after[0].as_array().unwrap().len(), 4, "{}", after[0]);
    assert_eq!(after[1], admins);
    diesel::update(showtimes::table.find(ids[1]))
        .set(showtimes::ticket_prices.eq(&after[0]))
        .execute(&mut app.conn().await)
        .await
        .unwrap();

    // Separate queries: together they would exceed the complexity limit, as they should.
    let mut d = app
        .gql("{ theaters { name location timezone screens { totalSeats } } snacks { category price { amount } available } }", json!({}))
        .await
        .data()
        .clone();
    d["movies"] = app
        .gql(
            "{ movies(limit: 30) { movies { title status genres cast director rating posterUrl
                   ageRating { system code minAge }
                   showtimes { startTime endTime screen { id } basePrice { amount }
                               ticketPrices { ticketType percentOfSeatPrice } } } pagination { total } } }",
            json!({}),
        )
        .await
        .data()["movies"]
        .clone();
    let theaters = d["theaters"].as_array().unwrap();
    assert!(theaters.len() >= 3);
    let cities: BTreeSet<&str> = theaters
        .iter()
        .map(|t| t["timezone"].as_str().unwrap())
        .collect();
    assert!(
        cities.len() >= 3,
        "theaters in different cities: {cities:?}"
    );
    let screens: Vec<i64> = theaters
        .iter()
        .flat_map(|t| t["screens"].as_array().unwrap())
        .map(|s| s["totalSeats"].as_i64().unwrap())
        .collect();
    assert!(screens.len() >= 8);
    assert!(
        screens.iter().all(|n| (80..=300).contains(n)),
        "{screens:?}"
    );

    let movies = d["movies"]["movies"].as_array().unwrap();
    assert!(d["movies"]["pagination"]["total"].as_i64().unwrap() >= 20);
    let statuses: BTreeSet<&str> = movies
        .iter()
        .map(|m| m["status"].as_str().unwrap())
        .collect();
    assert_eq!(
        statuses,
        BTreeSet::from(["ENDED", "NOW_SHOWING", "UPCOMING"])
    );
    // A film on now whose rating refuses CHILD tickets, for the demo.
    assert!(
        movies.iter().any(
            |m| m["status"] == "NOW_SHOWING" && m["ageRating"]["minAge"].as_i64().unwrap() > 11
        )
    );
    for m in movies {
        assert!(
            !m["genres"].as_array().unwrap().is_empty()
                && !m["cast"].as_array().unwrap().is_empty()
        );
        assert!(m["director"].is_string() && m["rating"].is_string() && m["posterUrl"].is_string());
        assert_eq!(m["ageRating"]["code"], m["rating"], "{}", m["title"]);
        if m["status"] != "NOW_SHOWING" {
            assert!(
                m["showtimes"].as_array().unwrap().is_empty(),
                "{} is not showing",
                m["title"]
            );
        }
    }

    // Showtimes for the next 14 days, never overlapping on a screen.
    let mut by_screen: HashMap<String, Vec<(String, String)>> = HashMap::new();
    let mut days = BTreeSet::new();
    for m in movies {
        for s in m["showtimes"].as_array().unwrap() {
            let start = s["startTime"].as_str().unwrap().to_owned();
            days.insert(start[..10].to_owned());
            by_screen
                .entry(s["screen"]["id"].as_str().unwrap().to_owned())
                .or_default()
                .push((start, s["endTime"].as_str().unwrap().to_owned()));
            assert!(
                ["9.50", "11.50", "13.50", "15.50"]
                    .contains(&s["basePrice"]["amount"].as_str().unwrap())
            );
            let types: Vec<&str> = s["ticketPrices"]
                .as_array()
                .unwrap()
                .iter()
                .map(|p| p["ticketType"].as_str().unwrap())
                .collect();
            assert_eq!(types, ["ADULT", "CHILD", "SENIOR", "STUDENT"]);
        }
    }
    assert!(days.len() >= 13, "showtimes on {} days", days.len());
    for (screen, mut shows) in by_screen {
        shows.sort();
        for pair in shows.windows(2) {
            assert!(
                pair[0].1 <= pair[1].0,
                "overlap on screen {screen}: {pair:?}"
            );
        }
    }

    let snacks = d["snacks"].as_array().unwrap();
    let categories: BTreeSet<&str> = snacks
        .iter()
        .map(|s| s["category"].as_str().unwrap())
        .collect();
    assert!(categories.len() >= 4, "{categories:?}");

    let mut conn = app.conn().await;
    let roles: Vec<(String, Role)> = users::table
        .select((users::email, users::role))
        .order(users::email)
        .load(&mut conn)
        .await
        .unwrap();
    assert_eq!(
        roles,
        [
            ("admin@screema.local".to_owned(), Role::Admin),
            ("customer@screema.local".to_owned(), Role::Customer),
            ("operator@screema.local".to_owned(), Role::Operator)
        ]
    );
    let hash: String = users::table
        .filter(users::email.eq("customer@screema.local"))
        .select(users::password_hash)
        .first(&mut conn)
        .await
        .unwrap();
    assert!(screema::auth::password::verify(
        screema::seed::DEMO_PASSWORD,
        &hash
    ));
}

#[tokio::test]
async fn production_gets_the_catalog_but_no_demo_users() {
    let app = TestApp::new().await;
    let mut conn = app.conn().await;
    let report = screema::seed::run(
        &mut conn,
        AppEnv::Production,
        chrono::Utc::now().date_naive(),
        app.app.config.catalog.cleaning_gap,
        app.app.config.currency,
    )
    .await
    .unwrap();
    assert!(report.users_skipped_in_production);
    assert!(report.showtimes_added > 0);
    let count: i64 = users::table.count().get_result(&mut conn).await.unwrap();
    assert_eq!(count, 0);
    // Nor a discount code everyone can read in the README.
    assert_eq!(report.vouchers_added, 0);
    let count: i64 = vouchers::table.count().get_result(&mut conn).await.unwrap();
    assert_eq!(count, 0);
}

async fn sign_in(app: &TestApp, email: &str) -> String {
    let r = app
        .gql(
            "mutation($e: String!, $p: String!) { login(input: {email: $e, password: $p}) { accessToken } }",
            json!({"e": email, "p": screema::seed::DEMO_PASSWORD}),
        )
        .await;
    r.data()["login"]["accessToken"]
        .as_str()
        .unwrap()
        .to_owned()
}

#[tokio::test]
async fn the_demo_voucher_is_seeded_once_and_takes_ten_percent_off_a_demo_customers_tickets() {
    let app = TestApp::new().await;
    let seed = || async {
        screema::seed::run(
            &mut *app.conn().await,
            AppEnv::Development,
            chrono::Utc::now().date_naive(),
            app.app.config.catalog.cleaning_gap,
            app.app.config.currency,
        )
        .await
        .unwrap()
    };
    assert_eq!(seed().await.vouchers_added, 1);
    let again = seed().await;
    assert_eq!(again.vouchers_added, 0, "not idempotent: {again}");

    // As an admin sees it in GraphiQL.
    let admin = sign_in(&app, "admin@screema.local").await;
    let list = "{ vouchers { code kind value amount { amount } movieIds theaterIds ticketTypes \
                validFrom validUntil totalUses usesPerCustomer uses remainingUses } }";
    let r = app.gql_as(&admin, list, json!({})).await;
    assert_eq!(
        r.data()["vouchers"],
        json!([{"code": "WELCOME10", "kind": "PERCENT_OFF", "value": "10", "amount": null,
                "movieIds": [], "theaterIds": [], "ticketTypes": [], "validFrom": null,
                "validUntil": null, "totalUses": null, "usesPerCustomer": 20, "uses": 0,
                "remainingUses": null}])
    );

    // The demo customer books a standard seat of tomorrow's first showtime with it.
    let showtime: uuid::Uuid = showtimes::table
        .filter(showtimes::start_time.gt(chrono::Utc::now() + chrono::Duration::days(1)))
        .order((showtimes::start_time, showtimes::id))
        .select(showtimes::id)
        .first(&mut app.conn().await)
        .await
        .unwrap();
    let map = app
        .gql(
            "query($s: ID!) { showtime(id: $s) { seatMap { rows { seats { number kind state price { amount } } } } } }",
            json!({"s": showtime.to_string()}),
        )
        .await;
    let seat = map.data()["showtime"]["seatMap"]["rows"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|row| row["seats"].as_array().unwrap())
        .find(|s| s["kind"] == "STANDARD" && s["state"] == "AVAILABLE")
        .unwrap()
        .clone();
    let number = seat["number"].as_str().unwrap();
    let price: rust_decimal::Decimal = seat["price"]["amount"].as_str().unwrap().parse().unwrap();
    let customer = sign_in(&app, "customer@screema.local").await;
    let lock = app
        .gql_as(
            &customer,
            common::flow::LOCK,
            json!({"s": showtime.to_string(), "seats": [number]}),
        )
        .await;
    let token = lock.data()["lockSeats"]["lockToken"].clone();
    let r = app
        .gql_as(
            &customer,
            "mutation($i: CreateBookingInput!) { createBooking(input: $i) { booking { voucherCode \
             totalAmount { amount } voucherDiscount { amount } loyaltyDiscount { amount } \
             finalAmount { amount } } } }",
            json!({"i": {"showtimeId": showtime.to_string(), "lockToken": token,
                         "seatNumbers": [number], "voucherCode": "welcome10"}}),
        )
        .await;
    let off = (price / rust_decimal::Decimal::TEN).round_dp(2);
    assert!(off > rust_decimal::Decimal::ZERO);
    assert_eq!(
        r.data()["createBooking"]["booking"],
        json!({"voucherCode": "WELCOME10", "totalAmount": {"amount": format!("{price:.2}")},
               "voucherDiscount": {"amount": format!("{off:.2}")},
               "loyaltyDiscount": {"amount": "0.00"},
               "finalAmount": {"amount": format!("{:.2}", price - off)}})
    );
    let r = app.gql_as(&admin, "{ vouchers { uses } }", json!({})).await;
    assert_eq!(r.data()["vouchers"][0]["uses"], 1);
}

/// `scripts/dev.sh` seeds on every start: on the next day, and on a database where an
/// admin scheduled showings of their own, it must still run (it failed on the overlap
/// constraint when a date's programme depended on the day the seed ran).
#[tokio::test]
async fn seeding_again_the_next_day_around_an_admins_showing_works() {
    use diesel::prelude::*;
    use diesel_async::RunQueryDsl;
    use screema::db::schema::showtimes;
    let app = TestApp::new().await;
    let app = &app;
    let seed = |today: chrono::NaiveDate| async move {
        screema::seed::run(
            &mut *app.conn().await,
            AppEnv::Development,
            today,
            app.app.config.catalog.cleaning_gap,
            app.app.config.currency,
        )
        .await
    };
    let today = chrono::Utc::now().date_naive();
    let first = seed(today).await.unwrap();
    assert!(first.showtimes_added > 0);

    // An admin's showing on a seeded screen, on the day the next seed adds.
    let days = screema::seed::SCHEDULE_DAYS;
    let taken = (today + chrono::Duration::days(days))
        .and_hms_opt(14, 0, 0)
        .unwrap()
        .and_utc();
    let (screen, movie): (uuid::Uuid, uuid::Uuid) = showtimes::table
        .select((showtimes::screen_id, showtimes::movie_id))
        .first(&mut app.conn().await)
        .await
        .unwrap();
    diesel::insert_into(showtimes::table)
        .values((
            showtimes::movie_id.eq(movie),
            showtimes::screen_id.eq(screen),
            showtimes::start_time.eq(taken),
            showtimes::end_time.eq(taken + chrono::Duration::hours(24)),
            showtimes::base_price.eq(rust_decimal::Decimal::new(1000, 2)),
        ))
        .execute(&mut app.conn().await)
        .await
        .unwrap();

    let next = seed(today + chrono::Duration::days(1)).await.unwrap();
    assert!(next.showtimes_added > 0, "the new day is seeded: {next}");
    let overlapping: i64 = showtimes::table
        .filter(showtimes::screen_id.eq(screen))
        .filter(showtimes::start_time.lt(taken + chrono::Duration::hours(24)))
        .filter(showtimes::end_time.gt(taken))
        .count()
        .get_result(&mut app.conn().await)
        .await
        .unwrap();
    assert_eq!(overlapping, 1, "only the admin's showing in its hours");
}
