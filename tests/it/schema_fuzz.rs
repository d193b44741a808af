//! Schemathesis (from the test tools' virtualenv, `scripts/test-tools.sh`) fuzzes the
//! GraphQL API of a test server holding a small catalog and a customer's bookings:
//! anonymously, as that customer and as an admin, a bounded run each. Whatever it
//! sends, the server must answer without a 5xx and without an `INTERNAL` error; a
//! client's mistake (BAD_USER_INPUT, NOT_FOUND, FORBIDDEN, …) is a fine answer. The
//! check and the strategies for the custom scalars are in `tests/schema_fuzz/hooks.py`.
//!
//! Each run tries `SCREEMA_FUZZ_EXAMPLES` (25 by default) test cases per operation, in
//! each of two phases: fuzzing each operation alone, and stateful sequences that feed
//! one operation's results to the next. `SCREEMA_FUZZ_SECONDS` makes it go on for that
//! long instead, however many cases that takes, for a longer hunt by hand;
//! `SCREEMA_FUZZ_SEED` replays a run whose seed a failure printed.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::common;

use std::path::{Path, PathBuf};
use std::process::Command;

use chrono::{Duration, Utc};
use common::fixtures as fx;
use common::{TestApp, TestUser, flow};
use screema::db::enums::Role;
use uuid::Uuid;

/// What the fuzzer should aim at: a dictionary of each kind of argument, from this
/// test's own rows.
struct Targets {
    showtimes: Vec<String>,
    movies: Vec<String>,
    theaters: Vec<String>,
    screens: Vec<String>,
    snacks: Vec<String>,
    bookings: Vec<String>,
    users: Vec<String>,
    lock_tokens: Vec<String>,
    ticket_codes: Vec<String>,
    /// A user registered through the API: email, password and refresh token.
    email: String,
    password: String,
    refresh_token: String,
}

struct Seeded {
    app: TestApp,
    customer: TestUser,
    admin: TestUser,
    targets: Targets,
}

/// A theater with one screen, a film showing tomorrow and in half an hour, a snack,
/// the customer's bookings: confirmed for both showtimes (the later one inside its
/// check-in window), pending, and a hold still open; and a user who can sign in.
async fn seeded() -> Seeded {
    let app = TestApp::builder()
        .env("RATE_LIMIT_GENERAL", "off")
        .env("RATE_LIMIT_BOOKING", "off")
        .env("RATE_LIMIT_LOGIN", "off")
        .build()
        .await;
    let customer = app.with_user(Role::Customer).await;
    let admin = app.with_user(Role::Admin).await;
    let mut conn = app.conn().await;
    let theater = fx::theater(&mut conn, "Fuzz Palace", "Europe/Paris").await;
    let screen = fx::screen(&mut conn, theater, 1, fx::small_layout()).await;
    let movie = fx::movie(
        &mut conn,
        fx::MovieSpec {
            title: "Fuzzing Nights",
            ..Default::default()
        },
    )
    .await;
    let tomorrow = fx::showtime(
        &mut conn,
        movie,
        screen,
        Utc::now() + Duration::days(1),
        "12.50",
    )
    .await;
    let soon = fx::showtime(
        &mut conn,
        movie,
        screen,
        Utc::now() + Duration::minutes(30),
        "9.00",
    )
    .await;
    let snack = fx::snack(&mut conn, "Popcorn", "Food", "4.50", true).await;
    drop(conn);

    let (refundable, _) = flow::confirmed(&app, &customer, tomorrow, &["A1"]).await;
    let (checkable, code) = flow::confirmed(&app, &customer, soon, &["A1"]).await;
    let (unpaid, _) = flow::pending(&app, &customer, tomorrow, &["A2"]).await;
    let lock = flow::lock(&app, &customer, tomorrow, &["B1", "B2"]).await;
    let email = format!("fuzz-{}@example.com", Uuid::new_v4().simple());
    let password = "fuzzing-passw0rd".to_owned();
    let registered = app
        .gql(
            "mutation($e: String!, $p: String!) { register(input: {email: $e, fullName: \"Fuzz Tester\", password: $p}) { refreshToken } }",
            serde_json::json!({"e": email, "p": password}),
        )
        .await;
    let refresh_token = registered.data()["register"]["refreshToken"]
        .as_str()
        .unwrap()
        .to_owned();

    let ids = |ids: &[Uuid]| ids.iter().map(Uuid::to_string).collect::<Vec<_>>();
    let targets = Targets {
        showtimes: ids(&[tomorrow, soon]),
        movies: ids(&[movie]),
        theaters: ids(&[theater]),
        screens: ids(&[screen]),
        snacks: ids(&[snack]),
        bookings: vec![refundable, checkable, unpaid],
        users: ids(&[customer.id, admin.id]),
        lock_tokens: vec![lock],
        ticket_codes: vec![code],
        email,
        password,
        refresh_token,
    };
    Seeded {
        app,
        customer,
        admin,
        targets,
    }
}

