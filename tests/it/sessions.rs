//! Sessions that end when they should, and websockets that count: a signed-in socket
//! closes when its token expires or its sign-in ends (on whichever node holds it),
//! a revoked access token is refused over HTTP at once, websocket queries count in
//! the general rate limit, and sockets and their operations are capped.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::common;

use std::time::{Duration, Instant};

use common::ws::WsClient;
use common::{Gql, TestApp};
use screema::db::enums::Role;
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

const REGISTER: &str = "mutation($e: String!) { register(input: {email: $e, password: \"correct horse battery\", fullName: \"Ada\"}) { user { id } accessToken refreshToken } }";
const LOGIN: &str = "mutation($e: String!) { login(input: {email: $e, password: \"correct horse battery\"}) { accessToken refreshToken } }";
const REFRESH: &str =
    "mutation($t: String!) { refreshToken(refreshToken: $t) { accessToken refreshToken } }";
const LOGOUT: &str = "mutation($t: String!) { logout(refreshToken: $t) }";
const SET_ROLE: &str =
    "mutation($u: ID!, $r: Role!) { setUserRole(userId: $u, role: $r) { id role } }";
const ME: &str = "{ me { id } }";
const INBOX: &str = "subscription { myNotifications { id } }";

/// Access and refresh token of a sign-in.
fn pair(r: &Gql, field: &str) -> (String, String) {
    let d = &r.data()[field];
    (
        d["accessToken"].as_str().unwrap().to_owned(),
        d["refreshToken"].as_str().unwrap().to_owned(),
    )
}

async fn register(app: &TestApp, email: &str) -> (String, String) {
    pair(&app.gql(REGISTER, json!({"e": email})).await, "register")
}

/// A signed-in socket with a live subscription, as a client keeps one open.
async fn socket(addr: std::net::SocketAddr, legacy: bool, token: &str) -> WsClient {
    let mut ws = WsClient::connect(addr, legacy, Some(token)).await;
    ws.subscribe("inbox", INBOX, json!({})).await;
    ws
}

/// The socket is closed with 4403 within `within`.
async fn closed_forbidden(ws: &mut WsClient, within: Duration) {
    let started = Instant::now();
    assert_eq!(ws.close_code().await, Some(4403));
    assert!(
        started.elapsed() < within,
        "closed after {:?}",
        started.elapsed()
    );
}

/// The legacy protocol's equivalent: `connection_error`, then the socket closes.
async fn refused_legacy(ws: &mut WsClient, within: Duration) {
    let started = Instant::now();
    let message = ws.receive().await;
    assert_eq!(message["type"], "connection_error", "{message}");
    assert!(message["payload"]["message"].is_string(), "{message}");
    assert!(started.elapsed() < within, "after {:?}", started.elapsed());
    ws.close_code().await;
}

/// The socket is still open and answers.
async fn still_open(ws: &mut WsClient) {
    ws.subscribe("me", ME, json!({})).await;
    let message = ws.receive().await;
    assert_eq!(message["type"], "next", "{message}");
    assert!(
        message["payload"]["data"]["me"]["id"].is_string(),
        "{message}"
    );
    assert_eq!(ws.receive().await["type"], "complete");
}

#[tokio::test]
async fn a_demoted_admins_socket_closes_and_their_token_stops_working() {
    let app = TestApp::new().await;
    let boss = app.with_user(Role::Admin).await;
    let demoted = app.with_user(Role::Admin).await;
    let mut ws = socket(app.addr, false, &demoted.token).await;
    let mut legacy = socket(app.addr, true, &demoted.token).await;
    let analytics = "{ analytics { totalBookings } }";
    app.gql_as(&demoted.token, analytics, json!({}))
        .await
        .data();

    let done = app
        .gql_as(
            &boss.token,
            SET_ROLE,
            json!({"u": demoted.id.to_string(), "r": "CUSTOMER"}),
        )
        .await;
    assert_eq!(done.data()["setUserRole"]["role"], "CUSTOMER");

    closed_forbidden(&mut ws, Duration::from_secs(2)).await;
    refused_legacy(&mut legacy, Duration::from_secs(2)).await;
    // The old token still says ADMIN, and is refused all the same.
    let refused = app.gql_as(&demoted.token, analytics, json!({})).await;
    assert_eq!(refused.code(), "UNAUTHENTICATED");
    // So is a new socket with it.
    let mut again = WsClient::open(app.addr, false).await;
    again
        .send(json!({"type": "connection_init", "payload": {"authorization": format!("Bearer {}", demoted.token)}}))
        .await;
    assert_eq!(again.close_code().await, Some(4403));
    // The admin who did it is untouched.
    app.gql_as(&boss.token, analytics, json!({})).await.data();
}

