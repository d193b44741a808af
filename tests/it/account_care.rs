//! Account care through the API: proving an email address (a signed link, on
//! registration and on request) and a phone number (six digits by SMS, few tries),
//! changing a password (other sign-ins end), and resetting a forgotten one (the same
//! answer for every address; the link works once and ends every sign-in). Mail goes
//! to a real SMTP server on loopback and texts to an HTTP sink (`messages`).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::common;
use crate::messages::{SmtpSink, form_fields, sms_sink};

use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::flow::eventually;
use common::tools::free_port;
use common::ws::WsClient;
use common::{Gql, TestApp, TestAppBuilder, TestUser};
use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use screema::db::enums::Role;
use screema::db::schema::{account_challenges, outbox};
use serde_json::{Value, json};
use uuid::Uuid;

const PASSWORD: &str = "correct horse battery";
const REGISTER: &str = "mutation($e: String!, $p: String) { register(input: {email: $e, \
    password: \"correct horse battery\", fullName: \"Ada Lovelace\", phone: $p}) \
    { user { id emailVerified } accessToken refreshToken } }";
const LOGIN: &str = "mutation($e: String!, $p: String!) { login(input: {email: $e, password: $p}) \
    { accessToken refreshToken } }";
const REFRESH: &str =
    "mutation($t: String!) { refreshToken(refreshToken: $t) { accessToken refreshToken } }";
const ME: &str = "{ me { id email phone emailVerified phoneVerified } }";
const REQUEST_EMAIL: &str = "mutation { requestEmailVerification }";
const VERIFY_EMAIL: &str =
    "mutation($c: String!) { verifyEmail(code: $c) { id email emailVerified } }";
const REQUEST_PHONE: &str = "mutation { requestPhoneVerification }";
const VERIFY_PHONE: &str =
    "mutation($c: String!) { verifyPhone(code: $c) { id phone phoneVerified } }";
const UPDATE_PHONE: &str =
    "mutation($p: String) { updateProfile(input: {phone: $p}) { phone phoneVerified } }";
const CHANGE: &str = "mutation($c: String!, $n: String!) { changePassword(input: \
    {currentPassword: $c, newPassword: $n}) }";
const REQUEST_RESET: &str = "mutation($e: String!) { requestPasswordReset(email: $e) }";
const RESET: &str =
    "mutation($t: String!, $n: String!) { resetPassword(input: {token: $t, newPassword: $n}) }";
const INBOX: &str = "subscription { myNotifications { id } }";

/// A server that mails through `smtp`, with its outbox worker polling briskly.
fn mailing(builder: TestAppBuilder, smtp: &SmtpSink) -> TestAppBuilder {
    builder
        .env("SMTP_HOST", "127.0.0.1")
        .env("SMTP_PORT", &smtp.port.to_string())
        .env("SMTP_TLS", "none")
        .env("OUTBOX_POLL_MS", "50")
}

type Texts = Arc<Mutex<Vec<(String, String, String)>>>;

/// A server that texts through an SMS sink, and what the sink received.
async fn texting(builder: TestAppBuilder) -> (TestApp, Texts) {
    let (url, seen) = sms_sink().await;
    let app = builder
        .env("SMS_API_BASE", &url)
        .env("SMS_ACCOUNT_SID", "AC123")
        .env("SMS_AUTH_TOKEN", "tok")
        .env("SMS_FROM", "+15550001111")
        .build()
        .await;
    (app, seen)
}

struct Registered {
    id: String,
    access: String,
    refresh: String,
}

async fn register(app: &TestApp, email: &str) -> Registered {
    let r = app.gql(REGISTER, json!({"e": email})).await;
    let d = &r.data()["register"];
    assert_eq!(d["user"]["emailVerified"], false);
    Registered {
        id: d["user"]["id"].as_str().unwrap().to_owned(),
        access: d["accessToken"].as_str().unwrap().to_owned(),
        refresh: d["refreshToken"].as_str().unwrap().to_owned(),
    }
}

