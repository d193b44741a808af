//! The door through the public API: scans made offline and uploaded later
//! (`checkInTickets`), in any order, from several devices, retried; and a mistaken
//! check-in taken back (`undoCheckIn`).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::common;

use std::sync::Arc;

use chrono::{DateTime, Duration, DurationRound, SecondsFormat, Utc};
use common::fixtures as fx;
use common::flow::{self, confirmed, status_of};
use common::{TestApp, TestUser};
use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use screema::clock::{Clock, ManualClock};
use screema::db::enums::Role;
use screema::db::schema::{check_in_undos, check_ins, door_scans};
use serde_json::{Value, json};
use uuid::Uuid;

const UPLOAD: &str = "mutation($s: [TicketScanInput!]!) { checkInTickets(scans: $s) { \
    code deviceId scannedAt status message bookingId bookingReference seatNumbers checkedInAt \
    firstScan { deviceId scannedAt } otherScans { deviceId scannedAt } } }";
const UNDO: &str = "mutation($id: ID!) { undoCheckIn(bookingId: $id) { id status } }";

fn stamp(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

fn scan(code: &str, device: &str, at: DateTime<Utc>) -> Value {
    json!({"code": code, "deviceId": device, "scannedAt": stamp(at)})
}

async fn upload(app: &TestApp, who: &TestUser, scans: Vec<Value>) -> common::Gql {
    app.gql_as(&who.token, UPLOAD, json!({"s": scans})).await
}

/// Uploads and returns the results (failing on an error).
async fn results(app: &TestApp, who: &TestUser, scans: Vec<Value>) -> Vec<Value> {
    let r = upload(app, who, scans).await;
    r.data()["checkInTickets"].as_array().unwrap().clone()
}

fn statuses(results: &[Value]) -> Vec<&str> {
    results
        .iter()
        .map(|r| r["status"].as_str().unwrap())
        .collect()
}

fn seen(device: Option<&str>, at: DateTime<Utc>) -> Value {
    json!({"deviceId": device, "scannedAt": stamp(at)})
}

/// A clocked app with a showtime that starts in half an hour (check-in opened half
/// an hour ago, and closes 100 minutes after the start), its operator, a customer, and
/// `now` to whole seconds, as the API prints times.
struct Door {
    app: TestApp,
    clock: Arc<ManualClock>,
    showtime: Uuid,
    operator: TestUser,
    customer: TestUser,
    now: DateTime<Utc>,
}

async fn door(env: &[(&str, &str)]) -> Door {
    let (mut builder, clock) = TestApp::clocked();
    builder = builder.env("SIMULATED_PAYMENT_DELAY_MS", "600000");
    for (k, v) in env {
        builder = builder.env(k, v);
    }
    let app = builder.build().await;
    let now = clock.now().duration_trunc(Duration::seconds(1)).unwrap();
    clock.set(now);
    let showtime = {
        let mut conn = app.conn().await;
        fx::one_row_showtime(&mut conn, 10, &[], now + Duration::minutes(30)).await
    };
    let operator = app.with_user(Role::Operator).await;
    let customer = app.with_user(Role::Customer).await;
    Door {
        app,
        clock,
        showtime,
        operator,
        customer,
        now,
    }
}

async fn check_in_row(app: &TestApp, booking: &str) -> Option<(DateTime<Utc>, Option<String>)> {
    check_ins::table
        .filter(check_ins::booking_id.eq(Uuid::parse_str(booking).unwrap()))
        .select((check_ins::checked_in_at, check_ins::device_id))
        .first(&mut app.conn().await)
        .await
        .optional()
        .unwrap()
}

#[tokio::test]
async fn scans_uploaded_in_any_order_check_each_ticket_in_once_by_its_earliest_scan() {
    let d = door(&[]).await;
    let (app, t) = (&d.app, d.now);
    let (x, x_code) = confirmed(app, &d.customer, d.showtime, &["A1", "A2"]).await;
    let (y, y_code) = confirmed(app, &d.customer, d.showtime, &["A3"]).await;

    // Who may upload: operators and admins.
    let batch = vec![scan(&x_code, "door-1", t)];
    assert_eq!(
        upload(app, &d.customer, batch.clone()).await.code(),
        "FORBIDDEN"
    );
    assert_eq!(
        app.gql(UPLOAD, json!({"s": batch})).await.code(),
        "UNAUTHENTICATED"
    );
    assert_eq!(flow::count(app, "door_scans").await, 0);

    // X on two devices, the later scan first in the upload; Y twice on one device.
    let r = results(
        app,
        &d.operator,
        vec![
            scan(&x_code, "door-1", t + Duration::minutes(5)),
            scan(&y_code, "door-2", t + Duration::minutes(4)),
            scan(&x_code, "door-2", t + Duration::minutes(2)),
            scan(&y_code, "door-2", t + Duration::minutes(1)),
        ],
    )
    .await;
    assert_eq!(
        statuses(&r),
        ["DUPLICATE", "ALREADY_CHECKED_IN", "DUPLICATE", "CHECKED_IN"],
        "{r:#?}"
    );
    // Each result echoes its scan, in the order sent.
    assert_eq!(r[0]["deviceId"], "door-1");
    assert_eq!(r[0]["scannedAt"], stamp(t + Duration::minutes(5)));
    assert_eq!(r[0]["code"], x_code);
    // X: the earliest scan (door-2's) is the check-in; both scans name both devices.
    for x_result in [&r[0], &r[2]] {
        assert_eq!(x_result["bookingId"], x);
        assert_eq!(x_result["seatNumbers"], json!(["A1", "A2"]));
        assert_eq!(
            x_result["firstScan"],
            seen(Some("door-2"), t + Duration::minutes(2))
        );
        assert_eq!(x_result["checkedInAt"], stamp(t + Duration::minutes(2)));
    }
    assert_eq!(
        r[0]["otherScans"],
        json!([seen(Some("door-2"), t + Duration::minutes(2))])
    );
    assert_eq!(
        r[2]["otherScans"],
        json!([seen(Some("door-1"), t + Duration::minutes(5))])
    );
    assert!(
        r[2]["message"].as_str().unwrap().contains("door-1"),
        "{}",
        r[2]["message"]
    );
    // Y: checked in by its first scan; the re-scan on the same door is no duplicate.
    assert_eq!(
        r[3]["firstScan"],
        seen(Some("door-2"), t + Duration::minutes(1))
    );
    assert_eq!(r[1]["firstScan"], r[3]["firstScan"]);
    assert_eq!(r[1]["otherScans"], json!([]));
    assert!(r[1]["bookingReference"].as_str().unwrap().len() == 8);

    // Both bookings are USED, each checked in once, at its earliest scan.
    assert_eq!(status_of(app, &d.customer, &x).await, "USED");
    assert_eq!(status_of(app, &d.customer, &y).await, "USED");
    assert_eq!(flow::count(app, "check_ins").await, 2);
    assert_eq!(
        check_in_row(app, &x).await,
        Some((t + Duration::minutes(2), Some("door-2".into())))
    );
    // Every scan is kept, with who uploaded it.
    let uploaders: Vec<Option<Uuid>> = door_scans::table
        .select(door_scans::uploaded_by)
        .load(&mut app.conn().await)
        .await
        .unwrap();
    assert_eq!(uploaders, vec![Some(d.operator.id); 4]);
    // The online check-in knows it too.
    let again = flow::check_in(app, &d.operator, &x_code).await;
    assert_eq!(again.code(), "CONFLICT");
    assert!(
        again.error()["message"]
            .as_str()
            .unwrap()
            .contains(&(t + Duration::minutes(2)).to_rfc3339()),
        "{:#}",
        again.body
    );
}

#[tokio::test]
async fn a_second_device_is_reported_whichever_uploads_first_and_retries_change_nothing() {
    let d = door(&[]).await;
    let (app, t) = (&d.app, d.now);
    let admin = app.with_user(Role::Admin).await;
    let (x, code) = confirmed(app, &d.customer, d.showtime, &["A5"]).await;
    let (_, second) = confirmed(app, &d.customer, d.showtime, &["A6"]).await;

    // door-a uploads first: a plain check-in.
    let a = vec![scan(&code, "door-a", t + Duration::minutes(3))];
    let r = results(app, &d.operator, a.clone()).await;
    assert_eq!(statuses(&r), ["CHECKED_IN"]);
    assert_eq!(r[0]["otherScans"], json!([]));

    // The answer was lost: the same upload again is answered the same and counts once.
    let retried = results(app, &d.operator, a.clone()).await;
    assert_eq!(retried, r);
    assert_eq!(flow::count(app, "door_scans").await, 1);
    assert_eq!(flow::count(app, "check_ins").await, 1);

    // door-b, later (by its clock), uploads later: a duplicate naming door-a.
    d.clock.advance(Duration::minutes(10));
    let r = results(
        app,
        &admin,
        vec![scan(&code, "door-b", t + Duration::minutes(7))],
    )
    .await;
    assert_eq!(statuses(&r), ["DUPLICATE"]);
    assert_eq!(
        r[0]["firstScan"],
        seen(Some("door-a"), t + Duration::minutes(3))
    );
    assert_eq!(
        r[0]["otherScans"],
        json!([seen(Some("door-a"), t + Duration::minutes(3))])
    );

    // door-c was offline longest and scanned first: its scan becomes the check-in.
    d.clock.advance(Duration::minutes(20));
    let r = results(
        app,
        &d.operator,
        vec![scan(&code, "door-c", t + Duration::minutes(1))],
    )
    .await;
    assert_eq!(statuses(&r), ["DUPLICATE"]);
    assert_eq!(
        r[0]["firstScan"],
        seen(Some("door-c"), t + Duration::minutes(1))
    );
    assert_eq!(
        r[0]["otherScans"],
        json!([
            seen(Some("door-a"), t + Duration::minutes(3)),
            seen(Some("door-b"), t + Duration::minutes(7))
        ])
    );
    assert_eq!(
        check_in_row(app, &x).await,
        Some((t + Duration::minutes(1), Some("door-c".into())))
    );

    // door-a's retry now learns the truth: it was not first, and not alone.
    let r = results(app, &d.operator, a).await;
    assert_eq!(statuses(&r), ["DUPLICATE"]);
    assert_eq!(
        r[0]["firstScan"],
        seen(Some("door-c"), t + Duration::minutes(1))
    );
    assert_eq!(flow::count(app, "door_scans").await, 3);
    assert_eq!(flow::count(app, "check_ins").await, 1);
    assert_eq!(status_of(app, &d.customer, &x).await, "USED");

    // Two devices uploading one ticket at once: one check-in, both told of the other.
    let code = second;
    let (a, b) = (
        vec![scan(&code, "door-a", t + Duration::minutes(10))],
        vec![scan(&code, "door-b", t + Duration::minutes(11))],
    );
    let (one, two) = tokio::join!(
        results(app, &d.operator, a.clone()),
        results(app, &admin, b.clone()),
    );
    // Whichever finished second saw the other; the first may have finished alone.
    let mut both = [statuses(&one)[0], statuses(&two)[0]];
    both.sort_unstable();
    assert!(
        both == ["CHECKED_IN", "DUPLICATE"] || both == ["DUPLICATE", "DUPLICATE"],
        "{both:?}"
    );
    assert_eq!(flow::count(app, "check_ins").await, 2);
    let (one, two) = (
        results(app, &d.operator, a).await,
        results(app, &admin, b).await,
    );
    assert_eq!(statuses(&one), ["DUPLICATE"]);
    assert_eq!(statuses(&two), ["DUPLICATE"]);
    assert_eq!(
        one[0]["firstScan"],
        seen(Some("door-a"), t + Duration::minutes(10))
    );
    assert_eq!(two[0]["firstScan"], one[0]["firstScan"]);
}

#[tokio::test]
async fn forged_void_and_untimely_scans_each_get_their_own_result() {
    let d = door(&[]).await;
    let (app, t) = (&d.app, d.now);
    let admin = app.with_user(Role::Admin).await;
    let tomorrow = {
        let mut conn = app.conn().await;
        fx::one_row_showtime(&mut conn, 10, &[], t + Duration::days(1)).await
    };

    // Not ours: nonsense, and a code signed with another key.
    let other = screema::tickets::code::TicketSigner::from_seed(&[9; 32]);
    let forged = other.issue(&screema::tickets::code::TicketClaims {
        booking: Uuid::new_v4(),
        showtime: d.showtime,
        issued_at: t,
        seats: vec!["A1".into()],
    });
    // Void: a refunded booking, and a code replaced when part of its booking went back.
    let (refunded, refunded_code) = confirmed(app, &d.customer, d.showtime, &["A1"]).await;
    let refund = "mutation($i: RefundInput!) { refundBooking(input: $i) { status } }";
    let r = app
        .gql_as(&admin.token, refund, json!({"i": {"bookingId": refunded}}))
        .await;
    assert_eq!(r.data()["refundBooking"]["status"], "succeeded");
    let (kept, old_code) = confirmed(app, &d.customer, d.showtime, &["A2", "A3"]).await;
    let r = app
        .gql_as(
            &admin.token,
            refund,
            json!({"i": {"bookingId": kept, "seatNumbers": ["A3"]}}),
        )
        .await;
    assert_eq!(r.data()["refundBooking"]["status"], "succeeded");
    let new_code = flow::booking(app, &d.customer, &kept).await["qrCode"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_ne!(new_code, old_code);
    // Good tickets scanned when they could not let anyone in.
    let (_, early) = confirmed(app, &d.customer, tomorrow, &["A1"]).await;
    let (_, ahead) = confirmed(app, &d.customer, d.showtime, &["A4"]).await;
    let (_, stale) = confirmed(app, &d.customer, d.showtime, &["A5"]).await;
    let (late_id, late) = confirmed(app, &d.customer, d.showtime, &["A6"]).await;

    let r = results(
        app,
        &d.operator,
        vec![
            scan("hello", "door-1", t),
            scan(&forged, "door-1", t),
            scan(&refunded_code, "door-1", t),
            scan(&old_code, "door-1", t),
            scan(&new_code, "door-1", t),
            scan(&early, "door-1", t),
            // Ten minutes ahead of the server's clock: a device clock running fast.
            scan(&ahead, "door-1", t + Duration::minutes(10)),
            // Two days before the upload.
            scan(&stale, "door-1", t - Duration::days(2)),
        ],
    )
    .await;
    assert_eq!(
        statuses(&r),
        [
            "INVALID",
            "INVALID",
            "VOID",
            "VOID",
            "CHECKED_IN",
            "REFUSED",
            "REFUSED",
            "REFUSED"
        ],
        "{r:#?}"
    );
    let message = |i: usize| r[i]["message"].as_str().unwrap().to_owned();
    assert_eq!(r[0]["bookingId"], Value::Null);
    assert_eq!(r[0]["seatNumbers"], json!([]));
    assert!(message(2).contains("cancelled"), "{}", message(2));
    assert_eq!(r[2]["bookingId"], refunded);
    assert!(
        message(3).contains("not the booking's current ticket"),
        "{}",
        message(3)
    );
    assert_eq!(r[3]["seatNumbers"], json!(["A2", "A3"]));
    assert_eq!(r[4]["seatNumbers"], json!(["A2"]));
    assert!(message(5).contains("opens at"), "{}", message(5));
    assert!(message(6).contains("clock"), "{}", message(6));
    assert!(
        message(7).contains("before it was uploaded"),
        "{}",
        message(7)
    );
    // Refused and void scans check nothing in, and are kept all the same.
    assert_eq!(status_of(app, &d.customer, &late_id).await, "CONFIRMED");
    assert_eq!(flow::count(app, "check_ins").await, 1);
    assert_eq!(flow::count(app, "door_scans").await, 8);
    // Whatever was read is kept and answered: a NUL, or far more than any code.
    let long = format!("T1.{}", "x".repeat(2000));
    let r = results(
        app,
        &d.operator,
        vec![scan("T1.\u{0}.x", "door-1", t), scan(&long, "door-1", t)],
    )
    .await;
    assert_eq!(statuses(&r), ["INVALID", "INVALID"]);
    assert_eq!(r[1]["code"].as_str().unwrap().chars().count(), 512);

    // The fast clock's scan is refused for good: a retry once the server's clock has
    // caught up is judged by its first upload.
    d.clock.advance(Duration::minutes(15));
    let r = results(
        app,
        &d.operator,
        vec![scan(&ahead, "door-1", t + Duration::minutes(10))],
    )
    .await;
    assert_eq!(statuses(&r), ["REFUSED"]);
    // Within five minutes of the server's clock is drift, and believed.
    let r = results(
        app,
        &d.operator,
        vec![scan(&ahead, "door-2", t + Duration::minutes(19))],
    )
    .await;
    assert_eq!(statuses(&r), ["CHECKED_IN"]);

    // After the showtime ended (it started 30 minutes on and ran 100), uploaded soon
    // after: the door had closed.
    d.clock.set(t + Duration::minutes(135));
    let r = results(
        app,
        &d.operator,
        vec![scan(&late, "door-1", t + Duration::minutes(131))],
    )
    .await;
    assert_eq!(statuses(&r), ["REFUSED"]);
    assert!(
        r[0]["message"].as_str().unwrap().contains("ended at"),
        "{}",
        r[0]["message"]
    );
    assert_eq!(status_of(app, &d.customer, &late_id).await, "CONFIRMED");
}

#[tokio::test]
async fn a_batch_too_large_or_without_a_device_is_refused_whole() {
    let d = door(&[("CHECK_IN_BATCH_MAX", "3")]).await;
    let (app, t) = (&d.app, d.now);
    let (_, code) = confirmed(app, &d.customer, d.showtime, &["A1"]).await;

    let four: Vec<Value> = (0..4)
        .map(|i| scan(&code, "door-1", t + Duration::seconds(i)))
        .collect();
    let r = upload(app, &d.operator, four).await;
    assert_eq!((r.code(), r.field()), ("BAD_USER_INPUT", Some("scans")));
    let long = "x".repeat(65);
    for bad in ["", "   ", long.as_str()] {
        let r = upload(
            app,
            &d.operator,
            vec![scan(&code, "door-1", t), scan(&code, bad, t)],
        )
        .await;
        assert_eq!(
            (r.code(), r.field()),
            ("BAD_USER_INPUT", Some("scans[1].deviceId")),
            "{bad:?}"
        );
    }
    let r = app
        .gql_as(
            &d.operator.token,
            UPLOAD,
            json!({"s": [{"code": code, "deviceId": "door-1", "scannedAt": "yesterday"}]}),
        )
        .await;
    assert_eq!(r.code(), "BAD_USER_INPUT");
    // Nothing of a refused batch was kept.
    assert_eq!(flow::count(app, "door_scans").await, 0);
    assert_eq!(flow::count(app, "check_ins").await, 0);
    // Three is fine, and none is nothing.
    let three: Vec<Value> = (0..3)
        .map(|i| scan(&code, "door-1", t + Duration::seconds(i)))
        .collect();
    let r = results(app, &d.operator, three).await;
    assert_eq!(
        statuses(&r),
        ["CHECKED_IN", "ALREADY_CHECKED_IN", "ALREADY_CHECKED_IN"]
    );
    assert_eq!(results(app, &d.operator, vec![]).await, Vec::<Value>::new());
}

#[tokio::test]
async fn an_undone_check_in_leaves_the_ticket_good_again_and_says_who_undid_it() {
    let d = door(&[]).await;
    let (app, t) = (&d.app, d.now);
    let admin = app.with_user(Role::Admin).await;
    let (id, code) = confirmed(app, &d.customer, d.showtime, &["A7"]).await;

    // Who may undo; what there is to undo.
    let undo = |who: &TestUser, id: &str| {
        let token = who.token.clone();
        let id = id.to_owned();
        async move { app.gql_as(&token, UNDO, json!({"id": id})).await }
    };
    assert_eq!(undo(&d.customer, &id).await.code(), "FORBIDDEN");
    assert_eq!(
        app.gql(UNDO, json!({"id": id})).await.code(),
        "UNAUTHENTICATED"
    );
    assert_eq!(
        undo(&d.operator, &Uuid::new_v4().to_string()).await.code(),
        "NOT_FOUND"
    );
    let r = undo(&d.operator, "not-an-id").await;
    assert_eq!((r.code(), r.field()), ("BAD_USER_INPUT", Some("bookingId")));
    let r = undo(&d.operator, &id).await;
    assert_eq!(r.code(), "CONFLICT");
    assert!(
        r.error()["message"].as_str().unwrap().contains("CONFIRMED"),
        "{:#}",
        r.body
    );

    // Checked in on a device, then undone: CONFIRMED, recorded with who and when.
    let r = results(
        app,
        &d.operator,
        vec![scan(&code, "door-1", t + Duration::minutes(1))],
    )
    .await;
    assert_eq!(statuses(&r), ["CHECKED_IN"]);
    d.clock.advance(Duration::minutes(2));
    let r = undo(&admin, &id).await;
    assert_eq!(r.data()["undoCheckIn"]["status"], "CONFIRMED");
    assert_eq!(r.data()["undoCheckIn"]["id"], id);
    assert_eq!(status_of(app, &d.customer, &id).await, "CONFIRMED");
    assert_eq!(check_in_row(app, &id).await, None);
    type Undone = (DateTime<Utc>, Option<String>, Option<Uuid>, DateTime<Utc>);
    let undone: Vec<Undone> = check_in_undos::table
        .select((
            check_in_undos::checked_in_at,
            check_in_undos::device_id,
            check_in_undos::undone_by,
            check_in_undos::undone_at,
        ))
        .load(&mut app.conn().await)
        .await
        .unwrap();
    assert_eq!(
        undone,
        vec![(
            t + Duration::minutes(1),
            Some("door-1".into()),
            Some(admin.id),
            t + Duration::minutes(2)
        )]
    );
    // Undone already: nothing more to undo.
    assert_eq!(undo(&d.operator, &id).await.code(), "CONFLICT");

    // A scan from before the undo, uploaded after it, no longer counts; a scan after
    // it checks the ticket in again.
    let r = results(
        app,
        &d.operator,
        vec![
            scan(&code, "door-2", t + Duration::seconds(90)),
            scan(&code, "door-2", t + Duration::minutes(3)),
        ],
    )
    .await;
    assert_eq!(statuses(&r), ["REFUSED", "CHECKED_IN"], "{r:#?}");
    assert!(r[0]["message"].as_str().unwrap().contains("undone"));
    assert_eq!(r[1]["otherScans"], json!([]));
    assert_eq!(status_of(app, &d.customer, &id).await, "USED");

    // And the online check-in after an undo, too.
    undo(&d.operator, &id).await.data();
    let r = flow::check_in(app, &d.operator, &code).await;
    assert_eq!(r.data()["checkInTicket"]["id"], id);
    assert_eq!(status_of(app, &d.customer, &id).await, "USED");
    assert_eq!(flow::count(app, "check_in_undos").await, 2);
}

const FEED: &str = "subscription($s: ID!) { checkIns(showtimeId: $s) { change showtimeId \
    bookingId bookingReference seatNumbers checkedInAt deviceId operatorId at } }";

#[tokio::test]
async fn every_check_in_and_undo_reaches_the_door_feed_on_another_node() {
    let a = TestApp::builder()
        .env("SIMULATED_PAYMENT_DELAY_MS", "600000")
        .build()
        .await;
    let b = a.another_node().build().await;
    let now = Utc::now().duration_trunc(Duration::seconds(1)).unwrap();
    let (showtime, elsewhere) = {
        let mut conn = a.conn().await;
        (
            fx::one_row_showtime(&mut conn, 10, &[], now + Duration::minutes(30)).await,
            fx::one_row_showtime(&mut conn, 10, &[], now + Duration::minutes(40)).await,
        )
    };
    let operator = a.with_user(Role::Operator).await;
    let admin = a.with_user(Role::Admin).await;
    let customer = a.with_user(Role::Customer).await;
    let (id, code) = confirmed(&a, &customer, showtime, &["A2", "A3"]).await;
    let (_, other_code) = confirmed(&a, &customer, elsewhere, &["A1"]).await;
    let vars = json!({"s": showtime.to_string()});

    // Staff only; a showtime that exists.
    let mut stranger = common::ws::WsClient::connect(b.addr, false, None).await;
    stranger.subscribe("c", FEED, vars.clone()).await;
    let text = stranger.receive().await.to_string();
    assert!(text.contains("UNAUTHENTICATED"), "{text}");
    let mut buyer = common::ws::WsClient::connect(b.addr, false, Some(&customer.token)).await;
    buyer.subscribe("c", FEED, vars.clone()).await;
    let text = buyer.receive().await.to_string();
    assert!(text.contains("FORBIDDEN"), "{text}");
    let mut lost = common::ws::WsClient::connect(b.addr, false, Some(&operator.token)).await;
    lost.subscribe("c", FEED, json!({"s": Uuid::new_v4().to_string()}))
        .await;
    let text = lost.receive().await.to_string();
    assert!(
        text.contains("BAD_USER_INPUT") && text.contains("showtimeId"),
        "{text}"
    );

    // The door's monitor watches on node B, over both protocols.
    let mut monitor = common::ws::WsClient::connect(b.addr, false, Some(&operator.token)).await;
    monitor.subscribe("c", FEED, vars.clone()).await;
    let mut legacy = common::ws::WsClient::connect(b.addr, true, Some(&admin.token)).await;
    legacy.subscribe("c", FEED, vars).await;
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;

    // Checked in online on node A.
    flow::check_in(&a, &operator, &code).await.data();
    for client in [&mut monitor, &mut legacy] {
        let event = client.next_data().await["checkIns"].clone();
        assert_eq!(event["change"], "CHECKED_IN");
        assert_eq!(event["showtimeId"], showtime.to_string());
        assert_eq!(event["bookingId"], id);
        assert_eq!(event["seatNumbers"], json!(["A2", "A3"]));
        assert_eq!(event["deviceId"], Value::Null);
        assert_eq!(event["operatorId"], operator.id.to_string());
        assert_eq!(event["bookingReference"].as_str().unwrap().len(), 8);
    }

    // A scanner uploads an earlier scan of it: the check-in moves to that scan.
    let r = results(
        &a,
        &admin,
        vec![scan(&code, "door-3", now - Duration::minutes(1))],
    )
    .await;
    assert_eq!(statuses(&r), ["DUPLICATE"]);
    let event = monitor.next_data().await["checkIns"].clone();
    assert_eq!(event["change"], "CHECKED_IN");
    assert_eq!(event["deviceId"], "door-3");
    assert_eq!(event["checkedInAt"], stamp(now - Duration::minutes(1)));
    assert_eq!(event["operatorId"], admin.id.to_string());
    // A later scan changes nothing, and says nothing to the feed.
    results(&a, &admin, vec![scan(&code, "door-3", now)]).await;

    // Undone.
    let r = a.gql_as(&operator.token, UNDO, json!({"id": id})).await;
    assert_eq!(r.data()["undoCheckIn"]["status"], "CONFIRMED");
    let event = monitor.next_data().await["checkIns"].clone();
    assert_eq!(event["change"], "UNDONE");
    assert_eq!(event["bookingId"], id);
    assert_eq!(event["checkedInAt"], stamp(now - Duration::minutes(1)));
    assert_eq!(event["deviceId"], "door-3");
    assert_eq!(event["operatorId"], operator.id.to_string());
    assert_eq!(legacy.next_data().await["checkIns"]["change"], "CHECKED_IN");
    assert_eq!(legacy.next_data().await["checkIns"]["change"], "UNDONE");

    // Another showtime's door is not this one's.
    flow::check_in(&a, &operator, &other_code).await.data();
    assert!(monitor.maybe_next(300).await.is_none());
}

/// Postgres is the door's record and Redis only carries the feed: with Redis away an
/// upload still checks every ticket in, and waits for Redis once, not once a scan.
#[tokio::test]
async fn with_redis_away_an_upload_checks_in_and_waits_for_redis_once() {
    let a = TestApp::builder()
        .env("SIMULATED_PAYMENT_DELAY_MS", "600000")
        .build()
        .await;
    let b = a
        .another_node()
        .env("REDIS_URL", "redis://127.0.0.1:1")
        .build()
        .await;
    let now = Utc::now().duration_trunc(Duration::seconds(1)).unwrap();
    let showtime = {
        let mut conn = a.conn().await;
        fx::one_row_showtime(&mut conn, 10, &[], now + Duration::minutes(30)).await
    };
    let operator = a.with_user(Role::Operator).await;
    let customer = a.with_user(Role::Customer).await;
    let mut scans = Vec::new();
    for seat in ["A1", "A2", "A3", "A4", "A5", "A6", "A7", "A8"] {
        let (_, code) = confirmed(&a, &customer, showtime, &[seat]).await;
        scans.push(scan(&code, "door-1", now));
    }

    // What any request to this node costs while Redis is away (its sign-in check
    // waits for Redis too): an upload with nothing to publish.
    let started = std::time::Instant::now();
    let r = results(&b, &operator, vec![scan("nothing", "door-1", now)]).await;
    assert_eq!(statuses(&r), ["INVALID"]);
    let baseline = started.elapsed();

    let started = std::time::Instant::now();
    let r = results(&b, &operator, scans).await;
    let took = started.elapsed();
    assert_eq!(statuses(&r), vec!["CHECKED_IN"; 8]);
    assert_eq!(flow::count(&a, "check_ins").await, 8);
    // A Redis command gives up after 2 s: one publish waited for, not eight (16 s).
    assert!(
        took < baseline + std::time::Duration::from_secs(5),
        "{took:?} against {baseline:?}"
    );
}
