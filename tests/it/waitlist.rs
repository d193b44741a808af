//! The waiting list through the API: joining only when nothing that suits is on sale,
//! freed seats held for the first entry that fits and its customer told at once (live,
//! in the app), booking the offer, an offer that lapses going to the next, leaving, and
//! exactly one offer across two nodes, even when a node died between the hold and the
//! offer.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::best_seats::showtime;
use crate::common;

use chrono::Duration;
use common::flow::{create_booking, eventually, seat_states};
use common::ws::WsClient;
use common::{Gql, TestApp, TestUser};
use screema::auth::model::Viewer;
use screema::db::enums::Role;
use serde_json::{Value, json};
use uuid::Uuid;

const JOIN: &str = "mutation($i: JoinWaitlistInput!) { joinWaitlist(input: $i) { id status \
    position count adjacent maxPrice { amount } } }";
const MINE: &str = "{ myWaitlist { id status position offer { entryId seatLock { lockToken \
    lockedSeats expiresAt } } } }";
const RELEASE: &str = "mutation($t: String!) { releaseSeats(lockToken: $t) }";

async fn join(app: &TestApp, user: &TestUser, input: Value) -> Gql {
    app.gql_as(&user.token, JOIN, json!({ "i": input })).await
}

async fn mine(app: &TestApp, user: &TestUser) -> Vec<Value> {
    app.gql_as(&user.token, MINE, json!({})).await.data()["myWaitlist"]
        .as_array()
        .unwrap()
        .clone()
}

fn token(r: &Gql) -> String {
    r.data()["lockSeats"]["lockToken"]
        .as_str()
        .unwrap()
        .to_owned()
}

async fn hold(app: &TestApp, user: &TestUser, st: Uuid, seats: &[&str]) -> String {
    let r = app
        .gql_as(
            &user.token,
            common::flow::LOCK,
            json!({"s": st.to_string(), "seats": seats}),
        )
        .await;
    token(&r)
}

fn state(states: &[(String, String)], seat: &str) -> String {
    states.iter().find(|(s, _)| s == seat).unwrap().1.clone()
}

async fn titles(app: &TestApp, user: &TestUser) -> Vec<String> {
    let r = app
        .gql_as(&user.token, "{ notifications { title } }", json!({}))
        .await;
    r.data()["notifications"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["title"].as_str().unwrap().to_owned())
        .collect()
}

fn quick() -> common::TestAppBuilder {
    TestApp::builder().env("SWEEP_INTERVAL_MS", "50")
}

#[tokio::test]
async fn joining_is_for_a_sold_out_showtime_and_bad_requests_name_their_field() {
    let app = quick().build().await;
    let st = showtime(&app, &["oooo"]).await;
    let (holder, waiter) = (
        app.with_user(Role::Customer).await,
        app.with_user(Role::Customer).await,
    );
    let s = st.to_string();
    // Seats that suit are on sale: hold them instead.
    let r = join(&app, &waiter, json!({"showtimeId": s, "count": 2})).await;
    assert_eq!(r.code(), "CONFLICT");
    hold(&app, &holder, st, &["A1", "A2", "A3"]).await;
    // One seat is left: a pair does not fit, one seat would.
    let r = join(&app, &waiter, json!({"showtimeId": s, "count": 1})).await;
    assert_eq!(r.code(), "CONFLICT");
    for (input, field) in [
        (json!({"showtimeId": s, "count": 0}), "count"),
        (json!({"showtimeId": s, "count": 11}), "count"),
        (
            json!({"showtimeId": s, "count": 2, "maxPrice": "-1"}),
            "maxPrice",
        ),
        (
            json!({"showtimeId": s, "count": 2, "maxPrice": "1.001"}),
            "maxPrice",
        ),
        (json!({"showtimeId": s, "count": 5}), "count"),
        (json!({"showtimeId": "x", "count": 2}), "showtimeId"),
    ] {
        let r = join(&app, &waiter, input.clone()).await;
        assert_eq!(
            (r.code(), r.field()),
            ("BAD_USER_INPUT", Some(field)),
            "{input}"
        );
    }
    let r = app
        .gql(JOIN, json!({"i": {"showtimeId": s, "count": 2}}))
        .await;
    assert_eq!(r.code(), "UNAUTHENTICATED");
    assert!(mine(&app, &waiter).await.is_empty(), "nothing was written");

    let r = join(
        &app,
        &waiter,
        json!({"showtimeId": s, "count": 2, "maxPrice": "12.50"}),
    )
    .await;
    let entry = &r.data()["joinWaitlist"];
    assert_eq!(entry["status"], "WAITING");
    assert_eq!(entry["position"], 1);
    assert_eq!(entry["adjacent"], true);
    assert_eq!(entry["maxPrice"]["amount"], "12.50");
    let r = join(&app, &waiter, json!({"showtimeId": s, "count": 2})).await;
    assert_eq!(r.code(), "CONFLICT", "one open entry per showtime");
    // Someone else's entry is not found; leaving twice is CONFLICT.
    let id = entry["id"].as_str().unwrap().to_owned();
    let leave = "mutation($id: ID!) { leaveWaitlist(id: $id) }";
    let r = app.gql_as(&holder.token, leave, json!({"id": id})).await;
    assert_eq!(r.code(), "NOT_FOUND");
    let r = app.gql_as(&waiter.token, leave, json!({"id": id})).await;
    assert_eq!(r.data()["leaveWaitlist"], true);
    let r = app.gql_as(&waiter.token, leave, json!({"id": id})).await;
    assert_eq!(r.code(), "CONFLICT");
    assert_eq!(mine(&app, &waiter).await[0]["status"], "LEFT");
}