async fn login(app: &TestApp, email: &str, password: &str) -> Gql {
    app.gql(LOGIN, json!({"e": email, "p": password})).await
}

/// The code a message carries on a line of its own: 45 characters of base64url with
/// one dot (`auth::challenges::link_code`).
fn code_in(message: &str) -> String {
    message
        .lines()
        .map(str::trim)
        .find(|l| {
            l.len() == 45
                && l.matches('.').count() == 1
                && l.chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        })
        .unwrap_or_else(|| panic!("no code in {message}"))
        .to_owned()
}

/// The messages to `email` received so far.
fn mails_to(smtp: &SmtpSink, email: &str) -> Vec<String> {
    smtp.messages()
        .into_iter()
        .filter(|m| m.contains(email))
        .collect()
}

/// The password-reset email sent to `email`, once it has arrived.
async fn reset_mail(smtp: &SmtpSink, email: &str) -> String {
    let mut found = None;
    eventually("the reset email", || {
        found = mails_to(smtp, email)
            .into_iter()
            .find(|m| m.contains("Subject: Reset your SCREEMA password"));
        let got = found.is_some();
        async move { got }
    })
    .await;
    found.unwrap()
}

/// The `n`th text's recipient and body.
async fn text(seen: &Texts, n: usize) -> (String, String) {
    eventually("the text message", || {
        let got = seen.lock().unwrap().len() > n;
        async move { got }
    })
    .await;
    let body = seen.lock().unwrap()[n].2.clone();
    let form = form_fields(&body);
    let field = |k: &str| form.iter().find(|(n, _)| n == k).unwrap().1.clone();
    (field("To"), field("Body"))
}

/// The six digits of a code text.
fn digits_in(body: &str) -> String {
    body.split(|c: char| !c.is_ascii_digit())
        .find(|w| w.len() == 6)
        .unwrap_or_else(|| panic!("no code in {body}"))
        .to_owned()
}

fn bad_input(r: &Gql, field: &str) {
    assert_eq!(r.code(), "BAD_USER_INPUT", "{:#}", r.body);
    assert_eq!(r.field(), Some(field), "{:#}", r.body);
}

async fn me(app: &TestApp, token: &str) -> Value {
    app.gql_as(token, ME, json!({})).await.data()["me"].clone()
}

async fn set_phone(app: &TestApp, user: &TestUser, phone: &str) {
    let r = app
        .gql_as(&user.token, UPDATE_PHONE, json!({"p": phone}))
        .await;
    assert_eq!(r.data()["updateProfile"]["phoneVerified"], false);
}

/// Every text stored about account challenges: their rows and their outbox rows.
async fn stored_text(app: &TestApp) -> String {
    let mut conn = app.conn().await;
    let challenges: Vec<(Uuid, String, String)> = account_challenges::table
        .select((
            account_challenges::id,
            account_challenges::purpose,
            account_challenges::target,
        ))
        .load(&mut conn)
        .await
        .unwrap();
    let payloads: Vec<Value> = outbox::table
        .filter(outbox::kind.eq("account_message"))
        .select(outbox::payload)
        .load(&mut conn)
        .await
        .unwrap();
    format!("{challenges:?} {payloads:?}")
}

#[tokio::test]
async fn registration_mails_a_link_that_proves_the_email_once_on_any_device() {
    let smtp = SmtpSink::start_on(free_port()).await;
    let app = mailing(TestApp::builder(), &smtp).build().await;
    let ada = register(&app, "ada@example.com").await;
    let mail = smtp.message_to("ada@example.com").await;
    assert!(
        mail.contains("Subject: Confirm your email address"),
        "{mail}"
    );
    let code = code_in(&mail);
    assert!(mail.contains("/verify-email?code="), "{mail}");

    // Neither the challenge nor the outbox row that sent it holds the code.
    let stored = stored_text(&app).await;
    assert!(stored.contains("account_message"), "{stored}");
    let (_, tag) = code.split_once('.').unwrap();
    assert!(!stored.contains(&code) && !stored.contains(tag), "{stored}");

    // No session needed: the code names and proves its user.
    let r = app.gql(VERIFY_EMAIL, json!({"c": code})).await;
    let user = &r.data()["verifyEmail"];
    assert_eq!(user["id"], ada.id);
    assert_eq!(user["email"], "ada@example.com");
    assert_eq!(user["emailVerified"], true);
    assert_eq!(me(&app, &ada.access).await["emailVerified"], true);

    // Once only.
    bad_input(&app.gql(VERIFY_EMAIL, json!({"c": code})).await, "code");
    // Asking again now sends nothing.
    let r = app.gql_as(&ada.access, REQUEST_EMAIL, json!({})).await;
    assert_eq!(r.data()["requestEmailVerification"], false);
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(mails_to(&smtp, "ada@example.com").len(), 1);
}