#[tokio::test]
async fn logout_closes_that_sign_ins_sockets_only() {
    let app = TestApp::new().await;
    let (access, refresh) = register(&app, "ada@example.com").await;
    let (other_access, _) = pair(
        &app.gql(LOGIN, json!({"e": "ada@example.com"})).await,
        "login",
    );
    let mut ws = socket(app.addr, false, &access).await;
    let mut legacy = socket(app.addr, true, &access).await;
    let mut other = socket(app.addr, false, &other_access).await;

    let out = app.gql(LOGOUT, json!({"t": refresh})).await;
    assert_eq!(out.data()["logout"], true);

    closed_forbidden(&mut ws, Duration::from_secs(2)).await;
    refused_legacy(&mut legacy, Duration::from_secs(2)).await;
    assert_eq!(
        app.gql_as(&access, ME, json!({})).await.code(),
        "UNAUTHENTICATED"
    );
    // The other sign-in goes on, over HTTP and its socket.
    app.gql_as(&other_access, ME, json!({})).await.data();
    still_open(&mut other).await;
}

#[tokio::test]
async fn refresh_token_reuse_closes_the_familys_sockets() {
    let app = TestApp::new().await;
    let (_, first) = register(&app, "ada@example.com").await;
    let (access, _) = pair(&app.gql(REFRESH, json!({"t": first})).await, "refreshToken");
    let mut ws = socket(app.addr, false, &access).await;
    app.gql_as(&access, ME, json!({})).await.data();

    // A stolen copy of the first token is replayed: the family is revoked.
    assert_eq!(
        app.gql(REFRESH, json!({"t": first})).await.code(),
        "UNAUTHENTICATED"
    );
    closed_forbidden(&mut ws, Duration::from_secs(2)).await;
    assert_eq!(
        app.gql_as(&access, ME, json!({})).await.code(),
        "UNAUTHENTICATED"
    );
}

#[tokio::test]
async fn a_socket_closes_when_its_access_token_expires() {
    let app = TestApp::builder()
        .env("ACCESS_TOKEN_TTL_SECONDS", "2")
        .build()
        .await;
    let (access, _) = register(&app, "ada@example.com").await;
    let started = Instant::now();
    let mut ws = socket(app.addr, false, &access).await;
    let mut legacy = socket(app.addr, true, &access).await;
    let mut anonymous = WsClient::connect(app.addr, false, None).await;

    closed_forbidden(&mut ws, Duration::from_secs(4)).await;
    refused_legacy(&mut legacy, Duration::from_secs(1)).await;
    // Not before it expired (`exp` is in whole seconds: at least one of the two).
    assert!(started.elapsed() >= Duration::from_secs(1));
    // An anonymous socket has no token to expire.
    assert!(anonymous.maybe_next(500).await.is_none());
}

#[tokio::test]
async fn a_demotion_through_one_node_closes_the_socket_on_another() {
    let a = TestApp::new().await;
    let b = a.another_node().build().await;
    let boss = a.with_user(Role::Admin).await;
    let demoted = a.with_user(Role::Admin).await;
    let mut ws = socket(b.addr, false, &demoted.token).await;
    let mut legacy = socket(b.addr, true, &demoted.token).await;
    // Each node's subscriber has joined the sessions channel.
    tokio::time::sleep(Duration::from_millis(300)).await;

    a.gql_as(
        &boss.token,
        SET_ROLE,
        json!({"u": demoted.id.to_string(), "r": "OPERATOR"}),
    )
    .await
    .data();

    closed_forbidden(&mut ws, Duration::from_secs(2)).await;
    refused_legacy(&mut legacy, Duration::from_secs(2)).await;
    assert_eq!(
        b.gql_as(&demoted.token, "{ analytics { totalBookings } }", json!({}))
            .await
            .code(),
        "UNAUTHENTICATED"
    );
}

