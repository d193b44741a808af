//! Browsing the catalog through GraphQL: movies, showtimes, theaters, snacks.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::common;

use chrono::{DateTime, Duration, NaiveDate, TimeZone, Utc};
use common::TestApp;
use common::fixtures::{self as fx, MovieSpec};
use screema::db::enums::MovieStatus;
use serde_json::json;

fn tomorrow_at(hour: u32) -> DateTime<Utc> {
    let day = (Utc::now() + Duration::days(1)).date_naive();
    Utc.from_utc_datetime(&day.and_hms_opt(hour, 0, 0).unwrap())
}

#[tokio::test]
async fn movies_are_listed_filtered_searched_and_paged() {
    let app = TestApp::new().await;
    let mut conn = app.conn().await;
    let d = |s: &str| Some(NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap());
    fx::movie(
        &mut conn,
        MovieSpec {
            title: "Old Glory",
            status: MovieStatus::Ended,
            genres: &["Drama"],
            release: d("2020-01-01"),
            ..Default::default()
        },
    )
    .await;
    fx::movie(
        &mut conn,
        MovieSpec {
            title: "Space Opera",
            status: MovieStatus::NowShowing,
            genres: &["Sci-Fi", "Drama"],
            cast: &["Zed Zebra"],
            release: d("2026-10-01"),
            ..Default::default()
        },
    )
    .await;
    fx::movie(
        &mut conn,
        MovieSpec {
            title: "Newer Now",
            status: MovieStatus::NowShowing,
            genres: &["Comedy"],
            director: "Quentin Query",
            release: d("2026-11-01"),
            ..Default::default()
        },
    )
    .await;
    fx::movie(
        &mut conn,
        MovieSpec {
            title: "Coming Later",
            status: MovieStatus::Upcoming,
            genres: &["Horror"],
            release: d("2027-06-01"),
            ..Default::default()
        },
    )
    .await;
    fx::movie(
        &mut conn,
        MovieSpec {
            title: "Coming Soon",
            status: MovieStatus::Upcoming,
            genres: &["Horror"],
            release: d("2027-01-01"),
            ..Default::default()
        },
    )
    .await;
    fx::movie(
        &mut conn,
        MovieSpec {
            title: "100% Fun_",
            status: MovieStatus::Ended,
            genres: &["Comedy"],
            release: d("2019-01-01"),
            ..Default::default()
        },
    )
    .await;
    drop(conn);

    let titles = |r: &common::Gql| -> Vec<String> {
        r.data()["movies"]["movies"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["title"].as_str().unwrap().to_owned())
            .collect()
    };
    let q =
        "query($status: MovieStatus, $genre: String, $search: String, $page: Int, $limit: Int) {
        movies(status: $status, genre: $genre, search: $search, page: $page, limit: $limit) {
          movies { title status genres } pagination { page limit total totalPages } } }";

    // Now showing first (newest first), then upcoming (soonest first), then ended.
    let all = app.gql(q, json!({})).await;
    assert_eq!(
        titles(&all),
        [
            "Newer Now",
            "Space Opera",
            "Coming Soon",
            "Coming Later",
            "Old Glory",
            "100% Fun_"
        ]
    );
    assert_eq!(
        all.data()["movies"]["pagination"],
        json!({"page": 1, "limit": 20, "total": 6, "totalPages": 1})
    );

    let showing = app.gql(q, json!({"status": "NOW_SHOWING"})).await;
    assert_eq!(titles(&showing), ["Newer Now", "Space Opera"]);
    assert_eq!(
        showing.data()["movies"]["movies"][0]["status"],
        "NOW_SHOWING"
    );

    // Genre ignores case; search looks in title, director and cast, ignoring case.
    assert_eq!(
        titles(&app.gql(q, json!({"genre": "drama"})).await),
        ["Space Opera", "Old Glory"]
    );
    assert_eq!(
        titles(&app.gql(q, json!({"search": "QUERY"})).await),
        ["Newer Now"]
    );
    assert_eq!(
        titles(&app.gql(q, json!({"search": "zebra"})).await),
        ["Space Opera"]
    );
    assert_eq!(
        titles(
            &app.gql(q, json!({"search": "coming", "status": "UPCOMING"}))
                .await
        ),
        ["Coming Soon", "Coming Later"]
    );
    // LIKE wildcards in the search text match themselves.
    assert_eq!(
        titles(&app.gql(q, json!({"search": "0%"})).await),
        ["100% Fun_"]
    );
    assert_eq!(
        titles(&app.gql(q, json!({"search": "_"})).await),
        ["100% Fun_"]
    );
    assert!(titles(&app.gql(q, json!({"search": "no such film"})).await).is_empty());

    let page2 = app.gql(q, json!({"page": 2, "limit": 4})).await;
    assert_eq!(titles(&page2), ["Old Glory", "100% Fun_"]);
    assert_eq!(
        page2.data()["movies"]["pagination"],
        json!({"page": 2, "limit": 4, "total": 6, "totalPages": 2})
    );
    let beyond = app.gql(q, json!({"page": 9, "limit": 4})).await;
    assert!(titles(&beyond).is_empty());
    assert_eq!(beyond.data()["movies"]["pagination"]["total"], 6);
    // An explicit null is the default.
    let nulls = app.gql(q, json!({"page": null, "limit": null})).await;
    assert_eq!(
        nulls.data()["movies"]["pagination"],
        json!({"page": 1, "limit": 20, "total": 6, "totalPages": 1})
    );
}