#[tokio::test]
async fn an_email_code_is_signed_and_expires() {
    let smtp = SmtpSink::start_on(free_port()).await;
    let (builder, clock) = TestApp::clocked();
    let app = mailing(builder, &smtp)
        .env("EMAIL_VERIFICATION_TTL_MINUTES", "60")
        .build()
        .await;
    let ada = register(&app, "ada@example.com").await;
    let code = code_in(&smtp.message_to("ada@example.com").await);

    // Forged: another id with this tag, this id with another tag, junk.
    let (id, tag) = code.split_once('.').unwrap();
    let other_id = base64_url(Uuid::new_v4().as_bytes());
    let mut flipped = tag.to_owned().into_bytes();
    flipped[0] = if flipped[0] == b'A' { b'B' } else { b'A' };
    for forged in [
        format!("{other_id}.{tag}"),
        format!("{id}.{}", String::from_utf8(flipped).unwrap()),
        "not-a-code".to_owned(),
        String::new(),
    ] {
        bad_input(&app.gql(VERIFY_EMAIL, json!({"c": forged})).await, "code");
    }

    clock.advance(chrono::Duration::minutes(61));
    bad_input(&app.gql(VERIFY_EMAIL, json!({"c": code})).await, "code");
    assert_eq!(me(&app, &ada.access).await["emailVerified"], false);

    // A new link works, and the first stays dead.
    let r = app.gql_as(&ada.access, REQUEST_EMAIL, json!({})).await;
    assert_eq!(r.data()["requestEmailVerification"], true);
    let mut fresh = None;
    eventually("the second email", || {
        fresh = mails_to(&smtp, "ada@example.com")
            .iter()
            .map(|m| code_in(m))
            .find(|c| *c != code);
        let got = fresh.is_some();
        async move { got }
    })
    .await;
    let r = app.gql(VERIFY_EMAIL, json!({"c": fresh.unwrap()})).await;
    assert_eq!(r.data()["verifyEmail"]["emailVerified"], true);
}

