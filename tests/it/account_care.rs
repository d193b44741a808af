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
use common::{Gql, TestApp, TestAppBuilder, TestUser};
use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use screema::db::enums::Role;
use screema::db::schema::{account_challenges, outbox};
use serde_json::{Value, json};
use uuid::Uuid;

const REGISTER: &str = "mutation($e: String!, $p: String) { register(input: {email: $e, \
    password: \"correct horse battery\", fullName: \"Ada Lovelace\", phone: $p}) \
    { user { id emailVerified } accessToken } }";
const ME: &str = "{ me { id email phone emailVerified phoneVerified } }";
const REQUEST_EMAIL: &str = "mutation { requestEmailVerification }";
const VERIFY_EMAIL: &str =
    "mutation($c: String!) { verifyEmail(code: $c) { id email emailVerified } }";
const REQUEST_PHONE: &str = "mutation { requestPhoneVerification }";
const VERIFY_PHONE: &str =
    "mutation($c: String!) { verifyPhone(code: $c) { id phone phoneVerified } }";
const UPDATE_PHONE: &str =
    "mutation($p: String) { updateProfile(input: {phone: $p}) { phone phoneVerified } }";

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
}

async fn register(app: &TestApp, email: &str) -> Registered {
    let r = app.gql(REGISTER, json!({"e": email})).await;
    let d = &r.data()["register"];
    assert_eq!(d["user"]["emailVerified"], false);
    Registered {
        id: d["user"]["id"].as_str().unwrap().to_owned(),
        access: d["accessToken"].as_str().unwrap().to_owned(),
    }
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

    // The number changes before the code is typed: the code proves the old number
    // only, so it proves nothing now, even after changing back.
    set_phone(&app, &user, "+14155550199").await;
    bad_input(
        &app.gql_as(&user.token, VERIFY_PHONE, json!({"c": code}))
            .await,
        "code",
    );
    set_phone(&app, &user, "+14155550123").await;
    bad_input(
        &app.gql_as(&user.token, VERIFY_PHONE, json!({"c": code}))
            .await,
        "code",
    );
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
