//! Nothing leaks or grows without bound from outside (issue 17):
//!
//! - metrics labels come only from names the schema and HTTP define, whatever names
//!   clients send;

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::TestApp;
use serde_json::json;

// ---------------------------------------------------------------------------
// Metrics labels are bounded
// ---------------------------------------------------------------------------

/// The series `/metrics` reports (its lines that are not comments).
async fn series(app: &TestApp) -> usize {
    let body = app.get("/metrics").await.text().await.unwrap();
    body.lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .count()
}

/// One request of each kind a client can make up: a root field of each operation
/// type, a method and a path.
async fn made_up(app: &TestApp, i: usize) {
    for query in [
        format!("{{ madeUp{i} }}"),
        format!("mutation {{ madeUp{i} }}"),
        format!("{{ __typename made{i}: madeUp{i} }}"),
    ] {
        let r = app.gql(&query, json!({})).await;
        assert_eq!(r.code(), "BAD_USER_INPUT", "{}", r.body);
    }
    for path in ["/graphql".to_owned(), format!("/made-up/{i}")] {
        let method = reqwest::Method::from_bytes(format!("MADEUP{i}").as_bytes()).unwrap();
        let status = app
            .client
            .request(method, app.url(&path))
            .send()
            .await
            .unwrap()
            .status();
        assert!(status.is_client_error(), "{status}");
    }
    let status = app.get(&format!("/made-up/{i}")).await.status();
    assert_eq!(status, 404);
}

/// A thousand made-up root fields, methods and paths leave `/metrics` with as many
/// series as one of each did: they all fall into `other` (and `unmatched`).
#[tokio::test]
async fn metrics_stay_the_same_size_whatever_names_clients_send() {
    let app = TestApp::new().await;
    made_up(&app, 0).await;
    // The scrape counts itself after it answers: the second one is the baseline.
    series(&app).await;
    let before = series(&app).await;
    for chunk in (1..=1000).collect::<Vec<_>>().chunks(50) {
        futures_util::future::join_all(chunk.iter().map(|i| made_up(&app, *i))).await;
    }
    let after = series(&app).await;
    assert_eq!(before, after, "metrics grew with made-up names");
    let body = app.get("/metrics").await.text().await.unwrap();
    assert!(!body.contains("madeUp"), "a made-up name became a label");
    assert!(!body.contains("MADEUP"), "a made-up method became a label");
    assert!(body.contains("operation=\"other\""), "{body}");
    assert!(body.contains("method=\"other\""), "{body}");
    // Real operations are still named.
    app.gql("{ theaters { id } }", json!({})).await.data();
    let body = app.get("/metrics").await.text().await.unwrap();
    assert!(body.contains("operation=\"query.theaters\""), "{body}");
}
