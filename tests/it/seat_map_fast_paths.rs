//! The seat map's fast paths (`graphql::seat_map`) give exactly what async-graphql's
//! executor gives: a row's seats written in one pass, and a change event written once
//! for every subscriber of a showtime. Each test reads the same thing both ways.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::common;

use chrono::Duration;
use common::TestApp;
use common::fixtures as fx;
use common::flow::lock;
use common::ws::WsClient;
use screema::db::enums::{BookingStatus, Role};
use serde_json::json;

const SUBSCRIPTION: &str = "subscription($s: ID!) { seatMap(showtimeId: $s) { showtimeId version epoch availableSeats
    changes { number state } snapshot { version rows { label seats { number state heldByMe } } } } }";

/// A row's seats are written in one pass when the selection is plain, and by
/// async-graphql's general resolver otherwise (fragments, directives): both give the
/// same answer, prices, kinds, holds, aliases and `__typename` included.
#[tokio::test]
async fn a_seat_map_reads_the_same_whether_its_selection_is_plain_or_not() {
    let app = TestApp::new().await;
    let alice = app.with_user(Role::Customer).await;
    let showtime = {
        let mut conn = app.conn().await;
        let theater = fx::theater(&mut conn, "Rex", "UTC").await;
        let screen = fx::screen(&mut conn, theater, 1, fx::small_layout()).await;
        let movie = fx::movie(&mut conn, fx::MovieSpec::default()).await;
        let at = app.app.now() + Duration::days(1);
        let showtime = fx::showtime(&mut conn, movie, screen, at, "10.00").await;
        fx::booking(
            &mut conn,
            alice.id,
            showtime,
            &["B1"],
            BookingStatus::Confirmed,
        )
        .await
        .unwrap();
        showtime
    };
    lock(&app, &alice, showtime, &["A2"]).await;

    let read = |seats: &str| {
        let query = format!(
            "query($s: ID!) {{ showtime(id: $s) {{ seatMap {{ rows {{ label seats {seats} }} }} }} }}"
        );
        let app = &app;
        let token = alice.token.clone();
        async move {
            app.gql_as(&token, &query, json!({"s": showtime.to_string()}))
                .await
                .data()["showtime"]["seatMap"]
                .clone()
        }
    };
    let fields =
        "__typename number column kind state heldByMe price { __typename amount currency }";
    let plain = read(&format!("{{ {fields} }}")).await;
    let fragment = read(&format!("{{ ... on Seat {{ {fields} }} }}")).await;
    assert_eq!(plain, fragment);
    assert_eq!(
        plain["rows"][0]["seats"][1],
        json!({"__typename": "Seat", "number": "A2", "column": 1, "kind": "STANDARD",
               "state": "HELD", "heldByMe": true,
               "price": {"__typename": "Money", "amount": "10.00", "currency": "USD"}})
    );
    assert_eq!(
        plain["rows"][1]["seats"][0],
        json!({"__typename": "Seat", "number": "B1", "column": 0, "kind": "PREMIUM",
               "state": "BOOKED", "heldByMe": false,
               "price": {"__typename": "Money", "amount": "15.00", "currency": "USD"}})
    );
    assert_eq!(
        plain["rows"][0]["seats"][2]["column"], 3,
        "the aisle counts"
    );
    assert_eq!(plain["rows"][1]["seats"][2]["price"]["amount"], "20.00");

    let aliased = read("{ n: number s: state p: price { a: amount } }").await;
    let directed = read("{ n: number s: state @include(if: true) p: price { a: amount } }").await;
    assert_eq!(aliased, directed);
    assert_eq!(
        aliased["rows"][0]["seats"][1],
        json!({"n": "A2", "s": "HELD", "p": {"a": "10.00"}})
    );
    let skipped = read("{ number state @skip(if: true) }").await;
    assert_eq!(skipped["rows"][0]["seats"][0], json!({"number": "A1"}));
}

/// A counter from `/metrics`.
async fn counter(app: &TestApp, name: &str) -> u64 {
    let text = app.get("/metrics").await.text().await.unwrap();
    text.lines()
        .find_map(|l| l.strip_prefix(&format!("{name} ")))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0)
}

#[tokio::test]
async fn a_change_is_written_once_for_all_subscribers_and_matches_the_executors_json() {
    let app = TestApp::new().await;
    let st = {
        let start = app.app.now() + Duration::days(1);
        let mut conn = app.conn().await;
        fx::one_row_showtime(&mut conn, 6, &[], start).await
    };
    let alice = app.with_user(Role::Customer).await;
    let vars = json!({"s": st.to_string()});
    // The same fields written differently share one payload; the legacy protocol
    // shares it too; a fragment goes through the executor.
    let reformatted = SUBSCRIPTION.replace(' ', "\n  ");
    let with_fragment = "subscription($s: ID!) { seatMap(showtimeId: $s) { ...F } }
        fragment F on SeatMapEvent { showtimeId version epoch availableSeats changes { number state }
        snapshot { version rows { label seats { number state heldByMe } } } }";
    let mut clients = Vec::new();
    let mut epochs = Vec::new();
    for (legacy, token, query) in [
        (false, Some(alice.token.as_str()), SUBSCRIPTION),
        (false, None, reformatted.as_str()),
        (true, None, SUBSCRIPTION),
        (false, None, with_fragment),
    ] {
        let mut ws = WsClient::connect(app.addr, legacy, token).await;
        ws.subscribe("1", query, vars.clone()).await;
        let first = ws.next_data().await["seatMap"].clone();
        assert!(first["snapshot"].is_object());
        epochs.push(first["epoch"].as_str().unwrap().to_owned());
        clients.push(ws);
    }
    let (rendered, sent) = (
        counter(&app, "screema_live_payloads_rendered_total").await,
        counter(&app, "screema_live_payloads_sent_total").await,
    );

    lock(&app, &alice, st, &["A1", "A2"]).await;
    let mut texts = Vec::new();
    for ws in &mut clients {
        texts.push(ws.receive_text().await);
    }
    assert!(epochs.iter().all(|e| *e == epochs[0] && !e.is_empty()));
    let epoch = &epochs[0];
    let expected = format!(
        r#"{{"type":"next","id":"1","payload":{{"data":{{"seatMap":{{"showtimeId":"{st}","version":1,"epoch":"{epoch}","availableSeats":4,"changes":[{{"number":"A1","state":"HELD"}},{{"number":"A2","state":"HELD"}}],"snapshot":null}}}}}}}}"#
    );
    assert_eq!(texts[0], expected, "shared, as the executor writes it");
    assert_eq!(texts[1], expected);
    assert_eq!(
        texts[2],
        expected.replace(r#""type":"next""#, r#""type":"data""#)
    );
    assert_eq!(texts[3], expected, "executed");
    assert_eq!(
        counter(&app, "screema_live_payloads_rendered_total").await - rendered,
        1,
        "one payload written for three subscribers"
    );
    assert_eq!(
        counter(&app, "screema_live_payloads_sent_total").await - sent,
        3
    );
}