/// A TOML array of strings or numbers.
fn toml_list<T: serde::Serialize>(values: &[T]) -> String {
    // JSON's strings and numbers are TOML's too.
    serde_json::to_string(values).unwrap()
}

/// `schemathesis.toml`: dictionaries of real or plausible values that the fuzzer puts
/// in place of the arguments it generates, half of the time, so that requests get
/// past the lookup of an id or the first check of a field into the code behind it.
fn config(t: &Targets) -> String {
    let every_id: Vec<String> = [
        &t.showtimes,
        &t.movies,
        &t.theaters,
        &t.screens,
        &t.snacks,
        &t.bookings,
        &t.users,
    ]
    .into_iter()
    .flatten()
    .cloned()
    .collect();
    let strings = |values: &[&str]| values.iter().map(|v| v.to_string()).collect::<Vec<_>>();
    let texts: Vec<(&str, Vec<String>)> = vec![
        ("showtime", t.showtimes.clone()),
        ("movie", t.movies.clone()),
        ("theater", t.theaters.clone()),
        ("screen", t.screens.clone()),
        ("snack", t.snacks.clone()),
        ("booking", t.bookings.clone()),
        ("user", t.users.clone()),
        ("lock", t.lock_tokens.clone()),
        ("ticket", t.ticket_codes.clone()),
        ("refresh", vec![t.refresh_token.clone()]),
        ("any_id", every_id),
        (
            "seat",
            strings(&["A1", "A2", "A3", "B1", "B2", "B3", "C1", "a1", "A0", ""]),
        ),
        (
            "email",
            vec![
                t.email.clone(),
                format!("new-{}@example.com", Uuid::new_v4().simple()),
            ],
        ),
        (
            "password",
            vec![t.password.clone(), "another-passw0rd".to_owned()],
        ),
        (
            "name",
            strings(&["Fuzz", "Salle Lumière", "Nachos", "Drama", "Ann Actor"]),
        ),
        (
            "timezone",
            strings(&["UTC", "Europe/Paris", "America/Chicago", "Mars/Base"]),
        ),
        (
            "url",
            strings(&["https://example.com/poster.jpg", "http://x", "ftp://x"]),
        ),
        ("phone", strings(&["+14155550123", "+33", "0123"])),
    ];
    let numbers: Vec<(&str, Vec<i64>)> = vec![
        ("duration", vec![90, 120, 600, 601]),
        ("small", vec![1, 2, 3, 4, 6, 20, 21]),
        ("screen_number", vec![1, 2, 3, 99]),
    ];
    let bindings = [
        ("*.*.id", "any_id"),
        ("*.*.showtimeId", "showtime"),
        ("*.*.input.showtimeId", "showtime"),
        ("*.*.movieId", "movie"),
        ("*.*.input.movieId", "movie"),
        ("*.*.theaterId", "theater"),
        ("*.*.input.theaterId", "theater"),
        ("*.*.input.screenId", "screen"),
        ("*.*.input.snacks[*].snackId", "snack"),
        ("*.*.input.snacks[*].quantity", "small"),
        ("*.*.bookingId", "booking"),
        ("*.*.input.bookingId", "booking"),
        ("*.*.userId", "user"),
        ("*.*.lockToken", "lock"),
        ("*.*.input.lockToken", "lock"),
        ("*.*.code", "ticket"),
        ("*.*.refreshToken", "refresh"),
        ("*.*.seatNumbers[*]", "seat"),
        ("*.*.input.seatNumbers[*]", "seat"),
        ("*.*.count", "small"),
        ("*.*.input.email", "email"),
        ("*.*.input.password", "password"),
        ("*.*.input.phone", "phone"),
        ("*.*.input.name", "name"),
        ("*.*.input.title", "name"),
        ("*.*.input.fullName", "name"),
        ("*.*.input.location", "name"),
        ("*.*.input.category", "name"),
        ("*.*.input.director", "name"),
        ("*.*.input.genres[*]", "name"),
        ("*.*.input.cast[*]", "name"),
        ("*.*.genre", "name"),
        ("*.*.input.timezone", "timezone"),
        ("*.*.input.posterUrl", "url"),
        ("*.*.input.imageUrl", "url"),
        ("*.*.input.duration", "duration"),
        ("*.*.input.screenNumber", "screen_number"),
    ];
    let mut toml = String::new();
    for (name, values) in &texts {
        toml += &format!("[dictionaries.{name}]\nvalues = {}\n\n", toml_list(values));
    }
    for (name, values) in &numbers {
        toml += &format!("[dictionaries.{name}]\nvalues = {}\n\n", toml_list(values));
    }
    toml += "[parameters]\n";
    for (key, dictionary) in bindings {
        toml += &format!("\"{key}\" = {{ dictionary = \"{dictionary}\", probability = 0.5 }}\n");
    }
    toml
}

