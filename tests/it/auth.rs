//! Accounts through the public API: registration, sign-in, tokens, roles.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::common;

use std::sync::Arc;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{Duration, Utc};
use common::{Gql, TestApp};
use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use screema::clock::ManualClock;
use screema::db::enums::Role;
use serde_json::{Value, json};

const REGISTER: &str = "mutation($input: RegisterInput!) { register(input: $input) {
    user { id email fullName phone role tier points } accessToken refreshToken } }";
const LOGIN: &str = "mutation($email: String!, $password: String!) { login(input: {email: $email, password: $password}) {
    user { id email role } accessToken refreshToken } }";
const REFRESH: &str =
    "mutation($t: String!) { refreshToken(refreshToken: $t) { accessToken refreshToken } }";
const ME: &str = "{ me { id email fullName role tier points } }";

async fn register(app: &TestApp, email: &str, password: &str) -> Gql {
    app.gql(REGISTER, json!({"input": {"email": email, "password": password, "fullName": "Ada Lovelace", "phone": "+44 20 7946 0000"}}))
        .await
}

fn tokens(r: &Gql, field: &str) -> (String, String) {
    let d = &r.data()[field];
    (
        d["accessToken"].as_str().unwrap().to_owned(),
        d["refreshToken"].as_str().unwrap().to_owned(),
    )
}

async fn user_count(app: &TestApp) -> i64 {
    screema::db::schema::users::table
        .count()
        .get_result(&mut app.conn().await)
        .await
        .unwrap()
}

#[tokio::test]
async fn register_then_me_then_login() {
    let app = TestApp::new().await;
    let r = register(&app, "  Ada@Example.COM ", "correct horse battery").await;
    let user = &r.data()["register"]["user"];
    assert_eq!(user["email"], "ada@example.com");
    assert_eq!(user["phone"], "+442079460000");
    assert_eq!(
        (
            user["role"].as_str(),
            user["tier"].as_str(),
            user["points"].as_i64()
        ),
        (Some("CUSTOMER"), Some("bronze"), Some(0))
    );
    let (access, refresh) = tokens(&r, "register");
    assert_eq!(refresh.len(), 43, "256 random bits, base64url");

    let me = app.gql_as(&access, ME, json!({})).await;
    assert_eq!(me.data()["me"]["email"], "ada@example.com");
    assert_eq!(me.data()["me"]["fullName"], "Ada Lovelace");

    let login = app
        .gql(
            LOGIN,
            json!({"email": "ADA@example.com", "password": "correct horse battery"}),
        )
        .await;
    assert_eq!(login.data()["login"]["user"]["id"], user["id"]);
    // Only a hash of the refresh token is stored.
    let stored: Vec<Vec<u8>> = screema::db::schema::refresh_tokens::table
        .select(screema::db::schema::refresh_tokens::token_hash)
        .load(&mut app.conn().await)
        .await
        .unwrap();
    assert_eq!(stored.len(), 2);
    assert!(
        stored
            .iter()
            .all(|h| h.len() == 32 && h.as_slice() != refresh.as_bytes())
    );
    // The password is stored as an argon2id hash.
    let hash: String = screema::db::schema::users::table
        .select(screema::db::schema::users::password_hash)
        .first(&mut app.conn().await)
        .await
        .unwrap();
    assert!(hash.starts_with("$argon2id$"));
}

#[tokio::test]
async fn registration_refuses_bad_fields_naming_each_and_writes_nothing() {
    let app = TestApp::new().await;
    let base = json!({"email": "ok@example.com", "password": "long enough", "fullName": "Ok", "phone": null});
    for (field, value) in [
        ("email", json!("not-an-email")),
        ("email", json!("a@b")),
        ("password", json!("short")),
        ("password", json!("x".repeat(129))),
        ("fullName", json!("   ")),
        ("fullName", json!("n".repeat(256))),
        ("phone", json!("555-1234")),
    ] {
        let mut input = base.clone();
        input[field] = value.clone();
        let r = app.gql(REGISTER, json!({"input": input})).await;
        assert_eq!(
            (r.code(), r.field()),
            ("BAD_USER_INPUT", Some(field)),
            "{field}={value}"
        );
    }
    let r = app
        .gql(REGISTER, json!({"input": {"email": "x@example.com"}}))
        .await;
    assert_eq!(r.code(), "BAD_USER_INPUT");
    assert_eq!(user_count(&app).await, 0);

    register(&app, "taken@example.com", "password-one")
        .await
        .data();
    let r = register(&app, "TAKEN@example.com", "password-two").await;
    assert_eq!((r.code(), r.field()), ("CONFLICT", Some("email")));
    assert_eq!(user_count(&app).await, 1);
}

