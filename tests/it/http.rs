//! The HTTP surface: health, metrics, limits, GraphiQL, GET queries, CORS, websockets.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::common;

use common::TestApp;
use common::ws::WsClient;
use serde_json::{Value, json};

#[tokio::test]
async fn liveness_and_readiness_when_all_is_well() {
    let app = TestApp::new().await;
    let live = app.get("/health/live").await;
    assert_eq!(live.status(), 200);
    let ready = app.get("/health/ready").await;
    assert_eq!(ready.status(), 200);
    let body: Value = ready.json().await.unwrap();
    assert_eq!(
        body,
        json!({"status": "ready", "postgres": "up", "redis": "up", "down": []})
    );
}

#[tokio::test]
async fn readiness_names_a_redis_that_is_down() {
    let app = TestApp::builder()
        .env("REDIS_URL", "redis://127.0.0.1:1")
        .build()
        .await;
    let ready = app.get("/health/ready").await;
    assert_eq!(ready.status(), 503);
    let body: Value = ready.json().await.unwrap();
    assert_eq!(body["down"], json!(["redis"]));
    assert_eq!(body["postgres"], "up");
    assert_eq!(app.get("/health/live").await.status(), 200);
}

#[tokio::test]
async fn readiness_names_a_postgres_that_is_down_and_queries_fail_cleanly() {
    let app = TestApp::builder().without_database().build().await;
    let ready = app.get("/health/ready").await;
    assert_eq!(ready.status(), 503);
    let body: Value = ready.json().await.unwrap();
    assert_eq!(body["down"], json!(["postgres"]));
    // `gql` checks that the error has a code and leaks nothing.
    let r = app.gql("{ theaters { name } }", json!({})).await;
    assert_eq!(r.code(), "UNAVAILABLE");
    assert_eq!(r.status, 503);
}

#[tokio::test]
async fn metrics_count_operations_by_outcome_with_latency_and_pool_usage() {
    let app = TestApp::new().await;
    app.gql("{ theaters { name } }", json!({})).await.data();
    app.gql("{ theaters { name } }", json!({})).await.data();
    assert_eq!(
        app.gql("{ movies(limit: 0) { pagination { total } } }", json!({}))
            .await
            .code(),
        "BAD_USER_INPUT"
    );
    let response = app.get("/metrics").await;
    assert_eq!(response.status(), 200);
    assert!(
        response.headers()["content-type"]
            .to_str()
            .unwrap()
            .contains("openmetrics-text")
    );
    let text = response.text().await.unwrap();
    for line in [
        "screema_graphql_requests_total{operation=\"query.theaters\",outcome=\"OK\"} 2",
        "screema_graphql_requests_total{operation=\"query.movies\",outcome=\"BAD_USER_INPUT\"} 1",
        "screema_graphql_request_duration_seconds_count{operation=\"query.theaters\"} 2",
        "screema_http_requests_total{method=\"POST\",route=\"/graphql\",status=\"200\"} 3",
    ] {
        assert!(text.contains(line), "missing `{line}` in\n{text}");
    }
    assert!(text.contains("screema_db_pool_connections "), "{text}");
    assert!(text.contains("screema_db_statements_total "), "{text}");
}

#[tokio::test]
async fn oversized_bodies_are_refused() {
    let app = TestApp::new().await;
    let padding = "#".repeat(70 * 1024);
    let response = app
        .client
        .post(app.url("/graphql"))
        .header("content-type", "application/json")
        .body(json!({"query": format!("{{ theaters {{ name }} }} {padding}")}).to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 413);
}

#[tokio::test]
async fn deep_and_costly_queries_are_refused_before_they_run() {
    // The background workers count statements too: keep them out of the way.
    let app = TestApp::builder()
        .env("SWEEP_INTERVAL_MS", "3600000")
        .env("OUTBOX_POLL_MS", "3600000")
        .build()
        .await;
    let before = app.statements().await;
    // 2 + 2×8 + 1 = 19 levels; the limit is 15.
    let deep = format!(
        "{{ movies {{ movies {{ {} id {} }} }} }}",
        "showtimes { movie { ".repeat(8),
        "} } ".repeat(8)
    );
    let r = app.gql(&deep, json!({})).await;
    assert_eq!(r.code(), "BAD_USER_INPUT");
    assert!(
        r.error()["message"]
            .as_str()
            .unwrap()
            .contains("nested too deep"),
        "{}",
        r.body
    );

    let flood: String = (0..400)
        .map(|i| format!("a{i}: snacks {{ id name }} "))
        .collect();
    let r = app.gql(&format!("{{ {flood} }}"), json!({})).await;
    assert_eq!(r.code(), "BAD_USER_INPUT");
    assert!(
        r.error()["message"]
            .as_str()
            .unwrap()
            .contains("too complex"),
        "{}",
        r.body
    );

    // A large page with deep selections is costed by its limit.
    let r = app
        .gql(
            "{ movies(limit: 100) { movies { title description duration rating genres cast director posterUrl
               showtimes { id startTime seatMap { rows { seats { number price { amount } } } } } } } }",
            json!({}),
        )
        .await;
    assert_eq!(r.code(), "BAD_USER_INPUT");
    assert_eq!(
        app.statements().await,
        before,
        "nothing reached the database"
    );

    let r = app.gql("{ theaters { name ", json!({})).await;
    assert_eq!(r.code(), "BAD_USER_INPUT");
    let r = app.gql("{ theaters { nonsense } }", json!({})).await;
    assert_eq!(r.code(), "BAD_USER_INPUT");
}

