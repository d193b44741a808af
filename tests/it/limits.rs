//! Rate limits kept in Redis, and websocket authentication.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::common;

use common::TestApp;
use futures_util::{SinkExt, StreamExt};
use screema::db::enums::Role;
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

const Q: &str = "{ theaters { id } }";

#[tokio::test]
async fn the_general_limit_trips_per_client_and_resets_after_its_window() {
    let app = TestApp::builder()
        .env("RATE_LIMIT_GENERAL", "3/1s")
        .build()
        .await;
    for _ in 0..3 {
        app.gql(Q, json!({})).await.data();
    }
    let limited = app
        .client
        .post(app.url("/graphql"))
        .json(&json!({"query": Q}))
        .send()
        .await
        .unwrap();
    assert_eq!(limited.status(), 429);
    let retry_after: u64 = limited.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=1).contains(&retry_after));
    let body: Value = limited.json().await.unwrap();
    assert_eq!(body["errors"][0]["extensions"]["code"], "RATE_LIMITED");
    assert_eq!(
        body["errors"][0]["extensions"]["retryAfterSeconds"],
        retry_after
    );
    assert!(body["data"].is_null());

    // A signed-in user is counted on their own, not with their address.
    let user = app.with_user(Role::Customer).await;
    app.gql_as(&user.token, Q, json!({})).await.data();

    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    app.gql(Q, json!({})).await.data();
}

#[tokio::test]
async fn forwarded_addresses_count_only_behind_a_trusted_proxy() {
    let send = |app: &TestApp, from: &'static str| {
        app.client
            .post(app.url("/graphql"))
            .header("x-forwarded-for", from)
            .json(&json!({"query": Q}))
            .send()
    };
    let trusting = TestApp::builder()
        .env("RATE_LIMIT_GENERAL", "1/1m")
        .env("TRUSTED_PROXIES", "127.0.0.1")
        .build()
        .await;
    assert_eq!(send(&trusting, "203.0.113.1").await.unwrap().status(), 200);
    assert_eq!(send(&trusting, "203.0.113.2").await.unwrap().status(), 200);
    assert_eq!(send(&trusting, "203.0.113.1").await.unwrap().status(), 429);

    let wary = TestApp::builder()
        .env("RATE_LIMIT_GENERAL", "1/1m")
        .build()
        .await;
    assert_eq!(send(&wary, "203.0.113.1").await.unwrap().status(), 200);
    // A client cannot dodge the limit by making up a header.
    assert_eq!(send(&wary, "203.0.113.2").await.unwrap().status(), 429);
}

#[tokio::test]
async fn failed_logins_are_limited_per_email() {
    let app = TestApp::builder()
        .env("RATE_LIMIT_LOGIN", "3/1m")
        .build()
        .await;
    app.gql(
        "mutation { register(input: {email: \"ada@example.com\", password: \"correct horse\", fullName: \"Ada\"}) { accessToken } }",
        json!({}),
    )
    .await
    .data();
    let login = "mutation($p: String!) { login(input: {email: \"ada@example.com\", password: $p}) { accessToken } }";
    for _ in 0..3 {
        assert_eq!(
            app.gql(login, json!({"p": "wrong guess"})).await.code(),
            "UNAUTHENTICATED"
        );
    }
    // Even the right password waits now: the guesser cannot tell.
    let r = app.gql(login, json!({"p": "correct horse"})).await;
    assert_eq!(r.code(), "RATE_LIMITED");
    assert!(
        r.error()["extensions"]["retryAfterSeconds"]
            .as_u64()
            .unwrap()
            >= 1
    );
}

async fn connect(app: &TestApp, protocol: &str, payload: Value) -> (Option<Value>, Option<u16>) {
    let mut request = format!("ws://{}/graphql", app.addr)
        .into_client_request()
        .unwrap();
    request
        .headers_mut()
        .insert("sec-websocket-protocol", protocol.parse().unwrap());
    let (mut socket, _) = tokio_tungstenite::connect_async(request).await.unwrap();
    socket
        .send(Message::text(
            json!({"type": "connection_init", "payload": payload}).to_string(),
        ))
        .await
        .unwrap();
    let mut first = None;
    while let Ok(Some(Ok(message))) =
        tokio::time::timeout(std::time::Duration::from_secs(5), socket.next()).await
    {
        match message {
            Message::Text(text) => {
                let value: Value = serde_json::from_str(&text).unwrap();
                let ack = value["type"] == "connection_ack";
                first.get_or_insert(value);
                if ack {
                    return (first, None);
                }
            }
            Message::Close(frame) => return (first, frame.map(|f| u16::from(f.code))),
            _ => {}
        }
    }
    (first, None)
}