/// `schemathesis` beside the virtualenv's python (`SCREEMA_PYTHON`, as the other
/// tools' tests find it).
fn schemathesis() -> PathBuf {
    let python = std::env::var("SCREEMA_PYTHON").unwrap_or_else(|_| {
        format!(
            "{}/.cache/screema/test-tools-v2/bin/python",
            std::env::var("HOME").unwrap()
        )
    });
    Path::new(&python).with_file_name("schemathesis")
}

/// The first number on the line after `heading` in schemathesis's summary, e.g.
/// "Test cases:\n  380 generated, 380 passed" → 380.
fn summary_number(output: &str, heading: &str) -> Option<u64> {
    let mut lines = output.lines().skip_while(|l| l.trim() != heading);
    lines.next()?;
    let line = lines.next()?;
    line.split_whitespace().next()?.parse().ok()
}

/// "Tested: 32" → 32.
fn tested_operations(output: &str) -> Option<u64> {
    output
        .lines()
        .find_map(|l| l.trim().strip_prefix("Tested: "))
        .and_then(|n| n.trim().parse().ok())
}

/// Runs schemathesis against `app` with `token` (if any); fails, after printing its
/// report, if it found a 5xx or an INTERNAL error.
async fn fuzz(seeded: &Seeded, who: &str, token: Option<&str>) {
    let examples = std::env::var("SCREEMA_FUZZ_EXAMPLES").unwrap_or_else(|_| "25".to_owned());
    let seconds = std::env::var("SCREEMA_FUZZ_SECONDS").ok();
    let dir = std::env::temp_dir().join(format!("screema-schema-fuzz-{}", Uuid::new_v4()));
    std::fs::create_dir_all(&dir).unwrap();
    // The SDL the server serves (the standard introspection query is deeper than the
    // server's depth limit allows).
    let schema = dir.join("schema.graphql");
    std::fs::write(&schema, screema::graphql::sdl()).unwrap();
    let config_file = dir.join("schemathesis.toml");
    std::fs::write(&config_file, config(&seeded.targets)).unwrap();
    let hooks = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/schema_fuzz/hooks.py");

    // A bound of its own, below nextest's: a stuck request or a generator that never
    // ends stops schemathesis rather than leave it behind the test.
    let limit = seconds
        .as_deref()
        .and_then(|s| s.parse::<u64>().ok())
        .map_or(100, |s| s + 60);
    let mut command = Command::new("timeout");
    command
        .args(["--kill-after=5", &limit.to_string()])
        .arg(schemathesis())
        .current_dir(&dir)
        .env("SCHEMATHESIS_HOOKS", &hooks)
        .env("NO_COLOR", "1")
        .arg("--config-file")
        .arg(&config_file)
        .arg("run")
        .arg(&schema)
        .args(["--url", &seeded.app.url("/graphql")])
        // Our check only: GraphQL's own `not_a_server_error` counts NOT_FOUND or
        // FORBIDDEN from a resolver as a server error.
        .args(["--checks", "screema_no_internal"])
        .args(["--max-examples", &examples])
        .args(["--workers", "2"])
        .args(["--request-timeout", "10"])
        .args(["--generation-database", "none"])
        .args(["--output-truncate", "false"])
        .arg("--no-color");
    if let Some(seconds) = &seconds {
        command.args(["--max-time", seconds]);
    }
    if let Some(token) = token {
        command.args(["--header", &format!("Authorization: Bearer {token}")]);
    }
    if let Ok(seed) = std::env::var("SCREEMA_FUZZ_SEED") {
        command.args(["--seed", &seed]);
    }
    let started = std::time::Instant::now();
    // The server runs on this test's runtime: wait for schemathesis off it.
    let output = tokio::task::spawn_blocking(move || command.output())
        .await
        .unwrap()
        .unwrap();
    let elapsed = started.elapsed();
    let _ = std::fs::remove_dir_all(&dir);
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    // Shown with `--no-capture` (and by nextest when the test fails).
    eprintln!("{stdout}");
    assert!(
        output.status.code() != Some(124),
        "schemathesis ({who}) ran past {limit} s and was stopped"
    );
    assert!(
        output.status.code() != Some(127) && output.status.code() != Some(126),
        "{} is missing: run scripts/test-tools.sh\n{stderr}",
        schemathesis().display()
    );
    assert!(
        output.status.success(),
        "schemathesis ({who}) failed ({}); its report is above\n{stderr}",
        output.status
    );
    let cases = summary_number(&stdout, "Test cases:").unwrap_or(0);
    let operations = tested_operations(&stdout).unwrap_or(0);
    let seed = stdout
        .lines()
        .find_map(|l| l.strip_prefix("Seed: "))
        .unwrap_or("?");
    eprintln!(
        "schemathesis ({who}): {operations} operations, {cases} test cases in {:.1} s, no 5xx or INTERNAL (seed {seed})",
        elapsed.as_secs_f64()
    );
    assert!(
        operations >= 30 && cases >= 100,
        "schemathesis ({who}) hardly ran ({operations} operations, {cases} cases):\n{stdout}"
    );
}