#[tokio::test]
async fn bad_paging_and_filters_name_their_field() {
    let app = TestApp::new().await;
    let q = "query($page: Int, $limit: Int, $search: String, $genre: String) {
        movies(page: $page, limit: $limit, search: $search, genre: $genre) { pagination { total } } }";
    for (vars, field) in [
        (json!({"limit": 0}), "limit"),
        (json!({"limit": 101}), "limit"),
        (json!({"limit": -5}), "limit"),
        (json!({"page": 0}), "page"),
        (json!({"page": -1}), "page"),
        (json!({"search": "x".repeat(101)}), "search"),
        (json!({"genre": "g".repeat(101)}), "genre"),
    ] {
        let r = app.gql(q, vars.clone()).await;
        assert_eq!(r.code(), "BAD_USER_INPUT", "{vars}");
        assert_eq!(r.field(), Some(field), "{vars}");
        assert!(r.body["data"].is_null(), "no partial data for {vars}");
    }
    // Wrong types are refused by validation, still naming the field.
    let r = app
        .gql(
            "{ movies(limit: \"ten\") { pagination { total } } }",
            json!({}),
        )
        .await;
    assert_eq!(r.code(), "BAD_USER_INPUT");
    assert_eq!(r.field(), Some("limit"));
    let r = app
        .gql(
            "query($l: Int) { movies(limit: $l) { pagination { total } } }",
            json!({"l": "ten"}),
        )
        .await;
    assert_eq!(r.code(), "BAD_USER_INPUT");
    // A variable of the wrong type is reported against the argument it feeds.
    assert_eq!(r.field(), Some("limit"));
    let r = app
        .gql(
            "{ movies(status: SHOWING) { pagination { total } } }",
            json!({}),
        )
        .await;
    assert_eq!(r.code(), "BAD_USER_INPUT");
    assert_eq!(r.field(), Some("status"));
}