/// The next message of a socket is the `error` of operation `id`, `RATE_LIMITED`.
async fn limited(ws: &mut WsClient, id: &str) -> Value {
    is_limited(ws.receive().await, id)
}

/// `message` is the `error` of operation `id`, `RATE_LIMITED`: its GraphQL error.
fn is_limited(message: Value, id: &str) -> Value {
    assert_eq!(message["type"], "error", "{message}");
    assert_eq!(message["id"], id, "{message}");
    let error = message["payload"][0].clone();
    assert_eq!(error["extensions"]["code"], "RATE_LIMITED", "{message}");
    assert!(
        error["extensions"]["retryAfterSeconds"].as_u64().unwrap() >= 1,
        "{message}"
    );
    error
}

async fn ws_me(ws: &mut WsClient, id: &str) -> Value {
    ws.subscribe(id, ME, json!({})).await;
    ws.receive().await
}

#[tokio::test]
async fn websocket_queries_count_in_the_general_limit() {
    let app = TestApp::builder()
        .env("RATE_LIMIT_GENERAL", "3/1m")
        .build()
        .await;

    // HTTP first, then the socket.
    let user = app.with_user(Role::Customer).await;
    let mut ws = WsClient::connect(app.addr, false, Some(&user.token)).await;
    for _ in 0..3 {
        app.gql_as(&user.token, ME, json!({})).await.data();
    }
    is_limited(ws_me(&mut ws, "1").await, "1");
    // No `complete` follows an `error`, and the socket stays open.
    assert!(ws.maybe_next(300).await.is_none());
    ws.subscribe("2", INBOX, json!({})).await;
    assert!(ws.maybe_next(300).await.is_none());

    // The socket first, then HTTP; the legacy protocol too, and mutations.
    let other = app.with_user(Role::Customer).await;
    let mut ws = WsClient::connect(app.addr, true, Some(&other.token)).await;
    for id in ["1", "2"] {
        let message = ws_me(&mut ws, id).await;
        assert_eq!(message["type"], "data", "{message}");
        assert_eq!(ws.receive().await["type"], "complete");
    }
    ws.subscribe(
        "3",
        "mutation { markNotificationRead(id: \"00000000-0000-0000-0000-000000000000\") { id } }",
        json!({}),
    )
    .await;
    let answered = ws.receive().await;
    assert_eq!(answered["type"], "data", "{answered}");
    assert_ne!(
        answered["payload"]["errors"][0]["extensions"]["code"], "RATE_LIMITED",
        "{answered}"
    );
    ws.receive().await;
    let response = app
        .client
        .post(app.url("/graphql"))
        .bearer_auth(&other.token)
        .json(&json!({"query": ME}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 429);
    assert!(response.headers().get("retry-after").is_some());
    is_limited(ws_me(&mut ws, "4").await, "4");

    // Anonymous sockets count per client address, as anonymous HTTP does.
    let mut anonymous = WsClient::connect(app.addr, false, None).await;
    for _ in 0..3 {
        app.gql("{ theaters { id } }", json!({})).await.data();
    }
    anonymous
        .subscribe("t", "{ theaters { id } }", json!({}))
        .await;
    limited(&mut anonymous, "t").await;
}

/// Opens a socket, or the HTTP answer that refused the upgrade.
async fn try_open(addr: std::net::SocketAddr) -> Result<(), (u16, Option<String>, Value)> {
    let mut request = format!("ws://{addr}/graphql")
        .into_client_request()
        .unwrap();
    request.headers_mut().insert(
        "sec-websocket-protocol",
        "graphql-transport-ws".parse().unwrap(),
    );
    match tokio_tungstenite::connect_async(request).await {
        Ok(_) => Ok(()),
        Err(tokio_tungstenite::tungstenite::Error::Http(response)) => {
            let retry = response
                .headers()
                .get("retry-after")
                .map(|v| v.to_str().unwrap().to_owned());
            let body: Value = response
                .body()
                .as_ref()
                .map(|b| serde_json::from_slice(b).unwrap())
                .unwrap_or(Value::Null);
            Err((response.status().as_u16(), retry, body))
        }
        Err(e) => panic!("{e}"),
    }
}

#[tokio::test]
async fn a_client_has_a_cap_on_open_sockets() {
    let app = TestApp::builder()
        .env("WS_MAX_CONNECTIONS_PER_CLIENT", "2")
        .build()
        .await;
    let first = WsClient::connect(app.addr, false, None).await;
    let _second = WsClient::connect(app.addr, true, None).await;
    let Err((status, retry_after, body)) = try_open(app.addr).await else {
        panic!("a third socket was accepted");
    };
    assert_eq!(status, 429);
    assert!(retry_after.unwrap().parse::<u64>().unwrap() >= 1);
    let error = &body["errors"][0];
    assert_eq!(error["extensions"]["code"], "RATE_LIMITED", "{body}");
    assert!(
        error["message"]
            .as_str()
            .unwrap()
            .contains("WS_MAX_CONNECTIONS_PER_CLIENT"),
        "{body}"
    );

    // A socket that closes gives its place back.
    drop(first);
    let deadline = Instant::now() + Duration::from_secs(3);
    loop {
        match try_open(app.addr).await {
            Ok(_) => break,
            Err(_) if Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(50)).await
            }
            Err(e) => panic!("the place was not given back: {e:?}"),
        }
    }
}