#[tokio::test]
async fn wrong_email_and_wrong_password_get_the_same_answer() {
    let app = TestApp::new().await;
    register(&app, "ada@example.com", "correct horse battery")
        .await
        .data();
    let wrong_password = app
        .gql(
            LOGIN,
            json!({"email": "ada@example.com", "password": "incorrect horse"}),
        )
        .await;
    let no_such_user = app
        .gql(
            LOGIN,
            json!({"email": "bob@example.com", "password": "incorrect horse"}),
        )
        .await;
    let malformed = app
        .gql(
            LOGIN,
            json!({"email": "bob", "password": "incorrect horse"}),
        )
        .await;
    for r in [&wrong_password, &no_such_user, &malformed] {
        assert_eq!(r.code(), "UNAUTHENTICATED");
        assert_eq!(r.error()["message"], wrong_password.error()["message"]);
    }
    let r = app.gql(LOGIN, json!({"email": " ", "password": "x"})).await;
    assert_eq!((r.code(), r.field()), ("BAD_USER_INPUT", Some("email")));
    let r = app
        .gql(LOGIN, json!({"email": "ada@example.com", "password": ""}))
        .await;
    assert_eq!((r.code(), r.field()), ("BAD_USER_INPUT", Some("password")));
}

#[tokio::test]
async fn access_tokens_expire_and_forged_ones_are_refused() {
    let clock = Arc::new(ManualClock::new(Utc::now()));
    let app = TestApp::builder().clock(clock.clone()).build().await;
    let r = register(&app, "ada@example.com", "correct horse battery").await;
    let (access, _) = tokens(&r, "register");
    assert!(app.gql_as(&access, ME, json!({})).await.data()["me"].is_object());

    // Tampered: the payload claims admin, the signature is the old one.
    let parts: Vec<&str> = access.split('.').collect();
    let mut claims: Value =
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[1]).unwrap()).unwrap();
    claims["role"] = json!("admin");
    let tampered = format!(
        "{}.{}.{}",
        parts[0],
        URL_SAFE_NO_PAD.encode(claims.to_string()),
        parts[2]
    );
    let none = format!(
        "{}.{}.",
        URL_SAFE_NO_PAD.encode(r#"{"alg":"none","typ":"JWT"}"#),
        parts[1]
    );
    let wrong_key = jsonwebtoken::encode(
        &jsonwebtoken::Header::default(),
        &claims,
        &jsonwebtoken::EncodingKey::from_secret(b"someone-else's-secret-entirely!!"),
    )
    .unwrap();
    for token in [
        tampered.as_str(),
        none.as_str(),
        wrong_key.as_str(),
        "garbage",
    ] {
        let r = app
            .gql_as(token, "{ movies { pagination { total } } }", json!({}))
            .await;
        assert_eq!(r.code(), "UNAUTHENTICATED", "{token}");
        assert!(r.body["data"].is_null());
    }

    clock.advance(Duration::minutes(14));
    assert!(app.gql_as(&access, ME, json!({})).await.data()["me"].is_object());
    clock.advance(Duration::minutes(2));
    let r = app.gql_as(&access, ME, json!({})).await;
    assert_eq!(r.code(), "UNAUTHENTICATED");
    assert!(r.error()["message"].as_str().unwrap().contains("expired"));
}

#[tokio::test]
async fn refresh_rotates_and_reuse_revokes_the_family() {
    let clock = Arc::new(ManualClock::new(Utc::now()));
    let app = TestApp::builder().clock(clock.clone()).build().await;
    let r = register(&app, "ada@example.com", "correct horse battery").await;
    let (_, first) = tokens(&r, "register");

    let rotated = app.gql(REFRESH, json!({"t": first})).await;
    let (access2, second) = tokens(&rotated, "refreshToken");
    assert_ne!(second, first);
    assert!(app.gql_as(&access2, ME, json!({})).await.data()["me"].is_object());

    // The thief replays the first token: refused, and the owner's newer one dies too.
    assert_eq!(
        app.gql(REFRESH, json!({"t": first})).await.code(),
        "UNAUTHENTICATED"
    );
    assert_eq!(
        app.gql(REFRESH, json!({"t": second})).await.code(),
        "UNAUTHENTICATED"
    );

    // Another sign-in is another family, untouched; it expires after 30 days.
    let login = app
        .gql(
            LOGIN,
            json!({"email": "ada@example.com", "password": "correct horse battery"}),
        )
        .await;
    let (_, other) = tokens(&login, "login");
    clock.advance(Duration::days(29));
    let (_, other) = tokens(&app.gql(REFRESH, json!({"t": other})).await, "refreshToken");
    clock.advance(Duration::days(30) + Duration::seconds(1));
    assert_eq!(
        app.gql(REFRESH, json!({"t": other})).await.code(),
        "UNAUTHENTICATED"
    );
    assert_eq!(
        app.gql(REFRESH, json!({"t": "made-up"})).await.code(),
        "UNAUTHENTICATED"
    );
}