#[tokio::test]
async fn single_lookups_refuse_malformed_ids_and_return_null_for_missing_ones() {
    let app = TestApp::new().await;
    let mut conn = app.conn().await;
    let movie = fx::movie(
        &mut conn,
        MovieSpec {
            title: "Found",
            genres: &["Drama", "War"],
            cast: &["A", "B"],
            ..Default::default()
        },
    )
    .await;
    drop(conn);

    for (query, field) in [
        ("{ movie(id: \"nope\") { title } }", "id"),
        ("{ showtime(id: \"123\") { id } }", "id"),
        ("{ showtimes(movieId: \"x\") { id } }", "movieId"),
    ] {
        let r = app.gql(query, json!({})).await;
        assert_eq!(r.code(), "BAD_USER_INPUT", "{query}");
        assert_eq!(r.field(), Some(field), "{query}");
    }
    let r = app
        .gql(
            "query($m: ID!) { showtimes(movieId: $m, theaterId: \"bad\") { id } }",
            json!({"m": movie.to_string()}),
        )
        .await;
    assert_eq!(r.field(), Some("theaterId"));
    let r = app
        .gql(
            "query($m: ID!) { showtimes(movieId: $m, date: \"2026-13-01\") { id } }",
            json!({"m": movie.to_string()}),
        )
        .await;
    assert_eq!((r.code(), r.field()), ("BAD_USER_INPUT", Some("date")));

    let missing = uuid::Uuid::new_v4().to_string();
    let r = app
        .gql(
            "query($id: ID!) { movie(id: $id) { title } showtime(id: $id) { id } }",
            json!({"id": missing}),
        )
        .await;
    assert_eq!(r.data(), &json!({"movie": null, "showtime": null}));

    let r = app
        .gql(
            "query($id: ID!) { movie(id: $id) { id title duration genres cast director status releaseDate showtimes { id } } }",
            json!({"id": movie.to_string()}),
        )
        .await;
    assert_eq!(
        r.data()["movie"],
        json!({"id": movie.to_string(), "title": "Found", "duration": 100, "genres": ["Drama", "War"], "cast": ["A", "B"],
               "director": "Dee Rector", "status": "NOW_SHOWING", "releaseDate": null, "showtimes": []})
    );
}