#[tokio::test]
async fn get_runs_queries_and_a_browser_gets_graphiql_served_offline() {
    let app = TestApp::new().await;
    let response = app
        .get("/graphql?query=%7B%20theaters%20%7B%20name%20%7D%20%7D")
        .await;
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body, json!({"data": {"theaters": []}}));

    let page = app
        .client
        .get(app.url("/graphql"))
        .header("accept", "text/html,application/xhtml+xml")
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 200);
    assert!(
        page.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
    let html = page.text().await.unwrap();
    assert!(html.contains("/graphiql/graphiql.min.js"));
    assert!(
        !html.contains("unpkg") && !html.contains("cdn"),
        "GraphiQL must not need the internet"
    );
    for (asset, kind) in [
        ("graphiql.min.js", "text/javascript"),
        ("graphiql.min.css", "text/css"),
        ("react.production.min.js", "text/javascript"),
        ("react-dom.production.min.js", "text/javascript"),
    ] {
        let r = app.get(&format!("/graphiql/{asset}")).await;
        assert_eq!(r.status(), 200, "{asset}");
        assert!(
            r.headers()["content-type"]
                .to_str()
                .unwrap()
                .starts_with(kind),
            "{asset}"
        );
        assert!(
            r.bytes().await.unwrap().len() > 5_000,
            "{asset} is the real file"
        );
    }
    assert_eq!(app.get("/graphiql/../../Cargo.toml").await.status(), 404);
    assert_eq!(app.get("/graphiql/secret.js").await.status(), 404);
}

#[tokio::test]
async fn cors_allows_listed_origins_only() {
    let app = TestApp::builder()
        .env("CORS_ORIGINS", "https://app.screema.example")
        .build()
        .await;
    let preflight = |origin: &'static str| {
        app.client
            .request(reqwest::Method::OPTIONS, app.url("/graphql"))
            .header("origin", origin)
            .header("access-control-request-method", "POST")
            .header(
                "access-control-request-headers",
                "content-type,authorization",
            )
            .send()
    };
    let ok = preflight("https://app.screema.example").await.unwrap();
    assert_eq!(
        ok.headers()["access-control-allow-origin"],
        "https://app.screema.example"
    );
    let refused = preflight("https://evil.example").await.unwrap();
    assert!(
        refused
            .headers()
            .get("access-control-allow-origin")
            .is_none()
    );
}

#[tokio::test]
async fn the_websocket_speaks_both_subscription_protocols() {
    let app = TestApp::new().await;
    // Each connects with its sub-protocol, checks the server chose it, and waits for
    // `connection_ack`.
    WsClient::connect(app.addr, false, None).await;
    WsClient::connect(app.addr, true, None).await;
}

/// graphql-transport-ws and subscriptions-transport-ws both answer an operation that
/// never ran (unparsable, invalid) with `error` and nothing after it; an operation that
/// ran and failed in a resolver with a result (`next`/`data`) and then `complete`.
#[tokio::test]
async fn operations_that_never_ran_get_error_and_those_that_failed_a_result() {
    let app = TestApp::new().await;
    for legacy in [false, true] {
        let mut ws = WsClient::connect(app.addr, legacy, None).await;
        for (id, query) in [
            (
                "1",
                "subscription { seatMap(showtimeId: \"x\") { nosuch } }",
            ),
            ("2", "subscription { seatMap("),
            ("3", "{ theaters { id } } { movies { total } }"),
        ] {
            ws.subscribe(id, query, json!({})).await;
            let message = ws.receive().await;
            assert_eq!(message["type"], "error", "{query}: {message}");
            assert_eq!(message["id"], id, "{message}");
            assert_eq!(
                message["payload"][0]["extensions"]["code"], "BAD_USER_INPUT",
                "{message}"
            );
        }
        let unknown = "subscription { seatMap(showtimeId: \"00000000-0000-0000-0000-000000000000\") { version } }";
        ws.subscribe("4", unknown, json!({})).await;
        let result = ws.receive().await;
        let kind = if legacy { "data" } else { "next" };
        assert_eq!(result["type"], kind, "{result}");
        assert_eq!(
            result["payload"]["errors"][0]["path"][0], "seatMap",
            "{result}"
        );
        let complete = ws.receive().await;
        assert_eq!(
            (&complete["type"], &complete["id"]),
            (&json!("complete"), &json!("4"))
        );
        assert!(ws.maybe_next(200).await.is_none(), "nothing after `error`");
    }
}

