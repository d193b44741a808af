//! Sign-ins under a flood (issue 17): password hashing waits its turn behind a
//! bounded queue (`PASSWORD_HASH_CONCURRENCY`, `PASSWORD_HASH_QUEUE`) and refuses
//! the rest with RATE_LIMITED, and the failed-login limit holds against guesses sent
//! all at once (each reserves its failure before its password is checked).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::common;

use common::{Gql, TestApp};
use serde_json::json;

const REGISTER: &str = "mutation($e: String!, $p: String!) { register(input: {email: $e, password: $p, fullName: \"Ada\"}) { accessToken } }";
const LOGIN: &str = "mutation($e: String!, $p: String!) { login(input: {email: $e, password: $p}) { accessToken } }";

async fn register(app: &TestApp, email: &str, password: &str) -> Gql {
    app.gql(REGISTER, json!({"e": email, "p": password})).await
}

async fn login(app: &TestApp, email: &str, password: &str) -> Gql {
    app.gql(LOGIN, json!({"e": email, "p": password})).await
}

/// With one hash at a time and one waiting, a burst of 24 sign-ins and
/// registrations at once: some are refused with RATE_LIMITED (and a time to retry),
/// the others succeed, nothing else happens; and then everything works again.
#[tokio::test]
async fn a_flood_of_sign_ins_queues_or_is_refused_rate_limited() {
    let app = TestApp::builder()
        .env("PASSWORD_HASH_CONCURRENCY", "1")
        .env("PASSWORD_HASH_QUEUE", "1")
        .env("RATE_LIMIT_LOGIN", "off")
        // Costly enough that the burst overlaps (tests otherwise hash at 256 KiB).
        .env("ARGON2_MEMORY_KIB", "8192")
        .env("ARGON2_ITERATIONS", "2")
        .build()
        .await;
    register(&app, "ada@example.com", "correct horse")
        .await
        .data();

    let app = &app;
    let logins = (0..18).map(|_| login(app, "ada@example.com", "correct horse"));
    let registrations = (0..6).map(|i| async move {
        register(app, &format!("u{i}@example.com"), "a long password").await
    });
    let (logins, registrations) = tokio::join!(
        futures_util::future::join_all(logins),
        futures_util::future::join_all(registrations)
    );
    let (mut succeeded, mut refused) = (0, 0);
    for (r, field) in logins
        .iter()
        .map(|r| (r, "login"))
        .chain(registrations.iter().map(|r| (r, "register")))
    {
        if r.body["errors"].is_null() {
            assert!(
                r.body["data"][field]["accessToken"].is_string(),
                "{}",
                r.body
            );
            succeeded += 1;
        } else {
            assert_eq!(r.code(), "RATE_LIMITED", "{}", r.body);
            assert!(
                r.error()["extensions"]["retryAfterSeconds"]
                    .as_u64()
                    .unwrap()
                    >= 1,
                "{}",
                r.body
            );
            refused += 1;
        }
    }
    assert!(succeeded >= 1, "nothing got through");
    assert!(
        refused >= 1,
        "a burst of 24 hashes at once was not held back"
    );

    // The queue empties: signing in and registering work again, and so does the rest.
    login(app, "ada@example.com", "correct horse").await.data();
    register(app, "late@example.com", "a long password")
        .await
        .data();
    app.gql("{ theaters { id } }", json!({})).await.data();
}

/// With RATE_LIMIT_LOGIN=3/15m, 30 wrong guesses sent at once: at most 3 are
/// answered "wrong password", the rest RATE_LIMITED, and the right password is then
/// refused too.
#[tokio::test]
async fn parallel_guesses_cannot_beat_the_failed_login_limit() {
    let app = TestApp::builder()
        .env("RATE_LIMIT_LOGIN", "3/15m")
        // Verifying takes a while, as in production: the window a racing guess needs.
        .env("ARGON2_MEMORY_KIB", "8192")
        .env("ARGON2_ITERATIONS", "2")
        .build()
        .await;
    register(&app, "ada@example.com", "correct horse")
        .await
        .data();

    let guesses = (0..30).map(|i| {
        login(
            &app,
            "ada@example.com",
            if i % 2 == 0 { "wrong" } else { "guess" },
        )
    });
    let answers = futures_util::future::join_all(guesses).await;
    let mut wrong = 0;
    for r in &answers {
        match r.code() {
            "UNAUTHENTICATED" => wrong += 1,
            "RATE_LIMITED" => {}
            other => panic!("{other}: {}", r.body),
        }
    }
    assert!(
        wrong <= 3,
        "{wrong} guesses were checked, over a limit of 3"
    );
    // (Fewer may be: a guess within the email's limit can meet the client's limit
    // filled meanwhile by guesses in flight.)

    let r = login(&app, "ada@example.com", "correct horse").await;
    assert_eq!(r.code(), "RATE_LIMITED", "{}", r.body);
}