#[tokio::test]
async fn showtimes_follow_the_theaters_own_day_and_start_order() {
    let app = TestApp::new().await;
    let mut conn = app.conn().await;
    let ny = fx::theater(&mut conn, "Big Apple", "America/New_York").await;
    let berlin = fx::theater(&mut conn, "Spree", "Europe/Berlin").await;
    let ny_screen = fx::screen(&mut conn, ny, 1, fx::small_layout()).await;
    let berlin_screen = fx::screen(&mut conn, berlin, 1, fx::small_layout()).await;
    let movie = fx::movie(
        &mut conn,
        MovieSpec {
            title: "Timezones",
            ..Default::default()
        },
    )
    .await;
    let other = fx::movie(
        &mut conn,
        MovieSpec {
            title: "Other",
            ..Default::default()
        },
    )
    .await;

    // A night in the future: 01:00 UTC on 2030-03-10 is still the 9th in New York
    // (20:00); 00:30 UTC is already the 10th in Berlin (01:30).
    let at = |s: &str| DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc);
    let ny_late = fx::showtime(
        &mut conn,
        movie,
        ny_screen,
        at("2030-03-10T01:00:00Z"),
        "10.00",
    )
    .await;
    let ny_evening = fx::showtime(
        &mut conn,
        movie,
        ny_screen,
        at("2030-03-09T21:30:00Z"),
        "10.00",
    )
    .await;
    let berlin_night = fx::showtime(
        &mut conn,
        movie,
        berlin_screen,
        at("2030-03-10T00:30:00Z"),
        "10.00",
    )
    .await;
    fx::showtime(
        &mut conn,
        other,
        ny_screen,
        at("2030-03-09T15:00:00Z"),
        "10.00",
    )
    .await;
    // Over already: not listed without a date.
    fx::showtime(
        &mut conn,
        movie,
        ny_screen,
        Utc::now() - Duration::hours(5),
        "10.00",
    )
    .await;
    drop(conn);

    let ids = |r: &common::Gql| -> Vec<String> {
        r.data()["showtimes"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s["id"].as_str().unwrap().to_owned())
            .collect()
    };
    let q = "query($m: ID!, $d: Date, $t: ID) { showtimes(movieId: $m, date: $d, theaterId: $t) { id startTime movie { title } screen { theater { name } } } }";
    let m = movie.to_string();

    let ninth = app.gql(q, json!({"m": m, "d": "2030-03-09"})).await;
    assert_eq!(ids(&ninth), [ny_evening.to_string(), ny_late.to_string()]);
    assert_eq!(
        ninth.data()["showtimes"][1]["startTime"],
        "2030-03-10T01:00:00Z"
    );
    assert_eq!(ninth.data()["showtimes"][0]["movie"]["title"], "Timezones");
    assert_eq!(
        ninth.data()["showtimes"][0]["screen"]["theater"]["name"],
        "Big Apple"
    );

    let tenth = app.gql(q, json!({"m": m, "d": "2030-03-10"})).await;
    assert_eq!(ids(&tenth), [berlin_night.to_string()]);

    let ny_only = app.gql(q, json!({"m": m, "t": ny.to_string()})).await;
    assert_eq!(ids(&ny_only), [ny_evening.to_string(), ny_late.to_string()]);

    // Without a date: everything not yet over, in start order.
    let upcoming = app.gql(q, json!({"m": m})).await;
    assert_eq!(
        ids(&upcoming),
        [
            ny_evening.to_string(),
            berlin_night.to_string(),
            ny_late.to_string()
        ]
    );

    // Movie.showtimes answers the same.
    let nested = app
        .gql(
            "query($m: ID!) { movie(id: $m) { showtimes(date: \"2030-03-09\") { id } } }",
            json!({"m": m}),
        )
        .await;
    assert_eq!(
        nested.data()["movie"]["showtimes"]
            .as_array()
            .unwrap()
            .len(),
        2
    );

    // With `limit`, the soonest that many; a limit outside 1..=100 is refused, named.
    let limited = |limit: i64| {
        app.gql(
            "query($m: ID!, $l: Int) { movie(id: $m) { showtimes(limit: $l) { id } } }",
            json!({"m": m, "l": limit}),
        )
    };
    let two = limited(2).await;
    let firsts: Vec<&str> = two.data()["movie"]["showtimes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["id"].as_str().unwrap())
        .collect();
    assert_eq!(firsts, [ny_evening.to_string(), berlin_night.to_string()]);
    assert_eq!(
        limited(100).await.data()["movie"]["showtimes"]
            .as_array()
            .unwrap()
            .len(),
        3
    );
    for bad in [0, -1, 101] {
        let r = limited(bad).await;
        assert_eq!(r.code(), "BAD_USER_INPUT", "{bad}");
        assert_eq!(r.field(), Some("limit"), "{bad}");
    }
    // The limit applies after the date and the theater, on the theater's own clock.
    let firsts_of = |query: &'static str| {
        let app = &app;
        let m = m.clone();
        async move {
            let r = app.gql(query, json!({"m": m})).await;
            r.data()["movie"]["showtimes"]
                .as_array()
                .unwrap()
                .iter()
                .map(|s| s["id"].as_str().unwrap().to_owned())
                .collect::<Vec<_>>()
        }
    };
    assert_eq!(
        firsts_of(
            "query($m: ID!) { movie(id: $m) { showtimes(date: \"2030-03-09\", limit: 1) { id } } }"
        )
        .await,
        [ny_evening.to_string()]
    );
    assert_eq!(
        firsts_of(
            "query($m: ID!) { movie(id: $m) { showtimes(date: \"2030-03-10\", limit: 5) { id } } }"
        )
        .await,
        [berlin_night.to_string()]
    );
    let ny_late_only = format!(
        "query($m: ID!) {{ movie(id: $m) {{ late: showtimes(theaterId: \"{ny}\", limit: 2) {{ id }} first: showtimes(limit: 1) {{ id }} }} }}"
    );
    let r = app.gql(&ny_late_only, json!({"m": m})).await;
    assert_eq!(
        r.data()["movie"]["late"],
        json!([{"id": ny_evening.to_string()}, {"id": ny_late.to_string()}])
    );
    assert_eq!(
        r.data()["movie"]["first"],
        json!([{"id": ny_evening.to_string()}])
    );
}

