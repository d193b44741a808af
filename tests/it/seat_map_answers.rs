//! Seat maps read once per version (`graphql::engine::seat_maps`): customers who ask
//! the same question of a showtime at the same version share one encoded answer, and
//! nobody is ever served a map that is not the showtime's now, nor one that says what
//! another customer holds is theirs.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::common;

use chrono::Duration;
use common::TestApp;
use common::fixtures as fx;
use common::flow::lock;
use screema::db::enums::Role;
use serde_json::{Value, json};

const MAP: &str = "query($s: ID!) { showtime(id: $s) { id availableSeats seatMap { version rows { label seats { number state heldByMe price { amount } } } } } }";

/// How many seat map answers were shared (`/metrics`).
async fn shared(app: &TestApp) -> u64 {
    let text = app.get("/metrics").await.text().await.unwrap();
    text.lines()
        .find_map(|l| l.strip_prefix("screema_seat_map_answers_shared_total "))
        .and_then(|v| v.trim().parse().ok())
        .expect("the shared answers counter in /metrics")
}

/// A showtime tomorrow in a small room.
async fn showtime_tomorrow(app: &TestApp) -> uuid::Uuid {
    let mut conn = app.conn().await;
    let theater = fx::theater(&mut conn, "Rex", "UTC").await;
    let screen = fx::screen(&mut conn, theater, 1, fx::small_layout()).await;
    let movie = fx::movie(&mut conn, fx::MovieSpec::default()).await;
    let at = app.app.now() + Duration::days(1);
    fx::showtime(&mut conn, movie, screen, at, "10.00").await
}

fn state(map: &Value, seat: &str) -> (String, bool) {
    let seat = map["showtime"]["seatMap"]["rows"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|r| r["seats"].as_array().unwrap())
        .find(|s| s["number"] == seat)
        .unwrap();
    (
        seat["state"].as_str().unwrap().to_owned(),
        seat["heldByMe"].as_bool().unwrap(),
    )
}

#[tokio::test]
async fn a_seat_map_is_encoded_once_a_version_and_never_shared_stale_or_as_someone_elses() {
    let (builder, clock) = TestApp::clocked();
    let app = builder.build().await;
    let alice = app.with_user(Role::Customer).await;
    let bob = app.with_user(Role::Customer).await;
    let carol = app.with_user(Role::Customer).await;
    let operator = app.with_user(Role::Operator).await;
    let showtime = showtime_tomorrow(&app).await;
    let vars = json!({"s": showtime.to_string()});
    // A first hold makes Redis know the showtime's sold and blocked seats whole.
    lock(&app, &alice, showtime, &["A2"]).await;

    // Bob's answer is encoded and kept; Carol, asking the same, gets its bytes.
    let before = shared(&app).await;
    let bobs = app
        .gql_as(&bob.token, MAP, vars.clone())
        .await
        .data()
        .clone();
    assert_eq!(shared(&app).await, before);
    let carols = app
        .gql_as(&carol.token, MAP, vars.clone())
        .await
        .data()
        .clone();
    assert_eq!(shared(&app).await, before + 1);
    assert_eq!(carols, bobs);
    assert_eq!(state(&carols, "A2"), ("HELD".to_owned(), false));
    // Anonymous readers see what customers see, and share it too.
    assert_eq!(app.gql(MAP, vars.clone()).await.data(), &bobs);
    assert_eq!(shared(&app).await, before + 2);

    // Alice holds A2: the shared answer says it is not hers, so she is not given it.
    let alices = app
        .gql_as(&alice.token, MAP, vars.clone())
        .await
        .data()
        .clone();
    assert_eq!(state(&alices, "A2"), ("HELD".to_owned(), true));
    assert_eq!(shared(&app).await, before + 2);
    // ... and hers, which says it is, is not kept for anyone else.
    let bobs_again = app
        .gql_as(&bob.token, MAP, vars.clone())
        .await
        .data()
        .clone();
    assert_eq!(state(&bobs_again, "A2"), ("HELD".to_owned(), false));

    // A change is a new version: the next reader reads it, not the kept answer.
    let version = |m: &Value| m["showtime"]["seatMap"]["version"].as_i64().unwrap();
    lock(&app, &carol, showtime, &["A3"]).await;
    let after_hold = app
        .gql_as(&bob.token, MAP, vars.clone())
        .await
        .data()
        .clone();
    assert_eq!(state(&after_hold, "A3"), ("HELD".to_owned(), false));
    assert_eq!(version(&after_hold), version(&bobs) + 1);
    let shared_now = shared(&app).await;
    assert_eq!(
        app.gql_as(&bob.token, MAP, vars.clone()).await.data(),
        &after_hold
    );
    assert_eq!(shared(&app).await, shared_now + 1);

    // Holds that lapse leave the map at once, before the sweeper takes a new version.
    clock.advance(Duration::minutes(11));
    let lapsed = app
        .gql_as(&bob.token, MAP, vars.clone())
        .await
        .data()
        .clone();
    assert_eq!(version(&lapsed), version(&after_hold));
    assert_eq!(state(&lapsed, "A2"), ("AVAILABLE".to_owned(), false));
    assert_eq!(state(&lapsed, "A3"), ("AVAILABLE".to_owned(), false));
    assert_eq!(shared(&app).await, shared_now + 1);

    // Staff read the reasons seats are blocked: their answers are their own.
    let shared_now = shared(&app).await;
    app.gql_as(&operator.token, MAP, vars.clone()).await.data();
    app.gql_as(&operator.token, MAP, vars.clone()).await.data();
    assert_eq!(shared(&app).await, shared_now);
    // As is anything that reads more of the showtime than its seats.
    let more = "query($s: ID!) { showtime(id: $s) { startTime seatMap { version } } }";
    app.gql_as(&bob.token, more, vars.clone()).await.data();
    app.gql_as(&bob.token, more, vars.clone()).await.data();
    assert_eq!(shared(&app).await, shared_now);
}

/// Redis losing a showtime's data starts its versions again under a new epoch: an
/// answer kept from before is not served at a version number that came round again.
#[tokio::test]
async fn an_answer_from_before_redis_lost_the_showtime_is_not_served_after() {
    let app = TestApp::new().await;
    let alice = app.with_user(Role::Customer).await;
    let bob = app.with_user(Role::Customer).await;
    let showtime = showtime_tomorrow(&app).await;
    let vars = json!({"s": showtime.to_string()});
    lock(&app, &alice, showtime, &["A2"]).await;
    let kept = app
        .gql_as(&bob.token, MAP, vars.clone())
        .await
        .data()
        .clone();
    assert_eq!(state(&kept, "A2"), ("HELD".to_owned(), false));

    app.lose_redis_data().await;
    lock(&app, &alice, showtime, &["B2"]).await;
    let before = shared(&app).await;
    let fresh = app
        .gql_as(&bob.token, MAP, vars.clone())
        .await
        .data()
        .clone();
    assert_eq!(shared(&app).await, before);
    assert_eq!(state(&fresh, "A2"), ("AVAILABLE".to_owned(), false));
    assert_eq!(state(&fresh, "B2"), ("HELD".to_owned(), false));
}