#[tokio::test]
async fn freed_seats_are_held_for_the_first_entry_that_fits_who_is_told_and_books() {
    let app = quick().build().await;
    let st = showtime(&app, &["oooo"]).await;
    let s = st.to_string();
    let (h1, h2) = (
        app.with_user(Role::Customer).await,
        app.with_user(Role::Customer).await,
    );
    let first = hold(&app, &h1, st, &["A1", "A2"]).await;
    let second = hold(&app, &h2, st, &["A3", "A4"]).await;
    let (w1, w2, w3) = (
        app.with_user(Role::Customer).await,
        app.with_user(Role::Customer).await,
        app.with_user(Role::Customer).await,
    );
    join(&app, &w1, json!({"showtimeId": s, "count": 3}))
        .await
        .data();
    join(&app, &w2, json!({"showtimeId": s, "count": 2}))
        .await
        .data();
    join(&app, &w3, json!({"showtimeId": s, "count": 1}))
        .await
        .data();
    assert_eq!(mine(&app, &w2).await[0]["position"], 2);

    // The demand: how many wait for everyone, the seats for admins; per film too.
    let admin = app.with_user(Role::Admin).await;
    let demand =
        "query($id: ID!) { showtime(id: $id) { waitlistLength waitlistDemand { entries seats } } }";
    let r = app.gql(demand, json!({"id": s})).await;
    assert_eq!(
        r.data()["showtime"],
        json!({"waitlistLength": 3, "waitlistDemand": null})
    );
    let r = app.gql_as(&admin.token, demand, json!({"id": s})).await;
    assert_eq!(
        r.data()["showtime"]["waitlistDemand"],
        json!({"entries": 3, "seats": 6})
    );
    let r = app
        .gql_as(
            &admin.token,
            "{ analytics { waitlistDemand { movie { id } entries seats } } }",
            json!({}),
        )
        .await;
    let films = r.data()["analytics"]["waitlistDemand"].as_array().unwrap();
    assert_eq!(films.len(), 1);
    assert_eq!(
        (&films[0]["entries"], &films[0]["seats"]),
        (&json!(3), &json!(6))
    );

    // w2 watches for offers.
    let mut ws = WsClient::connect(app.addr, false, Some(&w2.token)).await;
    ws.subscribe(
        "o",
        "subscription { myWaitlistOffers { entryId showtimeId seatLock { lockToken lockedSeats } } }",
        json!({}),
    )
    .await;
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;

    // Two seats come free: w1 (three) does not fit and keeps its place; w2 does.
    app.gql_as(&h1.token, RELEASE, json!({"t": first}))
        .await
        .data();
    let offer = ws.next_data().await["myWaitlistOffers"].clone();
    assert_eq!(offer["seatLock"]["lockedSeats"], json!(["A1", "A2"]));
    let states = seat_states(&app, st).await;
    assert_eq!(state(&states, "A1"), "HELD");
    let w2_entry = mine(&app, &w2).await[0].clone();
    assert_eq!(w2_entry["status"], "OFFERED");
    assert_eq!(w2_entry["position"], Value::Null);
    assert_eq!(
        w2_entry["offer"]["seatLock"]["lockToken"],
        offer["seatLock"]["lockToken"]
    );
    assert_eq!(mine(&app, &w1).await[0]["status"], "WAITING");
    assert_eq!(mine(&app, &w1).await[0]["position"], 1);
    assert_eq!(mine(&app, &w3).await[0]["position"], 2);
    assert!(
        titles(&app, &w2)
            .await
            .contains(&"Seats for you".to_owned())
    );

    // Booked like any hold: the entry is done.
    let token = offer["seatLock"]["lockToken"].as_str().unwrap();
    let booked = create_booking(&app, &w2, st, &["A1", "A2"], token, json!([])).await;
    assert_eq!(
        booked.data()["createBooking"]["booking"]["status"],
        "PENDING"
    );
    assert_eq!(mine(&app, &w2).await[0]["status"], "BOOKED");

    // Two more free: w1 (three) still does not fit; w3 (one) gets the best single seat.
    app.gql_as(&h2.token, RELEASE, json!({"t": second}))
        .await
        .data();
    eventually("w3 is offered a seat", || async {
        mine(&app, &w3).await[0]["status"] == "OFFERED"
    })
    .await;
    assert_eq!(
        mine(&app, &w3).await[0]["offer"]["seatLock"]["lockedSeats"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    assert_eq!(mine(&app, &w1).await[0]["status"], "WAITING");
}

#[tokio::test]
async fn an_offer_not_booked_lapses_and_goes_to_the_next_and_leaving_gives_it_back() {
    let (builder, clock) = TestApp::clocked();
    let app = builder.env("SWEEP_INTERVAL_MS", "50").build().await;
    let st = showtime(&app, &["oo"]).await;
    let s = st.to_string();
    let holder = app.with_user(Role::Customer).await;
    let taken = hold(&app, &holder, st, &["A1", "A2"]).await;
    let (w1, w2, w3) = (
        app.with_user(Role::Customer).await,
        app.with_user(Role::Customer).await,
        app.with_user(Role::Customer).await,
    );
    for w in [&w1, &w2, &w3] {
        join(&app, w, json!({"showtimeId": s, "count": 2}))
            .await
            .data();
    }
    app.gql_as(&holder.token, RELEASE, json!({"t": taken}))
        .await
        .data();
    eventually("w1 is offered the pair", || async {
        mine(&app, &w1).await[0]["status"] == "OFFERED"
    })
    .await;
    // w1 lets it lapse: the hold time passes, the sweeper frees the seats, w2 is next.
    clock.advance(Duration::minutes(11));
    eventually("w1's offer lapses and w2 is offered", || async {
        mine(&app, &w1).await[0]["status"] == "LAPSED"
            && mine(&app, &w2).await[0]["status"] == "OFFERED"
    })
    .await;
    // w2 leaves: the seats go back at once, to w3.
    let id = mine(&app, &w2).await[0]["id"].as_str().unwrap().to_owned();
    let r = app
        .gql_as(
            &w2.token,
            "mutation($id: ID!) { leaveWaitlist(id: $id) }",
            json!({"id": id}),
        )
        .await;
    assert_eq!(r.data()["leaveWaitlist"], true);
    eventually("w3 is offered the pair", || async {
        mine(&app, &w3).await[0]["status"] == "OFFERED"
    })
    .await;
    assert_eq!(
        mine(&app, &w3).await[0]["offer"]["seatLock"]["lockedSeats"],
        json!(["A1", "A2"])
    );
}

/// Two nodes match the same list, and one of them died after holding seats for the
/// first entry but before recording the offer: the customer is offered exactly those
/// seats, once, and no other hold is made for them.
#[tokio::test]
async fn two_nodes_and_a_node_dead_between_hold_and_offer_make_one_offer() {
    // The first node does no matching: it plays the node that died.
    let app = TestApp::builder()
        .env("SWEEP_INTERVAL_MS", "3600000")
        .build()
        .await;
    let st = showtime(&app, &["oooo"]).await;
    let s = st.to_string();
    let holder = app.with_user(Role::Customer).await;
    let taken = hold(&app, &holder, st, &["A1", "A2", "A3", "A4"]).await;
    let waiter = app.with_user(Role::Customer).await;
    let r = join(&app, &waiter, json!({"showtimeId": s, "count": 2})).await;
    let entry: Uuid = r.data()["joinWaitlist"]["id"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    app.gql_as(&holder.token, RELEASE, json!({"t": taken}))
        .await
        .data();

    // What the dead node did: wrote the entry's token, then held the best pair under it.
    let token = screema::seating::holds::reserve_token(st);
    {
        use diesel::prelude::*;
        use diesel_async::RunQueryDsl;
        use screema::db::schema::waitlist_entries;
        diesel::update(waitlist_entries::table.find(entry))
            .set(waitlist_entries::offer_token.eq(Some(&token)))
            .execute(&mut app.conn().await)
            .await
            .unwrap();
    }
    let viewer = Viewer {
        user_id: waiter.id,
        role: Role::Customer,
    };
    let ask = screema::seating::holds::BestAsk {
        showtime: st,
        count: 2,
        want: Default::default(),
        adjacent: true,
    };
    let held = screema::seating::holds::hold_best_under(&app.app, viewer, ask, token.clone())
        .await
        .unwrap();
    assert_eq!(mine(&app, &waiter).await[0]["status"], "WAITING");

    // Two live nodes take over.
    let n2 = app
        .another_node()
        .env("SWEEP_INTERVAL_MS", "20")
        .build()
        .await;
    let n3 = app
        .another_node()
        .env("SWEEP_INTERVAL_MS", "20")
        .build()
        .await;
    eventually("the offer is made", || async {
        mine(&app, &waiter).await[0]["status"] == "OFFERED"
    })
    .await;
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    let offer = mine(&app, &waiter).await[0]["offer"]["seatLock"].clone();
    assert_eq!(offer["lockToken"], token.as_str());
    assert_eq!(offer["lockedSeats"], json!(held.seats));
    // Told once; held once: the two seats, and no others.
    let told = titles(&app, &waiter)
        .await
        .iter()
        .filter(|t| *t == "Seats for you")
        .count();
    assert_eq!(told, 1);
    let states = seat_states(&app, st).await;
    let held_now: Vec<&String> = states
        .iter()
        .filter(|(_, s)| s == "HELD")
        .map(|(n, _)| n)
        .collect();
    assert_eq!(held_now.len(), 2, "{states:?}");
    drop((n2, n3));
}