#[tokio::test]
async fn logout_revokes_the_sign_in() {
    let app = TestApp::new().await;
    let r = register(&app, "ada@example.com", "correct horse battery").await;
    let (_, refresh) = tokens(&r, "register");
    let (_, refresh) = tokens(
        &app.gql(REFRESH, json!({"t": refresh})).await,
        "refreshToken",
    );
    let logout = app
        .gql(
            "mutation($t: String!) { logout(refreshToken: $t) }",
            json!({"t": refresh}),
        )
        .await;
    assert_eq!(logout.data()["logout"], true);
    assert_eq!(
        app.gql(REFRESH, json!({"t": refresh})).await.code(),
        "UNAUTHENTICATED"
    );
    let again = app
        .gql(
            "mutation($t: String!) { logout(refreshToken: $t) }",
            json!({"t": "unknown"}),
        )
        .await;
    assert_eq!(again.data()["logout"], false);
}

#[tokio::test]
async fn guards_per_role() {
    let app = TestApp::new().await;
    let customer = app.with_user(Role::Customer).await;
    let operator = app.with_user(Role::Operator).await;
    let admin = app.with_user(Role::Admin).await;

    assert_eq!(app.gql(ME, json!({})).await.code(), "UNAUTHENTICATED");
    for user in [&customer, &operator, &admin] {
        assert_eq!(
            app.gql_as(&user.token, ME, json!({})).await.data()["me"]["id"],
            user.id.to_string()
        );
    }

    let set_role = "mutation($u: ID!, $r: Role!) { setUserRole(userId: $u, role: $r) { id role } }";
    let vars = json!({"u": customer.id.to_string(), "r": "OPERATOR"});
    assert_eq!(
        app.gql(set_role, vars.clone()).await.code(),
        "UNAUTHENTICATED"
    );
    assert_eq!(
        app.gql_as(&customer.token, set_role, vars.clone())
            .await
            .code(),
        "FORBIDDEN"
    );
    assert_eq!(
        app.gql_as(&operator.token, set_role, vars.clone())
            .await
            .code(),
        "FORBIDDEN"
    );
    let done = app.gql_as(&admin.token, set_role, vars).await;
    assert_eq!(done.data()["setUserRole"]["role"], "OPERATOR");

    let r = app
        .gql_as(&admin.token, set_role, json!({"u": "nope", "r": "ADMIN"}))
        .await;
    assert_eq!((r.code(), r.field()), ("BAD_USER_INPUT", Some("userId")));
    let r = app
        .gql_as(
            &admin.token,
            set_role,
            json!({"u": uuid::Uuid::new_v4().to_string(), "r": "ADMIN"}),
        )
        .await;
    assert_eq!((r.code(), r.field()), ("BAD_USER_INPUT", Some("userId")));
    let r = app
        .gql_as(
            &admin.token,
            set_role,
            json!({"u": admin.id.to_string(), "r": "CUSTOMER"}),
        )
        .await;
    assert_eq!((r.code(), r.field()), ("BAD_USER_INPUT", Some("userId")));
}

#[tokio::test]
async fn a_new_role_applies_at_the_next_sign_in() {
    let app = TestApp::new().await;
    let r = register(&app, "ada@example.com", "correct horse battery").await;
    let (_, refresh) = tokens(&r, "register");
    let id = r.data()["register"]["user"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let admin = app.with_user(Role::Admin).await;
    app.gql_as(
        &admin.token,
        "mutation($u: ID!) { setUserRole(userId: $u, role: OPERATOR) { id } }",
        json!({"u": id}),
    )
    .await
    .data();
    // Signed out everywhere...
    assert_eq!(
        app.gql(REFRESH, json!({"t": refresh})).await.code(),
        "UNAUTHENTICATED"
    );
    // ...and signed back in with the new role.
    let login = app
        .gql(
            LOGIN,
            json!({"email": "ada@example.com", "password": "correct horse battery"}),
        )
        .await;
    assert_eq!(login.data()["login"]["user"]["role"], "OPERATOR");
}