#[tokio::test]
async fn websocket_protocol_violations_close_with_the_protocols_codes() {
    let app = TestApp::new().await;
    let query = "subscription { seatMap(showtimeId: \"00000000-0000-0000-0000-000000000000\") { version } }";

    let mut ws = WsClient::open(app.addr, false).await;
    ws.subscribe("1", query, json!({})).await;
    assert_eq!(
        ws.close_code().await,
        Some(4401),
        "a subscription before the handshake"
    );

    let mut ws = WsClient::connect(app.addr, false, None).await;
    ws.send(json!({"type": "connection_init"})).await;
    assert_eq!(
        ws.close_code().await,
        Some(4429),
        "a second connection_init"
    );

    let user = app.with_user(screema::db::enums::Role::Customer).await;
    let mut ws = WsClient::connect(app.addr, false, Some(&user.token)).await;
    let inbox = "subscription { myNotifications { id } }";
    ws.subscribe("1", inbox, json!({})).await;
    ws.subscribe("1", inbox, json!({})).await;
    assert_eq!(ws.close_code().await, Some(4409), "an id already in use");

    let mut ws = WsClient::connect(app.addr, false, None).await;
    ws.send_text("{not json").await;
    assert_eq!(ws.close_code().await, Some(4400), "an unreadable message");

    let mut ws = WsClient::connect(app.addr, true, None).await;
    ws.send(json!({"type": "connection_init"})).await;
    assert_eq!(ws.receive().await["type"], "connection_error");
}

#[tokio::test]
async fn shutting_down_closes_websockets_with_going_away() {
    let mut app = TestApp::new().await;
    let user = app.with_user(screema::db::enums::Role::Customer).await;
    let mut ws = WsClient::connect(app.addr, false, Some(&user.token)).await;
    ws.subscribe("1", "subscription { myNotifications { id } }", json!({}))
        .await;
    app.shut_down();
    assert_eq!(ws.close_code().await, Some(1001));
}

#[tokio::test]
async fn a_get_never_runs_a_mutation() {
    let app = TestApp::new().await;
    let register = "mutation { register(input: {email: \"link@example.com\", password: \"a-long-enough-password\", fullName: \"Link\"}) { user { id } } }";
    let response = app
        .client
        .get(app.url("/graphql"))
        .query(&[("query", register)])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 405);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["errors"][0]["extensions"]["code"], "BAD_USER_INPUT");
    assert_eq!(body["errors"][0]["extensions"]["field"], "query");
    // Nothing was written: the same registration over POST succeeds.
    app.gql(register, json!({})).await.data();
}

#[tokio::test]
async fn a_body_that_is_not_a_graphql_request_gets_a_coded_error() {
    let app = TestApp::new().await;
    let post = |body: String| {
        app.client
            .post(app.url("/graphql"))
            .header("content-type", "application/json")
            .body(body)
            .send()
    };
    for (body, status) in [
        ("{\"query\": ".to_owned(), 400),
        (
            "[{\"query\": \"{ theaters { name } }\"}, {\"query\": \"{ snacks { name } }\"}]"
                .to_owned(),
            400,
        ),
    ] {
        let response = post(body.clone()).await.unwrap();
        assert_eq!(response.status(), status, "{body}");
        let answer: Value = response.json().await.unwrap();
        assert_eq!(
            answer["errors"][0]["extensions"]["code"], "BAD_USER_INPUT",
            "{answer}"
        );
        assert_eq!(
            answer["errors"][0]["extensions"]["field"], "body",
            "{answer}"
        );
    }
    // Too large without a Content-Length (streamed): 413, coded like the rest.
    let chunks =
        futures_util::stream::iter((0..100).map(|_| Ok::<_, std::io::Error>(vec![b' '; 1024])));
    let response = app
        .client
        .post(app.url("/graphql"))
        .header("content-type", "application/json")
        .body(reqwest::Body::wrap_stream(chunks))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 413);
    let answer: Value = response.json().await.unwrap();
    assert_eq!(answer["errors"][0]["extensions"]["code"], "BAD_USER_INPUT");
}
