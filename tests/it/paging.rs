//! `myBookings` and `notifications` a page at a time (`first`/`after`), and their
//! connections with `pageInfo` and `totalCount`: newest first, each row once, and a
//! cursor that is not the caller's refused naming `after`.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::common;

use chrono::Duration;
use common::TestApp;
use common::fixtures as fx;
use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use screema::db::enums::{BookingStatus, NotificationType, Role};
use screema::db::schema::notifications;
use serde_json::{Value, json};

const PAGE: &str = "query($f: Int, $a: String) { myBookingsConnection(first: $f, after: $a) { totalCount nodes { id } edges { cursor node { id } } pageInfo { hasNextPage endCursor } } }";
const LIST: &str = "query($f: Int, $a: String) { myBookings(first: $f, after: $a) { id } }";

fn ids(list: &Value) -> Vec<String> {
    list.as_array()
        .unwrap()
        .iter()
        .map(|b| b["id"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn bookings_are_paged_newest_first_with_cursors_and_a_total() {
    let app = TestApp::new().await;
    let customer = app.with_user(Role::Customer).await;
    let stranger = app.with_user(Role::Customer).await;
    let theirs = {
        let mut conn = app.conn().await;
        let show =
            fx::one_row_showtime(&mut conn, 10, &[], app.app.now() + Duration::days(1)).await;
        for seat in ["A1", "A2", "A3", "A4", "A5", "A6", "A7"] {
            fx::booking(
                &mut conn,
                customer.id,
                show,
                &[seat],
                BookingStatus::Confirmed,
            )
            .await
            .unwrap();
        }
        fx::booking(
            &mut conn,
            stranger.id,
            show,
            &["A8"],
            BookingStatus::Confirmed,
        )
        .await
        .unwrap()
    };
    let everything = app.gql_as(&customer.token, LIST, json!({ "f": 100 })).await;
    let everything = ids(&everything.data()["myBookings"]);
    assert_eq!(everything.len(), 7);

    let mut paged = Vec::new();
    let mut after: Option<String> = None;
    let mut pages = Vec::new();
    loop {
        let answer = app
            .gql_as(&customer.token, PAGE, json!({ "f": 3, "a": after }))
            .await;
        let page = answer.data()["myBookingsConnection"].clone();
        assert_eq!(page["totalCount"], 7);
        let nodes = ids(&page["nodes"]);
        let cursors: Vec<&str> = page["edges"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["cursor"].as_str().unwrap())
            .collect();
        assert_eq!(cursors, nodes, "a booking's cursor is its id");
        // The list takes the same cursor and gives the same page.
        let list = app
            .gql_as(&customer.token, LIST, json!({ "f": 3, "a": after }))
            .await;
        assert_eq!(ids(&list.data()["myBookings"]), nodes);
        pages.push(nodes.len());
        paged.extend(nodes);
        let info = &page["pageInfo"];
        if !info["hasNextPage"].as_bool().unwrap() {
            break;
        }
        after = Some(info["endCursor"].as_str().unwrap().to_owned());
    }
    assert_eq!(pages, [3, 3, 1]);
    assert_eq!(paged, everything, "each booking once, newest first");

    // Fifty by default; bad pages and other people's cursors name their field.
    let answer = app.gql_as(&customer.token, LIST, json!({})).await;
    assert_eq!(ids(&answer.data()["myBookings"]).len(), 7);
    for (variables, field) in [
        (json!({ "f": 0 }), "first"),
        (json!({ "f": 101 }), "first"),
        (json!({ "a": "nope" }), "after"),
        (json!({ "a": theirs.to_string() }), "after"),
    ] {
        for query in [LIST, PAGE] {
            let refused = app.gql_as(&customer.token, query, variables.clone()).await;
            assert_eq!(refused.code(), "BAD_USER_INPUT", "{variables}");
            assert_eq!(refused.field(), Some(field), "{variables}");
        }
    }
    // An empty list: no cursor.
    let empty = app
        .gql_as(&app.with_user(Role::Customer).await.token, PAGE, json!({}))
        .await;
    assert_eq!(
        empty.data()["myBookingsConnection"],
        json!({"totalCount": 0, "nodes": [], "edges": [], "pageInfo": {"hasNextPage": false, "endCursor": null}})
    );
}

#[tokio::test]
async fn notifications_are_paged_and_counted_read_or_unread() {
    let app = TestApp::new().await;
    let customer = app.with_user(Role::Customer).await;
    {
        let mut conn = app.conn().await;
        for i in 0..5 {
            diesel::insert_into(notifications::table)
                .values((
                    notifications::user_id.eq(customer.id),
                    notifications::title.eq(format!("N{i}")),
                    notifications::message.eq("m"),
                    notifications::type_.eq(NotificationType::Booking),
                    notifications::is_read.eq(i % 2 == 1),
                    notifications::created_at.eq(chrono::Utc::now() - Duration::minutes(10 - i)),
                ))
                .execute(&mut conn)
                .await
                .unwrap();
        }
    }
    let query = "query($u: Boolean, $f: Int, $a: String) { notificationsConnection(unreadOnly: $u, first: $f, after: $a) { totalCount nodes { title } pageInfo { hasNextPage endCursor } } }";
    let titles = |page: &Value| -> Vec<String> {
        page["nodes"]
            .as_array()
            .unwrap()
            .iter()
            .map(|n| n["title"].as_str().unwrap().to_owned())
            .collect()
    };
    let first = app
        .gql_as(&customer.token, query, json!({ "u": true, "f": 2 }))
        .await;
    let first = first.data()["notificationsConnection"].clone();
    assert_eq!(first["totalCount"], 3);
    assert_eq!(titles(&first), ["N4", "N2"]);
    assert_eq!(first["pageInfo"]["hasNextPage"], true);
    let next = app
        .gql_as(
            &customer.token,
            query,
            json!({ "u": true, "f": 2, "a": first["pageInfo"]["endCursor"] }),
        )
        .await;
    let next = next.data()["notificationsConnection"].clone();
    assert_eq!(titles(&next), ["N0"]);
    assert_eq!(next["pageInfo"]["hasNextPage"], false);
    let all = app.gql_as(&customer.token, query, json!({})).await;
    assert_eq!(all.data()["notificationsConnection"]["totalCount"], 5);
    let list = app
        .gql_as(
            &customer.token,
            "{ notifications(first: 4) { title } }",
            json!({}),
        )
        .await;
    assert_eq!(list.data()["notifications"].as_array().unwrap().len(), 4);
}
