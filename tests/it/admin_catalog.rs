//! Admins manage the catalog: every success and refusal through the public API.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::common;

use chrono::{DateTime, Duration, Utc};
use common::{Gql, TestApp, TestUser};
use screema::db::enums::Role;
use serde_json::{Value, json};

const THEATER: &str =
    "mutation($i: CreateTheaterInput!) { createTheater(input: $i) { id name location timezone } }";
const SCREEN: &str = "mutation($i: CreateScreenInput!) { createScreen(input: $i) { id screenNumber totalSeats theater { name } } }";
const MOVIE: &str = "mutation($i: CreateMovieInput!) { createMovie(input: $i) { id title duration status genres cast posterUrl rating } }";
const SHOWTIME: &str = "mutation($i: CreateShowtimeInput!) { createShowtime(input: $i) { id startTime endTime basePrice { amount } availableSeats movie { title } } }";
const SNACK: &str = "mutation($i: CreateSnackInput!) { createSnack(input: $i) { id name price { amount currency } category available } }";

fn layout() -> Value {
    json!({"rows": [
        {"label": "A", "seats": [{"number": 1, "kind": "STANDARD"}, {"number": 2, "kind": "STANDARD"}, null, {"number": 3, "kind": "ACCESSIBLE"}]},
        {"label": "B", "seats": [{"number": 1, "kind": "PREMIUM", "priceMultiplier": "1.50"}, {"number": 2, "kind": "COUPLE", "priceMultiplier": 2}]}
    ]})
}