#[tokio::test]
async fn websocket_connections_authenticate_in_connection_init() {
    let app = TestApp::new().await;
    let user = app.with_user(Role::Customer).await;
    let bearer = format!("Bearer {}", user.token);
    for protocol in ["graphql-transport-ws", "graphql-ws"] {
        let (ack, _) = connect(&app, protocol, json!({"authorization": bearer})).await;
        assert_eq!(ack.unwrap()["type"], "connection_ack", "{protocol}");
        let (ack, _) = connect(&app, protocol, json!({"Authorization": bearer})).await;
        assert_eq!(ack.unwrap()["type"], "connection_ack", "{protocol}");
        let (ack, _) = connect(&app, protocol, json!({})).await;
        assert_eq!(
            ack.unwrap()["type"],
            "connection_ack",
            "{protocol}: anonymous is allowed"
        );
    }
    let (first, close) = connect(
        &app,
        "graphql-transport-ws",
        json!({"authorization": "Bearer forged"}),
    )
    .await;
    assert!(first.is_none(), "no ack for a bad token: {first:?}");
    assert_eq!(close, Some(4403));
    let (first, _) = connect(
        &app,
        "graphql-ws",
        json!({"authorization": "Bearer forged"}),
    )
    .await;
    assert_eq!(first.unwrap()["type"], "connection_error");
}

#[tokio::test]
async fn failed_logins_are_limited_per_client_across_emails() {
    let app = TestApp::builder()
        .env("RATE_LIMIT_LOGIN", "3/1m")
        .build()
        .await;
    let login = "mutation($e: String!) { login(input: {email: $e, password: \"guess-guess\"}) { accessToken } }";
    for n in 0..3 {
        let r = app
            .gql(login, json!({"e": format!("victim{n}@example.com")}))
            .await;
        assert_eq!(r.code(), "UNAUTHENTICATED");
    }
    // A fourth address from the same client: the stuffing is slowed all the same.
    let r = app.gql(login, json!({"e": "victim9@example.com"})).await;
    assert_eq!(r.code(), "RATE_LIMITED");
}

#[tokio::test]
async fn query_limits_hold_for_every_role() {
    let app = TestApp::new().await;
    let deep = format!(
        "{{ movies {{ movies {{ {} id {} }} }} }}",
        "showtimes { movie { ".repeat(8),
        "} } ".repeat(8)
    );
    let flood: String = (0..400)
        .map(|i| format!("a{i}: snacks {{ id name }} "))
        .collect();
    for role in [Role::Customer, Role::Operator, Role::Admin] {
        let user = app.with_user(role).await;
        let r = app.gql_as(&user.token, &deep, json!({})).await;
        assert_eq!(r.code(), "BAD_USER_INPUT", "{role:?}");
        let r = app
            .gql_as(&user.token, &format!("{{ {flood} }}"), json!({}))
            .await;
        assert_eq!(r.code(), "BAD_USER_INPUT", "{role:?}");
    }
}

/// Postgres cannot store NUL: a NUL anywhere in what a client sends is its mistake,
/// named, before any resolver runs, over HTTP and the websocket alike.
#[tokio::test]
async fn nul_in_any_argument_is_refused_naming_its_field() {
    let app = TestApp::new().await;
    let cases: Vec<(&str, Value, &str)> = vec![
        (
            "{ movies(search: \"a\\u0000b\") { total } }",
            json!({}),
            "search",
        ),
        (
            "mutation($i: LoginInput!) { login(input: $i) { token } }",
            json!({"i": {"email": "a\u{0}@example.com", "password": "x"}}),
            "email",
        ),
        (
            "mutation($c: String!) { createMovie(input: {title: \"X\", duration: 90, ageRating: {system: \"MPAA\", code: $c, minAge: 17}}) { id } }",
            json!({"c": "R\u{0}"}),
            "ageRating.code",
        ),
        (
            "mutation($e: String! = \"x\\u0000@example.com\") { requestPasswordReset(email: $e) }",
            json!({}),
            "email",
        ),
        (
            "query { ...M } fragment M on Query { movies(genre: \"\\u0000\") { total } }",
            json!({}),
            "genre",
        ),
        (
            "query($g: [String!]) { theaters { id } movies(search: \"x\") { total } } ",
            json!({"g": ["ok", "\u{0}"]}),
            "g[1]",
        ),
        (
            "query($q: String) { movies(search: $q) { total } }",
            json!({"q": "\u{0}"}),
            "search",
        ),
    ];
    for (query, variables, field) in cases {
        let r = app.gql(query, variables).await;
        assert_eq!(
            (r.code(), r.field()),
            ("BAD_USER_INPUT", Some(field)),
            "{query}: {}",
            r.body
        );
        assert!(r.body["data"].is_null(), "{}", r.body);
    }
    // The same over the websocket.
    let mut ws = common::ws::WsClient::connect(app.addr, false, None).await;
    ws.subscribe(
        "1",
        "subscription($s: ID!) { seatMap(showtimeId: $s) { version } }",
        json!({"s": "\u{0}"}),
    )
    .await;
    let message = ws.receive().await;
    assert_eq!(message["type"], "error", "{message}");
    assert_eq!(
        message["payload"][0]["extensions"]["code"], "BAD_USER_INPUT",
        "{message}"
    );
    assert_eq!(
        message["payload"][0]["extensions"]["field"], "showtimeId",
        "{message}"
    );
}