#[tokio::test]
async fn the_seat_map_shows_layout_states_and_exact_prices() {
    let app = TestApp::new().await;
    let mut conn = app.conn().await;
    let theater = fx::theater(&mut conn, "Odeon", "UTC").await;
    let screen = fx::screen(&mut conn, theater, 4, fx::small_layout()).await;
    let movie = fx::movie(&mut conn, MovieSpec::default()).await;
    let showtime =
        fx::showtime_blocking(&mut conn, movie, screen, tomorrow_at(20), "12.99", &["A3"]).await;
    let user = fx::user(&mut conn, screema::db::enums::Role::Customer).await;
    fx::booking(
        &mut conn,
        user,
        showtime,
        &["B1"],
        screema::db::enums::BookingStatus::Confirmed,
    )
    .await
    .unwrap();
    // A cancelled booking's seat is free again.
    fx::booking(
        &mut conn,
        user,
        showtime,
        &["A1"],
        screema::db::enums::BookingStatus::Cancelled,
    )
    .await
    .unwrap();
    drop(conn);

    // Holds arrive with the seating work; the version counter lives in Redis already.
    let redis = app.redis().await;
    let _: () = fred::interfaces::KeysInterface::set(
        &redis,
        format!("{}:seat:{{{showtime}}}:version", app.prefix),
        7,
        None,
        None,
        false,
    )
    .await
    .unwrap();

    let r = app
        .gql(
            "query($id: ID!) { showtime(id: $id) { basePrice { amount currency } availableSeats
               screen { screenNumber totalSeats }
               seatMap { version rows { label seats { number column kind state heldByMe price { amount currency } } } } } }",
            json!({"id": showtime.to_string()}),
        )
        .await;
    let s = &r.data()["showtime"];
    assert_eq!(
        s["basePrice"],
        json!({"amount": "12.99", "currency": "USD"})
    );
    assert_eq!(s["screen"], json!({"screenNumber": 4, "totalSeats": 6}));
    // 6 seats, B1 booked, A3 blocked.
    assert_eq!(s["availableSeats"], 4);
    assert_eq!(s["seatMap"]["version"], 7);
    let seat = |number: &str, column: i64, kind: &str, state: &str, amount: &str| {
        json!({"number": number, "column": column, "kind": kind, "state": state, "heldByMe": false,
               "price": {"amount": amount, "currency": "USD"}})
    };
    assert_eq!(
        s["seatMap"]["rows"],
        json!([
            {"label": "A", "seats": [
                seat("A1", 0, "STANDARD", "AVAILABLE", "12.99"),
                seat("A2", 1, "STANDARD", "AVAILABLE", "12.99"),
                seat("A3", 3, "ACCESSIBLE", "BLOCKED", "12.99")]},
            {"label": "B", "seats": [
                // 12.99 × 1.5 = 19.485, rounded half up per seat.
                seat("B1", 0, "PREMIUM", "BOOKED", "19.49"),
                seat("B2", 1, "PREMIUM", "AVAILABLE", "19.49"),
                seat("B3", 2, "COUPLE", "AVAILABLE", "25.98")]}
        ])
    );
}

#[tokio::test]
async fn theaters_list_their_screens_and_snacks_have_money() {
    let app = TestApp::new().await;
    let mut conn = app.conn().await;
    let b = fx::theater(&mut conn, "Beta Cinema", "Europe/London").await;
    let a = fx::theater(&mut conn, "Alpha Cinema", "UTC").await;
    fx::screen(&mut conn, b, 2, fx::small_layout()).await;
    fx::screen(&mut conn, b, 1, fx::small_layout()).await;
    fx::snack(&mut conn, "Nachos", "Hot Food", "6.5", true).await;
    fx::snack(&mut conn, "Cola", "Drinks", "3.25", false).await;
    drop(conn);

    let r = app
        .gql(
            "{ theaters { id name timezone screens { screenNumber totalSeats theater { name } } }
               snacks { name category price { amount currency } available } }",
            json!({}),
        )
        .await;
    let d = r.data();
    assert_eq!(d["theaters"][0]["id"], a.to_string());
    assert_eq!(d["theaters"][0]["screens"], json!([]));
    assert_eq!(d["theaters"][1]["timezone"], "Europe/London");
    assert_eq!(
        d["theaters"][1]["screens"],
        json!([
            {"screenNumber": 1, "totalSeats": 6, "theater": {"name": "Beta Cinema"}},
            {"screenNumber": 2, "totalSeats": 6, "theater": {"name": "Beta Cinema"}}
        ])
    );
    assert_eq!(
        d["snacks"],
        json!([
            {"name": "Cola", "category": "Drinks", "price": {"amount": "3.25", "currency": "USD"}, "available": false},
            {"name": "Nachos", "category": "Hot Food", "price": {"amount": "6.50", "currency": "USD"}, "available": true}
        ])
    );
}