fn at(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

struct Catalog {
    admin: TestUser,
    theater: String,
    screen: String,
    movie: String,
}

async fn catalog(app: &TestApp) -> Catalog {
    let admin = app.with_user(Role::Admin).await;
    let theater = app
        .gql_as(&admin.token, THEATER, json!({"i": {"name": "Regent", "location": "1 High St, Leeds", "timezone": "Europe/London"}}))
        .await;
    let theater = theater.data()["createTheater"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let screen = app
        .gql_as(
            &admin.token,
            SCREEN,
            json!({"i": {"theaterId": theater, "screenNumber": 1, "seatLayout": layout()}}),
        )
        .await;
    let screen = screen.data()["createScreen"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let movie = app
        .gql_as(&admin.token, MOVIE, json!({"i": {"title": "Dune Sea", "duration": 100, "genres": ["Sci-Fi"], "status": "NOW_SHOWING"}}))
        .await;
    let movie = movie.data()["createMovie"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    Catalog {
        admin,
        theater,
        screen,
        movie,
    }
}

#[tokio::test]
async fn every_catalog_mutation_is_for_admins_only() {
    let app = TestApp::new().await;
    let c = catalog(&app).await;
    let customer = app.with_user(Role::Customer).await;
    let operator = app.with_user(Role::Operator).await;
    let start = at(Utc::now() + Duration::days(3));
    let calls: Vec<(&str, Value)> = vec![
        (MOVIE, json!({"i": {"title": "X", "duration": 90}})),
        (
            "mutation($id: ID!) { updateMovie(id: $id, input: {title: \"Y\"}) { id } }",
            json!({"id": c.movie}),
        ),
        (THEATER, json!({"i": {"name": "T", "location": "L"}})),
        (
            SCREEN,
            json!({"i": {"theaterId": c.theater, "screenNumber": 9, "seatLayout": layout()}}),
        ),
        (
            SHOWTIME,
            json!({"i": {"movieId": c.movie, "screenId": c.screen, "startTime": start, "basePrice": "10.00"}}),
        ),
        (
            SNACK,
            json!({"i": {"name": "Popcorn", "price": "5.00", "category": "Popcorn"}}),
        ),
    ];
    for (query, vars) in &calls {
        assert_eq!(
            app.gql(query, vars.clone()).await.code(),
            "UNAUTHENTICATED",
            "{query}"
        );
        assert_eq!(
            app.gql_as(&customer.token, query, vars.clone())
                .await
                .code(),
            "FORBIDDEN",
            "{query}"
        );
        assert_eq!(
            app.gql_as(&operator.token, query, vars.clone())
                .await
                .code(),
            "FORBIDDEN",
            "{query}"
        );
    }
    for (query, vars) in calls {
        app.gql_as(&c.admin.token, query, vars).await.data();
    }
}

#[tokio::test]
async fn an_admin_builds_a_screen_and_a_showtime_that_customers_see() {
    let app = TestApp::builder()
        .env("CLEANING_GAP_MINUTES", "25")
        .build()
        .await;
    let c = catalog(&app).await;
    let r = app
        .gql_as(
            &c.admin.token,
            SCREEN,
            json!({"i": {"theaterId": c.theater, "screenNumber": 2, "seatLayout": layout()}}),
        )
        .await;
    assert_eq!(r.data()["createScreen"]["totalSeats"], 5);
    assert_eq!(r.data()["createScreen"]["theater"]["name"], "Regent");

    let start = (Utc::now() + Duration::days(2))
        .date_naive()
        .and_hms_opt(19, 30, 0)
        .unwrap()
        .and_utc();
    let r = app
        .gql_as(&c.admin.token, SHOWTIME, json!({"i": {"movieId": c.movie, "screenId": c.screen, "startTime": at(start), "basePrice": "12.5"}}))
        .await;
    let created = &r.data()["createShowtime"];
    // 100 minutes of film and 25 of cleaning.
    assert_eq!(created["endTime"], at(start + Duration::minutes(125)));
    assert_eq!(created["basePrice"]["amount"], "12.50");
    assert_eq!(created["availableSeats"], 5);

    let listed = app
        .gql("query($m: ID!) { showtimes(movieId: $m) { id startTime screen { screenNumber } seatMap { rows { seats { number price { amount } } } } } }", json!({"m": c.movie}))
        .await;
    let showtimes = listed.data()["showtimes"].as_array().unwrap();
    assert_eq!(showtimes.len(), 1);
    assert_eq!(showtimes[0]["id"], created["id"]);
    assert_eq!(
        showtimes[0]["seatMap"]["rows"][1]["seats"][1],
        json!({"number": "B2", "price": {"amount": "25.00"}})
    );
}

#[tokio::test]
async fn bad_layouts_are_refused_naming_the_field_and_nothing_is_written() {
    let app = TestApp::new().await;
    let c = catalog(&app).await;
    let seat = |n: u64, kind: &str| json!({"number": n, "kind": kind});
    for (bad, field) in [
        (
            json!({"rows": [{"label": "A", "seats": [seat(1, "STANDARD"), seat(1, "STANDARD")]}]}),
            "seatLayout.rows[0].seats[1].number",
        ),
        (
            json!({"rows": [{"label": "A", "seats": [seat(1, "STANDARD")]}, {"label": "B", "seats": []}]}),
            "seatLayout.rows[1].seats",
        ),
        (
            json!({"rows": [{"label": "A", "seats": [seat(1, "STANDARD")]}, {"label": "A", "seats": [seat(2, "STANDARD")]}]}),
            "seatLayout.rows[1].label",
        ),
        (json!({"rows": []}), "seatLayout.rows"),
        (
            json!({"rows": [{"label": "A", "seats": [seat(1, "BEANBAG")]}]}),
            "seatLayout.rows[0].seats[0].kind",
        ),
        (
            json!({"rows": [{"label": "A", "seats": [{"number": 1, "kind": "PREMIUM", "priceMultiplier": "-1"}]}]}),
            "seatLayout.rows[0].seats[0].priceMultiplier",
        ),
        (
            json!({"rows": [{"label": "A", "seats": [{"number": 1, "kind": "PREMIUM", "priceMultiplier": "0"}]}]}),
            "seatLayout.rows[0].seats[0].priceMultiplier",
        ),
        (
            json!({"rows": [{"label": "A", "seats": [{"number": 1, "kind": "PREMIUM", "priceMultiplier": "cheap"}]}]}),
            "seatLayout.rows[0].seats[0].priceMultiplier",
        ),
        (json!("rows"), "seatLayout"),
    ] {
        let r = app
            .gql_as(
                &c.admin.token,
                SCREEN,
                json!({"i": {"theaterId": c.theater, "screenNumber": 5, "seatLayout": bad}}),
            )
            .await;
        assert_eq!((r.code(), r.field()), ("BAD_USER_INPUT", Some(field)));
    }
    let r = app
        .gql_as(
            &c.admin.token,
            SCREEN,
            json!({"i": {"theaterId": c.theater, "screenNumber": 1, "seatLayout": layout()}}),
        )
        .await;
    assert_eq!((r.code(), r.field()), ("CONFLICT", Some("screenNumber")));
    let r = app
        .gql_as(
            &c.admin.token,
            SCREEN,
            json!({"i": {"theaterId": c.theater, "screenNumber": 0, "seatLayout": layout()}}),
        )
        .await;
    assert_eq!(
        (r.code(), r.field()),
        ("BAD_USER_INPUT", Some("screenNumber"))
    );
    let r = app
        .gql_as(&c.admin.token, SCREEN, json!({"i": {"theaterId": uuid::Uuid::new_v4().to_string(), "screenNumber": 3, "seatLayout": layout()}}))
        .await;
    assert_eq!((r.code(), r.field()), ("BAD_USER_INPUT", Some("theaterId")));
    let r = app
        .gql_as(
            &c.admin.token,
            SCREEN,
            json!({"i": {"theaterId": "x", "screenNumber": 3, "seatLayout": layout()}}),
        )
        .await;
    assert_eq!((r.code(), r.field()), ("BAD_USER_INPUT", Some("theaterId")));

    let screens = app
        .gql("{ theaters { screens { screenNumber } } }", json!({}))
        .await;
    assert_eq!(
        screens.data()["theaters"][0]["screens"],
        json!([{"screenNumber": 1}])
    );
}

#[tokio::test]
async fn showtimes_never_overlap_start_in_the_future_and_cost_something_sensible() {
    let app = TestApp::new().await;
    let c = catalog(&app).await;
    let create = |movie: &str, screen: &str, start: DateTime<Utc>, price: &str| {
        let vars = json!({"i": {"movieId": movie, "screenId": screen, "startTime": at(start), "basePrice": price}});
        let token = c.admin.token.clone();
        let app = &app;
        async move { app.gql_as(&token, SHOWTIME, vars).await }
    };
    let t = (Utc::now() + Duration::days(5))
        .date_naive()
        .and_hms_opt(18, 0, 0)
        .unwrap()
        .and_utc();
    create(&c.movie, &c.screen, t, "10.00").await.data();
    // Film 100 min + cleaning 20 min: anything starting before t+120 overlaps.
    let overlap = create(&c.movie, &c.screen, t + Duration::minutes(119), "10.00").await;
    assert_eq!(
        (overlap.code(), overlap.field()),
        ("CONFLICT", Some("startTime"))
    );
    let before = create(&c.movie, &c.screen, t - Duration::minutes(119), "10.00").await;
    assert_eq!(before.code(), "CONFLICT");
    create(&c.movie, &c.screen, t + Duration::minutes(120), "10.00")
        .await
        .data();

    let cases: Vec<(Gql, &str)> = vec![
        (
            create(
                &c.movie,
                &c.screen,
                Utc::now() - Duration::minutes(1),
                "10.00",
            )
            .await,
            "startTime",
        ),
        (
            create(&c.movie, &c.screen, t + Duration::days(1), "-0.01").await,
            "basePrice",
        ),
        (
            create(&c.movie, &c.screen, t + Duration::days(1), "10.001").await,
            "basePrice",
        ),
        (
            create(
                &uuid::Uuid::new_v4().to_string(),
                &c.screen,
                t + Duration::days(1),
                "10.00",
            )
            .await,
            "movieId",
        ),
        (
            create(
                &c.movie,
                &uuid::Uuid::new_v4().to_string(),
                t + Duration::days(1),
                "10.00",
            )
            .await,
            "screenId",
        ),
        (
            create("nope", &c.screen, t + Duration::days(1), "10.00").await,
            "movieId",
        ),
    ];
    for (r, field) in cases {
        assert_eq!((r.code(), r.field()), ("BAD_USER_INPUT", Some(field)));
    }
    let r = app
        .gql_as(&c.admin.token, SHOWTIME, json!({"i": {"movieId": c.movie, "screenId": c.screen, "startTime": "tomorrow", "basePrice": "10.00"}}))
        .await;
    assert_eq!(r.code(), "BAD_USER_INPUT");
    let r = app
        .gql_as(&c.admin.token, SHOWTIME, json!({"i": {"movieId": c.movie, "screenId": c.screen, "startTime": at(t), "basePrice": 10.5}}))
        .await;
    assert_eq!(r.code(), "BAD_USER_INPUT", "money is never a float");

    let ended = app
        .gql_as(
            &c.admin.token,
            MOVIE,
            json!({"i": {"title": "Old", "duration": 90, "status": "ENDED"}}),
        )
        .await;
    let ended = ended.data()["createMovie"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let r = create(&ended, &c.screen, t + Duration::days(2), "10.00").await;
    assert_eq!((r.code(), r.field()), ("BAD_USER_INPUT", Some("movieId")));

    let listed = app
        .gql(
            "query($m: ID!) { showtimes(movieId: $m) { id } }",
            json!({"m": c.movie}),
        )
        .await;
    assert_eq!(listed.data()["showtimes"].as_array().unwrap().len(), 2);
}

#[tokio::test]
async fn movies_are_created_checked_and_updated_field_by_field() {
    let app = TestApp::new().await;
    let admin = app.with_user(Role::Admin).await;
    let r = app
        .gql_as(&admin.token, MOVIE, json!({"i": {"title": "  Quiet Harbor ", "duration": 118, "rating": "PG-13", "genres": ["Drama"],
            "cast": ["Ann", "Bo"], "posterUrl": "https://img.example/q.jpg"}}))
        .await;
    let movie = r.data()["createMovie"].clone();
    assert_eq!(movie["title"], "Quiet Harbor");
    assert_eq!(movie["status"], "UPCOMING");
    let id = movie["id"].as_str().unwrap().to_owned();

    for (input, field) in [
        (json!({"title": " ", "duration": 90}), "title"),
        (json!({"title": "X", "duration": 0}), "duration"),
        (json!({"title": "X", "duration": 601}), "duration"),
        (
            json!({"title": "X", "duration": 90, "posterUrl": "javascript:alert(1)"}),
            "posterUrl",
        ),
        (
            json!({"title": "X", "duration": 90, "rating": "PARENTAL-GUIDANCE"}),
            "rating",
        ),
        (
            json!({"title": "X", "duration": 90, "genres": [""]}),
            "genres",
        ),
        (
            json!({"title": "X", "duration": 90, "releaseDate": "2026-02-30"}),
            "releaseDate",
        ),
    ] {
        let r = app.gql_as(&admin.token, MOVIE, json!({"i": input})).await;
        assert_eq!(
            (r.code(), r.field()),
            ("BAD_USER_INPUT", Some(field)),
            "{input}"
        );
    }

    let update = "mutation($id: ID!, $i: UpdateMovieInput!) { updateMovie(id: $id, input: $i) { title duration rating genres cast posterUrl status } }";
    let r = app
        .gql_as(
            &admin.token,
            update,
            json!({"id": id, "i": {"duration": 121, "status": "NOW_SHOWING", "posterUrl": null}}),
        )
        .await;
    assert_eq!(
        r.data()["updateMovie"],
        json!({"title": "Quiet Harbor", "duration": 121, "rating": "PG-13", "genres": ["Drama"], "cast": ["Ann", "Bo"], "posterUrl": null, "status": "NOW_SHOWING"})
    );
    // Readers see it at once.
    let read = app
        .gql(
            "query($id: ID!) { movie(id: $id) { duration status posterUrl } }",
            json!({"id": id}),
        )
        .await;
    assert_eq!(
        read.data()["movie"],
        json!({"duration": 121, "status": "NOW_SHOWING", "posterUrl": null})
    );

    let r = app
        .gql_as(
            &admin.token,
            update,
            json!({"id": id, "i": {"duration": -3}}),
        )
        .await;
    assert_eq!((r.code(), r.field()), ("BAD_USER_INPUT", Some("duration")));
    let r = app
        .gql_as(
            &admin.token,
            update,
            json!({"id": uuid::Uuid::new_v4().to_string(), "i": {"title": "Ghost"}}),
        )
        .await;
    assert_eq!(r.code(), "NOT_FOUND");
    let r = app
        .gql_as(
            &admin.token,
            update,
            json!({"id": "bad", "i": {"title": "Ghost"}}),
        )
        .await;
    assert_eq!((r.code(), r.field()), ("BAD_USER_INPUT", Some("id")));
}

#[tokio::test]
async fn theaters_and_snacks_are_checked() {
    let app = TestApp::new().await;
    let admin = app.with_user(Role::Admin).await;
    let r = app
        .gql_as(
            &admin.token,
            THEATER,
            json!({"i": {"name": "Lux", "location": "Berlin"}}),
        )
        .await;
    assert_eq!(r.data()["createTheater"]["timezone"], "UTC");
    for (input, field) in [
        (json!({"name": "", "location": "x"}), "name"),
        (json!({"name": "x", "location": " "}), "location"),
        (
            json!({"name": "x", "location": "y", "timezone": "Mars/Olympus_Mons"}),
            "timezone",
        ),
    ] {
        let r = app.gql_as(&admin.token, THEATER, json!({"i": input})).await;
        assert_eq!((r.code(), r.field()), ("BAD_USER_INPUT", Some(field)));
    }

    let r = app
        .gql_as(
            &admin.token,
            SNACK,
            json!({"i": {"name": "Nachos", "price": "6.5", "category": "Hot Food"}}),
        )
        .await;
    assert_eq!(
        r.data()["createSnack"]["price"],
        json!({"amount": "6.50", "currency": "USD"})
    );
    assert_eq!(r.data()["createSnack"]["available"], true);
    for (input, field) in [
        (
            json!({"name": "", "price": "1.00", "category": "Drinks"}),
            "name",
        ),
        (
            json!({"name": "Tea", "price": "-1.00", "category": "Drinks"}),
            "price",
        ),
        (
            json!({"name": "Tea", "price": "1.00", "category": ""}),
            "category",
        ),
        (
            json!({"name": "Tea", "price": "1.00", "category": "Drinks", "imageUrl": "ftp://x"}),
            "imageUrl",
        ),
    ] {
        let r = app.gql_as(&admin.token, SNACK, json!({"i": input})).await;
        assert_eq!(
            (r.code(), r.field()),
            ("BAD_USER_INPUT", Some(field)),
            "{input}"
        );
    }
    let snacks = app
        .gql("{ snacks { name } theaters { name } }", json!({}))
        .await;
    assert_eq!(
        snacks.data(),
        &json!({"snacks": [{"name": "Nachos"}], "theaters": [{"name": "Lux"}]})
    );
}