/// What schemathesis found first: text holding NUL, which Postgres refuses, reached
/// the database from these arguments and came back INTERNAL.
#[tokio::test]
async fn text_holding_nul_is_bad_input() {
    let seeded = seeded().await;
    let (app, admin, t) = (&seeded.app, &seeded.admin.token, &seeded.targets);
    let nul = "a\u{0}b";
    let (movie, booking) = (&t.movies[0], &t.bookings[0]);
    let cases = [
        ("query($t: String) { movies(search: $t) { pagination { total } } }".to_owned(), "search"),
        ("query($t: String) { movies(genre: $t) { pagination { total } } }".to_owned(), "genre"),
        (
            "mutation($t: String) { createTheater(input: {name: \"T\", location: \"L\", timezone: $t}) { id } }".to_owned(),
            "timezone",
        ),
        (
            "mutation($t: String) { createMovie(input: {title: \"M\", duration: 90, description: $t}) { id } }".to_owned(),
            "description",
        ),
        (
            format!("mutation($t: String) {{ updateMovie(id: \"{movie}\", input: {{description: $t}}) {{ id }} }}"),
            "description",
        ),
        (
            "mutation($t: String) { createSnack(input: {name: \"S\", category: \"C\", price: \"1.00\", description: $t}) { id } }".to_owned(),
            "description",
        ),
        (
            format!("mutation($t: String) {{ refundBooking(input: {{bookingId: \"{booking}\", reason: $t}}) {{ status }} }}"),
            "reason",
        ),
    ];
    for (query, field) in cases {
        let r = app
            .gql_as(admin, &query, serde_json::json!({ "t": nul }))
            .await;
        assert_eq!(r.code(), "BAD_USER_INPUT", "{query}: {:#}", r.body);
        assert_eq!(r.field(), Some(field), "{query}: {:#}", r.body);
    }
    // A line break is still fine where text may span lines.
    let r = app
        .gql_as(
            admin,
            "mutation($t: String) { createMovie(input: {title: \"M\", duration: 90, description: $t}) { description } }",
            serde_json::json!({ "t": "one\ntwo" }),
        )
        .await;
    assert_eq!(r.data()["createMovie"]["description"], "one\ntwo");
}

#[tokio::test]
async fn anonymous_fuzzing_finds_no_server_error() {
    let seeded = seeded().await;
    fuzz(&seeded, "anonymous", None).await;
}

#[tokio::test]
async fn a_customers_fuzzing_finds_no_server_error() {
    let seeded = seeded().await;
    fuzz(&seeded, "customer", Some(&seeded.customer.token)).await;
}

#[tokio::test]
async fn an_admins_fuzzing_finds_no_server_error() {
    let seeded = seeded().await;
    fuzz(&seeded, "admin", Some(&seeded.admin.token)).await;
}
