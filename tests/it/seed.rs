//! `screema seed`: demo data worth browsing, idempotent, no demo users in production.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::common;

use std::collections::{BTreeSet, HashMap};

use common::TestApp;
use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use screema::config::AppEnv;
use screema::db::enums::Role;
use screema::db::schema::users;
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
    assert!(first.contains("3 users added"), "{first}");
    let second = String::from_utf8(run().stdout).unwrap();
    assert!(
        second.contains("0 showtimes and 0 users added"),
        "not idempotent: {second}"
    );

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
}