#[tokio::test]
async fn an_internal_failure_is_reported_without_leaking_its_cause() {
    let app = TestApp::new().await;
    let mut conn = app.conn().await;
    let theater = fx::theater(&mut conn, "Broken", "UTC").await;
    let screen = fx::screen(&mut conn, theater, 1, fx::small_layout()).await;
    let movie = fx::movie(&mut conn, MovieSpec::default()).await;
    let showtime = fx::showtime(&mut conn, movie, screen, tomorrow_at(18), "10.00").await;
    // Corrupt the stored layout behind the application's back.
    diesel_async::RunQueryDsl::execute(
        diesel::sql_query("UPDATE screens SET seat_layout = '{\"rows\": [{\"label\": \"A\", \"seats\": \"oops\"}]}'"),
        &mut conn,
    )
    .await
    .unwrap();
    drop(conn);

    let r = app
        .gql(
            "query($id: ID!) { showtime(id: $id) { id seatMap { version } } }",
            json!({"id": showtime.to_string()}),
        )
        .await;
    assert_eq!(r.code(), "INTERNAL");
    assert_eq!(r.error()["message"], "internal error");
    assert!(r.error()["extensions"]["reference"].is_string());
    assert!(
        !r.body.to_string().contains("seatLayout"),
        "cause leaked: {}",
        r.body
    );
}

const HOME: &str = "{ movies(limit: 20) { movies { id title showtimes { id startTime } } } }";

#[tokio::test]
async fn catalog_reads_come_from_memory_until_an_admin_changes_the_catalog() {
    let (builder, clock) = TestApp::clocked();
    let app = builder
        // Statements are counted: keep the background workers out of the way.
        .env("SWEEP_INTERVAL_MS", "3600000")
        .env("OUTBOX_POLL_MS", "3600000")
        .build()
        .await;
    let admin = app.with_user(screema::db::enums::Role::Admin).await;
    let mut conn = app.conn().await;
    let theater = fx::theater(&mut conn, "Odeon", "UTC").await;
    let screen = fx::screen(&mut conn, theater, 1, fx::small_layout()).await;
    let movie = fx::movie(
        &mut conn,
        MovieSpec {
            title: "First Cut",
            ..Default::default()
        },
    )
    .await;
    let start = app.app.now() + Duration::hours(1);
    fx::showtime(&mut conn, movie, screen, start, "10.00").await;
    drop(conn);

    let first = app.gql(HOME, json!({})).await.data().clone();
    let before = app.statements().await;
    let again = app.gql(HOME, json!({})).await.data().clone();
    assert_eq!(again, first);
    assert_eq!(app.statements().await - before, 0, "served from memory");

    // An admin's change is seen by the very next read.
    let rename =
        "mutation($id: ID!) { updateMovie(id: $id, input: {title: \"Final Cut\"}) { id } }";
    app.gql_as(&admin.token, rename, json!({"id": movie.to_string()}))
        .await
        .data();
    let later = start + Duration::hours(5);
    let add = "mutation($i: CreateShowtimeInput!) { createShowtime(input: $i) { id } }";
    let added = app
        .gql_as(
            &admin.token,
            add,
            json!({"i": {"movieId": movie.to_string(), "screenId": screen.to_string(),
                "startTime": later.to_rfc3339(), "basePrice": "12.00"}}),
        )
        .await;
    let added = added.data()["createShowtime"]["id"].clone();
    let now = app.gql(HOME, json!({})).await.data()["movies"]["movies"][0].clone();
    assert_eq!(now["title"], "Final Cut");
    assert_eq!(now["showtimes"].as_array().unwrap().len(), 2);
    assert_eq!(now["showtimes"][1]["id"], added);

    // The first of a film's showtimes, kept: when one of them ends, the next one
    // after them is read, so a limited list is never short.
    let first_one = "{ movies(limit: 20) { movies { showtimes(limit: 1) { id } } } }";
    let soonest =
        app.gql(first_one, json!({})).await.data()["movies"]["movies"][0]["showtimes"].clone();
    assert_eq!(soonest.as_array().unwrap().len(), 1);
    assert_ne!(soonest[0]["id"], added);

    // A showtime that has ended leaves the list without a trip to Postgres.
    app.gql(HOME, json!({})).await.data();
    clock.advance(Duration::hours(4));
    let before = app.statements().await;
    let after_first_ended = app.gql(HOME, json!({})).await.data()["movies"]["movies"][0].clone();
    assert_eq!(app.statements().await - before, 0);
    assert_eq!(after_first_ended["showtimes"].as_array().unwrap().len(), 1);
    assert_eq!(after_first_ended["showtimes"][0]["id"], added);
    let next =
        app.gql(first_one, json!({})).await.data()["movies"]["movies"][0]["showtimes"].clone();
    assert_eq!(next, json!([{"id": added}]));
}