fn base64_url(bytes: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

#[tokio::test]
async fn email_verification_requests_are_signed_in_and_rate_limited() {
    let app = TestApp::builder()
        .env("RATE_LIMIT_VERIFICATION", "2/1h")
        .build()
        .await;
    assert_eq!(
        app.gql(REQUEST_EMAIL, json!({})).await.code(),
        "UNAUTHENTICATED"
    );
    let user = app.with_user(Role::Customer).await;
    for _ in 0..2 {
        let r = app.gql_as(&user.token, REQUEST_EMAIL, json!({})).await;
        assert_eq!(r.data()["requestEmailVerification"], true);
    }
    let r = app.gql_as(&user.token, REQUEST_EMAIL, json!({})).await;
    assert_eq!(r.code(), "RATE_LIMITED");
    let retry = r.error()["extensions"]["retryAfterSeconds"]
        .as_u64()
        .unwrap();
    assert!((3000..=3600).contains(&retry), "{retry}");
    // Another user has their own allowance.
    let other = app.with_user(Role::Customer).await;
    let r = app.gql_as(&other.token, REQUEST_EMAIL, json!({})).await;
    assert_eq!(r.data()["requestEmailVerification"], true);
}

#[tokio::test]
async fn a_texted_code_proves_the_phone_number() {
    let (app, seen) = texting(TestApp::builder()).await;
    let user = app.with_user(Role::Customer).await;
    set_phone(&app, &user, "+44 20 7946 0958").await;

    let r = app.gql_as(&user.token, REQUEST_PHONE, json!({})).await;
    assert_eq!(r.data()["requestPhoneVerification"], true);
    let (to, body) = text(&seen, 0).await;
    assert_eq!(to, "+442079460958");
    let code = digits_in(&body);
    assert!(!stored_text(&app).await.contains(&code));

    let wrong = if code == "000000" { "111111" } else { "000000" };
    let r = app
        .gql_as(&user.token, VERIFY_PHONE, json!({"c": wrong}))
        .await;
    bad_input(&r, "code");
    assert!(
        r.error()["message"]
            .as_str()
            .unwrap()
            .contains("4 tries left"),
        "{:#}",
        r.body
    );
    bad_input(
        &app.gql_as(&user.token, VERIFY_PHONE, json!({"c": "12345"}))
            .await,
        "code",
    );
    let r = app
        .gql_as(&user.token, VERIFY_PHONE, json!({"c": code}))
        .await;
    let verified = &r.data()["verifyPhone"];
    assert_eq!(verified["phone"], "+442079460958");
    assert_eq!(verified["phoneVerified"], true);
    assert_eq!(me(&app, &user.token).await["phoneVerified"], true);

    // Proven already: nothing more is sent; the used code proves nothing again.
    let r = app.gql_as(&user.token, REQUEST_PHONE, json!({})).await;
    assert_eq!(r.data()["requestPhoneVerification"], false);
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(seen.lock().unwrap().len(), 1);
    // Anonymous callers are refused.
    assert_eq!(
        app.gql(VERIFY_PHONE, json!({"c": code})).await.code(),
        "UNAUTHENTICATED"
    );
}

#[tokio::test]
async fn five_wrong_phone_codes_end_the_challenge() {
    let (app, seen) = texting(TestApp::builder()).await;
    let user = app.with_user(Role::Customer).await;
    set_phone(&app, &user, "+14155550123").await;
    app.gql_as(&user.token, REQUEST_PHONE, json!({}))
        .await
        .data();
    let code = digits_in(&text(&seen, 0).await.1);
    let wrong = if code == "000000" { "111111" } else { "000000" };
    for n in 1..=5 {
        let r = app
            .gql_as(&user.token, VERIFY_PHONE, json!({"c": wrong}))
            .await;
        bad_input(&r, "code");
        let message = r.error()["message"].as_str().unwrap().to_owned();
        if n == 5 {
            assert!(message.contains("last try"), "{message}");
        } else {
            assert!(message.contains(&format!("{} tr", 5 - n)), "{message}");
        }
    }
    // The right code comes too late.
    let r = app
        .gql_as(&user.token, VERIFY_PHONE, json!({"c": code}))
        .await;
    bad_input(&r, "code");
    assert_eq!(me(&app, &user.token).await["phoneVerified"], false);
}

#[tokio::test]
async fn wrong_phone_codes_sent_at_once_are_all_counted() {
    let (app, seen) = texting(TestApp::builder()).await;
    let user = app.with_user(Role::Customer).await;
    set_phone(&app, &user, "+14155550123").await;
    app.gql_as(&user.token, REQUEST_PHONE, json!({}))
        .await
        .data();
    let code = digits_in(&text(&seen, 0).await.1);
    // Twenty guesses at once: each takes its turn on the challenge's row, so no more
    // than five are ever judged.
    let guesses: Vec<String> = (0..20)
        .map(|n| format!("{:06}", n))
        .filter(|g| *g != code)
        .take(19)
        .collect();
    let answers = futures_util::future::join_all(
        guesses
            .iter()
            .map(|g| app.gql_as(&user.token, VERIFY_PHONE, json!({"c": g}))),
    )
    .await;
    let judged_wrong = answers
        .iter()
        .filter(|r| {
            r.error()["message"]
                .as_str()
                .unwrap()
                .starts_with("wrong code")
        })
        .count();
    assert_eq!(judged_wrong, 5);
    let attempts: i32 = account_challenges::table
        .filter(account_challenges::purpose.eq("verify_phone"))
        .select(account_challenges::attempts)
        .first(&mut app.conn().await)
        .await
        .unwrap();
    assert_eq!(attempts, 5);
    bad_input(
        &app.gql_as(&user.token, VERIFY_PHONE, json!({"c": code}))
            .await,
        "code",
    );
}

#[tokio::test]
async fn no_phone_is_bad_input_and_a_new_number_voids_the_old_numbers_code() {
    let (app, seen) = texting(TestApp::builder()).await;
    let user = app.with_user(Role::Customer).await;
    bad_input(
        &app.gql_as(&user.token, REQUEST_PHONE, json!({})).await,
        "phone",
    );
    set_phone(&app, &user, "+14155550123").await;
    app.gql_as(&user.token, REQUEST_PHONE, json!({}))
        .await
        .data();
    let code = digits_in(&text(&seen, 0).await.1);

    // The number changes before the code is typed: the code proved the old number
    // only, and changing the number ended it, even if the number changes back.
    set_phone(&app, &user, "+14155550199").await;
    set_phone(&app, &user, "+14155550123").await;
    bad_input(
        &app.gql_as(&user.token, VERIFY_PHONE, json!({"c": code}))
            .await,
        "code",
    );
    // A code for the old number does not prove the new one.
    app.gql_as(&user.token, REQUEST_PHONE, json!({}))
        .await
        .data();
    let code = digits_in(&text(&seen, 1).await.1);
    set_phone(&app, &user, "+14155550199").await;
    bad_input(
        &app.gql_as(&user.token, VERIFY_PHONE, json!({"c": code}))
            .await,
        "code",
    );
    set_phone(&app, &user, "+14155550123").await;
    let me = me(&app, &user.token).await;
    assert_eq!(me["phone"], "+14155550123");
    assert_eq!(me["phoneVerified"], false);
}

#[tokio::test]
async fn a_new_phone_code_replaces_the_old_and_requests_are_rate_limited() {
    let (app, seen) = texting(TestApp::builder().env("RATE_LIMIT_VERIFICATION", "2/1h")).await;
    let user = app.with_user(Role::Customer).await;
    set_phone(&app, &user, "+14155550123").await;
    app.gql_as(&user.token, REQUEST_PHONE, json!({}))
        .await
        .data();
    let first = digits_in(&text(&seen, 0).await.1);
    app.gql_as(&user.token, REQUEST_PHONE, json!({}))
        .await
        .data();
    let second = digits_in(&text(&seen, 1).await.1);
    let r = app.gql_as(&user.token, REQUEST_PHONE, json!({})).await;
    assert_eq!(r.code(), "RATE_LIMITED");
    assert!(
        r.error()["extensions"]["retryAfterSeconds"]
            .as_u64()
            .unwrap()
            > 0
    );

    if first != second {
        bad_input(
            &app.gql_as(&user.token, VERIFY_PHONE, json!({"c": first}))
                .await,
            "code",
        );
    }
    let r = app
        .gql_as(&user.token, VERIFY_PHONE, json!({"c": second}))
        .await;
    assert_eq!(r.data()["verifyPhone"]["phoneVerified"], true);
}

#[tokio::test]
async fn a_phone_code_expires() {
    let (builder, clock) = TestApp::clocked();
    let (app, seen) = texting(builder.env("PHONE_CODE_TTL_MINUTES", "10")).await;
    let user = app.with_user(Role::Customer).await;
    set_phone(&app, &user, "+14155550123").await;
    app.gql_as(&user.token, REQUEST_PHONE, json!({}))
        .await
        .data();
    let (_, body) = text(&seen, 0).await;
    assert!(body.contains("10 minutes"), "{body}");
    clock.advance(chrono::Duration::minutes(11));
    bad_input(
        &app.gql_as(&user.token, VERIFY_PHONE, json!({"c": digits_in(&body)}))
            .await,
        "code",
    );
}

/// A signed-in socket with a live subscription.
async fn socket(app: &TestApp, token: &str) -> WsClient {
    let mut ws = WsClient::connect(app.addr, false, Some(token)).await;
    ws.subscribe("inbox", INBOX, json!({})).await;
    ws
}

/// The socket still answers a query.
async fn answers(ws: &mut WsClient) {
    ws.subscribe("me", "{ me { id } }", json!({})).await;
    let message = ws.receive().await;
    assert_eq!(message["type"], "next", "{message}");
    assert!(message["payload"]["data"]["me"]["id"].is_string());
    assert_eq!(ws.receive().await["type"], "complete");
}

#[tokio::test]
async fn changing_the_password_ends_every_other_sign_in() {
    let app = TestApp::new().await;
    let here = register(&app, "ada@example.com").await;
    let there = login(&app, "ada@example.com", PASSWORD).await;
    let (there_access, there_refresh) = {
        let d = &there.data()["login"];
        (
            d["accessToken"].as_str().unwrap().to_owned(),
            d["refreshToken"].as_str().unwrap().to_owned(),
        )
    };
    let mut here_ws = socket(&app, &here.access).await;
    let mut there_ws = socket(&app, &there_access).await;

    // Bad input names its field and changes nothing.
    let r = app
        .gql_as(&here.access, CHANGE, json!({"c": PASSWORD, "n": "short"}))
        .await;
    bad_input(&r, "newPassword");
    let r = app
        .gql_as(
            &here.access,
            CHANGE,
            json!({"c": "not my password", "n": "a brand new password"}),
        )
        .await;
    bad_input(&r, "currentPassword");
    me(&app, &there_access).await;

    let r = app
        .gql_as(
            &here.access,
            CHANGE,
            json!({"c": PASSWORD, "n": "a brand new password"}),
        )
        .await;
    assert_eq!(r.data()["changePassword"], true);

    // The other sign-in is over: its socket, its access token, its refresh token.
    assert_eq!(there_ws.close_code().await, Some(4403));
    assert_eq!(
        app.gql_as(&there_access, ME, json!({})).await.code(),
        "UNAUTHENTICATED"
    );
    assert_eq!(
        app.gql(REFRESH, json!({"t": there_refresh})).await.code(),
        "UNAUTHENTICATED"
    );
    // This one goes on.
    answers(&mut here_ws).await;
    me(&app, &here.access).await;
    app.gql(REFRESH, json!({"t": here.refresh})).await.data();
    // Only the new password signs in.
    assert_eq!(
        login(&app, "ada@example.com", PASSWORD).await.code(),
        "UNAUTHENTICATED"
    );
    login(&app, "ada@example.com", "a brand new password")
        .await
        .data();
    assert_eq!(
        app.gql(CHANGE, json!({"c": PASSWORD, "n": "another new one"}))
            .await
            .code(),
        "UNAUTHENTICATED"
    );
}

#[tokio::test]
async fn guessing_through_change_password_meets_the_sign_in_limit() {
    let app = TestApp::builder()
        .env("RATE_LIMIT_LOGIN", "3/15m")
        .build()
        .await;
    let ada = register(&app, "ada@example.com").await;
    for n in 0..3 {
        let r = app
            .gql_as(
                &ada.access,
                CHANGE,
                json!({"c": format!("guess number {n}"), "n": "a brand new password"}),
            )
            .await;
        bad_input(&r, "currentPassword");
    }
    // The limit is the sign-in's: the right password waits too, here and at login.
    let r = app
        .gql_as(
            &ada.access,
            CHANGE,
            json!({"c": PASSWORD, "n": "a brand new password"}),
        )
        .await;
    assert_eq!(r.code(), "RATE_LIMITED");
    assert_eq!(
        login(&app, "ada@example.com", PASSWORD).await.code(),
        "RATE_LIMITED"
    );
}

#[tokio::test]
async fn a_reset_link_sets_a_new_password_once_and_ends_every_sign_in() {
    let smtp = SmtpSink::start_on(free_port()).await;
    let app = mailing(TestApp::builder(), &smtp).build().await;
    let ada = register(&app, "ada@example.com").await;
    smtp.message_to("ada@example.com").await; // the verification email
    let mut ws = socket(&app, &ada.access).await;

    // The same answer for an address with an account and one without.
    let known = app
        .gql(REQUEST_RESET, json!({"e": " Ada@Example.com "}))
        .await;
    let unknown = app
        .gql(REQUEST_RESET, json!({"e": "nobody@example.com"}))
        .await;
    assert_eq!(known.status, unknown.status);
    assert_eq!(known.body, json!({"data": {"requestPasswordReset": true}}));
    assert_eq!(known.body, unknown.body);
    bad_input(
        &app.gql(REQUEST_RESET, json!({"e": "not an address"})).await,
        "email",
    );

    let mail = reset_mail(&smtp, "ada@example.com").await;
    let token = code_in(&mail);
    assert!(mail.contains("/reset-password?token="), "{mail}");
    assert!(!stored_text(&app).await.contains(&token));
    // An unknown address gets nothing, and nothing is written for it.
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(mails_to(&smtp, "nobody@example.com").is_empty());
    let rows: i64 = account_challenges::table
        .filter(account_challenges::purpose.eq("reset_password"))
        .count()
        .get_result(&mut app.conn().await)
        .await
        .unwrap();
    assert_eq!(rows, 1);

    // Bad input names its field and changes nothing.
    bad_input(
        &app.gql(RESET, json!({"t": token, "n": "short"})).await,
        "newPassword",
    );
    let (id, _) = token.split_once('.').unwrap();
    bad_input(
        &app.gql(
            RESET,
            json!({"t": format!("{id}.AAAAAAAAAAAAAAAAAAAAAA"), "n": "a brand new password"}),
        )
        .await,
        "token",
    );
    me(&app, &ada.access).await;

    let r = app
        .gql(RESET, json!({"t": token, "n": "a brand new password"}))
        .await;
    assert_eq!(r.body, json!({"data": {"resetPassword": true}}));

    // Signed out everywhere.
    assert_eq!(ws.close_code().await, Some(4403));
    assert_eq!(
        app.gql_as(&ada.access, ME, json!({})).await.code(),
        "UNAUTHENTICATED"
    );
    assert_eq!(
        app.gql(REFRESH, json!({"t": ada.refresh})).await.code(),
        "UNAUTHENTICATED"
    );
    // The new password works, the old does not, and the email is proven.
    assert_eq!(
        login(&app, "ada@example.com", PASSWORD).await.code(),
        "UNAUTHENTICATED"
    );
    let r = login(&app, "ada@example.com", "a brand new password").await;
    let access = r.data()["login"]["accessToken"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(me(&app, &access).await["emailVerified"], true);
    // Once only.
    bad_input(
        &app.gql(RESET, json!({"t": token, "n": "yet another password"}))
            .await,
        "token",
    );
}

#[tokio::test]
async fn a_reset_link_expires() {
    let smtp = SmtpSink::start_on(free_port()).await;
    let (builder, clock) = TestApp::clocked();
    let app = mailing(builder, &smtp)
        .env("PASSWORD_RESET_TTL_MINUTES", "30")
        .build()
        .await;
    register(&app, "ada@example.com").await;
    app.gql(REQUEST_RESET, json!({"e": "ada@example.com"}))
        .await
        .data();
    let token = code_in(&reset_mail(&smtp, "ada@example.com").await);
    clock.advance(chrono::Duration::minutes(31));
    bad_input(
        &app.gql(RESET, json!({"t": token, "n": "a brand new password"}))
            .await,
        "token",
    );
    login(&app, "ada@example.com", PASSWORD).await.data();
}

#[tokio::test]
async fn reset_requests_are_limited_per_email_and_per_client() {
    let app = TestApp::builder()
        .env("RATE_LIMIT_PASSWORD_RESET", "2/1h")
        .env("TRUSTED_PROXIES", "127.0.0.1")
        .build()
        .await;
    register(&app, "ada@example.com").await;
    let ask = |email: &'static str, from: &'static str| {
        let request = app
            .client
            .post(app.url("/graphql"))
            .header("x-forwarded-for", from)
            .json(&json!({"query": REQUEST_RESET, "variables": {"e": email}}));
        async move {
            let body: Value = request.send().await.unwrap().json().await.unwrap();
            body
        }
    };
    let code = |body: &Value| body["errors"][0]["extensions"]["code"].clone();
    // Per email, whichever client asks, for an address with an account or without.
    for email in ["ada@example.com", "nobody@example.com"] {
        assert_eq!(
            ask(email, "203.0.113.1").await["data"]["requestPasswordReset"],
            true
        );
        assert_eq!(
            ask(email, "203.0.113.2").await["data"]["requestPasswordReset"],
            true
        );
        assert_eq!(code(&ask(email, "203.0.113.3").await), "RATE_LIMITED");
    }
    // Per client, whichever email it asks about.
    assert_eq!(
        code(&ask("someone@example.com", "203.0.113.1").await),
        "RATE_LIMITED"
    );
    assert_eq!(
        ask("someone@example.com", "203.0.113.9").await["data"]["requestPasswordReset"],
        true
    );
    let sent: i64 = account_challenges::table
        .filter(account_challenges::purpose.eq("reset_password"))
        .count()
        .get_result(&mut app.conn().await)
        .await
        .unwrap();
    assert_eq!(sent, 2);
}

#[tokio::test]
async fn a_password_change_voids_reset_links_mailed_before_it() {
    let smtp = SmtpSink::start_on(free_port()).await;
    let app = mailing(TestApp::builder(), &smtp).build().await;
    let ada = register(&app, "ada@example.com").await;
    app.gql(REQUEST_RESET, json!({"e": "ada@example.com"}))
        .await
        .data();
    let token = code_in(&reset_mail(&smtp, "ada@example.com").await);
    let r = app
        .gql_as(
            &ada.access,
            CHANGE,
            json!({"c": PASSWORD, "n": "a brand new password"}),
        )
        .await;
    assert_eq!(r.data()["changePassword"], true);
    bad_input(
        &app.gql(RESET, json!({"t": token, "n": "the thief's password"}))
            .await,
        "token",
    );
    login(&app, "ada@example.com", "a brand new password")
        .await
        .data();
}

#[tokio::test]
async fn a_reset_request_answers_without_waiting_for_the_mail_server() {
    // A mail server that accepts connections and never says a word: an answer that
    // waited for it would take lettre's 10 s timeout.
    let silent = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = silent.local_addr().unwrap().port();
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = silent.accept().await {
            held.push(socket);
        }
    });
    let app = TestApp::builder()
        .env("SMTP_HOST", "127.0.0.1")
        .env("SMTP_PORT", &port.to_string())
        .env("SMTP_TLS", "none")
        .env("OUTBOX_POLL_MS", "50")
        .build()
        .await;
    let user = app.with_user(Role::Customer).await;
    let email: String = screema::db::schema::users::table
        .find(user.id)
        .select(screema::db::schema::users::email)
        .first(&mut app.conn().await)
        .await
        .unwrap();
    let timed = |email: String| {
        let app = &app;
        async move {
            let started = std::time::Instant::now();
            let r = app.gql(REQUEST_RESET, json!({"e": email})).await;
            (started.elapsed(), r.body)
        }
    };
    let (known, known_body) = timed(email.clone()).await;
    let (unknown, unknown_body) = timed("nobody@example.com".to_owned()).await;
    assert_eq!(known_body, unknown_body);
    assert!(known < Duration::from_secs(2), "{known:?}");
    assert!(unknown < Duration::from_secs(2), "{unknown:?}");
}
