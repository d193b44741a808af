//! Account care through the API: a user changes their own name and phone number, and
//! a number that changes is no longer verified (texts go only to proven numbers).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::common;

use common::TestApp;
use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use screema::db::enums::Role;
use screema::db::schema::users;
use serde_json::json;

const UPDATE: &str = "mutation($input: UpdateProfileInput!) { updateProfile(input: $input) \
    { id fullName phone emailVerified phoneVerified } }";
const ME: &str = "{ me { fullName phone emailVerified phoneVerified } }";

#[tokio::test]
async fn a_user_changes_their_name_and_phone_and_a_new_number_is_unverified() {
    let app = TestApp::new().await;
    let alice = app.with_user(Role::Customer).await;
    let r = app
        .gql_as(
            &alice.token,
            UPDATE,
            json!({"input": {"fullName": "  Alice Liddell ", "phone": "+44 20 7946 0958"}}),
        )
        .await;
    let user = &r.data()["updateProfile"];
    assert_eq!(user["id"], alice.id.to_string());
    assert_eq!(user["fullName"], "Alice Liddell");
    assert_eq!(user["phone"], "+442079460958");
    assert_eq!(user["emailVerified"], false);
    assert_eq!(user["phoneVerified"], false);

    // Once proven, the number stays verified while it is the same number.
    diesel::update(users::table.find(alice.id))
        .set(users::phone_verified.eq(true))
        .execute(&mut app.conn().await)
        .await
        .unwrap();
    let r = app
        .gql_as(
            &alice.token,
            UPDATE,
            json!({"input": {"fullName": "Alice L."}}),
        )
        .await;
    assert_eq!(r.data()["updateProfile"]["phone"], "+442079460958");
    assert_eq!(r.data()["updateProfile"]["phoneVerified"], true);
    let r = app
        .gql_as(
            &alice.token,
            UPDATE,
            json!({"input": {"phone": "+442079460958"}}),
        )
        .await;
    assert_eq!(r.data()["updateProfile"]["phoneVerified"], true);
    let r = app
        .gql_as(
            &alice.token,
            UPDATE,
            json!({"input": {"phone": "+14155550123"}}),
        )
        .await;
    assert_eq!(r.data()["updateProfile"]["phoneVerified"], false);

    // `null` removes the number.
    let r = app
        .gql_as(&alice.token, UPDATE, json!({"input": {"phone": null}}))
        .await;
    assert_eq!(r.data()["updateProfile"]["phone"], json!(null));
    let me = app.gql_as(&alice.token, ME, json!({})).await;
    assert_eq!(
        me.data()["me"],
        json!({"fullName": "Alice L.", "phone": null, "emailVerified": false, "phoneVerified": false})
    );
}

#[tokio::test]
async fn bad_input_names_its_field_and_changes_nothing() {
    let app = TestApp::new().await;
    let alice = app.with_user(Role::Customer).await;
    let before = app.gql_as(&alice.token, ME, json!({})).await.data()["me"].clone();
    for (input, field) in [
        (
            json!({"fullName": "Alice", "phone": "0207 946 0958"}),
            "phone",
        ),
        (
            json!({"fullName": "   ", "phone": "+14155550123"}),
            "fullName",
        ),
        (json!({"fullName": "x".repeat(256)}), "fullName"),
        (json!({"fullName": "Al\u{0}ice"}), "fullName"),
    ] {
        let r = app
            .gql_as(&alice.token, UPDATE, json!({"input": input}))
            .await;
        assert_eq!(r.code(), "BAD_USER_INPUT", "{input}");
        assert_eq!(r.field(), Some(field), "{input}");
    }
    let after = app.gql_as(&alice.token, ME, json!({})).await.data()["me"].clone();
    assert_eq!(before, after);
}

#[tokio::test]
async fn only_a_signed_in_user_changes_a_profile_and_only_their_own() {
    let app = TestApp::new().await;
    let r = app
        .gql(UPDATE, json!({"input": {"fullName": "Mallory"}}))
        .await;
    assert_eq!(r.code(), "UNAUTHENTICATED");
    let (alice, bob) = (
        app.with_user(Role::Customer).await,
        app.with_user(Role::Customer).await,
    );
    let bob_before = app.gql_as(&bob.token, ME, json!({})).await.data()["me"].clone();
    app.gql_as(
        &alice.token,
        UPDATE,
        json!({"input": {"fullName": "Alice"}}),
    )
    .await
    .data();
    assert_eq!(
        app.gql_as(&bob.token, ME, json!({})).await.data()["me"],
        bob_before
    );
}