#[tokio::test]
async fn an_admin_change_on_one_node_clears_the_catalog_cache_of_another() {
    let app = TestApp::new().await;
    let other = app.another_node().build().await;
    let admin = app.with_user(screema::db::enums::Role::Admin).await;
    let mut conn = app.conn().await;
    let movie = fx::movie(
        &mut conn,
        MovieSpec {
            title: "Before",
            ..Default::default()
        },
    )
    .await;
    drop(conn);
    let title = |data: &serde_json::Value| data["movies"]["movies"][0]["title"].clone();
    assert_eq!(title(other.gql(HOME, json!({})).await.data()), "Before");

    let rename = "mutation($id: ID!) { updateMovie(id: $id, input: {title: \"After\"}) { id } }";
    app.gql_as(&admin.token, rename, json!({"id": movie.to_string()}))
        .await
        .data();
    // Pub/sub takes a moment to cross; the cache lives ten seconds, so seeing "After"
    // sooner than that is the word arriving.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(3);
    loop {
        if title(other.gql(HOME, json!({})).await.data()) == "After" {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the other node still serves the old title"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}

/// How many answers the engine served whole from its catalog answers (`/metrics`).
async fn answers_served(app: &TestApp) -> u64 {
    let text = app.get("/metrics").await.text().await.unwrap();
    text.lines()
        .find_map(|l| l.strip_prefix("screema_catalog_answers_served_total "))
        .and_then(|v| v.trim().parse().ok())
        .expect("the answers counter in /metrics")
}

#[tokio::test]
async fn the_home_screen_is_answered_whole_for_a_second_and_never_what_is_live_or_personal() {
    let (builder, clock) = TestApp::clocked();
    let app = builder.build().await;
    let admin = app.with_user(screema::db::enums::Role::Admin).await;
    let customer = app.with_user(screema::db::enums::Role::Customer).await;
    let mut conn = app.conn().await;
    let theater = fx::theater(&mut conn, "Odeon", "UTC").await;
    let screen = fx::screen(&mut conn, theater, 1, fx::small_layout()).await;
    let movie = fx::movie(
        &mut conn,
        MovieSpec {
            title: "Kept",
            ..Default::default()
        },
    )
    .await;
    let showtime = fx::showtime(
        &mut conn,
        movie,
        screen,
        app.app.now() + Duration::hours(1),
        "10.00",
    )
    .await;
    drop(conn);

    // The same answer, the second time whole from memory, whoever asks.
    let first = app.gql(HOME, json!({})).await.data().clone();
    let served = answers_served(&app).await;
    assert_eq!(
        app.gql_as(&customer.token, HOME, json!({})).await.data(),
        &first
    );
    assert_eq!(answers_served(&app).await, served + 1);

    // What is live (seats left, the seat map) or personal is resolved every time.
    let live = "query($s: ID!) { showtime(id: $s) { availableSeats } \
                movies { movies { showtimes { availableSeats } } } }";
    for _ in 0..2 {
        app.gql(live, json!({"s": showtime.to_string()}))
            .await
            .data();
    }
    let seats_left = "{ movies { movies { title showtimes { availableSeats } } } }";
    app.gql(seats_left, json!({})).await.data();
    let held = app.gql(seats_left, json!({})).await;
    assert_eq!(
        held.data()["movies"]["movies"][0]["showtimes"][0]["availableSeats"],
        6
    );
    common::flow::lock(&app, &customer, showtime, &["A1"]).await;
    let after_hold = app.gql(seats_left, json!({})).await;
    assert_eq!(
        after_hold.data()["movies"]["movies"][0]["showtimes"][0]["availableSeats"],
        5
    );
    let personal = "{ movies { movies { title } } me { email } }";
    for _ in 0..2 {
        app.gql_as(&customer.token, personal, json!({}))
            .await
            .data();
    }
    assert_eq!(answers_served(&app).await, served + 1);

    // An answer with an error is not kept.
    let bad = "{ movies(limit: 0) { movies { title } } }";
    for _ in 0..2 {
        assert_eq!(app.gql(bad, json!({})).await.code(), "BAD_USER_INPUT");
    }
    assert_eq!(answers_served(&app).await, served + 1);

    // An admin's change is in the very next answer.
    let rename = "mutation($id: ID!) { updateMovie(id: $id, input: {title: \"Changed\"}) { id } }";
    app.gql_as(&admin.token, rename, json!({"id": movie.to_string()}))
        .await
        .data();
    let now = app.gql(HOME, json!({})).await;
    assert_eq!(now.data()["movies"]["movies"][0]["title"], "Changed");
    assert_eq!(answers_served(&app).await, served + 1);

    // A second later on the application's clock, it is read again.
    app.gql(HOME, json!({})).await.data();
    assert_eq!(answers_served(&app).await, served + 2);
    clock.advance(Duration::milliseconds(1001));
    app.gql(HOME, json!({})).await.data();
    assert_eq!(answers_served(&app).await, served + 2);
}

/// A page's showtimes are written in one pass when the selection is the rows' own
/// fields (`graphql::showtime_list`) and by async-graphql's general resolver otherwise
/// (a fragment): both give the same answer.
#[tokio::test]
async fn the_showtimes_of_a_page_read_the_same_whether_their_selection_is_plain_or_not() {
    let app = TestApp::new().await;
    let mut conn = app.conn().await;
    let theater = fx::theater(&mut conn, "Odeon", "UTC").await;
    let screen = fx::screen(&mut conn, theater, 1, fx::small_layout()).await;
    let movie = fx::movie(&mut conn, MovieSpec::default()).await;
    for (day, price) in [(1, "12.5"), (2, "9.99")] {
        let at = app.app.now() + Duration::days(day);
        fx::showtime(&mut conn, movie, screen, at, price).await;
    }
    drop(conn);
    let fields =
        "__typename id startTime endTime status p: basePrice { amount currency __typename }";
    let read = |selection: String| {
        let app = &app;
        async move {
            let query = format!(
                "query($m: ID!) {{ movie(id: $m) {{ showtimes(limit: 5) {selection} }}
                   showtimes(movieId: $m) {selection}
                   movies {{ movies {{ showtimes {selection} }} }} }}"
            );
            app.gql(&query, json!({"m": movie.to_string()}))
                .await
                .data()
                .clone()
        }
    };
    let plain = read(format!("{{ {fields} }}")).await;
    let general = read(format!("{{ ... on Showtime {{ {fields} }} }}")).await;
    assert_eq!(plain, general);
    let showtimes = plain["movie"]["showtimes"].as_array().unwrap();
    assert_eq!(showtimes.len(), 2);
    assert_eq!(showtimes[0]["p"]["amount"], "12.50");
    assert_eq!(showtimes[0]["status"], "SCHEDULED");
    assert_eq!(showtimes[0]["__typename"], "Showtime");
}