#[tokio::test]
async fn a_socket_has_a_cap_on_running_operations() {
    let app = TestApp::builder()
        .env("WS_MAX_SUBSCRIPTIONS", "2")
        .build()
        .await;
    let user = app.with_user(Role::Customer).await;
    for legacy in [false, true] {
        let mut ws = WsClient::connect(app.addr, legacy, Some(&user.token)).await;
        ws.subscribe("a", INBOX, json!({})).await;
        ws.subscribe("b", INBOX, json!({})).await;
        ws.subscribe("c", INBOX, json!({})).await;
        let error = limited(&mut ws, "c").await;
        assert!(
            error["message"]
                .as_str()
                .unwrap()
                .contains("WS_MAX_SUBSCRIPTIONS"),
            "{error}"
        );
        // Stopping one makes room; the socket stayed open all along.
        let stop = if legacy { "stop" } else { "complete" };
        ws.send(json!({"id": "a", "type": stop})).await;
        assert_eq!(ws.receive().await["type"], "complete");
        ws.subscribe("c", INBOX, json!({})).await;
        assert!(ws.maybe_next(300).await.is_none());
    }
}

/// The REST routes that take a bearer token refuse a revoked one too: the ticket
/// image (its owner's) and the list of voided tickets (staff). Before, they checked
/// only the token's signature and expiry, so an ended sign-in fetched both until
/// the token expired.
#[tokio::test]
async fn a_revoked_token_fetches_no_ticket_image_and_no_voided_list() {
    let app = TestApp::builder()
        .env("SIMULATED_PAYMENT_DELAY_MS", "600000")
        .build()
        .await;
    let boss = app.with_user(Role::Admin).await;
    let customer = app.with_user(Role::Customer).await;
    let operator = app.with_user(Role::Operator).await;
    let showtime = {
        let mut conn = app.conn().await;
        common::fixtures::one_row_showtime(
            &mut conn,
            4,
            &[],
            app.app.now() + chrono::Duration::days(1),
        )
        .await
    };
    let (id, _) = common::flow::confirmed(&app, &customer, showtime, &["A1"]).await;
    let fetch = |token: String, path: String| {
        let client = app.client.clone();
        let url = app.url(&path);
        async move {
            client
                .get(url)
                .bearer_auth(token)
                .send()
                .await
                .unwrap()
                .status()
                .as_u16()
        }
    };
    let image = format!("/api/tickets/{id}.png");
    let voided = format!(
        "/api/tickets/revoked?showtimeId={showtime}&since={}",
        urlencode("2020-01-01T00:00:00Z")
    );
    common::flow::eventually("the ticket image", || async {
        fetch(customer.token.clone(), image.clone()).await == 200
    })
    .await;
    assert_eq!(fetch(operator.token.clone(), voided.clone()).await, 200);

    for user in [&customer, &operator] {
        let done = app
            .gql_as(
                &boss.token,
                SET_ROLE,
                json!({"u": user.id.to_string(), "r": "CUSTOMER"}),
            )
            .await;
        assert_eq!(done.data()["setUserRole"]["role"], "CUSTOMER");
    }
    assert_eq!(fetch(customer.token.clone(), image).await, 401);
    assert_eq!(fetch(operator.token.clone(), voided).await, 401);
}

fn urlencode(s: &str) -> String {
    s.replace(':', "%3A")
}
