//! Idempotent checkout: `createBooking` with `input.idempotencyKey` makes at most one
//! booking per user and key, however often and however concurrently it is sent, and
//! every repeat answers with that booking and its payment's client secret.
//!
//! It follows Stripe's idempotency keys (docs.stripe.com/idempotency): a key is up to
//! 255 characters; a repeat whose parameters differ from the first request's is
//! refused (Stripe's `idempotency_error`, a 400: here `BAD_USER_INPUT` naming
//! `idempotencyKey`); an attempt that fails saves nothing, so it may be retried with
//! the same key. Unlike Stripe, which answers a repeat that arrives while the first is
//! still running with a 409, a repeat here waits for the first and gives its answer:
//! a client that times out and retries gets its booking, not an error.
//!
//! Postgres settles the race: the attempt inserts `(user, key)` into
//! `booking_requests` first, in the transaction that will write the booking. A
//! concurrent repeat's insert waits on the primary key until that transaction ends:
//! if it committed, the repeat reads the row and answers with its booking; if it
//! rolled back (the hold had lapsed, the payment provider refused), the repeat
//! becomes the attempt. So only one attempt at a time makes a payment intent for a
//! key, and an attempt that fails cancels its own.

use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use sha2::{Digest, Sha256};
use uuid::Uuid;

use crate::db::schema::booking_requests;
use crate::error::{AppError, AppResult};

/// Stripe's bound on its idempotency keys.
pub const MAX_KEY_CHARS: usize = 255;

/// An idempotency key and the fingerprint of the request it came with.
pub struct Request {
    pub key: String,
    pub hash: String,
}

/// Checks a key: absent is fine; present, it is 1 to 255 characters, not blank, with
/// no control characters.
pub fn parse_key(raw: Option<String>) -> AppResult<Option<String>> {
    let Some(key) = raw else { return Ok(None) };
    if key.trim().is_empty() {
        return Err(AppError::bad_input(
            "idempotencyKey",
            "give a key of 1 to 255 characters (a random UUID is a good one), or none",
        ));
    }
    // Postgres's text cannot hold NUL; no control character belongs in a key.
    if key.chars().any(char::is_control) {
        return Err(AppError::bad_input(
            "idempotencyKey",
            "no control characters, please",
        ));
    }
    if key.chars().count() > MAX_KEY_CHARS {
        return Err(AppError::bad_input(
            "idempotencyKey",
            format!("at most {MAX_KEY_CHARS} characters"),
        ));
    }
    Ok(Some(key))
}

/// What makes two requests the same: the showtime, the seats and the snacks, in any
/// order. (The lock token is not part of it: the first request used it up, and a
/// retry that sends it again, or another, asks for the same booking.)
pub fn fingerprint(
    showtime: Uuid,
    tickets: &[(String, String)],
    snacks: &[(Uuid, i32)],
    voucher: Option<&str>,
) -> String {
    // An ADULT ticket hashes as its seat alone, as every seat did before ticket types,
    // so a key reused across the change still finds its request the same.
    let mut seats: Vec<String> = tickets
        .iter()
        .map(|(seat, kind)| {
            if kind == crate::catalog::ticket_prices::ADULT {
                seat.clone()
            } else {
                format!("{seat}:{kind}")
            }
        })
        .collect();
    seats.sort();
    let mut snacks = snacks.to_vec();
    snacks.sort();
    let mut hash = Sha256::new();
    hash.update(showtime.as_bytes());
    for seat in &seats {
        hash.update(b"\0seat:");
        hash.update(seat.as_bytes());
    }
    for (snack, quantity) in &snacks {
        hash.update(b"\0snack:");
        hash.update(snack.as_bytes());
        hash.update(quantity.to_be_bytes());
    }
    if let Some(code) = voucher {
        hash.update(b"\0voucher:");
        hash.update(code.as_bytes());
    }
    hex::encode(hash.finalize())
}

/// Reserves the key for `booking` inside the caller's transaction. `None`: it is ours,
/// make the booking. `Some(id)`: an earlier request with the same body made booking
/// `id`; answer with it. A different body is `BAD_USER_INPUT` naming `idempotencyKey`.
/// Waits while another transaction holds the same key.
pub async fn reserve(
    conn: &mut AsyncPgConnection,
    user: Uuid,
    request: &Request,
    booking: Uuid,
) -> AppResult<Option<Uuid>> {
    let inserted = diesel::insert_into(booking_requests::table)
        .values((
            booking_requests::user_id.eq(user),
            booking_requests::idempotency_key.eq(&request.key),
            booking_requests::request_hash.eq(&request.hash),
            booking_requests::booking_id.eq(booking),
        ))
        .on_conflict_do_nothing()
        .execute(conn)
        .await?;
    if inserted == 1 {
        return Ok(None);
    }
    let (hash, earlier): (String, Uuid) = booking_requests::table
        .find((user, &request.key))
        .select((booking_requests::request_hash, booking_requests::booking_id))
        .first(conn)
        .await?;
    if hash != request.hash {
        return Err(AppError::bad_input(
            "idempotencyKey",
            "this key was used for another booking (other showtime, seats or snacks); \
             use a new key for a new booking",
        ));
    }
    Ok(Some(earlier))
}
